//! SOCKS5 client messages (RFC 1928) with username/password authentication
//! (RFC 1929), sans-IO: bytes to send, and checks of the bytes received.
//!
//! A dial through a proxy is up to three exchanges, one message each way:
//!
//! 1. greeting: the authentication methods we offer (none; and
//!    username/password when we have credentials) → the one the proxy picks;
//! 2. when it picked username/password: our credentials → its verdict;
//! 3. CONNECT to the target → a status and the address the proxy bound.
//!
//! A target named by a host name (a `.onion` or `.b32.i2p` name, or a DNS
//! name) travels as a name: the proxy resolves it, so nothing is looked up
//! locally (an onion name means nothing outside Tor, and a DNS query would
//! tell the local network whom we dial). IP literals travel as addresses.
//!
//! Every reply's length is known from its first bytes and is at most
//! [`MAX_REPLY_LEN`], so a driver reads into a fixed buffer exactly what the
//! reply needs, never more: the bytes after the CONNECT reply are the
//! peer's. Nothing here allocates from a length the proxy claims.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The protocol version byte that starts every SOCKS5 message.
pub const VERSION: u8 = 0x05;
/// The version of the username/password sub-negotiation (RFC 1929).
const AUTH_VERSION: u8 = 0x01;
const METHOD_NONE: u8 = 0x00;
const METHOD_USER_PASS: u8 = 0x02;
const METHOD_NONE_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_NAME: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// Bytes of the proxy's answer to the greeting.
pub const METHOD_REPLY_LEN: usize = 2;
/// Bytes of the proxy's answer to our credentials.
pub const AUTH_REPLY_LEN: usize = 2;
/// The longest name a request or reply can carry (its length is one byte).
pub const MAX_NAME_LEN: usize = 255;
/// The shortest CONNECT reply a parse can decide on: version, status,
/// reserved, address type, and the first address byte (a name's length).
pub const REPLY_PREFIX_LEN: usize = 5;
/// The longest CONNECT reply: four header bytes, a length-prefixed name of
/// 255 bytes, and the port.
pub const MAX_REPLY_LEN: usize = 4 + 1 + MAX_NAME_LEN + 2;

/// The host part of a target or of a bound address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A name the proxy resolves (1 to 255 bytes of printable ASCII when we
    /// send it; whatever the proxy sent, lossily decoded, when it is a reply's).
    Name(String),
}

/// A host and a port: what CONNECT asks for, and what the proxy reports it bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: Host,
    pub port: u16,
}

impl Address {
    /// Parses "host:port", with an IPv6 host in brackets ("[2001:db8::1]:8333").
    /// A host that is an IP literal becomes [`Host::Ip`], anything else a name.
    pub fn parse(text: &str) -> Result<Self, Socks5Error> {
        let bad = |why: &str| Socks5Error::BadTarget(format!("\"{text}\": {why}"));
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("no closing bracket"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("no port after the bracketed host"))?;
            let ip: Ipv6Addr = host
                .parse()
                .map_err(|_| bad("the bracketed host is not an IPv6 address"))?;
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
            if host.contains(':') {
                return Err(bad("an IPv6 host must be in brackets"));
            }
            match host.parse::<Ipv4Addr>() {
                Ok(ip) => (Host::Ip(IpAddr::V4(ip)), port),
                Err(_) => {
                    check_name(host)?;
                    (Host::Name(host.to_owned()), port)
                }
            }
        };
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
        Ok(Self { host, port })
    }

    /// The name, when the host is one (not an IP literal).
    pub fn name(&self) -> Option<&str> {
        match &self.host {
            Host::Name(name) => Some(name),
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// A name we may send: 1 to 255 bytes of printable ASCII (no spaces or
/// control characters, which no host name has and a proxy may mishandle).
fn check_name(name: &str) -> Result<(), Socks5Error> {
    if name.is_empty() {
        return Err(Socks5Error::BadTarget("the host name is empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Socks5Error::NameTooLong(name.len()));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Socks5Error::BadTarget(format!(
            "the host name \"{}\" has characters other than printable ASCII",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// A username and password for RFC 1929 authentication. Tor gives every
/// distinct pair its own circuit (stream isolation), which is what random
/// credentials per connection are for.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Each must be 1 to 255 bytes (their lengths travel as one byte).
    pub fn new(username: String, password: String) -> Result<Self, Socks5Error> {
        let ok = |s: &str| (1..=MAX_NAME_LEN).contains(&s.len());
        if !ok(&username) || !ok(&password) {
            return Err(Socks5Error::BadCredentials);
        }
        Ok(Self { username, password })
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The authentication the proxy picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    NoAuth,
    UserPass,
}

/// The greeting: the methods we offer. With credentials we offer both "none"
/// and username/password (a proxy that does not authenticate may pick none).
pub fn greeting(with_credentials: bool) -> Vec<u8> {
    if with_credentials {
        vec![VERSION, 2, METHOD_NONE, METHOD_USER_PASS]
    } else {
        vec![VERSION, 1, METHOD_NONE]
    }
}

/// The proxy's pick from the greeting; an error if it picked nothing we offered.
pub fn parse_method_choice(
    reply: &[u8; METHOD_REPLY_LEN],
    offered_credentials: bool,
) -> Result<Method, Socks5Error> {
    if reply[0] != VERSION {
        return Err(Socks5Error::BadVersion(reply[0]));
    }
    match reply[1] {
        METHOD_NONE => Ok(Method::NoAuth),
        METHOD_USER_PASS if offered_credentials => Ok(Method::UserPass),
        METHOD_NONE_ACCEPTABLE => Err(Socks5Error::NoAcceptableMethod),
        other => Err(Socks5Error::UnexpectedMethod(other)),
    }
}

/// The username/password request (RFC 1929).
pub fn auth_request(credentials: &Credentials) -> Vec<u8> {
    let (user, pass) = (
        credentials.username.as_bytes(),
        credentials.password.as_bytes(),
    );
    let mut out = Vec::with_capacity(3 + user.len() + pass.len());
    out.push(AUTH_VERSION);
    // Lengths are checked to be 1..=255 when the credentials are made.
    out.push(user.len() as u8);
    out.extend_from_slice(user);
    out.push(pass.len() as u8);
    out.extend_from_slice(pass);
    out
}

/// The verdict on our credentials: status 0 is success, anything else a refusal.
pub fn parse_auth_reply(reply: &[u8; AUTH_REPLY_LEN]) -> Result<(), Socks5Error> {
    if reply[0] != AUTH_VERSION {
        return Err(Socks5Error::BadAuthVersion(reply[0]));
    }
    if reply[1] != 0 {
        return Err(Socks5Error::AuthRejected(reply[1]));
    }
    Ok(())
}

/// The CONNECT request for `target`. Fails only for a name we may not send
/// (an [`Address`] from [`Address::parse`] always passes).
pub fn connect_request(target: &Address) -> Result<Vec<u8>, Socks5Error> {
    let mut out = Vec::with_capacity(MAX_REPLY_LEN);
    out.extend_from_slice(&[VERSION, CMD_CONNECT, 0x00]);
    match &target.host {
        Host::Ip(IpAddr::V4(ip)) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&ip.octets());
        }
        Host::Ip(IpAddr::V6(ip)) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&ip.octets());
        }
        Host::Name(name) => {
            check_name(name)?;
            out.push(ATYP_NAME);
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&target.port.to_be_bytes());
    Ok(out)
}

/// Where parsing a CONNECT reply got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectReply {
    /// The reply is `needed` bytes long in all (never more than
    /// [`MAX_REPLY_LEN`]); fewer have been given. Read up to that and parse again.
    Incomplete { needed: usize },
    /// The proxy is connected to the target; the reply was `len` bytes, and
    /// everything after it is the target's.
    Connected { bound: Address, len: usize },
}

/// Parses the CONNECT reply from its first bytes: an error as soon as the
/// bytes given show one (a failure status, a bad version, reserved byte or
/// address type), else how long the whole reply is, or what it says once whole.
pub fn parse_connect_reply(buf: &[u8]) -> Result<ConnectReply, Socks5Error> {
    if let Some(&version) = buf.first() {
        if version != VERSION {
            return Err(Socks5Error::BadVersion(version));
        }
    }
    if let Some(&status) = buf.get(1) {
        if status != 0 {
            return Err(Socks5Error::Reply(status));
        }
    }
    if let Some(&reserved) = buf.get(2) {
        if reserved != 0 {
            return Err(Socks5Error::BadReserved(reserved));
        }
    }
    let Some(&atyp) = buf.get(3) else {
        return Ok(ConnectReply::Incomplete {
            needed: REPLY_PREFIX_LEN,
        });
    };
    let (addr_start, addr_len) = match atyp {
        ATYP_IPV4 => (4, 4),
        ATYP_IPV6 => (4, 16),
        ATYP_NAME => match buf.get(4) {
            Some(&n) => (5, usize::from(n)),
            None => {
                return Ok(ConnectReply::Incomplete {
                    needed: REPLY_PREFIX_LEN,
                })
            }
        },
        other => return Err(Socks5Error::BadAddressType(other)),
    };
    let len = addr_start + addr_len + 2;
    if buf.len() < len {
        return Ok(ConnectReply::Incomplete { needed: len });
    }
    let addr = &buf[addr_start..addr_start + addr_len];
    let host = match atyp {
        ATYP_IPV4 => Host::Ip(IpAddr::from(<[u8; 4]>::try_from(addr).unwrap_or([0; 4]))),
        ATYP_IPV6 => Host::Ip(IpAddr::from(<[u8; 16]>::try_from(addr).unwrap_or([0; 16]))),
        _ => Host::Name(String::from_utf8_lossy(addr).into_owned()),
    };
    let port = u16::from_be_bytes([buf[len - 2], buf[len - 1]]);
    Ok(ConnectReply::Connected {
        bound: Address { host, port },
        len,
    })
}

/// What a CONNECT reply's failure status means, in words. Codes 0xf0 to 0xf7
/// are Tor's extensions for onion services (sent when its SocksPort has
/// ExtendedErrors).
pub fn reply_message(code: u8) -> &'static str {
    match code {
        0x00 => "succeeded",
        0x01 => "general failure inside the proxy",
        0x02 => "the proxy's rules do not allow this connection",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused by the destination",
        0x06 => "TTL expired on the way to the destination",
        0x07 => "the proxy does not support the CONNECT command",
        0x08 => "the proxy does not support this address type",
        0xf0 => "onion service descriptor not found (unknown or offline service)",
        0xf1 => "onion service descriptor is invalid",
        0xf2 => "onion service introduction failed",
        0xf3 => "onion service rendezvous failed",
        0xf4 => "onion service requires client authorization",
        0xf5 => "onion service rejected our client authorization",
        0xf6 => "not a valid onion address",
        0xf7 => "onion service introduction timed out",
        _ => "unassigned failure code",
    }
}

/// Why a SOCKS5 exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socks5Error {
    /// The target is not something we can ask for (not host:port, a bad name).
    BadTarget(String),
    /// The target's name is longer than a request can carry (255 bytes).
    NameTooLong(usize),
    /// A username or password outside 1 to 255 bytes.
    BadCredentials,
    /// A reply did not start with version 5: no SOCKS5 proxy speaks there.
    BadVersion(u8),
    /// The proxy accepts none of the methods we offered (0xff).
    NoAcceptableMethod,
    /// The proxy picked a method we did not offer.
    UnexpectedMethod(u8),
    /// The answer to our credentials had a sub-negotiation version other than 1.
    BadAuthVersion(u8),
    /// The proxy refused our credentials (its status byte).
    AuthRejected(u8),
    /// The proxy could not (or would not) connect to the target: its status code.
    Reply(u8),
    /// The reserved byte of the CONNECT reply was not 0.
    BadReserved(u8),
    /// The CONNECT reply's address type is none of IPv4, name, IPv6.
    BadAddressType(u8),
}

impl Socks5Error {
    /// Whether the proxy worked and reports that the target could not be
    /// reached: the destination's fault (or the path's), not the proxy's.
    pub fn is_target_failure(&self) -> bool {
        matches!(self, Socks5Error::Reply(_))
    }
}

impl fmt::Display for Socks5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socks5Error::BadTarget(why) => write!(f, "bad target {why}"),
            Socks5Error::NameTooLong(n) => write!(
                f,
                "the host name is {n} bytes, more than a SOCKS5 request carries ({MAX_NAME_LEN})"
            ),
            Socks5Error::BadCredentials => {
                write!(
                    f,
                    "a SOCKS5 username and password must each be 1 to 255 bytes"
                )
            }
            Socks5Error::BadVersion(v) => write!(
                f,
                "answered with version byte 0x{v:02x}, not 0x05: not a SOCKS5 proxy"
            ),
            Socks5Error::NoAcceptableMethod => write!(
                f,
                "accepts none of the authentication methods offered (none, username/password)"
            ),
            Socks5Error::UnexpectedMethod(m) => write!(
                f,
                "picked authentication method 0x{m:02x}, which was not offered"
            ),
            Socks5Error::BadAuthVersion(v) => write!(
                f,
                "answered the credentials with version byte 0x{v:02x}, not 0x01"
            ),
            Socks5Error::AuthRejected(status) => write!(
                f,
                "refused the username and password (status 0x{status:02x})"
            ),
            Socks5Error::Reply(code) => {
                write!(f, "{} (SOCKS5 reply 0x{code:02x})", reply_message(*code))
            }
            Socks5Error::BadReserved(b) => {
                write!(
                    f,
                    "sent a CONNECT reply whose reserved byte is 0x{b:02x}, not 0"
                )
            }
            Socks5Error::BadAddressType(t) => write!(
                f,
                "sent a CONNECT reply with address type 0x{t:02x} (only 0x01, 0x03, 0x04 exist)"
            ),
        }
    }
}

impl std::error::Error for Socks5Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

    fn creds(user: &str, pass: &str) -> Credentials {
        Credentials::new(user.into(), pass.into()).unwrap()
    }

    #[test]
    fn greeting_offers_user_pass_only_with_credentials() {
        assert_eq!(greeting(false), [5, 1, 0]);
        assert_eq!(greeting(true), [5, 2, 0, 2]);
    }

    #[test]
    fn method_choice() {
        assert_eq!(parse_method_choice(&[5, 0], false), Ok(Method::NoAuth));
        assert_eq!(parse_method_choice(&[5, 0], true), Ok(Method::NoAuth));
        assert_eq!(parse_method_choice(&[5, 2], true), Ok(Method::UserPass));
        // Username/password was not offered: the proxy may not pick it.
        assert_eq!(
            parse_method_choice(&[5, 2], false),
            Err(Socks5Error::UnexpectedMethod(2))
        );
        assert_eq!(
            parse_method_choice(&[5, 0xff], true),
            Err(Socks5Error::NoAcceptableMethod)
        );
        // GSSAPI, never offered.
        assert_eq!(
            parse_method_choice(&[5, 1], true),
            Err(Socks5Error::UnexpectedMethod(1))
        );
        // SOCKS4, or an HTTP server answering "HTTP/1.1 400".
        assert_eq!(
            parse_method_choice(&[4, 0], false),
            Err(Socks5Error::BadVersion(4))
        );
        assert_eq!(
            parse_method_choice(b"HT", false),
            Err(Socks5Error::BadVersion(b'H'))
        );
    }

    #[test]
    fn auth_request_bytes() {
        assert_eq!(
            auth_request(&creds("alice", "pw")),
            [1, 5, b'a', b'l', b'i', b'c', b'e', 2, b'p', b'w']
        );
        let long = "x".repeat(255);
        let req = auth_request(&creds(&long, &long));
        assert_eq!(req.len(), 3 + 2 * 255);
        assert_eq!((req[1], req[257]), (255, 255));
    }

    #[test]
    fn credentials_are_1_to_255_bytes() {
        let long = "x".repeat(256);
        for (u, p) in [
            ("", "p"),
            ("u", ""),
            (long.as_str(), "p"),
            ("u", long.as_str()),
        ] {
            assert_eq!(
                Credentials::new(u.into(), p.into()),
                Err(Socks5Error::BadCredentials),
                "{u:?} {p:?}"
            );
        }
        assert!(!format!("{:?}", creds("user", "secret")).contains("secret"));
    }

    #[test]
    fn auth_reply() {
        assert_eq!(parse_auth_reply(&[1, 0]), Ok(()));
        assert_eq!(parse_auth_reply(&[1, 1]), Err(Socks5Error::AuthRejected(1)));
        assert_eq!(
            parse_auth_reply(&[1, 0xff]),
            Err(Socks5Error::AuthRejected(0xff))
        );
        // A proxy that answers with the SOCKS version instead of RFC 1929's.
        assert_eq!(
            parse_auth_reply(&[5, 0]),
            Err(Socks5Error::BadAuthVersion(5))
        );
        let refused = Socks5Error::AuthRejected(1).to_string();
        assert!(
            refused.contains("refused the username and password"),
            "{refused}"
        );
    }

    #[test]
    fn parses_targets() {
        let onion = Address::parse(&format!("{ONION}:18444")).unwrap();
        assert_eq!(onion.host, Host::Name(ONION.into()));
        assert_eq!(onion.port, 18444);
        assert_eq!(onion.name(), Some(ONION));
        assert_eq!(
            Address::parse("10.1.2.3:8333").unwrap(),
            Address {
                host: Host::Ip("10.1.2.3".parse().unwrap()),
                port: 8333
            }
        );
        let v6 = Address::parse("[fc00::1]:8333").unwrap();
        assert_eq!(v6.host, Host::Ip("fc00::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "[fc00::1]:8333");
        assert_eq!(
            Address::parse("seed.example.org:8333").unwrap().to_string(),
            "seed.example.org:8333"
        );
        for bad in [
            "no-port",
            "host:",
            "host:65536",
            "host:-1",
            ":8333",
            "fc00::1:8333",
            "[fc00::1]8333",
            "[not-v6]:8333",
            "[fc00::1:8333",
            "bad name:8333",
        ] {
            assert!(
                matches!(Address::parse(bad), Err(Socks5Error::BadTarget(_))),
                "{bad}"
            );
        }
        let long = format!("{}:1", "a".repeat(256));
        assert_eq!(Address::parse(&long), Err(Socks5Error::NameTooLong(256)));
        assert!(Address::parse(&format!("{}:1", "a".repeat(255))).is_ok());
    }

    #[test]
    fn connect_request_uses_names_for_names_and_addresses_for_ips() {
        let req = connect_request(&Address::parse(&format!("{ONION}:18444")).unwrap()).unwrap();
        assert_eq!(&req[..5], &[5, 1, 0, 3, ONION.len() as u8]);
        assert_eq!(&req[5..5 + ONION.len()], ONION.as_bytes());
        assert_eq!(&req[5 + ONION.len()..], &18444u16.to_be_bytes());

        let req = connect_request(&Address::parse("1.2.3.4:8333").unwrap()).unwrap();
        assert_eq!(req, [5, 1, 0, 1, 1, 2, 3, 4, 0x20, 0x8d]);

        let req = connect_request(&Address::parse("[fc00::2]:1").unwrap()).unwrap();
        let mut want = vec![5, 1, 0, 4, 0xfc];
        want.extend_from_slice(&[0; 14]);
        want.extend_from_slice(&[2, 0, 1]);
        assert_eq!(req, want);

        // A name built by hand is checked too.
        let too_long = Address {
            host: Host::Name("n".repeat(300)),
            port: 1,
        };
        assert_eq!(
            connect_request(&too_long),
            Err(Socks5Error::NameTooLong(300))
        );
    }

    #[test]
    fn connect_reply_ipv4_ipv6_and_name() {
        let v4 = [5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];
        assert_eq!(
            parse_connect_reply(&v4),
            Ok(ConnectReply::Connected {
                bound: Address::parse("127.0.0.1:8080").unwrap(),
                len: 10
            })
        );
        let mut v6 = vec![5, 0, 0, 4];
        v6.extend_from_slice(&[0; 15]);
        v6.extend_from_slice(&[1, 0, 80]);
        assert_eq!(
            parse_connect_reply(&v6),
            Ok(ConnectReply::Connected {
                bound: Address::parse("[::1]:80").unwrap(),
                len: 22
            })
        );
        let mut name = vec![5, 0, 0, 3, 4];
        name.extend_from_slice(b"host");
        name.extend_from_slice(&[0, 7]);
        assert_eq!(
            parse_connect_reply(&name),
            Ok(ConnectReply::Connected {
                bound: Address {
                    host: Host::Name("host".into()),
                    port: 7
                },
                len: 11
            })
        );
        // An empty name, and the longest one: 262 bytes in all.
        assert!(matches!(
            parse_connect_reply(&[5, 0, 0, 3, 0, 0, 1]),
            Ok(ConnectReply::Connected { len: 7, .. })
        ));
        let mut longest = vec![5, 0, 0, 3, 255];
        longest.extend_from_slice(&[0xee; 255]);
        longest.extend_from_slice(&[0, 1]);
        assert_eq!(longest.len(), MAX_REPLY_LEN);
        assert!(matches!(
            parse_connect_reply(&longest),
            Ok(ConnectReply::Connected {
                len: MAX_REPLY_LEN,
                ..
            })
        ));
        // Bytes after the reply are the peer's: not part of it.
        let mut more = v4.to_vec();
        more.extend_from_slice(b"\xfa\xbf\xb5\xdaversion");
        assert!(matches!(
            parse_connect_reply(&more),
            Ok(ConnectReply::Connected { len: 10, .. })
        ));
    }

    #[test]
    fn truncated_replies_ask_for_the_rest_never_past_the_maximum() {
        assert_eq!(
            parse_connect_reply(&[]),
            Ok(ConnectReply::Incomplete { needed: 5 })
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 0]),
            Ok(ConnectReply::Incomplete { needed: 5 })
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 0, 1, 127]),
            Ok(ConnectReply::Incomplete { needed: 10 })
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 0, 4, 0]),
            Ok(ConnectReply::Incomplete { needed: 22 })
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 0, 3]),
            Ok(ConnectReply::Incomplete { needed: 5 })
        );
        // The largest length a name can claim.
        assert_eq!(
            parse_connect_reply(&[5, 0, 0, 3, 255]),
            Ok(ConnectReply::Incomplete {
                needed: MAX_REPLY_LEN
            })
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 0, 3, 4, b'h', b'o', b's', b't', 0]),
            Ok(ConnectReply::Incomplete { needed: 11 })
        );
        // Every prefix of every valid reply asks for at most the maximum.
        for first in 0..=255u8 {
            let mut reply = vec![5, 0, 0, 3, first];
            reply.resize(5 + usize::from(first) + 2, 0x41);
            for cut in 0..reply.len() {
                match parse_connect_reply(&reply[..cut]) {
                    Ok(ConnectReply::Incomplete { needed }) => {
                        assert!(needed > cut && needed <= MAX_REPLY_LEN)
                    }
                    other => panic!("prefix {cut} of a {first}-byte name: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn hostile_connect_replies() {
        assert_eq!(
            parse_connect_reply(&[4, 90]),
            Err(Socks5Error::BadVersion(4))
        );
        assert_eq!(
            parse_connect_reply(b"HTTP/1.0 400 Bad Request"),
            Err(Socks5Error::BadVersion(b'H'))
        );
        assert_eq!(
            parse_connect_reply(&[5, 0, 1, 1, 0, 0, 0, 0, 0, 0]),
            Err(Socks5Error::BadReserved(1))
        );
        for atyp in [0u8, 2, 5, 0x7f, 0xff] {
            assert_eq!(
                parse_connect_reply(&[5, 0, 0, atyp, 0, 0, 0, 0, 0, 0]),
                Err(Socks5Error::BadAddressType(atyp)),
                "{atyp}"
            );
        }
        // A failure is reported from the status byte alone: its address
        // fields, if any, are not waited for.
        assert_eq!(parse_connect_reply(&[5, 5]), Err(Socks5Error::Reply(5)));
    }

    #[test]
    fn every_reply_code_is_an_error_with_its_own_words() {
        let mut seen = std::collections::HashSet::new();
        for code in (1..=8u8).chain(0xf0..=0xf7) {
            let err = parse_connect_reply(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap_err();
            assert_eq!(err, Socks5Error::Reply(code));
            assert!(err.is_target_failure());
            let text = err.to_string();
            assert!(
                text.ends_with(&format!("(SOCKS5 reply 0x{code:02x})")),
                "{text}"
            );
            assert!(
                seen.insert(reply_message(code)),
                "{code:#x} shares its words"
            );
        }
        assert_eq!(
            Socks5Error::Reply(5).to_string(),
            "connection refused by the destination (SOCKS5 reply 0x05)"
        );
        assert_eq!(reply_message(0x09), "unassigned failure code");
        assert_eq!(reply_message(0xf8), "unassigned failure code");
        assert!(!Socks5Error::BadVersion(4).is_target_failure());
        assert!(!Socks5Error::AuthRejected(1).is_target_failure());
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_ask_past_the_maximum() {
        // A small deterministic generator: every prefix of many random replies.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2_000 {
            let len = (next() % 300) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Bias towards plausible headers so the deeper branches run.
            if len > 3 && next() % 2 == 0 {
                buf[0] = 5;
                buf[1] = 0;
                buf[2] = 0;
                buf[3] = [1, 3, 4][(next() % 3) as usize];
            }
            match parse_connect_reply(&buf) {
                Ok(ConnectReply::Incomplete { needed }) => {
                    assert!(needed > buf.len() && needed <= MAX_REPLY_LEN)
                }
                Ok(ConnectReply::Connected { len, .. }) => {
                    assert!(len <= buf.len() && len <= MAX_REPLY_LEN)
                }
                Err(_) => {}
            }
            let _ = parse_method_choice(&[buf.first().copied().unwrap_or(0), 0], true);
        }
    }
}
