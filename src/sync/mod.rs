//! Blocking synchronization between tasks, shaped like `std::sync`:
//! [`Mutex`] (with priority inheritance and poisoning), [`Semaphore`],
//! [`Condvar`] and [`mpsc`] channels.
//!
//! Every blocking call has a timed form (`Mutex::lock_timeout`,
//! `Semaphore::acquire_timeout`, `Condvar::wait_timeout`,
//! `Receiver::recv_timeout`, `SyncSender::send_timeout`); `Duration::MAX`
//! waits forever.
//!
//! Everything that blocks does it through one mechanism, the scheduler's
//! wait queue (`sched::wait_queue`): check the condition with interrupts
//! masked, and if it does not hold, queue the task and switch away. Only
//! the uncontended `Mutex` paths avoid masking, with one atomic instruction
//! pair each way. None of this may be used from an interrupt handler,
//! except the non-blocking `Semaphore::release`, `Condvar::notify_*` and
//! channel `send` on unbounded channels: a handler that would block (here,
//! or in `time::sleep`, `join`, `park`) stops the machine with a report
//! (`scheduler::block_on`), since nothing could wake it.

mod poison;
pub use poison::{LockResult, PoisonError, TryLockError, TryLockResult};

#[cfg(target_os = "none")]
pub use on_target::*;

/// What only makes sense on the machine: everything that blocks.
#[cfg(target_os = "none")]
mod on_target {
    pub use super::condvar::{Condvar, WaitTimeoutResult};
    pub use super::mutex::{Mutex, MutexGuard};
    pub use super::semaphore::Semaphore;
}

#[cfg(target_os = "none")]
pub(crate) mod condvar;
#[cfg(target_os = "none")]
pub mod mpsc;
#[cfg(target_os = "none")]
pub(crate) mod mutex;
#[cfg(target_os = "none")]
mod semaphore;
