//! The live path: one thread, pinned, owns every connection and busy-polls them.
//!
//! - [`tls`]: rustls with the *ring* provider chosen explicitly, certificates always verified
//!   against the webpki roots (plus `--ca-file` anchors), SNI sent, TLS 1.2 at least. There is
//!   no way to turn verification off.
//! - `stream`: a non-blocking TCP stream with optional TLS, read and written as the socket
//!   allows.
//! - `tls_io`: the TLS client over it: rustls' unbuffered connection for the handshake, then
//!   records decrypted in place in a reused buffer (no allocation per record), key updates and
//!   session tickets handed back to rustls ([`tls::record_errors`] counts the failures).
//! - `url`: the small URL parser the connections need.
//! - `http`: a non-blocking HTTP/1.1 GET (Binance's REST depth snapshot, instrument lists) or
//!   POST of a JSON body (Hyperliquid's `/info`) over the same TLS.
//! - [`live`]: the event loop: per connection read, frame (tungstenite), parse, apply, publish;
//!   reconnects with capped exponential backoff and jitter, stale-feed detection, REST
//!   snapshots with 429/418 honoured.

pub(crate) mod http;
pub mod live;
pub(crate) mod stream;
pub mod tls;
pub(crate) mod tls_io;
pub(crate) mod url;

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A socket call failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS refused the connection (certificate, protocol).
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A URL that cannot be used.
    #[error("URL {url:?}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The trust anchors could not be loaded.
    #[error("CA file {path}: {why}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The WebSocket or HTTP exchange failed.
    #[error("{0}")]
    Protocol(String),
    /// Nothing arrived in time.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The connection's session could not be made (the venue refused its configuration, or
    /// the instrument ids are spent).
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// The host's addresses are being looked up (on a side thread, never the network
    /// thread's): not a failure, try again on a later turn.
    #[error("resolving the host")]
    Resolving,
}
