//! What the server core needs from a venue's protocol ([`SimProtocol`]), and the
//! per-connection stream state ([`Streams`]) the protocol reads and edits when a client
//! unsubscribes or resubscribes a book. One implementation per venue protocol lives in
//! `venues/`; [`crate::venues::protocol`] maps a [`Venue`](ladderfeed::book::Venue) to it.
//!
//! Every method has the default of a venue that does not do the thing (no greeting, no ack to
//! make, no server ping, no per-connection numbering, no REST, no resubscription), so a venue
//! implements only what its protocol has.

use std::ops::Range;

use serde_json::Value;

use crate::capture::Capture;
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// A client's (un)subscription of one instrument, while streaming.
#[derive(Debug, Clone)]
pub(crate) struct BookRequest {
    /// Subscribe (or unsubscribe).
    pub subscribe: bool,
    /// The instrument, as the venue names it.
    pub symbol: String,
    /// The book channel (OKX: its name, Kraken v1: its id); `None`: another channel.
    pub book: Option<String>,
    /// Kraken v1 and Bitfinex: the instrument's book channel id in the capture, and the
    /// book's depth (Kraken v1) or `len` (Bitfinex).
    pub capture_channel: Option<(u64, usize)>,
    /// The venue's acknowledgement of this instrument's request (OKX, Kraken v1; Coinbase
    /// Exchange acknowledges a whole message, Gemini nothing).
    pub ack: Option<String>,
}

/// A REST depth endpoint a venue serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestDepth {
    /// Levels a side when the request names no `limit`.
    pub default_limit: usize,
    /// The most levels a side the venue serves.
    pub max_limit: usize,
}

/// The REST errors the simulator answers, whose bodies the venue words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestError {
    /// 429 Too Many Requests.
    TooMany,
    /// 418 (banned for ignoring 429).
    Banned,
    /// 400: the symbol has no book.
    UnknownSymbol,
    /// 404: no such endpoint.
    NotFound,
}

/// One connection's streams as the venue numbers and names them: the books the client
/// unsubscribed, the channels renamed by a resubscription, the connection's frame numbers.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    /// The connection (from 1).
    pub conn: u64,
    /// Instruments whose book channel the client unsubscribed (their frames are held back
    /// until it subscribes again).
    pub muted: Vec<String>,
    /// The capture's channel ids of the muted books (venues that name books by channel id).
    pub muted_channels: Vec<u64>,
    /// Books subscribed again on this connection, under a new channel id (capture's id,
    /// this connection's id).
    pub renamed_channels: Vec<(u64, u64)>,
    /// Venues that number every frame of a connection: frames held back here and frames
    /// made here move the capture's numbers by this much.
    pub seq_shift: i64,
    /// The highest connection sequence number sent (the next made frame takes the next).
    pub last_seq: Option<u64>,
    /// Added to every capture channel id not renamed ([`crate::Config::channel_base`]).
    pub channel_base: u64,
}

impl Streams {
    /// The number of a frame made here: the next one; the capture's frames after it move
    /// up by one.
    pub fn next_seq(&mut self) -> u64 {
        let seq = self.last_seq.map_or(0, |l| l + 1);
        self.last_seq = Some(seq);
        self.seq_shift += 1;
        seq
    }

    /// The id this connection gives the capture's channel `id`: its new id after a
    /// resubscription, else `id` moved by [`Streams::channel_base`].
    pub fn channel(&self, id: u64) -> u64 {
        match self.renamed_channels.iter().find(|(was, _)| *was == id) {
            Some(&(_, now)) => now,
            None => id.saturating_add(self.channel_base),
        }
    }

    /// The capture's channel id of this connection's channel `id` ([`Streams::channel`]
    /// undone).
    pub fn capture_channel(&self, id: u64) -> u64 {
        match self.renamed_channels.iter().find(|(_, now)| *now == id) {
            Some(&(was, _)) => was,
            None => id.saturating_sub(self.channel_base),
        }
    }

    /// Takes back a number from [`Streams::next_seq`] that no frame went out under.
    pub fn unuse_seq(&mut self) {
        self.seq_shift -= 1;
        self.last_seq = self.last_seq.map(|l| l - 1);
    }

    /// A capture frame as this connection numbers it: a renamed channel's new id, its
    /// sequence number moved by `seq_shift` (`None`: unchanged).
    pub fn renumber(&mut self, proto: &dyn SimProtocol, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut changed: Option<Vec<u8>> = None;
        if !self.renamed_channels.is_empty() || self.channel_base != 0 {
            let id = proto.channel_id(bytes).or_else(|| proto.event_channel_id(bytes));
            if let Some((digits, id)) = id {
                changed = Some(scan::with_number(bytes, digits, self.channel(id)));
            }
        }
        let current = changed.as_deref().unwrap_or(bytes);
        if let Some((digits, seq)) = proto.conn_seq(current) {
            let seq = seq.saturating_add_signed(self.seq_shift);
            if self.seq_shift != 0 {
                changed = Some(scan::with_number(current, digits, seq));
            }
            self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        }
        changed
    }
}

/// What the simulator's server core needs from one venue protocol (../shared/venues.md).
pub(crate) trait SimProtocol: Sync {
    // --- Connecting and subscribing ---

    /// Frames the venue sends on connect, before any subscription.
    fn is_greeting(&self, _frame: &[u8]) -> bool {
        false
    }

    /// Frames that acknowledge a subscription.
    fn is_ack(&self, _frame: &[u8]) -> bool {
        false
    }

    /// Whether a connection to `path` must subscribe by message before data flows (some
    /// venues subscribe in the URL).
    fn subscribes_by_message(&self, _path: &str) -> bool {
        true
    }

    /// The venue's interval between server pings (WebSocket ping frames), in seconds.
    fn server_ping_secs(&self) -> Option<f64> {
        None
    }

    /// Whether a client keeps the answers of [`SimProtocol::text_pong`] as messages (they vary,
    /// as Deribit's JSON-RPC results do) rather than matching them as its keep-alive's reply.
    fn pong_is_data(&self) -> bool {
        false
    }

    /// A text answer to a client's text keep-alive.
    fn text_pong(&self, _msg: &str) -> Option<&'static str> {
        None
    }

    /// The acknowledgement(s) the venue sends for `msg` (one a line), for a capture that did
    /// not record one; `None` where an ack must carry identities the capture fixes or where
    /// the venue sends none.
    fn synth_ack(&self, _msg: &str) -> Option<String> {
        None
    }

    // --- Sequence identity and numbering ---

    /// The venue's own sequence identity of a frame (what a client chains on), for the
    /// reference log.
    fn seq_identity(&self, frame: &[u8]) -> Option<String>;

    /// A frame's per-connection sequence number: where its digits are, and its value.
    fn conn_seq(&self, _frame: &[u8]) -> Option<(Range<usize>, u64)> {
        None
    }

    /// A frame's channel id where the venue names a book's frames by one that a
    /// resubscription changes: where its digits are, and its value.
    fn channel_id(&self, _frame: &[u8]) -> Option<(Range<usize>, u64)> {
        None
    }

    /// An event's channel id (a `subscribed` acknowledgement's), where the venue names
    /// channels by ids: where its digits are, and its value.
    fn event_channel_id(&self, _frame: &[u8]) -> Option<(Range<usize>, u64)> {
        None
    }

    // --- Faults ---

    /// Whether `frame` carries book levels (the frames `corrupt` and `crossed` edit).
    fn is_book_frame(&self, frame: &[u8]) -> bool;

    /// The size token among a level's numbers (`[price, size, …]`: the second).
    fn level_size(&self, nums: &[Num]) -> Option<Num> {
        nums.get(1).copied()
    }

    /// The price token of a bid level of a book frame, `None` when there is none to find.
    fn bid_price(&self, _frame: &[u8]) -> Option<Num> {
        None
    }

    /// Changes the size of the first book level in `frame` (its last digit moves by one), so
    /// a checksum over the book no longer matches. `None` when the frame holds no level.
    fn corrupt_level(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if !self.is_book_frame(frame) {
            return None;
        }
        let (nums, _, _) = scan::levels(frame).into_iter().next()?;
        let n = self.level_size(&nums)?;
        let digit = (n.start..n.end).rev().find(|&i| frame[i].is_ascii_digit())?;
        let mut out = frame.to_vec();
        out[digit] = if out[digit] == b'9' { b'8' } else { out[digit] + 1 };
        Some(out)
    }

    /// Prices a bid of `frame` above every ask (its price text becomes `9` followed by its
    /// digits: larger than any real ask of the book), so the book crosses. `None` when the
    /// frame has no bid level [`SimProtocol::bid_price`] finds.
    fn cross_book(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if !self.is_book_frame(frame) {
            return None;
        }
        let price = self.bid_price(frame)?;
        let mut out = Vec::with_capacity(frame.len() + 1);
        out.extend_from_slice(&frame[..price.start]);
        out.push(b'9');
        out.extend_from_slice(&frame[price.start..]);
        Some(out)
    }

    // --- The venue's books and REST snapshots ---

    /// Whether the venue's books start from a REST snapshot and the simulator serves fresh
    /// REST snapshots from them (the newest connection's stream).
    fn serves_rest(&self) -> bool {
        false
    }

    /// The symbol whose book a frame updates, for venues whose books start from a REST
    /// snapshot (seeded from the capture's when its first update goes out).
    fn rest_seeded_symbol(&self, _frame: &[u8]) -> Option<String> {
        None
    }

    /// The snapshot a book starts from when the capture recorded none for it (a hand-written
    /// capture): an empty book at the update id that `frame`, its first update, bridges, so
    /// the venue's book is what the capture's updates build (`None`: the book waits for a
    /// recorded snapshot).
    fn empty_rest_snapshot(&self, _frame: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// A symbol as the venue's REST snapshots name it (`None`: no REST snapshots).
    fn rest_symbol(&self, _symbol: &str) -> Option<String> {
        None
    }

    /// The REST depth endpoint at `route` (`None`: not found).
    fn rest_depth(&self, _route: &str) -> Option<RestDepth> {
        None
    }

    /// A REST depth answer for `symbol` from the venue's books (`limit` levels a side) and
    /// the update id it carries, `None` when the book has not started.
    fn rest_snapshot(
        &self,
        _books: &VenueBooks,
        _symbol: &str,
        _limit: usize,
    ) -> Option<(u64, Vec<u8>)> {
        None
    }

    /// Where a REST snapshot's update id digits are, and their value.
    fn rest_snapshot_id(&self, _body: &[u8]) -> Option<(Range<usize>, u64)> {
        None
    }

    /// The body of a REST error. The default is the wording the simulator has always used
    /// for every venue (Binance's, the one venue it serves REST for).
    fn rest_error(&self, error: RestError) -> &'static [u8] {
        match error {
            RestError::TooMany => {
                br#"{"code":-1003,"msg":"Too many requests; please use the websocket for live updates."}"#
            }
            RestError::Banned => br#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#,
            RestError::UnknownSymbol => br#"{"code":-1121,"msg":"Invalid symbol."}"#,
            RestError::NotFound => br#"{"code":-1,"msg":"not found"}"#,
        }
    }

    // --- Unsubscribing and resubscribing while streaming ---

    /// Whether the venue answers a resubscription with a snapshot from its books (the
    /// connection then keeps the venue's books).
    fn resubscribes(&self) -> bool {
        false
    }

    /// What a client's message asks of books while streaming, as the venue words it: per
    /// instrument, subscribe or not, a book channel or not, and the venue's acknowledgement.
    fn book_requests(
        &self,
        _v: &Value,
        _capture: &Capture,
        _streams: &Streams,
    ) -> Vec<BookRequest> {
        Vec::new()
    }

    /// The venue's answer to a whole (un)subscribe message (`subscribed`: the instruments
    /// still subscribed on this connection), sent before the per-instrument answers.
    fn subscriptions_answer(
        &self,
        _requests: &[BookRequest],
        _subscribed: &[String],
        _streams: &mut Streams,
    ) -> Option<String> {
        None
    }

    /// Whether `frame` is a book frame of an instrument the client unsubscribed.
    fn is_muted(&self, _frame: &[u8], _streams: &Streams) -> bool {
        false
    }

    /// The venue's answer to an unsubscription of a book (beyond `ack`), and the stream state
    /// it changes.
    fn unsubscribed(&self, _request: &BookRequest, _streams: &mut Streams) -> Option<String> {
        None
    }

    /// The venue's acknowledgement of a resubscription of a book (beyond `ack`) and the new
    /// channel id the book's frames carry from now on, with the stream state it changes.
    fn resubscribed(
        &self,
        _request: &BookRequest,
        _streams: &mut Streams,
    ) -> (Option<String>, Option<u64>) {
        (None, None)
    }

    /// Whether the snapshot answering a resubscription takes the connection's next number.
    fn numbers_snapshots(&self, _streams: &Streams) -> bool {
        false
    }

    /// The snapshot of `request`'s book (`channel`: its book channel) from the venue's
    /// books, numbered `seq` where the venue numbers frames, under `new_channel` where the
    /// resubscription renamed it; `None` when there is no book.
    fn snapshot(
        &self,
        _books: &mut VenueBooks,
        _request: &BookRequest,
        _channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        None
    }
}
