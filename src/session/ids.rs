//! Instrument ids: one allocator hands each session a block of its own.

use std::ops::Range;

use crate::event::InstrumentId;

/// Ids handed to a session that does not say how many it needs (a replayed connection,
/// whose symbols are learned as they come).
pub const DEFAULT_BLOCK: usize = 1024;

/// Every id an [`InstrumentId`] can hold.
pub const ID_SPACE: u32 = InstrumentId::MAX as u32 + 1;

/// The ids are spent: more sessions, or more symbols, than a feed can number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "instrument ids spent: {wanted} more asked for with {used} of {ID_SPACE} in use \
     (fewer connections, or fewer symbols per connection)"
)]
pub struct IdsExhausted {
    /// Ids already handed out.
    pub used: u32,
    /// Ids asked for.
    pub wanted: usize,
}

/// Hands out consecutive blocks of instrument ids, never the same id twice and never past
/// [`InstrumentId::MAX`] (no wrap: running out is an [`IdsExhausted`] error).
#[derive(Debug, Clone, Default)]
pub struct IdAllocator {
    next: u32,
}

impl IdAllocator {
    /// An allocator starting at id 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A block of `count` ids.
    pub fn reserve(&mut self, count: usize) -> Result<Range<u32>, IdsExhausted> {
        let err = IdsExhausted { used: self.next, wanted: count };
        let count = u32::try_from(count).map_err(|_| err)?;
        let end = self.next.checked_add(count).filter(|&e| e <= ID_SPACE).ok_or(err)?;
        let block = self.next..end;
        self.next = end;
        Ok(block)
    }

    /// Ids handed out so far (every id below this is taken).
    pub fn used(&self) -> u32 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_disjoint_and_running_out_is_an_error() {
        let mut ids = IdAllocator::new();
        for i in 0..64u32 {
            assert_eq!(ids.reserve(DEFAULT_BLOCK).unwrap(), i * 1024..(i + 1) * 1024);
        }
        // The 65th connection of 1,024 ids: an error, not id 0 again.
        let err = ids.reserve(DEFAULT_BLOCK).unwrap_err();
        assert_eq!(err, IdsExhausted { used: ID_SPACE, wanted: 1024 });
        assert!(err.to_string().contains("instrument ids spent"), "{err}");
        // Nothing was taken by the failure.
        assert_eq!(ids.used(), ID_SPACE);
        assert!(ids.reserve(0).is_ok());
    }

    #[test]
    fn a_block_that_would_cross_the_end_is_refused_whole() {
        let mut ids = IdAllocator::new();
        ids.reserve(65_000).unwrap();
        assert!(ids.reserve(600).is_err());
        assert_eq!(ids.reserve(536).unwrap(), 65_000..65_536);
        assert!(ids.reserve(usize::MAX).is_err());
    }
}
