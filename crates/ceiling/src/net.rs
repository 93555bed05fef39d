//! One connection: a socket and peerwire-core's decoder, read in place.

use crate::{Result, MAGIC};
use peerwire_core::{Command, DecodeLimits, Decoded, Frame, FrameDecoder};
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// Bytes read per call, as a driver would bound one read.
const READ_BYTES: usize = 256 * 1024;

extern "C" {
    // libc's read(2), linked by std on every unix: it lets the socket fill the
    // decoder's spare capacity directly (std's Read wants initialised memory,
    // which would cost a memset per read that no real driver pays).
    fn read(fd: i32, buf: *mut u8, count: usize) -> isize;
}

pub struct Conn {
    pub stream: TcpStream,
    decoder: FrameDecoder,
    read_bytes: usize,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Result<Conn> {
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let mut decoder = FrameDecoder::new(DecodeLimits::new(MAGIC));
        // The bench's peers have no handshake; lift the pre-handshake limit.
        decoder.complete_handshake();
        Ok(Conn {
            stream,
            decoder,
            read_bytes: READ_BYTES,
        })
    }

    /// Reads at most `bytes` per call (idle peers polled often want little).
    pub fn with_read_bytes(mut self, bytes: usize) -> Conn {
        self.read_bytes = bytes;
        self
    }

    pub fn connect(port: u16) -> Result<Conn> {
        Conn::new(TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?)
    }

    /// The next verified frame, blocking; `None` at end of stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.decoded()? {
                return Ok(Some(frame));
            }
            match self.read_some() {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// For non-blocking sockets: the next frame if one can be had without
    /// waiting, `Ok(None)` if not; end of stream is an error.
    pub fn poll_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.decoded()? {
                return Ok(Some(frame));
            }
            match self.read_some() {
                Ok(0) => return Err("the peer closed the connection".into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.decoder.release_idle_buffer();
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn decoded(&mut self) -> Result<Option<Frame>> {
        match self.decoder.next_frame() {
            Some(Decoded::Frame(frame)) => Ok(Some(frame)),
            Some(Decoded::Rejected { reason, .. }) => Err(format!("frame rejected: {reason:?}")),
            None => Ok(None),
        }
    }

    fn read_some(&mut self) -> io::Result<usize> {
        let fd = self.stream.as_raw_fd();
        let buf = self.decoder.read_buffer(self.read_bytes);
        let spare = buf.spare_capacity_mut();
        let want = spare.len().min(self.read_bytes);
        // SAFETY: read(2) writes at most `want` bytes into spare capacity the
        // buffer owns; set_len then covers exactly the bytes it wrote.
        let n = unsafe { read(fd, spare.as_mut_ptr().cast(), want) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        unsafe { buf.set_len(buf.len() + n as usize) };
        Ok(n as usize)
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }
}

pub fn command(name: &str) -> Result<Command> {
    Command::new(name).map_err(|e| format!("command {name:?}: {e:?}"))
}

/// Resident memory of this process, from /proc (Linux).
pub fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").map_err(|e| format!("statm: {e}"))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or("unreadable /proc/self/statm")?;
    Ok(pages * 4096)
}
