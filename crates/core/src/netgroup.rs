//! Network groups: which addresses one operator can cheaply hold many of.
//!
//! As Bitcoin Core groups them for eviction and address bucketing: an IPv4
//! /16, an IPv6 /32; IPv4-mapped and 6to4/Teredo addresses are grouped by the
//! IPv4 address they carry; `::1` and unspecified addresses form one group.
//! Unlike Core, 127.0.0.0/8 is grouped by /16 like any IPv4 range: only local
//! peers ever come from there, and tests use 127.A.B.x sources to stand for
//! distinct operators.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A netgroup as a small integer: equal for addresses in the same group.
pub type NetGroup = u64;

const KIND_IPV4: u64 = 1 << 40;
const KIND_IPV6: u64 = 2 << 40;
const KIND_LOCAL: u64 = 3 << 40;

/// The group `ip` belongs to.
pub fn netgroup(ip: IpAddr) -> NetGroup {
    match ip {
        IpAddr::V4(v4) => ipv4_group(v4),
        IpAddr::V6(v6) => match embedded_ipv4(&v6) {
            Some(v4) => ipv4_group(v4),
            None if v6.is_loopback() || v6.is_unspecified() => KIND_LOCAL,
            None => {
                let s = v6.segments();
                KIND_IPV6 | (u64::from(s[0]) << 16) | u64::from(s[1])
            }
        },
    }
}

fn ipv4_group(v4: Ipv4Addr) -> NetGroup {
    if v4.is_unspecified() {
        return KIND_LOCAL;
    }
    let o = v4.octets();
    KIND_IPV4 | (u64::from(o[0]) << 8) | u64::from(o[1])
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16)
/// or Teredo (2001:0::/32) address.
fn embedded_ipv4(v6: &Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    match (s[0], s[1]) {
        (0x2002, _) => Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )),
        // Teredo stores the client's address inverted in the last 32 bits.
        (0x2001, 0) => {
            let v = !((u32::from(s[6]) << 16) | u32::from(s[7]));
            Some(Ipv4Addr::from(v))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> NetGroup {
        netgroup(s.parse().unwrap())
    }

    #[test]
    fn ipv4_groups_by_slash_16() {
        assert_eq!(g("1.2.3.4"), g("1.2.200.9"));
        assert_ne!(g("1.2.3.4"), g("1.3.3.4"));
    }

    #[test]
    fn ipv6_groups_by_slash_32() {
        assert_eq!(g("2a01:4f8:1:2::1"), g("2a01:4f8:ffff::9"));
        assert_ne!(g("2a01:4f8::1"), g("2a01:4f9::1"));
    }

    #[test]
    fn embedded_ipv4_joins_its_ipv4_group() {
        assert_eq!(g("::ffff:1.2.3.4"), g("1.2.9.9"));
        assert_eq!(g("2002:0102:0304::1"), g("1.2.0.1"));
        assert_eq!(g("2001:0:4136:e378:8000:63bf:fefd:fcfb"), g("1.2.3.4"));
        assert_ne!(g("1.2.3.4"), g("2a01:0102::1"), "kinds never collide");
    }

    #[test]
    fn loopback_ranges_stand_for_distinct_operators() {
        assert_eq!(g("127.0.0.1"), g("127.0.9.9"));
        assert_ne!(g("127.0.0.1"), g("127.1.0.1"));
        assert_eq!(g("::1"), g("::"));
    }
}
