//! A counting semaphore: `acquire` takes a permit, waiting if there is none;
//! `release` gives one back, straight to the most urgent waiter if any.
//!
//! A semaphore has no owner: any task (or interrupt handler) may release
//! what another acquired, and signalling is its common use. So nothing
//! records who holds a permit, and one taken by a task that fails or is
//! killed before releasing it is not given back (as with POSIX and Zephyr
//! semaphores). What must come back when its holder fails belongs in a
//! `Mutex`, which its holder's end releases and poisons.

use crate::critical::{CriticalSection, KernelCell};
use crate::sched::tcb::WakeReason;
use crate::sched::wait_queue::WaitQueue;
use crate::time::{deadline_from_now, Duration, Instant};

pub struct Semaphore {
    permits: KernelCell<usize>,
    waiters: WaitQueue,
}

/// A release with `usize::MAX` permits free: one more would wrap the count
/// to 0 and lose them all. The caller fails instead, saying why (outside
/// the critical section: a task's panic ends only that task).
#[cold]
#[inline(never)]
fn too_many_permits() -> ! {
    panic!("Semaphore::release: usize::MAX permits are free already, no room for one more")
}

impl Semaphore {
    pub const fn new(permits: usize) -> Self {
        Self { permits: KernelCell::new(permits), waiters: WaitQueue::new() }
    }

    /// Takes a permit, waiting as long as it takes.
    pub fn acquire(&self) {
        self.acquire_until(None);
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> bool {
        let masked = CriticalSection::new();
        self.permits.with(&masked, |p| p.checked_sub(1).map(|left| *p = left)).is_some()
    }

    /// Takes a permit, waiting at most `timeout` (a timeout too long to
    /// represent waits forever); `false` if none came.
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.acquire_until(deadline_from_now(timeout))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        let masked = CriticalSection::new();
        if self.permits.with(&masked, |p| p.checked_sub(1).map(|left| *p = left)).is_some() {
            return true;
        }
        // `release` hands its permit to the woken waiter directly.
        self.waiters.wait(&masked, deadline.map(Instant::ticks), crate::trace::On::SEMAPHORE) == WakeReason::Notified
    }

    /// Gives a permit back (also from an interrupt handler). With
    /// `usize::MAX` permits free already, the caller fails with a panic
    /// that says so (the count never wraps to 0).
    ///
    /// Nobody waiting, the common case, is inlined into the caller: mask,
    /// count, unmask (about a dozen instructions on one core). A waiter
    /// takes the permit directly, out of line, and may be more urgent than
    /// the caller, so that path is a reschedule point. Nobody woken changes
    /// nothing the scheduler decides on: no reschedule point.
    #[inline]
    pub fn release(&self) {
        let masked = CriticalSection::new();
        if self.waiters.has_waiters(&masked) {
            self.waiters.wake_first_and_reschedule(&masked);
        } else if self.permits.with(&masked, |p| p.checked_add(1).map(|n| *p = n)).is_none() {
            drop(masked);
            too_many_permits();
        }
    }

    /// Free permits now.
    pub fn available(&self) -> usize {
        self.permits.with(&CriticalSection::new(), |p| *p)
    }
}
