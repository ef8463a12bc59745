//! The Binance scanner: spot and USD-M/COIN-M `depthUpdate`, `trade`, `aggTrade` and
//! `bookTicker`, raw or in a combined-stream wrapper `{"stream":…,"data":{…}}`.
//!
//! It fills the adapter's own field table (`Fields`) with `ScanValue`s, so the adapter's
//! handlers run unchanged on its output. The keys the adapter reads are each given a slot; a
//! key the adapter reads that the scanner has no slot for (`lastUpdateId`, `id`, `result`,
//! `code`, `msg`, the derivatives fields, a `data` inside the event) or a key seen twice makes
//! it refuse the frame; any other key is read (its value must be in the accepted subset) and
//! ignored, as the adapter ignores it. Key order is free.

use super::{object, value, Cursor, Kernel, LevelSpan, Raw, ScanValue};
use crate::venue::binance::Fields;

/// What the scanner does with a key.
enum Key {
    /// Read into this slot (the order of [`Slots::fields`]).
    Slot(usize),
    /// A key the adapter reads that the scanner leaves to simd-json.
    Refuse,
    /// A key the adapter ignores.
    Skip,
}

/// The scanner's reading of `key`.
#[inline]
fn key(key: &[u8]) -> Key {
    Key::Slot(match key {
        b"e" => 0,
        b"s" => 1,
        b"U" => 2,
        b"u" => 3,
        b"pu" => 4,
        b"T" => 5,
        b"E" => 6,
        b"b" => 7,
        b"B" => 8,
        b"a" => 9,
        b"A" => 10,
        b"p" => 11,
        b"q" => 12,
        b"t" => 13,
        b"m" => 14,
        b"X" => 15,
        b"lastUpdateId" | b"data" | b"id" | b"result" | b"code" | b"msg" | b"i" | b"r" | b"o"
        | b"S" | b"ap" | b"z" => return Key::Refuse,
        _ => return Key::Skip,
    })
}

/// One object's slots while it is read.
#[derive(Default, Clone, Copy)]
struct Slots<'a> {
    vals: [Option<Raw<'a>>; 16],
}

impl<'a> Slots<'a> {
    /// Reads the value of `key` at `c` into its slot; `None` to refuse the frame.
    #[inline]
    fn member(&mut self, c: &mut Cursor<'a>, key: &[u8], spans: &mut Vec<LevelSpan>) -> Option<()> {
        match self::key(key) {
            Key::Slot(i) => {
                let v = value(c, spans)?;
                // A duplicate key: simd-json's reading keeps the first; refuse instead.
                if self.vals.get_mut(i)?.replace(v).is_some() {
                    return None;
                }
            }
            Key::Refuse => return None,
            Key::Skip => {
                value(c, spans)?;
            }
        }
        Some(())
    }

    /// The adapter's field table, level ranges resolved against `spans`.
    fn fields(&self, frame: &'a [u8], spans: &'a [LevelSpan]) -> Fields<ScanValue<'a>> {
        let v = |i: usize| self.vals.get(i).copied().flatten().map(|r| r.resolve(frame, spans));
        Fields {
            e: v(0),
            s: v(1),
            first_id: v(2),
            last_id: v(3),
            prev_id: v(4),
            big_t: v(5),
            big_e: v(6),
            b: v(7),
            big_b: v(8),
            a: v(9),
            big_a: v(10),
            p: v(11),
            q: v(12),
            t: v(13),
            m: v(14),
            x: v(15),
            ..Fields::default()
        }
    }
}

/// Level offsets the scanner has room for from the start (it grows past them if a frame
/// needs more).
const SPANS: usize = 4096;

/// The Binance scanner's reused state: its kernel and the level offsets of the last frame.
#[derive(Debug)]
pub struct BinanceScanner {
    kernel: Kernel,
    spans: Vec<LevelSpan>,
}

impl Default for BinanceScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl BinanceScanner {
    /// A scanner with the fastest kernel this CPU has.
    pub fn new() -> Self {
        Self::with_kernel(Kernel::detect())
    }

    /// A scanner that runs `kernel` (tests force each one).
    pub fn with_kernel(kernel: Kernel) -> Self {
        // Room for the levels of any depth update Binance sends (a 100 ms diff of a busy book
        // runs to hundreds): the buffer is made once, not grown on the hot path.
        BinanceScanner { kernel, spans: Vec::with_capacity(SPANS) }
    }

    /// The kernel this scanner runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Whether the scanner reads `frame` (the scan floor of the benchmarks: the walk without
    /// a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        self.scan(frame).is_some()
    }

    /// The event's fields (a combined-stream frame's `data`, else the frame itself), or `None`
    /// if the frame is not one the scanner recognises exactly.
    pub(crate) fn scan<'a>(&'a mut self, frame: &'a [u8]) -> Option<Fields<ScanValue<'a>>> {
        self.spans.clear();
        u32::try_from(frame.len()).ok()?;
        let spans = &mut self.spans;
        let mut c = Cursor::new(frame, self.kernel);
        c.ws();
        let mut outer = Slots::default();
        let mut inner: Option<Slots<'a>> = None;
        object(&mut c, |c, key| {
            if key == b"data" {
                // Only an object: anything else is for simd-json (and the adapter's error).
                if inner.is_some() || c.peek() != Some(b'{') {
                    return None;
                }
                let mut slots = Slots::default();
                object(c, |c, key| slots.member(c, key, spans))?;
                inner = Some(slots);
                Some(())
            } else {
                outer.member(c, key, spans)
            }
        })?;
        if !c.at_end() {
            return None;
        }
        // As the adapter reads a frame: a wrapper's event, the outer fields otherwise.
        let event = inner.unwrap_or(outer);
        Some(event.fields(frame, &self.spans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::{FieldValue, KernelKind};

    fn scanners() -> Vec<BinanceScanner> {
        KernelKind::ALL
            .into_iter()
            .filter_map(Kernel::forced)
            .map(BinanceScanner::with_kernel)
            .collect()
    }

    fn levels(v: Option<ScanValue<'_>>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        v.unwrap()
            .each_level(|p, q| {
                out.push((
                    String::from_utf8(p.to_vec()).unwrap(),
                    String::from_utf8(q.to_vec()).unwrap(),
                ));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn every_kernel_reads_a_futures_depth_update() {
        // A COIN-M frame from the bundled capture, `ps` (not read) included, padded so the
        // vector loops see strings across block edges.
        let frame = br#"{"stream":"btcusd_perp@depth@0ms","data":{"e":"depthUpdate","E":1723161257440,"T":1723161257432,"s":"BTCUSD_PERP","ps":"BTCUSD","U":1007198631260,"u":1007198631565,"pu":1007198631198,"b":[["61773.6","1001"],["61776.4","412"]],"a":[["61801.4","0"]]}}"#;
        for mut sc in scanners() {
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
    fn raw_trades_with_free_key_order_and_whitespace() {
        let frame = b" {\"m\" : true ,\n\"q\":\"0.02000000\",\"p\":\"61837.63000000\",\"M\":true,\"t\":3735683259,\"s\":\"BTCUSDT\",\"e\":\"trade\",\"T\":1723161255342,\"E\":0}\r\n";
        for mut sc in scanners() {
            let f = sc.scan(frame).unwrap();
            assert_eq!(f.m.and_then(FieldValue::boolean), Some(true));
            assert_eq!(f.t.and_then(FieldValue::uint), Some(3_735_683_259));
            assert_eq!(f.p.and_then(FieldValue::text), Some(&b"61837.63000000"[..]));
            assert_eq!(f.big_e.and_then(FieldValue::uint), Some(0));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 24] = [
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
            br#"{"x":{"y":1}}"#,
            br#"{"e":tru}"#,
        ];
        for mut sc in scanners() {
            for f in refused {
                assert!(
                    sc.scan(f).is_none(),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            // Accepted on the edges of the subset: 19 digits, 0, empty objects and arrays.
            assert!(sc.scan(br#"{"E":9999999999999999999,"U":0,"b":[],"x":{}}"#).is_none());
            assert!(sc.scan(br#"{"E":9999999999999999999,"U":0,"b":[],"x":null}"#).is_some());
            assert!(sc.scan(b"{}").is_some());
        }
    }
}
