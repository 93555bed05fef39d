//! The native engine object JavaScript holds.

use crate::batch::{pack, EventBatch};
use crate::options::{
    apply_connection_limits, apply_limits, driver_config, NativeConnectionLimits,
    NativeEngineOptions, NativeLimits,
};
use napi::bindgen_prelude::{Buffer, BufferSlice, Function, Uint32Array};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use peerwire_core::{checksums_computed, Command, SendStatus};
use peerwire_driver::{Direction, Driver, PeerId, Proxy, UnknownPeer};

/// `send` results.
#[napi]
pub const SEND_QUEUED: u32 = 0;
#[napi]
pub const SEND_BACKPRESSURE: u32 = 1;
#[napi]
pub const SEND_FULL: u32 = 2;
#[napi]
pub const SEND_CLOSED: u32 = 3;
#[napi]
pub const SEND_UNKNOWN_PEER: u32 = 4;
#[napi]
pub const SEND_TOO_LARGE: u32 = 5;

/// `send` and `sendCommand` return a SEND_* code in the low bits and, above
/// them, the peer's send credit: frame bytes (each frame counted as at least
/// 24) that are sure to be queued without asking again (see `sendStaged`).
#[napi]
pub const SEND_CODE_BITS: u32 = 3;
/// The credit is capped so that code and credit fit in 32 bits.
const MAX_CREDIT: usize = (u32::MAX >> SEND_CODE_BITS) as usize;

fn code_with_credit(status: SendStatus, credit: usize) -> u32 {
    status_code(status) | ((credit.min(MAX_CREDIT) as u32) << SEND_CODE_BITS)
}

pub(crate) fn status_code(status: SendStatus) -> u32 {
    match status {
        SendStatus::Queued => SEND_QUEUED,
        SendStatus::Backpressure => SEND_BACKPRESSURE,
        SendStatus::Full => SEND_FULL,
        SendStatus::Closed => SEND_CLOSED,
        SendStatus::TooLarge => SEND_TOO_LARGE,
    }
}

pub(crate) fn command(name: &str) -> Result<Command> {
    Command::new(name)
        .map_err(|e| Error::new(Status::InvalidArg, format!("command \"{name}\": {e}")))
}

fn unregistered(command_id: u32) -> Error {
    Error::new(
        Status::InvalidArg,
        format!("command id {command_id} was never registered"),
    )
}

pub(crate) fn unknown(e: UnknownPeer) -> Error {
    Error::new(Status::InvalidArg, format!("unknown peer {}", e.0))
}

#[napi(object)]
pub struct ListenInfo {
    pub id: u32,
    pub host: String,
    pub port: u32,
}

/// A SOCKS5 proxy for one dial.
#[napi(object)]
pub struct NativeProxy {
    /// The proxy's "host:port" (IPv6 in brackets).
    pub address: String,
    /// Authenticate with a fresh random username and password, so Tor gives
    /// the connection a circuit of its own (default true, as Bitcoin Core's
    /// -proxyrandomize).
    pub randomize_credentials: Option<bool>,
    /// The bound on the whole dial in ms (the connect to the proxy and the
    /// SOCKS5 exchange); default: the connect timeout.
    pub timeout_ms: Option<u32>,
}

#[napi(object)]
pub struct BroadcastResult {
    pub queued: u32,
    pub backpressure: Vec<u32>,
    pub refused: Vec<u32>,
}

#[napi(object)]
pub struct NativePeerInfo {
    pub id: u32,
    pub inbound: bool,
    pub remote: String,
    pub local: String,
    pub bytes_in: f64,
    pub messages_in: f64,
    pub bytes_out: f64,
    pub messages_out: f64,
    pub messages_dropped: f64,
    pub send_queue_bytes: f64,
    pub recv_pending_bytes: f64,
    /// Received bytes not yet decoded (a partial frame).
    pub read_buffered_bytes: f64,
    /// What the read buffer has allocated.
    pub read_buffer_capacity: f64,
    pub handshake_complete: bool,
    pub closing: bool,
    /// Its input waits unprocessed: our send queue to it is past its pause point.
    pub held: bool,
    /// Lowest ping round trip the driver has measured, in microseconds.
    pub min_ping_us: Option<f64>,
}

#[napi(object)]
pub struct NativeStats {
    /// Inbound sockets closed at accept: no slot, and nobody could be evicted.
    pub inbound_refused: f64,
    /// Inbound connections closed to make room for a newer one.
    pub inbound_evicted: f64,
    /// Inbound sockets closed at accept: their host is refused (banned).
    pub inbound_banned: f64,
    /// Connections dropped because the peer read none of our bytes for too long.
    pub send_stalled: f64,
}

/// A tokio-driven peer-to-peer engine. Events are delivered in batches: the
/// engine calls `onWake` (no arguments) when events are waiting; the owner
/// calls `poll()` to take a batch, handles it, then calls `release()`. A
/// batch's input counts against its peers' receive budgets until released.
/// When a batch says `more`, the owner polls again soon (after yielding to its
/// event loop); `onWake` is not called again until a poll finds nothing more.
#[napi]
pub struct NativeEngine {
    pub(crate) driver: Driver,
    finished: bool,
    /// Commands registered for `sendCommand`, by index: a hot send passes a
    /// number instead of a string to convert and validate each time.
    commands: std::cell::RefCell<Vec<Command>>,
}

/// Commands `registerCommand` keeps at most (an application sends a few dozen).
const MAX_REGISTERED_COMMANDS: usize = 1024;

#[napi]
impl NativeEngine {
    /// `onWake` keeps the Node.js event loop alive until `close()` completes.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: NativeEngineOptions, on_wake: Function<(), ()>) -> Result<Self> {
        let config = driver_config(&options)?;
        let wake = on_wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build()?;
        let driver = Driver::new(
            config,
            Box::new(move || {
                wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }),
        )
        .map_err(|e| Error::from_reason(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Self {
            driver,
            finished: false,
            commands: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// Binds `host:port` (port 0 picks a free one) and starts accepting.
    #[napi(catch_unwind)]
    pub fn listen(&self, host: String, port: u32) -> Result<ListenInfo> {
        if port > u16::MAX as u32 {
            return Err(Error::new(
                Status::InvalidArg,
                format!("port {port} is out of range"),
            ));
        }
        let address = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let (id, bound) = self
            .driver
            .listen(&address)
            .map_err(|e| Error::from_reason(format!("cannot listen on {address}: {e}")))?;
        Ok(ListenInfo {
            id,
            host: bound.ip().to_string(),
            port: bound.port() as u32,
        })
    }

    /// Dials `host:port`, through a SOCKS5 proxy when `proxy` is given (the
    /// target then goes to the proxy as a name unless it is an IP literal).
    /// Returns the peer id carried by the later connected or connect-failed
    /// event; every failure, a bad proxy address included, comes as that event.
    #[napi(catch_unwind)]
    pub fn connect(&self, address: String, proxy: Option<NativeProxy>) -> u32 {
        let proxy = proxy.map(|p| Proxy {
            address: p.address,
            randomize_credentials: p.randomize_credentials.unwrap_or(true),
            timeout: p
                .timeout_ms
                .filter(|&ms| ms > 0)
                .map(|ms| std::time::Duration::from_millis(ms.into())),
        });
        self.driver.connect(&address, proxy.as_ref())
    }

    /// Frames and queues one message; it is written at the next `flush()`
    /// (the owner calls it once per event-loop turn). Returns a SEND_* code
    /// with the peer's credit above it (see SEND_CODE_BITS).
    #[napi(catch_unwind)]
    pub fn send(&self, peer: u32, command_name: String, payload: &[u8]) -> Result<u32> {
        let command = command(&command_name)?;
        Ok(self.send_one(peer, &command, payload))
    }

    fn send_one(&self, peer: u32, command: &Command, payload: &[u8]) -> u32 {
        match self.driver.send_corked(peer, command, payload) {
            Ok((status, credit)) => code_with_credit(status, credit),
            Err(UnknownPeer(_)) => SEND_UNKNOWN_PEER,
        }
    }

    /// Validates a command name once and returns its id for `sendCommand`
    /// (the same id for the same name); null once the table is full.
    #[napi(catch_unwind)]
    pub fn register_command(&self, command_name: String) -> Result<Option<u32>> {
        let command = command(&command_name)?;
        let mut commands = self.commands.borrow_mut();
        if let Some(i) = commands.iter().position(|c| *c == command) {
            return Ok(Some(i as u32));
        }
        if commands.len() >= MAX_REGISTERED_COMMANDS {
            return Ok(None);
        }
        commands.push(command);
        Ok(Some(commands.len() as u32 - 1))
    }

    /// `send` with a command id from `registerCommand`.
    #[napi(catch_unwind)]
    pub fn send_command(&self, peer: u32, command_id: u32, payload: &[u8]) -> Result<u32> {
        let command = self
            .commands
            .borrow()
            .get(command_id as usize)
            .copied()
            .ok_or_else(|| unregistered(command_id))?;
        Ok(self.send_one(peer, &command, payload))
    }

    /// A 4-byte buffer over a native-endian u32 that the I/O threads bump
    /// whenever a peer's send queue closes, whoever closed it. An owner that
    /// spends credit without asking (see `sendStaged`) reads it before each
    /// send and drops every credit when it has moved; it must never write it.
    /// Null where the runtime refuses buffers over native memory (Electron's
    /// V8 sandbox): then ask for every send.
    #[napi(catch_unwind)]
    pub fn close_counter(&self, env: Env) -> Option<Buffer> {
        let counter = self.driver.close_counter();
        let data = counter.as_ptr().cast::<u8>();
        // SAFETY: `data` points at the counter's 4 bytes, kept alive by the
        // `Arc` the finaliser holds until JavaScript has collected the buffer.
        // Rust only ever writes them atomically; JavaScript only reads them.
        let slice =
            unsafe { BufferSlice::from_external(&env, data, 4, counter, |_, c| drop(c)) }.ok()?;
        // Where external buffers are refused, napi-rs quietly returns a copy,
        // which would never move: no counter then.
        if slice.as_ptr() != data.cast_const() {
            return None;
        }
        slice.into_buffer(&env).ok()
    }

    /// Queues, corked, the sends the owner staged while it had credit for
    /// them: record `i` is `meta[3i..3i + 3]` = peer, command id, payload
    /// length, and the payloads lie back to back in `data`. The whole batch
    /// is checked before any of it is queued. One call per turn replaces a
    /// call per message. Returns how many the queues refused (a peer that
    /// closed meanwhile); the owner's credit keeps that at 0 otherwise.
    #[napi(catch_unwind)]
    pub fn send_staged(&self, meta: Uint32Array, data: &[u8]) -> Result<u32> {
        let records: &[u32] = &meta;
        if !records.len().is_multiple_of(3) {
            return Err(Error::new(
                Status::InvalidArg,
                format!("staged records come in threes, not {}", records.len()),
            ));
        }
        let commands = self.commands.borrow();
        let mut total = 0u64;
        for record in records.chunks_exact(3) {
            if commands.get(record[1] as usize).is_none() {
                return Err(unregistered(record[1]));
            }
            total += u64::from(record[2]);
        }
        if total > data.len() as u64 {
            return Err(Error::new(
                Status::InvalidArg,
                format!(
                    "staged payloads of {total} bytes exceed data of {} bytes",
                    data.len()
                ),
            ));
        }
        let mut refused = 0;
        let mut start = 0usize;
        let mut rest = records;
        // One lock per run of records for the same peer.
        while let [peer, ..] = *rest {
            let count = rest
                .chunks_exact(3)
                .take_while(|record| record[0] == peer)
                .count();
            let (run, next) = rest.split_at(count * 3);
            let mut at = start;
            let sends = run.chunks_exact(3).map(|record| {
                let len = record[2] as usize;
                let payload = &data[at..at + len];
                at += len;
                (&commands[record[1] as usize], payload)
            });
            refused += match self.driver.send_corked_run(peer, sends) {
                Ok(corked) => count - corked.queued,
                Err(UnknownPeer(_)) => count,
            };
            // The run's payloads, whether or not all were queued.
            start += run.chunks_exact(3).map(|r| r[2] as usize).sum::<usize>();
            rest = next;
        }
        Ok(refused as u32)
    }

    /// Writes what `send` queued since the last flush, for every peer.
    #[napi(catch_unwind)]
    pub fn flush(&self) {
        self.driver.flush();
    }

    /// Queues many messages with one command for one peer in one call: payload
    /// `i` is `data[offsets[i]..offsets[i + 1]]`. They are framed into one buffer;
    /// if the queue cannot take them all, as many as fit are queued in order.
    /// Returns how many were queued and the SEND_* code of the last attempt.
    #[napi(catch_unwind)]
    pub fn send_many(
        &self,
        peer: u32,
        command_name: String,
        data: &[u8],
        offsets: Uint32Array,
    ) -> Result<Vec<u32>> {
        let command = command(&command_name)?;
        let mut payloads = Vec::with_capacity(offsets.len().saturating_sub(1));
        for pair in offsets.windows(2) {
            let (start, end) = (pair[0] as usize, pair[1] as usize);
            if start > end || end > data.len() {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!(
                        "offsets {start}..{end} fall outside data of {} bytes",
                        data.len()
                    ),
                ));
            }
            payloads.push(&data[start..end]);
        }
        Ok(match self.driver.send_many(peer, &command, &payloads) {
            Ok((sent, status)) => vec![sent as u32, status_code(status)],
            Err(UnknownPeer(_)) => vec![0, SEND_UNKNOWN_PEER],
        })
    }

    /// Encodes once and queues the same bytes for each peer in `peers`, or for
    /// every connected peer when `peers` is omitted.
    #[napi(catch_unwind)]
    pub fn broadcast(
        &self,
        command_name: String,
        payload: &[u8],
        peers: Option<Vec<u32>>,
    ) -> Result<BroadcastResult> {
        let command = command(&command_name)?;
        let report = self.driver.broadcast(peers.as_deref(), &command, payload);
        Ok(BroadcastResult {
            queued: report.queued.len() as u32,
            backpressure: report.backpressure,
            refused: report.refused,
        })
    }

    /// Lifts the pre-handshake payload limit for `peer`.
    #[napi(catch_unwind)]
    pub fn mark_handshake_complete(&self, peer: u32) -> Result<()> {
        self.driver.mark_handshake_complete(peer).map_err(unknown)
    }

    /// Ends a connection; with `flush`, queued messages are written first. Returns
    /// false when the peer is unknown or already closing.
    #[napi(catch_unwind)]
    pub fn disconnect(&self, peer: u32, reason: String, flush: Option<bool>) -> bool {
        self.driver
            .disconnect(peer, &reason, flush.unwrap_or(false))
            .unwrap_or(false)
    }

    /// Changes limits for every connection, live ones included.
    #[napi(catch_unwind)]
    pub fn set_limits(&self, limits: NativeLimits) -> Result<()> {
        let next = apply_limits(self.driver.limits(), &limits)?;
        self.driver.set_limits(next);
        Ok(())
    }

    /// Takes one batch of events (bounded, fair across peers); `null` when
    /// there are none. Releases the previous batch if it was not released.
    #[napi(catch_unwind)]
    pub fn poll(&mut self, env: Env) -> Result<Option<EventBatch>> {
        self.poll_with(env, None)
    }

    /// `poll`, with payloads copied into `lent` while they fit (`EVENT_FRAME_LENT`,
    /// at offsets into it): the caller reuses one buffer for every batch, and
    /// the payloads are views into it valid until the next poll.
    #[napi(catch_unwind)]
    pub fn poll_lent(&mut self, env: Env, mut lent: BufferSlice) -> Result<Option<EventBatch>> {
        self.poll_with(env, Some(&mut lent))
    }

    fn poll_with(&mut self, env: Env, lent: Option<&mut [u8]>) -> Result<Option<EventBatch>> {
        let drained = self.driver.poll();
        if drained.events.is_empty() {
            return Ok(None);
        }
        let (batch, closed) = pack(&env, drained.events, drained.more, lent);
        if closed && !self.finished {
            // Everything is gone: stop the I/O threads and release the wake-up
            // function, which is what lets Node exit.
            self.finished = true;
            self.driver.finish();
        }
        Ok(Some(batch))
    }

    /// The last batch has been handled: its input no longer counts against
    /// its peers' receive budgets, and paused readers resume.
    #[napi(catch_unwind)]
    pub fn release(&self) {
        self.driver.release();
    }

    /// Changes the slot counts enforced at accept, and the batch limits.
    #[napi(catch_unwind)]
    pub fn set_connection_limits(&self, limits: NativeConnectionLimits) -> Result<()> {
        let (connections, batch) = apply_connection_limits(
            self.driver.connection_limits(),
            self.driver.batch_limits(),
            &limits,
        )?;
        self.driver.set_connection_limits(connections);
        self.driver.set_batch_limits(batch);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> NativeStats {
        let s = self.driver.stats();
        NativeStats {
            inbound_refused: s.inbound_refused as f64,
            inbound_evicted: s.inbound_evicted as f64,
            inbound_banned: s.inbound_banned as f64,
            send_stalled: s.send_stalled as f64,
        }
    }

    /// Closes inbound sockets from `ip` (an IP address, no port) at accept
    /// for the next `forMs` milliseconds (0 lifts it). Connections already
    /// open are the caller's to close.
    #[napi(catch_unwind)]
    pub fn refuse_host(&self, ip: String, for_ms: f64) -> Result<()> {
        if !(for_ms.is_finite() && for_ms >= 0.0) {
            return Err(Error::new(
                Status::InvalidArg,
                format!("forMs must be a finite number >= 0, got {for_ms}"),
            ));
        }
        self.driver.refuse_host(parse_ip(&ip)?, for_ms as u64);
        Ok(())
    }

    /// Accepts inbound sockets from `ip` again; whether it was refused.
    #[napi(catch_unwind)]
    pub fn allow_host(&self, ip: String) -> Result<bool> {
        Ok(self.driver.allow_host(parse_ip(&ip)?))
    }

    /// Starts a graceful shutdown; a closed event follows when it is complete.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.driver.close();
    }

    #[napi(catch_unwind)]
    pub fn peer_info(&self, peer: u32) -> Option<NativePeerInfo> {
        let info = self.driver.peer_info(peer as PeerId)?;
        Some(NativePeerInfo {
            id: info.id,
            inbound: info.direction == Direction::Inbound,
            remote: info.remote.to_string(),
            local: info.local.to_string(),
            bytes_in: info.stats.bytes_in as f64,
            messages_in: info.stats.messages_in as f64,
            bytes_out: info.stats.bytes_out as f64,
            messages_out: info.stats.messages_out as f64,
            messages_dropped: info.stats.messages_dropped as f64,
            send_queue_bytes: info.send_queue_bytes as f64,
            recv_pending_bytes: info.recv_pending_bytes as f64,
            read_buffered_bytes: info.read_buffered_bytes as f64,
            read_buffer_capacity: info.read_buffer_capacity as f64,
            handshake_complete: info.handshake_complete,
            closing: info.closing,
            held: info.held,
            min_ping_us: info.min_ping_us.map(|us| us as f64),
        })
    }

    #[napi(catch_unwind)]
    pub fn peer_ids(&self) -> Vec<u32> {
        self.driver.peer_ids()
    }
}

/// Frame checksums this process has computed (encode and verify).
#[napi]
pub fn checksums_computed_total() -> f64 {
    checksums_computed() as f64
}

/// An IP address as text (no port; IPv6 without brackets or zone).
fn parse_ip(text: &str) -> Result<std::net::IpAddr> {
    text.parse()
        .map_err(|_| Error::new(Status::InvalidArg, format!("not an IP address: {text:?}")))
}
