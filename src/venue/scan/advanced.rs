//! The Coinbase Advanced Trade scanner: `l2_data` messages.
//!
//! - `{"channel":"l2_data","client_id":"","timestamp":"2026-08-09T21:05:48.507547362Z","sequence_num":17,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.407682Z","price_level":"56948.21","new_quantity":"0.01321935"}]}]}`
//!
//! A product's first `l2_data` event is its whole book (the bundled capture's run to 45,000
//! levels, 9.5 MB of its frames); every later one a few changes. The scanner reads the frame
//! once, in place:
//!
//! - the top-level object's `channel` (a string: only `l2_data` is read), `sequence_num` (an
//!   unsigned integer or a string, as simd-json's path reads it), `timestamp` (a string) and
//!   `events`, an array of at most [`MAX_EVENTS`] event objects;
//! - of each event, `type` and `product_id` (strings) and `updates`, an array of update objects;
//!   of each update, the offsets of `side`, `price_level` and `new_quantity` (strings), two
//!   cells of the shared level buffer an update.
//!
//! Any other member (`client_id`, an update's `event_time`) is read whole and not kept; numbers
//! only as unsigned integers (`flat::skip_plain`): this venue's simd-json path reads numbers as
//! numbers, and simd-json refuses some that JSON's grammar allows. It refuses (the adapter then
//! reads the frame with simd-json, counted) any other channel (trades, tickers, heartbeats,
//! subscriptions), a top-level `type` (the venue's errors carry one), a kept key seen twice, a
//! kept value of another type, more events than [`MAX_EVENTS`], and anything outside the
//! scanners' subset (see [`super`]). A book with more levels than the buffer holds makes the
//! adapter's scanner grow it and read the frame again ([`super::MAX_SPANS`]).

use std::cell::Cell;

use super::flat::skip_plain;
use super::kraken::{span_text, ABSENT};
use super::{object, Cursor, LevelSpan, ScannerState, Spans};
use crate::venue::json::parse_u64;

/// The most events a frame may hold for the scanner (the venue sends one).
pub const MAX_EVENTS: usize = 4;

/// One event's updates the scanner read: offsets into the frame, two cells an update.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Updates<'a> {
    frame: &'a [u8],
    cells: &'a [Cell<LevelSpan>],
}

impl<'a> Updates<'a> {
    /// Each update's `side`, `price_level` and `new_quantity` text (`None` where absent).
    #[inline]
    pub(crate) fn iter(self) -> impl Iterator<Item = [Option<&'a [u8]>; 3]> {
        self.cells.chunks_exact(2).map(move |c| {
            let [a, b] = [0, 1].map(|i| c.get(i).map(Cell::get).unwrap_or_default());
            [a.px, a.qty, b.px].map(|s| span_text(self.frame, s))
        })
    }
}

/// One event as the scanner read it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Event<'a> {
    /// `type`.
    pub(crate) kind: Option<&'a [u8]>,
    /// `product_id`.
    pub(crate) product: Option<&'a [u8]>,
    /// `updates`.
    pub(crate) updates: Option<Updates<'a>>,
}

/// What the scanner read of a Coinbase Advanced frame: an `l2_data` message.
#[derive(Debug, Default)]
pub(crate) struct AdvancedFound<'a> {
    /// `channel`: `l2_data`.
    pub(crate) channel: Option<&'a [u8]>,
    /// `sequence_num` as `json::uint` reads it (`None` if absent or not digits).
    pub(crate) seq: Option<u64>,
    /// `timestamp`.
    pub(crate) timestamp: Option<&'a [u8]>,
    /// `events` (the first `events_len`), if the frame has them.
    pub(crate) events: Option<[Event<'a>; MAX_EVENTS]>,
    /// How many of `events` the frame has.
    pub(crate) events_len: usize,
}

/// The Coinbase Advanced frame reading of a [`ScannerState`] (a marker: the type has no
/// values).
#[derive(Debug)]
pub enum AdvancedFrames {}

impl super::Frames for AdvancedFrames {
    type Found<'a> = AdvancedFound<'a>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Coinbase Advanced scanner: its kernel and the update offsets of the last frame.
pub type CoinbaseAdvancedScanner = ScannerState<AdvancedFrames>;

impl ScannerState<AdvancedFrames> {
    /// Whether the scanner reads `frame` (an `l2_data` message; the scan floor of the
    /// benchmarks: the walk without a handler). A book with more levels than the buffer holds
    /// is read again with room for them, as the adapter does.
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        super::reads_growing(self, frame, |_| true)
    }

    /// Fills `f`, which must be empty, with the frame's members the adapter reads; `None` if
    /// the frame is not one the scanner recognises exactly.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut AdvancedFound<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        if c.peek() != Some(b'{') {
            return None;
        }
        let (mut seq, mut events) = (false, false);
        object(&mut c, |c, k| match k {
            b"channel" => {
                let ch = c.string()?;
                (ch == b"l2_data" && f.channel.replace(ch).is_none()).then_some(())
            }
            b"sequence_num" => {
                if std::mem::replace(&mut seq, true) {
                    return None;
                }
                f.seq = match c.peek()? {
                    b'"' => parse_u64(c.string()?),
                    b'0'..=b'9' => Some(c.uint()?),
                    _ => return None,
                };
                Some(())
            }
            b"timestamp" => f.timestamp.replace(c.string()?).is_none().then_some(()),
            b"events" => {
                if std::mem::replace(&mut events, true) {
                    return None;
                }
                let mut list = [Event::default(); MAX_EVENTS];
                f.events_len = event_list(c, &mut spans, &mut list)?;
                f.events = Some(list);
                Some(())
            }
            // A top-level `type` is the venue's error: simd-json's path reads it.
            b"type" => None,
            _ => skip_plain(c, 1),
        })?;
        (f.channel.is_some() && c.at_end()).then_some(())
    }
}

/// `events` at `c`: each event object into `list`; how many.
fn event_list<'a>(
    c: &mut Cursor<'a>,
    spans: &mut Spans<'a>,
    list: &mut [Event<'a>; MAX_EVENTS],
) -> Option<usize> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(0);
    }
    let mut n = 0;
    loop {
        *list.get_mut(n)? = event(c, spans)?;
        n += 1;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(n),
            _ => return None,
        }
    }
}

/// One event object at `c`.
fn event<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<Event<'a>> {
    let mut e = Event::default();
    object(c, |c, k| match k {
        b"type" => e.kind.replace(c.string()?).is_none().then_some(()),
        b"product_id" => e.product.replace(c.string()?).is_none().then_some(()),
        b"updates" => {
            let (frame, start) = (c.buf, spans.len);
            updates(c, spans)?;
            let u = Updates { frame, cells: spans.since(start) };
            e.updates.replace(u).is_none().then_some(())
        }
        _ => skip_plain(c, 2),
    })?;
    Some(e)
}

/// `updates` at `c`: each update's kept offsets appended to `spans`, two cells an update.
#[inline]
fn updates(c: &mut Cursor<'_>, spans: &mut Spans<'_>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        let [side, px, qty] = update(c)?;
        spans.push(LevelSpan { px: side, qty: px })?;
        spans.push(LevelSpan { px: qty, qty: ABSENT })?;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// One update object at `c`: the offsets of its `side`, `price_level` and `new_quantity`
/// (strings, each at most once; [`ABSENT`] where missing); any other member read whole.
#[inline(always)]
fn update(c: &mut Cursor<'_>) -> Option<[(u32, u32); 3]> {
    let mut kept = [None; 3];
    object(c, |c, k| {
        let slot = match k {
            b"side" => 0,
            b"price_level" => 1,
            b"new_quantity" => 2,
            _ => return skip_plain(c, 4),
        };
        kept[slot].replace(c.string_span()?).is_none().then_some(())
    })?;
    Some(kept.map(|k| k.unwrap_or(ABSENT)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::scanners;

    type Texts = Vec<[Option<String>; 3]>;

    fn texts(e: &Event<'_>) -> Texts {
        let t = |x: Option<&[u8]>| x.map(|x| String::from_utf8(x.to_vec()).unwrap());
        e.updates.unwrap().iter().map(|u| u.map(t)).collect()
    }

    fn s(t: &str) -> Option<String> {
        Some(t.to_owned())
    }

    #[test]
    fn reads_an_update_and_a_snapshot() {
        let update = r#"{"channel":"l2_data","client_id":"","timestamp":"2026-08-09T21:05:48.507547362Z","sequence_num":17,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.407682Z","price_level":"56948.21","new_quantity":"0.01321935"},{"side":"offer","event_time":"2026-08-09T21:05:48.407682Z","price_level":"65106.54","new_quantity":"0"}]}]}"#;
        let two = " {\"events\" : [ {\"updates\":[],\"product_id\":\"ETH-USD\",\"type\":\"snapshot\",\"x\":{\"y\":[1,null]}} ,{\"type\":\"update\",\"product_id\":\"BTC-USD\",\"updates\":[ {\"new_quantity\":\"1\",\"side\":\"bid\"} ]}],\"sequence_num\":\"18\",\"channel\":\"l2_data\"}\n";
        for mut sc in scanners::<AdvancedFrames>() {
            let mut f = AdvancedFound::default();
            sc.scan_into(update.as_bytes(), &mut f).unwrap();
            assert_eq!(f.seq, Some(17));
            assert_eq!(f.timestamp, Some(&b"2026-08-09T21:05:48.507547362Z"[..]));
            assert_eq!(f.events_len, 1);
            let e = f.events.unwrap()[0];
            assert_eq!((e.kind, e.product), (Some(&b"update"[..]), Some(&b"BTC-USD"[..])));
            assert_eq!(
                texts(&e),
                [[s("bid"), s("56948.21"), s("0.01321935")], [s("offer"), s("65106.54"), s("0")]]
            );
            let mut f = AdvancedFound::default();
            sc.scan_into(two.as_bytes(), &mut f).unwrap();
            assert_eq!((f.seq, f.timestamp, f.events_len), (Some(18), None, 2));
            let [a, b, ..] = f.events.unwrap();
            assert_eq!((a.product, texts(&a)), (Some(&b"ETH-USD"[..]), vec![]));
            assert_eq!(texts(&b), [[s("bid"), None, s("1")]]);
        }
    }

    #[test]
    fn refuses_what_it_does_not_read_exactly() {
        const UPDATE: &str = r#"{"channel":"l2_data","timestamp":"t","sequence_num":17,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"t","price_level":"1","new_quantity":"2"}]}]}"#;
        let near = |from: &str, to: &str| UPDATE.replacen(from, to, 1);
        let event = r#"{"type":"update","product_id":"BTC-USD","updates":[]}"#;
        let frames = [
            near("l2_data", "market_trades"),
            near(r#""sequence_num":17"#, r#""sequence_num":17.0"#),
            near(r#""sequence_num":17"#, r#""sequence_num":-17"#),
            near(r#""sequence_num":17"#, r#""sequence_num":17,"sequence_num":18"#),
            near(r#""timestamp":"t""#, r#""timestamp":1"#),
            near(r#""event_time":"t""#, r#""event_time":1e400"#),
            near(r#""price_level":"1""#, r#""price_level":1"#),
            near(r#""side":"bid""#, r#""side":"bid","side":"offer""#),
            near(r#""product_id":"BTC-USD""#, r#""product_id":"BTC-USD","product_id":"X""#),
            near(r#""channel""#, r#""type":"error","channel""#),
            near(r#""events":["#, &format!(r#""events":[{event},{event},{event},{event},"#)),
            near(r#""updates":[{"#, r#""updates":[[],{"#),
            near(r#""events":["#, r#""events":["x","#),
            format!("{UPDATE}]"),
            r#"{"channel":"heartbeats","sequence_num":1,"events":[]}"#.to_owned(),
            r#"["l2_data"]"#.to_owned(),
        ];
        for mut sc in scanners::<AdvancedFrames>() {
            assert!(sc.recognises(UPDATE.as_bytes()));
            for frame in &frames {
                assert!(!sc.recognises(frame.as_bytes()), "{frame}");
            }
        }
    }
}
