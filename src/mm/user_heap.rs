//! The heap of an isolated task: `Box`, `Vec` and `String` at EL0.
//!
//! The kernel heap is out of an isolated task's reach, so at EL0 the global
//! allocator ([`super::heap`]) comes here instead. The allocator's state, a
//! [`UserHeap`], lives in the task's own memory, in the page at
//! [`HEAP_STATE`](super::user_layout::HEAP_STATE) (the same address in every
//! task). That page, like the heap, is backed on demand: the kernel maps a
//! zeroed frame on its first touch, and a zeroed `UserHeap` means "not set
//! up yet" ([`UserHeap::get`] sets it up on first use, asking the kernel for
//! the task's heap reserve).
//!
//! The heap grows like `sbrk`: a buddy allocator starts empty, and when it
//! cannot serve a request, the next chunk after the break is added to it
//! ([`next_chunk`]): a power of two of at least a page, aligned to its
//! size, so the request fits in one buddy block. Growing writes only the
//! buddy's free-list node at the start of each new block, so only pages
//! the program really uses get frames. (One buddy over the whole reserve
//! would write nodes into a page per halving on the first split.)
//!
//! Growing is where the task's memory limit is kept: the heap grows only
//! if the limit can back the request ([`limit_can_back`]), so a request
//! the limit cannot back is refused like one the reserve cannot hold. A
//! fallible allocation (`Vec::try_reserve`, `BlockPool::new`) returns an
//! error and the task goes on; an infallible one (`Box::new`, `vec!`)
//! panics, and the panic handler ends the task with `OutOfMemory`, as a
//! touch past the limit does ([`UserHeap::take_refusal`]). (Without the
//! check the heap handed out any block of the reserve, and the task ended
//! on its first touch past the limit, even after a `try_reserve` said
//! yes.)
//!
//! An isolated task is a single thread and interrupts never run its code,
//! so the state needs no lock.

use super::PAGE_SIZE;
use buddy_system_allocator::Heap;
use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

/// Buddy orders: blocks up to 2^39 bytes, more than the largest reserve.
/// (Not the kernel heap's `Heap<33>`: sharing that type saves 500 bytes of
/// image but makes the compiler call, not inline, the kernel's allocator.)
const ORDER: usize = 40;

/// Where the next heap chunk goes for a request of `size` bytes aligned to
/// `align`, with the break at `brk` and the reserve ending at `end`: its
/// start and size, or `None` when it does not fit in the reserve.
///
/// The chunk is `max(page, size rounded up to a power of two, align)` bytes,
/// aligned to its size: one buddy block that serves the request whole.
pub fn next_chunk(brk: u64, end: u64, size: usize, align: usize) -> Option<(u64, u64)> {
    let chunk = (size.max(1) as u64).checked_next_power_of_two()?.max(align as u64).max(PAGE_SIZE);
    let start = brk.checked_next_multiple_of(chunk)?;
    (start.checked_add(chunk)? <= end).then_some((start, chunk))
}

/// Can `free` bytes (what is left of the task's memory limit) back a
/// request of `size` bytes: its pages, and the translation tables they may
/// need (one per 2 MiB, and one more)? On the safe side: the request may
/// share a page the task holds already, or need no new table.
pub fn limit_can_back(free: u64, size: usize) -> bool {
    let pages_per_table = PAGE_SIZE / 8; // a table of 8-byte descriptors
    let pages = (size as u64).div_ceil(PAGE_SIZE);
    let needed = pages.saturating_add(pages.div_ceil(pages_per_table) + 1).saturating_mul(PAGE_SIZE);
    free >= needed
}

/// An isolated task's heap allocator: a buddy allocator that grows into
/// the reserve `[base, end)`, at its break, as far as the task's memory
/// limit can back.
#[repr(C)]
pub struct UserHeap {
    /// Nonzero once [`Self::init`] ran (the page starts zeroed).
    ready: u64,
    /// The start of the reserve.
    base: u64,
    /// The first address not yet handed to the buddy allocator.
    brk: u64,
    /// The end of the reserve.
    end: u64,
    /// Where the heap last refused to grow because the memory limit could
    /// not back the request (0: it has not), for the panic handler.
    refused_at: u64,
    buddy: MaybeUninit<Heap<ORDER>>,
}

/// How much of its heap an isolated task uses, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserHeapStats {
    /// The heap's reserve (virtual).
    pub reserve: u64,
    /// Handed to the allocator so far (from the base to the break).
    pub grown: u64,
    /// In blocks handed out now.
    pub allocated: u64,
}

impl UserHeap {
    /// Sets up an empty heap over `[base, base + reserve)`.
    pub fn init(&mut self, base: u64, reserve: u64) {
        self.buddy = MaybeUninit::new(Heap::new());
        self.base = base;
        self.brk = base;
        self.end = base + reserve;
        self.refused_at = 0;
        self.ready = 1;
    }

    fn buddy(&mut self) -> &mut Heap<ORDER> {
        debug_assert!(self.ready != 0);
        // SAFETY: `init` wrote it before setting `ready`, which callers check.
        unsafe { self.buddy.assume_init_mut() }
    }

    /// A block for `layout`, growing the heap if needed; null when the
    /// reserve is exhausted or `free_under_limit` (what is left of the
    /// task's memory limit, asked only when the heap must grow) cannot back
    /// the request (as `GlobalAlloc::alloc` expects).
    pub fn alloc(&mut self, layout: Layout, free_under_limit: impl FnOnce() -> u64) -> *mut u8 {
        if let Ok(block) = self.buddy().alloc(layout) {
            return block.as_ptr();
        }
        let Some((start, chunk)) = next_chunk(self.brk, self.end, layout.size(), layout.align()) else {
            return core::ptr::null_mut();
        };
        if !limit_can_back(free_under_limit(), layout.size()) {
            self.refused_at = start;
            return core::ptr::null_mut();
        }
        let (from, to) = (self.brk, start + chunk);
        self.brk = to;
        // SAFETY: `[from, to)` is the part of the reserve after the old break:
        // task memory (mapped on first touch) that the allocator never had.
        // The gap below the chunk is added too, as smaller blocks, for later.
        unsafe { self.buddy().add_to_heap(from as usize, to as usize) };
        self.buddy().alloc(layout).map_or(core::ptr::null_mut(), |b| b.as_ptr())
    }

    /// Gives back a block [`Self::alloc`] returned for `layout`.
    ///
    /// # Safety
    /// As `GlobalAlloc::dealloc`: `ptr` came from this heap with `layout`.
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(ptr) {
            // SAFETY: promised by our caller.
            unsafe { self.buddy().dealloc(block, layout) };
        }
    }

    /// Where the heap last refused to grow for the memory limit, forgotten
    /// once taken (`None`: it has not).
    pub fn take_refusal(&mut self) -> Option<u64> {
        Some(core::mem::take(&mut self.refused_at)).filter(|&at| at != 0)
    }

    pub fn stats(&mut self) -> UserHeapStats {
        let allocated = self.buddy().stats_alloc_actual() as u64;
        UserHeapStats { reserve: self.end - self.base, grown: self.brk - self.base, allocated }
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::UserHeap;
    use crate::mm::user_layout::{HEAP_BASE, HEAP_STATE};

    impl UserHeap {
        /// The running isolated task's heap, set up on first use.
        ///
        /// # Safety
        /// Only at EL0 (in an isolated task), and not while another
        /// reference from `get` is in use (the task is one thread).
        pub unsafe fn get() -> &'static mut UserHeap {
            // SAFETY: every isolated task has its heap state page at
            // `HEAP_STATE`, zeroed on first touch; our caller guarantees
            // exclusive use.
            let heap = unsafe { &mut *(HEAP_STATE as *mut UserHeap) };
            if heap.ready == 0 {
                let reserve = crate::syscall::user::memory_figure(crate::syscall::abi::MemoryFigure::HeapReserve);
                heap.init(HEAP_BASE, reserve);
            }
            heap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn chunks_are_pages_or_the_request_rounded_up_and_aligned() {
        let end = 1 << 30;
        assert_eq!(next_chunk(0, end, 1, 1), Some((0, PAGE_SIZE)));
        assert_eq!(next_chunk(0, end, 128, 8), Some((0, PAGE_SIZE)));
        assert_eq!(next_chunk(PAGE_SIZE, end, 12288, 8), Some((16384, 16384)));
        assert_eq!(next_chunk(PAGE_SIZE, end, 8, 1 << 16), Some((1 << 16, 1 << 16)));
        assert_eq!(next_chunk(3 * PAGE_SIZE, end, 4096, 8), Some((3 * PAGE_SIZE, PAGE_SIZE)));
        // The whole reserve fits once; a byte more does not.
        assert_eq!(next_chunk(0, end, 1 << 30, 8), Some((0, 1 << 30)));
        assert_eq!(next_chunk(0, end, (1 << 30) + 1, 8), None);
        assert_eq!(next_chunk(PAGE_SIZE, end, 1 << 29, 8), Some((1 << 29, 1 << 29)));
        assert_eq!(next_chunk(PAGE_SIZE, end, (1 << 29) + 1, 8), None);
        assert_eq!(next_chunk(0, end, usize::MAX, 8), None);
        assert_eq!(next_chunk(u64::MAX - 10, u64::MAX, 1, 1), None);
    }

    /// A memory limit with room for anything.
    fn unlimited() -> u64 {
        u64::MAX
    }

    #[test]
    fn the_limit_must_back_the_pages_and_their_tables() {
        // One page and two tables (the one a page may need, and one more).
        assert!(limit_can_back(3 * PAGE_SIZE, 1));
        assert!(!limit_can_back(3 * PAGE_SIZE - 1, 1));
        assert!(limit_can_back(3 * PAGE_SIZE, PAGE_SIZE as usize));
        // 2 MiB: 512 pages, one table for them and one more.
        assert!(limit_can_back(514 * PAGE_SIZE, 2 << 20));
        assert!(!limit_can_back(514 * PAGE_SIZE, (2 << 20) + 1));
        assert!(!limit_can_back(u64::MAX - 1, usize::MAX));
        assert!(!limit_can_back(0, 0));
    }

    #[test]
    fn growth_the_limit_cannot_back_is_refused_and_remembered() {
        let mut arena = std::boxed::Box::new(Arena([0; 1 << 18]));
        let (mut heap, base) = heap_over(&mut arena);
        let page = Layout::from_size_align(PAGE_SIZE as usize, 8).unwrap();
        let a = heap.alloc(page, || 3 * PAGE_SIZE);
        assert_eq!(a as u64, base);
        assert_eq!(heap.take_refusal(), None);
        // Two pages left under the limit: a page and its tables may not fit.
        assert!(heap.alloc(page, || 2 * PAGE_SIZE).is_null());
        assert_eq!(heap.stats().grown, PAGE_SIZE, "a refused request does not grow the heap");
        assert_eq!(heap.take_refusal(), Some(base + PAGE_SIZE));
        assert_eq!(heap.take_refusal(), None, "taken once");
        // A block the heap has already is handed out without asking the limit.
        // SAFETY: `a` came from `alloc` with `page`, freed once.
        unsafe { heap.dealloc(a, page) };
        let again = heap.alloc(page, || panic!("the limit is asked only to grow"));
        assert_eq!(again, a);
        // The reserve is exhausted first: that is no refusal for the limit.
        assert!(heap.alloc(Layout::from_size_align(1 << 19, 8).unwrap(), || 0).is_null());
        assert_eq!(heap.take_refusal(), None);
    }

    #[repr(C, align(262144))]
    struct Arena([u8; 1 << 18]);

    fn heap_over(arena: &mut Arena) -> (std::boxed::Box<UserHeap>, u64) {
        // SAFETY: all-zero is a valid `UserHeap` before `init` (`ready` = 0, the buddy uninitialised).
        let mut heap: std::boxed::Box<UserHeap> = std::boxed::Box::new(unsafe { core::mem::zeroed() });
        let base = arena.0.as_mut_ptr() as u64;
        heap.init(base, arena.0.len() as u64);
        (heap, base)
    }

    #[test]
    fn grows_by_the_chunk_a_request_needs_and_no_further() {
        let mut arena = std::boxed::Box::new(Arena([0; 1 << 18]));
        let (mut heap, base) = heap_over(&mut arena);
        assert_eq!(heap.stats(), UserHeapStats { reserve: 1 << 18, grown: 0, allocated: 0 });
        let small = Layout::from_size_align(128, 8).unwrap();
        let a = heap.alloc(small, unlimited);
        assert_eq!(a as u64, base);
        assert_eq!(heap.stats().grown, PAGE_SIZE);
        // Served from the first page: no growth.
        let b = heap.alloc(small, unlimited);
        assert_eq!(heap.stats().grown, PAGE_SIZE);
        assert!(b as u64 > base && (b as u64) < base + PAGE_SIZE);
        // Three pages: a 16 KiB chunk at the next 16 KiB boundary.
        let big = Layout::from_size_align(3 * PAGE_SIZE as usize, 8).unwrap();
        let c = heap.alloc(big, unlimited);
        assert_eq!(c as u64, base + 16384);
        assert_eq!(heap.stats().grown, 32768);
        // The gap [4 KiB, 16 KiB) went to the allocator: a page comes from it.
        let page = Layout::from_size_align(PAGE_SIZE as usize, 8).unwrap();
        let d = heap.alloc(page, unlimited);
        assert!((base + PAGE_SIZE..base + 16384).contains(&(d as u64)));
        assert_eq!(heap.stats().grown, 32768);
        // SAFETY: each block came from `alloc` with its layout, freed once.
        unsafe {
            heap.dealloc(a, small);
            heap.dealloc(b, small);
            heap.dealloc(c, big);
            heap.dealloc(d, page);
        }
        assert_eq!(heap.stats().allocated, 0);
    }

    #[test]
    fn an_exhausted_reserve_gives_null() {
        let mut arena = std::boxed::Box::new(Arena([0; 1 << 18]));
        let (mut heap, _) = heap_over(&mut arena);
        assert!(heap.alloc(Layout::from_size_align((1 << 18) + 1, 8).unwrap(), unlimited).is_null());
        let half = Layout::from_size_align(1 << 17, 8).unwrap();
        assert!(!heap.alloc(half, unlimited).is_null());
        assert!(!heap.alloc(half, unlimited).is_null());
        assert!(heap.alloc(Layout::from_size_align(8, 8).unwrap(), unlimited).is_null());
        assert_eq!(heap.stats().grown, 1 << 18);
    }
}
