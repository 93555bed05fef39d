//! JavaScript options, checked and turned into driver configuration.

use napi::{Error, Result, Status};
use napi_derive::napi;
use peerwire_core::{Action, Magic, PeerLimits, RejectKind};
use peerwire_driver::{BatchLimits, ConnectionLimits, DriverConfig};
use std::time::Duration;

/// Per-peer limits. Omitted fields keep their current value (Bitcoin Core's
/// defaults at construction).
#[napi(object)]
#[derive(Default)]
pub struct NativeLimits {
    /// Largest payload accepted once the handshake is complete (default 4,000,000).
    pub max_payload: Option<u32>,
    /// Largest payload accepted before it (default 32,768).
    pub pre_handshake_max_payload: Option<u32>,
    /// Lift the pre-handshake limit once `version` and `verack` have both arrived
    /// (default true).
    pub lift_on_version_and_verack: Option<bool>,
    /// Queued outbound bytes at which `send` reports backpressure (default 1,000,000).
    pub send_pause_bytes: Option<u32>,
    /// Queued outbound bytes past which `send` refuses (default 10,000,000).
    pub send_max_bytes: Option<u32>,
    /// Queued outbound messages past which `send` refuses (default 250,000).
    pub send_max_messages: Option<u32>,
    /// Received input not yet handled by JavaScript at which reading pauses
    /// (default 5,000,000; each frame counts its wire size plus 64).
    pub recv_budget_bytes: Option<u32>,
    /// The same until the handshake is marked complete (default 65,536).
    pub pre_handshake_recv_budget_bytes: Option<u32>,
    /// Bytes read from one peer per wake (default 65,536).
    pub read_bytes_per_wake: Option<u32>,
    /// Messages parsed for one peer per wake (default 1,024).
    pub messages_per_wake: Option<u32>,
    /// Bytes handed to one write call (default 262,144).
    pub write_bytes_per_wake: Option<u32>,
    /// What each reject does: "disconnect" or "drop". Defaults follow Bitcoin Core:
    /// bad magic and oversized disconnect, bad checksum and bad command drop.
    pub on_bad_magic: Option<String>,
    pub on_oversized: Option<String>,
    pub on_bad_checksum: Option<String>,
    pub on_bad_command: Option<String>,
}

/// Slot counts enforced when a socket arrives, and how events are batched.
/// Omitted fields keep their current value.
#[napi(object)]
#[derive(Default)]
pub struct NativeConnectionLimits {
    /// Inbound connections (default 117).
    pub max_inbound: Option<u32>,
    /// Inbound sockets still in the handshake (default 64).
    pub max_handshaking: Option<u32>,
    /// Every connection, both directions (default 125).
    pub max_connections: Option<u32>,
    /// A socket in the handshake this long may lose its slot to a newcomer
    /// (default 5,000 ms).
    pub stale_handshake_ms: Option<u32>,
    /// Events per batch handed to JavaScript (default 2,048).
    pub batch_max_events: Option<u32>,
    /// Payload bytes per batch (default 1 MiB; one larger frame still goes alone).
    pub batch_max_bytes: Option<u32>,
    /// Events one peer contributes to a batch before the next peer's turn (default 64).
    pub batch_peer_events: Option<u32>,
    /// Payload bytes one peer contributes before the next peer's turn (default 64 KiB).
    pub batch_peer_bytes: Option<u32>,
}

#[napi(object)]
pub struct NativeEngineOptions {
    /// The network magic as 8 hex digits in wire order, e.g. "f9beb4d9" for mainnet.
    pub magic: String,
    pub limits: Option<NativeLimits>,
    /// Outbound connect timeout (default 10,000 ms).
    pub connect_timeout_ms: Option<u32>,
    /// How long a flushing disconnect or close waits on a slow peer (default 5,000 ms).
    pub flush_timeout_ms: Option<u32>,
    /// A peer that takes none of our queued bytes this long is disconnected
    /// with "send-stalled" (default 120,000 ms).
    pub send_stall_timeout_ms: Option<u32>,
    pub connections: Option<NativeConnectionLimits>,
    /// Received input waiting for JavaScript across all peers at which every
    /// busy reader pauses (default 67,108,864).
    pub total_recv_budget_bytes: Option<u32>,
    /// I/O threads (default 1).
    pub worker_threads: Option<u32>,
}

fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

pub fn parse_magic(hex: &str) -> Result<Magic> {
    let bytes = hex.as_bytes();
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid(format!(
            "magic must be 8 hex digits in wire order (e.g. \"f9beb4d9\"), got \"{hex}\""
        )));
    }
    let mut magic = [0u8; 4];
    for (i, byte) in magic.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|e| invalid(format!("magic: {e}")))?;
    }
    Ok(magic)
}

fn positive(field: &str, value: Option<u32>, current: usize) -> Result<usize> {
    bounded(field, value, current, u32::MAX as usize)
}

/// A setting between 1 and `max`; per-wake sizes are allocated up front on every
/// wake, so an absurd one would exhaust memory rather than fail cleanly.
fn bounded(field: &str, value: Option<u32>, current: usize, max: usize) -> Result<usize> {
    match value {
        None => Ok(current),
        Some(v) if v == 0 || v as usize > max => Err(invalid(format!(
            "limits.{field} must be between 1 and {max}, got {v}"
        ))),
        Some(v) => Ok(v as usize),
    }
}

const MAX_PER_WAKE_BYTES: usize = 16 * 1024 * 1024;
const MAX_PER_WAKE_MESSAGES: usize = 1_000_000;

fn action(field: &str, value: &Option<String>, current: Action) -> Result<Action> {
    match value {
        None => Ok(current),
        Some(name) => Action::parse(name).ok_or_else(|| {
            invalid(format!(
                "limits.{field} must be \"disconnect\" or \"drop\", got \"{name}\""
            ))
        }),
    }
}

/// Applies the fields that are set on top of `base`.
pub fn apply_limits(base: PeerLimits, js: &NativeLimits) -> Result<PeerLimits> {
    let mut l = base;
    let d = &mut l.decode;
    d.max_payload = positive("maxPayload", js.max_payload, d.max_payload as usize)? as u32;
    d.pre_handshake_max_payload = positive(
        "preHandshakeMaxPayload",
        js.pre_handshake_max_payload,
        d.pre_handshake_max_payload as usize,
    )? as u32;
    if let Some(lift) = js.lift_on_version_and_verack {
        d.lift_on_version_and_verack = lift;
    }
    let policy = &mut d.policy;
    for (kind, field, value) in [
        (RejectKind::BadMagic, "onBadMagic", &js.on_bad_magic),
        (RejectKind::Oversized, "onOversized", &js.on_oversized),
        (
            RejectKind::BadChecksum,
            "onBadChecksum",
            &js.on_bad_checksum,
        ),
        (RejectKind::BadCommand, "onBadCommand", &js.on_bad_command),
    ] {
        let chosen = action(field, value, policy.action(kind))?;
        policy.set(kind, chosen);
    }
    let o = &mut l.outbox;
    o.pause_bytes = positive("sendPauseBytes", js.send_pause_bytes, o.pause_bytes)?;
    o.max_bytes = positive("sendMaxBytes", js.send_max_bytes, o.max_bytes)?;
    o.max_messages = positive("sendMaxMessages", js.send_max_messages, o.max_messages)?;
    if o.max_bytes < o.pause_bytes {
        return Err(invalid(format!(
            "limits.sendMaxBytes ({}) must be at least limits.sendPauseBytes ({})",
            o.max_bytes, o.pause_bytes
        )));
    }
    l.recv_budget = positive("recvBudgetBytes", js.recv_budget_bytes, l.recv_budget)?;
    l.pre_handshake_recv_budget = positive(
        "preHandshakeRecvBudgetBytes",
        js.pre_handshake_recv_budget_bytes,
        l.pre_handshake_recv_budget,
    )?;
    let w = &mut l.wake;
    w.read_bytes = bounded(
        "readBytesPerWake",
        js.read_bytes_per_wake,
        w.read_bytes,
        MAX_PER_WAKE_BYTES,
    )?;
    w.messages = bounded(
        "messagesPerWake",
        js.messages_per_wake,
        w.messages,
        MAX_PER_WAKE_MESSAGES,
    )?;
    w.write_bytes = bounded(
        "writeBytesPerWake",
        js.write_bytes_per_wake,
        w.write_bytes,
        MAX_PER_WAKE_BYTES,
    )?;
    Ok(l)
}

/// A count that may be 0 (a slot limit of 0 refuses every inbound socket).
fn count(value: Option<u32>, current: usize) -> usize {
    value.map_or(current, |v| v as usize)
}

/// Applies the fields that are set on top of the current limits.
pub fn apply_connection_limits(
    mut c: ConnectionLimits,
    mut b: BatchLimits,
    js: &NativeConnectionLimits,
) -> Result<(ConnectionLimits, BatchLimits)> {
    c.max_inbound = count(js.max_inbound, c.max_inbound);
    c.max_handshaking = count(js.max_handshaking, c.max_handshaking);
    c.max_connections = count(js.max_connections, c.max_connections);
    if let Some(ms) = js.stale_handshake_ms {
        c.stale_handshake = Duration::from_millis(u64::from(ms));
    }
    b.max_events = positive("batchMaxEvents", js.batch_max_events, b.max_events)?;
    // Offsets into a batch's buffer are 32-bit: keep well inside them.
    b.max_bytes = bounded("batchMaxBytes", js.batch_max_bytes, b.max_bytes, 1 << 30)?;
    b.peer_events = positive("batchPeerEvents", js.batch_peer_events, b.peer_events)?;
    b.peer_bytes = positive("batchPeerBytes", js.batch_peer_bytes, b.peer_bytes)?;
    Ok((c, b))
}

pub fn driver_config(options: &NativeEngineOptions) -> Result<DriverConfig> {
    let mut config = DriverConfig::new(parse_magic(&options.magic)?);
    if let Some(limits) = &options.limits {
        config.limits = apply_limits(config.limits, limits)?;
    }
    if let Some(ms) = options.connect_timeout_ms {
        config.connect_timeout =
            Duration::from_millis(positive("connectTimeoutMs", Some(ms), 0)? as u64);
    }
    if let Some(ms) = options.flush_timeout_ms {
        config.flush_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = options.send_stall_timeout_ms {
        config.send_stall_timeout =
            Duration::from_millis(positive("sendStallTimeoutMs", Some(ms), 0)? as u64);
    }
    config.total_recv_budget = positive(
        "totalRecvBudgetBytes",
        options.total_recv_budget_bytes,
        config.total_recv_budget,
    )?;
    if let Some(connections) = &options.connections {
        (config.connections, config.batch) =
            apply_connection_limits(config.connections, config.batch, connections)?;
    }
    if let Some(n) = options.worker_threads {
        if !(1..=64).contains(&n) {
            return Err(invalid(format!("workerThreads must be 1..=64, got {n}")));
        }
        config.worker_threads = n as usize;
    }
    Ok(config)
}
