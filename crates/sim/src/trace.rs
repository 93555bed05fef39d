//! The run's fingerprint: every event, call and fault, hashed in order. Two
//! runs with the same seed and the same calls must end with the same hash.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct Trace {
    hasher: Sha256,
    /// Text lines, kept only when asked for (they cost memory).
    lines: Option<Vec<String>>,
    records: u64,
}

impl Trace {
    /// Adds one record: a line of text and, optionally, bytes it refers to
    /// hashed after it. A payload goes in as its fingerprint (pipe.rs): the
    /// payload is hashed once per side already, and a SHA-256 pass over every
    /// payload twice more was the simulator's largest native cost.
    pub fn record(&mut self, line: &str, bytes: &[u8]) {
        self.records += 1;
        self.hasher.update((line.len() as u32).to_le_bytes());
        self.hasher.update(line.as_bytes());
        self.hasher.update((bytes.len() as u32).to_le_bytes());
        self.hasher.update(bytes);
        if let Some(lines) = &mut self.lines {
            lines.push(line.to_owned());
        }
    }

    pub fn set_log(&mut self, on: bool) {
        self.lines = on.then(Vec::new);
    }

    pub fn take_lines(&mut self) -> Vec<String> {
        match &mut self.lines {
            Some(lines) => std::mem::take(lines),
            None => Vec::new(),
        }
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// The hash of everything so far, in hex.
    pub fn hash_hex(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Named counters: what was injected, what happened, what was checked. A run
/// that injected or checked nothing shows zeros here.
#[derive(Default, Debug, Clone)]
pub struct Counters(BTreeMap<String, u64>);

impl Counters {
    pub fn add(&mut self, name: &str, n: u64) {
        match self.0.get_mut(name) {
            Some(v) => *v += n,
            None => {
                self.0.insert(name.to_owned(), n);
            }
        }
    }

    pub fn bump(&mut self, name: &str) {
        self.add(name, 1);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_change_the_hash() {
        let mut a = Trace::default();
        a.record("x", b"1");
        a.record("y", b"");
        let mut b = Trace::default();
        b.record("y", b"");
        b.record("x", b"1");
        assert_ne!(a.hash_hex(), b.hash_hex());
        let mut c = Trace::default();
        c.record("x", b"1");
        c.record("y", b"");
        assert_eq!(a.hash_hex(), c.hash_hex());
        // A boundary moved between line and bytes is a different record.
        let mut d = Trace::default();
        d.record("x1", b"");
        d.record("y", b"");
        assert_ne!(a.hash_hex(), d.hash_hex());
    }
}
