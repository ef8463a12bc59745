//! The other-hosts transport: Zenoh peer to peer (feature `zenoh`), no broker.
//!
//! `zenoh:ENDPOINT[#KEY]`: the publisher listens on `ENDPOINT` (a Zenoh locator such as
//! `tcp/127.0.0.1:7447`) and subscribers connect to it. Nothing else is opened: multicast
//! scouting and gossip are off, and a subscriber listens nowhere. The stream is put on
//! `KEY/stream` (default key `ladderfeed`) with congestion control `Drop` and no wait before
//! dropping: a subscriber that cannot keep up loses samples and the publisher never waits.
//! Zenoh batches samples only under back-pressure (adaptive batching), so an idle link sends
//! each sample at once. Snapshots are a queryable on `KEY/snapshot`.

use std::borrow::Cow;

use zenoh::handlers::{FifoChannel, FifoChannelHandler};
use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::qos::CongestionControl;
use zenoh::query::{Query, Queryable, Reply};
use zenoh::sample::Sample;
use zenoh::{Config, Session, Wait};

use super::{Source, Transport, TransportError};

/// The key prefix when the spec names none.
pub const DEFAULT_KEY: &str = "ladderfeed";

/// Splits `ENDPOINT[#KEY]`.
fn split(spec: &str) -> (&str, &str) {
    match spec.split_once('#') {
        Some((endpoint, key)) if !key.is_empty() => (endpoint, key),
        Some((endpoint, _)) => (endpoint, DEFAULT_KEY),
        None => (spec, DEFAULT_KEY),
    }
}

fn err(spec: &str, what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::new(format!("zenoh:{spec}"), format!("{what}: {e}"))
}

/// A peer that talks to `endpoint` only: listening on it (`listen`) or connecting to it.
fn session(spec: &str, endpoint: &str, listen: bool) -> Result<Session, TransportError> {
    let mut config = Config::default();
    let quoted = serde_json::to_string(endpoint).map_err(|e| err(spec, "endpoint", e))?;
    let (listen_on, connect_to) = if listen {
        (format!("[{quoted}]"), "[]".to_string())
    } else {
        ("[]".into(), format!("[{quoted}]"))
    };
    let settings = [
        ("mode", "\"peer\"".to_string()),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
        ("listen/endpoints", listen_on),
        ("connect/endpoints", connect_to),
        // Keep retrying in the background: a subscriber may start before its publisher.
        ("connect/timeout_ms", "-1".into()),
        ("connect/exit_on_failure", "false".into()),
        // Queue up to 16 batches of 64 KiB per priority, and drop at once rather than wait for
        // a free batch (the default waits up to 1 ms): the publisher never stalls.
        ("transport/link/tx/queue/size/data", "16".into()),
        ("transport/link/tx/queue/congestion_control/drop/wait_before_drop", "0".into()),
        (
            "connect/retry",
            "{period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2}".into(),
        ),
    ];
    for (key, value) in settings {
        config.insert_json5(key, &value).map_err(|e| err(spec, key, e))?;
    }
    zenoh::open(config).wait().map_err(|e| err(spec, "opening the session", e))
}

/// The publishing end of `zenoh:ENDPOINT[#KEY]`.
pub struct ZenohTransport {
    spec: String,
    publisher: Publisher<'static>,
    queryable: Queryable<FifoChannelHandler<Query>>,
    queries: Vec<Query>,
    session: Session,
}

impl std::fmt::Debug for ZenohTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenohTransport").field("spec", &self.spec).finish()
    }
}

impl ZenohTransport {
    /// Listens on the endpoint and declares the stream and the snapshot queryable.
    pub fn open(spec: &str) -> Result<Self, TransportError> {
        let (endpoint, key) = split(spec);
        let session = session(spec, endpoint, true)?;
        let publisher = session
            .declare_publisher(format!("{key}/stream"))
            .congestion_control(CongestionControl::Drop)
            .wait()
            .map_err(|e| err(spec, "declaring the publisher", e))?;
        let queryable = session
            .declare_queryable(format!("{key}/snapshot"))
            .with(FifoChannel::new(64))
            .wait()
            .map_err(|e| err(spec, "declaring the snapshot queryable", e))?;
        Ok(ZenohTransport {
            spec: spec.to_string(),
            publisher,
            queryable,
            queries: Vec::new(),
            session,
        })
    }
}

impl Transport for ZenohTransport {
    fn describe(&self) -> String {
        format!("zenoh:{}", self.spec)
    }

    fn send(&mut self, sample: &[u8]) -> Result<(), TransportError> {
        self.publisher.put(sample.to_vec()).wait().map_err(|e| err(&self.spec, "put", e))
    }

    fn send_last(&mut self, sample: &[u8]) -> Result<(), TransportError> {
        // The end marker waits for room (Zenoh gives up after its `wait_before_close`, 5 s,
        // for a subscriber that is stopped but connected): nothing follows it.
        self.session
            .put(self.publisher.key_expr(), sample.to_vec())
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(|e| err(&self.spec, "put (end of stream)", e))
    }

    fn take_requests(&mut self) -> Result<usize, TransportError> {
        while let Ok(Some(query)) = self.queryable.try_recv() {
            self.queries.push(query);
        }
        Ok(self.queries.len())
    }

    fn answer(&mut self, snapshot: &[u8]) -> Result<(), TransportError> {
        for query in self.queries.drain(..) {
            query
                .reply(query.key_expr().clone(), snapshot.to_vec())
                .wait()
                .map_err(|e| err(&self.spec, "replying with a snapshot", e))?;
        }
        Ok(())
    }

    fn has_subscribers(&mut self) -> bool {
        self.publisher.matching_status().wait().is_ok_and(|s| s.matching())
    }
}

/// The subscribing end of `zenoh:ENDPOINT[#KEY]`.
pub struct ZenohSource {
    spec: String,
    key: String,
    subscriber: Subscriber<FifoChannelHandler<Sample>>,
    replies: Option<FifoChannelHandler<Reply>>,
    session: Session,
}

impl std::fmt::Debug for ZenohSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenohSource").field("spec", &self.spec).finish()
    }
}

impl ZenohSource {
    /// Connects to the endpoint (retrying in the background until the publisher is there) and
    /// subscribes to the stream, keeping up to `queue` samples between two polls.
    pub fn open(spec: &str, queue: usize) -> Result<Self, TransportError> {
        let (endpoint, key) = split(spec);
        let session = session(spec, endpoint, false)?;
        let subscriber = session
            .declare_subscriber(format!("{key}/stream"))
            .with(FifoChannel::new(queue.max(1)))
            .wait()
            .map_err(|e| err(spec, "declaring the subscriber", e))?;
        Ok(ZenohSource {
            spec: spec.to_string(),
            key: key.to_string(),
            subscriber,
            replies: None,
            session,
        })
    }
}

impl Source for ZenohSource {
    fn describe(&self) -> String {
        format!("zenoh:{}", self.spec)
    }

    fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut n = 0;
        while let Ok(Some(sample)) = self.subscriber.try_recv() {
            let bytes: Cow<'_, [u8]> = sample.payload().to_bytes();
            f(&bytes);
            n += 1;
        }
        Ok(n)
    }

    fn request_snapshot(&mut self) -> Result<(), TransportError> {
        let replies = self
            .session
            .get(format!("{}/snapshot", self.key))
            .wait()
            .map_err(|e| err(&self.spec, "asking for a snapshot", e))?;
        self.replies = Some(replies);
        Ok(())
    }

    fn poll_snapshot(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let Some(replies) = &self.replies else { return Ok(0) };
        let mut n = 0;
        while let Ok(Some(reply)) = replies.try_recv() {
            if let Ok(sample) = reply.result() {
                let bytes = sample.payload().to_bytes();
                f(&bytes);
                n += 1;
            }
        }
        if n > 0 {
            self.replies = None;
        }
        Ok(n)
    }
}
