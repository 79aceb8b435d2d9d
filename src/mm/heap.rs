//! The kernel heap: `alloc` (`Box`, `Vec`, `String`, `BTreeMap`, ...) over
//! all RAM the image does not use, managed by a buddy allocator.
//!
//! Allocation masks interrupts while it holds the heap lock, so an interrupt
//! handler that allocates cannot deadlock against the code it interrupted.
//! On many cores the lock is one for all: allocations on different cores
//! take turns (the frames of isolated tasks mostly come from per-core pools,
//! see [`super::frames`]); `lock_stats` measures how often a core waits.
//! A failed allocation is recorded. Where the OS allocates on a task's
//! behalf it asks fallibly ([`try_box`], [`try_alloc`], `try_reserve`) and
//! turns a failure into an error for that call; an allocation that cannot
//! fail gracefully (`Box::new`, a growing `Vec`) ends the task that made it
//! with `TaskFailure::OutOfKernelMemory` (the panic handler recognizes the
//! allocation-failure panic and takes the record, `take_failure`). Only
//! outside task code (boot, interrupt handlers, the `main` task) does it
//! stop the machine, printing the failed size and alignment and the heap's
//! state.
//!
//! The global allocator serves two worlds: kernel code gets this heap,
//! isolated tasks (at EL0, where the kernel heap is out of reach) get their
//! own ([`super::user_heap`]). `Allocator` picks by asking
//! [`running_at_el0`](crate::arch::user_mode::running_at_el0).

use crate::critical::SpinLock;
use buddy_system_allocator::Heap;
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, Ordering};

/// Usage of the heap, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// All memory given to the heap.
    pub total: usize,
    /// What callers asked for and still hold.
    pub requested: usize,
    /// What the buddy allocator set aside for them (rounded up to powers of two).
    pub allocated: usize,
}

impl HeapStats {
    pub fn free(&self) -> usize {
        self.total - self.allocated
    }
}

/// The heap: the buddy allocator behind one spin lock (every core's
/// allocations take it, briefly: see `lock_stats` for how often they wait).
pub struct KernelHeap {
    heap: SpinLock<Heap<33>>,
    /// The last failed allocation, as one word ([`FailedLayout`]): two
    /// cores failing at once leave one whole record, never a mix of both.
    failure: AtomicU64,
}

/// A failed allocation's size and alignment packed into one word: the
/// alignment (a power of two) as its log2 in the top 6 bits, the size
/// (saturated) below; 0 means none.
struct FailedLayout;

impl FailedLayout {
    const SIZE_BITS: u32 = 58;
    const SIZE_MASK: u64 = (1 << Self::SIZE_BITS) - 1;

    fn pack(size: usize, align: usize) -> u64 {
        let size = (size.max(1) as u64).min(Self::SIZE_MASK);
        (u64::from(align.trailing_zeros()) << Self::SIZE_BITS) | size
    }

    fn unpack(word: u64) -> Option<(usize, usize)> {
        (word != 0).then(|| ((word & Self::SIZE_MASK) as usize, 1 << (word >> Self::SIZE_BITS)))
    }
}

impl KernelHeap {
    pub const fn new() -> Self {
        Self { heap: SpinLock::new("kernel heap", Heap::new()), failure: AtomicU64::new(0) }
    }

    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Heap<33>) -> R) -> R {
        f(&mut self.heap.lock())
    }

    /// Hands `[start, start + size)` to the heap.
    ///
    /// # Safety
    /// The range must be mapped read-write and used by nothing else, for good.
    pub unsafe fn add_memory(&self, start: usize, size: usize) {
        // SAFETY: promised by our caller.
        self.with(|h| unsafe { h.add_to_heap(start, start + size) });
    }

    pub fn stats(&self) -> HeapStats {
        self.with(|h| HeapStats {
            total: h.stats_total_bytes(),
            requested: h.stats_alloc_user(),
            allocated: h.stats_alloc_actual(),
        })
    }

    /// The size and alignment of the last allocation that failed, if any.
    pub fn last_failure(&self) -> Option<(usize, usize)> {
        FailedLayout::unpack(self.failure.load(Ordering::Relaxed))
    }

    /// As [`Self::last_failure`], and forgets it.
    pub fn take_failure(&self) -> Option<(usize, usize)> {
        FailedLayout::unpack(self.failure.swap(0, Ordering::Relaxed))
    }
}

impl Default for KernelHeap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the buddy allocator returns disjoint blocks of at least the
// requested size and alignment, and takes back only what it handed out.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.with(|h| h.alloc(layout)) {
            Ok(p) => p.as_ptr(),
            Err(()) => {
                self.failure.store(FailedLayout::pack(layout.size(), layout.align()), Ordering::Relaxed);
                core::ptr::null_mut()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = core::ptr::NonNull::new(ptr) {
            // SAFETY: our caller passes a block this heap handed out, with its layout.
            self.with(|h| unsafe { h.dealloc(p, layout) });
        }
    }
}

/// Memory for one `T` (uninitialized) from the global allocator, or `None`
/// when there is none: for the OS's allocations on a task's behalf, which
/// must become an error rather than end the caller. A zero-sized `T` gets a
/// dangling (well-aligned) pointer, as `Box` does.
pub fn try_alloc<T>() -> Option<core::ptr::NonNull<T>> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Some(core::ptr::NonNull::dangling());
    }
    // SAFETY: a non-zero size.
    core::ptr::NonNull::new(unsafe { alloc::alloc::alloc(layout) } as *mut T)
}

/// `Box::new(value)`, or `value` given back when the heap has no room.
pub fn try_box<T>(value: T) -> Result<alloc::boxed::Box<T>, T> {
    let Some(block) = try_alloc::<T>() else { return Err(value) };
    // SAFETY: `block` is memory for a `T` from the global allocator with
    // `Layout::new::<T>()` (or dangling for a zero-sized `T`), as `Box` expects.
    unsafe {
        block.as_ptr().write(value);
        Ok(alloc::boxed::Box::from_raw(block.as_ptr()))
    }
}

#[cfg(target_os = "none")]
pub use target::*;

/// The kernel's heap and the global allocator, on the target.
#[cfg(target_os = "none")]
mod target {
    use super::{HeapStats, KernelHeap};
    use core::alloc::{GlobalAlloc, Layout};

    static HEAP: KernelHeap = KernelHeap::new();

    /// The global allocator: the kernel heap, or at EL0 the running isolated
    /// task's own heap.
    struct Allocator;

    // SAFETY: both heaps hand out disjoint blocks of the requested layout, and a
    // block is given back to the heap it came from: kernel code never sees an
    // isolated task's blocks, nor the reverse (they live in different worlds).
    unsafe impl GlobalAlloc for Allocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if crate::arch::user_mode::running_at_el0() {
                return user_alloc(layout);
            }
            // SAFETY: forwarded from our caller.
            unsafe { HEAP.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if crate::arch::user_mode::running_at_el0() {
                // SAFETY: forwarded from our caller.
                return unsafe { user_dealloc(ptr, layout) };
            }
            // SAFETY: forwarded from our caller.
            unsafe { HEAP.dealloc(ptr, layout) }
        }
    }

    /// At EL0: a block from the running isolated task's heap. Out of line, so
    /// the kernel's path through [`Allocator`] stays as short as before.
    #[inline(never)]
    fn user_alloc(layout: Layout) -> *mut u8 {
        // SAFETY: at EL0, in the task's only thread; no other reference is live.
        unsafe { crate::mm::user_heap::UserHeap::get() }.alloc(layout)
    }

    /// At EL0: gives a block back to the running isolated task's heap.
    ///
    /// # Safety
    /// `ptr` came from [`user_alloc`] with `layout`.
    #[inline(never)]
    unsafe fn user_dealloc(ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `user_alloc`; `ptr` is from this task's heap, as our caller promises.
        unsafe { crate::mm::user_heap::UserHeap::get().dealloc(ptr, layout) }
    }

    #[global_allocator]
    static ALLOCATOR: Allocator = Allocator;

    /// The kernel heap's usage now.
    pub fn stats() -> HeapStats {
        HEAP.stats()
    }

    pub(crate) fn init(start: u64, size: u64) {
        // SAFETY: the caller (boot) passes the mapped RAM after the image, which
        // nothing else uses.
        unsafe { HEAP.add_memory(start as usize, size as usize) };
    }

    /// The size and alignment of the last failed kernel allocation, forgotten
    /// once taken (by the panic handler, for `TaskFailure::OutOfKernelMemory`).
    pub(crate) fn take_failure() -> Option<(usize, usize)> {
        HEAP.take_failure()
    }

    /// The size and alignment of the last failed kernel allocation, left for
    /// the panic handler to take.
    pub(crate) fn last_failure() -> Option<(usize, usize)> {
        HEAP.last_failure()
    }

    /// After an allocation failure: say what failed and how the heap looks.
    pub(crate) fn report_failure_if_any() {
        if let Some((size, align)) = HEAP.last_failure() {
            let s = HEAP.stats();
            crate::console::write_fmt_emergency(format_args!(
                "out of memory: allocation of {size} bytes (align {align}) failed; heap: {} bytes total, {} in use ({} requested), {} free\n",
                s.total, s.allocated, s.requested, s.free()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn allocates_frees_and_records_failure() {
        #[repr(align(4096))]
        struct Arena([u8; 1 << 16]);
        let arena = std::boxed::Box::leak(std::boxed::Box::new(Arena([0; 1 << 16])));
        let heap = KernelHeap::new();
        // SAFETY: the arena is leaked and used only by this heap.
        unsafe { heap.add_memory(arena.0.as_mut_ptr() as usize, arena.0.len()) };
        assert_eq!(heap.stats().total, 1 << 16);
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: a valid layout; freed below with the same layout.
        let p = unsafe { heap.alloc(layout) };
        assert!(!p.is_null());
        assert_eq!(heap.stats().requested, 100);
        assert_eq!(heap.stats().allocated, 128);
        // SAFETY: `p` came from `alloc` with `layout`.
        unsafe { heap.dealloc(p, layout) };
        assert_eq!(heap.stats().allocated, 0);
        assert_eq!(heap.last_failure(), None);
        let huge = Layout::from_size_align(1 << 20, 16).unwrap();
        // SAFETY: a valid layout.
        assert!(unsafe { heap.alloc(huge) }.is_null());
        assert_eq!(heap.last_failure(), Some((1 << 20, 16)));
        assert_eq!(heap.take_failure(), Some((1 << 20, 16)));
        assert_eq!(heap.take_failure(), None, "taken once");
    }

    #[test]
    fn a_failed_layout_fits_one_word() {
        for (size, align) in [(1, 1), (100, 8), (1 << 20, 4096), (1 << 40, 1 << 63)] {
            assert_eq!(FailedLayout::unpack(FailedLayout::pack(size, align)), Some((size, align)));
        }
        assert_eq!(FailedLayout::unpack(FailedLayout::pack(0, 1)), Some((1, 1)), "size 0 is recorded as 1");
        assert_eq!(
            FailedLayout::unpack(FailedLayout::pack(usize::MAX, 2)),
            Some((FailedLayout::SIZE_MASK as usize, 2))
        );
        assert_eq!(FailedLayout::unpack(0), None);
    }

    #[test]
    fn fallible_boxes() {
        let b = try_box([7u64; 4]).unwrap();
        assert_eq!(*b, [7; 4]);
        assert_eq!(*try_box(()).unwrap(), ());
    }
}
