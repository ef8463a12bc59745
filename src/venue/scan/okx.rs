//! The OKX scanner: order-book pushes (`books`, `books5`, `bbo-tbt`, `books-l2-tbt`,
//! `books50-l2-tbt`; `snapshot` and `update`), `trades`/`trades-all` and `tickers`:
//! `{"arg":{"channel":…,"instId":…},"action":…,"data":[{…},…]}`.
//!
//! It reads the frame's `arg.channel`, `arg.instId`, `action` and up to [`MAX_ENTRIES`]
//! entries of `data`, each into the adapter's own entry table (`Entry`), so the adapter's
//! handlers run unchanged on its output. Key order is free at every level. It refuses the frame
//! (the adapter then reads it with simd-json, counted) on anything it does not read exactly:
//! an `event` key (control frames), an `arg` that is not an object or lacks a string
//! `channel` or `instId`, a non-string `action`, a `data` that is not an array of objects, more
//! entries than it has room for, a key the adapter reads seen twice, a nested object or array
//! other than a level array, and anything outside the scanners' JSON subset (see
//! [`super`]). Levels are arrays of two to four strings (`["px","sz","0","1"]`: liquidated
//! orders and order count are read and not kept); integers may be negative (`checksum`,
//! `prevSeqId`). Keys the adapter does not read are read (their value must be in the subset)
//! and ignored. The scanner reads any channel's frame of this shape; `ScanFrame::push` says
//! whether it is one of the pushes the adapter handles from it.

use super::{object, value_of, Cursor, ScanValue, ScannerState, Spans};
use crate::venue::okx::Entry;

/// The `data` entries a frame may have (OKX sends one; a frame with more is left to
/// simd-json).
pub const MAX_ENTRIES: usize = 4;

/// The widest level: price, size, liquidated orders, order count.
const WIDTH: usize = 4;

/// A value in OKX's subset: levels of up to four strings, negative integers.
#[inline(always)]
fn value<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<ScanValue<'a>> {
    value_of::<WIDTH, true>(c, spans)
}

/// What the scanner read of one frame (empty: `Default`).
#[derive(Debug, Default)]
pub(crate) struct ScanFrame<'a> {
    /// `arg.channel`.
    pub(crate) channel: Option<&'a [u8]>,
    /// `arg.instId`.
    pub(crate) inst_id: Option<&'a [u8]>,
    /// `action`, if present.
    pub(crate) action: Option<&'a [u8]>,
    /// Whether `data` was read.
    data: bool,
    /// The entries of `data`, `len` of them.
    entries: [Entry<ScanValue<'a>>; MAX_ENTRIES],
    len: usize,
}

impl<'a> ScanFrame<'a> {
    /// The push this frame is, if it is one the adapter handles from the scanner's reading:
    /// a book channel with `action` `snapshot`, `update` or none (a snapshot), a trades
    /// channel or `tickers`; with its `instId`. `None` for anything else (another channel, a
    /// missing `channel`, `instId` or `data`, another `action`): the adapter leaves it to
    /// simd-json.
    #[inline]
    pub(crate) fn push(&self) -> Option<(Push, &'a [u8])> {
        let (Some(channel), Some(inst_id), true) = (self.channel, self.inst_id, self.data) else {
            return None;
        };
        let push = match channel {
            b"books" | b"books-l2-tbt" | b"books50-l2-tbt" | b"books5" | b"bbo-tbt" => {
                match self.action {
                    Some(b"snapshot") | None => Push::Book { snapshot: true },
                    Some(b"update") => Push::Book { snapshot: false },
                    Some(_) => return None,
                }
            }
            b"trades" | b"trades-all" => Push::Trades,
            b"tickers" => Push::Tickers,
            _ => return None,
        };
        Some((push, inst_id))
    }

    /// The entries of `data`, in order.
    pub(crate) fn entries(&self) -> &[Entry<ScanValue<'a>>] {
        &self.entries[..self.len]
    }
}

/// A push the adapter handles from the scanner's reading ([`ScanFrame::push`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// A book channel's entries: a snapshot (`action` `snapshot` or absent) or an update.
    Book {
        /// Whether the entries are snapshots.
        snapshot: bool,
    },
    /// Trades.
    Trades,
    /// Tickers (the venue's own best bid and ask, kept for cross-checks).
    Tickers,
}

/// Reads a string into `slot`, which must be empty; `None` for anything else.
#[inline(always)]
fn string_once<'a>(c: &mut Cursor<'a>, slot: &mut Option<&'a [u8]>) -> Option<()> {
    if slot.is_some() || c.peek() != Some(b'"') {
        return None;
    }
    *slot = Some(c.string()?);
    Some(())
}

/// The OKX frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum OkxFrames {}

impl super::Frames for OkxFrames {
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

/// The OKX scanner: its kernel and the level offsets of the last frame.
pub type OkxScanner = ScannerState<OkxFrames>;

impl ScannerState<OkxFrames> {
    /// Whether the scanner reads `frame` and it is a push the adapter handles from that
    /// reading (the scan floor of the benchmarks: the walk without a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        let mut f = ScanFrame::default();
        self.scan_into(frame, &mut f).is_some() && f.push().is_some()
    }

    /// Whether the scanner reads `frame` at all, whatever its channel.
    #[cfg(test)]
    fn reads(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut ScanFrame::default()).is_some()
    }

    /// Fills `f`, which must be empty (`ScanFrame::default()`), with the frame's channel,
    /// instrument, action and entries; `None` if the frame is not one the scanner recognises
    /// exactly (`f` then holds whatever was read before the refusal). It does not check
    /// that `channel`, `instId` and `data` were all present: the caller does.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut ScanFrame<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        let mut arg = false;
        object(&mut c, |c, k| match k {
            b"arg" => {
                if arg || c.peek() != Some(b'{') {
                    return None;
                }
                arg = true;
                object(c, |c, k| match k {
                    b"channel" => string_once(c, &mut f.channel),
                    b"instId" => string_once(c, &mut f.inst_id),
                    _ => value(c, &mut spans).map(drop),
                })
            }
            b"action" => string_once(c, &mut f.action),
            b"data" => {
                if f.data {
                    return None;
                }
                f.data = true;
                data(c, f, &mut spans)
            }
            // A control frame: the adapter reads `event` before anything else.
            b"event" => None,
            _ => value(c, &mut spans).map(drop),
        })?;
        c.at_end().then_some(())
    }
}

/// `[]` or `[{entry},…]` at `c`, the entries read into `f`.
#[inline(always)]
fn data<'a>(c: &mut Cursor<'a>, f: &mut ScanFrame<'a>, spans: &mut Spans<'a>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        if c.peek() != Some(b'{') {
            return None;
        }
        let e = f.entries.get_mut(f.len)?;
        f.len += 1;
        object(c, |c, k| match e.slot(k) {
            Some(slot) => {
                // A duplicate key: simd-json's reading keeps the first; refuse instead.
                if slot.is_some() {
                    return None;
                }
                *slot = Some(value(c, spans)?);
                Some(())
            }
            None => value(c, spans).map(drop),
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
    fn every_kernel_reads_a_book_update() {
        // A frame of the bundled capture.
        let frame = br#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]}"#;
        for mut sc in scanners::<OkxFrames>() {
            let name = sc.kernel().kind().name();
            let mut f = ScanFrame::default();
            sc.scan_into(frame, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.channel, Some(&b"books"[..]));
            assert_eq!(f.inst_id, Some(&b"BTC-USD-220527"[..]));
            assert_eq!(f.action, Some(&b"update"[..]));
            assert_eq!(f.entries().len(), 1);
            let e = &f.entries()[0];
            assert_eq!(
                levels(e.asks),
                [
                    ("30249.4".into(), "0".into()),
                    ("30261".into(), "4".into()),
                    ("30310.3".into(), "19".into())
                ],
                "{name}"
            );
            assert_eq!(levels(e.bids), [("30182.6".into(), "452".into())]);
            assert_eq!(e.checksum.and_then(FieldValue::int), Some(-914_047_754));
            assert_eq!(e.ts.and_then(FieldValue::text), Some(&b"1652459225464"[..]));
            assert!(e.seq_id.is_none() && e.px.is_none());
            let px: Vec<&[u8]> = e.asks.unwrap().level_texts(false).collect();
            let sz: Vec<&[u8]> = e.asks.unwrap().level_texts(true).collect();
            assert_eq!(px, [&b"30249.4"[..], b"30261", b"30310.3"]);
            assert_eq!(sz, [&b"0"[..], b"4", b"19"]);
        }
    }

    #[test]
    fn free_key_order_several_entries_and_sequence_ids() {
        let frame = b" {\"data\" : [ {\"seqId\":124,\"prevSeqId\":-1,\"bids\":[],\"asks\":[[\"1\",\"2\"]]} ,{\"ts\":\"5\",\"count\":\"3\",\"x\":null}],\n\"action\":\"snapshot\",\"arg\":{\"instId\":\"BTC-USDT\",\"x\":true,\"channel\":\"books-l2-tbt\"}}\r\n";
        for mut sc in scanners::<OkxFrames>() {
            let mut f = ScanFrame::default();
            sc.scan_into(frame, &mut f).unwrap();
            assert_eq!(f.channel, Some(&b"books-l2-tbt"[..]));
            assert_eq!(f.entries().len(), 2);
            let e = &f.entries()[0];
            assert_eq!(e.seq_id.and_then(FieldValue::int), Some(124));
            assert_eq!(e.prev_seq_id.and_then(FieldValue::int), Some(-1));
            assert_eq!(e.prev_seq_id.and_then(FieldValue::uint), None);
            assert_eq!(levels(e.asks), [("1".into(), "2".into())]);
            assert!(levels(e.bids).is_empty());
            assert_eq!(f.entries()[1].ts.and_then(FieldValue::text), Some(&b"5"[..]));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 22] = [
            b"",
            b"pong",
            b"[]",
            br#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}"#,
            br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[]} x"#,
            br#"{"arg":"books","data":[]}"#,
            br#"{"arg":{"channel":"books"},"arg":{"instId":"BTC-USDT"},"data":[]}"#,
            br#"{"arg":{"channel":"books","channel":"books"},"data":[]}"#,
            br#"{"arg":{"channel":1,"instId":"BTC-USDT"},"data":[]}"#,
            br#"{"arg":{"channel":"books","instId":"BTC\u002dUSDT"},"data":[]}"#,
            br#"{"action":1,"data":[]}"#,
            br#"{"action":"update","action":"update","data":[]}"#,
            br#"{"data":[],"data":[]}"#,
            br#"{"data":{}}"#,
            br#"{"data":[1]}"#,
            br#"{"data":[{"ts":"1"},{},{},{},{}]}"#,
            br#"{"data":[{"ts":"1","ts":"1"}]}"#,
            br#"{"data":[{"checksum":-0}]}"#,
            br#"{"data":[{"checksum":1.5}]}"#,
            br#"{"data":[{"asks":[["1","2","3","4","5"]]}]}"#,
            br#"{"data":[{"asks":[["1"]]}]}"#,
            br#"{"data":[{"x":{"y":1}}]}"#,
        ];
        for mut sc in scanners::<OkxFrames>() {
            for f in refused {
                assert!(
                    !sc.reads(f),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            // On the edges of the subset.
            assert!(sc.reads(br#"{"data":[{"checksum":-9223372036854775807,"x":[]},{},{},{}]}"#));
            assert!(!sc.reads(br#"{"data":[{"checksum":-9223372036854775808}]}"#));
            assert!(sc.reads(b"{}"));
            // Read, but not a push the adapter takes from the scanner.
            for other in [
                &br#"{"arg":{"channel":"mark-price","instId":"BTC-USDT"},"data":[]}"#[..],
                br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[]}"#,
                br#"{"arg":{"channel":"books"},"data":[]}"#,
                br#"{"arg":{"channel":"books","instId":"BTC-USDT"}}"#,
            ] {
                assert!(sc.reads(other) && !sc.recognises(other));
            }
            let book = br#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[]}"#;
            let mut f = ScanFrame::default();
            sc.scan_into(book, &mut f).unwrap();
            assert_eq!(f.push(), Some((Push::Book { snapshot: true }, &b"BTC-USDT"[..])));
            let trades = br#"{"arg":{"instId":"BTC-USDT","channel":"trades-all"},"data":[]}"#;
            assert!(sc.recognises(trades) && sc.recognises(book));
        }
    }
}
