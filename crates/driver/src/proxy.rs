//! Dialling through a SOCKS5 proxy: a TCP connection to the proxy, then the
//! exchanges of `peerwire_core::socks5` over it, each read exactly as long as
//! the reply it waits for (into a fixed buffer of at most 262 bytes), so the
//! peer's first bytes after the CONNECT reply stay in the socket for the
//! connection task.
//!
//! The driver runs the whole dial under its connect timeout and its shutdown
//! signal (driver.rs); nothing here waits on its own. [`Stage`] records how far
//! a dial got, so a timeout can say what the proxy never answered.

use peerwire_core::socks5::{
    self, Address, ConnectReply, Credentials, Method, Socks5Error, AUTH_REPLY_LEN, MAX_REPLY_LEN,
    METHOD_REPLY_LEN,
};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A SOCKS5 proxy to dial one connection through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy's "host:port" (a name here is resolved by the system, as
    /// for any dial: "localhost:9050" works).
    pub address: String,
    /// Authenticate with a username and password drawn at random for this
    /// connection: Tor then gives it a circuit of its own (stream isolation,
    /// Bitcoin Core's -proxyrandomize). Without, no authentication is offered.
    pub randomize_credentials: bool,
    /// The bound on the whole dial through this proxy (the TCP connect to it
    /// and the SOCKS5 exchange); None: the driver's connect timeout. Tor
    /// often needs more than a direct connect: Bitcoin Core gives the
    /// exchange 20 s.
    pub timeout: Option<Duration>,
}

/// How far a dial through a proxy got (kept in an atomic the driver reads
/// after a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// TCP to the proxy.
    Connecting = 0,
    /// Waiting for the proxy to pick an authentication method.
    Greeting = 1,
    /// Waiting for the verdict on our credentials.
    Authenticating = 2,
    /// Waiting for the CONNECT reply (for Tor: while it builds a circuit).
    Connect = 3,
}

impl Stage {
    pub(crate) fn load(cell: &AtomicU8) -> Self {
        match cell.load(Ordering::Acquire) {
            0 => Stage::Connecting,
            1 => Stage::Greeting,
            2 => Stage::Authenticating,
            _ => Stage::Connect,
        }
    }

    fn store(self, cell: &AtomicU8) {
        cell.store(self as u8, Ordering::Release);
    }

    /// What the dial was waiting for, for a timeout's message.
    pub(crate) fn waiting_for(self) -> &'static str {
        match self {
            Stage::Connecting => "the TCP connection to the proxy",
            Stage::Greeting => "the proxy's answer to the SOCKS5 greeting",
            Stage::Authenticating => "the proxy's answer to our credentials",
            Stage::Connect => {
                "the proxy's answer to CONNECT (it could not reach the target in time)"
            }
        }
    }
}

/// Why a dial through a proxy failed.
#[derive(Debug)]
pub(crate) enum ProxyError {
    /// The TCP connection to the proxy failed.
    Unreachable(io::Error),
    /// The socket failed or closed in the middle of the exchange.
    Io(io::Error),
    /// The proxy broke the protocol, refused us, or could not reach the target.
    Socks(Socks5Error),
}

impl From<Socks5Error> for ProxyError {
    fn from(e: Socks5Error) -> Self {
        ProxyError::Socks(e)
    }
}

impl ProxyError {
    /// The connect-failed message. A failure the proxy reports about the
    /// target reads "SOCKS5 proxy P could not connect to T: why"; every other
    /// one is about the proxy itself: "SOCKS5 proxy P <what it did>".
    pub(crate) fn message(&self, proxy: &str, target: &Address) -> String {
        match self {
            ProxyError::Unreachable(e) => format!("SOCKS5 proxy {proxy} is unreachable: {e}"),
            ProxyError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                format!("SOCKS5 proxy {proxy} closed the connection in the middle of the SOCKS5 exchange")
            }
            ProxyError::Io(e) => {
                format!("SOCKS5 proxy {proxy} failed in the middle of the SOCKS5 exchange: {e}")
            }
            ProxyError::Socks(e) if e.is_target_failure() => {
                format!("SOCKS5 proxy {proxy} could not connect to {target}: {e}")
            }
            ProxyError::Socks(e) => format!("SOCKS5 proxy {proxy} {e}"),
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Unreachable(e) | ProxyError::Io(e) => e.fmt(f),
            ProxyError::Socks(e) => e.fmt(f),
        }
    }
}

/// Connects to `proxy` ("host:port") and asks it for `target`. On success the
/// stream carries the target's bytes and nothing of the proxy's.
pub(crate) async fn dial(
    proxy: &str,
    target: &Address,
    credentials: Option<&Credentials>,
    stage: &AtomicU8,
) -> Result<TcpStream, ProxyError> {
    Stage::Connecting.store(stage);
    let mut stream = TcpStream::connect(proxy)
        .await
        .map_err(ProxyError::Unreachable)?;
    handshake(&mut stream, target, credentials, stage).await?;
    Ok(stream)
}

/// The SOCKS5 exchanges over an open stream to the proxy. Returns the address
/// the proxy reports it bound (informational; nothing uses it).
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: &Address,
    credentials: Option<&Credentials>,
    stage: &AtomicU8,
) -> Result<Address, ProxyError> {
    let request = socks5::connect_request(target)?;
    Stage::Greeting.store(stage);
    stream
        .write_all(&socks5::greeting(credentials.is_some()))
        .await
        .map_err(ProxyError::Io)?;
    let mut choice = [0u8; METHOD_REPLY_LEN];
    stream
        .read_exact(&mut choice)
        .await
        .map_err(ProxyError::Io)?;
    let method = socks5::parse_method_choice(&choice, credentials.is_some())?;
    if let (Method::UserPass, Some(credentials)) = (method, credentials) {
        Stage::Authenticating.store(stage);
        stream
            .write_all(&socks5::auth_request(credentials))
            .await
            .map_err(ProxyError::Io)?;
        let mut verdict = [0u8; AUTH_REPLY_LEN];
        stream
            .read_exact(&mut verdict)
            .await
            .map_err(ProxyError::Io)?;
        socks5::parse_auth_reply(&verdict)?;
    }
    Stage::Connect.store(stage);
    stream.write_all(&request).await.map_err(ProxyError::Io)?;
    // The version and status first: a proxy that reports a failure and hangs
    // up without the address fields still gets its failure reported.
    let mut reply = [0u8; MAX_REPLY_LEN];
    let mut have = 0;
    let mut want = 2;
    loop {
        stream
            .read_exact(&mut reply[have..want])
            .await
            .map_err(ProxyError::Io)?;
        have = want;
        match socks5::parse_connect_reply(&reply[..have])? {
            ConnectReply::Connected { bound, .. } => return Ok(bound),
            // The parser never asks for less than it has nor past the maximum;
            // clamped anyway, so a bug there cannot loop or overrun.
            ConnectReply::Incomplete { needed } => want = needed.clamp(have + 1, MAX_REPLY_LEN),
        }
        if have == MAX_REPLY_LEN {
            return Err(ProxyError::Io(io::Error::other(
                "CONNECT reply longer than any valid one",
            )));
        }
    }
}

/// Draws credentials for stream isolation: unique per connection and not
/// guessable from outside (SipHash under random keys, over a counter).
pub(crate) struct CredentialSource {
    keys: RandomState,
    drawn: AtomicU64,
}

impl CredentialSource {
    pub(crate) fn new() -> Self {
        Self {
            keys: RandomState::new(),
            drawn: AtomicU64::new(0),
        }
    }

    pub(crate) fn fresh(&self) -> Credentials {
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        let username = format!("{:016x}", self.keys.hash_one((n, 0u8)));
        let password = format!("{:016x}", self.keys.hash_one((n, 1u8)));
        Credentials::new(username, password).expect("16 hex digits are valid credentials")
    }
}

/// The kind of name that is dialled only through a proxy, if `address`
/// ("host:port") has one: a Tor or I2P name means nothing to the system
/// resolver, and asking it would tell the local network whom we dial.
pub(crate) fn proxy_only(address: &str) -> Option<&'static str> {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.ends_with(".onion") {
        Some("a Tor onion address")
    } else if host.ends_with(".i2p") {
        Some("an I2P address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, DuplexStream};

    const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

    fn target() -> Address {
        Address::parse(&format!("{ONION}:18444")).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Runs the client's handshake against a scripted proxy: `proxy` gets the
    /// other end of the pipe. Returns the client's result and what it sent.
    fn exchange<F, Fut>(
        credentials: Option<Credentials>,
        proxy: F,
    ) -> (Result<Address, ProxyError>, Vec<u8>)
    where
        F: FnOnce(DuplexStream) -> Fut,
        Fut: std::future::Future<Output = Vec<u8>>,
    {
        runtime().block_on(async {
            let (mut client, server) = duplex(4096);
            let stage = AtomicU8::new(0);
            let (result, sent) = tokio::join!(
                async {
                    let r = handshake(&mut client, &target(), credentials.as_ref(), &stage).await;
                    drop(client);
                    r
                },
                proxy(server)
            );
            (result, sent)
        })
    }

    /// Reads exactly `n` bytes the client sent.
    async fn take(server: &mut DuplexStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        server.read_exact(&mut buf).await.unwrap();
        buf
    }

    fn connect_len() -> usize {
        5 + ONION.len() + 2
    }

    #[test]
    fn no_auth_then_connect() {
        let (result, sent) = exchange(None, |mut s| async move {
            let mut sent = take(&mut s, 3).await;
            s.write_all(&[5, 0]).await.unwrap();
            sent.extend(take(&mut s, connect_len()).await);
            s.write_all(&[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90])
                .await
                .unwrap();
            // The peer's first bytes follow at once: not the handshake's to read.
            s.write_all(b"peer").await.unwrap();
            sent
        });
        assert_eq!(result.unwrap(), Address::parse("10.0.0.1:8080").unwrap());
        assert_eq!(&sent[..3], &[5, 1, 0]);
        assert_eq!(&sent[3..8], &[5, 1, 0, 3, ONION.len() as u8]);
    }

    #[test]
    fn leaves_the_peers_bytes_in_the_stream() {
        runtime().block_on(async {
            let (mut client, mut server) = duplex(4096);
            let stage = AtomicU8::new(0);
            let mut reply = vec![5, 0, 5, 0, 0, 3, 4];
            reply.extend_from_slice(b"bind");
            reply.extend_from_slice(&[0, 1]);
            reply.extend_from_slice(b"version!");
            // Everything at once, as a proxy may write it.
            server.write_all(&reply).await.unwrap();
            let bound = handshake(&mut client, &target(), None, &stage)
                .await
                .unwrap();
            assert_eq!(bound.name(), Some("bind"));
            let mut rest = [0u8; 8];
            client.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"version!");
        });
    }

    #[test]
    fn authenticates_with_the_credentials() {
        let creds = Credentials::new("user1".into(), "pass2".into()).unwrap();
        let (result, sent) = exchange(Some(creds), |mut s| async move {
            let mut sent = take(&mut s, 4).await;
            s.write_all(&[5, 2]).await.unwrap();
            sent.extend(take(&mut s, 3 + 5 + 5).await);
            s.write_all(&[1, 0]).await.unwrap();
            sent.extend(take(&mut s, connect_len()).await);
            s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
            sent
        });
        result.unwrap();
        assert_eq!(&sent[..4], &[5, 2, 0, 2]);
        assert_eq!(&sent[4..17], b"\x01\x05user1\x05pass2");
        assert_eq!(sent[17..].len(), connect_len());
    }

    #[test]
    fn refused_credentials() {
        let creds = Credentials::new("u".into(), "p".into()).unwrap();
        let (result, _) = exchange(Some(creds), |mut s| async move {
            take(&mut s, 4).await;
            s.write_all(&[5, 2]).await.unwrap();
            take(&mut s, 5).await;
            s.write_all(&[1, 1]).await.unwrap();
            Vec::new()
        });
        let err = result.unwrap_err();
        assert!(matches!(
            err,
            ProxyError::Socks(Socks5Error::AuthRejected(1))
        ));
        assert_eq!(
            err.message("127.0.0.1:9050", &target()),
            "SOCKS5 proxy 127.0.0.1:9050 refused the username and password (status 0x01)"
        );
    }

    #[test]
    fn a_refusal_is_reported_even_without_the_address_fields() {
        let (result, _) = exchange(None, |mut s| async move {
            take(&mut s, 3).await;
            s.write_all(&[5, 0]).await.unwrap();
            take(&mut s, connect_len()).await;
            // Status only, then hang up.
            s.write_all(&[5, 5]).await.unwrap();
            Vec::new()
        });
        let err = result.unwrap_err();
        assert_eq!(
            err.message("127.0.0.1:9050", &target()),
            format!(
                "SOCKS5 proxy 127.0.0.1:9050 could not connect to {ONION}:18444: \
                 connection refused by the destination (SOCKS5 reply 0x05)"
            )
        );
    }

    #[test]
    fn garbage_and_early_close_fail_cleanly() {
        let (result, _) = exchange(None, |mut s| async move {
            take(&mut s, 3).await;
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
            Vec::new()
        });
        let err = result.unwrap_err();
        assert!(matches!(
            err,
            ProxyError::Socks(Socks5Error::BadVersion(b'H'))
        ));
        assert!(err
            .message("p:1", &target())
            .starts_with("SOCKS5 proxy p:1 answered with version byte 0x48"));

        let (result, _) = exchange(None, |mut s| async move {
            take(&mut s, 3).await;
            s.write_all(&[5]).await.unwrap();
            Vec::new()
        });
        let err = result.unwrap_err();
        assert_eq!(
            err.message("p:1", &target()),
            "SOCKS5 proxy p:1 closed the connection in the middle of the SOCKS5 exchange"
        );

        // A name length that promises more than ever comes: the proxy hangs up.
        let (result, _) = exchange(None, |mut s| async move {
            take(&mut s, 3).await;
            s.write_all(&[5, 0]).await.unwrap();
            take(&mut s, connect_len()).await;
            s.write_all(&[5, 0, 0, 3, 255, b'x']).await.unwrap();
            Vec::new()
        });
        assert!(matches!(result, Err(ProxyError::Io(_))));
    }

    #[test]
    fn a_silent_proxy_leaves_the_stage_for_the_timeout_message() {
        runtime().block_on(async {
            let (mut client, mut server) = duplex(4096);
            let stage = AtomicU8::new(0);
            let creds = Credentials::new("u".into(), "p".into()).unwrap();
            server.write_all(&[5, 2, 1, 0]).await.unwrap();
            let attempt = tokio::time::timeout(
                std::time::Duration::from_millis(50),
                handshake(&mut client, &target(), Some(&creds), &stage),
            )
            .await;
            assert!(
                attempt.is_err(),
                "no CONNECT reply: only the timeout ends it"
            );
            assert_eq!(Stage::load(&stage), Stage::Connect);
            drop(server);
        });
    }

    #[test]
    fn fresh_credentials_differ() {
        let source = CredentialSource::new();
        let a = source.fresh();
        let b = source.fresh();
        assert_ne!(a, b);
        assert_ne!(a.username(), b.username());
        assert_eq!(a.username().len(), 16);
        assert_ne!(a.username(), a.password());
    }

    #[test]
    fn names_that_need_a_proxy() {
        assert_eq!(
            proxy_only(&format!("{ONION}:8333")),
            Some("a Tor onion address")
        );
        assert_eq!(proxy_only("X.ONION.:8333"), Some("a Tor onion address"));
        assert_eq!(proxy_only("abc.b32.i2p:0"), Some("an I2P address"));
        assert_eq!(proxy_only("onion.example.org:8333"), None);
        assert_eq!(proxy_only("127.0.0.1:8333"), None);
        assert_eq!(proxy_only("[fc00::1]:8333"), None);
    }
}
