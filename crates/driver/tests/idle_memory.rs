//! What an idle connection holds on the heap, counted by this binary's
//! allocator (one test only: a second running beside it would be counted too).

mod common;

use common::{Harness, MAGIC};
use peerwire_core::{encode_frame, Command, ConnectionLimits};
use peerwire_driver::{DriverConfig, Event};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Drains until `count` frames have arrived, dropping every event.
fn wait_frames(server: &Harness, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut frames = 0;
    while frames < count {
        assert!(Instant::now() < deadline, "only {frames} frames arrived");
        let events = server.driver.drain();
        frames += events
            .iter()
            .filter(|e| matches!(e, Event::Frame { .. }))
            .count();
        if events.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A peer that sent its version and went quiet holds its task, its link and
/// its registrations, and no read buffer, decoder arena or queue slots:
/// across thousands of idle peers those were most of the resident memory.
#[test]
fn an_idle_peer_holds_no_read_buffer() {
    const PEERS: usize = 200;
    let mut config = DriverConfig::new(MAGIC);
    config.connections = ConnectionLimits {
        max_inbound: 1_000,
        max_handshaking: 1_000,
        max_connections: 1_000,
        ..ConnectionLimits::default()
    };
    let server = Harness::with_config(config);
    let (_, addr) = server.driver.listen("127.0.0.1:0").unwrap();
    let version = encode_frame(MAGIC, &Command::new("version").unwrap(), &[1; 100]);
    // One peer first, so what the first connection sets up once is not counted.
    let mut clients = vec![TcpStream::connect(addr).unwrap()];
    clients[0].write_all(&version).unwrap();
    wait_frames(&server, 1);
    std::thread::sleep(Duration::from_millis(100));
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..PEERS {
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(&version).unwrap();
        clients.push(client);
    }
    wait_frames(&server, PEERS);
    // Every reader reaches its drained socket and parks.
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.driver.drain().is_empty());
    let per_peer = (LIVE.load(Ordering::Relaxed) - before) / PEERS as isize;
    assert!(
        per_peer < 4 * 1024,
        "an idle peer holds {per_peer} bytes on the heap"
    );
}
