//! The subcommands.

pub mod check;
pub mod convert;
pub mod replay;
pub mod sinks;
pub mod summary;
