//! The Binance scanner: spot and USD-M/COIN-M `depthUpdate`, `trade`, `aggTrade` and
//! `bookTicker`, and the events the adapter reads no data from (`kline` and the other
//! streams the adapter ignores), raw or in a combined-stream wrapper
//! `{"stream":…,"data":{…}}`.
//!
//! It fills the adapter's own field table (`Fields`) with `ScanValue`s, so the adapter's
//! handlers run unchanged on its output. The keys the adapter reads are each given a slot; a
//! key the adapter reads that the scanner has no slot for (`lastUpdateId`, `id`, `result`,
//! `code`, `msg`, the derivatives fields, a `data` inside the event) or a key seen twice makes
//! it refuse the frame; any other key is read (its value must be in the accepted subset, or
//! an object of such values, nested at most [`flat::MAX_DEPTH`] deep: a kline's `k`) and
//! ignored, as the adapter ignores it. Key order is free.

use super::{flat, object, value, Cursor, ScanValue, ScannerState, Spans};
use crate::venue::binance::Fields;

/// What the scanner does with a key.
enum Key<'f, 'a> {
    /// Read into this field of the table.
    Slot(&'f mut Option<ScanValue<'a>>),
    /// A key the adapter reads that the scanner leaves to simd-json.
    Refuse,
    /// A key the adapter ignores.
    Skip,
}

/// The scanner's reading of `key`: the field of `f` it fills, if any.
#[inline(always)]
fn key<'f, 'a>(f: &'f mut Fields<ScanValue<'a>>, key: &[u8]) -> Key<'f, 'a> {
    match f.slot(key) {
        Some((slot, true)) => Key::Slot(slot),
        Some((_, false)) => Key::Refuse,
        None => Key::Skip,
    }
}

/// Reads the value of `k` at `c` into the table `f` (or skips it); `None` to refuse the frame.
/// Returns whether it filled a field.
#[inline(always)]
fn member<'a>(
    f: &mut Fields<ScanValue<'a>>,
    c: &mut Cursor<'a>,
    k: &[u8],
    spans: &mut Spans<'a>,
) -> Option<bool> {
    match key(f, k) {
        Key::Slot(slot) => {
            // A duplicate key: simd-json's reading keeps the first; refuse instead.
            if slot.is_some() {
                return None;
            }
            *slot = Some(value(c, spans)?);
            Some(true)
        }
        Key::Refuse => None,
        // An object the adapter ignores (a kline's `k`): read whole, its numbers unsigned
        // integers as everywhere in this subset.
        Key::Skip if c.peek() == Some(b'{') => {
            flat::skip_plain(c, 1)?;
            Some(false)
        }
        Key::Skip => {
            value(c, spans)?;
            Some(false)
        }
    }
}

/// The Binance frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum BinanceFrames {}

impl super::Frames for BinanceFrames {
    type Found<'a> = Fields<ScanValue<'a>>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Binance scanner: its kernel and the level offsets of the last frame.
pub type BinanceScanner = ScannerState<BinanceFrames>;

impl ScannerState<BinanceFrames> {
    /// Whether the scanner reads `frame` (the scan floor of the benchmarks: the walk without
    /// a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut Fields::default()).is_some()
    }

    /// [`BinanceScanner::scan_into`] a fresh table, returned (the tests' reading).
    #[cfg(test)]
    pub(crate) fn scan<'a>(&'a mut self, frame: &'a [u8]) -> Option<Fields<ScanValue<'a>>> {
        let mut f = Fields::default();
        self.scan_into(frame, &mut f)?;
        Some(f)
    }

    /// Fills `f`, which must be empty (`Fields::default()`), with the event's fields (a
    /// combined-stream frame's `data`, else the frame itself); `None` if the frame is not one
    /// the scanner recognises exactly (`f` then holds whatever was read before the refusal).
    ///
    /// The fields are written straight into the adapter's table where it lives. A
    /// combined-stream wrapper may hold only keys the adapter ignores besides `data` (as
    /// Binance's do): a field of the wrapper read before `data`, or any after it, refuses the
    /// frame, so the table holds the event's fields alone, as the adapter reads them.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut Fields<ScanValue<'a>>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        // Whether the wrapper filled a field, and whether `data` was read.
        let (mut outer, mut data) = (false, false);
        object(&mut c, |c, k| {
            if k == b"data" {
                // Only an object: anything else is for simd-json (and the adapter's error).
                if outer || data || c.peek() != Some(b'{') {
                    return None;
                }
                data = true;
                object(c, |c, k| member(f, c, k, &mut spans).map(drop))
            } else {
                let filled = member(f, c, k, &mut spans)?;
                outer |= filled;
                (!(filled && data)).then_some(())
            }
        })?;
        c.at_end().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::{levels, scanners};
    use crate::venue::scan::{FieldValue, MAX_SPANS, SPANS};

    #[test]
    fn every_kernel_reads_a_futures_depth_update() {
        // A COIN-M frame from the bundled capture, `ps` (not read) included, padded so the
        // vector loops see strings across block edges.
        let frame = br#"{"stream":"btcusd_perp@depth@0ms","data":{"e":"depthUpdate","E":1723161257440,"T":1723161257432,"s":"BTCUSD_PERP","ps":"BTCUSD","U":1007198631260,"u":1007198631565,"pu":1007198631198,"b":[["61773.6","1001"],["61776.4","412"]],"a":[["61801.4","0"]]}}"#;
        for mut sc in scanners::<BinanceFrames>() {
            let name = sc.kernel().kind().name();
            let f = sc.scan(frame).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.e.and_then(FieldValue::text), Some(&b"depthUpdate"[..]), "{name}");
            assert_eq!(f.s.and_then(FieldValue::text), Some(&b"BTCUSD_PERP"[..]), "{name}");
            assert_eq!(f.first_id.and_then(FieldValue::uint), Some(1_007_198_631_260));
            assert_eq!(f.last_id.and_then(FieldValue::uint), Some(1_007_198_631_565));
            assert_eq!(f.prev_id.and_then(FieldValue::uint), Some(1_007_198_631_198));
            assert_eq!(f.big_t.and_then(FieldValue::uint), Some(1_723_161_257_432));
            assert_eq!(
                levels(f.b),
                [("61773.6".into(), "1001".into()), ("61776.4".into(), "412".into())],
                "{name}"
            );
            assert_eq!(levels(f.a), [("61801.4".into(), "0".into())], "{name}");
            assert!(f.data.is_none() && f.last_update_id.is_none());
        }
    }

    #[test]
    fn a_wrapper_holds_only_keys_the_adapter_ignores() {
        for mut sc in scanners::<BinanceFrames>() {
            let ok =
                br#"{"stream":"s","x":[["1","2"]],"data":{"e":"trade","b":[["3","4"]]},"y":1}"#;
            let f = sc.scan(ok).unwrap();
            assert_eq!(f.e.and_then(FieldValue::text), Some(&b"trade"[..]));
            assert_eq!(levels(f.b), [("3".into(), "4".into())]);
            for refused in [
                &br#"{"e":"trade","data":{"e":"trade"}}"#[..],
                br#"{"data":{"s":"X"},"e":"trade"}"#,
                br#"{"data":{"s":"X"},"data":{"s":"X"}}"#,
            ] {
                assert!(sc.scan(refused).is_none(), "{}", String::from_utf8_lossy(refused));
            }
        }
    }

    #[test]
    fn more_levels_than_the_span_buffer_holds_are_refused_until_it_grows() {
        let frame = |n: usize| {
            let mut frame = b"{\"b\":[".to_vec();
            for i in 0..n {
                if i > 0 {
                    frame.push(b',');
                }
                frame.extend_from_slice(br#"["1","2"]"#);
            }
            frame.extend_from_slice(b"]}");
            frame
        };
        for mut sc in scanners::<BinanceFrames>() {
            let full = frame(SPANS);
            assert_eq!(levels(sc.scan(&full).unwrap().b).len(), SPANS);
            // A frame refused for another reason does not grow the buffer.
            assert!(sc.scan(br#"{"b":[["1",2]]}"#).is_none() && !sc.grow(1 << 20));
            let more = frame(SPANS + 1);
            assert!(sc.scan(&more).is_none());
            assert_eq!(sc.span_capacity(), SPANS);
            // Refused for want of room: the buffer grows to what a frame that long can need
            // (an offset for every 4 bytes, rounded up; at least double), and it is read.
            assert!(sc.grow(more.len()));
            let room = (more.len() / 4 + 1).next_power_of_two().clamp(2 * SPANS, MAX_SPANS);
            assert_eq!(sc.span_capacity(), room);
            assert_eq!(levels(sc.scan(&more).unwrap().b).len(), SPANS + 1);
            // At its largest it grows no more, however long the frame.
            assert!(sc.scan(&frame(sc.span_capacity() + 1)).is_none());
            while sc.grow(usize::MAX / 2) {}
            assert_eq!(sc.span_capacity(), MAX_SPANS);
        }
    }

    #[test]
    fn raw_trades_with_free_key_order_and_whitespace() {
        let frame = b" {\"m\" : true ,\n\"q\":\"0.02000000\",\"p\":\"61837.63000000\",\"M\":true,\"t\":3735683259,\"s\":\"BTCUSDT\",\"e\":\"trade\",\"T\":1723161255342,\"E\":0}\r\n";
        for mut sc in scanners::<BinanceFrames>() {
            let f = sc.scan(frame).unwrap();
            assert_eq!(f.m.and_then(FieldValue::boolean), Some(true));
            assert_eq!(f.t.and_then(FieldValue::uint), Some(3_735_683_259));
            assert_eq!(f.p.and_then(FieldValue::text), Some(&b"61837.63000000"[..]));
            assert_eq!(f.big_e.and_then(FieldValue::uint), Some(0));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 26] = [
            b"",
            b"[]",
            b"{\"e\":\"trade\"",
            br#"{"e":"trade"} x"#,
            br#"{"e":"tr\"ade"}"#,
            "{\"e\":\"tr\u{e9}de\"}".as_bytes(),
            b"{\"e\":\"tr\x01de\"}",
            br#"{"e":"trade","E":1.5}"#,
            br#"{"e":"trade","E":-1}"#,
            br#"{"e":"trade","E":1e3}"#,
            br#"{"e":"trade","E":01}"#,
            br#"{"e":"trade","E":12345678901234567890}"#,
            br#"{"e":"trade","e":"trade"}"#,
            br#"{"lastUpdateId":1,"bids":[],"asks":[]}"#,
            br#"{"result":null,"id":1}"#,
            br#"{"stream":"x","data":{"e":"forceOrder","o":{"s":"BTCUSDT"}}}"#,
            br#"{"stream":"x","data":[1]}"#,
            br#"{"data":{"e":"trade"},"data":{"e":"trade"}}"#,
            br#"{"data":{"data":{}}}"#,
            br#"{"b":[["1","2","3"]]}"#,
            br#"{"b":[["1",2]]}"#,
            br#"{"b":[["1","2"],]}"#,
            br#"{"x":{"y":-1}}"#,
            br#"{"x":{"y":1.5}}"#,
            br#"{"x":{"y":"\"a"}}"#,
            br#"{"e":tru}"#,
        ];
        for mut sc in scanners::<BinanceFrames>() {
            for f in refused {
                assert!(
                    sc.scan(f).is_none(),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            // Accepted on the edges of the subset: 19 digits, 0, empty objects and arrays, an
            // ignored object nested (a kline's `k`).
            assert!(sc.scan(br#"{"E":9999999999999999999,"U":0,"b":[],"x":{}}"#).is_some());
            assert!(sc.scan(br#"{"E":9999999999999999999,"U":0,"b":[],"x":null}"#).is_some());
            let kline =
                br#"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":1,"i":"1m","x":false,"n":[{}]}}"#;
            let f = sc.scan(kline).expect("a kline");
            assert_eq!(f.e.and_then(FieldValue::text), Some(&b"kline"[..]));
            assert!(sc.scan(b"{}").is_some());
        }
    }
}
