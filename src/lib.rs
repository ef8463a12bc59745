//! # ladderfeed
//!
//! A low-latency, single-threaded market-data feed handler for crypto exchanges.
//!
//! Prices are integer ticks and sizes integer lots from the first byte parsed: no `f64` on the
//! way to the book. Books are fixed-tick array price ladders ([`book::Ladder`]) that keep every
//! level exactly, with a slower overflow store for the far tail.
//!
//! The layers, from the bottom up (dependencies point one way, downwards):
//!
//! - [`book`]: instruments, exact decimal text ⇄ integer ticks and lots, the ladder. Sans-IO.
//! - [`venue`]: one adapter per exchange protocol: bytes and a receive timestamp in, book and
//!   trade messages in ticks and lots out, with the venue's sequencing rules. Sans-IO.
//! - [`engine`]: applies venue messages to the books, verifies checksums, decides resyncs and
//!   publishes BBO, trade and book-state events.
//! - `capture` (feature `capture`, on by default): readers for captured feeds in the peers'
//!   formats.
//! - [`ring`]: the lock-free single-producer single-consumer ring; the only `unsafe` code.
//!
//! A strategy links this crate with `default-features = false` to get the lean core without
//! the command-line dependencies.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod book;
#[cfg(feature = "capture")]
pub mod capture;
pub mod clock;
pub mod consumer;
pub mod engine;
pub mod event;
#[cfg(feature = "live")]
pub mod net;
#[allow(unsafe_code)]
pub mod ring;
pub mod session;
pub mod venue;
