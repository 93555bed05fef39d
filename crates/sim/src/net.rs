//! How bytes move: connects and their answers, writes cut into segments that
//! cross a link with latency and bandwidth, arrivals, reads through the core's
//! decoder into the node's inbox, and connections ending.

use crate::conn::{Closing, Conn, Standing};
use crate::node::{Dial, NodeId, DROPPED_EVENT_COST};
use crate::pipe::{fingerprint, Payload, Pipe, PipeId, Segment};
use crate::world::{Action, World};
use bytes::{Buf, Bytes, BytesMut};
use peerwire_core::admission::{admit_inbound, Admission, Occupant};
use peerwire_core::{
    held_cost, netgroup, Action as RejectAction, Decoded, DisconnectReason, Event, FrameDecoder,
    PeerId, PeerState, FRAME_HOLD_OVERHEAD, HEADER_SIZE,
};
use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

/// How a connection's end reaches the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goodbye {
    Fin,
    Rst,
    /// Nothing: the host vanished.
    Silent,
}

impl World {
    /// Latency (µs) and bandwidth of the link between two nodes, drawn once.
    fn link(&mut self, a: NodeId, b: NodeId) -> (u64, f64) {
        let key = (a.min(b), a.max(b));
        if let Some(link) = self.links.get(&key) {
            return *link;
        }
        let f = self.faults;
        let rng = self.rng.get("links");
        let latency_ms =
            f.latency_min_ms + rng.unit() * (f.latency_max_ms - f.latency_min_ms).max(0.0);
        let bandwidth =
            f.bandwidth_min_bps + rng.unit() * (f.bandwidth_max_bps - f.bandwidth_min_bps).max(0.0);
        let link = ((latency_ms * 1000.0) as u64, bandwidth);
        self.links.insert(key, link);
        link
    }

    /// Whether a partition holds traffic from `from` to `to`.
    pub(crate) fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.partitions.values().any(|p| {
            (p.a.contains(&from) && p.b.contains(&to))
                || (!p.one_way && p.b.contains(&from) && p.a.contains(&to))
        })
    }

    fn find_node(&self, ip: std::net::Ipv4Addr) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.ip == ip)
            .map(|i| i as NodeId)
    }

    /// Dials `address` ("ip:port"); the result arrives as `Connected` or
    /// `ConnectFailed` carrying the returned id.
    pub fn connect(&mut self, n: NodeId, address: &str) -> Result<PeerId, crate::world::SimError> {
        let now = self.now_us;
        let node = self.node_mut(n)?;
        let peer = node.new_peer_id();
        let up = node.up;
        let closing = node.closing;
        let (inbound, outbound, _) = node.slot_counts();
        let max_connections = node.config.connections.max_connections;
        let timeout = World::duration_us(node.config.connect_timeout);
        let generation = node.generation;
        let ip = node.ip;
        self.record(format!("n{n} connect p{peer} {address}"), &[]);
        if !up {
            return Err(crate::world::SimError::Invalid(format!("node {n} is down")));
        }
        let fail = |error: &str| Event::ConnectFailed {
            peer,
            address: address.to_owned(),
            error: error.to_owned(),
        };
        let Ok(to) = address.parse::<SocketAddrV4>() else {
            self.emit(n, fail("invalid address: expected IPv4 \"ip:port\""), 0);
            return Ok(peer);
        };
        if closing {
            self.emit(n, fail("engine is closing"), 0);
            return Ok(peer);
        }
        if inbound + outbound >= max_connections {
            self.emit(n, fail("connection slots full"), 0);
            return Ok(peer);
        }
        let node = &mut self.nodes[n as usize];
        let local = SocketAddrV4::new(ip, node.ephemeral_port());
        node.dialing.insert(
            peer,
            Dial {
                address: address.to_owned(),
                local,
            },
        );
        self.schedule(
            now + timeout,
            Action::ConnectTimeout {
                node: n,
                generation,
                peer,
            },
        );
        let target = self.find_node(*to.ip());
        let latency = match target {
            Some(t) => self.link(n, t).0,
            None => 0,
        };
        let (refuse, hang) = (self.faults.connect_refuse_p, self.faults.connect_hang_p);
        let rng = self.rng.get("connect");
        if rng.chance(refuse) {
            self.counters.bump("fault.connect-refused");
            self.schedule(
                now + 2 * latency,
                Action::SynAck {
                    node: n,
                    generation,
                    peer,
                    accepted: None,
                },
            );
        } else if rng.chance(hang) || target.is_none() {
            if target.is_some() {
                self.counters.bump("fault.connect-hang");
            }
        } else {
            self.schedule(
                now + latency,
                Action::Syn {
                    from: n,
                    generation,
                    peer,
                    to,
                },
            );
        }
        Ok(peer)
    }

    pub(crate) fn on_syn(&mut self, from: NodeId, generation: u32, peer: PeerId, to: SocketAddrV4) {
        if !self.current(from, generation) {
            return;
        }
        let Some(t) = self.find_node(*to.ip()) else {
            return;
        };
        let target = &self.nodes[t as usize];
        if !target.up || self.blocked(from, t) {
            return; // lost: the dialler times out
        }
        let clogged = target
            .clogged_until_us
            .max(self.nodes[from as usize].clogged_until_us);
        if clogged > self.now_us {
            self.schedule(
                clogged,
                Action::Syn {
                    from,
                    generation,
                    peer,
                    to,
                },
            );
            return;
        }
        let (latency, bandwidth) = self.link(from, t);
        let now = self.now_us;
        let target = &self.nodes[t as usize];
        let Some(&listener) = target.listeners.get(&to.port()) else {
            // Nobody listens: the target's stack answers with a reset.
            self.schedule(
                now + latency,
                Action::SynAck {
                    node: from,
                    generation,
                    peer,
                    accepted: None,
                },
            );
            return;
        };
        let Some(local) = self.nodes[from as usize]
            .dialing
            .get(&peer)
            .map(|d| d.local)
        else {
            return;
        };
        let occupants: Vec<Occupant> = target
            .conns
            .values()
            .filter(|c| c.is_open())
            .map(|c| Occupant {
                id: c.id,
                inbound: c.inbound,
                handshake_complete: c.state.handshake_complete(),
                netgroup: c.standing.netgroup,
                connected_at_ms: c.standing.connected_at_ms,
                min_ping_us: c.standing.min_ping_us,
                last_block_at_ms: c.standing.last_block_at_ms,
                last_tx_at_ms: c.standing.last_tx_at_ms,
            })
            .collect();
        let limits = target.config.connections;
        let secret = target.secret;
        let draw = self.rng.get("admission").next_u64();
        let decision = admit_inbound(&occupants, &limits, secret, draw, now / 1000);
        self.counters.bump("exercise.admission");
        // The connection exists either way: the kernel accepted it.
        let (a, b) = (self.next_pipe, self.next_pipe + 1);
        self.next_pipe += 2;
        let their_id = self.nodes[t as usize].new_peer_id();
        self.pipes.insert(
            a,
            Pipe::new((from, peer), (t, their_id), b, latency, bandwidth),
        );
        self.pipes.insert(
            b,
            Pipe::new((t, their_id), (from, peer), a, latency, bandwidth),
        );
        self.schedule(
            now + latency,
            Action::SynAck {
                node: from,
                generation,
                peer,
                accepted: Some((a, b)),
            },
        );
        let admitted = match decision {
            Admission::Admit => true,
            Admission::Evict(victim) => {
                self.nodes[t as usize].stats.inbound_evicted += 1;
                self.end_conn(t, victim, DisconnectReason::Evicted, Goodbye::Fin);
                true
            }
            Admission::Refuse => {
                self.nodes[t as usize].stats.inbound_refused += 1;
                false
            }
        };
        self.record(
            format!("n{t} syn from n{from} p{peer} -> p{their_id} admitted={admitted}"),
            &[],
        );
        if !admitted {
            // Closed before a byte is read: the dialler sees its connection end.
            self.push_segment(b, Payload::Fin);
            return;
        }
        let target_addr = SocketAddr::V4(to);
        let remote = SocketAddr::V4(local);
        self.open_conn(t, their_id, true, (remote, target_addr), (b, a));
        self.emit(
            t,
            Event::Accepted {
                peer: their_id,
                listener,
                remote,
                local: target_addr,
            },
            0,
        );
    }

    /// Adds a connection end; `ends` is (remote, local) and `pipes` (tx, rx).
    fn open_conn(
        &mut self,
        n: NodeId,
        id: PeerId,
        inbound: bool,
        (remote, local): (SocketAddr, SocketAddr),
        (tx, rx): (PipeId, PipeId),
    ) {
        let now = self.now_us;
        let node = &mut self.nodes[n as usize];
        let limits = node.config.limits;
        let conn = Conn {
            id,
            inbound,
            remote,
            local,
            tx,
            rx,
            state: PeerState::new(&limits),
            decoder: FrameDecoder::new(limits.decode),
            rx_buf: VecDeque::new(),
            rx_fin: false,
            closing: None,
            frozen: false,
            held: false,
            verack_sent: false,
            write_scheduled: false,
            stall_check_scheduled: false,
            last_progress_us: now,
            standing: Standing::new(now / 1000, netgroup(remote.ip())),
        };
        node.conns.insert(id, conn);
        // The only place a node's slot counts grow: check them now.
        self.check_slots(n);
    }

    pub(crate) fn on_syn_ack(
        &mut self,
        n: NodeId,
        generation: u32,
        peer: PeerId,
        accepted: Option<(PipeId, PipeId)>,
    ) {
        let dial = if self.current(n, generation) {
            self.nodes[n as usize].dialing.remove(&peer)
        } else {
            None
        };
        let Some(dial) = dial else {
            // Nobody waits for this answer any more (timed out, crashed):
            // the dialler's stack resets the new connection.
            if let Some((a, _)) = accepted {
                self.push_segment(a, Payload::Rst);
            }
            return;
        };
        match accepted {
            None => self.emit(
                n,
                Event::ConnectFailed {
                    peer,
                    address: dial.address,
                    error: "connection refused".into(),
                },
                0,
            ),
            Some((a, b)) => {
                let remote = SocketAddr::V4(dial.address.parse().expect("parsed at connect"));
                let local = SocketAddr::V4(dial.local);
                self.open_conn(n, peer, false, (remote, local), (a, b));
                self.emit(
                    n,
                    Event::Connected {
                        peer,
                        remote,
                        local,
                    },
                    0,
                );
                // Anything that arrived first (a refusal's FIN) is read now.
                self.read(n, peer);
            }
        }
    }

    pub(crate) fn on_connect_timeout(&mut self, n: NodeId, generation: u32, peer: PeerId) {
        if !self.current(n, generation) {
            return;
        }
        if let Some(dial) = self.nodes[n as usize].dialing.remove(&peer) {
            self.emit(
                n,
                Event::ConnectFailed {
                    peer,
                    address: dial.address,
                    error: "connection timed out".into(),
                },
                0,
            );
        }
    }

    /// Appends to a pipe and makes sure its head is due to arrive.
    pub(crate) fn push_segment(&mut self, id: PipeId, payload: Payload) {
        let now = self.now_us;
        let Some(pipe) = self.pipes.get_mut(&id) else {
            return;
        };
        if pipe.closed && !matches!(payload, Payload::Rst) {
            return;
        }
        if matches!(payload, Payload::Rst) {
            if pipe.rst_sent {
                return;
            }
            pipe.rst_sent = true;
        }
        let len = match &payload {
            Payload::Data(b) => b.len(),
            _ => 0,
        };
        let mut at = pipe.transmit(now, len);
        if let Some(last) = pipe.segments.back() {
            at = at.max(last.at_us);
        }
        if !matches!(payload, Payload::Data(_)) {
            pipe.closed = true;
        }
        pipe.segments.push_back(Segment { at_us: at, payload });
        if !pipe.arrive_scheduled && !pipe.stalled {
            pipe.arrive_scheduled = true;
            let head = pipe.segments.front().map_or(at, |s| s.at_us);
            self.schedule(head, Action::Arrive(id));
        }
    }

    pub(crate) fn arrive(&mut self, id: PipeId) {
        let now = self.now_us;
        let Some(pipe) = self.pipes.get_mut(&id) else {
            return;
        };
        pipe.arrive_scheduled = false;
        let (from, to) = (pipe.from.0, pipe.to.0);
        // A partition holds the stream; so does a crashed receiver (TCP keeps
        // retransmitting, and the restarted host answers with a reset).
        if self.blocked(from, to) || !self.nodes[to as usize].up {
            self.pipes.get_mut(&id).expect("exists").stalled = true;
            return;
        }
        let clogged = self.nodes[from as usize]
            .clogged_until_us
            .max(self.nodes[to as usize].clogged_until_us);
        let pipe = self.pipes.get_mut(&id).expect("exists");
        if clogged > now {
            pipe.arrive_scheduled = true;
            self.schedule(clogged, Action::Arrive(id));
            return;
        }
        while let Some(head) = self.pipes.get(&id).and_then(|p| p.segments.front()) {
            if head.at_us > now {
                let at = head.at_us;
                let pipe = self.pipes.get_mut(&id).expect("exists");
                pipe.arrive_scheduled = true;
                self.schedule(at, Action::Arrive(id));
                return;
            }
            let pipe = self.pipes.get_mut(&id).expect("exists");
            let segment = pipe.segments.pop_front().expect("head exists");
            self.deliver(id, segment.payload);
        }
        self.maybe_drop_pipe(id);
    }

    /// A segment reaches the receiving end of pipe `id`.
    fn deliver(&mut self, id: PipeId, payload: Payload) {
        let Some(pipe) = self.pipes.get(&id) else {
            return;
        };
        let ((n, p), reverse) = (pipe.to, pipe.reverse);
        let len = match &payload {
            Payload::Data(b) => b.len(),
            _ => 0,
        };
        let node = &mut self.nodes[n as usize];
        if !node.up {
            return; // a dead host: nothing answers
        }
        let Some(conn) = node.conns.get_mut(&p) else {
            // No such connection (any more): the stack answers with a reset.
            if !matches!(payload, Payload::Rst) {
                self.pipes.get_mut(&id).expect("exists").unacked = 0;
                self.push_segment(reverse, Payload::Rst);
            }
            return;
        };
        if conn.frozen {
            return; // its host is gone without a word: bytes vanish, unacknowledged
        }
        match payload {
            Payload::Data(bytes) => {
                debug_assert!(len > 0);
                conn.rx_buf.push_back(bytes);
                self.read(n, p);
            }
            Payload::Fin => {
                conn.rx_fin = true;
                self.read(n, p);
            }
            Payload::Rst => {
                self.end_conn(
                    n,
                    p,
                    DisconnectReason::Io("connection reset by peer".into()),
                    Goodbye::Silent,
                );
            }
        }
    }

    /// Reads what has arrived for a connection while its budgets allow, through
    /// the core's decoder into the node's inbox.
    pub(crate) fn read(&mut self, n: NodeId, p: PeerId) {
        loop {
            let now = self.now_us;
            let node = &mut self.nodes[n as usize];
            if !node.up {
                return;
            }
            let total_full = node.total_pending >= node.config.total_recv_budget;
            let max_read = node.config.limits.wake.read_bytes.max(1);
            let Some(conn) = node.conns.get_mut(&p) else {
                return;
            };
            if conn.frozen {
                return;
            }
            let closing = !conn.is_open();
            if !closing {
                if conn.held {
                    return; // fPauseSend: its requests wait until it reads ours
                }
                let pending = conn.state.budget.pending();
                if pending > 0
                    && (pending + conn.decoder.buffered() >= conn.state.budget.limit()
                        || total_full)
                {
                    return;
                }
            }
            let Some(mut segment) = conn.rx_buf.pop_front() else {
                if conn.rx_fin {
                    if closing {
                        // A flushing close whose peer is done: finish it.
                        let reason = conn.closing.as_ref().expect("closing").reason.clone();
                        self.end_conn(n, p, reason, Goodbye::Fin);
                    } else {
                        self.end_conn(n, p, DisconnectReason::PeerClosed, Goodbye::Fin);
                    }
                }
                return;
            };
            if segment.len() > max_read {
                let rest = segment.split_off(max_read);
                conn.rx_buf.push_front(rest);
            }
            let read = segment.len();
            let rx = conn.rx;
            if closing {
                // The application let this peer go: what it still sends is discarded.
                self.acknowledge(rx, read);
                continue;
            }
            conn.decoder.feed(&segment);
            let mut frames = Vec::new();
            let mut dropped = Vec::new();
            let mut fatal = None;
            loop {
                if !conn.decoder.handshake_complete() {
                    if conn.state.handshake_complete() {
                        conn.decoder.complete_handshake();
                    } else if conn.verack_sent {
                        conn.decoder.on_our_verack_sent();
                    }
                }
                match conn.decoder.next_frame() {
                    None => break,
                    Some(Decoded::Frame(frame)) => {
                        conn.standing
                            .note_received(&frame.command, &frame.payload, now);
                        frames.push(frame);
                    }
                    Some(Decoded::Rejected {
                        reason,
                        action: RejectAction::Drop,
                    }) => dropped.push((frames.len(), reason)),
                    Some(Decoded::Rejected {
                        reason,
                        action: RejectAction::Disconnect,
                    }) => {
                        fatal = Some(reason);
                        break;
                    }
                }
            }
            conn.state.stats.messages_dropped += dropped.len() as u64;
            conn.state.on_frames_delivered(frames.iter());
            conn.state
                .budget
                .on_delivered(dropped.len() * DROPPED_EVENT_COST);
            self.acknowledge(rx, read);
            // One pass over each payload serves the order check and the trace.
            let prints: Vec<u64> = frames
                .iter()
                .map(|f| fingerprint(f.command.as_str().as_bytes(), &f.payload))
                .collect();
            self.check_order(rx, &frames, &prints, !dropped.is_empty());
            let mut dropped = dropped.into_iter().peekable();
            for (i, (frame, print)) in frames.into_iter().zip(prints).enumerate() {
                while let Some((_, reason)) = dropped.next_if(|(at, _)| *at == i) {
                    self.emit(n, Event::Dropped { peer: p, reason }, DROPPED_EVENT_COST);
                }
                let cost = held_cost(&frame);
                self.emit_with(n, Event::Frame { peer: p, frame }, cost, print);
            }
            for (_, reason) in dropped {
                self.emit(n, Event::Dropped { peer: p, reason }, DROPPED_EVENT_COST);
            }
            self.check_budget(n, p);
            if let Some(reason) = fatal {
                self.end_conn(n, p, DisconnectReason::Protocol(reason), Goodbye::Fin);
                return;
            }
        }
    }

    /// The receiver of pipe `id` read `bytes`: window room returns to the
    /// sender (after the ACK's trip back).
    fn acknowledge(&mut self, id: PipeId, bytes: usize) {
        let Some(pipe) = self.pipes.get_mut(&id) else {
            return;
        };
        pipe.unacked = pipe.unacked.saturating_sub(bytes);
        let (sender, latency) = (pipe.from, pipe.latency_us);
        let now = self.now_us;
        let Some(node) = self.nodes.get(sender.0 as usize) else {
            return;
        };
        let generation = node.generation;
        if let Some(conn) = self.conn_mut(sender.0, sender.1) {
            if !conn.write_scheduled && conn.state.outbox.pending_bytes() > 0 {
                conn.write_scheduled = true;
                self.schedule(
                    now + latency,
                    Action::Write {
                        node: sender.0,
                        generation,
                        peer: sender.1,
                    },
                );
            }
        }
    }

    /// Checks delivered frames (and their fingerprints) against what the
    /// sender queued: in order, once.
    fn check_order(
        &mut self,
        rx: PipeId,
        frames: &[peerwire_core::Frame],
        prints: &[u64],
        dropped: bool,
    ) {
        let Some(pipe) = self.pipes.get_mut(&rx) else {
            return;
        };
        let mut broken = None;
        for (frame, &print) in frames.iter().zip(prints) {
            self.counters.bump("check.frame-order");
            if pipe.corrupted || dropped {
                // Frames may be lost to a flipped bit (and a flipped command
                // byte is not covered by the checksum): skip to the match.
                if let Some(at) = pipe.sent.iter().position(|&p| p == print) {
                    pipe.sent.drain(..=at);
                } else {
                    self.counters.bump("corrupt-frame-delivered");
                }
                continue;
            }
            match pipe.sent.pop_front() {
                Some(expected) if expected == print => {}
                other => {
                    broken = Some(format!(
                        "pipe {rx}: frame {} delivered out of order or twice (expected {other:?})",
                        frame.command.as_str()
                    ));
                    break;
                }
            }
        }
        if let Some(what) = broken {
            self.violate(what);
        }
    }

    /// Makes sure the writer runs soon for a connection with bytes to send.
    pub(crate) fn wake_writer(&mut self, n: NodeId, p: PeerId) {
        let now = self.now_us;
        let generation = self.nodes[n as usize].generation;
        if let Some(conn) = self.conn_mut(n, p) {
            if !conn.write_scheduled {
                conn.write_scheduled = true;
                self.schedule(
                    now,
                    Action::Write {
                        node: n,
                        generation,
                        peer: p,
                    },
                );
            }
        }
    }

    /// Puts as much of the connection's queue on the wire as the window takes.
    pub(crate) fn write(&mut self, n: NodeId, p: PeerId) {
        let now = self.now_us;
        let node = &mut self.nodes[n as usize];
        let max_write = node.config.limits.wake.write_bytes.max(1);
        let stall = World::duration_us(node.config.send_stall_timeout);
        let generation = node.generation;
        let Some(conn) = node.conns.get_mut(&p) else {
            return;
        };
        conn.write_scheduled = false;
        if conn.frozen {
            return;
        }
        let tx = conn.tx;
        if conn.state.outbox.pending_bytes() == 0 {
            conn.last_progress_us = now;
            if let Some(closing) = &conn.closing {
                let reason = closing.reason.clone();
                self.end_conn(n, p, reason, Goodbye::Fin);
            }
            return;
        }
        let Some(pipe) = self.pipes.get_mut(&tx) else {
            return;
        };
        let room = pipe.room().min(max_write);
        if room == 0 || pipe.closed {
            if !conn.stall_check_scheduled {
                conn.stall_check_scheduled = true;
                let at = conn.last_progress_us + stall;
                self.schedule(
                    at,
                    Action::StallCheck {
                        node: n,
                        generation,
                        peer: p,
                    },
                );
            }
            return;
        }
        let mut chunks = VecDeque::new();
        conn.state.outbox.take_batch(room, &mut chunks);
        // What goes on the wire, as slices of the queued chunks: copying them
        // into one buffer first cost a pass over every byte sent.
        let mut data = VecDeque::with_capacity(chunks.len());
        let mut written = 0;
        let mut frames_done = 0;
        for chunk in &chunks {
            let take = (room - written).min(chunk.bytes.len());
            if take > 0 {
                data.push_back(chunk.bytes.slice(..take));
            }
            written += take;
            if take == chunk.bytes.len() {
                frames_done += chunk.messages;
            }
            if written == room {
                break;
            }
        }
        conn.state.outbox.return_unwritten(chunks, written);
        let writable = conn.state.on_written(written, frames_done);
        conn.last_progress_us = now;
        let more = conn.state.outbox.pending_bytes() > 0;
        if writable {
            conn.held = false;
        }
        pipe.unacked += written;
        let room_left = pipe.room();
        self.send_bytes(tx, data, written);
        if writable {
            self.emit(n, Event::Writable { peer: p }, 0);
            self.read(n, p);
        }
        if more && room_left > 0 {
            self.wake_writer(n, p);
        } else if !more {
            // Drained: a flushing close can finish now.
            self.wake_writer_if_closing(n, p);
        }
    }

    fn wake_writer_if_closing(&mut self, n: NodeId, p: PeerId) {
        let closing = self.conn_mut(n, p).is_some_and(|c| c.closing.is_some());
        if closing {
            self.wake_writer(n, p);
        }
    }

    /// Cuts written bytes (`len` of them, in pieces) into segments of random
    /// size; a few lose a bit.
    fn send_bytes(&mut self, tx: PipeId, mut data: VecDeque<Bytes>, mut len: usize) {
        let max = self.faults.max_segment_bytes.max(1) as u64;
        let flip_p = self.faults.bit_flip_p;
        while len > 0 {
            let size = self.rng.get("segments").between(1, max).min(len as u64) as usize;
            len -= size;
            let mut segment = take_front(&mut data, size);
            if self.rng.get("bitflips").chance(flip_p) {
                let rng = self.rng.get("bitflips");
                let at = rng.below(segment.len() as u64) as usize;
                let bit = rng.below(8) as u8;
                let mut copy = BytesMut::from(&segment[..]);
                copy[at] ^= 1 << bit;
                segment = copy.freeze();
                self.counters.bump("fault.bit-flip");
                if let Some(pipe) = self.pipes.get_mut(&tx) {
                    pipe.corrupted = true;
                }
                self.record(format!("bit-flip pipe {tx} at {at}"), &[]);
            }
            self.push_segment(tx, Payload::Data(segment));
        }
    }

    pub(crate) fn stall_check(&mut self, n: NodeId, p: PeerId) {
        let now = self.now_us;
        let node = &mut self.nodes[n as usize];
        let stall = World::duration_us(node.config.send_stall_timeout);
        let generation = node.generation;
        let Some(conn) = node.conns.get_mut(&p) else {
            return;
        };
        conn.stall_check_scheduled = false;
        if conn.state.outbox.pending_bytes() == 0 || conn.frozen || conn.closing.is_some() {
            return;
        }
        let due = conn.last_progress_us + stall;
        if now >= due {
            node.stats.send_stalled += 1;
            let ms = stall / 1000;
            self.end_conn(n, p, DisconnectReason::SendStalled(ms), Goodbye::Rst);
        } else {
            conn.stall_check_scheduled = true;
            self.schedule(
                due,
                Action::StallCheck {
                    node: n,
                    generation,
                    peer: p,
                },
            );
        }
    }

    pub(crate) fn begin_flush_close(
        &mut self,
        n: NodeId,
        p: PeerId,
        reason: DisconnectReason,
        now: u64,
        timeout: Duration,
    ) {
        let generation = self.nodes[n as usize].generation;
        let deadline = now + World::duration_us(timeout);
        let Some(conn) = self.conn_mut(n, p) else {
            return;
        };
        conn.state.outbox.close();
        conn.closing = Some(Closing {
            reason,
            deadline_us: deadline,
        });
        self.schedule(
            deadline,
            Action::FlushDeadline {
                node: n,
                generation,
                peer: p,
            },
        );
        self.wake_writer(n, p);
    }

    pub(crate) fn flush_deadline(&mut self, n: NodeId, p: PeerId) {
        let now = self.now_us;
        let reason = match self.conn_mut(n, p) {
            Some(conn) => match &conn.closing {
                Some(closing) if closing.deadline_us <= now => closing.reason.clone(),
                _ => return,
            },
            None => return,
        };
        self.end_conn(n, p, reason, Goodbye::Rst);
    }

    /// Removes a connection, tells the application, and tells the peer.
    pub(crate) fn end_conn(
        &mut self,
        n: NodeId,
        p: PeerId,
        reason: DisconnectReason,
        bye: Goodbye,
    ) {
        let Some(mut conn) = self.nodes[n as usize].conns.remove(&p) else {
            return;
        };
        conn.state.outbox.close();
        let unflushed_bytes = conn.state.outbox.pending_bytes() as u64;
        self.emit(
            n,
            Event::Disconnected {
                peer: p,
                reason,
                unflushed_bytes,
            },
            0,
        );
        if !conn.frozen {
            match bye {
                Goodbye::Fin => self.push_segment(conn.tx, Payload::Fin),
                Goodbye::Rst => self.push_segment(conn.tx, Payload::Rst),
                Goodbye::Silent => {}
            }
        }
        self.maybe_drop_pipe(conn.tx);
        self.maybe_drop_pipe(conn.rx);
        self.maybe_closed(n);
    }

    /// Forgets a pipe once nothing is in it and neither end is there.
    pub(crate) fn maybe_drop_pipe(&mut self, id: PipeId) {
        let Some(pipe) = self.pipes.get(&id) else {
            return;
        };
        if !pipe.segments.is_empty() || pipe.arrive_scheduled || pipe.stalled {
            return;
        }
        let gone = |(n, p): (NodeId, PeerId)| {
            self.nodes
                .get(n as usize)
                .is_none_or(|node| !node.conns.get(&p).is_some_and(|c| c.tx == id || c.rx == id))
        };
        if gone(pipe.from) && gone(pipe.to) {
            self.pipes.remove(&id);
        }
    }
}

/// The first `size` bytes of `pieces` (which hold at least that many): a
/// slice of the head piece when it holds them all, else a copy of the bytes
/// that straddle pieces.
fn take_front(pieces: &mut VecDeque<Bytes>, size: usize) -> Bytes {
    let head = pieces.front_mut().expect("enough bytes queued");
    if head.len() > size {
        return head.split_to(size);
    }
    if head.len() == size {
        return pieces.pop_front().expect("head exists");
    }
    let mut out = BytesMut::with_capacity(size);
    while out.len() < size {
        let head = pieces.front_mut().expect("enough bytes queued");
        let n = (size - out.len()).min(head.len());
        out.extend_from_slice(&head[..n]);
        if n == head.len() {
            pieces.pop_front();
        } else {
            head.advance(n);
        }
    }
    out.freeze()
}

/// The most a peer's budget may be overrun by one read: every frame completed
/// by it is charged at once (a read of empty frames costs their overhead).
pub(crate) fn read_overshoot(max_read: usize, max_payload: usize) -> usize {
    let frames_per_read = max_read / HEADER_SIZE + 1;
    max_read
        + frames_per_read * FRAME_HOLD_OVERHEAD
        + max_payload
        + HEADER_SIZE
        + DROPPED_EVENT_COST
}
