//! A stock of free frames kept back for isolated tasks' address spaces.
//!
//! Spawning an isolated task takes about ten frames (translation tables,
//! stack, captured state) and its end gives them back. Taking each from the
//! kernel heap and returning it there is slow (the buddy allocator searches
//! its free lists to split and merge), so up to [`CAPACITY`] freed frames wait
//! here for the next address space; more than that go back to the heap.
//! Frames wait with their old contents: `address_space` zeroes every frame
//! it takes, from here or from the heap, before mapping it.

/// How many free frames the pool keeps at most (256 KiB).
pub const CAPACITY: usize = 64;

/// Free frames, by kernel address (last in, first out).
pub struct FramePool {
    frames: [usize; CAPACITY],
    len: usize,
}

impl FramePool {
    pub const fn new() -> Self {
        Self { frames: [0; CAPACITY], len: 0 }
    }

    /// A frame from the stock, if any.
    pub fn take(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        Some(self.frames[self.len])
    }

    /// Keeps `frame` if there is room; otherwise hands it back (`Err`).
    pub fn give(&mut self, frame: usize) -> Result<(), usize> {
        let slot = self.frames.get_mut(self.len).ok_or(frame)?;
        *slot = frame;
        self.len += 1;
        Ok(())
    }

    /// How many frames wait here.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for FramePool {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_capacity_and_gives_back_last_in_first_out() {
        let mut pool = FramePool::new();
        assert_eq!(pool.take(), None);
        for k in 0..CAPACITY {
            assert_eq!(pool.give(0x1000 * (k + 1)), Ok(()));
        }
        assert_eq!(pool.give(0xdead_0000), Err(0xdead_0000), "full: the frame goes back to the heap");
        assert_eq!(pool.len(), CAPACITY);
        assert_eq!(pool.take(), Some(0x1000 * CAPACITY));
        assert_eq!(pool.give(0x42_000), Ok(()));
        assert_eq!(pool.take(), Some(0x42_000));
        while pool.take().is_some() {}
        assert!(pool.is_empty());
    }
}
