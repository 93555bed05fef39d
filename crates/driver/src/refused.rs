//! Hosts whose inbound sockets are closed at accept, before a byte is read or
//! the application hears of them: the application's bans, mirrored here as
//! Bitcoin Core checks its ban list in the accept loop. A banned host that
//! reconnects in a loop then costs an accept and a close on an I/O thread,
//! not an event, a peer and a disconnect on the application's.
//!
//! The application's list is the authority: it says when a ban starts, ends
//! early or is dropped to make room; expired entries are dropped here on
//! lookup and, so that hosts never looked up again do not pile up, in a sweep
//! whenever the map has doubled since the last one.

use std::collections::HashMap;
use std::net::IpAddr;

/// The map's size below which no sweep is attempted.
const FIRST_SWEEP: usize = 1024;

#[derive(Debug)]
pub(crate) struct RefusedHosts {
    /// Host → when its refusal ends (the driver's clock, ms).
    until: HashMap<IpAddr, u64>,
    sweep_at: usize,
}

impl Default for RefusedHosts {
    fn default() -> Self {
        Self {
            until: HashMap::new(),
            sweep_at: FIRST_SWEEP,
        }
    }
}

/// One spelling per host: an IPv4-mapped IPv6 address is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl RefusedHosts {
    /// Refuses `ip` until `until_ms` (a renewed ban replaces the old end).
    pub fn refuse(&mut self, ip: IpAddr, until_ms: u64, now_ms: u64) {
        if until_ms <= now_ms {
            self.until.remove(&canonical(ip));
            return;
        }
        self.until.insert(canonical(ip), until_ms);
        if self.until.len() >= self.sweep_at {
            self.until.retain(|_, &mut end| end > now_ms);
            self.sweep_at = (self.until.len() * 2).max(FIRST_SWEEP);
        }
    }

    /// Accepts `ip` again; whether it was refused.
    pub fn allow(&mut self, ip: IpAddr) -> bool {
        self.until.remove(&canonical(ip)).is_some()
    }

    /// Whether `ip` is refused now (an expired entry is dropped).
    pub fn is_refused(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        if self.until.is_empty() {
            return false;
        }
        let ip = canonical(ip);
        match self.until.get(&ip) {
            Some(&end) if end > now_ms => true,
            Some(_) => {
                self.until.remove(&ip);
                false
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn refuses_until_the_end_and_by_either_spelling() {
        let mut r = RefusedHosts::default();
        r.refuse(ip("10.1.2.3"), 1_000, 0);
        assert!(r.is_refused(ip("10.1.2.3"), 999));
        assert!(r.is_refused(ip("::ffff:10.1.2.3"), 999));
        assert!(!r.is_refused(ip("10.1.2.4"), 999));
        // Expired: refused no more, and forgotten.
        assert!(!r.is_refused(ip("10.1.2.3"), 1_000));
        assert_eq!(r.len(), 0);
        r.refuse(ip("::ffff:10.9.9.9"), 500, 0);
        assert!(r.is_refused(ip("10.9.9.9"), 1));
        assert!(r.allow(ip("10.9.9.9")));
        assert!(!r.allow(ip("10.9.9.9")));
        assert!(!r.is_refused(ip("10.9.9.9"), 1));
    }

    #[test]
    fn a_renewed_ban_replaces_the_end_and_an_ended_one_lifts_it() {
        let mut r = RefusedHosts::default();
        r.refuse(ip("2001:db8::1"), 1_000, 0);
        r.refuse(ip("2001:db8::1"), 5_000, 10);
        assert!(r.is_refused(ip("2001:db8::1"), 4_000));
        r.refuse(ip("2001:db8::1"), 100, 4_000);
        assert!(!r.is_refused(ip("2001:db8::1"), 4_001));
    }

    #[test]
    fn expired_hosts_never_looked_up_again_do_not_pile_up() {
        let mut r = RefusedHosts::default();
        let mut now = 0;
        for i in 0..100_000u32 {
            now += 1;
            // Each ban lasts 10 ms: at most ~10 are live at once.
            r.refuse(IpAddr::from(i.to_be_bytes()), now + 10, now);
            assert!(r.len() < 2 * FIRST_SWEEP, "{} entries", r.len());
        }
    }
}
