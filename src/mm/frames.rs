//! Page frames for isolated tasks: the one allocator behind their pages,
//! their translation tables and shared regions.
//!
//! A frame is a 4 KiB page of the kernel heap, reached by the kernel through
//! the linear map. `allocate_frame` hands out a zeroed one (`DC ZVA`), so a
//! task never sees another's old data; `free_frame` takes it back.
//! [`frames_in_use`] counts them all, so tests can check that an ended task
//! gave everything back.
//!
//! Spawning an isolated task takes about ten frames (translation tables,
//! stack, captured state) and its end gives them back. Taking each from the
//! kernel heap and returning it there is slow (the buddy allocator searches
//! its free lists to split and merge), so up to [`CAPACITY`] freed frames wait
//! in a [`FramePool`] for the next address space; more than that go back to
//! the heap. Frames wait with their old contents and are zeroed when taken.
//! When a pool is empty (a task touching its heap page after page), the
//! allocator takes [`BATCH`] frames from the heap in one block, keeps one
//! and puts the others in the pool: one search of the buddy allocator
//! instead of eight. Each frame of the block still goes back on its own
//! (the buddy allocator merges the eight again once all are free).
//!
//! On many cores each core has its own pool (behind its own lock), so cores
//! spawning and ending isolated tasks at the same time do not wait for each
//! other; only the fallback to the heap is shared. A task may move to
//! another core between choosing "its" pool and locking it: that only means
//! it uses another core's pool, under that pool's lock, still correctly.
//! [`frames_in_use`] is one atomic counter, exact on every core.
//!
//! The pool is plain data, tested on the host; the allocator around it
//! (the `target` half of this file) is the kernel's.

/// How many free frames a pool keeps at most (256 KiB; one pool per core).
pub const CAPACITY: usize = 64;

/// How many frames an empty pool takes from the heap at once (a 32 KiB block).
pub const BATCH: usize = 8;

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

#[cfg(target_os = "none")]
pub use target::*;

#[cfg(target_os = "none")]
mod target {
    use super::{FramePool, BATCH};
    use crate::critical::SpinLock;
    use crate::mm::PAGE_SIZE;
    use crate::percpu::{cpu_index, PerCpu, MAX_CPUS};
    use core::alloc::Layout;
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicUsize, Ordering};

    static FRAMES_IN_USE: AtomicUsize = AtomicUsize::new(0);

    /// Freed frames waiting for the next address space, one pool per core
    /// (see [`FramePool`] and the module documentation).
    static POOLS: PerCpu<SpinLock<FramePool>> =
        PerCpu::new([const { SpinLock::new("frame pool", FramePool::new()) }; MAX_CPUS]);

    /// The pool of the core this runs on (or ran on a moment ago).
    fn this_cores_pool() -> &'static SpinLock<FramePool> {
        POOLS.of(cpu_index())
    }

    const FRAME: Layout = match Layout::from_size_align(PAGE_SIZE as usize, PAGE_SIZE as usize) {
        Ok(layout) => layout,
        Err(_) => panic!("bad frame layout"),
    };

    /// Frames (pages and tables) held by isolated tasks' address spaces and
    /// shared regions right now.
    pub fn frames_in_use() -> usize {
        FRAMES_IN_USE.load(Ordering::Relaxed)
    }

    /// Freed frames kept in the pool right now (allocated from the kernel
    /// heap, but held by no address space).
    pub fn pooled_frames() -> usize {
        POOLS.iter().map(|pool| pool.lock().len()).sum()
    }

    /// [`BATCH`] frames in one block of the heap.
    const FRAME_BATCH: Layout = match Layout::from_size_align(BATCH * PAGE_SIZE as usize, PAGE_SIZE as usize) {
        Ok(layout) => layout,
        Err(_) => panic!("bad frame batch layout"),
    };

    /// A zeroed frame: its kernel address, or `None` when memory is out.
    pub(crate) fn allocate_frame() -> Option<NonNull<u8>> {
        let pooled = this_cores_pool().lock().take();
        let frame = match pooled {
            Some(address) => NonNull::new(address as *mut u8)?,
            None => frame_from_heap()?,
        };
        // SAFETY: a whole page-aligned frame of the kernel heap (Normal memory), ours alone.
        unsafe { crate::arch::cpu::zero_page(frame.as_ptr()) };
        FRAMES_IN_USE.fetch_add(1, Ordering::Relaxed);
        Some(frame)
    }

    /// A frame from the kernel heap, straight from the buddy allocator (a
    /// frame has no size class): the first of a block of [`BATCH`], the
    /// others left in this core's pool; one frame alone if no block is free.
    #[cold]
    fn frame_from_heap() -> Option<NonNull<u8>> {
        let Some(block) = crate::mm::heap::alloc_large_if_free(FRAME_BATCH) else {
            return NonNull::new(crate::mm::heap::alloc_large(FRAME));
        };
        let frame = |k: usize| block.as_ptr() as usize + k * PAGE_SIZE as usize;
        let mut pool = this_cores_pool().lock();
        // The pool was empty a moment ago; if it filled meanwhile (a task
        // moved to this core and freed frames), what does not fit goes back.
        let kept = (1..BATCH).take_while(|&k| pool.give(frame(k)).is_ok()).count();
        drop(pool);
        for k in 1 + kept..BATCH {
            // SAFETY: a frame of the block just taken, used by nobody; the
            // buddy allocator takes the pieces of a block back one by one.
            unsafe { alloc::alloc::dealloc(frame(k) as *mut u8, FRAME) };
        }
        Some(block)
    }

    /// # Safety
    /// `frame` came from [`allocate_frame`] and nothing maps or uses it any more.
    pub(crate) unsafe fn free_frame(frame: NonNull<u8>) {
        FRAMES_IN_USE.fetch_sub(1, Ordering::Relaxed);
        let kept = this_cores_pool().lock().give(frame.as_ptr() as usize);
        if kept.is_err() {
            // SAFETY: promised by our caller; the pool did not keep it.
            unsafe { alloc::alloc::dealloc(frame.as_ptr(), FRAME) };
        }
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
