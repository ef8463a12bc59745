//! Fan-out: one feed handler, many strategy processes, on this host (iceoryx2, shared memory)
//! and on others (Zenoh, TCP).
//!
//! The stream a [`Consumer`](crate::consumer::Consumer) pops in-process travels as
//! [`wire`] samples: fixed-size little-endian records, the same 64 bytes as an [`Event`],
//! numbered by a stream sequence number. The publishing side ([`Fanout`]) runs on the
//! consumer thread, after the ring: the feed's network thread never waits for a transport,
//! and a slow or stopped subscriber only loses samples (it sees how many from the sequence
//! numbers). The receiving side ([`Subscriber`]) yields the same [`Event`]s as the in-process
//! consumer, with the instrument table rebuilt from the stream.
//!
//! A subscriber that joins a running stream first asks the publisher for its last-value cache
//! (a snapshot: every instrument definition, each book's last BBO, state and top N), applies
//! it, then the live records that follow it; one that is there from the stream's first record
//! needs none.
//!
//! The transports are behind features: `iceoryx2` ([`ipc`]) and `zenoh` ([`net`]); this
//! module's transport-independent part ([`Fanout`], [`Subscriber`], [`wire`]) is always
//! built and tested with in-memory transports.
//!
//! ```
//! use ladderfeed::fanout::{Fanout, Subscriber, memory};
//! use ladderfeed::event::{Bbo, BookState, Event, Stamps};
//!
//! let (publisher_end, subscriber_end) = memory::pair(1024);
//! let mut fanout = Fanout::new(vec![Box::new(publisher_end)]);
//! let mut subscriber = Subscriber::new(subscriber_end);
//! let t = Stamps { exch_ts: 1, local_ts: 2, parsed_ts: 3 };
//! let bbo = Bbo { bid_tick: 100, bid_lots: 1, ask_tick: 101, ask_lots: 2 };
//! fanout.push(&Event::bbo(t, 0, BookState::Synced, bbo), t.local_ts);
//! fanout.flush();
//! let mut got = Vec::new();
//! subscriber.poll(|ev| got.push(*ev)).unwrap();
//! assert_eq!(got[0].as_bbo(), Some(bbo));
//! assert_eq!(subscriber.stats().lost, 0);
//! ```

pub mod lvc;
pub mod memory;
pub mod wire;

#[cfg(test)]
mod tests;

#[cfg(feature = "iceoryx2")]
pub mod ipc;
#[cfg(feature = "zenoh")]
pub mod net;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::consumer::Instruments;
use crate::event::Event;

use self::lvc::LastValues;
use self::wire::{SampleBuf, FLAG_END, FLAG_SNAPSHOT, MAX_STREAM_RECORDS};

/// A transport's failure (opening it, or one send or receive).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{transport}: {message}")]
pub struct TransportError {
    /// The transport and its endpoint, e.g. `zenoh:tcp/127.0.0.1:7447`.
    pub transport: String,
    /// What went wrong.
    pub message: String,
}

impl TransportError {
    /// An error of `transport`.
    pub fn new(transport: impl Into<String>, message: impl std::fmt::Display) -> Self {
        TransportError { transport: transport.into(), message: message.to_string() }
    }
}

/// The publishing end of one transport. Sends never block: a sample that cannot go out now is
/// dropped (and counted by [`Fanout`]).
pub trait Transport: Send {
    /// The transport and its endpoint, e.g. `iceoryx2:ladderfeed`.
    fn describe(&self) -> String;
    /// Sends one sample to every subscriber that can take it now.
    fn send(&mut self, sample: &[u8]) -> Result<(), TransportError>;
    /// Snapshot requests received since the last call, queued inside the transport.
    fn take_requests(&mut self) -> Result<usize, TransportError>;
    /// Answers every queued request with `snapshot`.
    fn answer(&mut self, snapshot: &[u8]) -> Result<(), TransportError>;
    /// `true` once at least one subscriber is connected.
    fn has_subscribers(&mut self) -> bool;
    /// Sends the stream's last sample (the end marker). By default as any other; a transport
    /// that drops under congestion may try harder here, since nothing follows it.
    fn send_last(&mut self, sample: &[u8]) -> Result<(), TransportError> {
        self.send(sample)
    }
}

/// The receiving end of one transport.
pub trait Source: Send {
    /// The transport and its endpoint.
    fn describe(&self) -> String;
    /// Hands every stream sample ready to `f`, in order; returns how many.
    fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError>;
    /// Asks the publisher for its last-value snapshot.
    fn request_snapshot(&mut self) -> Result<(), TransportError>;
    /// Hands the snapshot answers that arrived to `f`; returns how many.
    fn poll_snapshot(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError>;
}

/// What a [`Fanout`] did, per run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanoutStats {
    /// Records given to the transports (the stream's length).
    pub records: u64,
    /// Samples handed to the transports (per transport, summed).
    pub samples: u64,
    /// Samples a transport refused (counted per transport); their records are the gaps
    /// subscribers see.
    pub send_failures: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Snapshots served to joining subscribers.
    pub snapshots: u64,
    /// The first transport error, if any.
    pub first_error: Option<String>,
}

/// After this long without a record, a heartbeat tells subscribers the stream is alive and
/// where it stands.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often an idle publisher looks for snapshot requests.
const REQUEST_POLL: Duration = Duration::from_millis(1);

/// The publishing side: batches records into samples, numbers them, keeps the last-value
/// cache, answers snapshot requests and sends heartbeats. Runs on one thread (the consumer's).
pub struct Fanout {
    transports: Vec<Box<dyn Transport>>,
    batch: SampleBuf,
    snapshot: SampleBuf,
    stream_id: u64,
    /// The sequence number of the next record pushed.
    next_seq: u64,
    /// The sequence number of the batch's first record.
    batch_first: u64,
    lvc: LastValues,
    last_sent: Instant,
    last_polled: Instant,
    stats: FanoutStats,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("transports", &self.describe())
            .field("stream_id", &self.stream_id)
            .field("next_seq", &self.next_seq)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Fanout {
    /// Publishes onto `transports`, as a new stream (a fresh random stream id).
    pub fn new(transports: Vec<Box<dyn Transport>>) -> Self {
        Fanout {
            transports,
            batch: SampleBuf::with_capacity(MAX_STREAM_RECORDS),
            snapshot: SampleBuf::with_capacity(MAX_STREAM_RECORDS),
            stream_id: stream_id(),
            next_seq: 0,
            batch_first: 0,
            lvc: LastValues::default(),
            last_sent: Instant::now(),
            last_polled: Instant::now().checked_sub(REQUEST_POLL).unwrap_or_else(Instant::now),
            stats: FanoutStats::default(),
        }
    }

    /// The transports, as `kind:endpoint` texts.
    pub fn describe(&self) -> Vec<String> {
        self.transports.iter().map(|t| t.describe()).collect()
    }

    /// This run's stream id.
    pub fn stream_id(&self) -> u64 {
        self.stream_id
    }

    /// What was done so far.
    pub fn stats(&self) -> &FanoutStats {
        &self.stats
    }

    /// Adds one event; `local_ts` is the time its rows carry (the receive time; a replay's
    /// recorded time). Sends a sample when the batch is full.
    #[inline]
    pub fn push(&mut self, ev: &Event, local_ts: u64) {
        self.batch.push(ev, local_ts, self.next_seq as u32);
        self.next_seq += 1;
        self.lvc.observe(ev, local_ts);
        if self.batch.len() >= MAX_STREAM_RECORDS {
            self.flush();
        }
    }

    /// Sends what the batch holds (at the end of each batch popped from the ring, so a record
    /// waits at most for the others popped with it).
    #[inline]
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let sample = self.batch.finish(0, self.stream_id, self.batch_first);
        send_all(&mut self.transports, sample, &mut self.stats);
        self.stats.records += self.batch.len() as u64;
        self.batch.clear();
        self.batch_first = self.next_seq;
        self.last_sent = Instant::now();
    }

    /// The moments the ring is empty: sends the batch, answers snapshot requests, and sends a
    /// heartbeat after [`HEARTBEAT`] without records.
    pub fn idle(&mut self) {
        self.flush();
        // The transports are asked for snapshot requests at most every millisecond: an idle
        // spin stays short, so a record arriving meanwhile waits little.
        let now = Instant::now();
        if now.duration_since(self.last_polled) < REQUEST_POLL {
            return;
        }
        self.last_polled = now;
        let mut asked = false;
        for t in &mut self.transports {
            match t.take_requests() {
                Ok(n) => asked |= n > 0,
                Err(e) => note_error(&mut self.stats, &e),
            }
        }
        if asked {
            self.snapshot.clear();
            self.lvc.write(&mut self.snapshot);
            let sample = self.snapshot.finish(FLAG_SNAPSHOT, self.stream_id, self.next_seq);
            for t in &mut self.transports {
                if let Err(e) = t.answer(sample) {
                    note_error(&mut self.stats, &e);
                }
            }
            self.stats.snapshots += 1;
        }
        if self.last_sent.elapsed() >= HEARTBEAT {
            self.heartbeat();
        }
    }

    fn heartbeat(&mut self) {
        self.batch.clear();
        let sample = self.batch.finish(0, self.stream_id, self.next_seq);
        send_all(&mut self.transports, sample, &mut self.stats);
        self.stats.heartbeats += 1;
        self.last_sent = Instant::now();
    }

    /// Waits up to `timeout` until every transport has a subscriber (for replays that must not
    /// start before their audience); `false` if one still has none.
    pub fn wait_for_subscribers(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.transports.iter_mut().all(|t| t.has_subscribers()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.idle();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends what is left and the end-of-stream sample; returns the figures.
    pub fn finish(mut self) -> FanoutStats {
        self.flush();
        self.batch.clear();
        let sample = self.batch.finish(FLAG_END, self.stream_id, self.next_seq);
        for t in &mut self.transports {
            self.stats.samples += 1;
            if let Err(e) = t.send_last(sample) {
                self.stats.send_failures += 1;
                note_error(&mut self.stats, &e);
            }
        }
        self.stats.clone()
    }
}

fn send_all(transports: &mut [Box<dyn Transport>], sample: &[u8], stats: &mut FanoutStats) {
    for t in transports {
        stats.samples += 1;
        if let Err(e) = t.send(sample) {
            stats.send_failures += 1;
            note_error(stats, &e);
        }
    }
}

fn note_error(stats: &mut FanoutStats, e: &TransportError) {
    if stats.first_error.is_none() {
        stats.first_error = Some(e.to_string());
    }
}

/// A stream id: random enough to tell two runs apart.
fn stream_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::clock::realtime_ns());
    h.write_u32(std::process::id());
    h.finish() | 1
}

/// What a [`Subscriber`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberStats {
    /// Stream samples received (heartbeats included).
    pub samples: u64,
    /// Records handed out (snapshot records included).
    pub records: u64,
    /// Records handed out from snapshots.
    pub snapshot_records: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Records lost: gaps in the stream sequence numbers (a slow subscriber's samples
    /// overwritten, or a publisher's failed sends).
    pub lost: u64,
    /// Samples refused as malformed (bad magic, version or length).
    pub malformed: u64,
    /// Publisher restarts seen (a new stream id).
    pub restarts: u64,
    /// Joins mid-stream whose snapshot never came (the publisher ended first, or did not
    /// answer within [`JOIN_TIMEOUT`]): the stream was taken as it was, and the records
    /// before it counted as lost.
    pub unanswered_joins: u64,
    /// `true` once the publisher ended its stream.
    pub ended: bool,
    /// The first malformed sample's error.
    pub first_error: Option<String>,
}

/// Stream samples a joining subscriber keeps while it waits for its snapshot.
const JOIN_BUFFER_SAMPLES: usize = 1 << 16;

/// Where a subscriber stands.
#[derive(Debug)]
enum Phase {
    /// No stream seen yet, or a stream joined mid-way whose snapshot is awaited; the stream's
    /// samples are kept until it comes.
    Joining {
        buffered: VecDeque<Vec<u8>>,
        asked: Option<Instant>,
        /// When the first sample of the stream being joined arrived.
        since: Option<Instant>,
        /// A kept sample ends the stream: no snapshot will come.
        ended: bool,
    },
    /// Records flow.
    Live,
}

/// The receiving side: yields the stream's [`Event`]s in order, with the instrument table,
/// after the last-value snapshot when it joined a running stream. See the [module docs](self).
pub struct Subscriber<S: Source> {
    source: S,
    phase: Phase,
    stream: Option<u64>,
    next_seq: u64,
    instruments: Instruments,
    stats: SubscriberStats,
    /// Samples taken from the source on this poll (reused).
    inbox: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

impl<S: Source> std::fmt::Debug for Subscriber<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("source", &self.source.describe())
            .field("stream", &self.stream)
            .field("next_seq", &self.next_seq)
            .field("stats", &self.stats)
            .finish()
    }
}

/// How long a joining subscriber waits for a snapshot before asking again.
const SNAPSHOT_RETRY: Duration = Duration::from_millis(500);
/// How long a joining subscriber waits for a snapshot at all, from the stream's first sample.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(3);

impl<S: Source> Subscriber<S> {
    /// Reads from `source`.
    pub fn new(source: S) -> Self {
        Subscriber {
            source,
            phase: Phase::Joining {
                buffered: VecDeque::new(),
                asked: None,
                since: None,
                ended: false,
            },
            stream: None,
            next_seq: 0,
            instruments: Instruments::default(),
            stats: SubscriberStats::default(),
            inbox: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// The instrument table, as the stream defined it so far.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// What was seen so far.
    pub fn stats(&self) -> &SubscriberStats {
        &self.stats
    }

    /// The transport's description.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// Hands every event ready to `f`, in stream order; returns how many.
    pub fn poll(&mut self, mut f: impl FnMut(&Event)) -> Result<usize, TransportError> {
        let mut inbox = std::mem::take(&mut self.inbox);
        let spare = &mut self.spare;
        self.source.poll(&mut |sample| {
            let mut buf = spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(sample);
            inbox.push(buf);
        })?;
        let before = self.stats.records;
        for sample in inbox.drain(..) {
            self.on_sample(sample, &mut f);
        }
        self.inbox = inbox;
        if let Phase::Joining { asked, since, ended, .. } = &mut self.phase {
            if asked.is_none_or(|t| t.elapsed() >= SNAPSHOT_RETRY) {
                *asked = Some(Instant::now());
                self.source.request_snapshot()?;
            }
            let mut answers = Vec::new();
            self.source.poll_snapshot(&mut |s| answers.push(s.to_vec()))?;
            // No snapshot will come once the stream ended, nor after a long wait (a publisher
            // that does not answer): take the stream as it is, counting what came before as
            // lost.
            let waited = since.is_some_and(|t| t.elapsed() >= JOIN_TIMEOUT);
            if answers.is_empty() && (*ended || waited) {
                self.give_up_joining(&mut f);
            }
            for answer in answers {
                self.on_snapshot(&answer, &mut f);
            }
        }
        Ok((self.stats.records - before) as usize)
    }

    fn give_up_joining(&mut self, f: &mut impl FnMut(&Event)) {
        let Phase::Joining { buffered, .. } = std::mem::replace(&mut self.phase, Phase::Live)
        else {
            return;
        };
        self.stats.unanswered_joins += 1;
        self.next_seq = 0;
        for sample in buffered {
            let ours = wire::decode(&sample).is_ok_and(|(h, _)| Some(h.stream_id) == self.stream);
            if ours {
                self.deliver(&sample, f);
            }
            self.spare.push(sample);
        }
    }

    fn malformed(&mut self, e: wire::WireError) {
        self.stats.malformed += 1;
        if self.stats.first_error.is_none() {
            self.stats.first_error = Some(e.to_string());
        }
    }

    fn on_sample(&mut self, sample: Vec<u8>, f: &mut impl FnMut(&Event)) {
        let header = match wire::decode(&sample) {
            Ok((h, _)) => h,
            Err(e) => {
                self.malformed(e);
                self.spare.push(sample);
                return;
            }
        };
        if header.is_snapshot() {
            // Snapshots come as answers, not on the stream.
            self.spare.push(sample);
            return;
        }
        self.stats.samples += 1;
        if self.stream != Some(header.stream_id) {
            if self.stream.is_some() {
                self.stats.restarts += 1;
            }
            self.stream = Some(header.stream_id);
            self.stats.ended = false;
            self.phase = if header.first_seq == 0 {
                self.next_seq = 0;
                Phase::Live
            } else {
                Phase::Joining {
                    buffered: VecDeque::new(),
                    asked: None,
                    since: Some(Instant::now()),
                    ended: false,
                }
            };
        }
        match &mut self.phase {
            Phase::Live => {
                self.deliver(&sample, f);
                self.spare.push(sample);
            }
            Phase::Joining { buffered, since, ended, .. } => {
                since.get_or_insert_with(Instant::now);
                *ended |= header.is_end();
                if buffered.len() >= JOIN_BUFFER_SAMPLES {
                    if let Some(old) = buffered.pop_front() {
                        self.spare.push(old);
                    }
                }
                buffered.push_back(sample);
            }
        }
    }

    /// Hands out a live sample's records from the one expected next.
    fn deliver(&mut self, sample: &[u8], f: &mut impl FnMut(&Event)) {
        let Ok((header, records)) = wire::decode(sample) else { return };
        if header.is_end() {
            self.stats.ended = true;
        }
        if header.first_seq > self.next_seq {
            self.stats.lost += header.first_seq - self.next_seq;
            self.next_seq = header.first_seq;
        }
        let skip = (self.next_seq - header.first_seq) as usize;
        for ev in records.skip(skip) {
            self.instruments.observe(&ev);
            self.stats.records += 1;
            self.next_seq += 1;
            f(&ev);
        }
    }

    fn on_snapshot(&mut self, answer: &[u8], f: &mut impl FnMut(&Event)) {
        let (header, records) = match wire::decode(answer) {
            Ok(x) => x,
            Err(e) => return self.malformed(e),
        };
        if !header.is_snapshot() || self.stream.is_some_and(|s| s != header.stream_id) {
            return;
        }
        self.stream = Some(header.stream_id);
        let Phase::Joining { buffered, .. } = std::mem::replace(&mut self.phase, Phase::Live)
        else {
            return;
        };
        for ev in records {
            self.instruments.observe(&ev);
            self.stats.records += 1;
            self.stats.snapshot_records += 1;
            f(&ev);
        }
        self.stats.snapshots += 1;
        self.next_seq = header.first_seq;
        for sample in buffered {
            // Records before the snapshot's point are in it: skipped, not lost.
            // (`deliver` skips what a partly covered sample holds before that point.)
            let covered = wire::decode(&sample).is_ok_and(|(h, _)| {
                h.stream_id != header.stream_id
                    || (h.first_seq + u64::from(h.count) <= self.next_seq && !h.is_end())
            });
            if !covered {
                self.deliver(&sample, f);
            }
            self.spare.push(sample);
        }
    }
}

impl Source for Box<dyn Source> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        (**self).poll(f)
    }

    fn request_snapshot(&mut self) -> Result<(), TransportError> {
        (**self).request_snapshot()
    }

    fn poll_snapshot(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        (**self).poll_snapshot(f)
    }
}

/// Splits a transport spec, `iceoryx2:SERVICE` or `zenoh:ENDPOINT[#KEY]`, checking that the
/// kind is known and the rest is not empty.
pub fn parse_spec(spec: &str) -> Result<(&str, &str), TransportError> {
    match spec.split_once(':') {
        Some((kind @ ("iceoryx2" | "zenoh"), rest)) if !rest.is_empty() => Ok((kind, rest)),
        _ => Err(TransportError::new(
            spec,
            "expected iceoryx2:SERVICE or zenoh:ENDPOINT[#KEY] (e.g. zenoh:tcp/127.0.0.1:7447)",
        )),
    }
}

fn not_built(spec: &str, feature: &str) -> TransportError {
    TransportError::new(
        spec,
        format!("this build has no {feature} transport (build with the cargo feature `{feature}`)"),
    )
}

/// Opens the publishing end named by `spec` (see [`parse_spec`]).
pub fn publish_to(spec: &str) -> Result<Box<dyn Transport>, TransportError> {
    let (kind, rest) = parse_spec(spec)?;
    let _ = rest;
    match kind {
        #[cfg(feature = "iceoryx2")]
        "iceoryx2" => Ok(Box::new(ipc::IpcTransport::open(rest)?)),
        #[cfg(feature = "zenoh")]
        "zenoh" => Ok(Box::new(net::ZenohTransport::open(rest)?)),
        other => Err(not_built(spec, other)),
    }
}

/// Samples a subscriber's transport queue holds by default (a stopped or slow subscriber
/// loses the oldest beyond it).
pub const DEFAULT_QUEUE: usize = 1024;

/// Opens the subscribing end named by `spec` (see [`parse_spec`]), with a transport queue of
/// `queue` samples (iceoryx2: at most [`ipc::QUEUE_SAMPLES`]).
pub fn subscribe_to(
    spec: &str,
    queue: usize,
) -> Result<Subscriber<Box<dyn Source>>, TransportError> {
    let (kind, rest) = parse_spec(spec)?;
    let _ = (rest, queue);
    let source: Result<Box<dyn Source>, TransportError> = match kind {
        #[cfg(feature = "iceoryx2")]
        "iceoryx2" => ipc::IpcSource::open(rest, queue).map(|s| Box::new(s) as Box<dyn Source>),
        #[cfg(feature = "zenoh")]
        "zenoh" => net::ZenohSource::open(rest, queue).map(|s| Box::new(s) as Box<dyn Source>),
        other => Err(not_built(spec, other)),
    };
    source.map(Subscriber::new)
}
