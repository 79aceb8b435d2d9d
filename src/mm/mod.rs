//! Memory management: the kernel's memory map and heap, and the memory of
//! isolated tasks.
//!
//! - [`layout`]: which physical ranges the kernel maps where, with what
//!   permissions (the architecture's MMU code turns this into tables);
//! - [`heap`]: the global allocator over the RAM the image does not use,
//!   with [`size_classes`] in front of it for small blocks;
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
