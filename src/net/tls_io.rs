//! The client side of TLS over a non-blocking socket, allocation-free per record once open.
//!
//! rustls (0.23) allocates for every application-data record it decrypts, buffered API and
//! unbuffered alike: the plaintext is copied into a fresh `Vec` (`take_received_plaintext`,
//! `Payload::into_vec`) that `ReadTraffic::next_record` hands back, and the buffered
//! connection also resizes its receive buffer around each read. So rustls does the part that
//! needs it and we do the per-record part:
//!
//! - **Handshake**: rustls' unbuffered client ([`UnbufferedClientConnection`]) drives it, its
//!   records read into and written from our own buffers ([`ConnectionState::EncodeTlsData`],
//!   [`ConnectionState::TransmitTlsData`], [`ConnectionState::BlockedHandshake`]); certificates
//!   are verified by rustls as always.
//! - **Traffic**: at [`ConnectionState::WriteTraffic`] the connection becomes a
//!   [`KernelConnection`] (rustls' API for a record layer kept elsewhere, as kTLS does). Each
//!   record is then opened in place in our receive buffer by rustls' own AEAD decrypter for the
//!   negotiated suite (*ring*), and read straight from there: no allocation, no extra copy.
//!   Post-handshake messages go back to rustls: session tickets
//!   ([`KernelConnection::handle_new_session_ticket`]) and TLS 1.3 key updates
//!   ([`KernelConnection::update_rx_secret`], and our own key update when the peer asks for
//!   one). Alerts: `close_notify` ends the stream cleanly after everything before it has been
//!   read; any other fatal alert, a record that does not authenticate or is out of place, is
//!   an error ([`TlsError`], counted in [`record_errors`]) delivered only once every byte
//!   received before it has been read. Writes (subscriptions, pongs) are rare and encrypted
//!   by rustls' encrypter, which allocates its output record.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundPlainMessage,
};
use rustls::kernel::KernelConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{
    ClientConfig, ConnectionTrafficSecrets, ContentType, HandshakeType, ProtocolVersion,
    SupportedCipherSuite,
};

/// A record header: type, version, length.
const HEADER: usize = 5;
/// The largest plaintext in one record (RFC 8446 5.1).
const MAX_PLAINTEXT: usize = 1 << 14;
/// The largest record payload accepted (TLS 1.2 allows 2^14 + 2048 of ciphertext).
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// The receive buffer: several records per socket read, and always room for a whole one.
const RECV_BUFFER: usize = 64 << 10;
/// Handshake bytes buffered at most (a post-handshake message split over records).
const MAX_HANDSHAKE_MESSAGE: usize = 64 << 10;

/// Record-layer failures of every connection since the process started (each is also the
/// error that ended its connection).
static RECORD_ERRORS: AtomicU64 = AtomicU64::new(0);

/// TLS connections ended by a record-layer error (a record that does not authenticate, a
/// fatal alert, a message out of place, an unexpected end): a process-wide count.
pub fn record_errors() -> u64 {
    RECORD_ERRORS.load(Ordering::Relaxed)
}

/// Why the TLS layer gave a connection up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused something (certificate, handshake, a record that does not decrypt).
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The peer sent a fatal alert.
    #[error("TLS: the peer sent a fatal alert ({0:?})")]
    Alert(rustls::AlertDescription),
    /// A record or message the protocol does not allow here.
    #[error("TLS: {0}")]
    Protocol(&'static str),
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<TlsError> for super::NetError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Rustls(e) => super::NetError::Tls(e),
            TlsError::Io(e) => super::NetError::Io(e),
            e => super::NetError::Protocol(e.to_string()),
        }
    }
}

impl TlsError {
    fn counted(self) -> io::Error {
        RECORD_ERRORS.fetch_add(1, Ordering::Relaxed);
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// Where the connection is.
enum State {
    /// rustls drives the handshake.
    Handshake(Box<UnbufferedClientConnection>),
    /// The handshake is done: records are ours.
    Open(Box<Traffic>),
    /// Between two states (only while moving from one to the next), or after a failure.
    Gone,
}

/// The open connection's record layer.
struct Traffic {
    kernel: KernelConnection<ClientConnectionData>,
    suite: SupportedCipherSuite,
    version: ProtocolVersion,
    decrypter: Box<dyn MessageDecrypter>,
    rx_seq: u64,
    encrypter: Box<dyn MessageEncrypter>,
    tx_seq: u64,
    /// Records sent under the current key at most (the suite's confidentiality limit).
    tx_limit: u64,
    /// A post-handshake message being reassembled over records.
    handshake: Vec<u8>,
}

/// The client side of one TLS connection, over a socket it is handed at each call.
pub(crate) struct TlsClient {
    state: State,
    /// Received bytes: `recv[start..end]` not yet consumed. An opened record's plaintext is
    /// `recv[plain..plain_end]` (decrypted in place), and the record ends at `record_end`.
    recv: Box<[u8]>,
    start: usize,
    end: usize,
    plain: usize,
    plain_end: usize,
    record_end: usize,
    /// Plaintext rustls gave during the handshake (0.5-RTT data), read before anything else.
    early: Vec<u8>,
    /// Records to send, `send[sent..]` not yet taken by the socket.
    send: Vec<u8>,
    sent: usize,
    /// The peer's `close_notify` has been read: the end of the stream.
    peer_closed: bool,
    /// The socket reached its end (no more bytes will come).
    eof: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Handshake(_) => "handshake",
            State::Open(_) => "open",
            State::Gone => "gone",
        };
        f.debug_struct("TlsClient").field("state", &state).finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A client of `name` with `config` (its secret extraction is switched on here if it is
    /// not: a record layer of our own needs the traffic keys).
    pub(crate) fn new(
        config: &Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsClient, rustls::Error> {
        let config = if config.enable_secret_extraction {
            Arc::clone(config)
        } else {
            let mut c = (**config).clone();
            c.enable_secret_extraction = true;
            Arc::new(c)
        };
        let conn = UnbufferedClientConnection::new(config, name)?;
        Ok(TlsClient {
            state: State::Handshake(Box::new(conn)),
            recv: vec![0; RECV_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            plain: 0,
            plain_end: 0,
            record_end: 0,
            early: Vec::new(),
            send: Vec::with_capacity(4096),
            sent: 0,
            peer_closed: false,
            eof: false,
        })
    }

    /// Whether the handshake is done.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Writes what is queued, as far as `sock` takes it (`WouldBlock` when it takes no more).
    pub(crate) fn flush_to(&mut self, sock: &mut impl Write) -> io::Result<()> {
        while self.sent < self.send.len() {
            match sock.write(&self.send[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.send.clear();
        self.sent = 0;
        Ok(())
    }

    /// Reads from `sock` into the free end of the receive buffer, first moving what is
    /// left to the front when a whole record might not fit. `Ok(0)`: the socket ended.
    fn fill_from(&mut self, sock: &mut impl Read) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.recv.len() - self.start < HEADER + MAX_CIPHERTEXT
            || self.end == self.recv.len()
        {
            self.recv.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.recv.len() {
            // Only a handshake message longer than the buffer gets here.
            return Err(io::Error::new(io::ErrorKind::InvalidData, "TLS receive buffer full"));
        }
        loop {
            match sock.read(&mut self.recv[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Drives the handshake over `sock`: `Ok(true)` when done, `Ok(false)` while it waits for
    /// the socket.
    pub(crate) fn handshake<S: Read + Write>(&mut self, sock: &mut S) -> Result<bool, TlsError> {
        loop {
            let State::Handshake(conn) = &mut self.state else { return Ok(true) };
            let UnbufferedStatus { discard, state } =
                conn.process_tls_records(&mut self.recv[self.start..self.end]);
            let mut need_bytes = false;
            let mut done = false;
            match state {
                Err(e) => return Err(self.fail_handshake(sock, discard, e)),
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    // Asked with no room first: rustls says how much it needs.
                    let encoded = match enc.encode(&mut []) {
                        Err(EncodeError::InsufficientSize(s)) => {
                            let at = self.send.len();
                            self.send.resize(at + s.required_size, 0);
                            enc.encode(&mut self.send[at..]).map(|_| ())
                        }
                        other => other.map(|_| ()),
                    };
                    if encoded.is_err() {
                        self.state = State::Gone;
                        return Err(TlsError::Protocol("encoding a handshake record failed"));
                    }
                }
                Ok(ConnectionState::TransmitTlsData(tx)) => {
                    // The records are ours now (in `send`); the socket takes them below and
                    // at later turns.
                    tx.done();
                }
                Ok(ConnectionState::BlockedHandshake) => need_bytes = true,
                Ok(ConnectionState::ReadTraffic(mut rd)) => {
                    let mut failed = None;
                    while let Some(rec) = rd.next_record() {
                        match rec {
                            Ok(rec) => self.early.extend_from_slice(rec.payload),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = failed {
                        return Err(self.fail_handshake(sock, discard, e));
                    }
                }
                Ok(ConnectionState::WriteTraffic(_)) => done = true,
                Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                    self.state = State::Gone;
                    return Err(TlsError::Protocol("the server closed during the handshake"));
                }
                Ok(_) => {
                    self.state = State::Gone;
                    return Err(TlsError::Protocol("unexpected state in the handshake"));
                }
            }
            self.start += discard;
            match self.flush_to(sock) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
            if done {
                self.open()?;
                return Ok(true);
            }
            if need_bytes {
                match self.fill_from(sock) {
                    Ok(0) => {
                        return Err(TlsError::Protocol(
                            "connection closed during the TLS handshake",
                        ))
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    /// A handshake that rustls refused (a record it could not process, a certificate, a
    /// message out of place), with the `discard`ed bytes it had consumed: the server is told
    /// why (the alert rustls queued, best effort) and the connection is gone.
    fn fail_handshake(
        &mut self,
        sock: &mut impl Write,
        discard: usize,
        e: rustls::Error,
    ) -> TlsError {
        self.start += discard;
        self.queue_handshake_alert();
        let _ = self.flush_to(sock);
        self.state = State::Gone;
        TlsError::Rustls(e)
    }

    /// After a handshake error: the alert rustls queued, into `send`.
    fn queue_handshake_alert(&mut self) {
        let State::Handshake(conn) = &mut self.state else { return };
        let UnbufferedStatus { state, .. } = conn.process_tls_records(&mut []);
        if let Ok(ConnectionState::EncodeTlsData(mut enc)) = state {
            let mut alert = [0u8; 64];
            if let Ok(n) = enc.encode(&mut alert) {
                self.send.extend_from_slice(&alert[..n]);
            }
        }
    }

    /// The handshake is done: the traffic keys move from rustls to our record layer.
    fn open(&mut self) -> Result<(), TlsError> {
        let State::Handshake(conn) = std::mem::replace(&mut self.state, State::Gone) else {
            return Err(TlsError::Protocol("opened twice"));
        };
        let (secrets, kernel) = (*conn).dangerous_into_kernel_connection()?;
        let suite = kernel.negotiated_cipher_suite();
        let version = kernel.protocol_version();
        let (rx_seq, rx) = secrets.rx;
        let (tx_seq, tx) = secrets.tx;
        let traffic = Traffic {
            decrypter: decrypter(suite, rx)?,
            encrypter: encrypter(suite, tx)?,
            kernel,
            suite,
            version,
            rx_seq,
            tx_seq,
            tx_limit: match suite {
                SupportedCipherSuite::Tls13(s) => s.common.confidentiality_limit,
                SupportedCipherSuite::Tls12(s) => s.common.confidentiality_limit,
            },
            handshake: Vec::new(),
        };
        self.state = State::Open(Box::new(traffic));
        Ok(())
    }

    /// Reads plaintext into `buf` from what is buffered, reading `sock` when it has none:
    /// `Ok(0)` at the peer's `close_notify`, `WouldBlock` when the socket has nothing more.
    pub(crate) fn read_from<S: Read + Write>(
        &mut self,
        sock: &mut S,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        if !self.early.is_empty() {
            let n = buf.len().min(self.early.len());
            buf[..n].copy_from_slice(&self.early[..n]);
            self.early.drain(..n);
            return Ok(n);
        }
        loop {
            if self.plain < self.plain_end {
                let n = buf.len().min(self.plain_end - self.plain);
                buf[..n].copy_from_slice(&self.recv[self.plain..self.plain + n]);
                self.plain += n;
                if self.plain == self.plain_end {
                    self.start = self.record_end;
                }
                return Ok(n);
            }
            if self.peer_closed {
                return Ok(0);
            }
            if self.open_record().map_err(TlsError::counted)? {
                if self.sent < self.send.len() {
                    // A key update of ours: best effort now, the rest at the next write.
                    let _ = self.flush_to(sock);
                }
                continue;
            }
            if self.eof {
                return Err(TlsError::Protocol(
                    "the peer closed the connection without close_notify",
                )
                .counted());
            }
            self.fill_from(sock)?;
        }
    }

    /// Opens the next whole record in the buffer, if there is one: `Ok(true)` when a record
    /// was consumed (its plaintext, if application data, is then ready to read).
    fn open_record(&mut self) -> Result<bool, TlsError> {
        let State::Open(t) = &mut self.state else {
            return Err(TlsError::Protocol("reading before the handshake is done"));
        };
        let avail = &self.recv[self.start..self.end];
        if avail.len() < HEADER {
            return Ok(false);
        }
        let typ = ContentType::from(avail[0]);
        let version = ProtocolVersion::from(u16::from_be_bytes([avail[1], avail[2]]));
        let len = usize::from(u16::from_be_bytes([avail[3], avail[4]]));
        if len > MAX_CIPHERTEXT {
            return Err(TlsError::Protocol("a record longer than the protocol allows"));
        }
        if avail.len() < HEADER + len {
            return Ok(false);
        }
        if t.version == ProtocolVersion::TLSv1_3 && typ != ContentType::ApplicationData {
            return Err(TlsError::Protocol("an unprotected record after the handshake"));
        }
        if t.rx_seq == u64::MAX {
            return Err(TlsError::Protocol("the receive sequence number is spent"));
        }
        let body = self.start + HEADER;
        let record_end = body + len;
        let front = self.recv[body..].as_ptr();
        let msg = InboundOpaqueMessage::new(typ, version, &mut self.recv[body..record_end]);
        let plain = t.decrypter.decrypt(msg, t.rx_seq)?;
        t.rx_seq += 1;
        let (typ, n) = (plain.typ, plain.payload.len());
        // rustls' decrypters leave the plaintext at the front of the record's payload (the
        // TLS 1.2 explicit nonce is moved over): checked, not assumed.
        if n > MAX_PLAINTEXT || !std::ptr::eq(plain.payload.as_ptr(), front) {
            return Err(TlsError::Protocol("a decrypted record out of place or too long"));
        }
        match typ {
            ContentType::ApplicationData => {
                if !t.handshake.is_empty() {
                    return Err(TlsError::Protocol("application data inside a handshake message"));
                }
                self.plain = body;
                self.plain_end = body + n;
                self.record_end = record_end;
                if n == 0 {
                    self.start = record_end;
                }
            }
            ContentType::Alert => {
                self.start = record_end;
                let [level, desc] = self.recv[body..body + n] else {
                    return Err(TlsError::Protocol("a malformed alert"));
                };
                let desc = rustls::AlertDescription::from(desc);
                if desc == rustls::AlertDescription::CloseNotify {
                    self.peer_closed = true;
                } else if t.version == ProtocolVersion::TLSv1_3 || level != 1 {
                    // TLS 1.3: every alert but close_notify is fatal; TLS 1.2: level 2.
                    return Err(TlsError::Alert(desc));
                }
            }
            ContentType::Handshake => {
                self.start = record_end;
                if t.handshake.len() + n > MAX_HANDSHAKE_MESSAGE {
                    return Err(TlsError::Protocol("a post-handshake message too long"));
                }
                t.handshake.extend_from_slice(&self.recv[body..body + n]);
                t.handle_handshake(&mut self.send)?;
            }
            _ => return Err(TlsError::Protocol("an unexpected record after the handshake")),
        }
        Ok(true)
    }

    /// Encrypts `buf` (up to one record's worth) into the send queue and writes what the
    /// socket takes: the bytes taken, `WouldBlock` only when nothing was.
    pub(crate) fn write_to(&mut self, sock: &mut impl Write, buf: &[u8]) -> io::Result<usize> {
        let State::Open(t) = &mut self.state else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "TLS handshake not done"));
        };
        let n = buf.len().min(MAX_PLAINTEXT);
        t.seal(ContentType::ApplicationData, &buf[..n], &mut self.send)
            .map_err(TlsError::counted)?;
        match self.flush_to(sock) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }
}

impl Traffic {
    /// Encrypts one record of type `typ` into `out`.
    fn seal(&mut self, typ: ContentType, plain: &[u8], out: &mut Vec<u8>) -> Result<(), TlsError> {
        if self.tx_seq >= self.tx_limit {
            return Err(TlsError::Protocol("the send key's confidentiality limit is reached"));
        }
        let msg =
            OutboundPlainMessage { typ, version: ProtocolVersion::TLSv1_2, payload: plain.into() };
        let record = self.encrypter.encrypt(msg, self.tx_seq)?;
        self.tx_seq += 1;
        out.extend_from_slice(&record.encode());
        Ok(())
    }

    /// Handles the whole post-handshake messages buffered (session tickets, key updates),
    /// keeping a partial one for the next record.
    fn handle_handshake(&mut self, send: &mut Vec<u8>) -> Result<(), TlsError> {
        let mut at = 0;
        while let [typ, a, b, c, ..] = self.handshake[at..] {
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            let Some(body) = self.handshake.get(at + 4..at + 4 + len) else { break };
            match (self.version, HandshakeType::from(typ)) {
                (ProtocolVersion::TLSv1_3, HandshakeType::NewSessionTicket) => {
                    self.kernel.handle_new_session_ticket(body)?;
                }
                (ProtocolVersion::TLSv1_3, HandshakeType::KeyUpdate) => {
                    let requested = match body {
                        [0] => false,
                        [1] => true,
                        _ => return Err(TlsError::Protocol("a malformed key update")),
                    };
                    if at + 4 + len != self.handshake.len() {
                        // RFC 8446 5.1: a key change ends its record.
                        return Err(TlsError::Protocol("data after a key update in its record"));
                    }
                    let (seq, secrets) = self.kernel.update_rx_secret()?;
                    self.decrypter = decrypter(self.suite, secrets)?;
                    self.rx_seq = seq;
                    if requested {
                        // Answer under the old key, then switch ours.
                        let update = [u8::from(HandshakeType::KeyUpdate), 0, 0, 1, 0];
                        self.seal(ContentType::Handshake, &update, send)?;
                        let (seq, secrets) = self.kernel.update_tx_secret()?;
                        self.encrypter = encrypter(self.suite, secrets)?;
                        self.tx_seq = seq;
                    }
                }
                // TLS 1.2: a server asking to renegotiate; a client may ignore it (RFC 5246
                // 7.4.1.1), rustls does.
                (ProtocolVersion::TLSv1_2, HandshakeType::HelloRequest) if len == 0 => {}
                _ => return Err(TlsError::Protocol("an unexpected post-handshake message")),
            }
            at += 4 + len;
        }
        self.handshake.drain(..at);
        Ok(())
    }
}

/// The key and IV of `secrets`.
fn key_iv(
    secrets: ConnectionTrafficSecrets,
) -> Result<(rustls::crypto::cipher::AeadKey, rustls::crypto::cipher::Iv), TlsError> {
    match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => Ok((key, iv)),
        _ => Err(TlsError::Protocol("a cipher suite this record layer does not know")),
    }
}

/// rustls' decrypter of `suite` for `secrets`.
fn decrypter(
    suite: SupportedCipherSuite,
    secrets: ConnectionTrafficSecrets,
) -> Result<Box<dyn MessageDecrypter>, TlsError> {
    let (key, iv) = key_iv(secrets)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.decrypter(key, iv),
        SupportedCipherSuite::Tls12(s) => {
            // The extracted IV is the fixed part followed by the explicit nonce (GCM).
            let fixed = s.aead_alg.key_block_shape().fixed_iv_len;
            let fixed = iv.as_ref().get(..fixed).ok_or(TlsError::Protocol("a short IV"))?;
            s.aead_alg.decrypter(key, fixed)
        }
    })
}

/// rustls' encrypter of `suite` for `secrets`.
fn encrypter(
    suite: SupportedCipherSuite,
    secrets: ConnectionTrafficSecrets,
) -> Result<Box<dyn MessageEncrypter>, TlsError> {
    let (key, iv) = key_iv(secrets)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.encrypter(key, iv),
        SupportedCipherSuite::Tls12(s) => {
            let shape = s.aead_alg.key_block_shape();
            let iv = iv.as_ref();
            let end = shape.fixed_iv_len + shape.explicit_nonce_len;
            let (Some(fixed), Some(extra)) =
                (iv.get(..shape.fixed_iv_len), iv.get(shape.fixed_iv_len..end))
            else {
                return Err(TlsError::Protocol("a short IV"));
            };
            s.aead_alg.encrypter(key, fixed, extra)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use rustls::{RootCertStore, ServerConnection, StreamOwned};

    use super::*;

    type Server = StreamOwned<ServerConnection, TcpStream>;

    /// A client of a rustls server on loopback that runs `script` on its side of the
    /// connection (the simulator's test PKI, certificates verified); TLS 1.2 only with `tls12`.
    fn pair(
        tls12: bool,
        script: impl FnOnce(&mut Server) + Send + 'static,
    ) -> (TlsClient, TcpStream, JoinHandle<()>) {
        let pki = ladderfeed_sim::tls::Pki::generate(None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_config = Arc::clone(&pki.server);
        let server = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            let conn = ServerConnection::new(server_config).unwrap();
            let mut s = StreamOwned::new(conn, sock);
            script(&mut s);
        });
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = ClientConfig::builder_with_provider(super::super::tls::provider());
        let builder = if tls12 {
            builder.with_protocol_versions(&[&rustls::version::TLS12]).unwrap()
        } else {
            builder.with_safe_default_protocol_versions().unwrap()
        };
        let config = Arc::new(builder.with_root_certificates(roots).with_no_client_auth());
        let name = ServerName::try_from("localhost").unwrap();
        let client = TlsClient::new(&config, name).unwrap();
        let sock = TcpStream::connect(addr).unwrap();
        (client, sock, server)
    }

    /// Handshakes over a blocking socket.
    fn open(client: &mut TlsClient, sock: &mut TcpStream) {
        while !client.handshake(sock).unwrap() {}
        assert!(client.is_open());
    }

    /// Reads until `Ok(0)` or an error: what came, and how it ended.
    fn read_all(client: &mut TlsClient, sock: &mut TcpStream) -> (Vec<u8>, io::Result<()>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match client.read_from(sock, &mut buf) {
                Ok(0) => return (got, Ok(())),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Err(e)),
            }
        }
    }

    /// Data in many records and sizes, a key update the server asks us to answer, our write
    /// under the new keys, more data, then close_notify: all of it read, then the clean end.
    fn traffic_key_update_and_close_notify(tls12: bool) {
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let expect_big = big.clone();
        let (mut client, mut sock, server) = pair(tls12, move |s| {
            s.write_all(b"hello ").unwrap();
            s.write_all(&big).unwrap();
            s.flush().unwrap();
            if !tls12 {
                // TLS 1.3: the server updates its keys and asks for ours.
                s.conn.refresh_traffic_keys().unwrap();
            }
            s.write_all(b" after").unwrap();
            s.flush().unwrap();
            let mut ping = [0u8; 5];
            s.read_exact(&mut ping).unwrap();
            assert_eq!(&ping, b"ping!");
            s.write_all(b" bye").unwrap();
            s.conn.send_close_notify();
            s.flush().unwrap();
        });
        open(&mut client, &mut sock);
        let mut want = b"hello ".to_vec();
        want.extend_from_slice(&expect_big);
        want.extend_from_slice(b" after");
        let mut got = vec![0u8; want.len()];
        let mut at = 0;
        while at < got.len() {
            at += client.read_from(&mut sock, &mut got[at..]).unwrap();
        }
        assert_eq!(got, want);
        // Written under our new keys (TLS 1.3): the server decrypts it.
        assert_eq!(client.write_to(&mut sock, b"ping!").unwrap(), 5);
        client.flush_to(&mut sock).unwrap();
        let (rest, end) = read_all(&mut client, &mut sock);
        assert_eq!(rest, b" bye");
        end.unwrap();
        server.join().unwrap();
    }

    #[test]
    fn tls13_traffic_key_update_and_close_notify() {
        traffic_key_update_and_close_notify(false);
    }

    #[test]
    fn tls12_traffic_and_close_notify() {
        traffic_key_update_and_close_notify(true);
    }

    #[test]
    fn a_forged_record_is_an_error_after_everything_before_it() {
        let (mut client, mut sock, server) = pair(false, |s| {
            s.write_all(b"good").unwrap();
            s.flush().unwrap();
            // A record that does not authenticate (right framing, wrong bytes).
            let mut forged = vec![23u8, 3, 3, 0, 40];
            forged.extend_from_slice(&[7u8; 40]);
            s.sock.write_all(&forged).unwrap();
            s.sock.flush().unwrap();
        });
        open(&mut client, &mut sock);
        let before = record_errors();
        let (got, end) = read_all(&mut client, &mut sock);
        assert_eq!(got, b"good");
        let e = end.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("TLS"), "{e}");
        assert!(record_errors() > before);
        server.join().unwrap();
    }

    #[test]
    fn an_end_without_close_notify_is_an_error_after_the_data() {
        let (mut client, mut sock, server) = pair(false, |s| {
            s.write_all(b"last words").unwrap();
            s.flush().unwrap();
            s.sock.shutdown(std::net::Shutdown::Write).unwrap();
        });
        open(&mut client, &mut sock);
        let (got, end) = read_all(&mut client, &mut sock);
        assert_eq!(got, b"last words");
        assert!(end.unwrap_err().to_string().contains("close_notify"));
        server.join().unwrap();
    }

    #[test]
    fn a_fatal_alert_is_an_error() {
        let (mut client, mut sock, server) = pair(false, |s| {
            s.write_all(b"x").unwrap();
            s.flush().unwrap();
            // The client's forged record: rustls refuses it and sends bad_record_mac.
            let mut buf = [0u8; 16];
            assert!(s.read(&mut buf).is_err());
        });
        open(&mut client, &mut sock);
        let mut x = [0u8; 1];
        assert_eq!(client.read_from(&mut sock, &mut x).unwrap(), 1);
        assert_eq!(&x, b"x");
        let mut forged = vec![23u8, 3, 3, 0, 40];
        forged.extend_from_slice(&[7u8; 40]);
        sock.write_all(&forged).unwrap();
        let (got, end) = read_all(&mut client, &mut sock);
        assert!(got.is_empty());
        let e = end.unwrap_err();
        assert!(e.to_string().contains("BadRecordMac"), "{e}");
        server.join().unwrap();
    }

    #[test]
    fn an_untrusted_certificate_is_refused() {
        let (_, mut sock, server) = pair(false, |s| {
            let _ = s.conn.complete_io(&mut s.sock);
        });
        // The test CA is not among the webpki roots.
        let mut client = TlsClient::new(
            &Arc::new(
                ClientConfig::builder_with_provider(super::super::tls::provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    })
                    .with_no_client_auth(),
            ),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let r = loop {
            match client.handshake(&mut sock) {
                Ok(false) => {}
                other => break other,
            }
        };
        assert!(matches!(r, Err(TlsError::Rustls(_))), "{r:?}");
        drop(sock);
        server.join().unwrap();
    }
}

/// The read path's cost per record, ours against rustls' buffered connection (the code this
/// module replaced), over loopback: `cargo test --release --lib tls_read_cost -- --ignored
/// --nocapture`.
#[cfg(test)]
mod cost {
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use rustls::{ClientConnection, RootCertStore, ServerConnection, StreamOwned};

    use super::*;

    /// Records per run and their plaintext size (a typical market-data frame).
    const RECORDS: usize = 8_000;
    const SIZE: usize = 200;

    /// A server that writes `RECORDS` records of `SIZE` bytes, each flushed (one record
    /// each), then waits for a byte; and the client's socket and configuration.
    fn serve() -> (TcpStream, Arc<ClientConfig>, std::thread::JoinHandle<()>) {
        let pki = ladderfeed_sim::tls::Pki::generate(None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_config = Arc::clone(&pki.server);
        let server = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            let _ = socket2::SockRef::from(&sock).set_send_buffer_size(8 << 20);
            let mut s = StreamOwned::new(ServerConnection::new(server_config).unwrap(), sock);
            let frame = [b'x'; SIZE];
            for _ in 0..RECORDS {
                s.write_all(&frame).unwrap();
                s.flush().unwrap();
            }
            let mut done = [0u8; 1];
            let _ = s.read(&mut done);
        });
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = ClientConfig::builder_with_provider(super::super::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.enable_secret_extraction = true;
        let sock = TcpStream::connect(addr).unwrap();
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(8 << 20);
        (sock, Arc::new(config), server)
    }

    /// Waits until every record is in the client's socket buffer (so only the read path is
    /// timed), approximately: the bytes on the wire are about 222 per record.
    fn settle() {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    fn ours() -> f64 {
        let (mut sock, config, server) = serve();
        let mut c = TlsClient::new(&config, ServerName::try_from("localhost").unwrap()).unwrap();
        while !c.handshake(&mut sock).unwrap() {}
        settle();
        let mut buf = [0u8; 4096];
        let (mut got, t) = (0, Instant::now());
        while got < RECORDS * SIZE {
            got += c.read_from(&mut sock, &mut buf).unwrap();
        }
        let ns = t.elapsed().as_nanos() as f64 / RECORDS as f64;
        c.write_to(&mut sock, b"!").unwrap();
        server.join().unwrap();
        ns
    }

    fn buffered() -> f64 {
        let (mut sock, config, server) = serve();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(config, name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        settle();
        let mut buf = [0u8; 4096];
        let (mut got, t) = (0, Instant::now());
        while got < RECORDS * SIZE {
            match conn.reader().read(&mut buf) {
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.read_tls(&mut sock).unwrap();
                    conn.process_new_packets().unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        let ns = t.elapsed().as_nanos() as f64 / RECORDS as f64;
        conn.writer().write_all(b"!").unwrap();
        conn.complete_io(&mut sock).unwrap();
        server.join().unwrap();
        ns
    }

    #[test]
    #[ignore = "a measurement: run it on purpose, in release"]
    fn tls_read_cost() {
        for round in 1..=5 {
            let (a, b) = (buffered(), ours());
            eprintln!(
                "round {round}: {RECORDS} records of {SIZE} B: rustls buffered {a:.0} ns/record, \
                 in place {b:.0} ns/record"
            );
        }
    }
}
