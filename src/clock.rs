//! Timestamps: epoch nanoseconds from one monotonic clock reading.
//!
//! A [`Clock`] reads `CLOCK_MONOTONIC` (std's [`Instant`], a vDSO call, no syscall) and adds an
//! offset taken once from `CLOCK_REALTIME` ([`SystemTime`]) when the clock is anchored. One
//! reading therefore gives a stamp that is both monotonic (stage latencies never go negative,
//! whichever core took them) and epoch-based (so exchange → receive can be computed against
//! the venue's wall-clock `exch_ts`). Every thread must use the same anchor; use
//! [`Clock::global`] (or hand copies of one `Clock` around) so stamps from the feed thread and
//! the consumer thread are comparable.
//!
//! `CLOCK_MONOTONIC` is slewed by NTP like `CLOCK_REALTIME` but never stepped: after a wall
//! clock step the anchored stamps keep the old offset until [`Clock::anchor`] is called again
//! (a control-plane decision, never on the hot path).
//!
//! ## Why not the TSC
//!
//! Measured on the project machine (AMD EPYC, 2 vCPU KVM guest, clocksource `tsc`,
//! `constant_tsc nonstop_tsc`, rustc 1.95). The first three rows come from
//! `cargo bench -p ladderfeed-peers --bench ring -- clock` (criterion, median); the TSC rows
//! from a scratch loop of 5 M `black_box`ed calls (measuring them here would need `unsafe`
//! outside `src/ring`):
//!
//! | source                                   | ns per call |
//! |------------------------------------------|------------:|
//! | `Instant::now` (`CLOCK_MONOTONIC`, vDSO) |        22.4 |
//! | `SystemTime::now` (`CLOCK_REALTIME`)     |  22.7 (31.0 in the scratch loop) |
//! | [`Clock::now_ns`] (monotonic + offset)   |        24.3 |
//! | `_rdtsc` (raw counter, not ns)           |         9.3 |
//! | `__rdtscp`                               |        17.7 |
//!
//! The raw TSC would save ≈ 15 ns per stamp (≈ 45 ns over the three stamps a message takes,
//! under 10 % of the ≈ 500 ns a message costs), but `_rdtsc` is an `unsafe fn` in this Rust,
//! it needs its own calibration against a real clock (the kernel already does exactly that
//! in the vDSO, with the TSC as its clocksource here), and on hosts whose TSC is not invariant
//! or not synchronised across sockets it is silently wrong across cores. `CLOCK_REALTIME`
//! costs the same as `CLOCK_MONOTONIC` here but can step backwards (an NTP step), which would
//! make stage latencies negative. So: one `CLOCK_MONOTONIC` read per stamp, made epoch-based by
//! the anchor offset — correct across cores by construction, ≈ 24 ns.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock that reads out epoch nanoseconds. `Copy`: give each thread a copy of
/// one anchored clock (or use [`Clock::global`]).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The monotonic reading at the anchor.
    anchor: Instant,
    /// `CLOCK_REALTIME` at the anchor, epoch ns.
    anchor_epoch_ns: u64,
}

impl Clock {
    /// A clock anchored now: `CLOCK_REALTIME` read between two `CLOCK_MONOTONIC` readings,
    /// paired with their midpoint (the best of a few tries, to dodge a preemption).
    pub fn anchor() -> Self {
        let mut best: Option<(u128, Clock)> = None;
        for _ in 0..8 {
            let before = Instant::now();
            let wall = realtime_ns();
            let after = Instant::now();
            let width = after.duration_since(before).as_nanos();
            let mid = before + after.duration_since(before) / 2;
            if best.as_ref().is_none_or(|(w, _)| width < *w) {
                best = Some((width, Clock { anchor: mid, anchor_epoch_ns: wall }));
            }
        }
        best.map(|(_, clock)| clock)
            .unwrap_or(Clock { anchor: Instant::now(), anchor_epoch_ns: realtime_ns() })
    }

    /// The process-wide clock, anchored on first use. All of the crate's stamps use it.
    #[inline]
    pub fn global() -> Clock {
        static GLOBAL: OnceLock<Clock> = OnceLock::new();
        *GLOBAL.get_or_init(Clock::anchor)
    }

    /// Now, epoch nanoseconds, from one `CLOCK_MONOTONIC` reading.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        let elapsed = self.anchor.elapsed();
        self.anchor_epoch_ns
            .wrapping_add(elapsed.as_secs().wrapping_mul(1_000_000_000))
            .wrapping_add(u64::from(elapsed.subsec_nanos()))
    }

    /// The anchor's wall-clock time, epoch ns.
    pub fn anchor_epoch_ns(&self) -> u64 {
        self.anchor_epoch_ns
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::global()
    }
}

/// `CLOCK_REALTIME` now, epoch nanoseconds (`0` before 1970).
#[inline]
pub fn realtime_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// [`Clock::global`]`.now_ns()`: now, epoch nanoseconds.
#[inline]
pub fn now_ns() -> u64 {
    Clock::global().now_ns()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_close_to_wall_clock() {
        let clock = Clock::anchor();
        let a = clock.now_ns();
        let b = clock.now_ns();
        assert!(b >= a);
        let wall = realtime_ns();
        // Within a second of the wall clock: a sanity check on the offset, not a timing test.
        assert!(wall.abs_diff(clock.now_ns()) < 1_000_000_000);
        assert_eq!(Clock::global().anchor_epoch_ns(), Clock::global().anchor_epoch_ns());
    }
}
