//! Packs drained events into one buffer, one integer table and a few strings, so
//! a whole batch crosses into JavaScript in a single call.
//!
//! Small payloads are copied into the batch's shared buffer and reach
//! JavaScript as views into it. With a lent buffer (borrowed payloads), every
//! payload that fits is copied into that instead: the caller reuses it for
//! every batch, so payloads allocate no memory JavaScript must collect. A
//! payload of [`OWN_BUFFER_MIN`] bytes or more gets a buffer of its own, made over the received bytes without copying: a
//! megabyte block costs no copy on the JavaScript thread, and keeping it does
//! not pin the batch's other payloads (nor theirs it). Lending trades that
//! copy for not allocating: the block is copied into the lent buffer.

use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, BufferSlice, Uint32Array, Uint32ArraySlice};
use napi::{Env, Result};
use napi_derive::napi;
use peerwire_driver::Event;

/// Payloads at least this large get their own buffer.
pub const OWN_BUFFER_MIN: usize = 64 * 1024;

/// Integers per event in `meta`: kind, peer, then three kind-specific fields.
pub const META_STRIDE: usize = 5;

/// Event kinds in `meta` (the first integer of each entry). Field layout after
/// `kind, peer`:
#[napi]
pub const EVENT_FRAME: u32 = 0; // command string, payload offset, payload length
#[napi]
pub const EVENT_CONNECTED: u32 = 1; // remote string, local string, -
#[napi]
pub const EVENT_ACCEPTED: u32 = 2; // remote string, local string, listener id
#[napi]
pub const EVENT_CONNECT_FAILED: u32 = 3; // address string, error string, -
#[napi]
pub const EVENT_DROPPED: u32 = 4; // reason code string, detail string, -
#[napi]
pub const EVENT_WRITABLE: u32 = 5; // -, -, -
#[napi]
pub const EVENT_DISCONNECTED: u32 = 6; // reason code string, detail string, unflushed bytes
#[napi]
pub const EVENT_LISTENER_ERROR: u32 = 7; // (peer = listener id) error string, -, -
#[napi]
pub const EVENT_CLOSED: u32 = 8;
#[napi]
pub const EVENT_FRAME_OWN: u32 = 9; // command string, index into `buffers`, payload length
#[napi]
pub const EVENT_FRAME_LENT: u32 = 10; // command string, offset into the lent buffer, payload length

/// One drained batch of events.
#[napi(object)]
pub struct EventBatch {
    /// Every frame payload in the batch, back to back.
    pub data: Buffer,
    /// `META_STRIDE` integers per event.
    pub meta: Uint32Array,
    /// Strings referenced from `meta` by index (commands are interned).
    pub strings: Vec<String>,
    /// Payloads large enough for a buffer of their own.
    pub buffers: Vec<Buffer>,
    /// More events are ready now: poll again soon (after yielding to the
    /// event loop) rather than waiting for a wake-up.
    pub more: bool,
    /// Frame payload bytes in the batch: with a lent buffer at least this
    /// large, all of them would have gone into it.
    pub payload_bytes: f64,
}

#[derive(Default)]
struct Strings {
    list: Vec<String>,
    /// Commands repeat constantly; look the last few up instead of re-adding them.
    commands: Vec<(peerwire_core::Command, u32)>,
}

impl Strings {
    fn add(&mut self, s: String) -> u32 {
        self.list.push(s);
        (self.list.len() - 1) as u32
    }

    fn command(&mut self, command: &peerwire_core::Command) -> u32 {
        if let Some((_, i)) = self.commands.iter().find(|(c, _)| c == command) {
            return *i;
        }
        let i = self.add(command.as_str().to_owned());
        self.commands.push((*command, i));
        i
    }
}

/// A JavaScript buffer over `bytes`, which it keeps alive until collected.
fn own_buffer(env: &Env, bytes: Bytes) -> Result<Buffer> {
    let len = bytes.len();
    // JavaScript may write to a Buffer; these bytes are this payload's alone
    // (split off the read buffer), and Rust never reads them again.
    let data = bytes.as_ptr() as *mut u8;
    // SAFETY: `data` points at `len` bytes owned by `bytes`, which the finaliser
    // holds and drops only when JavaScript has collected the buffer.
    let slice =
        unsafe { BufferSlice::from_external(env, data, len, bytes, |_, bytes| drop(bytes)) }?;
    slice.into_buffer(env)
}

// The batch's own buffers are copied into memory the engine allocates: made
// over Rust memory they would each carry a finaliser (a weak handle every
// collection must visit) for a few hundred bytes and one use. A large `data`
// stays over Rust memory (a copy would cost more); if a copy fails, the
// external buffer still delivers the batch.

fn copied_buffer(env: &Env, data: Vec<u8>) -> Buffer {
    if data.len() >= OWN_BUFFER_MIN {
        return Buffer::from(data);
    }
    BufferSlice::copy_from(env, &data)
        .and_then(|slice| slice.into_buffer(env))
        .unwrap_or_else(|_| Buffer::from(data))
}

fn copied_meta(env: &Env, meta: Vec<u32>) -> Uint32Array {
    Uint32ArraySlice::copy_from(env, &meta)
        .and_then(|slice| slice.into_typed_array(env))
        .unwrap_or_else(|_| Uint32Array::new(meta))
}

/// Packs `events`; the returned flag says whether `Closed` was among them.
/// Never fails: the events are already taken from the driver.
/// With `lent`, payloads are copied into it, back to back, while they fit.
pub fn pack(
    env: &Env,
    events: Vec<Event>,
    more: bool,
    mut lent: Option<&mut [u8]>,
) -> (EventBatch, bool) {
    let mut payload_bytes = 0;
    let lending = lent.is_some();
    let lent_len = lent.as_ref().map_or(0, |l| l.len());
    let mut lent_used = 0;
    let fits_lent = |used: usize, len: usize| lending && used + len <= lent_len;
    let small = |e: &Event| match e {
        Event::Frame { frame, .. } if frame.payload.len() < OWN_BUFFER_MIN => frame.payload.len(),
        _ => 0,
    };
    // Lending, most payloads go to the lent buffer: let `data` grow as needed.
    let total: usize = if lending {
        0
    } else {
        events.iter().map(small).sum()
    };
    let mut data = Vec::with_capacity(total);
    let mut meta = Vec::with_capacity(events.len() * META_STRIDE);
    let mut strings = Strings::default();
    let mut buffers = Vec::new();
    let mut closed = false;
    for event in events {
        if let Event::Frame { frame, .. } = &event {
            payload_bytes += frame.payload.len();
        }
        let entry: [u32; META_STRIDE] = match event {
            Event::Frame { peer, frame } if fits_lent(lent_used, frame.payload.len()) => {
                let len = frame.payload.len();
                let offset = lent_used;
                if let Some(lent) = lent.as_deref_mut() {
                    lent[offset..offset + len].copy_from_slice(&frame.payload);
                }
                lent_used += len;
                let command = strings.command(&frame.command);
                [EVENT_FRAME_LENT, peer, command, offset as u32, len as u32]
            }
            Event::Frame { peer, frame } if frame.payload.len() >= OWN_BUFFER_MIN => {
                let command = strings.command(&frame.command);
                let length = frame.payload.len() as u32;
                match own_buffer(env, frame.payload.clone()) {
                    Ok(buffer) => {
                        buffers.push(buffer);
                        [
                            EVENT_FRAME_OWN,
                            peer,
                            command,
                            (buffers.len() - 1) as u32,
                            length,
                        ]
                    }
                    // Never lose a frame over it: copy it into the shared buffer.
                    Err(_) => {
                        let offset = data.len() as u32;
                        data.extend_from_slice(&frame.payload);
                        [EVENT_FRAME, peer, command, offset, length]
                    }
                }
            }
            Event::Frame { peer, frame } => {
                let offset = data.len() as u32;
                data.extend_from_slice(&frame.payload);
                let command = strings.command(&frame.command);
                [
                    EVENT_FRAME,
                    peer,
                    command,
                    offset,
                    frame.payload.len() as u32,
                ]
            }
            Event::Connected {
                peer,
                remote,
                local,
            } => [
                EVENT_CONNECTED,
                peer,
                strings.add(remote.to_string()),
                strings.add(local.to_string()),
                0,
            ],
            Event::Accepted {
                peer,
                listener,
                remote,
                local,
            } => [
                EVENT_ACCEPTED,
                peer,
                strings.add(remote.to_string()),
                strings.add(local.to_string()),
                listener,
            ],
            Event::ConnectFailed {
                peer,
                address,
                error,
            } => [
                EVENT_CONNECT_FAILED,
                peer,
                strings.add(address),
                strings.add(error),
                0,
            ],
            Event::Dropped { peer, reason } => [
                EVENT_DROPPED,
                peer,
                strings.add(reason.kind().as_str().to_owned()),
                strings.add(reason.to_string()),
                0,
            ],
            Event::Writable { peer } => [EVENT_WRITABLE, peer, 0, 0, 0],
            Event::Disconnected {
                peer,
                reason,
                unflushed_bytes,
            } => [
                EVENT_DISCONNECTED,
                peer,
                strings.add(reason.code().to_owned()),
                strings.add(reason.detail()),
                unflushed_bytes.min(u32::MAX as u64) as u32,
            ],
            Event::ListenerError { listener, error } => {
                [EVENT_LISTENER_ERROR, listener, strings.add(error), 0, 0]
            }
            Event::Closed => {
                closed = true;
                [EVENT_CLOSED, 0, 0, 0, 0]
            }
        };
        meta.extend_from_slice(&entry);
    }
    let batch = EventBatch {
        data: copied_buffer(env, data),
        meta: copied_meta(env, meta),
        strings: strings.list,
        buffers,
        more,
        payload_bytes: payload_bytes as f64,
    };
    (batch, closed)
}
