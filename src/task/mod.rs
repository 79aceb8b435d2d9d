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
//! says which (`join_timeout` waits at most so long, and gives the handle
//! back if the task is still running). Its memory is freed when it has ended and its `JoinHandle`
//! has been joined or dropped: its control block, stacks, name, closure
//! packet, failure and (isolated) address space and handles; the paths
//! that end a task without returning drop what they made themselves (the
//! `Task` named in a report, the message) first. Values a failed kernel
//! task had on its stack (including what its closure captured) are the
//! application's and are leaked, not dropped: ilusion does not unwind. So a
//! `Box` or `Vec` there is lost, a `JoinHandle` keeps its task's control
//! block, a channel endpoint is never seen to go, a `MutexGuard` is
//! released by the OS (the mutex is poisoned). An isolated task's memory is
//! all in its address space, freed whole.
//!
//! Out of kernel memory, a task's own allocation that cannot fail
//! gracefully ends it with [`TaskFailure::OutOfKernelMemory`]; the OS's
//! allocations on its behalf are errors instead ([`SpawnError::OutOfMemory`],
//! `ipc::ChannelError::OutOfMemory`). Reporting a failure allocates nothing
//! ([`PanicMessage`] is inline).

//!
//! The modules, each using only those before it: `grants` (what an
//! isolated task is given), `builder` ([`Builder`], [`SpawnError`]),
//! `ending` (how a task ends, and the failure paths of the panic and
//! exception handlers), `spawn` (kernel tasks, [`JoinHandle`]), `isolated`
//! (tasks at EL0), `isolated_fault` (what their faults do), `park`, then [`restart`] (supervision).

pub mod failure;
mod name;
pub mod restart;
pub mod stats;

/// What a [`TaskFailure`] carries, for matching on it.
pub use crate::arch::esr::{Extension, FaultAccess};
pub use crate::arch::privileged::{Privileged, SystemEncoding};
pub use crate::sched::priority::Priority;
#[cfg(target_os = "none")]
pub(crate) use failure::is_allocation_failure;
pub use failure::{PanicMessage, TaskFailure};
pub(crate) use name::Printable;
pub use name::TaskName;
pub use restart::*;
pub use stats::{CpuStats, KillError, TaskInfo, TaskMemory, TaskState};

#[cfg(target_os = "none")]
pub use on_target::*;

/// The modules that only make sense on the machine.
#[cfg(target_os = "none")]
mod on_target {
    pub use super::address_space_view::{address_space_maps, dump_address_space, dump_address_space_of, dump_maps};
    pub use super::builder::{Builder, SpawnError};
    pub(crate) use super::ending::{
        fail_current, fail_on_panic, fault_in_task, how_it_ended, is_stack_overflow_address, panicking_task,
        RunningTask,
    };
    pub(crate) use super::inspect::{cpu_stats, end_if_killed, init as init_kills};
    pub use super::inspect::{kill, list, stats};
    pub use super::isolated::DEFAULT_USER_STACK_SIZE;
    pub(crate) use super::isolated::{
        current_memory_usage, exit_isolated, map_granted_region, with_current_handles, with_current_handles_mut,
    };
    pub(crate) use super::isolated_fault::fail_isolated;
    pub(crate) use super::isolation_paths::{copy_fault as user_copy_fault, user_fault as isolated_fault};
    pub use super::park::park;
    pub use super::spawn::{cpus_online, current, current_cpu, spawn, yield_now, JoinHandle, Task, DEFAULT_STACK_SIZE};
}

#[cfg(target_os = "none")]
mod address_space_view;
#[cfg(target_os = "none")]
mod builder;
#[cfg(target_os = "none")]
mod ending;
#[cfg(target_os = "none")]
mod grants;
#[cfg(target_os = "none")]
mod inspect;
#[cfg(target_os = "none")]
mod isolated;
#[cfg(target_os = "none")]
mod isolated_fault;
#[cfg(target_os = "none")]
mod isolation_paths;
#[cfg(target_os = "none")]
mod park;
#[cfg(target_os = "none")]
mod spawn;
