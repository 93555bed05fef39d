//! Why input from a peer was refused, and what to do about it.

use crate::frame::Magic;
use std::fmt;

/// One refused piece of input, with the facts needed to log or penalise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The header did not start with this network's magic.
    BadMagic { got: Magic },
    /// The header claims a payload larger than the limit in force.
    Oversized { length: u32, limit: u32 },
    /// The payload does not hash to the header's checksum.
    BadChecksum { command: String },
    /// The command field is not printable ASCII followed by NUL padding.
    BadCommand { raw: [u8; 12] },
}

/// The kind of a [`Reject`], without its details: what policies are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    BadMagic,
    Oversized,
    BadChecksum,
    BadCommand,
}

impl RejectKind {
    pub const ALL: [RejectKind; 4] = [
        RejectKind::BadMagic,
        RejectKind::Oversized,
        RejectKind::BadChecksum,
        RejectKind::BadCommand,
    ];

    /// Stable kebab-case name used across the N-API boundary and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::BadMagic => "bad-magic",
            RejectKind::Oversized => "oversized",
            RejectKind::BadChecksum => "bad-checksum",
            RejectKind::BadCommand => "bad-command",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl Reject {
    pub fn kind(&self) -> RejectKind {
        match self {
            Reject::BadMagic { .. } => RejectKind::BadMagic,
            Reject::Oversized { .. } => RejectKind::Oversized,
            Reject::BadChecksum { .. } => RejectKind::BadChecksum,
            Reject::BadCommand { .. } => RejectKind::BadCommand,
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::BadMagic { got } => write!(
                f,
                "bad magic {:02x}{:02x}{:02x}{:02x}",
                got[0], got[1], got[2], got[3]
            ),
            Reject::Oversized { length, limit } => {
                write!(f, "payload length {length} exceeds limit {limit}")
            }
            Reject::BadChecksum { command } => write!(f, "bad checksum on '{command}'"),
            Reject::BadCommand { raw } => write!(f, "bad command field {raw:02x?}"),
        }
    }
}

/// What happens to a peer after a reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Close the connection.
    Disconnect,
    /// Skip the offending message (its payload is discarded as it arrives, never
    /// buffered) and keep the connection.
    Drop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Disconnect => "disconnect",
            Action::Drop => "drop",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "disconnect" => Some(Action::Disconnect),
            "drop" => Some(Action::Drop),
            _ => None,
        }
    }
}

/// The action for each kind of reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectPolicy {
    pub bad_magic: Action,
    pub oversized: Action,
    pub bad_checksum: Action,
    pub bad_command: Action,
}

impl Default for RejectPolicy {
    /// Bitcoin Core's v1 transport: a wrong magic or an over-long length ends the
    /// connection; a wrong checksum or an invalid command only loses that message.
    fn default() -> Self {
        Self {
            bad_magic: Action::Disconnect,
            oversized: Action::Disconnect,
            bad_checksum: Action::Drop,
            bad_command: Action::Drop,
        }
    }
}

impl RejectPolicy {
    pub fn action(&self, kind: RejectKind) -> Action {
        match kind {
            RejectKind::BadMagic => self.bad_magic,
            RejectKind::Oversized => self.oversized,
            RejectKind::BadChecksum => self.bad_checksum,
            RejectKind::BadCommand => self.bad_command,
        }
    }

    pub fn set(&mut self, kind: RejectKind, action: Action) {
        match kind {
            RejectKind::BadMagic => self.bad_magic = action,
            RejectKind::Oversized => self.oversized = action,
            RejectKind::BadChecksum => self.bad_checksum = action,
            RejectKind::BadCommand => self.bad_command = action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in RejectKind::ALL {
            assert_eq!(RejectKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RejectKind::parse("nope"), None);
        assert_eq!(Action::parse("drop"), Some(Action::Drop));
    }

    #[test]
    fn default_policy_follows_core() {
        let p = RejectPolicy::default();
        assert_eq!(p.action(RejectKind::BadMagic), Action::Disconnect);
        assert_eq!(p.action(RejectKind::Oversized), Action::Disconnect);
        assert_eq!(p.action(RejectKind::BadChecksum), Action::Drop);
        assert_eq!(p.action(RejectKind::BadCommand), Action::Drop);
    }
}
