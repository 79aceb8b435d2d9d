//! Task stacks: each task gets its own 1 MiB slot of kernel address space,
//! outside the linear map, with only its two stacks mapped in it.
//!
//! ```text
//! slot base                                                      slot base + 1 MiB
//! | guard 4K | kernel stack 8K | unmapped ...         | task stack (stack_size) |
//! ```
//!
//! The task runs on its task stack (SP_EL0); its exceptions and interrupts are
//! taken on its kernel stack (SP_EL1). Everything else in the slot is
//! unmapped, so running off the bottom of the task stack is a translation
//! fault with the fault address in the slot: a stack overflow, caught on the
//! kernel stack, which still works. Running off the kernel stack (a handler
//! that needs more than [`KERNEL_STACK_SIZE`]) lands in the guard page below
//! it, which the exception vector looks for (`vectors.s`): the machine stops
//! with a report. The memory behind the stacks comes from
//! the heap and goes back to it when the task is freed; slots are reused
//! last-freed first, so their translation tables are too.
//!
//! Mapping and unmapping cost more than the rest of a spawn together, so the
//! stacks of the last few freed tasks are kept mapped, ready for the next
//! spawn asking for the same size ([`recycle`], at most [`CACHED_STACKS`]).

use crate::arch::mmu::table::PAGE_SIZE;
use alloc::vec::Vec;

/// Where the slots start: above the linear map of any RAM a board has.
pub const WINDOW_BASE: u64 = 0xffff_fff0_0000_0000;
pub const SLOT_SIZE: u64 = 1 << 20;
/// Slots in the window (64 GiB up to the top of the address space).
pub const MAX_SLOTS: u32 = ((0u64.wrapping_sub(WINDOW_BASE)) / SLOT_SIZE) as u32;
pub const KERNEL_STACK_SIZE: u64 = 8 * 1024;
/// Where the kernel stack starts in a slot, above the guard page.
const KERNEL_STACK_OFFSET: u64 = PAGE_SIZE;
/// The largest thread-mode stack a slot holds (a kernel task's stack): the
/// slot minus the kernel stack and two guard pages.
pub const MAX_SLOT_STACK_SIZE: usize = (SLOT_SIZE - KERNEL_STACK_OFFSET - KERNEL_STACK_SIZE - PAGE_SIZE) as usize;
/// How many freed tasks' stacks are kept mapped for reuse.
pub const CACHED_STACKS: usize = 4;

/// Hands out slot numbers, most recently freed first.
pub struct SlotAllocator {
    free: Vec<u32>,
    never_used: u32,
    limit: u32,
}

impl SlotAllocator {
    pub const fn new(limit: u32) -> Self {
        Self { free: Vec::new(), never_used: 0, limit }
    }

    /// A free slot; `None` when all are taken, or when the heap has no room
    /// to remember one more slot for [`Self::free`].
    pub fn allocate(&mut self) -> Option<u32> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.never_used == self.limit {
            return None;
        }
        // Room for every slot handed out to come back: `free` never
        // allocates (it runs as a task is freed, or as a spawn fails for
        // want of memory, with interrupts masked).
        self.free.try_reserve(self.never_used as usize + 1).ok()?;
        self.never_used += 1;
        Some(self.never_used - 1)
    }

    pub fn free(&mut self, slot: u32) {
        debug_assert!(self.free.len() < self.free.capacity(), "room reserved by `allocate`");
        self.free.push(slot);
    }
}

/// The address of slot `slot`.
pub const fn slot_base(slot: u32) -> u64 {
    WINDOW_BASE + slot as u64 * SLOT_SIZE
}

#[cfg(target_os = "none")]
pub use target::*;

#[cfg(target_os = "none")]
mod target {
    use super::*;
    use crate::arch::fp::FpState;
    use crate::arch::mmu;
    use crate::critical::{CriticalSection, KernelCell};
    use alloc::alloc::{alloc, dealloc, Layout};
    use core::num::NonZeroU64;

    static SLOTS: KernelCell<SlotAllocator> = KernelCell::new(SlotAllocator::new(MAX_SLOTS));
    /// Recently freed stacks, and which entry to replace next when all are taken.
    struct Cache {
        entries: [Option<TaskStacks>; CACHED_STACKS],
        next_victim: usize,
    }

    static CACHE: KernelCell<Cache> =
        KernelCell::new(Cache { entries: [const { None }; CACHED_STACKS], next_victim: 0 });

    /// Gives back the stacks of a freed task: kept for reuse, in a free cache
    /// entry or else in place of the entry cached longest ago (whose stacks
    /// are then unmapped and freed).
    pub fn recycle(stacks: TaskStacks) {
        let masked = CriticalSection::new();
        let evicted = CACHE.with(&masked, |cache| {
            let index = match cache.entries.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    cache.next_victim = (cache.next_victim + 1) % CACHED_STACKS;
                    cache.next_victim
                }
            };
            cache.entries[index].replace(stacks)
        });
        drop(masked);
        drop(evicted);
    }

    /// Cached stacks with a task stack of `size` bytes, if any.
    fn from_cache(size: u64) -> Option<TaskStacks> {
        CACHE.with(&CriticalSection::new(), |cache| {
            cache.entries.iter_mut().find(|c| c.as_ref().is_some_and(|s| s.stack_size.get() == size))?.take()
        })
    }

    /// A task's two stacks, mapped in its slot.
    pub struct TaskStacks {
        slot: u32,
        stack: *mut u8,
        /// Never zero: that makes `Option<TaskStacks>` and `new`'s result
        /// no larger than `TaskStacks`, moved without a copy of a tag.
        stack_size: NonZeroU64,
        kernel_stack: *mut u8,
    }

    /// Why stacks could not be made.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct OutOfMemory;

    fn page_layout(size: u64) -> Layout {
        Layout::from_size_align(size as usize, PAGE_SIZE as usize).unwrap()
    }

    impl TaskStacks {
        /// Maps a kernel stack and a task stack of `stack_size` bytes (rounded
        /// up to pages; at most [`MAX_SLOT_STACK_SIZE`]) in a free slot.
        pub fn new(stack_size: usize) -> Result<Self, OutOfMemory> {
            let stack_size = (stack_size.clamp(1, MAX_SLOT_STACK_SIZE) as u64).next_multiple_of(PAGE_SIZE);
            let size = NonZeroU64::new(stack_size).ok_or(OutOfMemory)?; // at least a page
            if let Some(stacks) = from_cache(stack_size) {
                #[cfg(feature = "stack-watermark")]
                stacks.zero_task_stack();
                return Ok(stacks);
            }
            let slot = SLOTS.with(&CriticalSection::new(), |s| s.allocate()).ok_or(OutOfMemory)?;
            // SAFETY: non-zero sizes.
            let (stack, kernel_stack) =
                unsafe { (alloc(page_layout(stack_size)), alloc(page_layout(KERNEL_STACK_SIZE))) };
            let stacks = Self { slot, stack, stack_size: size, kernel_stack };
            if stack.is_null() || kernel_stack.is_null() {
                return Err(OutOfMemory); // `drop` frees what was allocated
            }
            let base = slot_base(slot);
            let pa = |p: *mut u8| mmu::virt_to_phys(p as u64);
            // The task stack first: in a slot whose translation table is
            // new, its pages (the larger run) are written without being
            // read (a table made for that mapping), the kernel stack's two
            // after them.
            mmu::map_kernel_data(stacks.stack_bottom(), pa(stack), stack_size)
                .and_then(|_| mmu::map_kernel_data(base + KERNEL_STACK_OFFSET, pa(kernel_stack), KERNEL_STACK_SIZE))
                .map_err(|_| OutOfMemory)?;
            #[cfg(feature = "stack-watermark")]
            stacks.zero_task_stack();
            Ok(stacks)
        }

        /// Zeroes the task stack, so that [`Self::high_water`] can tell the
        /// words the task used (about 40 instructions per KiB, with `DC ZVA`).
        #[cfg(feature = "stack-watermark")]
        fn zero_task_stack(&self) {
            for page in (0..self.stack_size.get()).step_by(PAGE_SIZE as usize) {
                // SAFETY: the stack's memory, page aligned, ours alone (no task runs on it yet).
                unsafe { crate::arch::cpu::zero_page(self.stack.add(page as usize)) };
            }
        }

        /// How deep the task stack has been, in bytes from its top, if its
        /// page `k` (counted from the bottom) holds the deepest word written:
        /// it started zeroed (see [`crate::mm::first_used_word`]). `None`:
        /// the page is all zeros, there is no such page, or nothing zeroed
        /// the stack (without the `stack-watermark` feature).
        pub fn depth_in_page(&self, k: usize) -> Option<u64> {
            if !cfg!(feature = "stack-watermark") || k as u64 >= self.pages() {
                return None;
            }
            let page = k * PAGE_SIZE as usize;
            // SAFETY: page `k` of the stack's memory, alive while `self` is.
            let offset = unsafe { crate::mm::first_used_word(self.stack.add(page)) }?;
            Some(self.stack_size.get() - (page + offset) as u64)
        }

        /// The task stack's size in pages (see [`Self::depth_in_page`]).
        pub fn pages(&self) -> u64 {
            self.stack_size.get() / PAGE_SIZE
        }

        /// The task stack's size in bytes.
        pub fn size(&self) -> usize {
            self.stack_size.get() as usize
        }

        pub fn stack_top(&self) -> u64 {
            slot_base(self.slot) + SLOT_SIZE
        }

        pub fn stack_bottom(&self) -> u64 {
            self.stack_top() - self.stack_size.get()
        }

        /// Where the kernel stack starts (it grows down): just below the
        /// room for the task's FP/SIMD registers at the top of its pages.
        pub fn kernel_stack_top(&self) -> u64 {
            self.fp_save_area() as u64
        }

        /// Room for the task's FP/SIMD registers when another task takes
        /// the core's (`arch::fp`): the top of the kernel stack's pages,
        /// mapped as long as the task is alive, and never copied.
        pub fn fp_save_area(&self) -> *mut FpState {
            (self.kernel_stack_end() - core::mem::size_of::<FpState>() as u64) as *mut FpState
        }

        fn kernel_stack_end(&self) -> u64 {
            slot_base(self.slot) + KERNEL_STACK_OFFSET + KERNEL_STACK_SIZE
        }

        /// Is `addr` below this task stack, in the unmapped part of the slot?
        pub fn is_overflow_address(&self, addr: u64) -> bool {
            (self.kernel_stack_end()..self.stack_bottom()).contains(&addr)
        }
    }

    impl Drop for TaskStacks {
        fn drop(&mut self) {
            // Unmapping what is not mapped is fine: this also cleans up after a failed `new`.
            let _ = mmu::unmap_kernel_pages(slot_base(self.slot) + KERNEL_STACK_OFFSET, KERNEL_STACK_SIZE);
            let _ = mmu::unmap_kernel_pages(self.stack_bottom(), self.stack_size.get());
            // SAFETY: allocated in `new` with these layouts (null ones are skipped).
            unsafe {
                if !self.stack.is_null() {
                    dealloc(self.stack, page_layout(self.stack_size.get()));
                }
                if !self.kernel_stack.is_null() {
                    dealloc(self.kernel_stack, page_layout(KERNEL_STACK_SIZE));
                }
            }
            SLOTS.with(&CriticalSection::new(), |s| s.free(self.slot));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_last_freed_first_and_bounded() {
        let mut s = SlotAllocator::new(3);
        assert_eq!([s.allocate(), s.allocate(), s.allocate(), s.allocate()], [Some(0), Some(1), Some(2), None]);
        s.free(1);
        s.free(0);
        assert_eq!([s.allocate(), s.allocate(), s.allocate()], [Some(0), Some(1), None]);
    }

    #[test]
    fn freeing_slots_never_allocates() {
        let mut s = SlotAllocator::new(100);
        let slots: Vec<u32> = (0..100).map(|_| s.allocate().unwrap()).collect();
        let capacity = s.free.capacity();
        assert!(capacity >= 100);
        for slot in slots {
            s.free(slot);
        }
        assert_eq!(s.free.capacity(), capacity, "room was reserved as the slots were handed out");
    }

    #[test]
    fn the_window_fits_in_the_upper_half() {
        assert_eq!(MAX_SLOTS, 65536);
        assert_eq!(slot_base(MAX_SLOTS - 1) + (SLOT_SIZE - 1), u64::MAX);
        assert_eq!(MAX_SLOT_STACK_SIZE, (1 << 20) - 16 * 1024);
    }
}
