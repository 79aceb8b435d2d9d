//! The ARMv8-A MMU: descriptor encoding, table building, and (on the target)
//! switching the kernel onto the tables built at boot.

pub mod descriptor;
mod lanes;
mod map_error;
pub mod table;

#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
pub use kernel::*;
