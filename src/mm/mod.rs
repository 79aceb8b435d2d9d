//! Memory management: the kernel's memory map and heap, and the memory of
//! isolated tasks.
//!
//! - [`layout`]: which physical ranges the kernel maps where, with what
//!   permissions (the architecture's MMU code turns this into tables);
//! - [`heap`]: the global allocator over the RAM the image does not use,
//!   with [`size_classes`] in front of it for small blocks;
//! - `heapsort`: sorting in place on a small, fixed stack (an address
//!   space's frames, sorted as it is freed, on a small kernel stack);
//! - [`block_pool`]: pools of fixed-size blocks for applications
//!   ([`BlockPool`]), taken from the heap once;
//! - [`frames`]: the page frames isolated tasks' memory is made of, with a
//!   pool of freed ones kept back for the next address space;
//! - [`asid`]: address-space identifiers for tagging TLB entries (isolated tasks);
//! - [`user_layout`]: the virtual layout every isolated task sees;
//! - [`user_heap`]: the allocator of an isolated task's heap, in its own memory;
//! - `address_space`: an isolated task's own lower half, built from frames;
//! - `shared_region`: memory mapped into several isolated tasks on purpose,
//!   also built from frames;
//! - [`mapping_table`]: the rows of [`dump`](fn@dump), a table of one
//!   isolated task's mappings, and of [`dump_maps`] / [`maps`], the same
//!   address space as framed text for the host tool `tools/trace`
//!   (`just maps` draws it).
//!
//! Imports go one way: `address_space` and `shared_region` both take frames
//! from `frames`; `address_space` holds `SharedRegion`s, never the reverse.

pub mod asid;
pub mod block_pool;
pub mod frames;
pub mod heap;
pub(crate) mod heapsort;
pub mod layout;
pub mod mapping_table;
pub mod size_classes;
pub mod user_heap;
pub mod user_layout;

pub use block_pool::{Block, BlockPool, PoolError};

/// The size of a page and of a frame: the MMU's 4 KiB translation granule.
pub use crate::arch::mmu::table::PAGE_SIZE;

// Built on the target only: they map memory through the MMU.
#[cfg(target_os = "none")]
pub mod address_space;
#[cfg(target_os = "none")]
pub mod shared_region;
#[cfg(target_os = "none")]
pub use {
    crate::task::address_space_maps as maps,
    crate::task::dump_address_space as dump,
    crate::task::dump_maps,
    frames::{frames_in_use, pooled_frames},
    shared_region::{Access, RegionError, SharedMemory, SharedRegion},
};

/// Where the lowest word of the page at `page` that is not zero starts, in
/// bytes from the page's start; `None` if the whole page is zeros. Stacks
/// start zeroed and grow down, so on a stack's deepest page that was used
/// this is how far down it went: `task::stats` scans a stack bottom up, one
/// page at a time, for its high-water mark. The words are read volatile: the
/// task may be writing them meanwhile (on another core).
///
/// # Safety
/// `page` is the start of `PAGE_SIZE` readable bytes, 8-byte aligned.
pub unsafe fn first_used_word(page: *const u8) -> Option<usize> {
    let words = page as *const u64;
    // SAFETY: the caller's promise: a page of readable, aligned words.
    (0..(PAGE_SIZE / 8) as usize).find(|&i| unsafe { words.add(i).read_volatile() } != 0).map(|i| 8 * i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(4096))]
    struct Page([u64; PAGE_SIZE as usize / 8]);

    #[test]
    fn the_lowest_word_used_in_a_page_or_none() {
        let mut page = Page([0; PAGE_SIZE as usize / 8]);
        // SAFETY: `page` is a page of aligned words.
        let first_used = |page: &Page| unsafe { first_used_word(page.0.as_ptr() as *const u8) };
        assert_eq!(first_used(&page), None);
        page.0[511] = 1;
        assert_eq!(first_used(&page), Some(4088));
        page.0[7] = u64::MAX;
        assert_eq!(first_used(&page), Some(56));
        page.0[0] = 1 << 63;
        assert_eq!(first_used(&page), Some(0));
    }
}
