//! A condition variable, as `std::sync::Condvar`: wait (releasing a mutex)
//! until another task notifies.

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
            drop(masked);
            (mutex, reason)
        };
        let (mutex, reason) = reason;
        let timed_out = WaitTimeoutResult(reason == WakeReason::TimedOut);
        match mutex.lock() {
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

impl Default for Condvar {
    fn default() -> Self {
        Self::new()
    }
}
