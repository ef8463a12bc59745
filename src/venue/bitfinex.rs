//! Bitfinex v2 (`wss://api-pub.bitfinex.com/ws/2`): aggregated books (P0–P4), trades, tickers.
//!
//! Channels are numbered by the `subscribed` acknowledgement (`chanId` → channel and symbol).
//! Books: the first array after `subscribed` is the snapshot `[[PRICE, COUNT, AMOUNT], …]`;
//! later single levels `[PRICE, COUNT, AMOUNT]` (or several, with `BULK_UPDATES`) update it.
//! `COUNT > 0` sets the level (`AMOUNT > 0` bid, `< 0` ask, size `|AMOUNT|`); `COUNT == 0`
//! deletes it (`AMOUNT == 1` from the bids, `-1` from the asks).
//!
//! With the `SEQ_ALL` flag (the subscribe messages send `conf` with `SEQ_ALL | OB_CHECKSUM`),
//! every frame ends with a per-connection sequence number that must rise by exactly 1; a gap
//! resyncs every book on the connection. A book that lost sync is resubscribed alone on the
//! open connection ([`Adapter::resubscribe_book_messages`]). With `OB_CHECKSUM`,
//! `[CHAN, "cs", CRC]` frames carry the CRC32 of the top 25 levels, which the engine verifies. Info code 20051 (the server asks
//! clients to reconnect) invalidates every book. Raw books (`R0`, per order) are refused with a
//! clear error rather than built as if they were aggregated.
//!
//! Books quote five significant digits, but trades print up to eight decimals (hidden and
//! midpoint fills): trade prices count their own step (1e-8, from the reference data, the
//! built-in table or by default; [`Instrument::trade_tick`]), and the book's tick follows the
//! book. A new symbol's book tick starts at 1 and is refined exactly as its book prices show
//! more decimals ([`Parsed::book_price`]: the first snapshot, then a price crossing a power of
//! ten downwards), so the ladder's array counts the book's own steps (0.1 for BTC at 6,443.1)
//! instead of 1e-8 ones, which put most of a book beyond its window.
//!
//! Redundant lines ([`crate::session::arbiter`]): frames of several connections arrive
//! through one adapter, each tagged with its line ([`Bitfinex::set_line`]). Channel ids are
//! per connection, so each channel keeps an id per line; the book a channel feeds is one. The
//! arbiter checks each line's `SEQ_ALL` numbers and lets one copy of each book message through,
//! so a snapshot is known by its shape (a list of levels, or an empty list) rather than by
//! being a line's first array; an info 20051 on one line leaves the books to the others (that
//! line closes and reconnects).
//!
//! Numbers are JSON numbers (`6443.1`, `-0.1`, and, as JavaScript prints them, `1e-8`): they
//! are read as exact text. Trade updates arrive twice, as `te` then `tu` with the same id; the
//! engine drops the second.
//!
//! Parsing: channel messages of one level or one trade, heartbeats and checksums (nearly all
//! of the traffic) are read by the Bitfinex scanner ([`super::scan::bitfinex`], with
//! [`Parser::Scan`], the default); every other frame (events, snapshots, tickers), and any
//! message the scanner does not read exactly, goes to simd-json with its numbers quoted
//! (counted in [`Parsed::scan_fallback`]). Both fill the same table, the first elements of
//! the frame's array (`Head`), and one handler reads it: the sequence numbers, channels,
//! books, trades and errors are decided by the same code whichever parser read the frame.
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::tape::Value;

use super::json::{field_text, uint, Scratch};
use super::protocol::{Protocol, BASE};
use super::scan::bitfinex::{head_of, BitfinexFrames, BitfinexValue, ScanFrame};
use super::scan::{scan_frame, ScanPath};
use super::time::ms_to_ns;
use super::{
    num, Adapter, BookAction, Checksum, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError,
};
use crate::book::{Instrument, InstrumentRegistry, NumError, Side, StepSource, Venue};
use crate::event::{self, Bbo, Trade};
use crate::session::arbiter::MAX_LINES;

/// Bitfinex v2's transport.
pub const PROTOCOL: Protocol =
    Protocol { endpoint: "wss://api-pub.bitfinex.com", path: "/ws/2", ..BASE };

/// `conf` flag: a sequence number on every frame.
pub const SEQ_ALL: u64 = 65_536;
/// `conf` flag: book checksum frames.
pub const OB_CHECKSUM: u64 = 131_072;

/// The elements of a frame's array the handler reads: the channel id, the payload (or its
/// tag: `hb`, `cs`, `te`, `tu`), the tagged payload or the sequence number, and a tagged
/// message's sequence number.
pub(crate) const HEAD: usize = 4;

/// The first [`HEAD`] elements of a frame's top-level array (`None` past its end), as either
/// parser read them: the one table the channel-message handler reads.
pub(crate) type Head<V> = [Option<V>; HEAD];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Book,
    RawBook,
    Trades,
    Ticker,
    Other,
}

#[derive(Debug, Clone)]
struct Channel {
    kind: Kind,
    /// The symbol text (`tBTCUSD`).
    key: String,
    /// The book's symbol once its snapshot has arrived (and not invalidated since).
    book: Option<SymbolIdx>,
    /// The first array (snapshot) was seen, per line.
    started: [bool; MAX_LINES],
}

/// A live channel id on one line's connection, and the channel (an index into
/// `Bitfinex::channels`) it names. An id's route goes once the channel is unsubscribed or the
/// connection drops; the channel's entry, and its key's memory, is kept for the next
/// subscription.
#[derive(Debug, Clone, Copy)]
struct Route {
    id: u64,
    line: usize,
    channel: usize,
}

/// The Bitfinex adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Bitfinex {
    symbols: Symbols,
    channels: Vec<Channel>,
    /// The live channel ids, most recently used first (every channel message looks its id up
    /// here; messages come in runs on one channel, so the search mostly ends at the first).
    routes: Vec<Route>,
    flags: u64,
    next_seq: Option<u64>,
    scratch: Option<Box<Scratch>>,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    ///
    /// [`Parser::Scan`]: super::scan::Parser::Scan
    scan: ScanPath<BitfinexFrames>,
    /// Info messages with a code (reconnect, maintenance) seen.
    pub info_codes: u64,
    /// Frames of several connections arrive merged (redundant lines): the arbiter checks the
    /// sequence numbers per line, and a snapshot is known by its shape.
    pub merged: bool,
    /// The line of the frame being read (0 with one connection).
    line: usize,
}

impl Bitfinex {
    /// An adapter resolving symbols through `registry`.
    pub fn new(registry: InstrumentRegistry) -> Self {
        Bitfinex {
            symbols: Symbols::new(Venue::Bitfinex, registry),
            channels: Vec::new(),
            routes: Vec::new(),
            flags: 0,
            next_seq: None,
            scratch: Some(Box::new(Scratch::new())),
            scan: ScanPath::new(),
            info_codes: 0,
            merged: false,
            line: 0,
        }
    }

    /// The line the next frames come from (redundant lines); channel ids are looked up, and
    /// resubscriptions written, for that line's connection.
    pub fn set_line(&mut self, line: usize) {
        self.line = line.min(MAX_LINES - 1);
    }

    /// The channel `id` names on `line`'s connection, moved to the front of the routes (the
    /// next message is most likely on the same channel).
    #[inline]
    fn route(&mut self, line: usize, id: u64) -> Option<usize> {
        let i = self.routes.iter().position(|r| r.id == id && r.line == line)?;
        self.routes.swap(0, i);
        Some(self.routes[0].channel)
    }

    /// The live id of channel `ci` on the current line's connection.
    fn channel_id(&self, ci: usize) -> Option<u64> {
        self.routes.iter().find(|r| r.channel == ci && r.line == self.line).map(|r| r.id)
    }

    /// Handles a frame the scanner read, with the same handler as the simd-json path: every
    /// frame it reads is a channel message this handler takes.
    #[inline]
    fn scanned(&mut self, f: &ScanFrame<'_>, out: &mut Parsed) -> Option<Result<(), VenueError>> {
        Some(self.array(&f.head, out))
    }

    fn object(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        out.control = true;
        match field_text(root, "event") {
            Some(b"info") => {
                if let Some(code) = root.get("code").and_then(uint) {
                    self.info_codes += 1;
                    if code == 20051 && !self.merged {
                        // The server is restarting: this connection's books end here.
                        out.gaps.push(GapScope::Connection);
                        self.channels.iter_mut().for_each(|c| c.book = None);
                    }
                }
                Ok(())
            }
            Some(b"conf") => {
                if field_text(root, "status") == Some(b"OK") {
                    self.flags = root.get("flags").and_then(uint).unwrap_or(0);
                }
                Ok(())
            }
            Some(b"subscribed") => {
                let id = root.get("chanId").and_then(uint).ok_or(VenueError::Shape("chanId"))?;
                let key = field_text(root, "symbol")
                    .or_else(|| field_text(root, "key"))
                    .ok_or(VenueError::Shape("subscribed symbol"))?;
                let kind = match field_text(root, "channel") {
                    Some(b"book") if field_text(root, "prec") == Some(b"R0") => Kind::RawBook,
                    Some(b"book") => Kind::Book,
                    Some(b"trades") => Kind::Trades,
                    Some(b"ticker") => Kind::Ticker,
                    _ => Kind::Other,
                };
                let line = self.line;
                // A resubscription (same channel and symbol, new id) reuses its entry.
                let same = |c: &Channel| c.kind == kind && c.key.as_bytes() == key;
                let ci = match self.channels.iter().position(same) {
                    Some(i) => i,
                    None => {
                        let key = String::from_utf8_lossy(key).into_owned();
                        let c = Channel { kind, key, book: None, started: [false; MAX_LINES] };
                        self.channels.push(c);
                        self.channels.len() - 1
                    }
                };
                // The id now names this channel alone, and the channel has this id alone.
                self.routes.retain(|r| r.line != line || (r.id != id && r.channel != ci));
                self.routes.insert(0, Route { id, line, channel: ci });
                let c = &mut self.channels[ci];
                c.started[line] = false;
                if !self.merged {
                    // One connection: its new snapshot replaces the book. With several, the
                    // others may carry the book meanwhile (the engine drops it on a resync).
                    c.book = None;
                }
                Ok(())
            }
            Some(b"unsubscribed") => {
                if let Some(id) = root.get("chanId").and_then(uint) {
                    let line = self.line;
                    self.routes.retain(|r| r.line != line || r.id != id);
                }
                Ok(())
            }
            Some(b"pong") => Ok(()),
            Some(b"error") => Err(VenueError::VenueReported),
            _ => Err(VenueError::UnknownType),
        }
    }

    /// A channel message (the frame is an array), from either parser: `arr` holds its first
    /// elements.
    #[inline]
    fn array<'i, V: BitfinexValue<'i>>(
        &mut self,
        arr: &Head<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let at = |i: usize| arr.get(i).copied().flatten();
        let id = at(0).and_then(V::uint).ok_or(VenueError::Shape("channel id"))?;
        let second = at(1).ok_or(VenueError::Shape("channel payload"))?;
        // The payload is followed by the sequence number when SEQ_ALL is on.
        let tag = second.text();
        let tagged = tag.is_some_and(|t| t.first().is_some_and(u8::is_ascii_alphabetic));
        let payload_end = if tagged { 3 } else { 2 };
        // With several lines, the arbiter checks each line's numbers.
        if self.flags & SEQ_ALL != 0 && !self.merged {
            let seq_at = if tagged && tag == Some(b"hb") { 2 } else { payload_end };
            if let Some(seq) = at(seq_at).and_then(V::uint) {
                match self.next_seq {
                    Some(want) if seq < want => {
                        out.stale += 1;
                        return Ok(());
                    }
                    Some(want) if seq != want => {
                        out.gaps.push(GapScope::Connection);
                        self.channels.iter_mut().for_each(|c| c.book = None);
                    }
                    _ => {}
                }
                self.next_seq = Some(seq + 1);
            }
        }
        let line = self.line;
        let Some(ci) = self.route(line, id) else {
            return Err(VenueError::UnknownSymbol);
        };
        if tagged {
            return match tag {
                Some(b"hb") => {
                    out.control = true;
                    Ok(())
                }
                Some(b"cs") => {
                    let cs = at(2).and_then(V::int).ok_or(VenueError::Shape("checksum"))?;
                    let cs = i32::try_from(cs).map_err(|_| VenueError::Shape("checksum"))?;
                    match self.channels[ci].book {
                        Some(sym) => {
                            out.begin_book(sym, BookAction::Update, 0);
                            out.finish_book(Some(Checksum::Bitfinex(cs)), None);
                        }
                        None => out.waiting += 1,
                    }
                    Ok(())
                }
                Some(b"te") | Some(b"tu") => {
                    let t = at(2).ok_or(VenueError::Shape("trade"))?;
                    let sym = self.trade_symbol(ci)?;
                    self.trade(sym, t, out)
                }
                _ => Err(VenueError::UnknownType),
            };
        }
        if second.items().is_none() {
            return Err(VenueError::Shape("payload"));
        }
        match self.channels[ci].kind {
            Kind::Book => self.book(ci, second, out),
            Kind::RawBook => Err(VenueError::Shape("raw (R0) books are not supported")),
            Kind::Trades => {
                // The snapshot of recent trades is history: not re-published.
                self.channels[ci].started[line] = true;
                out.control = true;
                Ok(())
            }
            Kind::Ticker => {
                out.control = true;
                let sym = self.trade_symbol(ci)?;
                let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
                let inst = &info.instrument;
                let f =
                    |i: usize| second.item(i).and_then(V::text).ok_or(VenueError::Shape("ticker"));
                // Ticker sizes are float sums (`47.914412330000005`), not exact decimals: kept
                // only when they fit the lot, else 0. Prices are exact; one finer than the
                // book's tick so far (a book not yet refined to it) leaves the venue's BBO
                // unset until the book's tick can hold it.
                let lots = |i: usize| f(i).map(|t| inst.lot.units(t).unwrap_or(0));
                let px = |i: usize, what| match inst.tick.units(f(i)?) {
                    Ok(v) => Ok(Some(v)),
                    Err(NumError::NotMultiple) => Ok(None),
                    Err(e) => Err(num(what)(e)),
                };
                let (bid, ask) = (px(0, "bid")?, px(2, "ask")?);
                info.venue_bbo = match (bid, ask) {
                    (Some(bid_tick), Some(ask_tick)) => {
                        Some(Bbo { bid_tick, bid_lots: lots(1)?, ask_tick, ask_lots: lots(3)? })
                    }
                    _ => None,
                };
                Ok(())
            }
            Kind::Other => {
                out.control = true;
                Ok(())
            }
        }
    }

    /// The symbol of a trades or ticker channel, resolved or learned from nothing: an unknown
    /// symbol counts prices and amounts in 1e-8 steps, the finest Bitfinex prints.
    fn trade_symbol(&mut self, ci: usize) -> Result<SymbolIdx, VenueError> {
        let known = self.symbols.len();
        let key = self.channels[ci].key.as_bytes();
        let sym = match self.symbols.resolve(key) {
            Some(s) => s,
            None => {
                // Trade prices and amounts print up to 8 decimals: 1e-8 steps.
                let Bitfinex { symbols, channels, .. } = self;
                let e8 = std::iter::once(&b"0.00000001"[..]);
                symbols.learn(channels[ci].key.as_bytes(), e8.clone(), e8)?
            }
        };
        if self.symbols.len() > known {
            self.split_trade_tick(sym);
        }
        Ok(sym)
    }

    /// A new symbol's step (1e-8) becomes its trades' step, and its book tick starts at 1, to
    /// be refined by its book prices (see the [module docs](self)). A configured tick is the
    /// user's and is left alone, as is a step that is not a power of ten.
    fn split_trade_tick(&mut self, sym: SymbolIdx) {
        let Some(info) = self.symbols.get_mut(sym) else { return };
        let inst = &mut info.instrument;
        if inst.source != StepSource::Configured && inst.split_trade_step() {
            inst.source = StepSource::Learned;
            info.price_decimals = 0;
        }
    }

    /// A book channel's message whose payload is an array (a snapshot, or one level), from
    /// either parser.
    #[inline]
    fn book<'i, V: BitfinexValue<'i>>(
        &mut self,
        ci: usize,
        payload: V,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let nested = payload.item(0).is_some_and(|v| v.items().is_some());
        let empty = payload.items() == Some(0);
        let line = self.line;
        // Several lines: the arbiter lets one line's snapshot through, so a line's first
        // array may be an update; a snapshot is a list of levels (no `BULK_UPDATES` asked).
        let snapshot = if self.merged { nested || empty } else { !self.channels[ci].started[line] };
        if snapshot && !nested && !empty {
            return Err(VenueError::Shape("book snapshot is not a list of levels"));
        }
        let sym = if snapshot {
            let sym = self.trade_symbol(ci)?;
            self.channels[ci].started[line] = true;
            self.channels[ci].book = Some(sym);
            sym
        } else {
            match self.channels[ci].book {
                Some(s) => s,
                None => {
                    out.waiting += 1;
                    return Ok(());
                }
            }
        };
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, 0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r =
            if nested { payload.each(|l| level(l, inst, out)) } else { level(payload, inst, out) };
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }

    /// A `te` or `tu` trade `[ID, MTS, AMOUNT, PRICE]`, from either parser.
    #[inline]
    fn trade<'i, V: BitfinexValue<'i>>(
        &mut self,
        sym: SymbolIdx,
        t: V,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |i: usize| t.item(i).ok_or(VenueError::Shape("trade field"));
        let id = f(0)?.uint().ok_or(VenueError::Shape("trade id"))?;
        let mts = f(1)?.uint().unwrap_or(0);
        let amount = f(2)?.text().ok_or(VenueError::Shape("trade amount"))?;
        let price = f(3)?.text().ok_or(VenueError::Shape("trade price"))?;
        let signed = inst.lot.units_signed(amount).map_err(num("amount"))?;
        if signed == 0 {
            return Err(VenueError::Shape("zero trade amount"));
        }
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.trade_step().units(price).map_err(num("price"))?,
                size_lots: signed.checked_abs().ok_or(VenueError::Shape("amount"))?,
                aggressor: Some(if signed > 0 { event::Side::Buy } else { event::Side::Sell }),
                trade_id: id,
            },
            exch_ts: ms_to_ns(mts),
        });
        Ok(())
    }
}

super::scan::scan_controls!(Bitfinex, "channel");

/// One `[PRICE, COUNT, AMOUNT]` level, from either parser.
#[inline]
fn level<'i, V: BitfinexValue<'i>>(
    l: V,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let f = |i: usize| l.item(i).and_then(V::text).ok_or(VenueError::Shape("book level"));
    let px_tick = out.book_price_number(inst, f(0)?).map_err(num("price"))?;
    let count = super::json::parse_u64(f(1)?).ok_or(VenueError::Shape("book count"))?;
    let amount = inst.lot.units_signed(f(2)?).map_err(num("amount"))?;
    if count > 0 {
        let side = if amount > 0 {
            Side::Bid
        } else if amount < 0 {
            Side::Ask
        } else {
            return Err(VenueError::Shape("zero amount with a count"));
        };
        let qty = amount.checked_abs().ok_or(VenueError::Shape("amount"))?;
        out.level(side, px_tick, qty);
    } else {
        let one = inst.lot.units_signed(b"1").map_err(num("amount"))?;
        let side = if amount == one {
            Side::Bid
        } else if amount == -one {
            Side::Ask
        } else {
            return Err(VenueError::Shape("delete amount is not 1 or -1"));
        };
        out.level(side, px_tick, 0);
    }
    Ok(())
}

impl Adapter for Bitfinex {
    fn venue(&self) -> Venue {
        Venue::Bitfinex
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(r) = scan_frame(self, |a| &mut a.scan, frame, out, Self::scanned) {
            return r;
        }
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, true, |root| match root.as_array() {
            Some(arr) => self.array(&head_of(arr), out),
            None if root.is_object() => self.object(root, out),
            None => Err(VenueError::UnknownType),
        });
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        for c in &mut self.channels {
            if c.book == Some(symbol) {
                c.book = None;
            }
        }
    }

    fn reset_connection(&mut self) {
        // Channel ids belong to the connection; the entries stay for the resubscriptions.
        self.routes.clear();
        for c in &mut self.channels {
            c.book = None;
            c.started = [false; MAX_LINES];
        }
        self.flags = 0;
        self.next_seq = None;
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let mut m = vec![format!("{{\"event\":\"conf\",\"flags\":{}}}", SEQ_ALL | OB_CHECKSUM)];
        for s in symbols {
            m.push(book_subscription(s));
            m.push(format!(
                "{{\"event\":\"subscribe\",\"channel\":\"trades\",\"symbol\":\"{s}\"}}"
            ));
        }
        m
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        (0..self.channels.len())
            .filter(|&ci| symbols.iter().any(|s| *s == self.channels[ci].key))
            .filter_map(|ci| {
                let id = self.channel_id(ci)?;
                Some(format!("{{\"event\":\"unsubscribe\",\"chanId\":{id}}}"))
            })
            .collect()
    }

    /// Bitfinex starts every book subscription with a snapshot: the symbol's book channel
    /// is unsubscribed (by its channel id) and subscribed again (the answer names a new
    /// channel id, which takes the book over); its trades keep flowing. Nothing to send when
    /// the book's subscription is still unanswered on this connection: its snapshot is on
    /// the way (another subscription would be refused as a duplicate). With redundant lines,
    /// on the connection of the line [`Bitfinex::set_line`] named.
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let channel = self.channels.iter().position(|c| c.kind == Kind::Book && c.key == symbol);
        let Some(id) = channel.and_then(|ci| self.channel_id(ci)) else {
            return Some(Vec::new());
        };
        Some(vec![
            format!("{{\"event\":\"unsubscribe\",\"chanId\":{id}}}"),
            book_subscription(symbol),
        ])
    }
}

/// The subscription to `symbol`'s aggregated book (P0, real time, 100 levels a side).
fn book_subscription(symbol: &str) -> String {
    format!(
        "{{\"event\":\"subscribe\",\"channel\":\"book\",\"symbol\":\"{symbol}\",\"prec\":\"P0\",\"freq\":\"F0\",\"len\":\"100\"}}"
    )
}
