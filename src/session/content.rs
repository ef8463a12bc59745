//! Arbitration by content, for venues whose book messages carry no per-book sequence (Kraken
//! v1 and v2, Coinbase Exchange, Gemini v2, Coinbase Advanced Trade, Bitfinex, BitMEX,
//! Hyperliquid's trades).
//!
//! A venue sends every connection the same messages of a book, in the same order, byte for
//! byte. Without numbers to compare, each book message is known by a hash of its bytes, and
//! the book keeps a log of the hashes it applied (the last [`LOG`]). Each line has a cursor
//! into the log: the last entry it delivered a copy of.
//!
//! A message from a line whose cursor is known:
//! - found in the log after the cursor: a **duplicate**, the cursor moves to it; entries it
//!   skipped are messages this line lost and another line had delivered: a gap **filled by
//!   the other**;
//! - not found, and the line's cursor is at the log's end: the line is at the front and the
//!   message is **new**: applied, appended;
//! - not found, and the log goes on past the cursor: one of two things happened, and the
//!   bytes cannot tell which.
//!   - **This line lost** the entries after its cursor (another line delivered them since)
//!     and the message follows them: a quiet book whose line in front loses a message, the
//!     other line's copy coming before the front's next message.
//!   - **The other lines lost it** (this line is behind them, and its copies of the entries
//!     after its cursor are still to come): on one connection the loss would have gone
//!     unnoticed, or on a checksum venue been caught by the next checksum. Its place is
//!     right after this line's cursor.
//!
//!   The message is applied at once, at the end ([`Outcome::NewAfterLoss`]), and the line's
//!   next message decides: a copy of an entry between its cursor and that message shows that
//!   the others lost it; every book message of these venues sets a level's size (none adds
//!   to it; BitMEX's rows, keyed by level id, are applied that way with merged lines, see
//!   [`super::arbiter`]), so the book is put right by applying every message applied after
//!   its place once more (those the front line delivered since included), whose bytes the
//!   log keeps ([`KEEP_BYTES`]): each level ends with the size its last writer gave it, as if
//!   nothing had been lost ([`Outcome::Repair`]). When the bytes of those
//!   messages are no longer kept, the book resyncs ([`Outcome::Lost`]). Anything else (a new
//!   message, a copy of one after it, or another line's copy of it) shows that this line had
//!   lost the entries: nothing more to do.
//!
//!   When the line goes before its next message (its connection closes, or its numbers show
//!   a loss), the message is left to the others: a line in step whose next message is a copy
//!   of it, right after everything before it, shows it in its place; anything else from a
//!   line in step (a new message) leaves its place unknown, and the book, which may hold it
//!   out of place where no checksum would tell, resyncs ([`Outcome::Lost`]).
//!
//! A line whose position is not known (it came after the book's snapshot, or reconnected)
//! holds its unknown messages until the line in front applies one of them: from that entry on
//! it is in step, and its held messages after it are applied at once (it was ahead). Held
//! messages older than the fill wait are dropped; with no line in step left open, the book
//! resyncs. A snapshot restarts the log from itself, with only its line in step.
//!
//! The rule assumes the venue sends every connection the same bytes for a book; copies that
//! never match are never applied twice, but a line whose bytes differ cannot help the others.

use super::arbiter::MAX_LINES;

/// Applied messages remembered per book.
pub const LOG: usize = 4096;

/// Most messages a line out of step holds per book.
const HOLD: usize = 1024;

/// Most bytes a line out of step holds per book.
const HOLD_BYTES: usize = 4 << 20;

/// Bytes of the latest applied book messages kept per book, to apply again after a message
/// the line in front lost ([`Outcome::Repair`]). A megabyte is a few thousand messages of the
/// busiest books: more than a line lags behind another for a second.
pub const KEEP_BYTES: usize = 1 << 20;

/// A 64-bit hash of a message's bytes (XXH3; not cryptographic: two different messages of one
/// book colliding would take one for a copy of the other, odds about 2^-64 per pair).
pub fn content_hash(bytes: &[u8]) -> u64 {
    twox_hash::xxh3::hash64(bytes)
}

/// One applied message.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    hash: u64,
    /// When it was applied (local ns).
    at: u64,
    /// The line that delivered it first.
    line: u8,
    /// Where its bytes went in the kept bytes (a position counted from the start, whose
    /// remainder by [`KEEP_BYTES`] is the offset), and how many; `NOT_KEPT` when not kept.
    kept_at: u64,
    kept_len: u32,
}

/// [`Entry::kept_len`] of a message whose bytes are not kept (a snapshot, a trade).
const NOT_KEPT: u32 = u32::MAX;

/// A message held by a line out of step.
#[derive(Debug, Clone, Copy)]
struct Held {
    hash: u64,
    at: u64,
    start: usize,
    end: usize,
}

/// What the content rule made of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New: apply it.
    New,
    /// New at the front, from a line whose last message is `skipped` entries behind: either
    /// it lost those (another line delivered them), or the others lost this one (its next
    /// message decides, see the [module docs](self)). Apply it.
    NewAfterLoss {
        /// Messages this line lost that another line had delivered.
        skipped: u64,
    },
    /// A copy of an applied message: drop it. `skipped`: entries this line had lost and
    /// another line had delivered; `winner`: (line, ns earlier).
    Copy {
        /// Messages this line lost that another line had delivered.
        skipped: u64,
        /// Who delivered it first and how much earlier.
        winner: (usize, u64),
    },
    /// Held: this line is not in step yet.
    Held,
    /// A copy showing that the lines in front lost the line's previous message (applied at
    /// the front, [`Outcome::NewAfterLoss`]), whose place was before this one: apply it, then
    /// the other messages applied after that place once more ([`ContentBook::next_again`]
    /// gives them back).
    Repair {
        /// Messages to apply again after it.
        again: u64,
    },
    /// A book message the lines in front never delivered, whose place can no longer be
    /// mended (the messages after it are no longer kept, or the venue's messages do not all
    /// set a level's size): the book resyncs.
    Lost,
    /// A trade the lines in front never delivered: applied late (out of its place).
    Late,
    /// Dropped: a snapshot while the book is synced, or a copy that cannot be placed.
    Dropped,
}

/// One stream's content log (a book's messages, or its trades).
#[derive(Debug)]
pub struct ContentBook {
    /// The book's key, and whether this is its trade stream.
    pub key: Vec<u8>,
    /// Its trades (a lost trade is applied late rather than resynced).
    pub trades: bool,
    /// A snapshot (or for trades, any message) started the log.
    started: bool,
    log: Vec<Entry>,
    /// Entries appended since the log started.
    end: u64,
    cursor: [Option<u64>; MAX_LINES],
    held: [Vec<Held>; MAX_LINES],
    held_bytes: [Vec<u8>; MAX_LINES],
    /// Line whose held messages are being given back (it just came in step).
    pub releasing: Option<usize>,
    /// The latest applied book messages' bytes (a ring of [`KEEP_BYTES`], made at the first
    /// message kept), and how many bytes were ever written to it.
    kept: Vec<u8>,
    kept_head: u64,
    /// Entries to apply again after a repair: (next, end).
    again: Option<(u64, u64)>,
    /// Per line, a message it delivered that the log did not hold while the log went on past
    /// its cursor: (its cursor then, the message's entry). Its next message decides which of
    /// the two lost something (see the [module docs](self)).
    unsure: [Option<(u64, u64)>; MAX_LINES],
    /// The entry of a message whose place was still undecided when its line went (closed,
    /// or out of step): the next message of a line in step decides instead
    /// ([`ContentBook::orphan_decides`]).
    orphan: Option<u64>,
    /// Lines found to have lost entries another line delivered, not yet counted
    /// ([`ContentBook::take_gap_filled`]).
    gap_filled: [bool; MAX_LINES],
    /// Per line out of step after a gap in its connection's numbers, the last entry it had
    /// delivered before: its connection's later messages are newer, so only an entry after it
    /// can be their copy. (A venue may send the same bytes twice, Bitfinex's `[PRICE,0,1]`
    /// deletes often: an older copy must not place a line.) Not kept across a reconnect.
    floor: [Option<u64>; MAX_LINES],
}

impl ContentBook {
    /// An empty stream for `key`.
    pub fn new(key: &[u8], trades: bool) -> Self {
        ContentBook {
            key: key.to_vec(),
            trades,
            started: false,
            log: Vec::new(),
            end: 0,
            cursor: [None; MAX_LINES],
            held: Default::default(),
            held_bytes: Default::default(),
            releasing: None,
            kept: Vec::new(),
            kept_head: 0,
            again: None,
            unsure: [None; MAX_LINES],
            orphan: None,
            gap_filled: [false; MAX_LINES],
            floor: [None; MAX_LINES],
        }
    }

    /// Whether `line` was found (since the last call) to have lost messages another line had
    /// delivered: a gap, filled by the other.
    pub fn take_gap_filled(&mut self, line: usize) -> bool {
        self.gap_filled.get_mut(line).is_some_and(std::mem::take)
    }

    /// Forgets everything: the book starts again from a snapshot.
    pub fn reset(&mut self) {
        self.started = false;
        self.end = 0;
        self.cursor = [None; MAX_LINES];
        for l in 0..MAX_LINES {
            self.drop_held(l);
        }
        self.releasing = None;
        self.again = None;
        self.unsure = [None; MAX_LINES];
        self.orphan = None;
        self.floor = [None; MAX_LINES];
    }

    /// Line `line` is gone: its position and what it held no longer count.
    pub fn line_lost(&mut self, line: usize) {
        if line < MAX_LINES {
            self.cursor[line] = None;
            self.floor[line] = None;
            self.orphan_unsure(line);
            self.drop_held(line);
        }
        if self.releasing == Some(line) {
            self.releasing = None;
        }
    }

    /// Line `line` lost a message of some book (its connection's numbers jumped): its
    /// position is no longer known, but its connection goes on, so its next messages are
    /// newer than the last it delivered: only a newer copy places it again.
    pub fn line_out_of_step(&mut self, line: usize) {
        if line < MAX_LINES {
            if let Some(c) = self.cursor[line].take() {
                self.floor[line] = Some(c);
            }
            self.orphan_unsure(line);
            self.drop_held(line);
        }
        if self.releasing == Some(line) {
            self.releasing = None;
        }
    }

    /// `line` goes before its next message could decide the place of the one it delivered
    /// last: that message is left to the other lines' next messages.
    fn orphan_unsure(&mut self, line: usize) {
        if let Some((_, m)) = self.unsure[line].take() {
            self.orphan = Some(self.orphan.map_or(m, |o| o.min(m)));
        }
    }

    /// With an orphan (a message at entry `m` whose line went before its place was known),
    /// whether `line`'s message `hash` decides it: a copy of it right after everything before
    /// it shows it in its place (`Some(false)`, no longer an orphan); a copy of an older entry
    /// from a line behind decides nothing (`None`); anything else from a line in step (a new
    /// message, or a copy after skipping entries) leaves its place unknown for good, and the
    /// book, which may hold it out of its place, must resync (`Some(true)`).
    fn orphan_decides(&mut self, line: usize, hash: u64) -> Option<bool> {
        let m = self.orphan?;
        let c = self.cursor[line].filter(|&c| c + 1 >= self.oldest())?;
        match self.find(c + 1, hash) {
            Some(j) if j < m => None,
            Some(j) if j == m && c + 1 == m => {
                self.orphan = None;
                Some(false)
            }
            _ => {
                self.orphan = None;
                Some(true)
            }
        }
    }

    fn drop_held(&mut self, line: usize) {
        self.held[line].clear();
        self.held_bytes[line].clear();
    }

    fn entry(&self, i: u64) -> Entry {
        self.log[(i % LOG as u64) as usize]
    }

    /// The oldest entry still in the log.
    fn oldest(&self) -> u64 {
        self.end.saturating_sub(LOG as u64)
    }

    fn find(&self, from: u64, hash: u64) -> Option<u64> {
        (from.max(self.oldest())..self.end).find(|&i| self.entry(i).hash == hash)
    }

    fn append(&mut self, hash: u64, at: u64, line: usize, bytes: Option<&[u8]>) {
        if self.log.is_empty() {
            self.log = vec![Entry::default(); LOG];
        }
        let i = (self.end % LOG as u64) as usize;
        let (kept_at, kept_len) = self.keep(bytes);
        self.log[i] = Entry { hash, at, line: line as u8, kept_at, kept_len };
        self.end += 1;
        self.cursor[line] = Some(self.end - 1);
    }

    /// Keeps a book message's bytes in the ring; where they went.
    fn keep(&mut self, bytes: Option<&[u8]>) -> (u64, u32) {
        let Some(bytes) = bytes.filter(|b| !self.trades && b.len() <= KEEP_BYTES) else {
            return (0, NOT_KEPT);
        };
        if self.kept.is_empty() {
            self.kept = vec![0; KEEP_BYTES];
        }
        let cap = KEEP_BYTES as u64;
        let mut at = self.kept_head;
        if at % cap + bytes.len() as u64 > cap {
            // Not across the ring's end: from its start.
            at = (at / cap + 1) * cap;
        }
        let off = (at % cap) as usize;
        self.kept[off..off + bytes.len()].copy_from_slice(bytes);
        self.kept_head = at + bytes.len() as u64;
        (at, bytes.len() as u32)
    }

    /// Entry `i`'s bytes, while kept.
    fn kept_bytes(&self, i: u64) -> Option<&[u8]> {
        let e = self.entry(i);
        let cap = KEEP_BYTES as u64;
        if e.kept_len == NOT_KEPT || self.kept_head > e.kept_at + cap {
            return None;
        }
        let off = (e.kept_at % cap) as usize;
        Some(&self.kept[off..off + e.kept_len as usize])
    }

    /// Moves entry `m` to its place right after entry `c`: the entries between move up by
    /// one, and so does every line's position on them (a position on `m` follows it).
    fn move_to_place(&mut self, c: u64, m: u64) {
        let moved = self.entry(m);
        let mut i = m;
        while i > c + 1 {
            let prev = self.entry(i - 1);
            self.log[(i % LOG as u64) as usize] = prev;
            i -= 1;
        }
        self.log[((c + 1) % LOG as u64) as usize] = moved;
        let follow = |at: &mut u64| {
            if *at == m {
                *at = c + 1;
            } else if *at > c && *at < m {
                *at += 1;
            }
        };
        self.cursor.iter_mut().flatten().for_each(follow);
        self.floor.iter_mut().flatten().for_each(follow);
        for (from, at) in self.unsure.iter_mut().flatten() {
            follow(from);
            follow(at);
        }
        self.orphan.iter_mut().for_each(follow);
    }

    /// The first entry that may be a copy of `line`'s next message while it is out of step.
    fn floor_of(&self, line: usize) -> u64 {
        self.floor[line].map_or(0, |f| f + 1)
    }

    /// Whether the bytes of entries `from..to` are all kept (to apply them again).
    fn all_kept(&self, from: u64, to: u64) -> bool {
        (from..to).all(|i| self.kept_bytes(i).is_some())
    }

    /// A snapshot of this book from `line`; `synced`: the book does not need it.
    pub fn snapshot(&mut self, line: usize, hash: u64, now: u64, synced: bool) -> Outcome {
        if synced && self.started {
            // Another line's (or a reconnected line's) snapshot: it places the line when it
            // is the same as the one applied.
            if let Some(j) = self.find(self.floor_of(line), hash) {
                self.cursor[line] = Some(j);
                let e = self.entry(j);
                return Outcome::Copy {
                    skipped: 0,
                    winner: (usize::from(e.line), now.saturating_sub(e.at)),
                };
            }
            return Outcome::Dropped;
        }
        self.reset();
        self.started = true;
        self.append(hash, now, line, None);
        Outcome::New
    }

    /// A message (not a snapshot) of this stream from `line`; `open` says which lines are
    /// open. See the [module docs](self).
    pub fn message(
        &mut self,
        line: usize,
        hash: u64,
        frame: &[u8],
        now: u64,
        open: &[bool],
        fill_wait: u64,
    ) -> Outcome {
        self.releasing = None;
        self.again = None;
        if !self.started {
            if !self.trades {
                // Before any snapshot: the adapter decides (a book waiting for its snapshot
                // ignores updates).
                return Outcome::New;
            }
            self.started = true;
        }
        if self.orphan_decides(line, hash) == Some(true) {
            return Outcome::Lost;
        }
        let cursor = self.cursor[line].filter(|&c| c + 1 >= self.oldest());
        if cursor.is_none() {
            self.unsure[line] = None;
        }
        if let (Some(c), Some((_, m))) = (cursor, self.unsure[line].take()) {
            // The line's last message was one the log did not hold, at entry `m`, while the
            // log went on past its cursor `c`: this one decides who lost what.
            match self.find(c + 1, hash) {
                Some(j) if j < m => {
                    // A copy of an entry before it: the line is behind, and the others lost
                    // the message at `m`, whose place was right after `c`. Every entry after
                    // that place (applied before it, or after it from the other lines since)
                    // is applied once more after it (this copy first, then all in order).
                    if self.trades || !self.all_kept(c + 1, self.end) {
                        return Outcome::Lost;
                    }
                    self.move_to_place(c, m);
                    self.cursor[line] = Some(j + 1);
                    self.again = Some((c + 2, self.end));
                    return Outcome::Repair { again: self.end - c - 2 };
                }
                // Anything else: the line had lost the entries after `c`; it stands at `m`.
                _ => {
                    self.cursor[line] = Some(m);
                    self.gap_filled[line] = true;
                }
            }
        }
        let cursor = self.cursor[line];
        if let Some(c) = cursor {
            if let Some(j) = self.find(c + 1, hash) {
                self.cursor[line] = Some(j);
                self.settle_unsure(line, j);
                let e = self.entry(j);
                return Outcome::Copy {
                    skipped: j - c - 1,
                    winner: (usize::from(e.line), now.saturating_sub(e.at)),
                };
            }
            if c + 1 == self.end {
                self.append(hash, now, line, Some(frame));
                self.in_step_after(line, hash);
                return Outcome::New;
            }
            if self.trades {
                // A trade the lines in front lost: published late rather than never.
                self.append(hash, now, line, None);
                return Outcome::Late;
            }
            // Either this line lost the entries after `c`, or the others lost this message:
            // applied now, the line's next message decides (see the module docs).
            let skipped = self.end - c - 1;
            self.append(hash, now, line, Some(frame));
            self.cursor[line] = Some(c);
            self.unsure[line] = Some((c, self.end - 1));
            self.in_step_after(line, hash);
            return Outcome::NewAfterLoss { skipped };
        }
        // Not in step: place the line by a copy of an applied message (newer than the last
        // it delivered).
        if let Some(j) = self.find(self.floor_of(line), hash) {
            self.cursor[line] = Some(j);
            self.drop_held(line);
            let e = self.entry(j);
            return Outcome::Copy {
                skipped: 0,
                winner: (usize::from(e.line), now.saturating_sub(e.at)),
            };
        }
        let in_step = (0..open.len().min(MAX_LINES)).any(|l| {
            l != line && open[l] && self.cursor[l].is_some_and(|c| c + 1 >= self.oldest())
        });
        if !in_step {
            if !self.trades {
                // No open line is in step: where this one stands cannot be known.
                return Outcome::Lost;
            }
            // Trades: this line leads from here (the first trade seen, or the line in step
            // is gone).
            self.end = 0;
            self.append(hash, now, line, None);
            return Outcome::New;
        }
        let held = &mut self.held[line];
        if held.first().is_some_and(|h| now.saturating_sub(h.at) > fill_wait)
            || held.len() >= HOLD
            || self.held_bytes[line].len() + frame.len() > HOLD_BYTES
        {
            // Never matched in time: not the stream the others follow (older than the
            // snapshot, or bytes that differ).
            self.drop_held(line);
        }
        let bytes = &mut self.held_bytes[line];
        let start = bytes.len();
        bytes.extend_from_slice(frame);
        self.held[line].push(Held { hash, at: now, start, end: bytes.len() });
        Outcome::Held
    }

    /// Another line than `line` delivered a copy of entry `j`: a line unsure about that entry
    /// (it delivered it first, while the log had gone on past its cursor) had lost the
    /// entries before it.
    fn settle_unsure(&mut self, line: usize, j: u64) {
        for l in 0..MAX_LINES {
            if l != line && self.unsure[l].is_some_and(|(_, m)| m == j) {
                self.unsure[l] = None;
                self.cursor[l] = Some(j);
                self.gap_filled[l] = true;
            }
        }
    }

    /// `line` applied `hash` at the front: a line out of step holding a copy of it is in
    /// step from there, and its held messages after it are given back
    /// ([`ContentBook::next_held`]).
    fn in_step_after(&mut self, line: usize, hash: u64) {
        for m in 0..MAX_LINES {
            if m == line || self.cursor[m].is_some() || self.held[m].is_empty() {
                continue;
            }
            if let Some(i) = self.held[m].iter().position(|h| h.hash == hash) {
                self.cursor[m] = Some(self.end - 1);
                self.held[m].drain(..=i);
                if self.held[m].is_empty() {
                    self.held_bytes[m].clear();
                } else {
                    self.releasing = Some(m);
                }
                return;
            }
        }
    }

    /// After a repair, the next message to apply again, copied into `out`, and the line
    /// whose bytes they are; `None` when there is none left.
    pub fn next_again(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let (i, end) = self.again?;
        let bytes = if i < end { self.kept_bytes(i) } else { None };
        let Some(bytes) = bytes else {
            self.again = None;
            return None;
        };
        out.clear();
        out.extend_from_slice(bytes);
        self.again = Some((i + 1, end));
        Some(usize::from(self.entry(i).line))
    }

    /// The next held message of the line that came in step, copied into `out` and applied
    /// (appended, won by that line); `None` when there is none left. Returns the line.
    pub fn next_held(&mut self, out: &mut Vec<u8>, now: u64) -> Option<usize> {
        let m = self.releasing?;
        if self.held[m].is_empty() {
            self.held_bytes[m].clear();
            self.releasing = None;
            return None;
        }
        let h = self.held[m].remove(0);
        out.clear();
        out.extend_from_slice(&self.held_bytes[m][h.start..h.end]);
        let held = std::mem::take(&mut self.held_bytes[m]);
        self.append(h.hash, now, m, Some(&held[h.start..h.end]));
        self.held_bytes[m] = held;
        Some(m)
    }
}
