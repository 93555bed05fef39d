//! Connection management before any read, and the send side's pause and
//! stall rules, over real loopback sockets.

mod common;

use common::{Harness, MAGIC};
use peerwire_core::{encode_frame, Command, SendStatus, HEADER_SIZE};
use peerwire_driver::{DisconnectReason, DriverConfig, Event, PeerId};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A raw socket to `to`, from the loopback address `from` (127.A.B.C stands
/// for a distinct operator: each /16 is its own netgroup).
fn dial_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let source: SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

fn server(configure: impl FnOnce(&mut DriverConfig)) -> (Harness, SocketAddr) {
    let mut config = DriverConfig::new(MAGIC);
    configure(&mut config);
    let server = Harness::with_config(config);
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    (server, addr)
}

/// Waits until `count` accepted events have been seen; returns their peer ids.
fn wait_accepted(server: &mut Harness, count: usize) -> Vec<PeerId> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids: Vec<PeerId> = server
            .seen
            .iter()
            .filter_map(|e| match e {
                Event::Accepted { peer, .. } => Some(*peer),
                _ => None,
            })
            .collect();
        if ids.len() >= count {
            return ids;
        }
        assert!(Instant::now() < deadline, "only {} accepted", ids.len());
        std::thread::sleep(Duration::from_millis(10));
        let more = server.driver.drain();
        server.seen.extend(more);
    }
}

/// Whether the server closed `stream` (end of stream or reset) within a while.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

fn disconnect_reason(server: &mut Harness, peer: PeerId) -> DisconnectReason {
    let i = server.wait_for(
        "disconnect",
        |e| matches!(e, Event::Disconnected { peer: p, .. } if *p == peer),
    );
    match &server.seen[i] {
        Event::Disconnected { reason, .. } => reason.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn stale_handshaking_sockets_lose_their_slots_to_newcomers() {
    let (mut server, addr) = server(|c| {
        c.connections.max_handshaking = 4;
        c.connections.stale_handshake = Duration::from_millis(200);
    });
    let _idle: Vec<TcpStream> = (0..4).map(|_| dial_from("127.0.0.1", addr)).collect();
    let ids = wait_accepted(&mut server, 4);
    std::thread::sleep(Duration::from_millis(300));
    let _newcomer = dial_from("127.0.0.1", addr);
    wait_accepted(&mut server, 5);
    // The stalest of the idle sockets made room.
    assert_eq!(
        disconnect_reason(&mut server, ids[0]),
        DisconnectReason::Evicted
    );
    assert_eq!(server.driver.stats().inbound_evicted, 1);
}

#[test]
fn a_full_house_that_nobody_may_leave_refuses_the_newcomer_before_reading() {
    let (mut server, addr) = server(|c| c.connections.max_inbound = 2);
    let _a = dial_from("127.0.0.1", addr);
    let _b = dial_from("127.0.0.1", addr);
    for id in wait_accepted(&mut server, 2) {
        server.driver.mark_handshake_complete(id).unwrap();
    }
    let mut third = dial_from("127.0.0.1", addr);
    assert!(closed_by_server(&mut third));
    assert_eq!(server.driver.stats().inbound_refused, 1);
    assert_eq!(server.driver.peer_ids().len(), 2);
}

#[test]
fn when_inbound_is_full_the_youngest_of_the_most_crowded_netgroup_goes() {
    let (mut server, addr) = server(|c| c.connections.max_inbound = 30);
    let mut keep = Vec::new();
    // 20 operators with one peer each, then one operator with 10 peers.
    for n in 1..=20 {
        keep.push(dial_from(&format!("127.{n}.0.1"), addr));
    }
    for host in 1..=10 {
        keep.push(dial_from(&format!("127.99.0.{host}"), addr));
        wait_accepted(&mut server, 20 + host);
    }
    let ids = wait_accepted(&mut server, 30);
    for id in &ids {
        server.driver.mark_handshake_complete(*id).unwrap();
    }
    keep.push(dial_from("127.50.0.1", addr));
    wait_accepted(&mut server, 31);
    let youngest_of_crowd = ids[29];
    assert_eq!(
        disconnect_reason(&mut server, youngest_of_crowd),
        DisconnectReason::Evicted
    );
}

/// A raw client that has sent `version` and `verack`, so the server may send
/// it large frames, and then reads nothing.
fn non_reading_peer(server: &mut Harness, addr: SocketAddr) -> (TcpStream, PeerId) {
    let client = dial_from("127.0.0.1", addr);
    let id = wait_accepted(server, 1)[0];
    server.driver.mark_handshake_complete(id).unwrap();
    (client, id)
}

#[test]
fn a_peer_that_reads_nothing_is_dropped_after_the_send_stall_timeout() {
    let (mut server, addr) = server(|c| c.send_stall_timeout = Duration::from_millis(300));
    let (mut client, id) = non_reading_peer(&mut server, addr);
    let block = Command::new("block").unwrap();
    let payload = vec![0u8; 1_000_000];
    while server.driver.send(id, &block, &payload).unwrap() != SendStatus::Full {}
    // It keeps talking to us, but that does not make it a reader.
    let ping = encode_frame(MAGIC, &Command::new("ping").unwrap(), &[0; 8]);
    let stop = Instant::now() + Duration::from_millis(200);
    while Instant::now() < stop {
        let _ = client.write_all(&ping);
    }
    match disconnect_reason(&mut server, id) {
        DisconnectReason::SendStalled(ms) => assert_eq!(ms, 300),
        other => panic!("expected send-stalled, got {other:?}"),
    }
    assert_eq!(server.driver.stats().send_stalled, 1);
}

#[test]
fn a_peer_past_its_pause_point_is_held_until_it_reads() {
    let (mut server, addr) = server(|_| {});
    let (mut client, id) = non_reading_peer(&mut server, addr);
    let block = Command::new("block").unwrap();
    let payload = vec![0u8; 500_000];
    while server.driver.send(id, &block, &payload).unwrap() == SendStatus::Queued {}
    assert!(server.driver.peer_info(id).unwrap().held);
    let ping = encode_frame(MAGIC, &Command::new("ping").unwrap(), &[0; 8]);
    for _ in 0..10 {
        client.write_all(&ping).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let frames = |server: &mut Harness| {
        let more = server.driver.drain();
        server.seen.extend(more);
        server.frames_from(id).len()
    };
    assert_eq!(frames(&mut server), 0, "its requests wait unprocessed");
    // Once it reads what we owe it, its requests are served, after `writable`.
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end && client.read(&mut buf).unwrap_or(0) > 0 {}
    });
    let i = server.wait_for(
        "writable",
        |e| matches!(e, Event::Writable { peer } if *peer == id),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while frames(&mut server) < 10 {
        assert!(Instant::now() < deadline, "held frames never came");
        std::thread::sleep(Duration::from_millis(10));
    }
    let first_ping = server
        .seen
        .iter()
        .position(|e| matches!(e, Event::Frame { peer, .. } if *peer == id))
        .unwrap();
    assert!(first_ping < i, "what it sent before comes before writable");
    server.driver.disconnect(id, "done", false).unwrap();
    reader.join().unwrap();
}

#[test]
fn a_large_corked_send_that_drains_at_once_leaves_the_peer_unheld() {
    let (mut server, addr) = server(|_| {});
    let mut client = dial_from("127.0.0.1", addr);
    let id = wait_accepted(&mut server, 1)[0];
    server.driver.mark_handshake_complete(id).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while client.read(&mut buf).unwrap_or(0) > 0 {}
        client
    });
    let block = Command::new("block").unwrap();
    let (status, credit) = server
        .driver
        .send_corked(id, &block, &vec![0u8; 1_200_000])
        .unwrap();
    assert_eq!(status, SendStatus::Backpressure);
    // Written at once (past the cork limit): the credit is what the emptied
    // queue can still take, every byte of it queued without backpressure.
    if credit >= HEADER_SIZE {
        let (status, _) = server
            .driver
            .send_corked(id, &block, &vec![0u8; credit - HEADER_SIZE])
            .unwrap();
        assert_eq!(status, SendStatus::Queued, "credit {credit}");
    }
    server.driver.flush();
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.driver.peer_info(id).unwrap().held {
        assert!(
            Instant::now() < deadline,
            "held forever with an empty queue"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.wait_for(
        "writable",
        |e| matches!(e, Event::Writable { peer } if *peer == id),
    );
    drop(reader.join().unwrap());
}
