//! Dials through SOCKS5 proxies on loopback: one that forwards to a real
//! listener, one that never answers, and no proxy for an onion name.

mod common;

use common::{Harness, MAGIC};
use peerwire_driver::{DriverConfig, Event, Proxy};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

/// What the forwarding proxy saw: the CONNECT request's bytes, and the
/// username (with the password's length byte) when credentials were offered.
type Seen = (Vec<u8>, Option<Vec<u8>>);

/// A one-connection SOCKS5 proxy: answers the greeting (taking credentials
/// when offered), reads the CONNECT request, connects to `forward` whatever
/// was asked, and pipes bytes both ways. Returns its address and a handle
/// yielding the CONNECT request's bytes and the credentials it saw.
fn forwarding_proxy(forward: std::net::SocketAddr) -> (String, thread::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut head = [0u8; 2];
        client.read_exact(&mut head).unwrap();
        let mut methods = vec![0u8; head[1] as usize];
        client.read_exact(&mut methods).unwrap();
        let mut credentials = None;
        if methods.contains(&2) {
            client.write_all(&[5, 2]).unwrap();
            let mut ver_len = [0u8; 2];
            client.read_exact(&mut ver_len).unwrap();
            let mut auth = vec![0u8; ver_len[1] as usize + 1];
            client.read_exact(&mut auth).unwrap();
            let mut pass = vec![0u8; auth[ver_len[1] as usize] as usize];
            client.read_exact(&mut pass).unwrap();
            credentials = Some(auth);
            client.write_all(&[1, 0]).unwrap();
        } else {
            client.write_all(&[5, 0]).unwrap();
        }
        let mut request = vec![0u8; 5];
        client.read_exact(&mut request).unwrap();
        let rest = match request[3] {
            1 => 4 - 1 + 2,
            4 => 16 - 1 + 2,
            _ => request[4] as usize + 2,
        };
        let mut tail = vec![0u8; rest];
        client.read_exact(&mut tail).unwrap();
        request.extend(tail);
        let upstream = TcpStream::connect(forward).unwrap();
        client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
        let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
        let mut client_read = client.try_clone().unwrap();
        let pump = thread::spawn(move || {
            let _ = std::io::copy(&mut client_read, &mut up_write);
            let _ = up_write.shutdown(Shutdown::Write);
        });
        let _ = std::io::copy(&mut up_read, &mut client);
        let _ = client.shutdown(Shutdown::Write);
        let _ = pump.join();
        (request, credentials)
    });
    (address, handle)
}

#[test]
fn connects_through_a_forwarding_proxy_with_random_credentials() {
    let mut server = Harness::new();
    let mut client = Harness::new();
    let (_, listening) = server.driver.listen("127.0.0.1:0").unwrap();
    let (proxy, handle) = forwarding_proxy(listening);
    let target = format!("{ONION}:18444");
    let out = client.driver.connect(
        &target,
        Some(&Proxy {
            address: proxy.clone(),
            randomize_credentials: true,
            timeout: None,
        }),
    );
    let i = client.wait_for("connected", |e| {
        matches!(e, Event::Connected { peer, .. } | Event::ConnectFailed { peer, .. } if *peer == out)
    });
    match &client.seen[i] {
        // The socket's remote end is the proxy.
        Event::Connected { remote, .. } => assert_eq!(remote.to_string(), proxy),
        other => panic!("{other:?}"),
    }
    let i = server.wait_for("accepted", |e| matches!(e, Event::Accepted { .. }));
    let Event::Accepted { peer: inbound, .. } = server.seen[i] else {
        unreachable!()
    };
    // Bytes flow through the proxy, after its reply, both ways.
    let ping = peerwire_driver::peerwire_core::Command::new("ping").unwrap();
    client.driver.send(out, &ping, &[7; 8]).unwrap();
    server.wait_for(
        "the ping",
        |e| matches!(e, Event::Frame { peer, .. } if *peer == inbound),
    );
    server.driver.send(inbound, &ping, &[9; 8]).unwrap();
    client.wait_for(
        "the ping back",
        |e| matches!(e, Event::Frame { peer, .. } if *peer == out),
    );
    assert_eq!(client.frames_from(out), vec![("ping".into(), vec![9; 8])]);
    client.driver.disconnect(out, "done", false).unwrap();
    let (request, credentials) = handle.join().unwrap();
    assert_eq!(&request[..5], &[5, 1, 0, 3, ONION.len() as u8]);
    assert_eq!(&request[5..5 + ONION.len()], ONION.as_bytes());
    assert_eq!(&request[5 + ONION.len()..], &18444u16.to_be_bytes());
    let credentials = credentials.expect("credentials offered");
    assert_eq!(
        credentials.len(),
        17,
        "a 16-character username and its password's length"
    );
}

#[test]
fn a_silent_proxy_times_out_saying_what_it_never_answered() {
    let mut config = DriverConfig::new(MAGIC);
    config.connect_timeout = Duration::from_millis(300);
    let mut client = Harness::with_config(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = listener.local_addr().unwrap().to_string();
    // Accepts and reads, never writes.
    let silent = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut sink = [0u8; 64];
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
    });
    let out = client.driver.connect(
        "203.0.113.9:8333",
        Some(&Proxy {
            address: proxy.clone(),
            randomize_credentials: false,
            timeout: None,
        }),
    );
    let i = client.wait_for(
        "connect failed",
        |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
    );
    let Event::ConnectFailed { error, address, .. } = &client.seen[i] else {
        unreachable!()
    };
    assert_eq!(address, "203.0.113.9:8333");
    assert_eq!(
        error,
        &format!(
            "connect timed out after 300 ms through SOCKS5 proxy {proxy}, waiting for the proxy's answer to the SOCKS5 greeting"
        )
    );
    drop(client);
    silent.join().unwrap();
}

#[test]
fn shutdown_ends_a_dial_waiting_on_a_proxy() {
    let mut client = Harness::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = listener.local_addr().unwrap().to_string();
    let out = client.driver.connect(
        &format!("{ONION}:8333"),
        Some(&Proxy {
            address: proxy,
            randomize_credentials: true,
            timeout: None,
        }),
    );
    // Accepted by the kernel's backlog; nobody answers.
    thread::sleep(Duration::from_millis(50));
    client.driver.close();
    let i = client.wait_for(
        "connect failed",
        |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
    );
    let Event::ConnectFailed { error, .. } = &client.seen[i] else {
        unreachable!()
    };
    assert_eq!(error, "engine is closing");
    client.wait_for("closed", |e| matches!(e, Event::Closed));
    drop(listener);
}

#[test]
fn onion_and_i2p_names_without_a_proxy_fail_at_once() {
    let mut client = Harness::new();
    for name in [format!("{ONION}:8333"), "abcd.b32.i2p:0".to_string()] {
        let out = client.driver.connect(&name, None);
        let i = client.wait_for(
            "connect failed",
            |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
        );
        let Event::ConnectFailed { error, .. } = &client.seen[i] else {
            unreachable!()
        };
        assert!(
            error.ends_with("it is dialled only through a SOCKS5 proxy, and none was given"),
            "{error}"
        );
    }
}

#[test]
fn a_refusing_proxy_and_an_unreachable_one() {
    let mut client = Harness::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = listener.local_addr().unwrap().to_string();
    let refusing = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut greeting = [0u8; 3];
        s.read_exact(&mut greeting).unwrap();
        s.write_all(&[5, 0]).unwrap();
        let mut request = [0u8; 10];
        s.read_exact(&mut request).unwrap();
        s.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
    });
    let out = client.driver.connect(
        "192.0.2.1:8333",
        Some(&Proxy {
            address: proxy.clone(),
            randomize_credentials: false,
            timeout: None,
        }),
    );
    let i = client.wait_for(
        "refused",
        |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
    );
    let Event::ConnectFailed { error, .. } = &client.seen[i] else {
        unreachable!()
    };
    assert_eq!(
        error,
        &format!(
            "SOCKS5 proxy {proxy} could not connect to 192.0.2.1:8333: connection refused by the destination (SOCKS5 reply 0x05)"
        )
    );
    refusing.join().unwrap();

    // Nothing listens where the proxy should be.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = gone.local_addr().unwrap().to_string();
    drop(gone);
    let out = client.driver.connect(
        "192.0.2.1:8333",
        Some(&Proxy {
            address: dead.clone(),
            randomize_credentials: false,
            timeout: None,
        }),
    );
    let i = client.wait_for(
        "unreachable",
        |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
    );
    let Event::ConnectFailed { error, .. } = &client.seen[i] else {
        unreachable!()
    };
    assert!(
        error.starts_with(&format!("SOCKS5 proxy {dead} is unreachable: ")),
        "{error}"
    );

    // A target no request can carry fails before any dial.
    let out = client.driver.connect(
        &format!("{}:1", "a".repeat(256)),
        Some(&Proxy {
            address: dead,
            randomize_credentials: false,
            timeout: None,
        }),
    );
    let i = client.wait_for(
        "bad target",
        |e| matches!(e, Event::ConnectFailed { peer, .. } if *peer == out),
    );
    let Event::ConnectFailed { error, .. } = &client.seen[i] else {
        unreachable!()
    };
    assert!(
        error.starts_with("cannot dial through a SOCKS5 proxy: the host name is 256 bytes"),
        "{error}"
    );
}
