//! The 12-byte command field of a frame header.

use std::fmt;

/// Width of the command field on the wire.
pub const COMMAND_SIZE: usize = 12;

/// A validated command name: printable ASCII (0x20..=0x7e), NUL-padded to 12 bytes,
/// with nothing but NULs after the first NUL (Bitcoin Core's `IsMessageTypeValid`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    raw: [u8; COMMAND_SIZE],
    len: u8,
}

/// Why a command name or field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Longer than the 12 bytes the header holds.
    TooLong,
    /// A byte outside printable ASCII, or a non-NUL byte after the padding began.
    Invalid,
}

impl Command {
    /// Validates a name given by the local user (no NULs allowed inside it).
    pub fn new(name: &str) -> Result<Self, CommandError> {
        let bytes = name.as_bytes();
        if bytes.len() > COMMAND_SIZE {
            return Err(CommandError::TooLong);
        }
        if !bytes.iter().all(|b| is_printable(*b)) {
            return Err(CommandError::Invalid);
        }
        let mut raw = [0u8; COMMAND_SIZE];
        raw[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            raw,
            len: bytes.len() as u8,
        })
    }

    /// Validates the raw field of a received header.
    pub fn from_wire(raw: [u8; COMMAND_SIZE]) -> Result<Self, CommandError> {
        let len = raw.iter().position(|b| *b == 0).unwrap_or(COMMAND_SIZE);
        let name_ok = raw[..len].iter().all(|b| is_printable(*b));
        let padding_ok = raw[len..].iter().all(|b| *b == 0);
        if name_ok && padding_ok {
            Ok(Self {
                raw,
                len: len as u8,
            })
        } else {
            Err(CommandError::Invalid)
        }
    }

    /// The name without padding; always ASCII.
    pub fn as_str(&self) -> &str {
        // Validated as printable ASCII on construction, so this cannot fail.
        std::str::from_utf8(&self.raw[..self.len as usize]).unwrap_or("")
    }

    /// The name without padding, as bytes: for hot paths that compare names
    /// (no UTF-8 check).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.len as usize]
    }

    /// The 12 bytes as they go on the wire.
    pub fn wire_bytes(&self) -> &[u8; COMMAND_SIZE] {
        &self.raw
    }
}

fn is_printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({:?})", self.as_str())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::TooLong => f.write_str("command is longer than 12 bytes"),
            CommandError::Invalid => {
                f.write_str("command must be printable ASCII followed only by NUL padding")
            }
        }
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(s: &[u8]) -> [u8; 12] {
        let mut raw = [0u8; 12];
        raw[..s.len()].copy_from_slice(s);
        raw
    }

    #[test]
    fn pads_and_round_trips() {
        let c = Command::new("verack").unwrap();
        assert_eq!(c.as_str(), "verack");
        assert_eq!(c.wire_bytes(), &field(b"verack"));
        assert_eq!(Command::from_wire(*c.wire_bytes()).unwrap(), c);
    }

    #[test]
    fn twelve_bytes_fill_the_field() {
        let c = Command::new("abcdefghijkl").unwrap();
        assert_eq!(c.as_str().len(), 12);
        assert_eq!(Command::new("abcdefghijklm"), Err(CommandError::TooLong));
    }

    #[test]
    fn rejects_bytes_after_padding() {
        assert_eq!(
            Command::from_wire(field(b"ping\0x")),
            Err(CommandError::Invalid)
        );
    }

    #[test]
    fn rejects_non_printable() {
        assert_eq!(
            Command::from_wire(field(b"pi\x01ng")),
            Err(CommandError::Invalid)
        );
        assert_eq!(
            Command::from_wire(field(b"p\xffng")),
            Err(CommandError::Invalid)
        );
        assert_eq!(Command::new("tab\there"), Err(CommandError::Invalid));
    }

    #[test]
    fn all_nul_is_the_empty_command_as_in_core() {
        assert_eq!(Command::from_wire([0; 12]).unwrap().as_str(), "");
    }
}
