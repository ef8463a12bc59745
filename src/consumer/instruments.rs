//! The instrument table a consumer builds from the stream itself.
//!
//! The engine publishes an instrument's definition on the ring (a head record and up to
//! three text records, see [`Event::instrument_definition`]) before the first event that uses
//! its id, and again whenever its tick or lot changes. A consumer hands every event to
//! [`Instruments::observe`]; no side channel, no waiting: by the time a BBO, trade or state
//! record arrives, its instrument is known.
//!
//! ```
//! use ladderfeed::book::{Instrument, Step, StepSource, Venue};
//! use ladderfeed::consumer::Instruments;
//! use ladderfeed::event::{Event, Stamps};
//!
//! let inst = Instrument {
//!     venue: Venue::Okx,
//!     symbol: "ETH-USD-220325-8800-P".into(),
//!     tick: Step::parse("0.0005").unwrap(),
//!     lot: Step::parse("1").unwrap(),
//!     source: StepSource::Learned,
//!     trade_tick: None,
//! };
//! let (records, n) = Event::instrument_definition(Stamps::default(), 42, &inst);
//! let mut table = Instruments::default();
//! for ev in &records[..n] {
//!     assert!(table.observe(ev));
//! }
//! assert_eq!(table.get(42), Some(&inst));
//! assert_eq!(table.get(42).unwrap().format_price(5093), "2.5465");
//! ```

use crate::book::{Instrument, Step, StepSource, Venue};
use crate::event::{Event, EventKind, InstrumentId, INSTRUMENT_HEAD_BYTES, INSTRUMENT_TEXT_BYTES};

/// A definition being assembled from its records.
#[derive(Debug, Clone)]
struct Partial {
    venue: Venue,
    tick: Step,
    lot: Step,
    source: StepSource,
    trade_tick: Option<Step>,
    len: usize,
    text: Vec<u8>,
}

/// Instrument ids to their definitions, as the stream announced them.
#[derive(Debug, Clone, Default)]
pub struct Instruments {
    known: Vec<Option<Instrument>>,
    partial: Vec<Option<Partial>>,
    /// Definition records that could not be read (unknown venue, bad step, a text record
    /// without its head).
    malformed: u64,
}

impl Instruments {
    /// Takes `ev` if it is a record of an instrument definition (`true`), and completes the
    /// definition when its last record arrives. Other events are left alone (`false`).
    pub fn observe(&mut self, ev: &Event) -> bool {
        if !ev.is_instrument_definition() {
            return false;
        }
        let i = usize::from(ev.instrument());
        if self.partial.len() <= i {
            self.partial.resize(i + 1, None);
        }
        match ev.kind() {
            EventKind::InstrumentHead(h) => {
                let venue = Venue::from_code(h.venue);
                let tick = Step::new(h.tick_mantissa, h.tick_scale);
                let lot = Step::new(h.lot_mantissa, h.lot_scale);
                let source = match h.source {
                    1 => StepSource::Configured,
                    2 => StepSource::Builtin,
                    4 => StepSource::Venue,
                    _ => StepSource::Learned,
                };
                // 0: trades count ticks; k + 1: trades count 10^-k.
                let trade_tick = match h.trade_scale {
                    0 => Ok(None),
                    k => Step::from_decimals(k - 1).map(Some),
                };
                let (Some(venue), Ok(tick), Ok(lot), Ok(trade_tick)) =
                    (venue, tick, lot, trade_tick)
                else {
                    self.malformed += 1;
                    self.partial[i] = None;
                    return true;
                };
                let len = usize::from(h.symbol_len);
                let n = len.min(INSTRUMENT_HEAD_BYTES);
                let text = h.symbol[..n].to_vec();
                self.partial[i] = Some(Partial { venue, tick, lot, source, trade_tick, len, text });
            }
            EventKind::InstrumentText { bytes, .. } => {
                let Some(p) = self.partial[i].as_mut() else {
                    self.malformed += 1;
                    return true;
                };
                let n = (p.len - p.text.len()).min(INSTRUMENT_TEXT_BYTES);
                p.text.extend_from_slice(&bytes[..n]);
            }
            _ => return false,
        }
        if self.partial[i].as_ref().is_some_and(|p| p.text.len() >= p.len) {
            let Some(p) = self.partial[i].take() else { return true };
            let Ok(symbol) = String::from_utf8(p.text) else {
                self.malformed += 1;
                return true;
            };
            if self.known.len() <= i {
                self.known.resize(i + 1, None);
            }
            self.known[i] = Some(Instrument {
                venue: p.venue,
                symbol,
                tick: p.tick,
                lot: p.lot,
                source: p.source,
                trade_tick: p.trade_tick,
            });
        }
        true
    }

    /// The instrument of `id`, once its definition has arrived.
    pub fn get(&self, id: InstrumentId) -> Option<&Instrument> {
        self.known.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// Every known instrument with its id.
    pub fn iter(&self) -> impl Iterator<Item = (InstrumentId, &Instrument)> {
        self.known
            .iter()
            .enumerate()
            .filter_map(|(i, k)| Some((InstrumentId::try_from(i).ok()?, k.as_ref()?)))
    }

    /// Definition records that could not be read.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Stamps, MAX_SYMBOL_BYTES};

    fn inst(symbol: &str) -> Instrument {
        Instrument {
            venue: Venue::BinanceFutures,
            symbol: symbol.into(),
            tick: Step::parse("0.1").unwrap(),
            lot: Step::parse("0.001").unwrap(),
            source: StepSource::Configured,
            trade_tick: None,
        }
    }

    #[test]
    fn every_symbol_length_round_trips() {
        for len in [0, 1, 7, 8, 9, 38, 39, 40, 70, 100, MAX_SYMBOL_BYTES] {
            let symbol: String = (0..len).map(|i| char::from(b'A' + (i % 26) as u8)).collect();
            let want = inst(&symbol);
            let (recs, n) = Event::instrument_definition(Stamps::default(), 7, &want);
            assert_eq!(n, 1 + len.saturating_sub(8).div_ceil(31), "{len}");
            let mut t = Instruments::default();
            assert!(recs[..n].iter().all(|e| t.observe(e)));
            assert_eq!(t.get(7), Some(&want), "{len}");
        }
    }

    #[test]
    fn a_redefinition_replaces_and_other_events_pass() {
        let mut t = Instruments::default();
        let (recs, n) = Event::instrument_definition(Stamps::default(), 3, &inst("BTCUSDT"));
        recs[..n].iter().for_each(|e| assert!(t.observe(e)));
        let mut finer = inst("BTCUSDT");
        finer.tick = Step::parse("0.01").unwrap();
        let (recs, n) = Event::instrument_definition(Stamps::default(), 3, &finer);
        recs[..n].iter().for_each(|e| assert!(t.observe(e)));
        assert_eq!(t.get(3).unwrap().tick, finer.tick);
        let bbo =
            Event::bbo(Stamps::default(), 3, crate::event::BookState::Synced, Default::default());
        assert!(!t.observe(&bbo));
        assert_eq!(t.iter().count(), 1);
        assert_eq!(t.malformed(), 0);
        // A text record without its head is counted, never a panic.
        let (recs, _) = Event::instrument_definition(Stamps::default(), 9, &inst(&"X".repeat(50)));
        assert!(t.observe(&recs[1]));
        assert_eq!(t.malformed(), 1);
    }
}
