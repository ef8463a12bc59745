//! Instruments, exact numbers and the fixed-tick price ladder.
//!
//! Nothing here knows about sockets, threads, clocks or files.

pub mod checksum;
pub mod instrument;
pub mod ladder;
pub mod num;
pub mod reference;

pub use instrument::{
    ConfigError, Instrument, InstrumentRegistry, StepLearner, StepSource, Venue, BUILTIN,
};
pub use ladder::{Applied, Ladder, Level, Levels, Side};
pub use num::{NumError, Step};
pub use reference::BTreeBook;
