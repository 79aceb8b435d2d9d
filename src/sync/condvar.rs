//! A condition variable, as `std::sync::Condvar`: wait (releasing a mutex)
//! until another task notifies.
//!
//! A notified waiter still has to take its mutex back before `wait`
//! returns, and may block for it. Killed meanwhile (`task::kill`), it
//! ends there, never acting on the notification it took: `notify_one`
//! would have woken nobody, and a waiter behind it would sleep on with
//! the condition true. So until it has the mutex back, the waiter records
//! the notification as its own (`Tcb::notified_by`), and a kill that ends
//! it there passes it on to the next waiter ([`pass_on_notification`]),
//! which then wakes as if spuriously, as a `Condvar` waiter may.

use super::mutex::MutexGuard;
use super::poison::{LockResult, PoisonError};
use crate::critical::CriticalSection;
use crate::sched::tcb::WakeReason;
use crate::sched::{scheduler, wait_queue::WaitQueue};
use crate::time::{deadline_from_now, Duration, Instant};

pub struct Condvar {
    waiters: WaitQueue,
}

/// Whether `wait_timeout` returned because the time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    pub const fn new() -> Self {
        Self { waiters: WaitQueue::new() }
    }

    /// Unlocks `guard`'s mutex, waits for a notification, locks it again.
    /// (As in std, a wakeup does not prove the condition: check it in a loop,
    /// or use [`Condvar::wait_while`].)
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until(guard, None).map(|(g, _)| g).map_err(|e| PoisonError::new(e.into_inner().0))
    }

    /// Waits while `condition` holds.
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Condvar::wait`], for at most `timeout`.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        self.wait_until(guard, deadline_from_now(timeout))
    }

    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let reason = {
            let masked = CriticalSection::new();
            // Queue ourselves and unlock in one critical section: no notify is lost in between.
            let mutex = guard.unlock_for_wait(&masked);
            let reason = self.waiters.wait(&masked, deadline.map(Instant::ticks), crate::trace::On::CONDVAR);
            if reason == WakeReason::Notified {
                // Ours until the mutex is back (see the module doc).
                scheduler::swap_running_notified_by(self as *const Condvar as *const ());
            }
            drop(masked);
            (mutex, reason)
        };
        let (mutex, reason) = reason;
        let timed_out = WaitTimeoutResult(reason == WakeReason::TimedOut);
        let relocked = mutex.lock();
        if reason == WakeReason::Notified {
            scheduler::swap_running_notified_by(core::ptr::null());
        }
        match relocked {
            Ok(g) => Ok((g, timed_out)),
            Err(e) => Err(PoisonError::new((e.into_inner(), timed_out))),
        }
    }

    /// Wakes the most urgent waiting task.
    pub fn notify_one(&self) {
        let masked = CriticalSection::new();
        self.waiters.wake_one(&masked);
        scheduler::reschedule_point(&masked);
    }

    /// Wakes every waiting task.
    pub fn notify_all(&self) {
        let masked = CriticalSection::new();
        self.waiters.wake_all(&masked);
        scheduler::reschedule_point(&masked);
    }
}

/// For a killed task as it ends (at a block or a yield): a notification
/// it took from a `Condvar` and had not acted on (it was taking its mutex
/// back) goes to the next waiter there, if any (see the module doc).
pub(crate) fn pass_on_notification() {
    let condvar = scheduler::swap_running_notified_by(core::ptr::null()) as *const Condvar;
    if !condvar.is_null() {
        // SAFETY: the task was inside that condvar's `wait` (it borrows the
        // condvar there, and never returns from it): alive.
        unsafe { &*condvar }.notify_one();
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Self::new()
    }
}
