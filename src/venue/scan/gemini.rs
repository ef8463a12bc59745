//! The Gemini market data v2 scanner: `l2_updates` and `trade` messages, flat objects.
//!
//! - `{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0"],["sell","24117.80","0.91"]]}`
//! - the first `l2_updates` of a subscription, the full book, with the recent trades and
//!   auctions: `{"type":"l2_updates","symbol":"ALCXUSD","changes":[…],"trades":[{"type":"trade","symbol":"ALCXUSD","event_id":45465785975,"timestamp":1624493651491,"price":"302.53","quantity":"0.992143","side":"buy"},…],"auction_events":[]}`
//! - `{"type":"trade","symbol":"ANKRUSD","event_id":45465818387,"timestamp":1624493670759,"price":"0.07946","quantity":"1020.482111","side":"buy"}`
//!
//! It reads the top-level object's members in any order: the keys the adapter's handlers read
//! (`type`, `symbol`, `changes`, `trades`, `event_id`, `timestamp`, `price`, `quantity`,
//! `side`) go into the adapter's table (`gemini::GemFields`), with the values of the Coinbase
//! Exchange scanner (`coinbase::ScanValue`: a string, an unsigned integer, `true`, `false`,
//! `null`, or rows of two to six strings such as a change `["buy","px","qty"]`). The handlers
//! only ask whether `trades` is there, so it is read whole (nested objects too) and kept as
//! present. Any other member (`auction_events`) is read whole and not kept.
//!
//! This venue's simd-json path reads numbers as numbers (they are not quoted), so the only
//! numbers the scanner accepts anywhere are unsigned integers of at most 19 digits
//! (`flat::skip_plain`): simd-json reads those alike, while it refuses some numbers JSON's
//! grammar allows. It refuses (the adapter then reads the frame with simd-json, counted) a
//! frame that is not an object, a key of the table seen twice, a kept value of another shape
//! (a nested object, an array that is not rows), and anything outside the scanners' subset
//! (see [`super`]). The adapter takes `l2_updates` and `trade` messages from it and leaves
//! every other `type` (heartbeats, subscription answers) to simd-json. A full book with more
//! levels than the buffer holds makes the adapter's scanner grow it and read the frame again
//! ([`super::MAX_SPANS`]).

use super::coinbase::{value, ScanValue};
use super::flat::skip_plain;
use super::{object, ScannerState};
use crate::venue::gemini::GemFields;

/// The Gemini v2 frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum GeminiFrames {}

impl super::Frames for GeminiFrames {
    type Found<'a> = GemFields<ScanValue<'a>>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Gemini v2 scanner: its kernel and the row offsets of the last frame.
pub type GeminiScanner = ScannerState<GeminiFrames>;

impl ScannerState<GeminiFrames> {
    /// Whether the scanner reads `frame` and it is an `l2_updates` or `trade` message (the
    /// scan floor of the benchmarks: the walk without a handler). A full book with more levels
    /// than the buffer holds is read again with room for them, as the adapter does.
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        use crate::venue::scan::coinbase::ExValue;
        super::reads_growing(self, frame, |f| {
            matches!(f.kind.and_then(ExValue::text), Some(b"l2_updates" | b"trade"))
        })
    }

    /// Fills `f`, which must be empty (`GemFields::default()`), with the frame's fields the
    /// handlers read; `None` if the frame is not one the scanner recognises exactly. It does
    /// not check the `type`: the caller does.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut GemFields<ScanValue<'a>>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        if c.peek() != Some(b'{') {
            return None;
        }
        object(&mut c, |c, k| {
            let trades = k == b"trades";
            match f.slot(k) {
                // A duplicate key: simd-json's reading keeps the first; refuse instead.
                Some(slot) if slot.is_some() => None,
                // Only its presence is read.
                Some(slot) if trades => {
                    skip_plain(c, 1)?;
                    *slot = Some(ScanValue::Other);
                    Some(())
                }
                Some(slot) => {
                    *slot = Some(value(c, &mut spans)?);
                    Some(())
                }
                None => skip_plain(c, 1),
            }
        })?;
        c.at_end().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::coinbase::ExValue;
    use crate::venue::scan::testing::scanners;

    fn changes(v: Option<ScanValue<'_>>) -> Vec<[Option<String>; 3]> {
        let mut out = Vec::new();
        v.unwrap()
            .each_change(|r| {
                out.push(r.map(|t| t.map(|t| String::from_utf8(t.to_vec()).unwrap())));
                Ok(())
            })
            .unwrap();
        out
    }

    fn s(t: &str) -> Option<String> {
        Some(t.to_owned())
    }

    #[test]
    fn every_kernel_reads_a_full_book_an_update_and_a_trade() {
        let full = r#"{"type":"l2_updates","symbol":"ALCXUSD","changes":[["buy","302.75","0.00001"],["sell","303.55","2"]],"trades":[{"type":"trade","symbol":"ALCXUSD","event_id":45465785975,"timestamp":1624493651491,"price":"302.53","quantity":"0.992143","side":"buy"}],"auction_events":[{"a":[null,true]}]}"#;
        let update = " {\"changes\" : [ [\"buy\",\"24084.23\",\"0\"] ,[\"sell\", \"24117.80\",\"0.91\"]],\"symbol\":\"BTCGBP\",\"type\":\"l2_updates\"}\n";
        let trade = r#"{"type":"trade","symbol":"ANKRUSD","event_id":45465818387,"timestamp":"1624493670759","price":"0.07946","quantity":"1020.482111","side":"buy","tid":7}"#;
        for mut sc in scanners::<GeminiFrames>() {
            let mut f = GemFields::default();
            sc.scan_into(full.as_bytes(), &mut f).unwrap();
            assert_eq!(f.symbol.and_then(ExValue::text), Some(&b"ALCXUSD"[..]));
            assert!(f.trades.is_some());
            assert_eq!(
                changes(f.changes),
                [[s("buy"), s("302.75"), s("0.00001")], [s("sell"), s("303.55"), s("2")]]
            );
            let mut f = GemFields::default();
            sc.scan_into(update.as_bytes(), &mut f).unwrap();
            assert!(f.trades.is_none());
            assert_eq!(changes(f.changes).len(), 2);
            let mut f = GemFields::default();
            sc.scan_into(trade.as_bytes(), &mut f).unwrap();
            fn t(v: Option<ScanValue<'_>>) -> Option<&[u8]> {
                v.and_then(ExValue::text)
            }
            assert_eq!(f.kind.and_then(ExValue::text), Some(&b"trade"[..]));
            assert_eq!(
                (t(f.price), t(f.quantity), t(f.side)),
                (Some(&b"0.07946"[..]), Some(&b"1020.482111"[..]), Some(&b"buy"[..]))
            );
            assert_eq!(f.event_id.and_then(ExValue::uint), Some(45_465_818_387));
            assert_eq!(f.timestamp.and_then(ExValue::uint), Some(1_624_493_670_759));
            for frame in [full, update, trade] {
                assert!(sc.recognises(frame.as_bytes()), "{frame}");
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_read_exactly() {
        const UPDATE: &str = r#"{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0"]],"trades":[{"event_id":1,"price":"1"}]}"#;
        let near = |from: &str, to: &str| UPDATE.replacen(from, to, 1);
        let frames = [
            near(r#""event_id":1"#, r#""event_id":1.5"#),
            near(r#""event_id":1"#, r#""event_id":-1"#),
            near(r#""event_id":1"#, r#""event_id":1e400"#),
            near(r#""event_id":1"#, r#""event_id":01"#),
            near(r#""symbol":"BTCGBP""#, r#""symbol":"BTCGBP","symbol":"X""#),
            near(r#""symbol":"BTCGBP""#, r#""symbol":"BTC\u0047BP""#),
            near(r#""trades":["#, r#""trades":[],"trades":["#),
            near(r#"["buy","24084.23","0"]"#, r#"{"side":"buy"}"#),
            near(r#"["buy","24084.23","0"]"#, r#"["buy"]"#),
            near(r#""type":"l2_updates""#, r#""type":{"a":1}"#),
            near(r#""symbol":"BTCGBP""#, r#""symbol":"BTCGBP","auction_events":[{"p":0.5}]"#),
            format!("{UPDATE}]"),
            r#"{"type":"heartbeat","timestamp":1624493670759,"sequence":1}"#.to_owned(),
            r#"["l2_updates"]"#.to_owned(),
        ];
        for mut sc in scanners::<GeminiFrames>() {
            assert!(sc.recognises(UPDATE.as_bytes()));
            for frame in &frames {
                assert!(!sc.recognises(frame.as_bytes()), "{frame}");
            }
        }
    }
}
