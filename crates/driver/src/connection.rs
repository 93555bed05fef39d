//! One connection: a reader and a writer running side by side in one task.
//!
//! Both are purely event-driven: the reader waits on socket readiness or on its
//! receive budget, the writer on queued work, socket writability or a close
//! request. Nothing polls and nothing sleeps except the bounded flush deadline.

use crate::driver::Shared;
use crate::event::{DisconnectReason, Event, PeerId};
use crate::inbox::lock;
use crate::link::{Direction, PeerLink, Standing};
use crate::tasks::{CatchUnwind, TaskGuard};
use bytes::BufMut;
use peerwire_core::{netgroup, Action, Chunk, Decoded, FrameDecoder, PeerState};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout_at, Instant};

/// The first read of a connection (see read_loop).
const FIRST_READ: usize = 4096;

/// Most frames handed to one vectored write.
const MAX_IOV: usize = 64;

/// What a dropped-message event is charged against the receive budget (a
/// header's worth plus the event itself), and credited back when drained.
pub(crate) const DROPPED_EVENT_COST: usize = 128;

/// Registers a freshly connected socket and starts its task. The connected or
/// accepted event is queued before the task can deliver any frame.
pub(crate) fn start(
    shared: &Arc<Shared>,
    stream: TcpStream,
    id: PeerId,
    direction: Direction,
    listener: Option<u32>,
) {
    let (remote, local) = match (stream.peer_addr(), stream.local_addr()) {
        (Ok(remote), Ok(local)) => (remote, local),
        (Err(e), _) | (_, Err(e)) => {
            if direction == Direction::Outbound {
                shared.inbox.push(Event::ConnectFailed {
                    peer: id,
                    address: String::new(),
                    error: e.to_string(),
                });
            }
            return;
        }
    };
    // Small messages (ping, inv) should not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let (epoch, limits) = shared.limits_with_epoch();
    let state = PeerState::new(&limits);
    let standing = Standing::new(shared.now_ms(), netgroup(remote.ip()));
    let stream = Arc::new(stream);
    let link = Arc::new(PeerLink::new(
        id,
        direction,
        remote,
        local,
        state,
        standing,
        stream.clone(),
    ));
    if !shared.register(link.clone()) {
        if direction == Direction::Outbound {
            shared.inbox.push(Event::ConnectFailed {
                peer: id,
                address: remote.to_string(),
                error: "engine is closing".into(),
            });
        }
        return;
    }
    // Limits changed between building the state and registering: set_limits
    // may have missed this link, so apply the current ones.
    if shared.limits_epoch() != epoch {
        lock(&link.state).set_limits(&shared.limits());
    }
    shared.inbox.push(match listener {
        Some(listener) => Event::Accepted {
            peer: id,
            listener,
            remote,
            local,
        },
        None => Event::Connected {
            peer: id,
            remote,
            local,
        },
    });
    let guard = shared.tasks.enter();
    let task_shared = shared.clone();
    shared.handle.spawn(run(task_shared, link, stream, guard));
}

async fn run(shared: Arc<Shared>, link: Arc<PeerLink>, stream: Arc<TcpStream>, _guard: TaskGuard) {
    // The stream is shared, not split: the application thread may write to it
    // directly when nothing is queued (see PeerLink::send_chunk).
    let io = async {
        tokio::select! {
            reason = read_loop(&shared, &link, &stream) => reason,
            reason = write_loop(&shared, &link, &stream) => reason,
        }
    };
    let reason = match CatchUnwind(Box::pin(io)).await {
        Ok(reason) => reason,
        Err(panic) => DisconnectReason::Internal(format!("connection task panicked: {panic}")),
    };
    shared.unregister(link.id);
    let unflushed_bytes = {
        let mut state = lock(&link.state);
        state.outbox.close();
        state.outbox.pending_bytes() as u64
    };
    shared.inbox.push(Event::Disconnected {
        peer: link.id,
        reason,
        unflushed_bytes,
    });
}

async fn read_loop(shared: &Shared, link: &PeerLink, stream: &TcpStream) -> DisconnectReason {
    let (mut epoch, mut limits) = shared.limits_with_epoch();
    let mut decoder = FrameDecoder::new(limits.decode);
    let mut batch = Vec::new();
    // Reads start small and double while they come back full, up to the
    // per-wake limit: a quiet peer's handshake does not reserve 64 KiB, which
    // across thousands of peers is what their resident memory would be.
    let mut read_size = FIRST_READ;
    loop {
        if link.is_closing() {
            return drain_until_eof(link, stream).await;
        }
        wait_for_budget(shared, link, decoder.buffered()).await;
        if let Err(e) = stream.readable().await {
            return DisconnectReason::Io(e.to_string());
        }
        let max_read = read_size.min(limits.wake.read_bytes);
        let size = decoder.next_read_size(max_read);
        let read = if decoder.buffered() == 0 && size <= FIRST_READ {
            read_small(&mut decoder, stream, size)
        } else {
            let buf = decoder.read_buffer(max_read);
            stream.try_read_buf(&mut buf.limit(size))
        };
        read_size = match read {
            Ok(n) if n == size => (read_size * 2).min(limits.wake.read_bytes),
            Ok(n) if n < read_size / 4 => (read_size / 2).max(FIRST_READ),
            _ => read_size,
        };
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Caught up: an idle peer keeps no read buffer (a large read's
                // room included) and no event slots while it waits.
                decoder.release_idle_buffer();
                if batch.capacity() > 0 {
                    batch = Vec::new();
                }
                continue;
            }
            Ok(0) => {
                link.peer_eof.notify_one();
                if link.is_closing() {
                    // The writer is finishing a flush and ends the connection.
                    std::future::pending::<()>().await;
                }
                return DisconnectReason::PeerClosed;
            }
            Ok(_) => {}
            Err(e) => return DisconnectReason::Io(e.to_string()),
        }
        let filled = matches!(read, Ok(n) if n == size);
        // Parse everything complete before reading more, a bounded slice per wake
        // so one busy peer cannot starve the rest.
        loop {
            if shared.limits_epoch() != epoch {
                (epoch, limits) = shared.limits_with_epoch();
                decoder.set_limits(limits.decode);
            }
            let mut parsed = 0;
            let mut dropped = 0;
            let mut fatal = None;
            // One clock reading for the slice: the frames arrived together.
            let mut now_us = None;
            while parsed < limits.wake.messages {
                // Checked per frame: a peer's first post-handshake message may
                // sit right behind its verack in the same read.
                if !decoder.handshake_complete() {
                    if link.handshake_complete() {
                        decoder.complete_handshake();
                    } else if link.verack_sent() {
                        decoder.on_our_verack_sent();
                    }
                }
                match decoder.next_frame() {
                    None => break,
                    Some(Decoded::Frame(frame)) => {
                        link.standing
                            .note_received(&frame.command, &frame.payload, || {
                                *now_us.get_or_insert_with(|| shared.now_us())
                            });
                        batch.push(Event::Frame {
                            peer: link.id,
                            frame,
                        })
                    }
                    Some(Decoded::Rejected {
                        reason,
                        action: Action::Drop,
                    }) => {
                        dropped += 1;
                        batch.push(Event::Dropped {
                            peer: link.id,
                            reason,
                        });
                    }
                    Some(Decoded::Rejected {
                        reason,
                        action: Action::Disconnect,
                    }) => {
                        fatal = Some(reason);
                        break;
                    }
                }
                parsed += 1;
            }
            deliver(shared, link, &mut batch, dropped);
            if batch.capacity() > 256 {
                // A burst's worth of slots is not kept while the peer idles.
                batch = Vec::new();
            }
            if let Some(reason) = fatal {
                return DisconnectReason::Protocol(reason);
            }
            if parsed < limits.wake.messages {
                break;
            }
            tokio::task::yield_now().await;
            link.read_buffered
                .store(decoder.buffered(), Ordering::Relaxed);
            wait_for_budget(shared, link, decoder.buffered()).await;
        }
        decoder.release_idle_buffer();
        link.read_buffered
            .store(decoder.buffered(), Ordering::Relaxed);
        link.read_capacity
            .store(decoder.capacity(), Ordering::Relaxed);
        if filled {
            // More is probably waiting. Readiness futures take no part in
            // tokio's cooperative budget, so a peer that sends faster than we
            // parse would otherwise keep this task, and the runtime's only
            // worker, from ever yielding to the other connections.
            tokio::task::yield_now().await;
        }
    }
}

/// A small read when nothing is buffered, into a scratch array on the stack:
/// the decoder is handed only the bytes that arrived, so the read that finds
/// the socket drained, which every wake ends with, allocates nothing, and a
/// lone small frame costs an allocation of its own size.
fn read_small(
    decoder: &mut FrameDecoder,
    stream: &TcpStream,
    size: usize,
) -> std::io::Result<usize> {
    let mut scratch = [0u8; FIRST_READ];
    let n = stream.try_read(&mut scratch[..size])?;
    decoder.feed(&scratch[..n]);
    Ok(n)
}

/// Reads and discards what a closing peer still sends, without parsing it, until
/// its FIN: the writer is finishing its flush (bounded by the flush timeout) and
/// ends the connection. Draining keeps unread input from turning our close into a
/// reset; skipping the decoder keeps a flooding peer from costing a checksum per
/// frame while everything shuts down.
async fn drain_until_eof(link: &PeerLink, stream: &TcpStream) -> DisconnectReason {
    // Small, as thousands of peers may be closing at once; a few reads per turn.
    let mut scratch = vec![0u8; FIRST_READ];
    let mut reads = 0u32;
    loop {
        if let Err(e) = stream.readable().await {
            return DisconnectReason::Io(e.to_string());
        }
        match stream.try_read(&mut scratch) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Ok(0) => {
                link.peer_eof.notify_one();
                std::future::pending::<()>().await;
            }
            Ok(_) => {
                reads += 1;
                if reads.is_multiple_of(16) {
                    tokio::task::yield_now().await;
                }
            }
            Err(e) => return DisconnectReason::Io(e.to_string()),
        }
    }
}

/// Hands parsed events to the inbox and charges the receive budget.
fn deliver(shared: &Shared, link: &PeerLink, batch: &mut Vec<Event>, dropped: u64) {
    if batch.is_empty() {
        return;
    }
    if link.is_closing() {
        // The application has let this peer go; what it still sends is discarded.
        batch.clear();
        return;
    }
    let charged = {
        let mut state = lock(&link.state);
        state.stats.messages_dropped += dropped;
        // Dropped messages wait in the inbox too: charge them, or a peer could
        // queue endless reject events without ever pausing its reader.
        state
            .budget
            .on_delivered(dropped as usize * DROPPED_EVENT_COST);
        let before = state.budget.pending();
        state.on_frames_delivered(batch.iter().filter_map(|event| match event {
            Event::Frame { frame, .. } => Some(frame),
            _ => None,
        }));
        state.budget.pending() - before + dropped as usize * DROPPED_EVENT_COST
    };
    shared.charge_total(charged);
    shared.inbox.push_batch(link.id, batch);
}

/// Whether the reader must wait before reading more. A peer's input counts
/// from the moment it is received: what waits for the application (charged
/// until released) plus what is buffered toward an incomplete frame. A peer
/// with nothing waiting may always read, so any frame within the payload
/// limit can complete; so its cost is its budget or one maximum frame, plus
/// one read. Past the total cap across peers, every peer with input waiting
/// pauses too.
fn must_wait(shared: &Shared, link: &PeerLink, buffered: usize) -> bool {
    let state = lock(&link.state);
    let pending = state.budget.pending();
    pending > 0 && (pending + buffered >= state.budget.limit() || shared.total_recv_full())
}

async fn wait_for_budget(shared: &Shared, link: &PeerLink, buffered: usize) {
    // The common case, with no pressure, costs one lock and no registration.
    if link.is_closing() || !must_wait(shared, link, buffered) {
        return;
    }
    // Boxed: the waiting state (two wake-up registrations) is allocated only
    // by a reader that must wait, not carried in every connection's task.
    Box::pin(wait_for_room(shared, link, buffered)).await;
}

async fn wait_for_room(shared: &Shared, link: &PeerLink, buffered: usize) {
    loop {
        // Registered before the check, so a wake-up in between is not lost.
        let total = shared.total_resume.notified();
        tokio::pin!(total);
        total.as_mut().enable();
        if link.is_closing() || !must_wait(shared, link, buffered) {
            return;
        }
        // A resume between the check and this wait leaves a permit: no lost wake-up.
        tokio::select! {
            _ = link.reader_resume.notified() => {}
            _ = total => {}
        }
    }
}

async fn write_loop(shared: &Shared, link: &PeerLink, stream: &TcpStream) -> DisconnectReason {
    let mut inflight: VecDeque<Chunk> = VecDeque::new();
    let mut head_written = 0usize;
    let mut closing: Option<(DisconnectReason, Instant)> = None;
    // When the peer last took bytes from us, or when we last had nothing to send.
    let mut progress = Instant::now();
    loop {
        #[cfg(feature = "test-hooks")]
        if link.take_panic_request() {
            panic!("panic requested through the test hook");
        }
        if closing.is_none() {
            if let Some(request) = link.take_close_request() {
                if !request.flush {
                    return request.reason;
                }
                closing = Some((request.reason, Instant::now() + shared.flush_timeout()));
            }
        }
        if inflight.is_empty() {
            progress = Instant::now();
            let max = shared.write_bytes_per_wake();
            lock(&link.state).outbox.take_batch(max, &mut inflight);
        }
        if inflight.is_empty() {
            if let Some((reason, deadline)) = closing {
                // Everything promised is written: send FIN, then wait for the peer's
                // so unread input on our side cannot turn the close into a reset.
                let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
                let _ = timeout_at(deadline, link.peer_eof.notified()).await;
                return reason;
            }
            tokio::select! {
                _ = link.writer_wake.notified() => {}
                _ = link.close_wake.notified() => {}
            }
            continue;
        }

        let deadline = closing.as_ref().map(|(_, d)| *d);
        let stall = shared.send_stall_timeout();
        let written = tokio::select! {
            result = write_some(stream, &inflight, head_written) => match result {
                Ok(0) => return DisconnectReason::Io("socket accepted no bytes".into()),
                Ok(n) => n,
                Err(e) => return DisconnectReason::Io(e.to_string()),
            },
            // A close request while blocked: nothing was written, go handle it.
            _ = link.close_wake.notified(), if closing.is_none() => continue,
            // One timer for either bound (a second would be another 112 bytes
            // in every connection's task).
            _ = sleep_until(deadline.unwrap_or(progress + stall)) => {
                if let Some((reason, _)) = closing {
                    // The flush ran out of time; the unwritten bytes are reported.
                    return reason;
                }
                // It reads nothing of what we owe it, whatever it keeps sending us.
                shared.send_stalled.fetch_add(1, Ordering::Relaxed);
                return DisconnectReason::SendStalled(stall.as_millis() as u64);
            }
        };
        progress = Instant::now();

        let mut remaining = written;
        let mut frames_done = 0;
        while remaining > 0 {
            let Some(head) = inflight.front() else { break };
            let head_left = head.bytes.len() - head_written;
            if remaining >= head_left {
                remaining -= head_left;
                frames_done += head.messages;
                inflight.pop_front();
                head_written = 0;
            } else {
                head_written += remaining;
                remaining = 0;
            }
        }
        link.on_written(&shared.inbox, written, frames_done);
    }
}

/// One vectored write of the queued chunks (the first from `head_written`)
/// once the socket is writable (cancel-safe: nothing is written unless it
/// completes).
async fn write_some(
    stream: &TcpStream,
    inflight: &VecDeque<Chunk>,
    head_written: usize,
) -> std::io::Result<usize> {
    loop {
        stream.writable().await?;
        // The slice array lives only in this synchronous block, not across the
        // await: held there it would make every connection's task 1 KiB larger.
        let result = {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut count = 0;
            for (slot, chunk) in iov.iter_mut().zip(inflight.iter()) {
                let start = if count == 0 { head_written } else { 0 };
                *slot = IoSlice::new(&chunk.bytes[start..]);
                count += 1;
            }
            stream.try_write_vectored(&iov[..count])
        };
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}
