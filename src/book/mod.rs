//! Instruments, exact numbers and the fixed-tick price ladder.
//!
//! Nothing here knows about sockets, threads, clocks or files.

pub mod checksum;
pub(crate) mod instrument;
pub mod ladder;
pub(crate) mod num;
mod reference;

pub use checksum::{write_number, Checksummer, NumberStyle};
pub use instrument::{
    ConfigError, Instrument, InstrumentRegistry, StepLearner, StepSource, Venue, BUILTIN,
};
pub use ladder::{Applied, Ladder, Level, Levels, Side};
pub use num::{NumError, Step, MAX_SCALE};
pub use reference::BTreeBook;
