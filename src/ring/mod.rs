//! The lock-free single-producer single-consumer ring that carries events from the feed thread
//! to the consumer thread — the only module allowed `unsafe` code.
//!
//! - [`spsc`]: the generic ring of `Copy` records (cache-padded head and tail, cached indices,
//!   Release on publish, Acquire on observe, `PushError::Full(T)` hands the record back).
//! - `seqlock`: per-instrument last-value slots, written without waiting (atomics only).
//! - [`feed()`]: the two put together for [`Event`](crate::event::Event)s: the [`Publisher`]
//!   never waits, numbers every record, counts drops, and keeps every instrument's newest BBO
//!   readable; the [`Subscription`] is the consumer's raw reading half.
//!
//! Concurrency is model-checked with loom (`cfg(loom)`; the command is in
//! [`spsc`]'s `loom_tests`) and stress-tested with real threads in `tests/ring_stress.rs`.

#[deny(unsafe_code)]
pub mod feed;
#[deny(unsafe_code)]
pub(crate) mod seqlock;
pub mod spsc;
mod sync;

pub use feed::{feed, feed_with_clock, FeedMonitor, FeedStats, Published, Publisher, Subscription};
pub use seqlock::LastValues;
pub use spsc::PushError;
