//! The driver over real loopback sockets, without Node.

mod common;

use common::{connected_pair, Harness, MAGIC};
use peerwire_core::{Command, SendStatus};
use peerwire_driver::{DisconnectReason, Event};
use std::time::{Duration, Instant};

#[test]
fn frames_flow_both_ways_in_order() {
    let (mut server, mut client, inbound, out) = connected_pair();
    let ping = Command::new("ping").unwrap();
    for i in 0..500u64 {
        let status = client.driver.send(out, &ping, &i.to_le_bytes()).unwrap();
        assert!(status.is_queued());
    }
    server
        .driver
        .send(inbound, &Command::new("pong").unwrap(), b"back")
        .unwrap();
    server.wait_for(
        "500 pings",
        |e| matches!(e, Event::Frame { frame, .. } if frame.payload[..] == 499u64.to_le_bytes()),
    );
    let got = server.frames_from(inbound);
    let want: Vec<_> = (0..500u64)
        .map(|i| ("ping".to_string(), i.to_le_bytes().to_vec()))
        .collect();
    assert_eq!(got, want);
    client.wait_for(
        "pong",
        |e| matches!(e, Event::Frame { frame, .. } if frame.command.as_str() == "pong"),
    );
    assert_eq!(
        client.frames_from(out),
        vec![("pong".to_string(), b"back".to_vec())]
    );
}

#[test]
fn bad_magic_disconnects_with_its_reason() {
    let mut server = Harness::new();
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    use std::io::Write;
    raw.write_all(&[0xf9, 0xbe, 0xb4, 0xd9]).unwrap();
    raw.write_all(&[0u8; 20]).unwrap();
    let i = server.wait_for("disconnect", |e| matches!(e, Event::Disconnected { .. }));
    let Event::Disconnected { reason, .. } = &server.seen[i] else {
        unreachable!()
    };
    assert_eq!(reason.code(), "bad-magic");
}

#[test]
fn close_flushes_and_reports_closed() {
    let (mut server, mut client, inbound, out) = connected_pair();
    let block = Command::new("block").unwrap();
    client.driver.mark_handshake_complete(out).unwrap();
    server.driver.mark_handshake_complete(inbound).unwrap();
    let payload = vec![7u8; 100_000];
    for _ in 0..20 {
        assert_ne!(
            client.driver.send(out, &block, &payload).unwrap(),
            SendStatus::Full
        );
    }
    client.driver.close();
    let i = client.wait_for("client disconnect", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    let Event::Disconnected {
        reason,
        unflushed_bytes,
        ..
    } = &client.seen[i]
    else {
        unreachable!()
    };
    assert_eq!(*reason, DisconnectReason::Shutdown);
    assert_eq!(*unflushed_bytes, 0);
    client.wait_for("closed", |e| matches!(e, Event::Closed));
    server.wait_for("server sees close", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    assert_eq!(
        server.frames_from(inbound).len(),
        20,
        "nothing promised was lost"
    );
    client.driver.finish();
}

#[test]
fn a_batch_too_big_for_the_queue_never_leaves_half_a_frame_on_the_wire() {
    // Four 3.9 MB blocks to an idle peer: the run cannot be queued whole, so the
    // driver queues what fits, in order, and the receiver sees intact frames only.
    let (mut server, client, inbound, out) = connected_pair();
    client.driver.mark_handshake_complete(out).unwrap();
    server.driver.mark_handshake_complete(inbound).unwrap();
    let blocks: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 3_900_000]).collect();
    let payloads: Vec<&[u8]> = blocks.iter().map(|b| b.as_slice()).collect();
    let (sent, status) = client
        .driver
        .send_many(out, &Command::new("block").unwrap(), &payloads)
        .unwrap();
    // The run (15.6 MB) is over the 10 MB queue limit, so it went frame by frame;
    // how many fit depends on how much the kernel took at once.
    assert!(sent >= 1, "{status:?}");
    server.wait_for(
        "the blocks that were queued",
        |e| matches!(e, Event::Frame { frame, .. } if frame.payload[0] == sent as u8 - 1),
    );
    let got = server.frames_from(inbound);
    assert_eq!(got.len(), sent);
    for (i, (command, payload)) in got.iter().enumerate() {
        assert_eq!(command, "block");
        assert_eq!(payload, &blocks[i]);
    }
    assert!(!server
        .seen
        .iter()
        .any(|e| matches!(e, Event::Dropped { .. } | Event::Disconnected { .. })));
}

#[test]
fn a_message_larger_than_the_queue_is_refused_as_too_large() {
    let (_server, client, _inbound, out) = connected_pair();
    let mut limits = client.driver.limits();
    limits.outbox.max_bytes = 1_000_000;
    limits.outbox.pause_bytes = 500_000;
    client.driver.set_limits(limits);
    let status = client
        .driver
        .send(out, &Command::new("block").unwrap(), &vec![0u8; 2_000_000])
        .unwrap();
    assert_eq!(status, SendStatus::TooLarge);
    // Nothing was written or queued.
    assert_eq!(client.driver.peer_info(out).unwrap().stats.bytes_out, 0);
}

#[test]
fn dropped_messages_count_against_the_receive_budget() {
    // A peer sending endless frames with invalid commands (dropped by default)
    // must still be paused when the application does not drain.
    let mut server = Harness::new();
    let mut limits = server.driver.limits();
    limits.recv_budget = 10_000;
    server.driver.set_limits(limits);
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    let i = server.wait_for("accept", |e| matches!(e, Event::Accepted { .. }));
    let Event::Accepted { peer, .. } = server.seen[i] else {
        unreachable!()
    };
    let mut bad = peerwire_core::encode_frame(MAGIC, &Command::new("x").unwrap(), &[]).to_vec();
    bad[5] = 0x01; // not printable
    let flood: Vec<u8> = bad.iter().copied().cycle().take(24 * 20_000).collect();
    raw.set_nonblocking(true).unwrap();
    use std::io::Write;
    let mut written = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && written < flood.len() {
        match raw.write(&flood[written..]) {
            Ok(n) => written += n,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    // Without draining, the reader stops near the budget (at most one wake's
    // worth of messages past it) instead of queueing all 20,000.
    let info = server.driver.peer_info(peer).unwrap();
    let one_wake = limits.wake.messages * 128;
    assert!(info.recv_pending_bytes <= 10_000 + one_wake, "{info:?}");
    assert!(info.stats.messages_dropped < 20_000);
    let drained = server.driver.drain().len();
    assert!(drained < 20_000);
}

#[test]
fn peers_flooding_through_the_shutdown_do_not_hold_it_up() {
    // Once closing, a reader discards what its peer sends; it must still let
    // the writer finish (here: at the flush timeout, as the flooders never send
    // FIN). Readiness futures are outside tokio's cooperative budget, so a
    // reader that never yields would keep the only worker to itself for as
    // long as its peer keeps sending.
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut config = peerwire_driver::DriverConfig::new(MAGIC);
    config.flush_timeout = Duration::from_millis(300);
    let mut server = Harness::with_config(config);
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    let frame = peerwire_core::encode_frame(MAGIC, &Command::new("junk").unwrap(), &[1; 4_000]);
    let flood: std::sync::Arc<Vec<u8>> = std::sync::Arc::new(
        frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 256)
            .collect(),
    );
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..4 {
        let mut raw = std::net::TcpStream::connect(addr).unwrap();
        let (stop, flood) = (stop.clone(), flood.clone());
        flooders.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && raw.write_all(&flood).is_ok() {}
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted(&server) < 4 {
        assert!(Instant::now() < deadline, "the flooders were not accepted");
        std::thread::sleep(Duration::from_millis(10));
        server.seen.extend(server.driver.drain());
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    server.driver.close();
    server.wait_for("closed while the peers still flood", |e| {
        matches!(e, Event::Closed)
    });
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    server.driver.finish();
    for flooder in flooders {
        flooder.join().unwrap();
    }
    // A liveness bound many times the flush timeout, not a speed assertion.
    assert!(took < Duration::from_secs(8), "close took {took:?}");
}

fn accepted(harness: &Harness) -> usize {
    harness
        .seen
        .iter()
        .filter(|e| matches!(e, Event::Accepted { .. }))
        .count()
}
