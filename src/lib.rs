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
//! - [`venue`]: one adapter per exchange protocol (bytes and a receive timestamp in, book and
//!   trade messages in ticks and lots out, with the venue's sequencing rules) and its
//!   transport facts ([`venue::Protocol`]). Sans-IO.
//! - [`event`]: the fixed-size record the feed publishes (BBO, trade, book state, top-N
//!   depth, instrument definitions).
//! - [`engine`]: applies venue messages to the books, verifies checksums, decides resyncs,
//!   refines a learned tick that proves too coarse, and publishes events.
//! - [`refdata`]: the venues' instrument reference data (tick, lot, minimum size, kind,
//!   contract value, expiry, status) from their REST instrument lists, parsed sans-IO into
//!   the instrument table; fetched over TLS with the `live` feature.
//! - [`session`]: one connection's policy, sans-IO ([`session::Session`]): connect and
//!   reconnect, subscribe, ping, stale feeds, resubscriptions and their budget, REST
//!   snapshots; time comes in as an argument. `session::recorded` hands captures to it.
//! - [`ring`]: the lock-free single-producer single-consumer ring; with it the only `unsafe`
//!   code.
//! - [`consumer`]: the strategy's side: the consumer loop, latency histograms, the instrument
//!   table and top-N books rebuilt from the stream, the output files.
//! - [`clock`]: the receive-time clock.
//! - `capture` (feature `capture`): our capture format and readers for the peers' formats.
//! - `net` (feature `live`): the live shell: mio, rustls, tungstenite and an HTTP GET, carrying
//!   out what each session asks.
//!
//! The [`guide`] walks a whole loop as a doctest; `examples/strategy.rs` is a strategy on this
//! API alone. A strategy links this crate with `default-features = false` for the lean core
//! (everything above but `capture` and `net`), or with the `live` feature for the live path.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod book;
#[cfg(feature = "capture")]
pub mod capture;
pub mod clock;
pub mod consumer;
pub mod engine;
pub mod event;
#[cfg(feature = "capture")]
pub mod guide;
#[cfg(feature = "live")]
pub mod net;
pub mod refdata;
#[allow(unsafe_code)]
pub mod ring;
pub mod session;
pub mod venue;
