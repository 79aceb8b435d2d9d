//! Pools of fixed-size blocks: [`BlockPool`], like ThreadX's block pools
//! (the ones Thread-Metric's memory test allocates from) or Zephyr's
//! memory slabs, for applications that want a known number of blocks of
//! one size, taken from the heap once, and O(1) allocation that never
//! touches the heap again.
//!
//! The pool takes `count` blocks of `block_size` bytes (each rounded up to
//! a multiple of [`BLOCK_ALIGN`] and aligned to it) and a table of `count`
//! links from the global allocator when it is made, zeroed, and gives them
//! back when it is dropped. [`BlockPool::allocate`] hands out a [`Block`],
//! which borrows the pool and gives its block back when it drops (or
//! through [`BlockPool::free`]). So the types rule out the misuses a C API
//! must check at run time: a block cannot be freed twice (freeing consumes
//! it), nor used after it is freed, nor outlive its pool; a block freed
//! through another pool's `free` is refused and handed back.
//!
//! The free blocks form a stack of block numbers: the pool's `head` word
//! holds the first free block's number and a tag, `links[n]` the number
//! of the free block after block `n`. Allocating and freeing are one
//! compare-and-swap of `head` each, without a lock and without masking
//! interrupts, so any task on any core and interrupt handlers may use a
//! pool at once. The tag, bumped by every change, makes a swap fail if the
//! head was taken and put back meanwhile (the ABA problem of a lock-free
//! stack). The links live beside the blocks, not inside them, so the pool
//! never reads memory an application writes.
//!
//! Works the same for isolated tasks: a pool made at EL0 takes its memory
//! from the task's own heap, which grows only as far as the task's memory
//! limit can back (`mm::user_heap`): a pool the limit cannot back is
//! refused with [`PoolError::OutOfMemory`], as the kernel heap refuses one
//! it has no room for.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Every block's alignment, and what its size is rounded up to.
pub const BLOCK_ALIGN: usize = 16;
/// The most blocks a pool can have (block numbers are 32 bits, one value
/// meaning "none").
pub const MAX_BLOCKS: usize = u32::MAX as usize - 1;
/// The number in a link or in the head that means "no block".
const NONE: u32 = u32::MAX;
/// The head's tag counts in its upper half.
const TAG: u64 = 1 << 32;

/// Why a pool could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// A block size of 0, or no blocks.
    Empty,
    /// More than [`MAX_BLOCKS`] blocks, or more bytes than an address space has.
    TooLarge,
    /// The heap has not that much memory (in an isolated task: the task's
    /// memory limit cannot back it).
    OutOfMemory,
}

/// A pool of `count` blocks of one size (see the module documentation).
pub struct BlockPool {
    /// The blocks, `count * stride` bytes, zeroed when the pool was made.
    memory: NonNull<u8>,
    /// `memory`'s layout, to give it back.
    layout: Layout,
    /// From one block to the next: the block size rounded up to [`BLOCK_ALIGN`].
    stride: usize,
    block_size: usize,
    /// `links[n]`: the free block after block `n` (or [`NONE`]); meaningful
    /// only while block `n` is free.
    links: Box<[AtomicU32]>,
    /// The first free block (low 32 bits, [`NONE`]: none) and a tag (high 32 bits).
    head: AtomicU64,
}

// SAFETY: the pool owns its memory; a block's bytes are reachable only
// through the one `Block` that holds it (the head's compare-and-swap hands
// each free block to one taker), so sharing the pool shares no bytes.
unsafe impl Send for BlockPool {}
// SAFETY: as above; the free list is atomic.
unsafe impl Sync for BlockPool {}

impl BlockPool {
    /// A pool of `count` blocks of `block_size` bytes, all free, zeroed.
    pub fn new(block_size: usize, count: usize) -> Result<Self, PoolError> {
        if block_size == 0 || count == 0 {
            return Err(PoolError::Empty);
        }
        if count > MAX_BLOCKS {
            return Err(PoolError::TooLarge);
        }
        let stride = block_size.checked_next_multiple_of(BLOCK_ALIGN).ok_or(PoolError::TooLarge)?;
        let bytes = stride.checked_mul(count).ok_or(PoolError::TooLarge)?;
        let layout = Layout::from_size_align(bytes, BLOCK_ALIGN).map_err(|_| PoolError::TooLarge)?;
        let mut links = Vec::new();
        links.try_reserve_exact(count).map_err(|_| PoolError::OutOfMemory)?;
        links.extend((1..count as u32).chain([NONE]).map(AtomicU32::new));
        // SAFETY: `layout` has a non-zero size (`block_size` and `count` are not 0).
        let memory = NonNull::new(unsafe { alloc::alloc::alloc_zeroed(layout) }).ok_or(PoolError::OutOfMemory)?;
        Ok(Self { memory, layout, stride, block_size, links: links.into_boxed_slice(), head: AtomicU64::new(0) })
    }

    /// A free block, or `None` when every block is taken. O(1): one
    /// compare-and-swap (repeated only if another core or an interrupt
    /// handler changed the pool meanwhile).
    #[inline]
    pub fn allocate(&self) -> Option<Block<'_>> {
        // Acquire: the links and the bytes written before a block was freed are seen here.
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let index = head as u32;
            if index == NONE {
                return None;
            }
            let next = self.link(index).load(Ordering::Relaxed);
            // If another taker changed the head since it was read, `next`
            // may be stale; then the tag differs and the swap fails.
            let new = (head & !(TAG - 1)).wrapping_add(TAG) | u64::from(next);
            match self.head.compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Some(Block { pool: self, index }),
                Err(now) => head = now,
            }
        }
    }

    /// Gives `block` back. A block of another pool is refused and handed
    /// back (dropping it gives it back to its own pool). Dropping a block
    /// does the same as freeing it to its pool.
    #[inline]
    pub fn free<'b>(&self, block: Block<'b>) -> Result<(), Block<'b>> {
        if !core::ptr::eq(block.pool, self) {
            return Err(block);
        }
        drop(block);
        Ok(())
    }

    /// Puts block `index` (taken, now given back) at the head.
    #[inline]
    fn release(&self, index: u32) {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            self.link(index).store(head as u32, Ordering::Relaxed);
            let new = (head & !(TAG - 1)).wrapping_add(TAG) | u64::from(index);
            // Release: the link above and the block's bytes go with it to the next taker.
            match self.head.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    #[inline(always)]
    fn link(&self, index: u32) -> &AtomicU32 {
        debug_assert!((index as usize) < self.links.len());
        // SAFETY: every number in the head or a link is a block's (below
        // `count`, the links' length) or `NONE`, which never gets here.
        unsafe { self.links.get_unchecked(index as usize) }
    }

    /// The size of each block, as asked for.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// How many blocks the pool has, taken or free.
    pub fn capacity(&self) -> usize {
        self.links.len()
    }

    /// Does `ptr` point into this pool's blocks?
    pub fn contains(&self, ptr: *const u8) -> bool {
        let start = self.memory.as_ptr() as usize;
        (start..start + self.layout.size()).contains(&(ptr as usize))
    }
}

impl Drop for BlockPool {
    fn drop(&mut self) {
        // SAFETY: `memory` came from the global allocator with `layout`; no
        // block is taken (a `Block` borrows the pool), so nothing uses it.
        unsafe { alloc::alloc::dealloc(self.memory.as_ptr(), self.layout) };
    }
}

impl core::fmt::Debug for BlockPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockPool").field("block_size", &self.block_size).field("capacity", &self.capacity()).finish()
    }
}

/// A block taken from a [`BlockPool`]: its bytes (`Deref` to `[u8]`), the
/// holder's alone until it drops, which gives the block back.
pub struct Block<'a> {
    pool: &'a BlockPool,
    index: u32,
}

impl Block<'_> {
    /// The block's first byte (aligned to [`BLOCK_ALIGN`]), valid for
    /// [`BlockPool::block_size`] bytes while the block is held.
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        // SAFETY: `index < count`, so the offset is inside the pool's memory.
        unsafe { self.pool.memory.as_ptr().add(self.index as usize * self.pool.stride) }
    }

    /// The block's number in its pool (0 to capacity - 1).
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

impl Deref for Block<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the block's bytes are inside the pool's memory, initialized
        // (zeroed at creation, then written only as bytes), and reachable
        // only through this `Block` while it lives.
        unsafe { core::slice::from_raw_parts(self.as_ptr(), self.pool.block_size) }
    }
}

impl DerefMut for Block<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes this borrow the only one.
        unsafe { core::slice::from_raw_parts_mut(self.as_ptr(), self.pool.block_size) }
    }
}

impl Drop for Block<'_> {
    #[inline]
    fn drop(&mut self) {
        self.pool.release(self.index);
    }
}

impl core::fmt::Debug for Block<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Block").field("index", &self.index).field("len", &self.pool.block_size).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// How many blocks can be taken now (all taken at once, then given back).
    fn free_blocks(pool: &BlockPool) -> usize {
        core::iter::from_fn(|| pool.allocate()).collect::<Vec<_>>().len()
    }

    #[test]
    fn refuses_empty_and_impossible_pools() {
        assert_eq!(BlockPool::new(0, 4).err(), Some(PoolError::Empty));
        assert_eq!(BlockPool::new(16, 0).err(), Some(PoolError::Empty));
        assert_eq!(BlockPool::new(16, MAX_BLOCKS + 1).err(), Some(PoolError::TooLarge));
        assert_eq!(BlockPool::new(usize::MAX, 1).err(), Some(PoolError::TooLarge), "size rounds up past the end");
        assert_eq!(BlockPool::new(1 << 40, 1 << 30).err(), Some(PoolError::TooLarge), "bytes overflow");
    }

    #[test]
    fn hands_out_every_block_once_then_none_aligned_and_zeroed() {
        let pool = BlockPool::new(100, 8).unwrap();
        assert_eq!((pool.block_size(), pool.capacity()), (100, 8));
        let mut blocks: Vec<_> = (0..8).map(|_| pool.allocate().unwrap()).collect();
        assert!(pool.allocate().is_none(), "exhausted");
        assert!(pool.allocate().is_none(), "still exhausted");
        let mut indexes: Vec<_> = blocks.iter().map(|b| b.index()).collect();
        indexes.sort();
        assert_eq!(indexes, (0..8).collect::<Vec<_>>());
        for (i, b) in blocks.iter_mut().enumerate() {
            assert_eq!(b.len(), 100);
            assert_eq!(b.as_ptr() as usize % BLOCK_ALIGN, 0);
            assert!(pool.contains(b.as_ptr()) && pool.contains(b.as_ptr().wrapping_add(99)));
            assert!(b.iter().all(|&x| x == 0), "zeroed");
            b.fill(i as u8 + 1);
        }
        for (i, b) in blocks.iter().enumerate() {
            assert!(b.iter().all(|&x| x == i as u8 + 1), "block {i} overwritten by another");
        }
        // Disjoint: no two blocks' ranges overlap.
        let mut starts: Vec<_> = blocks.iter().map(|b| b.as_ptr() as usize).collect();
        starts.sort();
        assert!(starts.windows(2).all(|w| w[1] - w[0] >= 100));
        let third = blocks.remove(3);
        let index = third.index();
        assert!(pool.free(third).is_ok());
        let again = pool.allocate().unwrap();
        assert_eq!(again.index(), index, "the block just freed comes back first");
        assert!(again.iter().all(|&x| x == 4), "contents are the last holder's, not the pool's links");
        assert!(pool.allocate().is_none());
        drop(blocks);
        drop(again);
        assert_eq!(free_blocks(&pool), 8, "every block back");
    }

    #[test]
    fn a_foreign_block_is_refused_and_goes_home_on_drop() {
        let a = BlockPool::new(32, 1).unwrap();
        let b = BlockPool::new(32, 1).unwrap();
        let block = a.allocate().unwrap();
        let block = b.free(block).unwrap_err();
        assert!(b.allocate().is_some(), "b is untouched: its one block is still free");
        assert!(a.allocate().is_none(), "a's block is still taken");
        drop(block);
        assert!(a.allocate().is_some(), "dropped: back in a");
    }

    #[test]
    fn free_and_reallocate_in_every_order() {
        let pool = BlockPool::new(24, 5).unwrap();
        let mut held: Vec<Block> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for step in 0..10_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if !seed.is_multiple_of(3) {
                match pool.allocate() {
                    Some(mut b) => {
                        assert!(held.len() < 5, "more blocks than the pool has");
                        b[..4].copy_from_slice(&step.to_le_bytes());
                        b[20..24].copy_from_slice(&step.to_le_bytes());
                        held.push(b);
                    }
                    None => assert_eq!(held.len(), 5, "refused with blocks free"),
                }
            } else if !held.is_empty() {
                let b = held.swap_remove(seed as usize % held.len());
                assert_eq!(b[..4], b[20..24], "block changed while held");
                pool.free(b).unwrap();
            }
        }
    }

    #[test]
    fn many_threads_share_a_pool_without_losing_or_sharing_blocks() {
        let pool = BlockPool::new(64, 6).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let pool = &pool;
                s.spawn(move || {
                    for round in 0..20_000u32 {
                        let Some(mut a) = pool.allocate() else { continue };
                        let stamp = [t, round as u8, (round >> 8) as u8, 0x5a];
                        for chunk in a.chunks_mut(4) {
                            chunk.copy_from_slice(&stamp);
                        }
                        let b = pool.allocate();
                        if round % 64 == 0 {
                            std::thread::yield_now();
                        }
                        assert!(a.chunks(4).all(|c| c == stamp), "another thread wrote into a held block");
                        drop(b);
                        pool.free(a).unwrap();
                    }
                });
            }
        });
        assert_eq!(free_blocks(&pool), 6, "no block lost or duplicated");
    }
}
