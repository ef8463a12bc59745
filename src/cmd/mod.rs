//! The subcommands.

pub mod check;
pub mod config;
pub mod convert;
pub mod instruments;
pub mod live;
pub mod publish;
pub mod reference;
pub mod replay;
pub mod service;
pub mod sinks;
pub mod summary;
