//! Instruments, exact numbers and the fixed-tick price ladder.
//!
//! Nothing here knows about sockets, threads, clocks or files.

pub mod instrument;
pub mod num;

pub use instrument::{
    ConfigError, Instrument, InstrumentRegistry, StepLearner, StepSource, Venue, BUILTIN,
};
pub use num::{NumError, Step};
