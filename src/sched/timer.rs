//! The timer comparator's one owner: sleeping, timeouts, time slices and
//! the periodic handler, on a tickless timer.
//!
//! Tasks with a deadline (sleeping, or waiting with a timeout) are on one
//! list ordered by deadline. The generic timer's comparator is programmed
//! ([`rearm`], the only code that programs it) for the next moment
//! something must happen: the earliest deadline, the end of the running
//! task's time slice if it is preemptive, or the periodic handler's next
//! period. There is no periodic tick: an idle system takes no interrupts.
//!
//! Everything here counts in counter ticks; `crate::time` above turns
//! `Duration`s and `Instant`s into ticks and calls down here.

/// The periodic timer's deadline after `previous` (which has come): the
/// next multiple of `period` after it that is still ahead of `now`. Periods
/// missed while the handler or masked code ran too long are skipped, not
/// caught up in a burst; the phase is kept (no drift). Saturates at
/// `u64::MAX` (never).
pub fn next_periodic_deadline(previous: u64, period: u64, now: u64) -> u64 {
    let period = period.max(1);
    let Some(next) = previous.checked_add(period) else { return u64::MAX };
    if next > now {
        return next;
    }
    let missed = (now - next) / period + 1;
    missed.checked_mul(period).and_then(|skip| next.checked_add(skip)).unwrap_or(u64::MAX)
}

#[cfg(target_os = "none")]
pub(crate) use target::*;

#[cfg(target_os = "none")]
mod target {
    use super::next_periodic_deadline;
    use crate::arch::cpu;
    use crate::critical::{CpuCell, InterruptsMasked};
    use crate::sched::list::List;
    use crate::sched::priority::{is_preemptive, IDLE_LEVEL};
    use crate::sched::scheduler;
    use crate::sched::tcb::{State, Tcb, TimerLinks, WakeReason};
    use core::ptr::NonNull;

    struct Timers {
        sleepers: List<TimerLinks>,
        /// When the running task's slice ends (`u64::MAX`: it has none).
        slice_end: u64,
        slice_ticks: u64,
        /// The periodic handler, its period (0: none) and its next deadline.
        periodic: Option<fn()>,
        period_ticks: u64,
        next_period: u64,
    }

    static TIMERS: CpuCell<Timers> = CpuCell::new(Timers {
        sleepers: List::new(),
        slice_end: u64::MAX,
        slice_ticks: 0,
        periodic: None,
        period_ticks: 0,
        next_period: 0,
    });

    /// At boot: the comparator off until something needs it.
    pub(crate) fn init() {
        cpu::stop_timer();
    }

    /// Sets the length of a time slice, in counter ticks (at least one).
    pub(crate) fn set_slice(masked: &InterruptsMasked, slice_ticks: u64) {
        TIMERS.with(masked, |t| t.slice_ticks = slice_ticks.max(1));
    }

    /// Programs the comparator for the earliest of what is waiting for it:
    /// the first sleeper's deadline, the end of the slice, the next period.
    /// Nothing waiting: timer off.
    #[inline]
    fn rearm(masked: &InterruptsMasked) {
        let next = TIMERS.with(masked, |t| {
            // SAFETY: tasks on the timer list are alive.
            let sleeper = t.sleepers.front().map_or(u64::MAX, |s| unsafe { s.as_ref() }.deadline.get());
            let periodic = if t.period_ticks != 0 { t.next_period } else { u64::MAX };
            sleeper.min(t.slice_end).min(periodic)
        });
        if next == u64::MAX {
            cpu::stop_timer();
        } else {
            cpu::set_timer_deadline(next);
        }
    }

    /// Starts the slice of `next`, which is about to run: what was left of it
    /// if a more urgent task preempted it, else a whole one.
    #[inline]
    pub(crate) fn start_slice(masked: &InterruptsMasked, next: &Tcb) {
        let level = next.level.get();
        let left = next.slice_left.replace(0);
        if is_preemptive(level) && level != IDLE_LEVEL {
            let now = cpu::counter();
            TIMERS.with(masked, |t| t.slice_end = now.saturating_add(if left != 0 { left } else { t.slice_ticks }));
            rearm(masked);
        } else {
            TIMERS.with(masked, |t| t.slice_end = u64::MAX);
        }
    }

    /// The running task `task` is preempted by a more urgent one before its
    /// slice ended: it keeps what is left (at least one tick) for when it runs
    /// again, so a task woken often cannot give its less urgent peers fresh
    /// slices and starve their equals.
    pub(crate) fn pause_slice(masked: &InterruptsMasked, task: &Tcb) {
        let now = cpu::counter();
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
            rearm(masked);
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

    /// Calls `handler` (in interrupt context) every `period_ticks`, starting
    /// one period from now, replacing any previous periodic handler.
    pub(crate) fn set_periodic(period_ticks: u64, handler: fn()) {
        let masked = InterruptsMasked::new();
        let next = cpu::counter().saturating_add(period_ticks);
        TIMERS.with(&masked, |t| {
            t.periodic = Some(handler);
            t.period_ticks = period_ticks.max(1);
            t.next_period = next;
        });
        rearm(&masked);
    }

    /// Stops the periodic timer.
    pub(crate) fn stop_periodic() {
        let masked = InterruptsMasked::new();
        TIMERS.with(&masked, |t| t.period_ticks = 0);
        rearm(&masked);
    }

    /// The timer's interrupt: the periodic handler if its period is up, then
    /// every task whose deadline has passed is woken and an expired slice
    /// noted; then the comparator is programmed for what comes next.
    pub(crate) fn interrupt(_: crate::irq::IntId) {
        // SAFETY: interrupt handlers run with interrupts masked.
        let masked = unsafe { InterruptsMasked::assume() };
        let now = cpu::counter();
        let handler = TIMERS.with(&masked, |t| {
            let due = t.period_ticks != 0 && t.next_period <= now;
            if due {
                t.next_period = next_periodic_deadline(t.next_period, t.period_ticks, now);
            }
            t.periodic.filter(|_| due)
        });
        if let Some(handler) = handler {
            handler();
        }
        wake_sleepers(&masked, now);
        rearm(&masked);
        core::mem::forget(masked);
    }

    /// Wakes every task whose deadline has passed; notes an expired slice.
    fn wake_sleepers(masked: &InterruptsMasked, now: u64) {
        loop {
            let due = TIMERS.with(masked, |t| {
                let first = t.sleepers.front()?;
                // SAFETY: tasks on the timer list are alive.
                (unsafe { first.as_ref() }.deadline.get() <= now).then(|| t.sleepers.pop_front()).flatten()
            });
            let Some(task) = due else { break };
            // SAFETY: it was on the timer list, so it is alive and blocked
            // (and on the wait queue it names, if any).
            unsafe {
                let t = task.as_ref();
                if let Some(queue) = t.waiting_on.get() {
                    queue.as_ref().remove_timed_out(masked, task);
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_deadlines_skip_missed_periods_and_saturate() {
        assert_eq!(next_periodic_deadline(1000, 100, 1000), 1100, "on time");
        assert_eq!(next_periodic_deadline(1000, 100, 1099), 1100);
        assert_eq!(next_periodic_deadline(1000, 100, 1100), 1200, "one missed: skipped");
        assert_eq!(next_periodic_deadline(1000, 100, 1750), 1800, "phase kept");
        assert_eq!(next_periodic_deadline(1000, 0, 5000), 5001, "a zero period counts as one tick");
        assert_eq!(next_periodic_deadline(1000, u64::MAX, 1000), u64::MAX, "never");
        assert_eq!(next_periodic_deadline(u64::MAX - 5, 10, u64::MAX - 5), u64::MAX);
        assert_eq!(next_periodic_deadline(10, u64::MAX / 2, u64::MAX - 1), u64::MAX);
        assert_eq!(next_periodic_deadline(0, 3, u64::MAX - 1), u64::MAX, "no multiple left: never");
    }
}
