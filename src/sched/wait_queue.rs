//! Wait queues: the one way a task blocks.
//!
//! Every blocking operation in ilusion (`join`, `Mutex::lock`,
//! `Semaphore::acquire`, `Condvar::wait`, channel `send`/`recv`) checks its
//! condition with interrupts masked and, if it has to wait, puts the task on
//! a `WaitQueue` and switches away. Whoever changes the condition wakes one
//! or all waiters. Waiters are kept most urgent first (FIFO among equals),
//! so a wake always goes to the most urgent waiter. A wait may have a
//! deadline: the task is then also on the timer list, and whichever comes
//! first (a wake or the deadline) takes it off both. A queue may name what
//! must happen when the deadline wins ([`WaitQueue::with_timeout_hook`]: a
//! mutex's waiter takes back the urgency it lent), so the timer, below the
//! blocking operations, need not know them.

use super::list::List;
use super::tcb::{QueueLinks, State, Tcb, WakeReason};
use super::{scheduler, timer};
use crate::critical::CriticalSection;
use core::cell::UnsafeCell;
use core::ptr::NonNull;

pub struct WaitQueue {
    waiters: UnsafeCell<List<QueueLinks>>,
    /// Called for a waiter whose deadline came first, as the timer takes it
    /// off this queue (before it is made ready).
    on_timeout: Option<fn(&CriticalSection, &Tcb)>,
}

// SAFETY: the list is only touched with interrupts masked (an
// `CriticalSection` token is required), on one core.
unsafe impl Sync for WaitQueue {}
// SAFETY: as above; the queue holds no thread-bound data.
unsafe impl Send for WaitQueue {}

impl WaitQueue {
    pub const fn new() -> Self {
        Self { waiters: UnsafeCell::new(List::new()), on_timeout: None }
    }

    /// A queue that calls `on_timeout` for each waiter whose deadline comes
    /// before a wake, as the timer takes it off the queue.
    pub const fn with_timeout_hook(on_timeout: fn(&CriticalSection, &Tcb)) -> Self {
        Self { waiters: UnsafeCell::new(List::new()), on_timeout: Some(on_timeout) }
    }

    fn with_list<R>(&self, _: &CriticalSection, f: impl FnOnce(&mut List<QueueLinks>) -> R) -> R {
        // SAFETY: interrupts are masked on the one core, and the closures
        // passed here neither nest nor switch: the borrow is unique.
        f(unsafe { &mut *self.waiters.get() })
    }

    #[inline]
    pub fn has_waiters(&self, masked: &CriticalSection) -> bool {
        !self.with_list(masked, |l| l.is_empty())
    }

    /// Blocks the running task on this queue until woken, or until the
    /// counter reaches `deadline` (`None` or `u64::MAX`: no deadline; one
    /// already passed: `TimedOut` at once, without blocking). The caller
    /// checked its condition under the same `masked`; interrupts stay
    /// masked on return.
    pub fn wait(&self, masked: &CriticalSection, deadline: Option<u64>, on: crate::trace::On) -> WakeReason {
        let Some(me) = self.enqueue_running(masked, deadline) else { return WakeReason::TimedOut };
        scheduler::block(masked, me, on);
        me.wake_reason.get()
    }

    /// [`Self::wait`] for a waiter that has begun something a kill must
    /// undo: killed, the task does not end in the wait but gets
    /// `WakeReason::Cancelled`, off the queue, and must undo it and end
    /// (`scheduler::block_unless_killed`).
    pub fn wait_unless_killed(
        &self,
        masked: &CriticalSection,
        deadline: Option<u64>,
        on: crate::trace::On,
    ) -> WakeReason {
        let Some(me) = self.enqueue_running(masked, deadline) else { return WakeReason::TimedOut };
        match scheduler::block_unless_killed(masked, me, on) {
            true => me.wake_reason.get(),
            false => WakeReason::Cancelled,
        }
    }

    /// Puts the running task on this queue, and on the timer list until
    /// `deadline` (`None` or `u64::MAX`: none); `None` if the deadline has
    /// passed (then nothing is queued).
    #[inline(always)]
    fn enqueue_running<'a>(&self, masked: &'a CriticalSection, deadline: Option<u64>) -> Option<&'a Tcb> {
        let deadline = deadline.filter(|&d| d != u64::MAX);
        if deadline.is_some_and(|d| d <= crate::arch::cpu::counter()) {
            return None;
        }
        let me = scheduler::running(masked);
        // SAFETY: the running task goes on this queue (and maybe the timer
        // list) and comes off before it runs again.
        unsafe {
            self.insert(masked, NonNull::from(me));
            if let Some(deadline) = deadline {
                timer::add(masked, NonNull::from(me), deadline);
            }
        }
        Some(me)
    }

    /// Puts `task` on the queue, ordered by urgency.
    ///
    /// # Safety
    /// `task` is alive and on no queue.
    pub unsafe fn insert(&self, masked: &CriticalSection, task: NonNull<Tcb>) {
        // SAFETY: the caller promises `task` is alive and unqueued.
        unsafe {
            task.as_ref().waiting_on.set(Some(NonNull::from(self)));
            self.with_list(masked, |l| l.insert_ordered(task, |a, b| a.level.get() < b.level.get()));
        }
    }

    /// Takes `task` off this queue (a timeout, or its priority changed).
    ///
    /// # Safety
    /// `task` is on this queue.
    pub unsafe fn remove(&self, masked: &CriticalSection, task: NonNull<Tcb>) {
        // SAFETY: promised by our caller.
        unsafe {
            self.with_list(masked, |l| l.remove(task));
            task.as_ref().waiting_on.set(None);
        }
    }

    /// For the timer: takes `task`, whose deadline has come, off this queue,
    /// and runs the queue's timeout hook for it.
    ///
    /// # Safety
    /// `task` is on this queue.
    pub(super) unsafe fn remove_timed_out(&self, masked: &CriticalSection, task: NonNull<Tcb>) {
        // SAFETY: promised by our caller.
        unsafe { self.remove(masked, task) };
        if let Some(on_timeout) = self.on_timeout {
            // SAFETY: as above: a waiter is alive.
            on_timeout(masked, unsafe { task.as_ref() });
        }
    }

    /// The most urgent waiter, still on the queue.
    pub fn first(&self, masked: &CriticalSection) -> Option<NonNull<Tcb>> {
        self.with_list(masked, |l| l.front())
    }

    /// Wakes the most urgent waiter; returns it. (Nobody waiting, the
    /// common case of a send or a release, costs a load and a branch here.)
    #[inline]
    pub fn wake_one(&self, masked: &CriticalSection) -> Option<NonNull<Tcb>> {
        if !self.has_waiters(masked) {
            return None;
        }
        self.wake_first(masked)
    }

    #[inline(never)]
    fn wake_first(&self, masked: &CriticalSection) -> Option<NonNull<Tcb>> {
        let task = self.take_first(masked)?;
        // SAFETY: a waiter is alive, and now on no queue.
        unsafe { scheduler::make_ready(masked, task) };
        Some(task)
    }

    /// [`WaitQueue::wake_one`] then, if it woke a waiter, a reschedule
    /// point ([`scheduler::reschedule_point`]), for a waker with nothing
    /// left to do but return: a waiter more urgent than the running task is
    /// switched to directly, without going through a ready queue
    /// ([`scheduler::wake_and_reschedule`]). Returns whether one was woken;
    /// nobody waiting changes nothing (no reschedule point).
    #[inline]
    pub fn wake_one_and_reschedule(&self, masked: &CriticalSection) -> bool {
        if !self.has_waiters(masked) {
            return false;
        }
        self.wake_first_and_reschedule(masked);
        true
    }

    /// [`WaitQueue::wake_one_and_reschedule`] for a caller that has seen a
    /// waiter under `masked` (out of line: the path of a wake).
    #[inline(never)]
    pub fn wake_first_and_reschedule(&self, masked: &CriticalSection) {
        if let Some(task) = self.take_first(masked) {
            // SAFETY: a waiter is alive, and now on no queue.
            unsafe { scheduler::wake_and_reschedule(masked, task) };
        }
    }

    /// Takes the most urgent waiter off the queue (and off the timer
    /// list), woken by a notification: for the caller to make it ready.
    #[inline(always)]
    fn take_first(&self, masked: &CriticalSection) -> Option<NonNull<Tcb>> {
        let task = self.with_list(masked, |l| l.pop_front())?;
        // SAFETY: tasks on a wait queue are alive (they are blocked, not freed).
        unsafe {
            task.as_ref().waiting_on.set(None);
            timer::cancel(masked, task);
            task.as_ref().wake_reason.set(WakeReason::Notified);
            debug_assert_eq!(task.as_ref().state.get(), State::Blocked);
        }
        Some(task)
    }

    /// Wakes every waiter; returns how many.
    #[inline]
    pub fn wake_all(&self, masked: &CriticalSection) -> usize {
        let mut n = 0;
        while self.wake_one(masked).is_some() {
            n += 1;
        }
        n
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}
