//! The ring's synchronisation primitives: loom's model-checked versions under `cfg(loom)`, the
//! standard library's otherwise. Everything in `ring/` takes its atomics, `Arc` and `UnsafeCell`
//! from here so the loom tests check the very code that ships.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// `loom::cell::UnsafeCell` under loom (which tracks every access), a thin wrapper around
/// `core::cell::UnsafeCell` with the same closure-based API otherwise.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A `core::cell::UnsafeCell` with loom's closure-based access API, so the ring's code is the
/// same under both configurations.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// What a spinning reader does while it waits: a scheduling point under loom (so the model
/// checker can run the other thread), the CPU's spin-loop hint otherwise.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
