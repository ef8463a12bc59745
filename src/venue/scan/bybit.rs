//! The Bybit v5 scanner: order-book pushes (`orderbook.{depth}.{symbol}`, `snapshot` and
//! `delta`) and trades (`publicTrade.{symbol}`), on spot, linear and inverse alike:
//!
//! - `{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200791,"data":{"s":"XRPUSDT","b":[["1.9531","6203"]],"a":[],"u":2,"seq":1},"cts":1733011200788}`
//! - `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}`
//!
//! It reads the frame's `topic`, `type`, `ts` and `data`: a book's `data` object (`s`, `b`,
//! `a`, `u`) into the adapter's own table (`bybit::BookData`), or up to [`MAX_TRADES`] trade
//! objects (`T`, `s`, `S`, `v`, `p`, `i`) into `bybit::TradeEntry`, so the adapter's handlers
//! run unchanged on its output. Key order is free at every level. Keys Bybit documents for these
//! pushes that no handler reads (`cts` and `id` at the top, `seq` in a book, `L`, `BT`, `RPI`,
//! `seq`, `mP`, `iP`, `mIv`, `iv` in a trade) are read (their value must be a scalar in the
//! subset) and ignored. It refuses the frame (the adapter then reads it with simd-json,
//! counted) on anything else: any other key (`op` and `success` of control frames among them),
//! a key seen twice, a `data` that is neither an object nor an array of objects, more trades
//! than it has room for, a level that is not exactly two strings, a nested object or array
//! other than a level array, and anything outside the scanners' JSON subset (see [`super`]).
//! The scanner reads any topic's frame of this shape; `ScanFrame::push` says whether it is
//! one the adapter handles from it.

use super::{object, value, Cursor, ScanValue, ScannerState, Spans};
use crate::venue::bybit::{BookData, TradeEntry};

/// The trades a `publicTrade` frame may carry (Bybit usually sends one to a few; a frame
/// with more is left to simd-json). Kept small: the table is cleared for every frame.
pub const MAX_TRADES: usize = 8;

/// What the scanner read of `data`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Data {
    /// No `data` key (yet).
    #[default]
    Absent,
    /// An object: a book's fields.
    Book,
    /// An array of objects: trades.
    Trades,
}

/// What the scanner read of one frame (empty: `Default`).
#[derive(Debug, Default)]
pub(crate) struct ScanFrame<'a> {
    /// `topic`.
    topic: Option<ScanValue<'a>>,
    /// `type`.
    kind: Option<ScanValue<'a>>,
    /// `ts`: the exchange time, ms.
    ts: Option<ScanValue<'a>>,
    /// The shape of `data`.
    data: Data,
    /// A book's `data` fields.
    book: BookData<ScanValue<'a>>,
    /// The trades of `data`, `len` of them.
    trades: [TradeEntry<ScanValue<'a>>; MAX_TRADES],
    len: usize,
}

/// A push the adapter handles from the scanner's reading ([`ScanFrame::push`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Push<'f, 'a> {
    /// An `orderbook` topic whose `data` is an object: the rest of the topic after
    /// `orderbook.`, the frame's `type` and the book's fields.
    Book {
        /// The topic after `orderbook.` (`{depth}.{symbol}`).
        rest: &'a [u8],
        /// `type`, as a handler reads it.
        kind: Option<ScanValue<'a>>,
        /// The `data` object's fields.
        data: &'f BookData<ScanValue<'a>>,
    },
    /// A `publicTrade` topic whose `data` is an array of objects: its trades.
    Trades(&'f [TradeEntry<ScanValue<'a>>]),
}

impl<'a> ScanFrame<'a> {
    /// The frame's `ts` as the adapter reads it (a JSON integer or a string of digits).
    pub(crate) fn ts(&self) -> Option<ScanValue<'a>> {
        self.ts
    }

    /// The push this frame is, if the adapter handles it from the scanner's reading: a string
    /// `topic` starting `orderbook.` with an object `data`, or starting `publicTrade.` with an
    /// array `data`. `None` for anything else (another topic, a missing or non-string `topic`,
    /// a missing `data` or one of the other shape): the adapter leaves it to simd-json.
    #[inline]
    pub(crate) fn push(&self) -> Option<Push<'_, 'a>> {
        let topic = match self.topic? {
            ScanValue::Str(t) => t,
            _ => return None,
        };
        if let Some(rest) = topic.strip_prefix(b"orderbook.") {
            return (self.data == Data::Book).then_some(Push::Book {
                rest,
                kind: self.kind,
                data: &self.book,
            });
        }
        if topic.starts_with(b"publicTrade.") && self.data == Data::Trades {
            return Some(Push::Trades(self.trades.get(..self.len)?));
        }
        None
    }
}

/// The Bybit v5 frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum BybitFrames {}

impl super::Frames for BybitFrames {
    type Found<'a> = ScanFrame<'a>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Bybit v5 scanner: its kernel and the level offsets of the last frame.
pub type BybitScanner = ScannerState<BybitFrames>;

impl ScannerState<BybitFrames> {
    /// Whether the scanner reads `frame` and it is a push the adapter handles from that
    /// reading (the scan floor of the benchmarks: the walk without a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        let mut f = ScanFrame::default();
        self.scan_into(frame, &mut f).is_some() && f.push().is_some()
    }

    /// Whether the scanner reads `frame` at all, whatever its topic.
    #[cfg(test)]
    fn reads(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut ScanFrame::default()).is_some()
    }

    /// Fills `f`, which must be empty (`ScanFrame::default()`), with the frame's topic, type,
    /// time and data; `None` if the frame is not one the scanner recognises exactly (`f` then
    /// holds whatever was read before the refusal). It does not check that `topic` and `data`
    /// are present or that their shapes agree: [`ScanFrame::push`] does.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut ScanFrame<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        object(&mut c, |c, k| match k {
            b"topic" => once(c, &mut f.topic, &mut spans),
            b"type" => once(c, &mut f.kind, &mut spans),
            b"ts" => once(c, &mut f.ts, &mut spans),
            b"data" => {
                if f.data != Data::Absent {
                    return None;
                }
                match c.peek()? {
                    b'{' => {
                        f.data = Data::Book;
                        book(c, &mut f.book, &mut spans)
                    }
                    b'[' => {
                        f.data = Data::Trades;
                        trades(c, f, &mut spans)
                    }
                    _ => None,
                }
            }
            b"cts" | b"id" => scalar(c, &mut spans),
            // `op`, `success` (control frames) and anything not documented for these pushes.
            _ => None,
        })?;
        c.at_end().then_some(())
    }
}

/// Reads a value into `slot`, which must be empty (a duplicate key: simd-json's reading
/// keeps the first; the scanner refuses instead).
#[inline(always)]
fn once<'a>(
    c: &mut Cursor<'a>,
    slot: &mut Option<ScanValue<'a>>,
    spans: &mut Spans<'a>,
) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value(c, spans)?);
    Some(())
}

/// Reads a value no handler reads: a scalar in the subset (not an array).
#[inline(always)]
fn scalar<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<()> {
    if c.peek() == Some(b'[') {
        return None;
    }
    value(c, spans).map(drop)
}

/// A book's `data` object at `c`, read into `d`.
#[inline(always)]
fn book<'a>(
    c: &mut Cursor<'a>,
    d: &mut BookData<ScanValue<'a>>,
    spans: &mut Spans<'a>,
) -> Option<()> {
    object(c, |c, k| match d.slot(k) {
        Some(slot) => once(c, slot, spans),
        None if k == b"seq" => scalar(c, spans),
        None => None,
    })
}

/// `[]` or `[{trade},…]` at `c`, the trades read into `f`.
#[inline(always)]
fn trades<'a>(c: &mut Cursor<'a>, f: &mut ScanFrame<'a>, spans: &mut Spans<'a>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        if c.peek() != Some(b'{') {
            return None;
        }
        let t = f.trades.get_mut(f.len)?;
        f.len += 1;
        object(c, |c, k| match t.slot(k) {
            Some(slot) => once(c, slot, spans),
            None => match k {
                b"L" | b"BT" | b"RPI" | b"seq" | b"mP" | b"iP" | b"mIv" | b"iv" => scalar(c, spans),
                _ => None,
            },
        })?;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::{levels, scanners};
    use crate::venue::scan::FieldValue;

    #[test]
    fn every_kernel_reads_a_book_delta() {
        // The second frame of the bundled capture, shortened.
        let frame = br#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200791,"data":{"s":"XRPUSDT","b":[["1.9531","6203"],["1.9530","0"]],"a":[["1.9532","12"]],"u":2,"seq":23165410491},"cts":1733011200788}"#;
        for mut sc in scanners::<BybitFrames>() {
            let name = sc.kernel().kind().name();
            let mut f = ScanFrame::default();
            sc.scan_into(frame, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.ts().and_then(FieldValue::uint), Some(1_733_011_200_791));
            let Some(Push::Book { rest, kind, data }) = f.push() else { panic!("{name}") };
            assert_eq!(rest, b"500.XRPUSDT");
            assert_eq!(kind.and_then(FieldValue::text), Some(&b"delta"[..]));
            assert_eq!(data.s.and_then(FieldValue::text), Some(&b"XRPUSDT"[..]));
            assert_eq!(data.u.and_then(FieldValue::uint), Some(2));
            assert_eq!(
                levels(data.b),
                [("1.9531".into(), "6203".into()), ("1.9530".into(), "0".into())],
                "{name}"
            );
            assert_eq!(levels(data.a), [("1.9532".into(), "12".into())]);
        }
    }

    #[test]
    fn trades_free_key_order_and_whitespace() {
        let frame = b" {\"data\" : [ {\"i\":\"2290000000061666327\",\"BT\":false,\"T\":1672304486865,\"s\":\"BTCUSDT\",\"S\":\"Buy\",\"v\":\"0.001\",\"p\":\"16578.50\",\"L\":\"PlusTick\"} ,{\"s\":\"BTCUSDT\",\"S\":\"Sell\",\"v\":\"1\",\"p\":\"1\",\"T\":\"5\",\"seq\":7}],\n\"ts\":1672304486868,\"type\":\"snapshot\",\"topic\":\"publicTrade.BTCUSDT\"}\r\n";
        for mut sc in scanners::<BybitFrames>() {
            let mut f = ScanFrame::default();
            sc.scan_into(frame, &mut f).unwrap();
            let Some(Push::Trades(t)) = f.push() else { panic!() };
            assert_eq!(t.len(), 2);
            assert_eq!(t[0].t.and_then(FieldValue::uint), Some(1_672_304_486_865));
            assert_eq!(t[0].i.and_then(FieldValue::text), Some(&b"2290000000061666327"[..]));
            assert_eq!(t[1].side.and_then(FieldValue::text), Some(&b"Sell"[..]));
            assert_eq!(t[1].t.and_then(FieldValue::uint), Some(5));
            assert!(t[1].i.is_none());
            assert!(sc.recognises(frame));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 20] = [
            b"",
            b"[]",
            br#"{"success":true,"ret_msg":"pong","conn_id":"a","op":"ping"}"#,
            br#"{"topic":"orderbook.1.X","data":{},"op":"x"}"#,
            br#"{"topic":"orderbook.1.X","data":{}} x"#,
            br#"{"topic":"orderbook.1.X","topic":"orderbook.1.X","data":{}}"#,
            br#"{"topic":"orderbook.1.X","data":{},"data":{}}"#,
            br#"{"topic":"orderbook.1.X","data":{"s":"X","s":"X"}}"#,
            br#"{"topic":"orderbook.1.X","data":{"x":1}}"#,
            br#"{"topic":"orderbook.1.X","data":{"b":[["1","2","3"]]}}"#,
            br#"{"topic":"orderbook.1.X","data":{"b":[["1"]]}}"#,
            br#"{"topic":"orderbook.1.X","data":{"seq":[]}}"#,
            br#"{"topic":"orderbook.1.X","data":{"u":1.5}}"#,
            br#"{"topic":"orderbook.1.X","data":"x"}"#,
            br#"{"topic":"orderbook.1.\u0058","data":{}}"#,
            br#"{"topic":"publicTrade.X","data":[1]}"#,
            br#"{"topic":"publicTrade.X","data":[{"s":"X","x":1}]}"#,
            br#"{"topic":"publicTrade.X","data":[{"s":"X","L":{"a":1}}]}"#,
            br#"{"topic":"publicTrade.X","data":[{},{},{},{},{},{},{},{},{}]}"#,
            br#"{"topic":"publicTrade.X","cts":[],"data":[]}"#,
        ];
        for mut sc in scanners::<BybitFrames>() {
            for f in refused {
                assert!(
                    !sc.reads(f),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            assert!(sc.reads(br#"{"topic":"publicTrade.X","data":[{},{},{},{},{},{},{},{}]}"#));
            assert!(sc.reads(b"{}"));
            // Read, but not a push the adapter takes from the scanner.
            for other in [
                &br#"{"topic":"tickers.X","data":{}}"#[..],
                br#"{"topic":"orderbook.1.X","data":[]}"#,
                br#"{"topic":"publicTrade.X","data":{}}"#,
                br#"{"topic":1,"data":{}}"#,
                br#"{"data":{}}"#,
                br#"{"topic":"orderbook.1.X"}"#,
            ] {
                assert!(
                    sc.reads(other) && !sc.recognises(other),
                    "{}",
                    String::from_utf8_lossy(other)
                );
            }
            assert!(sc.recognises(br#"{"topic":"orderbook.x.X","type":1,"data":{}}"#));
            assert!(sc.recognises(br#"{"topic":"publicTrade.X","data":[]}"#));
        }
    }
}
