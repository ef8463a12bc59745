//! The Hyperliquid scanner: `l2Book` and `trades` messages.
//!
//! - `{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5},…],[{"px":"105056.0","sz":"6.34472","n":13},…]]}}`
//! - `{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"105055.0","sz":"0.0002","time":1737918844000,"hash":"0x…","tid":42,"users":["0x…","0x…"]}]}`
//!
//! Every `l2Book` message is the whole book (up to 20 levels a side, each an object), so the
//! frames are all large and all hot. The scanner reads the frame once, in place:
//!
//! - the top-level object's `channel` (a string) and `data`;
//! - for a book, `data`'s `coin` (a string), `time` (an unsigned integer or a string, read as
//!   simd-json's path reads it) and `levels`, exactly two arrays of level objects; of each
//!   level, the offsets of `px` and `sz` (strings), kept in the shared level buffer;
//! - for trades, each trade object's `coin`, `side`, `px`, `sz` (strings), `tid` and `time`
//!   (unsigned integers or strings), kept as offsets in the level buffer, three cells a trade.
//!
//! Any other member, at any depth, is read whole and not kept (the trades' `hash` and
//! `users`, a level's `n`). This venue's simd-json path reads numbers as numbers (they are
//! not quoted), so the only numbers the scanner accepts anywhere are unsigned integers of at
//! most 19 digits (`flat::skip_plain`): simd-json reads those alike, while it refuses
//! some numbers JSON's grammar allows.
//!
//! It refuses (the adapter then reads the frame with simd-json, counted) any other channel
//! (`subscriptionResponse`, `pong`, `error`), a `data` whose shape is not the channel's, a
//! kept key seen twice, a kept value of another type, a level without `px` or `sz`, `levels`
//! that are not two arrays of objects, and anything outside the scanners' subset (see
//! [`super`]). A book with more levels than the buffer holds makes the adapter's scanner grow
//! it and read the frame again ([`super::MAX_SPANS`]).

use std::cell::Cell;

use super::flat::skip_plain;
use super::kraken::{span_text, ABSENT};
use super::{object, Cursor, LevelSpan, ScannerState, Spans};
use crate::venue::hyperliquid::TradeRow;
use crate::venue::json::parse_u64;

/// Cells of the level buffer a trade takes: `coin` and `side`, `px` and `sz`, `tid` and
/// `time`.
const TRADE_CELLS: usize = 3;

/// One side's levels the scanner read: offsets into the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Levels<'a> {
    frame: &'a [u8],
    cells: &'a [Cell<LevelSpan>],
}

impl<'a> Levels<'a> {
    /// Each level's `px` and `sz` text, in order.
    #[inline]
    pub(crate) fn iter(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone {
        self.cells.iter().map(move |c| {
            let l = c.get();
            let text =
                |s: (u32, u32)| self.frame.get(s.0 as usize..s.1 as usize).unwrap_or_default();
            (text(l.px), text(l.qty))
        })
    }
}

/// The trades the scanner read: offsets into the frame, [`TRADE_CELLS`] cells a trade.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trades<'a> {
    frame: &'a [u8],
    cells: &'a [Cell<LevelSpan>],
}

impl<'a> Trades<'a> {
    /// The trades, in order.
    #[inline]
    pub(crate) fn iter(self) -> impl Iterator<Item = TradeRow<'a>> {
        self.cells.chunks_exact(TRADE_CELLS).map(move |c| {
            let [a, b, d] = [0, 1, 2].map(|i| c.get(i).map(Cell::get).unwrap_or_default());
            let text = |s| span_text(self.frame, s);
            TradeRow {
                coin: text(a.px),
                side: text(a.qty),
                px: text(b.px),
                sz: text(b.qty),
                // An unsigned integer's digits or a string's bytes: simd-json's path reads
                // either as `json::uint` does, and so does `parse_u64` on this text.
                tid: text(d.px).and_then(parse_u64),
                time: text(d.qty).and_then(parse_u64),
            }
        })
    }
}

/// A book message's `data` as the scanner read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Book<'a> {
    /// `coin`.
    pub(crate) coin: &'a [u8],
    /// `time` as `json::uint` reads it (`None` if absent or not digits).
    pub(crate) time: Option<u64>,
    /// `levels[0]`.
    pub(crate) bids: Levels<'a>,
    /// `levels[1]`.
    pub(crate) asks: Levels<'a>,
}

/// What the scanner read of a Hyperliquid frame: an `l2Book` message's book or a `trades`
/// message's trades (exactly one of them, matching the channel).
#[derive(Debug, Default)]
pub(crate) struct HyperliquidFound<'a> {
    /// `channel`: `l2Book` or `trades`.
    pub(crate) channel: Option<&'a [u8]>,
    /// `data` of an `l2Book` message.
    pub(crate) book: Option<Book<'a>>,
    /// `data` of a `trades` message.
    pub(crate) trades: Option<Trades<'a>>,
}

/// The Hyperliquid frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum HyperliquidFrames {}

impl super::Frames for HyperliquidFrames {
    type Found<'a> = HyperliquidFound<'a>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Hyperliquid scanner: its kernel and the level offsets of the last frame.
pub type HyperliquidScanner = ScannerState<HyperliquidFrames>;

impl ScannerState<HyperliquidFrames> {
    /// Whether the scanner reads `frame` (an `l2Book` or `trades` message; the scan floor of
    /// the benchmarks: the walk without a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        let mut f = HyperliquidFound::default();
        self.scan_into(frame, &mut f).is_some()
    }

    /// Fills `f`, which must be empty, with the frame's members the adapter reads; `None` if
    /// the frame is not one the scanner recognises exactly.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut HyperliquidFound<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        if c.peek() != Some(b'{') {
            return None;
        }
        let mut data = false;
        object(&mut c, |c, k| match k {
            b"channel" => {
                let ch = c.string()?;
                if !matches!(ch, b"l2Book" | b"trades") {
                    return None;
                }
                f.channel.replace(ch).is_none().then_some(())
            }
            b"data" => {
                if std::mem::replace(&mut data, true) {
                    return None;
                }
                match c.peek()? {
                    b'{' => f.book = Some(book(c, &mut spans)?),
                    b'[' => f.trades = Some(trades(c, &mut spans)?),
                    _ => return None,
                }
                Some(())
            }
            _ => skip_plain(c, 1),
        })?;
        let fits = match f.channel? {
            b"l2Book" => f.book.is_some(),
            _ => f.trades.is_some(),
        };
        (fits && c.at_end()).then_some(())
    }
}

/// An unsigned integer or a string at `c`, as `json::uint` reads it: `Some(None)` for a
/// string that is not digits; `None` (refused) for any other value.
#[inline]
fn uint_or_text(c: &mut Cursor<'_>) -> Option<Option<u64>> {
    match c.peek()? {
        b'"' => Some(parse_u64(c.string()?)),
        b'0'..=b'9' => Some(Some(c.uint()?)),
        _ => None,
    }
}

/// An `l2Book` message's `data` object at `c`.
fn book<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<Book<'a>> {
    let (mut coin, mut time, mut sides) = (None, None, None);
    object(c, |c, k| match k {
        b"coin" => coin.replace(c.string()?).is_none().then_some(()),
        b"time" => time.replace(uint_or_text(c)?).is_none().then_some(()),
        b"levels" => {
            let frame = c.buf;
            c.expect(b'[')?;
            c.ws();
            let bids = levels(c, spans)?;
            c.ws();
            c.expect(b',')?;
            c.ws();
            let asks = levels(c, spans)?;
            c.ws();
            c.expect(b']')?;
            let side = |cells| Levels { frame, cells };
            sides.replace((side(bids), side(asks))).is_none().then_some(())
        }
        _ => skip_plain(c, 2),
    })?;
    let (bids, asks) = sides?;
    Some(Book { coin: coin?, time: time.flatten(), bids, asks })
}

/// One side, `[]` or `[{level},…]`: each level's `px` and `sz` offsets appended to `spans`;
/// the cells they took.
#[inline]
fn levels<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<&'a [Cell<LevelSpan>]> {
    let start = spans.len;
    c.expect(b'[')?;
    c.ws();
    if !c.eat(b']') {
        loop {
            spans.push(level(c)?)?;
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    Some(spans.since(start))
}

/// One level object at `c`: its `px` and `sz` (both strings, each once); any other member
/// read whole and not kept.
///
/// A level in its common form (no whitespace, the members `px`, `sz` and `n`, an unsigned
/// integer, in any order) is read with one compare per key ([`compact_level`]); any other
/// from its start, a token at a time.
#[inline(always)]
fn level(c: &mut Cursor<'_>) -> Option<LevelSpan> {
    let start = c.pos;
    if let Some(l) = compact_level(c) {
        return Some(l);
    }
    c.pos = start;
    general_level(c)
}

/// `"px":"`, `"sz":"` and `"n":` as the first bytes of a little-endian `u64`, with the mask
/// of their bytes.
const PX: (u64, u64) = (u64::from_le_bytes(*b"\"px\":\"\0\0"), 0xffff_ffff_ffff);
const SZ: (u64, u64) = (u64::from_le_bytes(*b"\"sz\":\"\0\0"), 0xffff_ffff_ffff);
const N: (u64, u64) = (u64::from_le_bytes(*b"\"n\":\0\0\0\0"), 0xffff_ffff);

/// [`level`] in its common form; `None` (the cursor anywhere) for any other.
#[inline(always)]
fn compact_level(c: &mut Cursor<'_>) -> Option<LevelSpan> {
    c.expect(b'{')?;
    let (mut px, mut sz, mut n) = (None, None, false);
    loop {
        let w = u64::from_le_bytes(*c.buf.get(c.pos..)?.first_chunk::<8>()?);
        if w & N.1 == N.0 {
            if std::mem::replace(&mut n, true) {
                return None;
            }
            c.pos += 4;
            c.uint()?;
        } else {
            let slot = if w & PX.1 == PX.0 {
                &mut px
            } else if w & SZ.1 == SZ.0 {
                &mut sz
            } else {
                return None;
            };
            if slot.is_some() {
                return None;
            }
            // The string after `"px":"` or `"sz":"`.
            let start = c.pos + 6;
            let end = c.string_stop(start);
            if c.buf.get(end) != Some(&b'"') {
                return None;
            }
            *slot = Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?));
            c.pos = end + 1;
        }
        match c.next()? {
            b',' => {}
            b'}' => return Some(LevelSpan { px: px?, qty: sz? }),
            _ => return None,
        }
    }
}

/// [`level`] in any form the subset allows.
#[inline(always)]
fn general_level(c: &mut Cursor<'_>) -> Option<LevelSpan> {
    let (mut px, mut sz) = (None, None);
    object(c, |c, k| match k {
        b"px" => px.replace(c.string_span()?).is_none().then_some(()),
        b"sz" => sz.replace(c.string_span()?).is_none().then_some(()),
        _ => skip_plain(c, 4),
    })?;
    Some(LevelSpan { px: px?, qty: sz? })
}

/// A `trades` message's `data` array at `c`: each trade's kept texts appended to `spans`,
/// [`TRADE_CELLS`] cells a trade.
fn trades<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<Trades<'a>> {
    let (frame, start) = (c.buf, spans.len);
    c.expect(b'[')?;
    c.ws();
    if !c.eat(b']') {
        loop {
            let mut texts = [ABSENT; 2 * TRADE_CELLS];
            trade(c, &mut texts)?;
            for pair in texts.chunks_exact(2) {
                spans.push(LevelSpan { px: pair[0], qty: pair[1] })?;
            }
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    Some(Trades { frame, cells: spans.since(start) })
}

/// One trade object at `c`: the offsets of its kept members' texts in `texts` (`coin`,
/// `side`, `px`, `sz`, `tid`, `time`), each at most once; any other member read whole.
fn trade(c: &mut Cursor<'_>, texts: &mut [(u32, u32); 2 * TRADE_CELLS]) -> Option<()> {
    let mut seen = 0u8;
    object(c, |c, k| {
        let (slot, string) = match k {
            b"coin" => (0, true),
            b"side" => (1, true),
            b"px" => (2, true),
            b"sz" => (3, true),
            b"tid" => (4, false),
            b"time" => (5, false),
            _ => return skip_plain(c, 3),
        };
        if seen & (1 << slot) != 0 {
            return None;
        }
        seen |= 1 << slot;
        texts[slot] = match c.peek()? {
            b'"' => c.string_span()?,
            // `tid` and `time` may be integers: their digits.
            b'0'..=b'9' if !string => {
                let start = u32::try_from(c.pos).ok()?;
                c.uint()?;
                (start, u32::try_from(c.pos).ok()?)
            }
            _ => return None,
        };
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::scanners;

    type Texts = Vec<(String, String)>;

    fn sides(f: &HyperliquidFound<'_>) -> (Texts, Texts) {
        let b = f.book.unwrap();
        let t = |l: Levels<'_>| {
            l.iter()
                .map(|(p, q)| {
                    (String::from_utf8(p.to_vec()).unwrap(), String::from_utf8(q.to_vec()).unwrap())
                })
                .collect()
        };
        (t(b.bids), t(b.asks))
    }

    fn pair(p: &str, q: &str) -> (String, String) {
        (p.to_owned(), q.to_owned())
    }

    #[test]
    fn reads_a_book_in_either_key_order_with_whitespace() {
        for mut s in scanners::<HyperliquidFrames>() {
            for frame in [
                r#"{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5},{"px":"105054.0","sz":"0.1428","n":1}],[{"px":"105056.0","sz":"6.34472","n":13}]]}}"#,
                " {\"data\" : {\"levels\":[ [ {\"n\":5,\"px\":\"105055.0\",\"sz\":\"3.03622\"},\n{\"sz\":\"0.1428\",\"n\":1,\"px\":\"105054.0\",\"x\":{\"y\":[1,null]}} ] ,[{\"n\":13,\"sz\":\"6.34472\",\"px\":\"105056.0\"}]],\"coin\":\"BTC\",\"spread\":\"1\",\"time\":\"1737918843760\"},\"channel\":\"l2Book\"}\r\n",
            ] {
                let mut f = HyperliquidFound::default();
                s.scan_into(frame.as_bytes(), &mut f).unwrap_or_else(|| panic!("{frame}"));
                assert_eq!(f.channel, Some(&b"l2Book"[..]));
                let b = f.book.unwrap();
                assert_eq!((b.coin, b.time), (&b"BTC"[..], Some(1_737_918_843_760)));
                let (bids, asks) = sides(&f);
                assert_eq!(bids, [pair("105055.0", "3.03622"), pair("105054.0", "0.1428")]);
                assert_eq!(asks, [pair("105056.0", "6.34472")]);
                assert!(f.trades.is_none());
            }
            // Empty sides, no time, a time that is not digits (simd-json's path reads 0).
            for (frame, time) in [
                (r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[],[]]}}"#, None),
                (
                    r#"{"channel":"l2Book","data":{"coin":"BTC","time":"soon","levels":[[],[]]}}"#,
                    None,
                ),
                (
                    r#"{"channel":"l2Book","data":{"coin":"BTC","time":0,"levels":[[],[]]}}"#,
                    Some(0),
                ),
            ] {
                let mut f = HyperliquidFound::default();
                s.scan_into(frame.as_bytes(), &mut f).unwrap_or_else(|| panic!("{frame}"));
                assert_eq!(f.book.unwrap().time, time);
                assert_eq!(sides(&f), (vec![], vec![]));
            }
        }
    }

    #[test]
    fn a_level_in_its_common_form_is_read_by_compares() {
        use crate::venue::scan::Kernel;
        let read = |l: &str| {
            let frame = format!("{l}]]}}}}");
            let mut c = Cursor::new(frame.as_bytes(), Kernel::detect());
            compact_level(&mut c).map(|s| {
                let t = |(a, b): (u32, u32)| frame[a as usize..b as usize].to_owned();
                (t(s.px), t(s.qty), frame[c.pos..].to_owned())
            })
        };
        for l in [
            r#"{"n":5,"px":"105055.0","sz":"3.03622"}"#,
            r#"{"px":"105055.0","sz":"3.03622","n":5}"#,
            r#"{"sz":"3.03622","px":"105055.0"}"#,
        ] {
            let want = ("105055.0".to_owned(), "3.03622".to_owned(), "]]}}".to_owned());
            assert_eq!(read(l), Some(want), "{l}");
        }
        // Any other form is left to the general walk (which reads or refuses it).
        for l in [
            r#"{ "px":"1","sz":"2","n":5}"#,
            r#"{"px":"1","sz":"2" ,"n":5}"#,
            r#"{"px":"1","sz":"2","n":"5"}"#,
            r#"{"px":"1","sz":"2","n":5.5}"#,
            r#"{"px":"1","sz":"2","n":5,"n":6}"#,
            r#"{"px":"1","px":"2","sz":"3"}"#,
            r#"{"px":"1","n":5}"#,
            r#"{"px":"1","sz":2}"#,
            r#"{"px":"1","sz":"2","m":5}"#,
            r#"{"px":"1","sz":"a\"b"}"#,
            r#"{}"#,
        ] {
            assert_eq!(read(l), None, "{l}");
        }
    }

    #[test]
    fn reads_trades_with_their_nested_members() {
        let frame = r#"{"channel":"trades","data":[{"coin":"BTC","hash":"0xde47","px":"105056.0","side":"B","sz":"0.00219","tid":121451470284048,"time":1737918794873,"users":["0xe9ed","0x6802"]},{"users":[],"time":"17","tid":"x","sz":"1","side":"A","px":"2","coin":"@107","extra":{"a":[true,false,null]}},{}]}"#;
        for mut s in scanners::<HyperliquidFrames>() {
            let mut f = HyperliquidFound::default();
            s.scan_into(frame.as_bytes(), &mut f).unwrap();
            assert!(f.book.is_none());
            let t: Vec<TradeRow<'_>> = f.trades.unwrap().iter().collect();
            assert_eq!(t.len(), 3);
            assert_eq!(
                t[0],
                TradeRow {
                    coin: Some(b"BTC"),
                    side: Some(b"B"),
                    px: Some(b"105056.0"),
                    sz: Some(b"0.00219"),
                    tid: Some(121_451_470_284_048),
                    time: Some(1_737_918_794_873),
                }
            );
            assert_eq!((t[1].coin, t[1].tid, t[1].time), (Some(&b"@107"[..]), None, Some(17)));
            assert_eq!(t[2], TradeRow::default());
        }
    }

    #[test]
    fn refuses_what_it_does_not_read_exactly() {
        const BOOK: &str = r#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"1","sz":"2","n":1}],[]]}}"#;
        let near = |from: &str, to: &str| BOOK.replacen(from, to, 1);
        let mut frames = vec![
            near("l2Book", "l2book"),
            near(r#""n":1"#, r#""n":1.5"#),
            near(r#""n":1"#, r#""n":-1"#),
            near(r#""n":1"#, r#""n":1e400"#),
            near(r#""n":1"#, r#""n":01"#),
            near(r#""n":1"#, r#""n":12345678901234567890"#),
            near(r#""px":"1""#, r#""px":1"#),
            near(r#""px":"1""#, r#""px":"1","px":"3""#),
            near(r#""sz":"2","#, ""),
            near(r#""coin":"BTC""#, r#""coin":"B\u0054C""#),
            near(r#""coin":"BTC""#, r#""coin":"BTC","coin":"ETH""#),
            near(r#""coin":"BTC","#, ""),
            near(r#""time":1"#, r#""time":1.0"#),
            near(r#""time":1"#, r#""time":null"#),
            near(r#"[[{"#, r#"[[[],{"#),
            near("],[]]", "],[],[]]"),
            near("],[]]", "]]"),
            near("[]]}}", "{}]}}"),
            near(r#"{"channel""#, r#"{"channel":"trades","channel""#),
            near(r#""data":{"#, r#""data":[],"data":{"#),
            near("}}", "}},"),
            near("}}", "}}]"),
            r#"{"channel":"trades","data":{"coin":"BTC"}}"#.to_owned(),
            r#"{"channel":"l2Book","data":[]}"#.to_owned(),
            r#"{"channel":"trades"}"#.to_owned(),
            r#"{"data":[]}"#.to_owned(),
            r#"{"channel":"pong"}"#.to_owned(),
            r#"{"channel":"subscriptionResponse","data":{"method":"subscribe"}}"#.to_owned(),
            r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","side":"A"}]}"#.to_owned(),
            r#"{"channel":"trades","data":[{"coin":"BTC","tid":-1}]}"#.to_owned(),
            r#"{"channel":"trades","data":[{"coin":"BTC","px":105056.0}]}"#.to_owned(),
            r#"{"channel":"trades","data":[{"coin":"BTC","users":[1.5]}]}"#.to_owned(),
            r#"{"channel":"trades","data":["BTC"]}"#.to_owned(),
            r#"["channel","trades"]"#.to_owned(),
        ];
        // Nested past the depth limit.
        let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        frames.push(near(r#""n":1"#, &format!(r#""n":{deep}"#)));
        for mut s in scanners::<HyperliquidFrames>() {
            assert!(s.recognises(BOOK.as_bytes()));
            for frame in &frames {
                assert!(!s.recognises(frame.as_bytes()), "{frame}");
            }
        }
    }

    #[test]
    fn a_book_deeper_than_the_buffer_is_read_once_it_has_grown() {
        let level = r#"{"px":"1","sz":"2","n":1}"#;
        let n = super::super::SPANS + 7;
        let side = vec![level; n].join(",");
        let frame =
            format!(r#"{{"channel":"l2Book","data":{{"coin":"BTC","levels":[[{side}],[]]}}}}"#);
        for mut s in scanners::<HyperliquidFrames>() {
            assert!(!s.recognises(frame.as_bytes()));
            assert!(s.grow(frame.len()));
            let mut f = HyperliquidFound::default();
            s.scan_into(frame.as_bytes(), &mut f).unwrap();
            assert_eq!(f.book.unwrap().bids.iter().count(), n);
        }
    }
}
