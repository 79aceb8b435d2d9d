//! Memory management: the kernel's memory map and its heap.
//!
//! - [`layout`]: which physical ranges the kernel maps where, with what
//!   permissions (the architecture's MMU code turns this into tables);
//! - [`heap`]: the global allocator over the RAM the image does not use;
//! - [`asid`]: address-space identifiers for tagging TLB entries (isolated tasks).

pub mod asid;
pub mod heap;
pub mod layout;
