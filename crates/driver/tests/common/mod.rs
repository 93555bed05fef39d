//! What the driver's loopback tests share: a driver the test thread can block
//! on, and a connected pair.
#![allow(dead_code)]

use peerwire_driver::{Driver, DriverConfig, Event, PeerId};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

/// A driver whose waker signals a condvar, so the test thread can block on events.
pub struct Harness {
    pub driver: Driver,
    signal: Arc<(Mutex<bool>, Condvar)>,
    pub seen: Vec<Event>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(DriverConfig::new(MAGIC))
    }

    pub fn with_config(config: DriverConfig) -> Self {
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let s = signal.clone();
        let driver = Driver::new(
            config,
            Box::new(move || {
                *s.0.lock().unwrap() = true;
                s.1.notify_all();
            }),
        )
        .unwrap();
        Self {
            driver,
            signal,
            seen: Vec::new(),
        }
    }

    /// Drains events until `pred` matches one of them; returns its index in `seen`.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut checked = 0;
        loop {
            if let Some(i) = self.seen[checked..].iter().position(&pred) {
                return checked + i;
            }
            checked = self.seen.len();
            let (flag, cv) = &*self.signal;
            let mut ready = flag.lock().unwrap();
            while !*ready {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "timed out waiting for {what}");
                ready = cv.wait_timeout(ready, left).unwrap().0;
            }
            *ready = false;
            drop(ready);
            self.seen.extend(self.driver.drain());
        }
    }

    pub fn frames_from(&self, peer: PeerId) -> Vec<(String, Vec<u8>)> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Frame { peer: p, frame } if *p == peer => {
                    Some((frame.command.to_string(), frame.payload.to_vec()))
                }
                _ => None,
            })
            .collect()
    }
}

pub fn connected_pair() -> (Harness, Harness, PeerId, PeerId) {
    let mut server = Harness::new();
    let mut client = Harness::new();
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    let out = client.driver.connect(&addr.to_string(), None);
    client.wait_for(
        "connected",
        |e| matches!(e, Event::Connected { peer, .. } if *peer == out),
    );
    let i = server.wait_for("accepted", |e| matches!(e, Event::Accepted { .. }));
    let Event::Accepted { peer: inbound, .. } = server.seen[i] else {
        unreachable!()
    };
    (server, client, inbound, out)
}
