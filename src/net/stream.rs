//! A non-blocking TCP stream (mio) with optional TLS ([`TlsClient`]: rustls for the
//! handshake, records decrypted in place once open): reads and writes what the socket allows
//! and says `WouldBlock` otherwise, so tungstenite and the HTTP client can run over it from a
//! readiness loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc};

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::tls_io::TlsClient;
use super::url::Url;
use super::NetError;

/// Socket receive buffer asked for (the kernel may give less).
const RECV_BUFFER: usize = 4 << 20;

/// A TCP connection, TLS when the URL says so.
pub(crate) struct NetStream {
    tcp: TcpStream,
    tls: Option<Box<TlsClient>>,
}

impl std::fmt::Debug for NetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetStream").field("tls", &self.tls.is_some()).finish()
    }
}

/// Resolves `url`'s host to all its addresses (blocking).
fn resolve_all(url: &Url) -> Result<Vec<SocketAddr>, NetError> {
    let addrs: Vec<SocketAddr> = url.authority().to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(NetError::Url { url: url.authority(), why: "the host does not resolve" });
    }
    Ok(addrs)
}

/// The addresses of one host, resolved once and reused: a reconnect or a REST request does not
/// wait for DNS. A failed connection moves on to the next address; once every address has
/// failed the host is resolved again at the next use (the venue may have moved). A host name
/// is looked up on a short-lived thread of its own (a lookup can take seconds, and the network
/// thread serves every other connection meanwhile): until it answers, [`AddrCache::get`] says
/// [`NetError::Resolving`]. An IP address needs no lookup.
#[derive(Debug, Default)]
pub(crate) struct AddrCache {
    addrs: Vec<SocketAddr>,
    at: usize,
    /// The lookup under way.
    pending: Option<mpsc::Receiver<Result<Vec<SocketAddr>, NetError>>>,
}

impl AddrCache {
    /// The address to connect to. With nothing cached, an IP address is taken as it is and a
    /// host name's lookup starts (or goes on): [`NetError::Resolving`] until it answers.
    pub(crate) fn get(&mut self, url: &Url) -> Result<SocketAddr, NetError> {
        if self.addrs.is_empty() {
            self.addrs = self.resolve(url)?;
            self.at = 0;
        }
        Ok(self.addrs[self.at])
    }

    fn resolve(&mut self, url: &Url) -> Result<Vec<SocketAddr>, NetError> {
        if let Some(rx) = &self.pending {
            return match rx.try_recv() {
                Ok(answer) => {
                    self.pending = None;
                    answer
                }
                Err(mpsc::TryRecvError::Empty) => Err(NetError::Resolving),
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.pending = None;
                    Err(NetError::Url { url: url.authority(), why: "the host lookup failed" })
                }
            };
        }
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, url.port)]);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let lookup = url.clone();
        std::thread::Builder::new().name("resolver".into()).spawn(move || {
            let _ = tx.send(resolve_all(&lookup));
        })?;
        self.pending = Some(rx);
        Err(NetError::Resolving)
    }

    /// The last address given failed to connect: use the next one (or resolve again).
    pub(crate) fn failed(&mut self) {
        self.at += 1;
        if self.at >= self.addrs.len() {
            self.addrs.clear();
            self.at = 0;
        }
    }

    /// Addresses cached now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.addrs.len()
    }

    /// `true` when the next use resolves.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

impl NetStream {
    /// Starts a non-blocking connect to `addr` (the TCP handshake completes later: poll for
    /// writable, then [`NetStream::connected`]); TLS with SNI for `url.host` when `url.tls`.
    pub(crate) fn connect(
        url: &Url,
        addr: SocketAddr,
        tls: &Arc<ClientConfig>,
    ) -> Result<NetStream, NetError> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        set_recv_buffer(&tcp);
        let tls = if url.tls {
            let name = ServerName::try_from(url.host.clone()).map_err(|_| NetError::Url {
                url: url.host.clone(),
                why: "not a valid server name",
            })?;
            Some(Box::new(TlsClient::new(tls, name)?))
        } else {
            None
        };
        Ok(NetStream { tcp, tls })
    }

    /// The socket (to register with mio).
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// `Ok(true)` once the TCP connection is established, `Ok(false)` while in progress.
    pub(crate) fn connected(&self) -> io::Result<bool> {
        if let Some(e) = self.tcp.take_error()? {
            return Err(e);
        }
        match self.tcp.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drives the TLS handshake: `Ok(true)` when done (at once without TLS).
    pub(crate) fn handshake(&mut self) -> Result<bool, NetError> {
        let Some(tls) = self.tls.as_mut() else { return Ok(true) };
        Ok(tls.handshake(&mut self.tcp)?)
    }
}

fn set_recv_buffer(tcp: &TcpStream) {
    // Best effort: a kernel limit lower than asked is not an error.
    let _ = socket2::SockRef::from(tcp).set_recv_buffer_size(RECV_BUFFER);
}

impl Read for NetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => self.tcp.read(buf),
            Some(tls) => tls.read_from(&mut self.tcp, buf),
        }
    }
}

impl Write for NetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => self.tcp.write(buf),
            // The plaintext is taken; the socket takes what it can now, the rest at flush.
            Some(tls) => tls.write_to(&mut self.tcp, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_mut() {
            tls.flush_to(&mut self.tcp)?;
        }
        self.tcp.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_resolved_once_and_again_after_all_failed() {
        let url = Url::parse("wss://127.0.0.1:9443/ws").unwrap();
        let mut cache = AddrCache::default();
        assert!(cache.is_empty());
        let a = cache.get(&url).unwrap();
        assert_eq!(a, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(cache.len(), 1);
        // Reused while it works.
        assert_eq!(cache.get(&url).unwrap(), a);
        // Its only address failed: the next use resolves again.
        cache.failed();
        assert!(cache.is_empty());
        assert_eq!(cache.get(&url).unwrap(), a);
        // Several addresses: each failure moves to the next, in order.
        let b: SocketAddr = "127.0.0.2:9443".parse().unwrap();
        cache.addrs = vec![a, b];
        cache.at = 0;
        cache.failed();
        assert_eq!(cache.get(&url).unwrap(), b);
        cache.failed();
        assert!(cache.is_empty());
    }

    /// Asks `cache` until the lookup answers (bounded).
    fn answer(cache: &mut AddrCache, url: &Url) -> Result<SocketAddr, NetError> {
        let start = std::time::Instant::now();
        loop {
            match cache.get(url) {
                Err(NetError::Resolving) => {
                    assert!(start.elapsed() < std::time::Duration::from_secs(30), "no answer");
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                other => return other,
            }
        }
    }

    #[test]
    fn host_names_are_looked_up_off_the_calling_thread() {
        // A name: the first ask starts the lookup and returns at once; the answer comes later.
        let url = Url::parse("wss://localhost:9443/ws").unwrap();
        let mut cache = AddrCache::default();
        assert!(matches!(cache.get(&url), Err(NetError::Resolving)));
        let a = answer(&mut cache, &url).unwrap();
        assert!(a.ip().is_loopback() && a.port() == 9443, "{a}");
        assert_eq!(cache.get(&url).unwrap(), a, "cached");
        // A name that does not resolve fails with its cause, and is asked again next time.
        let unresolvable = Url::parse("wss://no-such-host.invalid/ws").unwrap();
        let mut cache = AddrCache::default();
        assert!(answer(&mut cache, &unresolvable).is_err());
        assert!(matches!(cache.get(&unresolvable), Err(NetError::Resolving)));
        // An IPv6 address needs no lookup either.
        let v6 = Url::parse("wss://[::1]:9443/ws").unwrap();
        assert_eq!(AddrCache::default().get(&v6).unwrap(), "[::1]:9443".parse().unwrap());
    }
}
