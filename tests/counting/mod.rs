//! The counting global allocator of the steady-state tests (`ring_alloc`, `venue_alloc`,
//! `pipeline_alloc`): it forwards every call to `System` unchanged and counts the allocations
//! and reallocations of the threads that opted in, each into the counter it chose. Threads that
//! did not opt in (the test harness's) are never counted. Each test file that uses it holds a
//! single test, so no other test allocates while it counts. `ALLOC_BACKTRACE=1` prints where
//! each counted allocation came from.
//!
//! A `GlobalAlloc` impl is `unsafe` by definition: this module is the only place outside
//! `src/ring` allowed it, and it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// The counter this thread's allocations go to, if it counts.
    static TALLY: Cell<Option<&'static AtomicU64>> = const { Cell::new(None) };
}

/// Counts this thread's allocations into `counter` from now on; `None` stops counting.
pub fn count_into(counter: Option<&'static AtomicU64>) {
    TALLY.with(|t| t.set(counter));
}

fn count() {
    if let Some(counter) = TALLY.with(|t| t.get()) {
        counter.fetch_add(1, Ordering::Relaxed);
        // Not counted: looking at the environment and printing allocate.
        TALLY.with(|t| t.set(None));
        if std::env::var_os("ALLOC_BACKTRACE").is_some() {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
        TALLY.with(|t| t.set(Some(counter)));
    }
}

struct Counting;

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
