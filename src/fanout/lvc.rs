//! The publisher's last-value cache: what a subscriber that joins mid-stream needs before the
//! live records make sense (every instrument definition, each book's last BBO and state, its
//! top N).

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

    /// Takes one published record (with its row time already in place).
    pub fn observe(&mut self, ev: &Event) {
        match ev.kind() {
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
            EventKind::Trade(_) | EventKind::Unknown(_) => {}
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
            for ev in slot.bbo.iter().chain(slot.state.iter()) {
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
