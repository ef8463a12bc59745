//! # A whole loop, step by step
//!
//! This walks what the `ladderfeed` binary does, with the same public API a strategy uses:
//! a session turns a venue's messages into book events, the ring carries them to the
//! strategy's thread, and the consumer side rebuilds instruments and books from the stream
//! alone. Here the messages come from a capture; [`net::live::Live`](crate::net::live::Live)
//! feeds the same sessions from sockets.
//!
//! ## 1. A session per connection
//!
//! A [`Session`](crate::session::Session) owns one connection's adapter, books, block of
//! instrument ids and policy. Time is an argument (`now`, nanoseconds): nothing in it reads a
//! clock or touches a socket. [`Recorded`](crate::session::recorded::Recorded) hands a
//! capture's records to sessions; a live shell would call `handle_connected`, `handle_frame`,
//! `handle_http`, `handle_timeout` and carry out `poll_transmit`, `poll_request` and
//! `poll_close`.
//!
//! ## 2. Events onto the ring, off on the strategy's side
//!
//! Sessions publish into any [`Sink`](crate::engine::Sink); the ring's
//! [`Publisher`](crate::ring::Publisher) is one, read on the other side by a
//! [`Consumer`](crate::consumer::Consumer) (here on the same thread, for the doctest; in
//! production on its own pinned core, [`spawn_consumer_with`](crate::consumer::spawn_consumer_with)).
//!
//! ## 3. Instruments and depth from the stream itself
//!
//! An instrument's definition is published before the first event that uses its id
//! ([`Instruments`](crate::consumer::Instruments)); a book's top N, when asked for, as level
//! changes ([`Depth`](crate::consumer::Depth)). No side channel, nothing to wait for.
//!
//! ```
//! use ladderfeed::book::Venue;
//! use ladderfeed::capture;
//! use ladderfeed::consumer::{Consumer, Depth, Instruments};
//! use ladderfeed::ring::feed;
//! use ladderfeed::session::recorded::{Recorded, RecordedOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
//!     .join("fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz");
//!
//! // 1. Sessions for the capture's connections, each book publishing its top 5.
//! let opts = RecordedOptions { depth_levels: 5, ..RecordedOptions::default() };
//! let mut sessions = Recorded::new(vec![Venue::Binance], opts);
//!
//! // 2. The ring between the feed and the strategy.
//! let (mut publisher, subscription) = feed(1 << 16, 1 << 16);
//! let mut consumer = Consumer::new(subscription);
//!
//! // 3. The strategy's view, rebuilt from events alone.
//! let (mut instruments, mut depth) = (Instruments::default(), Depth::default());
//! let (mut valid_bbos, mut depth_updates) = (0u64, 0u64);
//!
//! for record in capture::open(&path)? {
//!     let r = record?;
//!     // The record's own time is the session's `now`.
//!     sessions.handle(0, r.conn, r.kind, &r.url, &r.payload, r.local_ts, &mut publisher)?;
//!     consumer.drain(usize::MAX, |ev| {
//!         if instruments.observe(ev) {
//!             return;
//!         }
//!         if depth.observe(ev) {
//!             depth_updates += 1;
//!         } else if ev.as_bbo().is_some() && ev.state().is_valid() {
//!             valid_bbos += 1;
//!         }
//!     });
//! }
//!
//! let (id, btc) = instruments.iter().next().expect("one instrument");
//! assert_eq!((btc.venue, btc.symbol.as_str()), (Venue::Binance, "BTCUSDT"));
//! let best_bid = depth.bids(id)[0];
//! assert_eq!(btc.format_price(best_bid[0]), "61685.99");
//! assert!(valid_bbos > 1000 && depth_updates > 1000);
//! assert_eq!(consumer.lost(), 0);
//! # Ok(())
//! # }
//! ```
