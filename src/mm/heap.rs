//! The kernel heap: `alloc` (`Box`, `Vec`, `String`, `BTreeMap`, ...) over
//! all RAM the image does not use, managed by a buddy allocator, with a
//! front of size classes for small blocks.
//!
//! A block of at most 1024 bytes (aligned to at most its size rounded up to
//! a power of two) comes from its size class's free list
//! ([`super::size_classes`]): a pop, and a push to free it. The classes
//! take their memory from the buddy allocator in 4 KiB chunks and keep it:
//! freed small blocks stay in their class for the next small allocation
//! (the statistics count them as free, [`KernelHeap::cached`] says how many
//! bytes they are) until the buddy allocator cannot serve a request; then
//! they all go back to it and it tries again. Everything larger goes to the
//! buddy allocator.
//!
//! Allocation masks interrupts while it holds the heap lock, so an interrupt
//! handler that allocates cannot deadlock against the code it interrupted.
//! On many cores the lock is one for all: allocations on different cores
//! take turns (the frames of isolated tasks mostly come from per-core pools,
//! see [`super::frames`]); `lock_stats` measures how often a core waits.
//! While core 0 runs alone (a one-core machine, or boot before the other
//! cores start) the fast paths, a pop or a push of a size class, only mask
//! interrupts and leave the lock word alone
//! (`SpinLock::with_lock_if_shared`, which says why no other core can be
//! running then); the slow paths always lock.
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

use super::size_classes::{block_size, class_of, SizeClasses, CHUNK};
use crate::critical::SpinLock;
use buddy_system_allocator::Heap;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

/// Usage of the heap, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// All memory given to the heap.
    pub total: usize,
    /// What callers asked for and still hold.
    pub requested: usize,
    /// What the heap set aside for them: each block rounded up to a power
    /// of two of at least 8 bytes (a size class's block, or the buddy
    /// allocator's).
    pub allocated: usize,
}

impl HeapStats {
    /// What callers do not hold: the buddy allocator's free memory and the
    /// freed small blocks the size classes keep (those serve only small
    /// allocations again: [`KernelHeap::cached`]).
    pub fn free(&self) -> usize {
        self.total - self.allocated
    }
}

/// What the heap's lock protects: the buddy allocator and the size classes
/// in front of it (one lock: a class that runs dry takes a chunk from the
/// buddy allocator under the same lock, with no second one to order).
struct Heaps {
    buddy: Heap<33>,
    classes: SizeClasses,
    /// The size and alignment of the last allocation that failed, exact
    /// (a word packing both kept 58 bits of size: a request of `isize::MAX`
    /// bytes was reported as one of 2^58 - 1). Under the heap's lock, where
    /// the failure is found: two cores failing at once leave one whole record.
    failure: Option<(usize, usize)>,
}

impl Heaps {
    /// A block for `size` bytes of `class`, whose list is empty: the next
    /// block of its uncarved rest or, with none left, the first of a new
    /// chunk from the buddy allocator (4 KiB, or as much as is there, down
    /// to one block: so the classes fail only when the buddy allocator
    /// has not even one block of the class's size left).
    #[cold]
    #[inline(never)]
    fn refill(&mut self, class: usize, size: usize) -> Option<NonNull<u8>> {
        if let Some(carved) = self.classes.carve(class, size) {
            return Some(carved);
        }
        let block = block_size(class);
        let mut len = CHUNK.max(block);
        // A class that has carved its most (`CLASS_BYTES_MAX`, 4 GiB) takes no more.
        while len > self.classes.room(class) {
            if len == block {
                return None;
            }
            len /= 2;
        }
        loop {
            let layout = Layout::from_size_align(len, block).ok()?;
            if let Ok(chunk) = self.buddy.alloc(layout) {
                // SAFETY: `len` bytes from the buddy allocator, aligned to
                // the block size, a multiple of it; the classes keep them for good.
                unsafe { self.classes.add_chunk(class, chunk, len) };
                return self.classes.carve(class, size);
            }
            if len == block {
                return None;
            }
            len /= 2;
        }
    }

    /// A block for `layout`: from its class (refilled if it must be) or,
    /// without one, from the buddy allocator.
    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        match class_of(layout.size(), layout.align()) {
            Some(class) => self.classes.pop(class, layout.size()).or_else(|| self.refill(class, layout.size())),
            None => self.buddy.alloc(layout).ok(),
        }
    }

    /// Gives every free small block back to the buddy allocator (where
    /// they merge with their free buddies): for a request it could not
    /// serve otherwise. Whether there was any.
    #[cold]
    fn reclaim(&mut self) -> bool {
        let buddy = &mut self.buddy;
        self.classes.drain(|block, size| {
            // SAFETY: a free block of a chunk the buddy allocator gave the
            // classes: `size` bytes (a power of two) aligned to `size`, used
            // by nobody, now the buddy allocator's again. (It counted the
            // chunk as allocated; each block given back takes its share off.)
            unsafe { buddy.dealloc(block, Layout::from_size_align_unchecked(size, size)) }
        }) > 0
    }
}

/// The heap: the buddy allocator and its size classes behind one spin lock
/// (every core's allocations take it, briefly: see `lock_stats` for how
/// often they wait).
pub struct KernelHeap {
    heap: SpinLock<Heaps>,
    /// Whether [`Heaps::failure`] holds a record (set and cleared under the
    /// lock): a look without one takes no lock, as the machine-stop report
    /// makes whatever state the heap's lock is in.
    failed: AtomicBool,
}

impl KernelHeap {
    pub const fn new() -> Self {
        Self {
            heap: SpinLock::new(
                "kernel heap",
                Heaps { buddy: Heap::new(), classes: SizeClasses::new(), failure: None },
            ),
            failed: AtomicBool::new(false),
        }
    }

    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Heaps) -> R) -> R {
        self.heap.with(f)
    }

    /// Hands `[start, start + size)` to the heap.
    ///
    /// # Safety
    /// The range must be mapped read-write and used by nothing else, for good.
    pub unsafe fn add_memory(&self, start: usize, size: usize) {
        // SAFETY: promised by our caller.
        self.with(|h| unsafe { h.buddy.add_to_heap(start, start + size) });
    }

    /// The buddy allocator counts the classes' chunks as allocated; callers
    /// hold only the blocks the classes handed out.
    pub fn stats(&self) -> HeapStats {
        self.with(|h| {
            let taken = h.classes.taken();
            HeapStats {
                total: h.buddy.stats_total_bytes(),
                requested: h.buddy.stats_alloc_user() - taken + h.classes.requested(),
                allocated: h.buddy.stats_alloc_actual() - taken + h.classes.allocated(),
            }
        })
    }

    /// Bytes in freed small blocks the size classes keep for the next small
    /// allocations (part of [`HeapStats::free`], but not usable by larger ones).
    pub fn cached(&self) -> usize {
        self.with(|h| h.classes.cached())
    }

    /// The size and alignment of the last allocation that failed, if any.
    pub fn last_failure(&self) -> Option<(usize, usize)> {
        if !self.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.heap.lock().failure
    }

    /// As [`Self::last_failure`], and forgets it.
    pub fn take_failure(&self) -> Option<(usize, usize)> {
        if !self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let mut h = self.heap.lock();
        self.failed.store(false, Ordering::Relaxed);
        h.failure.take()
    }
}

impl Default for KernelHeap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the size classes hand out disjoint blocks of at least the
// requested size and alignment (`size_classes`), carved from chunks the
// buddy allocator gave them for good; the buddy allocator does the same for
// the rest. A block goes back to where it came from: its layout (the same
// at `dealloc` as at `alloc`) picks the same class, or none, both times.
unsafe impl GlobalAlloc for KernelHeap {
    /// A small block from its class's list; the rest out of line
    /// ([`Self::alloc_large`], [`Self::alloc_slow`]).
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout.size(), layout.align()) else { return self.alloc_large(layout) };
        // The lock (if taken: `SpinLock::with_lock_if_shared`) is given back here, before any slow path.
        let block = self.heap.with_lock_if_shared(|h| h.classes.pop(class, layout.size()));
        match block {
            Some(block) => block.as_ptr(),
            None => self.alloc_slow(layout),
        }
    }

    /// A small block back to its class's list; the rest out of line ([`Self::dealloc_large`]).
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: our caller passes a block this heap handed out (never null).
        let block = unsafe { NonNull::new_unchecked(ptr) };
        match class_of(layout.size(), layout.align()) {
            // SAFETY: a block this heap handed out for this layout: so one
            // the class gave for this size.
            Some(class) => self.heap.with_lock_if_shared(|h| unsafe { h.classes.push(block, class, layout.size()) }),
            // SAFETY: as above: one the buddy allocator gave for this layout.
            None => unsafe { self.dealloc_large(block, layout) },
        }
    }
}

impl KernelHeap {
    /// A block without a class, from the buddy allocator (if it has none,
    /// [`Self::alloc_slow`] gets the classes' free blocks back and tries
    /// again).
    #[inline(never)]
    fn alloc_large(&self, layout: Layout) -> *mut u8 {
        self.alloc_from_buddy(layout)
    }

    /// [`Self::alloc_large`]'s body, inline where it is called: also by the
    /// frame allocator, straight (a frame never has a class), so that a
    /// demand-zero fault pays nothing for the classes.
    #[inline(always)]
    fn alloc_from_buddy(&self, layout: Layout) -> *mut u8 {
        let block = self.heap.lock().buddy.alloc(layout);
        match block {
            Ok(p) => p.as_ptr(),
            Err(()) => self.alloc_slow(layout),
        }
    }

    /// A block for `layout` when its class had none (refilled from the
    /// buddy allocator) or it has no class (the buddy allocator's). If the
    /// buddy allocator has not enough, the classes' free blocks go back to
    /// it and it tries again; a failure then is recorded.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, layout: Layout) -> *mut u8 {
        let mut h = self.heap.lock();
        let block = h.alloc(layout).or_else(|| if h.reclaim() { h.alloc(layout) } else { None });
        if block.is_none() {
            let failed = Some((layout.size(), layout.align()));
            h.failure = failed;
            self.failed.store(true, Ordering::Relaxed);
            // And the running task's own record, which no other task's
            // failure overwrites (the heap's is the machine's report's).
            #[cfg(target_os = "none")]
            crate::sched::scheduler::with_running_task_alloc_failure(|r| r.set(failed));
        }
        block.map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    /// Gives a block without a class back to the buddy allocator.
    ///
    /// # Safety
    /// `block` came from the buddy allocator through [`Self::alloc_slow`] with `layout`.
    #[inline(never)]
    unsafe fn dealloc_large(&self, block: NonNull<u8>, layout: Layout) {
        // SAFETY: our caller's promise.
        unsafe { self.heap.lock().buddy.dealloc(block, layout) }
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
        unsafe { crate::mm::user_heap::UserHeap::get() }.alloc(layout, crate::syscall::user::free_under_limit)
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

    /// As [`alloc_large`], only if the buddy allocator has a block free now:
    /// no small blocks are reclaimed and no failure is recorded. For a
    /// request that is an optimization (a batch of frames), with a smaller
    /// one to fall back on.
    pub(crate) fn alloc_large_if_free(layout: Layout) -> Option<core::ptr::NonNull<u8>> {
        debug_assert!(super::class_of(layout.size(), layout.align()).is_none());
        HEAP.heap.lock().buddy.alloc(layout).ok()
    }

    /// Memory for `layout` (larger than every size class, as a frame is)
    /// from the kernel heap, straight from the buddy allocator: for the
    /// frame allocator, in kernel code. Freed with `alloc::alloc::dealloc`
    /// (which finds no class for it either). Null when there is none.
    pub(crate) fn alloc_large(layout: Layout) -> *mut u8 {
        debug_assert!(super::class_of(layout.size(), layout.align()).is_none());
        HEAP.alloc_from_buddy(layout)
    }

    /// The kernel heap's usage now.
    pub fn stats() -> HeapStats {
        HEAP.stats()
    }

    pub(crate) fn init(start: u64, size: u64) {
        // SAFETY: the caller (boot) passes the mapped RAM after the image, which
        // nothing else uses.
        unsafe { HEAP.add_memory(start as usize, size as usize) };
    }

    /// The size and alignment of the running task's last failed kernel
    /// allocation, forgotten once taken (by its panic handler, for
    /// `TaskFailure::OutOfKernelMemory`). A task's own: a task failing on
    /// another core at the same moment (or a fallible allocation failing
    /// there, `try_reserve`) once overwrote or took the one record of the
    /// whole heap, and a task ended naming another's size and alignment, or
    /// with a plain `Panic`. Outside a task: the heap's last failure.
    pub(crate) fn take_failure() -> Option<(usize, usize)> {
        crate::sched::scheduler::with_running_task_alloc_failure(core::cell::Cell::take)
            .unwrap_or_else(|| HEAP.take_failure())
    }

    /// As [`take_failure`], left for the panic handler to take.
    pub(crate) fn last_failure() -> Option<(usize, usize)> {
        crate::sched::scheduler::with_running_task_alloc_failure(core::cell::Cell::get)
            .unwrap_or_else(|| HEAP.last_failure())
    }

    /// After an allocation failure: say what failed and how the heap looks.
    pub(crate) fn report_failure_if_any() {
        if let Some((size, align)) = HEAP.last_failure() {
            let s = HEAP.stats();
            crate::console::write_fmt_emergency(format_args!(
                "out of memory: allocation of {size} bytes (align {align}) failed; heap: {} bytes total, {} in use ({} requested), {} free ({} of it in small blocks)\n",
                s.total, s.allocated, s.requested, s.free(), HEAP.cached()
            ));
        }
    }
}

#[cfg(test)]
mod tests;
