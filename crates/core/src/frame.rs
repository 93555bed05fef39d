//! Frame layout and encoding.
//!
//! ```text
//! magic[4] | command[12] | payload length u32 LE | checksum[4] | payload
//! ```

use crate::checksum::checksum;
use crate::command::{Command, COMMAND_SIZE};
use bytes::{BufMut, Bytes, BytesMut};

/// Size of the fixed frame header.
pub const HEADER_SIZE: usize = 24;

/// The four network bytes that open every frame, as they appear on the wire.
pub type Magic = [u8; 4];

/// A decoded frame header, not yet checked against any limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: Magic,
    pub command: [u8; COMMAND_SIZE],
    pub length: u32,
    pub checksum: [u8; 4],
}

impl Header {
    /// Reads a header from exactly [`HEADER_SIZE`] bytes.
    pub fn parse(bytes: &[u8; HEADER_SIZE]) -> Self {
        let mut magic = [0u8; 4];
        let mut command = [0u8; COMMAND_SIZE];
        let mut length = [0u8; 4];
        let mut sum = [0u8; 4];
        magic.copy_from_slice(&bytes[0..4]);
        command.copy_from_slice(&bytes[4..16]);
        length.copy_from_slice(&bytes[16..20]);
        sum.copy_from_slice(&bytes[20..24]);
        Self {
            magic,
            command,
            length: u32::from_le_bytes(length),
            checksum: sum,
        }
    }
}

/// A received frame whose checksum and command have been verified.
///
/// `payload` shares the connection's read buffer: splitting it off copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: Command,
    pub payload: Bytes,
}

impl Frame {
    /// Bytes this frame occupied on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_SIZE + self.payload.len()
    }
}

/// Frames `payload` under `command`: one checksum, one allocation.
///
/// The result is reference-counted, so a broadcast hands the same bytes to every
/// target queue without copying or re-hashing.
pub fn encode_frame(magic: Magic, command: &Command, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_SIZE + payload.len());
    put_frame(&mut out, magic, command, payload);
    out.freeze()
}

/// Appends one encoded frame to `out`.
pub fn put_frame(out: &mut BytesMut, magic: Magic, command: &Command, payload: &[u8]) {
    out.put_slice(&magic);
    out.put_slice(command.wire_bytes());
    out.put_u32_le(payload.len() as u32);
    out.put_slice(&checksum(payload));
    out.put_slice(payload);
}

/// Frames many payloads with one command into one contiguous buffer: one
/// allocation and one queue entry for the lot, one checksum per payload.
pub fn encode_frames<'a>(
    magic: Magic,
    command: &Command,
    payloads: impl Iterator<Item = &'a [u8]> + Clone,
) -> Bytes {
    let total: usize = payloads.clone().map(|p| HEADER_SIZE + p.len()).sum();
    let mut out = BytesMut::with_capacity(total);
    for payload in payloads {
        put_frame(&mut out, magic, command, payload);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAINNET: Magic = [0xf9, 0xbe, 0xb4, 0xd9];

    #[test]
    fn verack_matches_the_wire() {
        // A mainnet verack as Bitcoin Core sends it.
        let frame = encode_frame(MAINNET, &Command::new("verack").unwrap(), &[]);
        let expected: [u8; 24] = [
            0xf9, 0xbe, 0xb4, 0xd9, b'v', b'e', b'r', b'a', b'c', b'k', 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0x5d, 0xf6, 0xe0, 0xe2,
        ];
        assert_eq!(&frame[..], &expected[..]);
    }

    #[test]
    fn a_run_of_frames_equals_frames_one_by_one() {
        let ping = Command::new("ping").unwrap();
        let payloads: [&[u8]; 3] = [&[1], &[], &[2, 3, 4]];
        let run = encode_frames(MAINNET, &ping, payloads.iter().copied());
        let one_by_one: Vec<u8> = payloads
            .iter()
            .flat_map(|p| encode_frame(MAINNET, &ping, p).to_vec())
            .collect();
        assert_eq!(&run[..], &one_by_one[..]);
    }

    #[test]
    fn header_parse_reads_every_field() {
        let frame = encode_frame(
            MAINNET,
            &Command::new("ping").unwrap(),
            &[1, 2, 3, 4, 5, 6, 7, 8],
        );
        let header = Header::parse(frame[..HEADER_SIZE].try_into().unwrap());
        assert_eq!(header.magic, MAINNET);
        assert_eq!(&header.command[..5], b"ping\0");
        assert_eq!(header.length, 8);
        assert_eq!(header.checksum, checksum(&[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(&frame[HEADER_SIZE..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
