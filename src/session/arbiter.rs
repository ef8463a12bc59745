//! Redundant connections: two (or more) lines carrying the same subscriptions into one set of
//! books, and which copy of each message is applied.
//!
//! A venue sends the same per-book stream on every connection. The arbiter sits in front of
//! the adapter and, per book, lets exactly one copy of each message through: the first to
//! arrive, judged by the venue's own per-book sequence, so the adapter and the engine see one
//! clean stream, as if from one healthy connection, and need not know there are several.
//!
//! Per book it keeps the position the stream has reached (the last sequence number let
//! through). A book message from line `L`:
//! - **continues** the stream (the venue's chaining rule holds against the position): it is
//!   let through, and `L` *won* it;
//! - is **already covered** (its last number is at or before the position): a duplicate,
//!   dropped; the time since the winner's copy went through is the winner's *advantage*;
//! - is **ahead** (a gap on `L`: a message of this book is missing on this line): held (a copy,
//!   in a buffer reused per book) and the gap noted; when another line delivers the missing
//!   message, the gap was *filled by the other*, and the held messages that now continue the
//!   stream are applied at once, so the faster line keeps its lead. Only when every open line
//!   is past the position without continuing it (the message is lost on all of them), after
//!   [`Policy::fill_wait`](super::Policy::fill_wait) without a fill, or past [`HOLD_FRAMES`]
//!   held, are the held messages and this one let through: the adapter then finds the gap
//!   itself and the book resyncs as it would on one connection.
//!
//! The rules per venue (venues.md):
//! - Binance spot: `U`/`u`; an event continues when `U <= pos + 1 < u + 1`.
//! - Binance USD-M and COIN-M: `pu` must equal the position.
//! - OKX: `prevSeqId` must equal the position (a reset, `seqId < prevSeqId`, is accepted when
//!   it chains). A message without `seqId` (older captures) cannot be arbitrated: such
//!   messages are taken from one line only (the first open one) and counted.
//! - Deribit: `prev_change_id` must equal the position.
//! - Bybit: `u` must be the position plus one; `u == 1` is a service restart (a snapshot).
//! - Kraken Futures: `seq` must be the position plus one.
//!
//! A snapshot (on subscribing or resubscribing) is let through only while the book is not
//! synced (it is what the book waits for); a synced book keeps following the stream, and a
//! reconnected line's snapshot is a duplicate. Trades are let through once per trade id
//! (ids rise per instrument on every venue here); derivatives data (funding, mark, open
//! interest, liquidations), frames without a usable number, and the venue's own BBO are taken
//! from the first open line only. Acknowledgements, heartbeats and errors of every line go
//! through (each line's own answers).
//!
//! - Hyperliquid: each `l2Book` is the whole book of a block, stamped with its `time`: a newer
//!   one replaces the book, an older or equal one is a duplicate; a loss costs nothing.
//!
//! Venues whose book messages carry no per-book sequence are arbitrated **by content**
//! ([`super::content`]: each message known by a hash of its bytes): Kraken v2 and v1,
//! Coinbase Exchange, Gemini v2, Coinbase Advanced Trade, and the trades of Kraken v1 and
//! Hyperliquid (the others' trades have rising ids). A loss on a line behind the front costs
//! nothing. A loss on the line in front is found when another line delivers the lost message
//! (one connection would not have noticed it at all, or with a checksum only when the checksum
//! next failed): applied at once, then, once that line's next message shows where it belonged,
//! the messages the front applied after its place again, from the bytes the log keeps; every
//! book message of these venues sets a level's size, so the book ends as if nothing had been
//! lost (see [`super::content`]). A checksum that fails (or a
//! crossed book) in between waits for that copy ([`crate::engine::Engine::set_check_grace`]). Only when the
//! messages after it are no longer kept does the book resync ([`Verdict::Resync`]).
//!
//! Coinbase Advanced Trade numbers each connection's messages (`sequence_num`, every
//! channel): the arbiter checks each line's numbers itself (the adapter, fed several
//! connections, does not), and a line whose numbers jump lost a message of some book. It is
//! then out of step on every book, its messages held until another line's copies place it
//! again, so a loss on the line in front costs nothing either. Only a book the other lines are
//! not placed on yet (no update of it since the snapshots) resyncs, where one connection would
//! resync every book.
//!
//! Gemini v1 (a connection per symbol) goes the same way: each `update` by content without the
//! connection's `socket_sequence`, trades included, and that number checked per line.
//!
//! Bitfinex names a book by a channel id its connection chose (`subscribed`), and numbers
//! every frame of a connection (`SEQ_ALL`). The arbiter keeps each line's channel ids, so a
//! frame is known by its book's symbol; book updates and checksum frames go by content
//! (without the channel id and the connection's number, which differ per line), in one stream
//! per book, so a checksum is checked where it stands in the stream; trades by id (`te` and
//! its repeat `tu` are one trade: the `tu` counts as a duplicate); tickers from one line. Each
//! line's numbers are checked here, as Coinbase Advanced Trade's, and the adapter keeps each
//! line's channel ids ([`crate::venue::AnyAdapter::set_line`]).
//!
//! BitMEX has no sequence either: an `orderBookL2` message of one book goes by content, its
//! trades too (their ids are not numbers). Its rows are keyed by level id; on one connection
//! an `insert` of a level the book holds (or an `update` or `delete` of one it lacks) is a gap.
//! With merged lines such a row is applied as it says and the book waits, unpublished, for
//! the fill wait ([`crate::engine::Engine::put_right`]): a message the line in front lost, put
//! back in its place and followed by the later messages applied once more
//! ([`Arbiter::take_repair`]), leaves each level as the venue holds it (every row then sets its
//! level, the pre-2022 `update` without a price taking it from the level's id, deleted ids
//! included); otherwise the book resyncs. A message with rows of
//! several books (not seen with per-instrument subscriptions) is taken from the first open line
//! only, counted as unsequenced.

use super::super::venue::json::{field_text, field_uint, int, text, uint, Scratch};
use super::super::venue::VenueError;
use super::content::{content_hash, ContentBook, Outcome};
use crate::book::Venue;

/// The text of a redundant line's connect record: which session's lines it belongs to, so a
/// replay arbitrates between the same lines (`lines=N line=J first=C`: line `J` of `N`, the
/// session's first line recorded as connection `C`). Empty for a single connection.
pub fn line_tag(lines: usize, line: usize, first_conn: u32) -> String {
    if lines <= 1 {
        String::new()
    } else {
        format!("lines={lines} line={line} first={first_conn}")
    }
}

/// Reads [`line_tag`]'s text: `(lines, line, first connection)`.
pub fn parse_line_tag(text: &[u8]) -> Option<(usize, usize, u32)> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = None;
    let mut line = None;
    let mut first = None;
    for part in text.split_ascii_whitespace() {
        let (k, v) = part.split_once('=')?;
        match k {
            "lines" => lines = v.parse().ok(),
            "line" => line = v.parse().ok(),
            "first" => first = v.parse().ok(),
            _ => return None,
        }
    }
    match (lines, line, first) {
        (Some(n), Some(l), Some(c)) if l < n && n > 1 => Some((n, l, c)),
        _ => None,
    }
}

/// Most lines one session may have.
pub const MAX_LINES: usize = 4;

/// Remembered applied messages per book (for the winner's advantage).
const RECENT: usize = 16;

/// Most messages held per book while a gap waits for another line; past it (or past
/// [`HOLD_BYTES`]) the gap is given up and the book resyncs.
pub const HOLD_FRAMES: usize = 4096;

/// Most bytes held per book while a gap waits for another line.
pub const HOLD_BYTES: usize = 16 << 20;

/// Applied book messages and trades remembered by a hash of their bytes (a direct-mapped
/// table): a later copy with the same bytes from another line is known for a duplicate
/// without being parsed.
const FAST: usize = 1024;

/// An applied message, for [`FAST`].
#[derive(Debug, Clone, Copy, Default)]
struct Applied {
    hash: u64,
    /// When it was applied.
    at: u64,
    /// Its last number (a book message's), for the duplicate line's position.
    last: u64,
    book: u32,
    line: u8,
    kind: Fast,
    used: bool,
}

/// What an [`Applied`] message was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Fast {
    /// A book message.
    #[default]
    Book,
    /// Trades.
    Trade,
    /// Data taken from one line only.
    OneLine,
}

/// Trade ids remembered per book: a line lagging by fewer trades than this never publishes
/// one twice (older ids are taken as duplicates).
pub const TRADE_WINDOW: usize = 4096;

/// How a venue's book messages chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Binance spot: `U`, `u`.
    BinanceSpot,
    /// Binance USD-M and COIN-M: `U`, `u`, `pu`.
    BinanceFutures,
    /// OKX: `prevSeqId`, `seqId`.
    Okx,
    /// Deribit: `prev_change_id`, `change_id`.
    Deribit,
    /// Bybit v5: `u`, consecutive.
    Bybit,
    /// Kraken Futures: `seq`, consecutive.
    KrakenFutures,
    /// Hyperliquid: whole books stamped with the block `time` (a newer one replaces the
    /// book); trades by content.
    Hyperliquid,
    /// Kraken v2: by content ([`super::content`]); trades by `trade_id`.
    KrakenV2,
    /// Kraken v1: by content (the bytes after the connection's channel id).
    KrakenV1,
    /// Coinbase Exchange: books by content; trades by `trade_id`.
    CoinbaseExchange,
    /// Gemini v2: books by content; trades by `event_id`.
    GeminiV2,
    /// Coinbase Advanced Trade: books by content (the `events`, without the connection's
    /// `sequence_num` and `timestamp`), each connection's `sequence_num` checked per line;
    /// trades by `trade_id`.
    CoinbaseAdvanced,
    /// Gemini v1 (one symbol per connection): each `update` by content (without the
    /// connection's `socket_sequence`), trades included; each connection's `socket_sequence`
    /// checked per line, as Coinbase Advanced Trade's.
    GeminiV1,
    /// Bitfinex: each line's channel ids mapped to books; book updates and checksums by
    /// content (without the channel id and the connection's number); trades by id; each
    /// connection's `SEQ_ALL` number checked per line.
    Bitfinex,
    /// BitMEX: `orderBookL2` messages of one book by content (a row contradicting the book
    /// waits for a repair, see the [module docs](self)); a message with rows of several
    /// books from one line only;
    /// trades by content (their ids are not numbers).
    Bitmex,
}

impl Family {
    /// The rule for `venue` (every venue has one).
    pub fn of(venue: Venue) -> Family {
        match venue {
            Venue::Binance => Family::BinanceSpot,
            Venue::BinanceFutures | Venue::BinanceCoinM => Family::BinanceFutures,
            Venue::Okx => Family::Okx,
            Venue::Deribit => Family::Deribit,
            Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => Family::Bybit,
            Venue::KrakenFutures => Family::KrakenFutures,
            Venue::Hyperliquid => Family::Hyperliquid,
            Venue::Kraken => Family::KrakenV2,
            Venue::KrakenV1 => Family::KrakenV1,
            Venue::CoinbaseExchange => Family::CoinbaseExchange,
            Venue::Gemini => Family::GeminiV2,
            Venue::Coinbase => Family::CoinbaseAdvanced,
            Venue::GeminiV1 => Family::GeminiV1,
            Venue::Bitfinex => Family::Bitfinex,
            Venue::Bitmex => Family::Bitmex,
        }
    }

    /// Whether book messages are arbitrated by content ([`super::content`]).
    pub fn by_content(self) -> bool {
        matches!(
            self,
            Family::KrakenV2
                | Family::KrakenV1
                | Family::CoinbaseExchange
                | Family::GeminiV2
                | Family::CoinbaseAdvanced
                | Family::GeminiV1
                | Family::Bitfinex
                | Family::Bitmex
        )
    }
}

/// A book message's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seq {
    /// The first number it covers (the chain rules use `prev` instead, when given).
    first: u64,
    /// The last number it covers: the position after it.
    last: u64,
    /// The number it chains to.
    prev: Option<u64>,
}

/// What a frame is to the arbiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A book message of book `key` with its numbers.
    Book { key: usize, snapshot: bool, restart: bool, seq: Seq },
    /// Trades of book `key`, the highest id among them.
    Trade { key: usize, id: u64 },
    /// A message of content stream `key` (a book's messages, or its trades).
    Content { key: usize, snapshot: bool, trades: bool },
    /// Data to take from one line only: derivatives, the venue's BBO, book messages without
    /// numbers.
    OneLine { unsequenced: bool },
    /// Acknowledgements, heartbeats, errors, anything unknown: every line's copy.
    Every,
}

/// Where one book's stream stands.
#[derive(Debug)]
struct BookLine {
    key: Vec<u8>,
    /// The last number let through.
    pos: Option<u64>,
    /// The highest number each line has delivered.
    seen: [Option<u64>; MAX_LINES],
    /// Lines with a gap not yet filled.
    gapped: [bool; MAX_LINES],
    /// When the oldest unfilled gap was first seen.
    ahead_since: Option<u64>,
    /// The highest trade id let through.
    trade_max: u64,
    /// Which of the [`TRADE_WINDOW`] ids up to `trade_max` were let through (made at the
    /// first trade).
    trade_bits: Option<Box<[u64; TRADE_WINDOW / 64]>>,
    /// The last messages let through: (last number, when, line).
    recent: [(u64, u64, u8); RECENT],
    recent_at: usize,
    /// Messages that arrived ahead of a gap, kept until another line fills it (then applied
    /// at once, in order) or until the gap is given up (then applied first, so the adapter
    /// sees the gap itself).
    held: Vec<Held>,
    /// The held messages' bytes, back to back (emptied, capacity kept, once none is held).
    held_bytes: Vec<u8>,
}

/// A message held ahead of a gap.
#[derive(Debug, Clone, Copy)]
struct Held {
    line: u8,
    seq: Seq,
    start: usize,
    end: usize,
}

impl BookLine {
    fn new(key: &[u8]) -> Self {
        BookLine {
            key: key.to_vec(),
            pos: None,
            seen: [None; MAX_LINES],
            gapped: [false; MAX_LINES],
            ahead_since: None,
            trade_max: 0,
            trade_bits: None,
            recent: [(u64::MAX, 0, 0); RECENT],
            recent_at: 0,
            held: Vec::new(),
            held_bytes: Vec::new(),
        }
    }

    /// Whether trade `id` is new (and now taken): ids rise per instrument, and one missing on
    /// the faster line is taken when the slower one delivers it, after the later ones.
    fn take_trade(&mut self, id: u64) -> bool {
        const W: u64 = TRADE_WINDOW as u64;
        let bits = self.trade_bits.get_or_insert_with(|| Box::new([0; TRADE_WINDOW / 64]));
        let slot = |i: u64| ((i % W) / 64) as usize;
        let bit = |i: u64| 1u64 << (i % 64);
        if id > self.trade_max {
            if id - self.trade_max >= W || self.trade_max == 0 {
                bits.fill(0);
            } else {
                for i in self.trade_max + 1..id {
                    bits[slot(i)] &= !bit(i);
                }
            }
            self.trade_max = id;
            bits[slot(id)] |= bit(id);
            return true;
        }
        if self.trade_max - id >= W || bits[slot(id)] & bit(id) != 0 {
            return false;
        }
        bits[slot(id)] |= bit(id);
        true
    }

    fn remember(&mut self, last: u64, now: u64, line: usize) {
        self.recent[self.recent_at] = (last, now, line as u8);
        self.recent_at = (self.recent_at + 1) % RECENT;
    }
}

/// Whether a message with `seq` continues a stream at `pos`, by `family`'s rule.
fn continues(family: Family, pos: u64, seq: Seq) -> bool {
    match (family, seq.prev) {
        (Family::BinanceSpot, _) => seq.first <= pos.saturating_add(1) && seq.last > pos,
        // Whole books: a newer block replaces the book.
        (Family::Hyperliquid, _) => seq.last > pos,
        // A chain: `prev` must be the position (a reset, last < prev, included).
        (_, Some(prev)) => prev == pos && seq.last != pos,
        (_, None) => seq.first == pos.saturating_add(1),
    }
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through (to the adapter and the books).
    Apply,
    /// Drop it: another line delivered it first (`advantage`: how much earlier, in ns, and
    /// which line, when known).
    Duplicate {
        /// (winning line, ns earlier).
        advantage: Option<(usize, u64)>,
    },
    /// Held: a gap on this line; the copy is kept until another line fills the gap
    /// ([`Arbiter::next_held`] then gives it back to apply).
    Ahead,
    /// A gap no line filled (in time): apply the messages held for this book first
    /// ([`Arbiter::next_held`]), then this one; the adapter finds the gap and resyncs.
    Flush,
    /// Drop it: taken from another line only.
    OtherLine,
    /// Drop it, and resync the book [`Arbiter::lost_book`] names: this line delivered a
    /// message of it that the lines in front never did (content arbitration: they lost it,
    /// and the messages applied after its place are no longer kept to put it back).
    Resync,
}

/// What the arbiter counted, per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArbiterCounts {
    /// Book messages and trades let through from this line first.
    pub won: u64,
    /// Copies dropped because another line delivered them first.
    pub duplicates: u64,
    /// Gaps on this line (a message missing here).
    pub gaps: u64,
    /// Of those, filled by another line.
    pub filled: u64,
    /// Frames dropped because that data is taken from one line only.
    pub other_line: u64,
    /// Book messages without a usable sequence (taken from one line only).
    pub unsequenced: u64,
    /// Messages this line delivered that the lines in front had lost (content arbitration):
    /// the book resynced, or for a trade, it was published late.
    pub found_lost: u64,
}

/// The arbiter of one session's lines. See the [module docs](self).
#[derive(Debug)]
pub struct Arbiter {
    family: Family,
    books: Vec<BookLine>,
    counts: [ArbiterCounts; MAX_LINES],
    /// Gaps that no line filled: let through, so the book resyncs.
    unfilled: u64,
    scratch: Option<Box<Scratch>>,
    /// The book whose held messages [`Arbiter::next_held`] gives back, and whether all of
    /// them (a gap given up) or only those that now continue its stream.
    releasing: Option<(usize, bool)>,
    /// Content streams ([`super::content`]).
    content: Vec<ContentBook>,
    /// The content stream whose held messages [`Arbiter::next_held`] gives back.
    content_releasing: Option<usize>,
    /// The content book the last [`Verdict::Resync`] named.
    lost: Option<usize>,
    /// When the frame being judged arrived.
    now: u64,
    /// The key of the frame being judged (capacity kept).
    key_buf: Vec<u8>,
    /// The connection sequence number of the frame being judged (Coinbase Advanced Trade).
    conn_seq: Option<u64>,
    /// Each line's last connection sequence number.
    conn_last: [Option<u64>; MAX_LINES],
    /// Recently applied messages by hash ([`FAST`]; sequenced families only).
    applied: Vec<Applied>,
    /// Lines that lost a message (their connection sequence jumped) and are not back in step.
    pending_fill: [bool; MAX_LINES],
    /// The one book of a session whose messages do not name it (Gemini v1).
    only_key: Vec<u8>,
    /// Each line's channels (Bitfinex: ids chosen per connection).
    channels: [Vec<Channel>; MAX_LINES],
    /// The content stream the last [`Verdict::Apply`] repairs ([`Arbiter::take_repair`]).
    repaired: Option<usize>,
}

/// A message [`Arbiter::next_held`] gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// The line whose copy it is (its bytes name that line's channels, for a venue whose ids
    /// differ per connection).
    pub line: usize,
    /// Applied once more, after a message the line in front lost was put back before it
    /// ([`Arbiter::take_repair`]).
    pub again: bool,
}

/// A channel one line's connection named (Bitfinex `subscribed`).
#[derive(Debug, Clone)]
struct Channel {
    /// Its id on the line's connection (`None` once unsubscribed or disconnected: the entry,
    /// and its key's memory, is kept for the next subscription).
    id: Option<u64>,
    kind: ChannelKind,
    /// The symbol (`tBTCUSD`).
    key: Vec<u8>,
}

/// What a [`Channel`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelKind {
    Book,
    Trades,
    Ticker,
    Other,
}

impl Arbiter {
    /// An arbiter for `family`'s rules.
    pub fn new(family: Family) -> Self {
        Arbiter {
            family,
            books: Vec::new(),
            counts: [ArbiterCounts::default(); MAX_LINES],
            unfilled: 0,
            scratch: None,
            releasing: None,
            content: Vec::new(),
            content_releasing: None,
            lost: None,
            now: 0,
            key_buf: Vec::new(),
            conn_seq: None,
            conn_last: [None; MAX_LINES],
            applied: if family.by_content() { Vec::new() } else { vec![Applied::default(); FAST] },
            pending_fill: [false; MAX_LINES],
            only_key: Vec::new(),
            channels: Default::default(),
            repaired: None,
        }
    }

    /// The key of the session's one book, for a venue whose messages do not name it (Gemini
    /// v1: a connection per symbol).
    pub fn set_only_book(&mut self, key: &[u8]) {
        self.only_key = key.to_vec();
    }

    /// The book (its key) whose lost message the last [`Verdict::Apply`] puts back in its
    /// place: that frame and the messages [`Arbiter::next_held`] gives back `again` are
    /// applied once more, and the book is right after them. Taken once.
    pub fn take_repair(&mut self) -> Option<&[u8]> {
        self.repaired.take().and_then(|i| self.content.get(i)).map(|c| c.key.as_slice())
    }

    /// The book the last [`Verdict::Resync`] named (its key).
    pub fn lost_book(&self) -> Option<&[u8]> {
        self.lost.and_then(|i| self.content.get(i)).map(|c| c.key.as_slice())
    }

    /// What line `line` counted.
    pub fn counts(&self, line: usize) -> ArbiterCounts {
        self.counts.get(line).copied().unwrap_or_default()
    }

    /// Gaps on every line (or not filled in time): let through, the book resynced.
    pub fn unfilled(&self) -> u64 {
        self.unfilled
    }

    /// Every line is gone: the books start again from snapshots, positions are forgotten.
    /// Trade ids keep rising across connections, so a trade already published stays so.
    pub fn reset(&mut self) {
        for b in &mut self.books {
            b.pos = None;
            b.seen = [None; MAX_LINES];
            b.gapped = [false; MAX_LINES];
            b.ahead_since = None;
            b.held.clear();
            b.held_bytes.clear();
        }
        self.content.iter_mut().for_each(ContentBook::reset);
        self.releasing = None;
        self.content_releasing = None;
        self.conn_last = [None; MAX_LINES];
        self.pending_fill = [false; MAX_LINES];
        self.applied.iter_mut().for_each(|a| a.used = false);
        for c in self.channels.iter_mut().flatten() {
            c.id = None;
        }
    }

    /// Line `line` is gone: what it had delivered no longer counts against a gap.
    pub fn line_lost(&mut self, line: usize) {
        for b in &mut self.books {
            if let Some(s) = b.seen.get_mut(line) {
                *s = None;
            }
            if let Some(g) = b.gapped.get_mut(line) {
                *g = false;
            }
        }
        self.content.iter_mut().for_each(|c| c.line_lost(line));
        self.content_releasing = None;
        if line < MAX_LINES {
            self.conn_last[line] = None;
            self.pending_fill[line] = false;
            // Its next connection names its channels anew.
            for c in &mut self.channels[line] {
                c.id = None;
            }
        }
    }

    /// Line `line`'s connection sequence number `seq`: a jump means it lost a message, of
    /// some book. It is out of step on every book until its copies place it again, so its
    /// next messages are not taken for the ones it lost.
    fn connection_sequence(&mut self, line: usize, seq: u64) {
        let last = self.conn_last[line];
        if last.is_some_and(|l| seq > l + 1) {
            self.counts[line].gaps += 1;
            self.pending_fill[line] = true;
            // Its position on every book is no longer known.
            self.content.iter_mut().for_each(|c| c.line_out_of_step(line));
        }
        if last.is_none_or(|l| seq > l) {
            self.conn_last[line] = Some(seq);
        }
    }

    /// Line `line` is back in step after a connection gap: the other lines filled it.
    fn back_in_step(&mut self, line: usize) {
        if std::mem::take(&mut self.pending_fill[line]) {
            self.counts[line].filled += 1;
        }
    }

    /// Judges one frame of line `line` received at `now`. `open` says which lines are open;
    /// `synced(key)` whether the book of that key is synced; `fill_wait` (ns) how long a gap
    /// may wait for another line. A frame that cannot be read is let through (the adapter
    /// counts the error).
    pub fn judge(
        &mut self,
        line: usize,
        frame: &[u8],
        now: u64,
        open: &[bool],
        fill_wait: u64,
        synced: impl Fn(&[u8]) -> bool,
    ) -> Verdict {
        self.releasing = None;
        self.content_releasing = None;
        self.now = now;
        if line >= MAX_LINES {
            return Verdict::Apply;
        }
        self.conn_seq = None;
        // A copy with the bytes of a message another line delivered first: a duplicate,
        // known without a parse.
        let hash = if self.applied.is_empty() { 0 } else { content_hash(frame) };
        if let Some(v) = self.fast_duplicate(line, hash, now) {
            return v;
        }
        let class = match self.classify(line, frame) {
            Ok(c) => c,
            Err(_) => Class::Every,
        };
        if let Some(seq) = self.conn_seq {
            self.connection_sequence(line, seq);
        }
        let first_open = open.iter().position(|o| *o).unwrap_or(line);
        match class {
            Class::Every => Verdict::Apply,
            Class::OneLine { unsequenced } => {
                if unsequenced {
                    self.counts[line].unsequenced += 1;
                }
                if line == first_open {
                    self.remember_applied(hash, 0, 0, now, line, Fast::OneLine);
                    Verdict::Apply
                } else {
                    self.counts[line].other_line += 1;
                    Verdict::OtherLine
                }
            }
            Class::Trade { key, id } => {
                let b = &mut self.books[key];
                if id == 0 {
                    // No id to compare: one line's copy.
                    return if line == first_open {
                        Verdict::Apply
                    } else {
                        self.counts[line].other_line += 1;
                        Verdict::OtherLine
                    };
                }
                if b.take_trade(id) {
                    self.counts[line].won += 1;
                    self.remember_applied(hash, key, id, now, line, Fast::Trade);
                    Verdict::Apply
                } else {
                    self.counts[line].duplicates += 1;
                    Verdict::Duplicate { advantage: None }
                }
            }
            Class::Content { key, snapshot, .. } => {
                let hash = frame_content_hash(self.family, frame, self.conn_seq.is_some());
                let c = &mut self.content[key];
                let outcome = if snapshot {
                    let synced_now = synced(&c.key);
                    c.snapshot(line, hash, now, synced_now)
                } else {
                    c.message(line, hash, frame, now, open, fill_wait)
                };
                if matches!(
                    outcome,
                    Outcome::New | Outcome::NewAfterLoss { .. } | Outcome::Copy { .. }
                ) {
                    self.back_in_step(line);
                }
                let c = &mut self.content[key];
                for l in 0..MAX_LINES {
                    if c.take_gap_filled(l) {
                        self.counts[l].gaps += 1;
                        self.counts[l].filled += 1;
                    }
                }
                let counts = &mut self.counts[line];
                match outcome {
                    Outcome::New => {
                        counts.won += 1;
                        if c.releasing.is_some() {
                            self.content_releasing = Some(key);
                        }
                        Verdict::Apply
                    }
                    Outcome::NewAfterLoss { .. } => {
                        // Who lost what is known at the line's next message.
                        counts.won += 1;
                        if c.releasing.is_some() {
                            self.content_releasing = Some(key);
                        }
                        Verdict::Apply
                    }
                    Outcome::Copy { skipped, winner } => {
                        counts.duplicates += 1;
                        if skipped > 0 {
                            counts.gaps += 1;
                            counts.filled += 1;
                        }
                        Verdict::Duplicate { advantage: (winner.0 != line).then_some(winner) }
                    }
                    Outcome::Held => Verdict::Ahead,
                    Outcome::Dropped => {
                        counts.other_line += 1;
                        Verdict::OtherLine
                    }
                    Outcome::Late => {
                        counts.found_lost += 1;
                        counts.won += 1;
                        Verdict::Apply
                    }
                    Outcome::Repair { .. } => {
                        // The lines in front lost it: applied in its place, then the messages
                        // after it again ([`Arbiter::next_held`]).
                        counts.found_lost += 1;
                        counts.won += 1;
                        self.content_releasing = Some(key);
                        self.repaired = Some(key);
                        Verdict::Apply
                    }
                    Outcome::Lost => {
                        self.pending_fill[line] = false;
                        let counts = &mut self.counts[line];
                        counts.found_lost += 1;
                        self.unfilled += 1;
                        c.reset();
                        self.lost = Some(key);
                        Verdict::Resync
                    }
                }
            }
            Class::Book { key, snapshot, restart, seq } => {
                let synced_now = snapshot && synced(&self.books[key].key);
                let v = self.book(
                    line,
                    key,
                    (snapshot, restart, seq),
                    frame,
                    now,
                    open,
                    fill_wait,
                    synced_now,
                );
                match v {
                    Verdict::Apply => {
                        if !snapshot {
                            self.remember_applied(hash, key, seq.last, now, line, Fast::Book);
                        }
                        self.releasing = Some((key, false));
                    }
                    Verdict::Flush => self.releasing = Some((key, true)),
                    _ => {}
                }
                v
            }
        }
    }

    /// The verdict on a copy whose bytes another line's applied message had ([`FAST`]): the
    /// same as the parse would give (a covered book message or a trade id already taken),
    /// with the line's position moved as the parse would move it.
    fn fast_duplicate(&mut self, line: usize, hash: u64, now: u64) -> Option<Verdict> {
        let e = *self.applied.get(hash as usize % FAST.max(1))?;
        if !e.used || e.hash != hash || usize::from(e.line) == line {
            return None;
        }
        match e.kind {
            Fast::OneLine => {
                // Taken from the line that applied it (then the first open one).
                self.counts[line].other_line += 1;
                return Some(Verdict::OtherLine);
            }
            Fast::Trade => {
                self.counts[line].duplicates += 1;
                return Some(Verdict::Duplicate { advantage: None });
            }
            Fast::Book => self.counts[line].duplicates += 1,
        }
        let b = self.books.get_mut(e.book as usize)?;
        let seen = &mut b.seen[line];
        *seen = Some(seen.map_or(e.last, |s| s.max(e.last)));
        Some(Verdict::Duplicate {
            advantage: Some((usize::from(e.line), now.saturating_sub(e.at))),
        })
    }

    fn remember_applied(
        &mut self,
        hash: u64,
        key: usize,
        last: u64,
        now: u64,
        line: usize,
        kind: Fast,
    ) {
        if let (Some(slot), Ok(book)) =
            (self.applied.get_mut(hash as usize % FAST), u32::try_from(key))
        {
            *slot = Applied { hash, at: now, last, book, line: line as u8, kind, used: true };
        }
    }

    /// After [`Verdict::Apply`]: the next held message of that book that now continues its
    /// stream; after [`Verdict::Flush`]: every held message of it, oldest number first.
    /// Copied into `out`, with the line whose copy it is and whether it is applied once more
    /// (after a repair); `None` when there is none left.
    pub fn next_held(&mut self, out: &mut Vec<u8>) -> Option<Released> {
        if let Some(key) = self.content_releasing {
            if let Some(line) = self.content[key].next_again(out) {
                return Some(Released { line, again: true });
            }
            return match self.content[key].next_held(out, self.now) {
                Some(line) => {
                    self.back_in_step(line);
                    self.counts[line].won += 1;
                    Some(Released { line, again: false })
                }
                None => {
                    self.content_releasing = None;
                    None
                }
            };
        }
        let (key, flush) = self.releasing?;
        let family = self.family;
        loop {
            let b = &mut self.books[key];
            if b.held.is_empty() {
                b.held_bytes.clear();
                self.releasing = None;
                return None;
            }
            let pick = if flush {
                (0..b.held.len()).min_by_key(|&i| b.held[i].seq.last)
            } else {
                let pos = b.pos?;
                // Copies another line already delivered are dropped first.
                if let Some(i) =
                    b.held.iter().position(|h| !continues(family, pos, h.seq) && h.seq.last <= pos)
                {
                    let h = b.held.remove(i);
                    self.counts[usize::from(h.line)].duplicates += 1;
                    continue;
                }
                b.held.iter().position(|h| continues(family, pos, h.seq))
            };
            let Some(i) = pick else {
                // Still ahead of another gap: that one waits from now on.
                if b.ahead_since.is_none() {
                    b.ahead_since = Some(b.recent[(b.recent_at + RECENT - 1) % RECENT].1);
                }
                self.releasing = None;
                return None;
            };
            let h = b.held.remove(i);
            out.clear();
            out.extend_from_slice(&b.held_bytes[h.start..h.end]);
            if !flush {
                b.pos = Some(h.seq.last);
                let t = b.recent[(b.recent_at + RECENT - 1) % RECENT].1;
                b.remember(h.seq.last, t, usize::from(h.line));
            }
            self.counts[usize::from(h.line)].won += 1;
            return Some(Released { line: usize::from(h.line), again: false });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn book(
        &mut self,
        line: usize,
        key: usize,
        (snapshot, restart, seq): (bool, bool, Seq),
        frame: &[u8],
        now: u64,
        open: &[bool],
        fill_wait: u64,
        synced: bool,
    ) -> Verdict {
        let family = self.family;
        let b = &mut self.books[key];
        let seen = &mut b.seen[line];
        *seen = Some(seen.map_or(seq.last, |s| s.max(seq.last)));
        if snapshot {
            // What a book waiting for a snapshot needs; a synced book keeps to the stream
            // (a restart, Bybit's `u == 1`, replaces it: once).
            let take = !synced || (restart && b.pos != Some(seq.last));
            if !take {
                return self.duplicate(line, key, seq.last, now);
            }
            // Messages held against the old position are moot: the snapshot replaces it.
            b.held.clear();
            b.held_bytes.clear();
            return self.apply(line, key, seq.last, now);
        }
        let Some(pos) = b.pos else {
            // The first message of this book on any line.
            return self.apply(line, key, seq.last, now);
        };
        if continues(family, pos, seq) {
            return self.apply(line, key, seq.last, now);
        }
        if seq.last <= pos && seq.prev.is_none_or(|p| p <= seq.last) {
            return self.duplicate(line, key, seq.last, now);
        }
        // Ahead: a message of this book is missing on this line.
        if !b.gapped[line] {
            b.gapped[line] = true;
            self.counts[line].gaps += 1;
        }
        let since = *b.ahead_since.get_or_insert(now);
        // Can another open line still deliver it? Not once it is past the position too.
        let others_may_fill = (0..open.len().min(MAX_LINES))
            .filter(|&l| l != line && open[l])
            .any(|l| b.seen[l].is_none_or(|s| s <= pos));
        let room = b.held.len() < HOLD_FRAMES && b.held_bytes.len() + frame.len() <= HOLD_BYTES;
        if others_may_fill && room && now.saturating_sub(since) <= fill_wait {
            let start = b.held_bytes.len();
            b.held_bytes.extend_from_slice(frame);
            b.held.push(Held { line: line as u8, seq, start, end: b.held_bytes.len() });
            return Verdict::Ahead;
        }
        // Lost on every line (or not filled in time): the held messages, then this one, go
        // through; the adapter finds the gap and the book resyncs.
        self.unfilled += 1;
        for g in b.gapped.iter_mut() {
            *g = false;
        }
        b.ahead_since = None;
        let last = b.held.iter().map(|h| h.seq.last).fold(seq.last, u64::max);
        b.pos = Some(last);
        b.remember(seq.last, now, line);
        self.counts[line].won += 1;
        Verdict::Flush
    }

    fn apply(&mut self, line: usize, key: usize, last: u64, now: u64) -> Verdict {
        let b = &mut self.books[key];
        b.pos = Some(last);
        b.remember(last, now, line);
        b.ahead_since = None;
        for (l, g) in b.gapped.iter_mut().enumerate() {
            if *g && l != line {
                // This line's gap is filled by `line`'s copy... or will be once it catches
                // up: either way the book did not wait for the gapped line.
                *g = false;
                self.counts[l].filled += 1;
            }
        }
        self.counts[line].won += 1;
        Verdict::Apply
    }

    fn duplicate(&mut self, line: usize, key: usize, last: u64, now: u64) -> Verdict {
        let b = &self.books[key];
        let advantage = b
            .recent
            .iter()
            .find(|(l, _, w)| *l == last && usize::from(*w) != line)
            .map(|&(_, t, w)| (usize::from(w), now.saturating_sub(t)));
        self.counts[line].duplicates += 1;
        Verdict::Duplicate { advantage }
    }

    fn key(&mut self, key: &[u8]) -> usize {
        if let Some(i) = self.books.iter().position(|b| b.key == key) {
            return i;
        }
        self.books.push(BookLine::new(key));
        self.books.len() - 1
    }

    fn content_key(&mut self, key: &[u8], trades: bool) -> usize {
        if let Some(i) = self.content.iter().position(|c| c.trades == trades && c.key == key) {
            return i;
        }
        self.content.push(ContentBook::new(key, trades));
        self.content.len() - 1
    }

    /// Reads what the frame is. Only the fields the rules need are looked at.
    fn classify(&mut self, line: usize, frame: &[u8]) -> Result<Class, VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        let family = self.family;
        let mut key = std::mem::take(&mut self.key_buf);
        key.clear();
        let mut conn_seq = None;
        let channels = &mut self.channels[line.min(MAX_LINES - 1)];
        let r = scratch.parse(frame, false, |root| {
            match family {
                Family::CoinbaseAdvanced => conn_seq = field_uint(root, "sequence_num"),
                Family::GeminiV1 => conn_seq = field_uint(root, "socket_sequence"),
                Family::Bitfinex => {
                    let c = bitfinex(root, channels, &mut key, &mut conn_seq);
                    let named = !key.is_empty();
                    return Ok((c, named));
                }
                _ => {}
            }
            let (k, c) = match family {
                Family::BinanceSpot | Family::BinanceFutures => binance(root),
                Family::Okx => okx(root),
                Family::Deribit => deribit(root),
                Family::Bybit => bybit(root),
                Family::KrakenFutures => kraken_futures(root),
                Family::Hyperliquid => hyperliquid(root),
                Family::KrakenV2 => kraken_v2(root),
                Family::KrakenV1 => kraken_v1(root),
                Family::CoinbaseExchange => coinbase_exchange(root),
                Family::GeminiV2 => gemini_v2(root),
                Family::CoinbaseAdvanced => coinbase_advanced(root),
                Family::GeminiV1 => gemini_v1(root),
                Family::Bitfinex => (None, EVERY),
                Family::Bitmex => bitmex(root),
            };
            if let Some(k) = k {
                key.extend_from_slice(k);
            }
            if family == Family::GeminiV1 && k.is_some() {
                // The connection's one symbol: its messages do not name it.
                key.extend_from_slice(&self.only_key);
            }
            Ok((c, k.is_some()))
        });
        self.scratch = Some(scratch);
        self.conn_seq = conn_seq;
        let class = match r {
            Ok((class, true)) => match class {
                Class::Book { snapshot, restart, seq, .. } => {
                    Class::Book { key: self.key(&key), snapshot, restart, seq }
                }
                Class::Trade { id, .. } => Class::Trade { key: self.key(&key), id },
                Class::Content { snapshot, trades, .. } => {
                    Class::Content { key: self.content_key(&key, trades), snapshot, trades }
                }
                c => c,
            },
            Ok((Class::Book { .. } | Class::Trade { .. } | Class::Content { .. }, false)) => {
                Class::Every
            }
            Ok((c, false)) => c,
            Err(e) => {
                self.key_buf = key;
                return Err(e);
            }
        };
        self.key_buf = key;
        Ok(class)
    }
}

type Read<'i> = (Option<&'i [u8]>, Class);

const EVERY: Class = Class::Every;
const ONE: Class = Class::OneLine { unsequenced: false };
const UNSEQUENCED: Class = Class::OneLine { unsequenced: true };

fn book(snapshot: bool, restart: bool, first: u64, last: u64, prev: Option<u64>) -> Class {
    Class::Book { key: 0, snapshot, restart, seq: Seq { first, last, prev } }
}

fn binance<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let d = root.get("data").unwrap_or(root);
    let sym = field_text(d, "s");
    match d.get("e").and_then(text) {
        Some(b"depthUpdate") => {
            let (Some(first), Some(last)) = (field_uint(d, "U"), field_uint(d, "u")) else {
                return (None, EVERY);
            };
            (sym, book(false, false, first, last, field_uint(d, "pu")))
        }
        Some(b"trade") => (sym, Class::Trade { key: 0, id: field_uint(d, "t").unwrap_or(0) }),
        Some(b"aggTrade") => (sym, Class::Trade { key: 0, id: field_uint(d, "a").unwrap_or(0) }),
        Some(b"markPriceUpdate" | b"forceOrder" | b"bookTicker") => (None, ONE),
        // Spot bookTicker has no `e`.
        None if d.get("b").is_some() && d.get("A").is_some() => (None, ONE),
        _ => (None, EVERY),
    }
}

fn okx<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let Some(arg) = root.get("arg") else { return (None, EVERY) };
    let Some(data) = root.get("data") else { return (None, EVERY) };
    let channel = field_text(arg, "channel").unwrap_or_default();
    let inst = field_text(arg, "instId");
    if channel.starts_with(b"books") || channel == b"bbo-tbt" {
        let Some(d) = data.get_idx(0) else { return (None, EVERY) };
        let snapshot = field_text(root, "action") == Some(b"snapshot");
        let seq = d.get("seqId").and_then(int).and_then(|s| u64::try_from(s).ok());
        let prev = d.get("prevSeqId").and_then(int);
        return match (seq, channel == b"bbo-tbt") {
            (Some(seq), false) => {
                // A snapshot's prevSeqId is -1.
                let prev = if snapshot { None } else { prev.and_then(|p| u64::try_from(p).ok()) };
                (inst, book(snapshot, false, seq, seq, prev))
            }
            _ => (None, UNSEQUENCED),
        };
    }
    if channel == b"trades" || channel == b"trades-all" {
        let id = data
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| {
                        field_text(t, "tradeId").and_then(super::super::venue::json::parse_u64)
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        return (inst, Class::Trade { key: 0, id });
    }
    (None, ONE)
}

fn deribit<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let Some(params) = root.get("params") else { return (None, EVERY) };
    let channel = field_text(params, "channel").unwrap_or_default();
    let Some(d) = params.get("data") else { return (None, EVERY) };
    if channel.starts_with(b"book.") {
        let snapshot = field_text(d, "type") == Some(b"snapshot");
        let Some(id) = field_uint(d, "change_id") else { return (None, EVERY) };
        let prev = if snapshot { None } else { field_uint(d, "prev_change_id") };
        return (field_text(d, "instrument_name"), book(snapshot, false, id, id, prev));
    }
    if channel.starts_with(b"trades.") {
        let Some(a) = d.as_array() else { return (None, EVERY) };
        let id = a.iter().filter_map(|t| field_uint(t, "trade_seq")).max().unwrap_or(0);
        let name = a.iter().next().and_then(|t| field_text(t, "instrument_name"));
        return (name, Class::Trade { key: 0, id });
    }
    if channel.is_empty() {
        return (None, EVERY);
    }
    (None, ONE)
}

fn bybit<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let topic = field_text(root, "topic").unwrap_or_default();
    let Some(d) = root.get("data") else { return (None, EVERY) };
    if topic.starts_with(b"orderbook.") {
        let Some(u) = field_uint(d, "u") else { return (None, EVERY) };
        let snapshot = field_text(root, "type") == Some(b"snapshot") || u == 1;
        return (field_text(d, "s"), book(snapshot, u == 1, u, u, None));
    }
    if topic.starts_with(b"publicTrade.") {
        let Some(a) = d.as_array() else { return (None, EVERY) };
        let id = a
            .iter()
            .filter_map(|t| field_text(t, "i").and_then(super::super::venue::json::parse_u64))
            .max()
            .unwrap_or(0);
        let name = a.iter().next().and_then(|t| field_text(t, "s"));
        return (name, Class::Trade { key: 0, id });
    }
    if topic.is_empty() {
        return (None, EVERY);
    }
    (None, ONE)
}

fn kraken_futures<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let feed = field_text(root, "feed").unwrap_or_default();
    let product = field_text(root, "product_id");
    match feed {
        b"book_snapshot" | b"book" => {
            let Some(seq) = field_uint(root, "seq") else { return (None, EVERY) };
            (product, book(feed == b"book_snapshot", false, seq, seq, None))
        }
        b"trade" => (product, Class::Trade { key: 0, id: field_uint(root, "seq").unwrap_or(0) }),
        // The snapshot of recent trades: once per subscription, per line.
        b"trade_snapshot" => (None, ONE),
        b"ticker" | b"ticker_lite" => (None, ONE),
        _ => (None, EVERY),
    }
}

/// A frame's content hash: of its bytes, less what differs between connections
/// ([`content_bytes`]; Gemini v1's `socket_sequence` value, wherever it is). `numbered`: the
/// frame ends with its connection's number (Bitfinex `SEQ_ALL`).
fn frame_content_hash(family: Family, frame: &[u8], numbered: bool) -> u64 {
    const SEQ: &[u8] = b"\"socket_sequence\":";
    if family == Family::GeminiV1 {
        if let Some(i) = frame.windows(SEQ.len()).position(|w| w == SEQ) {
            let rest = &frame[i + SEQ.len()..];
            let n = rest.iter().take_while(|c| c.is_ascii_digit() || **c == b' ').count();
            // The bytes before and after, in that order.
            return content_hash(&frame[..i]).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ content_hash(&rest[n..]);
        }
    }
    if family == Family::Bitfinex {
        return content_hash(bitfinex_content(frame, numbered));
    }
    content_hash(content_bytes(family, frame))
}

/// A Bitfinex channel frame's bytes less the connection's channel id (before the first comma)
/// and, when `numbered`, its sequence number (after the last comma): `[17082,[7254.7,0,1],3]`
/// is known by `,[7254.7,0,1]`.
fn bitfinex_content(frame: &[u8], numbered: bool) -> &[u8] {
    let start = frame.iter().position(|&c| c == b',').unwrap_or(0);
    let end = if numbered {
        frame.iter().rposition(|&c| c == b',').filter(|&e| e > start).unwrap_or(frame.len())
    } else {
        frame.len()
    };
    &frame[start..end]
}

/// Reads a Bitfinex frame for line `channels`' connection: `subscribed` and `unsubscribed`
/// events update its channel ids; a channel frame is classified by its channel, its book's
/// symbol written into `key`, and its connection number (`SEQ_ALL`, the element after the
/// payload) into `conn_seq`.
fn bitfinex(
    root: simd_json::tape::Value<'_, '_>,
    channels: &mut Vec<Channel>,
    key: &mut Vec<u8>,
    conn_seq: &mut Option<u64>,
) -> Class {
    let Some(a) = root.as_array() else {
        let id = field_uint(root, "chanId");
        match (field_text(root, "event"), id) {
            (Some(b"subscribed"), Some(id)) => {
                let symbol = field_text(root, "symbol").or_else(|| field_text(root, "key"));
                let kind = match field_text(root, "channel") {
                    Some(b"book") => ChannelKind::Book,
                    Some(b"trades") => ChannelKind::Trades,
                    Some(b"ticker") => ChannelKind::Ticker,
                    _ => ChannelKind::Other,
                };
                let symbol = symbol.unwrap_or_default();
                for c in channels.iter_mut().filter(|c| c.id == Some(id)) {
                    c.id = None;
                }
                match channels.iter_mut().find(|c| c.kind == kind && c.key == symbol) {
                    Some(c) => c.id = Some(id),
                    None => channels.push(Channel { id: Some(id), kind, key: symbol.to_vec() }),
                }
            }
            (Some(b"unsubscribed"), Some(id)) => {
                for c in channels.iter_mut().filter(|c| c.id == Some(id)) {
                    c.id = None;
                }
            }
            _ => {}
        }
        return EVERY;
    };
    let (Some(id), Some(second)) = (a.get(0).and_then(uint), a.get(1)) else { return EVERY };
    let tag = text(second).filter(|t| t.first().is_some_and(u8::is_ascii_alphabetic));
    // `[CHAN, "hb", SEQ]`, `[CHAN, "te", TRADE, SEQ]`, `[CHAN, PAYLOAD, SEQ]`.
    let seq_at = match tag {
        Some(b"hb") => 2,
        Some(_) => 3,
        None => 2,
    };
    if a.len() == seq_at + 1 {
        *conn_seq = a.get(seq_at).and_then(uint);
    }
    let Some(c) = channels.iter().find(|c| c.id == Some(id)) else { return EVERY };
    let class = match (c.kind, tag) {
        (_, Some(b"hb")) => return EVERY,
        (ChannelKind::Book, Some(b"cs")) => content(false, false),
        (ChannelKind::Book, None) => {
            let Some(list) = second.as_array() else { return EVERY };
            let nested = list.get(0).is_some_and(|l| l.as_array().is_some());
            content(nested || list.is_empty(), false)
        }
        (ChannelKind::Trades, Some(b"te" | b"tu")) => {
            let id = a.get(2).and_then(|t| t.get_idx(0)).and_then(uint).unwrap_or(0);
            Class::Trade { key: 0, id }
        }
        (ChannelKind::Ticker, None) => return ONE,
        _ => return EVERY,
    };
    key.extend_from_slice(&c.key);
    class
}

/// The bytes a content hash covers: the frame, less what differs between connections
/// (Kraken v1's channel id, before the first comma).
fn content_bytes(family: Family, frame: &[u8]) -> &[u8] {
    match family {
        Family::KrakenV1 => match frame.iter().position(|&c| c == b',') {
            Some(i) => &frame[i..],
            None => frame,
        },
        // The connection's `sequence_num` and send `timestamp` come before the `events`.
        Family::CoinbaseAdvanced => {
            const EVENTS: &[u8] = b"\"events\":";
            match frame.windows(EVENTS.len()).position(|w| w == EVENTS) {
                Some(i) => &frame[i..],
                None => frame,
            }
        }
        _ => frame,
    }
}

fn content(snapshot: bool, trades: bool) -> Class {
    Class::Content { key: 0, snapshot, trades }
}

fn hyperliquid<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let channel = field_text(root, "channel").unwrap_or_default();
    let Some(d) = root.get("data") else { return (None, EVERY) };
    match channel {
        b"l2Book" => {
            let Some(t) = field_uint(d, "time") else { return (None, EVERY) };
            (field_text(d, "coin"), book(false, false, t, t, None))
        }
        b"trades" => {
            let name =
                d.as_array().and_then(|a| a.iter().next()).and_then(|t| field_text(t, "coin"));
            (name, content(false, true))
        }
        _ => (None, EVERY),
    }
}

fn kraken_v2<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let channel = field_text(root, "channel").unwrap_or_default();
    let Some(data) = root.get("data").and_then(|d| d.as_array()) else { return (None, EVERY) };
    let first = data.iter().next();
    match channel {
        b"book" => {
            let snapshot = field_text(root, "type") == Some(b"snapshot");
            (first.and_then(|d| field_text(d, "symbol")), content(snapshot, false))
        }
        b"trade" => {
            let id = data.iter().filter_map(|t| field_uint(t, "trade_id")).max().unwrap_or(0);
            (first.and_then(|d| field_text(d, "symbol")), Class::Trade { key: 0, id })
        }
        b"ticker" => (None, ONE),
        _ => (None, EVERY),
    }
}

fn kraken_v1<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let Some(a) = root.as_array() else { return (None, EVERY) };
    let n = a.len();
    if n < 4 {
        return (None, EVERY);
    }
    let (Some(channel), pair) = (a.get(n - 2).and_then(text), a.get(n - 1).and_then(text)) else {
        return (None, EVERY);
    };
    if channel.starts_with(b"book-") {
        let payload = a.get(1);
        let snapshot = payload.is_some_and(|p| p.get("as").is_some() || p.get("bs").is_some());
        return (pair, content(snapshot, false));
    }
    if channel == b"trade" {
        return (pair, content(false, true));
    }
    (None, ONE)
}

fn coinbase_exchange<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let product = field_text(root, "product_id");
    match field_text(root, "type").unwrap_or_default() {
        b"snapshot" => (product, content(true, false)),
        b"l2update" => (product, content(false, false)),
        b"match" | b"last_match" => {
            (product, Class::Trade { key: 0, id: field_uint(root, "trade_id").unwrap_or(0) })
        }
        b"ticker" => (None, ONE),
        _ => (None, EVERY),
    }
}

fn gemini_v2<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let symbol = field_text(root, "symbol");
    match field_text(root, "type").unwrap_or_default() {
        // The first `l2_updates` of a symbol is its full book, the one carrying `trades`.
        b"l2_updates" => (symbol, content(root.get("trades").is_some(), false)),
        b"trade" => {
            (symbol, Class::Trade { key: 0, id: field_uint(root, "event_id").unwrap_or(0) })
        }
        b"heartbeat" => (None, EVERY),
        _ => (None, EVERY),
    }
}

fn gemini_v1<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    match field_text(root, "type").unwrap_or_default() {
        b"update" => {
            let Some(events) = root.get("events").and_then(|e| e.as_array()) else {
                return (None, EVERY);
            };
            // The first `update` of a connection is the full book (`reason: "initial"`).
            let initial = events.iter().any(|e| field_text(e, "reason") == Some(b"initial"));
            (Some(b""), content(initial, false))
        }
        _ => (None, EVERY),
    }
}

fn bitmex<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let (Some(table), Some(rows)) =
        (field_text(root, "table"), root.get("data").and_then(|d| d.as_array()))
    else {
        return (None, EVERY);
    };
    let action = field_text(root, "action").unwrap_or_default();
    // The one book all rows are of (an empty partial names it in its `filter`).
    let mut symbols = rows.iter().map(|r| field_text(r, "symbol"));
    let book = match symbols.next() {
        Some(first) => first.filter(|_| symbols.all(|s| s == first)),
        None => root.get("filter").and_then(|f| field_text(f, "symbol")),
    };
    match (table, action) {
        (b"orderBookL2" | b"orderBookL2_25", _) => match book {
            Some(b) => (Some(b), content(action == b"partial", false)),
            // Rows of several books: taken from one line only.
            None => (None, UNSEQUENCED),
        },
        (b"trade", b"insert") => match book {
            Some(b) => (Some(b), content(false, true)),
            None => (None, ONE),
        },
        // Recent trades (history), quotes, instruments, liquidations.
        _ => (None, ONE),
    }
}

fn coinbase_advanced<'i>(root: simd_json::tape::Value<'_, 'i>) -> Read<'i> {
    let channel = field_text(root, "channel").unwrap_or_default();
    let Some(events) = root.get("events").and_then(|e| e.as_array()) else {
        return (None, EVERY);
    };
    match channel {
        b"l2_data" => {
            let Some(e) = events.iter().next() else { return (None, EVERY) };
            let snapshot = field_text(e, "type") == Some(b"snapshot");
            (field_text(e, "product_id"), content(snapshot, false))
        }
        b"market_trades" => {
            let trades = || {
                events
                    .iter()
                    .filter(|e| field_text(*e, "type") != Some(b"snapshot"))
                    .filter_map(|e| e.get("trades").and_then(|t| t.as_array()))
                    .flat_map(|a| a.iter())
            };
            let id = trades()
                .filter_map(|t| {
                    field_text(t, "trade_id").and_then(super::super::venue::json::parse_u64)
                })
                .max()
                .unwrap_or(0);
            let name = trades().next().and_then(|t| field_text(t, "product_id"));
            // The snapshot of recent trades (history, not published) names no trade here.
            (name, Class::Trade { key: 0, id })
        }
        b"ticker" | b"ticker_batch" => (None, ONE),
        _ => (None, EVERY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: [bool; 2] = [true, true];

    fn judge(a: &mut Arbiter, line: usize, frame: &[u8], now: u64, synced: bool) -> Verdict {
        a.judge(line, frame, now, &OPEN, 1_000_000_000, |_| synced)
    }

    #[test]
    fn kraken_v2_books_go_by_content_and_trades_by_id() {
        let mut a = Arbiter::new(Family::of(Venue::Kraken));
        let snap = br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.1}],"asks":[{"price":45285.2,"qty":0.001}],"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
        let upd = |ts: u32| {
            format!(r#"{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD","bids":[{{"price":45283.4,"qty":1.5}}],"asks":[],"checksum":2,"timestamp":"2023-10-06T17:35:56.{ts:06}Z"}}]}}"#).into_bytes()
        };
        let trade = |id: u64| {
            format!(r#"{{"channel":"trade","type":"update","data":[{{"symbol":"BTC/USD","side":"buy","price":45285.2,"qty":0.001,"ord_type":"market","trade_id":{id},"timestamp":"2023-10-06T17:35:56.000001Z"}}]}}"#).into_bytes()
        };
        assert_eq!(judge(&mut a, 0, snap, 10, false), Verdict::Apply);
        // Line 1's snapshot is the same: a duplicate that places line 1.
        assert_eq!(
            judge(&mut a, 1, snap, 15, true),
            Verdict::Duplicate { advantage: Some((0, 5)) }
        );
        assert_eq!(judge(&mut a, 1, &upd(1), 20, true), Verdict::Apply);
        assert_eq!(
            judge(&mut a, 0, &upd(1), 27, true),
            Verdict::Duplicate { advantage: Some((1, 7)) }
        );
        assert_eq!(judge(&mut a, 0, &upd(2), 30, true), Verdict::Apply);
        // Line 1 skips update 2 (lost behind the front: nothing to do) and matches 3.
        assert_eq!(judge(&mut a, 0, &upd(3), 40, true), Verdict::Apply);
        assert!(matches!(judge(&mut a, 1, &upd(3), 41, true), Verdict::Duplicate { .. }));
        assert_eq!((a.counts(1).gaps, a.counts(1).filled), (1, 1));
        // Line 0, in front, loses update 4. Line 1's copy of it is applied at once (line 1
        // might have lost 5 instead); its next copy, of 5, shows that 4 came before 5: line 0
        // lost 4, and 5 is applied once more after it.
        assert_eq!(judge(&mut a, 0, &upd(5), 50, true), Verdict::Apply);
        assert_eq!(judge(&mut a, 1, &upd(4), 51, true), Verdict::Apply);
        let mut again = Vec::new();
        assert!(a.next_held(&mut again).is_none());
        assert_eq!(a.counts(1).found_lost, 0);
        assert_eq!(judge(&mut a, 1, &upd(5), 52, true), Verdict::Apply);
        assert!(a.next_held(&mut again).is_some());
        assert_eq!(again, upd(5));
        assert!(a.next_held(&mut again).is_none());
        assert_eq!((a.counts(1).found_lost, a.unfilled()), (1, 0));
        // Line 0 goes on at the front, line 1 in step behind it.
        assert_eq!(judge(&mut a, 0, &upd(6), 60, true), Verdict::Apply);
        assert!(matches!(judge(&mut a, 1, &upd(6), 61, true), Verdict::Duplicate { .. }));
        assert_eq!(a.counts(1).found_lost, 1);
        // Trades: once per id, whichever line is first.
        assert_eq!(judge(&mut a, 1, &trade(7), 62, true), Verdict::Apply);
        assert!(matches!(judge(&mut a, 0, &trade(7), 63, true), Verdict::Duplicate { .. }));
        // Heartbeats and acknowledgements: every line's.
        let hb = br#"{"channel":"heartbeat"}"#;
        assert_eq!(judge(&mut a, 0, hb, 70, true), Verdict::Apply);
        assert_eq!(judge(&mut a, 1, hb, 70, true), Verdict::Apply);
    }

    #[test]
    fn content_hashes_differ_for_one_changed_byte_and_cover_the_tail() {
        let a = br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","100.01","1.0"]]}"#;
        let mut seen = std::collections::BTreeSet::new();
        assert!(seen.insert(content_hash(a)));
        for i in 0..a.len() {
            let mut b = a.to_vec();
            b[i] ^= 1;
            assert!(seen.insert(content_hash(&b)), "byte {i}");
        }
        assert_ne!(content_hash(&a[..a.len() - 1]), content_hash(a));
        assert_ne!(content_hash(b""), content_hash(b"\0"));
    }
}
