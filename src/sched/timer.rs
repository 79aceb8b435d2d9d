//! Sleeping and timeouts, on a tickless timer.
//!
//! Tasks with a deadline (sleeping, or waiting with a timeout) are on one
//! list ordered by deadline. The generic timer is programmed for the next
//! moment something must happen: the earliest deadline, or the end of the
//! running task's time slice if it is preemptive. There is no periodic tick:
//! an idle system takes no interrupts.

use super::list::List;
use super::priority::{is_preemptive, IDLE_LEVEL};
use super::scheduler;
use super::tcb::{State, Tcb, TimerLinks, WakeReason};
use crate::critical::{CpuCell, InterruptsMasked};
use core::ptr::NonNull;

struct Timers {
    sleepers: List<TimerLinks>,
    /// When the running task's slice ends (`u64::MAX`: it has none).
    slice_end: u64,
    slice_ticks: u64,
}

static TIMERS: CpuCell<Timers> = CpuCell::new(Timers { sleepers: List::new(), slice_end: u64::MAX, slice_ticks: 0 });

pub(crate) fn init(masked: &InterruptsMasked, slice: core::time::Duration) {
    let ticks = crate::time::duration_to_ticks(slice, crate::time::frequency()).max(1);
    TIMERS.with(masked, |t| t.slice_ticks = ticks);
}

/// The next deadline the timer must be programmed for.
pub(crate) fn next_deadline(masked: &InterruptsMasked) -> u64 {
    TIMERS.with(masked, |t| {
        // SAFETY: tasks on the timer list are alive.
        let sleeper = t.sleepers.front().map_or(u64::MAX, |s| unsafe { s.as_ref() }.deadline.get());
        sleeper.min(t.slice_end)
    })
}

/// Starts the slice of `next`, which is about to run: what was left of it
/// if a more urgent task preempted it, else a whole one.
#[inline]
pub(crate) fn start_slice(masked: &InterruptsMasked, next: &Tcb) {
    let level = next.level.get();
    let left = next.slice_left.replace(0);
    if is_preemptive(level) && level != IDLE_LEVEL {
        let now = crate::arch::cpu::counter();
        TIMERS.with(masked, |t| t.slice_end = now.saturating_add(if left != 0 { left } else { t.slice_ticks }));
        crate::time::rearm(masked);
    } else {
        TIMERS.with(masked, |t| t.slice_end = u64::MAX);
    }
}

/// The running task `task` is preempted by a more urgent one before its
/// slice ended: it keeps what is left (at least one tick) for when it runs
/// again, so a task woken often cannot give its less urgent peers fresh
/// slices and starve their equals.
pub(crate) fn pause_slice(masked: &InterruptsMasked, task: &Tcb) {
    let now = crate::arch::cpu::counter();
    let end = TIMERS.with(masked, |t| t.slice_end);
    task.slice_left.set(if end == u64::MAX { 0 } else { end.saturating_sub(now).max(1) });
}

/// Puts `task` on the timer list until `deadline`.
///
/// # Safety
/// `task` is alive and not on the timer list; it stays alive until taken off.
pub(crate) unsafe fn add(masked: &InterruptsMasked, task: NonNull<Tcb>, deadline: u64) {
    // SAFETY: forwarded from our caller.
    let first = TIMERS.with(masked, |t| unsafe {
        task.as_ref().deadline.set(deadline);
        t.sleepers.insert_ordered(task, |a, b| a.deadline.get() < b.deadline.get());
        t.sleepers.front() == Some(task)
    });
    if first {
        crate::time::rearm(masked);
    }
}

/// Takes `task` off the timer list, if it is on it.
///
/// # Safety
/// `task` is alive.
pub(crate) unsafe fn cancel(masked: &InterruptsMasked, task: NonNull<Tcb>) {
    // SAFETY: `task` is alive; if linked through `timer_links`, it is on this list.
    TIMERS.with(masked, |t| unsafe {
        if task.as_ref().timer_links.is_linked() {
            t.sleepers.remove(task);
        }
    });
}

/// The timer interrupt's part for the scheduler: wake every task whose
/// deadline has passed, and note an expired slice.
pub(crate) fn expire(masked: &InterruptsMasked, now: u64) {
    loop {
        let due = TIMERS.with(masked, |t| {
            let first = t.sleepers.front()?;
            // SAFETY: tasks on the timer list are alive.
            (unsafe { first.as_ref() }.deadline.get() <= now).then(|| t.sleepers.pop_front()).flatten()
        });
        let Some(task) = due else { break };
        // SAFETY: it was on the timer list, so it is alive and blocked.
        unsafe {
            let t = task.as_ref();
            if let Some(queue) = t.waiting_on.get() {
                queue.as_ref().remove(masked, task);
            }
            // A mutex waiter takes back the urgency it lent (as `exit_current`
            // releases mutexes, the one call from here into `sync`).
            crate::sync::mutex::withdraw_waiter(masked, task);
            t.wake_reason.set(WakeReason::TimedOut);
            debug_assert_eq!(t.state.get(), State::Blocked);
            scheduler::make_ready(masked, task);
        }
    }
    let slice_over = TIMERS.with(masked, |t| {
        let over = now >= t.slice_end;
        if over {
            t.slice_end = now.saturating_add(t.slice_ticks);
        }
        over
    });
    if slice_over {
        scheduler::slice_expired(masked);
    }
}
