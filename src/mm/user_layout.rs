//! The virtual layout every isolated task sees in its lower half (TTBR0).
//!
//! All isolated tasks get the same addresses: a task cannot tell from its
//! pointers which task it is, and the kernel decides from an address alone
//! which segment it belongs to. Code and constants are not here: they stay
//! in the kernel image, in the upper half (see docs/02-virtualizing-memory.md).
//!
//! ```text
//! 0x0000_0000_0000_0000  unmapped (null pointers fault)
//! HEAP_STATE             one page: the task's heap allocator (see mm::user_heap)
//! ARGS_BASE              the closure's captured state, copied at spawn
//! HEAP_BASE              heap reserve (HEAP_RESERVE bytes by default), backed on demand
//! SHARED_BASE            shared regions granted at spawn (SHARED_RESERVE bytes)
//! stack_bottom - GUARD   guard region, never mapped
//! stack_bottom..STACK_TOP the stack, growing down
//! ```

use super::PAGE_SIZE;

/// Where the closure's captured state is copied.
pub const ARGS_BASE: u64 = 0x0000_0000_0010_0000;
/// The largest closure state an isolated task accepts.
pub const ARGS_MAX: u64 = 64 * 1024;
/// The page holding the task's heap allocator (its free lists and break),
/// just below the closure's state: it shares that area's translation tables.
pub const HEAP_STATE: u64 = ARGS_BASE - PAGE_SIZE;
/// The base of the heap segment.
pub const HEAP_BASE: u64 = 0x0000_0001_0000_0000;
/// The heap's default virtual reserve.
pub const HEAP_RESERVE: u64 = 1 << 30;
/// Where the shared regions granted to a task are mapped, one after the other.
pub const SHARED_BASE: u64 = 0x0000_0030_0000_0000;
/// The room for shared regions in one task.
pub const SHARED_RESERVE: u64 = 16 << 30;
/// The largest heap reserve: up to the shared regions.
pub const HEAP_RESERVE_MAX: u64 = SHARED_BASE - HEAP_BASE;
/// The physical memory (frames of pages and translation tables) an isolated
/// task may hold unless its `Builder` says otherwise.
pub const DEFAULT_MEMORY_LIMIT: u64 = 16 << 20;
/// The top of every isolated task's stack (it grows down from here).
pub const STACK_TOP: u64 = 0x0000_0040_0000_0000;
/// The never-mapped region below the stack: a push there is a stack overflow.
pub const STACK_GUARD: u64 = 64 * 1024;
/// The largest stack an isolated task may have.
pub const MAX_USER_STACK_SIZE: u64 = 8 << 20;

/// `bytes` rounded up to whole pages.
pub const fn page_align_up(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// The lowest address of a stack of `size` bytes (rounded up to pages).
pub const fn stack_bottom(size: u64) -> u64 {
    STACK_TOP - page_align_up(size)
}

/// Is `addr` in the guard region below a stack of `size` bytes?
pub fn is_stack_guard(addr: u64, size: u64) -> bool {
    let bottom = stack_bottom(size);
    (bottom - STACK_GUARD..bottom).contains(&addr)
}

/// Is `addr` in memory that is backed on demand (a zeroed frame on first
/// touch): the heap state page, or the heap reserve of `heap_reserve` bytes?
pub fn is_demand_zero(addr: u64, heap_reserve: u64) -> bool {
    (HEAP_STATE..HEAP_STATE + PAGE_SIZE).contains(&addr) || (addr >= HEAP_BASE && addr - HEAP_BASE < heap_reserve)
}

/// Checks a heap reserve asked for at spawn: a whole number of pages, at
/// least one, at most [`HEAP_RESERVE_MAX`]. Returns it, or the largest allowed.
pub fn check_heap_reserve(bytes: u64) -> Result<u64, u64> {
    if bytes == 0 || bytes > HEAP_RESERVE_MAX || !bytes.is_multiple_of(PAGE_SIZE) {
        return Err(HEAP_RESERVE_MAX);
    }
    Ok(bytes)
}

/// Which segment of an isolated task an address belongs to (for reports and `mm::dump`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    HeapState,
    Args,
    Heap,
    Shared,
    StackGuard,
    Stack,
    /// A kernel (upper-half) address.
    Kernel,
    /// Nothing is ever mapped there.
    Unmapped,
}

/// The segment of `addr` in an isolated task with a stack of `stack_size`
/// bytes (`Heap` covers the largest reserve; a task's own may be smaller).
pub fn segment_of(addr: u64, stack_size: u64) -> Segment {
    if addr >= 1 << 39 {
        Segment::Kernel
    } else if (HEAP_STATE..ARGS_BASE).contains(&addr) {
        Segment::HeapState
    } else if (ARGS_BASE..ARGS_BASE + ARGS_MAX).contains(&addr) {
        Segment::Args
    } else if (HEAP_BASE..HEAP_BASE + HEAP_RESERVE_MAX).contains(&addr) {
        Segment::Heap
    } else if (SHARED_BASE..SHARED_BASE + SHARED_RESERVE).contains(&addr) {
        Segment::Shared
    } else if is_stack_guard(addr, stack_size) {
        Segment::StackGuard
    } else if (stack_bottom(stack_size)..STACK_TOP).contains(&addr) {
        Segment::Stack
    } else {
        Segment::Unmapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_do_not_overlap_and_fit_in_the_lower_half() {
        const {
            assert!(ARGS_BASE + ARGS_MAX <= HEAP_BASE);
            assert!(HEAP_RESERVE <= HEAP_RESERVE_MAX);
            assert!(HEAP_BASE + HEAP_RESERVE_MAX <= SHARED_BASE);
            assert!(SHARED_BASE + SHARED_RESERVE <= stack_bottom(MAX_USER_STACK_SIZE) - STACK_GUARD);
            assert!(HEAP_STATE >= PAGE_SIZE);
            assert!(STACK_TOP <= 1 << 39);
            assert!(ARGS_BASE.is_multiple_of(PAGE_SIZE) && HEAP_BASE.is_multiple_of(PAGE_SIZE));
        }
    }

    #[test]
    fn stacks_are_page_rounded_with_a_guard_below() {
        assert_eq!(stack_bottom(1), STACK_TOP - PAGE_SIZE);
        assert_eq!(stack_bottom(16 * 1024), STACK_TOP - 16 * 1024);
        let bottom = stack_bottom(16 * 1024);
        assert!(is_stack_guard(bottom - 8, 16 * 1024));
        assert!(is_stack_guard(bottom - STACK_GUARD, 16 * 1024));
        assert!(!is_stack_guard(bottom, 16 * 1024));
        assert!(!is_stack_guard(bottom - STACK_GUARD - 1, 16 * 1024));
    }

    #[test]
    fn demand_zero_is_the_heap_state_page_and_the_reserve() {
        let reserve = 1 << 30;
        assert!(is_demand_zero(HEAP_STATE, reserve));
        assert!(is_demand_zero(HEAP_STATE + PAGE_SIZE - 1, reserve));
        assert!(!is_demand_zero(HEAP_STATE - 1, reserve));
        assert!(!is_demand_zero(ARGS_BASE, reserve));
        assert!(is_demand_zero(HEAP_BASE, reserve));
        assert!(is_demand_zero(HEAP_BASE + reserve - 1, reserve));
        assert!(!is_demand_zero(HEAP_BASE + reserve, reserve));
        assert!(!is_demand_zero(HEAP_BASE - 1, reserve));
        assert!(!is_demand_zero(STACK_TOP - 8, reserve));
        assert!(!is_demand_zero(u64::MAX, reserve));
        assert!(!is_demand_zero(0, reserve));
    }

    #[test]
    fn heap_reserves_are_checked() {
        assert_eq!(check_heap_reserve(HEAP_RESERVE), Ok(HEAP_RESERVE));
        assert_eq!(check_heap_reserve(PAGE_SIZE), Ok(PAGE_SIZE));
        assert_eq!(check_heap_reserve(HEAP_RESERVE_MAX), Ok(HEAP_RESERVE_MAX));
        assert_eq!(check_heap_reserve(0), Err(HEAP_RESERVE_MAX));
        assert_eq!(check_heap_reserve(PAGE_SIZE + 1), Err(HEAP_RESERVE_MAX));
        assert_eq!(check_heap_reserve(HEAP_RESERVE_MAX + PAGE_SIZE), Err(HEAP_RESERVE_MAX));
    }

    #[test]
    fn addresses_map_to_segments() {
        let size = 16 * 1024;
        assert_eq!(segment_of(0, size), Segment::Unmapped);
        assert_eq!(segment_of(ARGS_BASE + 8, size), Segment::Args);
        assert_eq!(segment_of(HEAP_STATE, size), Segment::HeapState);
        assert_eq!(segment_of(HEAP_BASE + HEAP_RESERVE_MAX - 1, size), Segment::Heap);
        assert_eq!(segment_of(HEAP_BASE + HEAP_RESERVE_MAX, size), Segment::Shared);
        assert_eq!(segment_of(SHARED_BASE + SHARED_RESERVE, size), Segment::Unmapped);
        assert_eq!(segment_of(HEAP_BASE + 4096 * 3, size), Segment::Heap);
        assert_eq!(segment_of(SHARED_BASE + 4096, size), Segment::Shared);
        assert_eq!(segment_of(STACK_TOP - 8, size), Segment::Stack);
        assert_eq!(segment_of(STACK_TOP, size), Segment::Unmapped);
        assert_eq!(segment_of(stack_bottom(size) - 1, size), Segment::StackGuard);
        assert_eq!(segment_of(0xffff_ff80_4008_0000, size), Segment::Kernel);
    }
}
