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
//! - [`fanout`]: the stream to other processes and hosts: the [`fanout::wire`] schema, the
//!   publishing [`fanout::Fanout`] and the [`fanout::Subscriber`]; iceoryx2 (feature
//!   `iceoryx2`) and Zenoh (feature `zenoh`) transports.
//! - [`record`]: one recorded event of a connection (the recorder's and the readers' unit).
//!
//! # The strategy's API
//!
//! What a strategy needs is re-exported here, at the crate root; the modules hold the rest
//! (the venues' sans-IO adapters and the engine, for those who drive their own I/O, and the
//! numbers, ladders and rings underneath). Internals stay private: the tape parser, the TLS
//! stream, the HTTP client, the id allocator's internals, timestamp parsing.
//!
//! - Feeding: [`Live`] with its [`Feed`]s and [`LiveOptions`] (feature `live`), or
//!   [`Recorded`] sessions for a capture (feature `capture`); both drive [`Session`]s that
//!   publish into a ring made by [`feed()`] ([`Publisher`], [`Subscription`]).
//! - Consuming: [`Consumer`] (polled on the strategy's thread, or run on a pinned thread by
//!   [`spawn_consumer`] / [`spawn_consumer_with`] with an [`OnEvent`] handler and an [`Idle`]
//!   policy), the [`Event`]s it yields and their [`EventKind`]s ([`Bbo`], [`Trade`],
//!   [`BookState`], instrument definitions, top-N depth), [`Instruments`] and [`Depth`]
//!   rebuilt from the stream, and [`Sinks`] for CSV and JSON lines files.
//! - Instruments: [`Instrument`] (a price in ticks ⇄ its decimal text:
//!   [`Instrument::format_price`], [`Instrument::price_ticks`]), [`InstrumentRegistry`]
//!   (configuration, reference data, built-ins), [`Step`], [`Venue`], and the venues'
//!   reference data ([`RefTable`]).
//!
//! The [`guide`] walks a whole loop as a doctest; `examples/strategy.rs` is a strategy on this
//! API alone. A strategy links this crate with `default-features = false` for the lean core
//! (everything above but `capture` and `net`), and adds the `live` feature for the live path
//! (mio, rustls, tungstenite; no capture readers) and `capture` to replay captures.
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
pub mod fanout;
#[cfg(feature = "capture")]
pub mod guide;
#[cfg(feature = "live")]
pub mod net;
pub mod record;
pub mod refdata;
#[allow(unsafe_code)]
pub mod ring;
pub mod session;
pub mod venue;

pub use book::{Instrument, InstrumentRegistry, Step, StepSource, Venue};
pub use consumer::sinks::{SinkOptions, SinkWriter, Sinks, SpreadFilter};
pub use consumer::{
    spawn_consumer, spawn_consumer_with, Consumer, ConsumerThread, Depth, Idle, Instruments,
    Latency, OnEvent,
};
pub use event::{Bbo, BookState, Event, EventKind, InstrumentId, Trade};
#[cfg(feature = "live")]
pub use net::live::{Feed, Live, Options as LiveOptions};
pub use refdata::{InstrumentKind, RefInstrument, RefTable};
pub use ring::{feed, Publisher, Subscription};
#[cfg(feature = "capture")]
pub use session::recorded::{Recorded, RecordedOptions};
pub use session::{Policy, Session, SessionConfig};
