//! Memory management: the kernel's memory map and its heap.
//!
//! - [`layout`]: which physical ranges the kernel maps where, with what
//!   permissions (the architecture's MMU code turns this into tables);
//! - [`heap`]: the global allocator over the RAM the image does not use;
//! - [`asid`]: address-space identifiers for tagging TLB entries (isolated tasks);
//! - [`user_layout`]: the virtual layout every isolated task sees;
//! - [`user_heap`]: the allocator of an isolated task's heap, in its own memory;
//! - `address_space`: an isolated task's own lower half and its frames;
//! - [`frame_pool`]: freed frames kept back for the next address space;
//! - `shared_region`: memory mapped into several isolated tasks on purpose;
//! - [`dump`](fn@dump): a table of one isolated task's mappings.

pub mod asid;
pub mod frame_pool;
pub mod heap;
pub mod layout;
pub mod user_heap;
pub mod user_layout;

#[cfg(target_os = "none")]
pub mod address_space;
#[cfg(target_os = "none")]
pub use crate::task::dump_address_space as dump;
#[cfg(target_os = "none")]
pub use address_space::{frames_in_use, pooled_frames};
#[cfg(target_os = "none")]
pub mod shared_region;
#[cfg(target_os = "none")]
pub use shared_region::{Access, RegionError, SharedMemory, SharedRegion};
pub mod mapping_table;
