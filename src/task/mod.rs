//! Tasks, shaped like `std::thread`: [`spawn`], [`Builder`], [`JoinHandle`],
//! [`yield_now`], [`current`], and suspend/resume as [`park`] and
//! [`JoinHandle::unpark`].
//!
//! ```ignore
//! let h = ilusion::task::spawn(|| 6 * 7);
//! assert_eq!(h.join(), Ok(42));
//! ```
//!
//! Each task has its own stacks (mapped with guard pages, see
//! `sched::stack`), a [`Priority`], and ends by returning, or by failing
//! (panic, fault, stack overflow) without taking the others down; `join`
//! says which. Its memory is freed when it has ended and its `JoinHandle`
//! has been joined or dropped. Values a failed task had on its stack
//! (including what its closure captured) are leaked, not dropped: ilusion
//! does not unwind.

pub mod failure;
mod name;
pub mod restart;

pub use crate::sched::priority::Priority;
pub use failure::{PanicMessage, TaskFailure};
pub use name::TaskName;
pub use restart::*;

#[cfg(target_os = "none")]
mod grants;
#[cfg(target_os = "none")]
mod isolated;
#[cfg(target_os = "none")]
mod spawn;
#[cfg(target_os = "none")]
pub use isolated::dump_address_space;
#[cfg(target_os = "none")]
pub use isolated::DEFAULT_USER_STACK_SIZE;
#[cfg(target_os = "none")]
pub(crate) use isolated::{
    current_memory_usage, demand_page, exit_isolated, isolated_failure, map_granted_region, with_current_handles,
    DemandPaging,
};
#[cfg(target_os = "none")]
mod park;
#[cfg(target_os = "none")]
pub use park::park;
#[cfg(target_os = "none")]
pub use spawn::*;
