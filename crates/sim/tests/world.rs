//! The simulated network end to end, driven from Rust the way the JavaScript
//! side drives it: transport calls, batches taken and released, time advanced.

use peerwire_core::{Command, DisconnectReason, Event, PeerLimits, SendStatus};
use peerwire_sim::{Faults, NodeConfig, NodeId, World};
use std::net::Ipv4Addr;

const MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

fn config() -> NodeConfig {
    NodeConfig::new(PeerLimits::new(MAGIC))
}

fn world(seed: u64, faults: Faults) -> World {
    World::new(seed, MAGIC, faults).unwrap()
}

fn node(w: &mut World, last: u8) -> NodeId {
    w.add_node(Ipv4Addr::new(10, 0, 0, last), config()).unwrap()
}

fn cmd(name: &str) -> Command {
    Command::new(name).unwrap()
}

/// Takes and releases every node's events until none wait; returns them.
fn drain(w: &mut World) -> Vec<(NodeId, Event)> {
    let mut out = Vec::new();
    loop {
        let ready = w.ready_nodes();
        if ready.is_empty() {
            return out;
        }
        for n in ready {
            let (events, _) = w.poll(n).unwrap();
            out.extend(events.into_iter().map(|e| (n, e)));
            w.release(n).unwrap();
        }
    }
}

/// Advances in steps of `step_ms`, draining events, until `until_ms`.
fn run(
    w: &mut World,
    until_ms: u64,
    step_ms: u64,
    mut each: impl FnMut(&mut World, &[(NodeId, Event)]),
) {
    let mut t = w.now_us();
    while t < until_ms * 1000 {
        t += step_ms * 1000;
        w.advance_to(t);
        let events = drain(w);
        each(w, &events);
    }
}

fn connected_pair(w: &mut World) -> (NodeId, NodeId, u32, u32) {
    let a = node(w, 1);
    let b = node(w, 2);
    let (_, port) = w.listen(b, 8333).unwrap();
    let pa = w.connect(a, &format!("10.0.0.2:{port}")).unwrap();
    let mut pb = None;
    let mut up = false;
    run(w, 1_000, 10, |_, events| {
        for (n, e) in events {
            match e {
                Event::Accepted { peer, .. } if *n == b => pb = Some(*peer),
                Event::Connected { peer, .. } if *n == a && *peer == pa => up = true,
                _ => {}
            }
        }
    });
    assert!(up, "the dialler connected");
    (a, b, pa, pb.expect("the listener accepted"))
}

#[test]
fn frames_cross_in_order_split_into_random_segments() {
    let mut faults = Faults::none();
    faults.max_segment_bytes = 7;
    let mut w = world(1, faults);
    let (a, b, pa, _) = connected_pair(&mut w);
    for i in 0..200u32 {
        let status = w
            .send(a, pa, &cmd("ping"), &u64::from(i).to_le_bytes())
            .unwrap();
        assert_eq!(status, SendStatus::Queued);
    }
    let mut got = Vec::new();
    run(&mut w, 3_000, 10, |_, events| {
        for (n, e) in events {
            if let (true, Event::Frame { frame, .. }) = (*n == b, e) {
                got.push(u64::from_le_bytes(frame.payload[..].try_into().unwrap()));
            }
        }
    });
    assert_eq!(got, (0..200).collect::<Vec<u64>>());
    assert!(w.violations().is_empty(), "{:?}", w.violations());
}

#[test]
fn the_same_seed_replays_the_same_trace() {
    let trace = |seed: u64| {
        let mut w = world(seed, Faults::harsh());
        let nodes: Vec<NodeId> = (1..=6).map(|i| node(&mut w, i)).collect();
        for &n in &nodes {
            w.listen(n, 8333).unwrap();
        }
        for &n in &nodes {
            for &m in &nodes {
                if n < m {
                    w.connect(n, &format!("10.0.0.{}:8333", m + 1)).unwrap();
                }
            }
        }
        run(&mut w, 60_000, 50, |w, events| {
            for (n, e) in events {
                match e {
                    Event::Connected { peer, .. } | Event::Accepted { peer, .. } => {
                        let _ = w.send(*n, *peer, &cmd("ping"), &[1; 8]);
                    }
                    Event::Frame { peer, frame } if frame.command.as_str() == "ping" => {
                        let _ = w.send(*n, *peer, &cmd("ping"), &frame.payload);
                    }
                    _ => {}
                }
            }
        });
        let counters: Vec<(String, u64)> = w.counters();
        (w.trace_hash(), counters)
    };
    let (h1, c1) = trace(7);
    let (h2, _) = trace(7);
    let (h3, _) = trace(8);
    assert_eq!(h1, h2);
    assert_ne!(h1, h3);
    let count = |name: &str| c1.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v);
    assert!(count("frames") > 1000, "traffic flowed: {c1:?}");
    assert!(
        count("fault.connect-refused") + count("fault.connect-hang") > 0,
        "{c1:?}"
    );
}

#[test]
fn a_reader_that_never_releases_stalls_its_sender_with_bounded_memory() {
    let mut w = world(3, Faults::none());
    let (a, b, pa, _) = connected_pair(&mut w);
    // b stops handling its events: nothing it receives is released.
    let mut backpressure = false;
    let mut stalled = None;
    let mut t = w.now_us();
    while t < 200_000_000 && stalled.is_none() {
        t += 100_000;
        w.advance_to(t);
        for _ in 0..50 {
            match w.send(a, pa, &cmd("block"), &[0u8; 10_000]) {
                Ok(SendStatus::Backpressure) | Ok(SendStatus::Full) => backpressure = true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let (events, _) = w.poll(a).unwrap();
        w.release(a).unwrap();
        for e in events {
            if let Event::Disconnected { reason, .. } = e {
                stalled = Some(reason);
            }
        }
        // b's budget, not the flood, bounds what it holds.
        let info = w.peer_ids(b).first().and_then(|&pb| w.peer_info(b, pb));
        if let Some(info) = info {
            assert!(
                info.recv_pending_bytes <= 5_000_000 + 2_000_000,
                "{}",
                info.recv_pending_bytes
            );
        }
    }
    assert!(backpressure, "the sender was told to wait");
    assert!(
        matches!(stalled, Some(DisconnectReason::SendStalled(120_000))),
        "{stalled:?}"
    );
    assert!(w.violations().is_empty(), "{:?}", w.violations());
}

#[test]
fn a_partition_holds_bytes_and_heal_delivers_them() {
    let mut w = world(4, Faults::none());
    let (a, b, pa, _) = connected_pair(&mut w);
    let id = w.partition(&[a], &[b], false);
    w.send(a, pa, &cmd("ping"), &[9; 8]).unwrap();
    let mut got = 0;
    run(&mut w, 10_000, 100, |_, events| {
        got += events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Frame { .. }))
            .count();
    });
    assert_eq!(got, 0, "nothing crosses a partition");
    w.heal(Some(id));
    run(&mut w, 11_000, 100, |_, events| {
        got += events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Frame { .. }))
            .count();
    });
    assert_eq!(got, 1, "held bytes arrive after the heal");
}

#[test]
fn a_crash_is_silent_and_a_write_after_restart_meets_a_reset() {
    let mut w = world(5, Faults::none());
    let (a, b, pa, _) = connected_pair(&mut w);
    w.crash(b).unwrap();
    w.restart(b).unwrap();
    w.send(a, pa, &cmd("ping"), &[1; 8]).unwrap();
    let mut reason = None;
    run(&mut w, 3_000, 10, |_, events| {
        for (n, e) in events {
            if let (true, Event::Disconnected { reason: r, .. }) = (*n == a, e) {
                reason = Some(r.clone());
            }
        }
    });
    assert_eq!(
        reason,
        Some(DisconnectReason::Io("connection reset by peer".into()))
    );
}

#[test]
fn a_flipped_bit_is_caught_and_never_delivered_as_a_good_frame() {
    let mut faults = Faults::none();
    faults.bit_flip_p = 0.05;
    faults.max_segment_bytes = 64;
    let mut w = world(6, faults);
    let (a, b, pa, _) = connected_pair(&mut w);
    let payload: Vec<u8> = (0..200u8).collect();
    for _ in 0..500 {
        let _ = w.send(a, pa, &cmd("tx"), &payload);
    }
    let mut good = 0;
    let mut bad = 0;
    run(&mut w, 5_000, 10, |_, events| {
        for (n, e) in events {
            if *n != b {
                continue;
            }
            match e {
                Event::Frame { frame, .. } if frame.command.as_str() == "tx" => {
                    assert_eq!(
                        &frame.payload[..],
                        &payload[..],
                        "a corrupt payload got through"
                    );
                    good += 1;
                }
                Event::Frame { .. } => {} // a flipped command byte: not covered by the checksum
                Event::Dropped { .. } | Event::Disconnected { .. } => bad += 1,
                _ => {}
            }
        }
    });
    assert!(good > 0 && bad > 0, "good {good} bad {bad}");
    assert!(w.violations().is_empty(), "{:?}", w.violations());
}

#[test]
fn inbound_slots_hold_under_a_connect_flood() {
    let mut w = world(9, Faults::none());
    let victim = node(&mut w, 1);
    w.set_connection_limits(
        victim,
        peerwire_core::ConnectionLimits {
            max_inbound: 8,
            max_handshaking: 4,
            max_connections: 10,
            stale_handshake: std::time::Duration::from_secs(5),
        },
        2048,
        1 << 20,
    )
    .unwrap();
    w.listen(victim, 8333).unwrap();
    let attackers: Vec<NodeId> = (2..40).map(|i| node(&mut w, i)).collect();
    for &x in &attackers {
        for _ in 0..3 {
            w.connect(x, "10.0.0.1:8333").unwrap();
        }
    }
    run(&mut w, 20_000, 10, |_, _| {});
    assert!(w.stats(victim).unwrap().inbound_evicted > 0);
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    let slots = w
        .counters()
        .into_iter()
        .find(|(k, _)| k == "check.slots")
        .unwrap()
        .1;
    assert!(slots > 0);
}

#[test]
fn a_chaos_restart_never_revives_a_node_crashed_again_by_hand() {
    let mut faults = Faults::none();
    faults.crash_per_second_p = 5.0;
    faults.restart_min_ms = 5_000.0;
    faults.restart_max_ms = 5_000.0;
    let mut w = world(11, faults);
    let n = node(&mut w, 1);
    let mut t = 0;
    while w.is_up(n).unwrap() {
        t += 10_000;
        w.advance_to(t);
        assert!(t < 10_000_000, "chaos never crashed the node");
    }
    // Chaos has a restart pending; the test takes over: faults off, a restart
    // and a crash by hand that must keep the node down.
    w.set_faults(Faults::none()).unwrap();
    w.restart(n).unwrap();
    w.crash(n).unwrap();
    w.advance_to(t + 60_000_000);
    assert!(!w.is_up(n).unwrap());
}

#[test]
fn many_crashes_in_one_tick_with_every_node_down_do_not_panic() {
    let mut faults = Faults::none();
    faults.crash_per_second_p = 1_000.0;
    faults.restart_min_ms = 60_000.0;
    faults.restart_max_ms = 60_000.0;
    let mut w = world(3, faults);
    let a = node(&mut w, 1);
    let b = node(&mut w, 2);
    w.advance_to(1_000_000);
    assert!(!w.is_up(a).unwrap() && !w.is_up(b).unwrap());
}

#[test]
fn clock_and_duration_knobs_out_of_range_are_refused() {
    let mut w = world(1, Faults::none());
    let mut c = config();
    c.clock_drift_ppm = Some(-1e6);
    assert!(w.add_node(Ipv4Addr::new(10, 0, 0, 1), c).is_err());
    let mut c = config();
    c.clock_offset_ms = f64::NAN;
    assert!(w.add_node(Ipv4Addr::new(10, 0, 0, 2), c).is_err());
    let mut f = Faults::none();
    f.partition_max_ms = 1e300;
    assert!(w.set_faults(f).is_err());
}
