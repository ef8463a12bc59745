//! The publisher's last-value cache: what a subscriber that joins mid-stream needs before the
//! live records make sense (every instrument definition, each book's last BBO and state, its
//! top N, and a derivative's last funding, mark/index and open interest records).

use crate::consumer::Depth;
use crate::event::{Event, EventKind, InstrumentId, Side, Stamps};

use super::wire::SampleBuf;

/// One instrument's last values.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// The definition records (a head, then its text records), as last published.
    definition: Vec<Event>,
    /// The last BBO record.
    bbo: Option<Event>,
    /// The last book-state record, if it came after the last BBO (the BBO carries the state
    /// otherwise).
    state: Option<Event>,
    /// The last depth-end record (levels per side and its stamps), or a depth clear.
    depth_end: Option<Event>,
    /// The last funding, mark/index and open-interest records (liquidations, like trades,
    /// are not last values).
    derivatives: [Option<Event>; 3],
}

/// The last values of every instrument seen on the stream.
#[derive(Debug, Clone, Default)]
pub struct LastValues {
    slots: Vec<Slot>,
    depth: Depth,
}

impl LastValues {
    fn slot(&mut self, id: InstrumentId) -> &mut Slot {
        let i = usize::from(id);
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        &mut self.slots[i]
    }

    /// Takes one published record; `local_ts` is its row time (what the stream carries).
    /// Trades and liquidations are not last values: nothing is kept of them.
    pub fn observe(&mut self, ev: &Event, local_ts: u64) {
        let kind = ev.kind();
        if matches!(kind, EventKind::Trade(_) | EventKind::Liquidation(_) | EventKind::Unknown(_)) {
            return;
        }
        let mut kept = *ev;
        kept.set_local_ts(local_ts);
        let ev = &kept;
        match kind {
            EventKind::InstrumentHead(_) => {
                let slot = self.slot(ev.instrument());
                slot.definition.clear();
                slot.definition.push(*ev);
            }
            EventKind::InstrumentText { .. } => {
                let slot = self.slot(ev.instrument());
                if !slot.definition.is_empty() {
                    slot.definition.push(*ev);
                }
            }
            EventKind::Bbo(_) => {
                let slot = self.slot(ev.instrument());
                slot.bbo = Some(*ev);
                slot.state = None;
            }
            EventKind::BookState { .. } => self.slot(ev.instrument()).state = Some(*ev),
            EventKind::DepthEnd { .. } | EventKind::DepthClear => {
                self.depth.observe(ev);
                self.slot(ev.instrument()).depth_end = Some(*ev);
            }
            EventKind::DepthLevel { .. } => {
                self.depth.observe(ev);
            }
            EventKind::Funding(_) => self.slot(ev.instrument()).derivatives[0] = Some(*ev),
            EventKind::MarkIndex(_) => self.slot(ev.instrument()).derivatives[1] = Some(*ev),
            EventKind::OpenInterest(_) => self.slot(ev.instrument()).derivatives[2] = Some(*ev),
            EventKind::Trade(_) | EventKind::Liquidation(_) | EventKind::Unknown(_) => {}
        }
    }

    /// Instruments known.
    pub fn instruments(&self) -> usize {
        self.slots.iter().filter(|s| !s.definition.is_empty()).count()
    }

    /// Writes the snapshot's records into `out`: every definition first, then per book its
    /// last BBO, its last state change and its top N (as changes from empty, then an end).
    pub fn write(&self, out: &mut SampleBuf) {
        for slot in &self.slots {
            for ev in &slot.definition {
                out.push(ev, ev.local_ts(), 0);
            }
        }
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.definition.is_empty() {
                continue;
            }
            let derivatives = slot.derivatives.iter().flatten();
            for ev in slot.bbo.iter().chain(slot.state.iter()).chain(derivatives) {
                out.push(ev, ev.local_ts(), 0);
            }
            let Some(end) = slot.depth_end else { continue };
            if let EventKind::DepthEnd { .. } = end.kind() {
                let id = i as InstrumentId;
                let stamps = Stamps {
                    exch_ts: end.exch_ts(),
                    local_ts: end.local_ts(),
                    parsed_ts: end.parsed_ts(),
                };
                let sides = [(Side::Buy, self.depth.bids(id)), (Side::Sell, self.depth.asks(id))];
                for (side, levels) in sides {
                    for &[price, size] in levels {
                        let level = Event::depth_level(stamps, id, side, price, size);
                        out.push(&level, end.local_ts(), 0);
                    }
                }
            }
            out.push(&end, end.local_ts(), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Instrument, Step, StepSource, Venue};
    use crate::event::{BookState, Derivative, Funding, Liquidation, MarkIndex, Scaled};
    use crate::fanout::wire::decode;

    #[test]
    fn a_late_subscriber_gets_the_last_derivatives_values_not_liquidations() {
        let stamps = |t: u64| Stamps { exch_ts: t, local_ts: t, parsed_ts: t };
        let inst = Instrument {
            venue: Venue::BinanceFutures,
            symbol: "BTCUSDT".into(),
            tick: Step::ONE,
            lot: Step::ONE,
            source: StepSource::Configured,
            trade_tick: None,
        };
        let (defs, n) = Event::instrument_definition(stamps(1), 0, &inst);
        let mut lvc = LastValues::default();
        defs[..n].iter().for_each(|ev| lvc.observe(ev, ev.local_ts()));
        let funding = |units| {
            let rate = Scaled { units, scale: 6 };
            Derivative::Funding(Funding { rate, next_funding_ts: 9 })
        };
        let mark = Derivative::MarkIndex(MarkIndex { mark: Some(Scaled::default()), index: None });
        let liq = Derivative::Liquidation(Liquidation {
            side: crate::event::Side::Sell,
            price: Scaled::default(),
            size: Scaled::default(),
        });
        let records = [funding(1), mark, funding(2), liq]
            .map(|d| Event::derivative(stamps(2), 0, BookState::Synced, d));
        records.iter().for_each(|ev| lvc.observe(ev, ev.local_ts()));
        let mut out = SampleBuf::with_capacity(16);
        lvc.write(&mut out);
        let (_, got) = decode(out.finish(0, 1, 0)).unwrap();
        let kinds: Vec<EventKind> = got.map(|ev| ev.kind()).skip(n).collect();
        // The newest funding record, then the mark; no liquidation.
        assert_eq!(kinds, [records[2].kind(), records[1].kind()]);
    }
}
