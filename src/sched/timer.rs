//! The timer comparator's one owner: sleeping, timeouts, time slices and
//! the periodic handler, on a tickless timer.
//!
//! Every core has a timer of its own (the generic timer's comparator is
//! per core), and here a record of its own: a task with a deadline
//! (sleeping, or waiting with a timeout) goes on the list of the core it
//! was running on, ordered by deadline. Each core's comparator is
//! programmed ([`rearm`], the only code that programs it) for the next
//! moment something must happen on that core: its earliest deadline, the
//! end of its running task's time slice if it is preemptive, or the
//! periodic handler's next period (on the core that set it). There is no
//! periodic tick: an idle core takes no interrupts. A wake that comes first
//! takes the task off its core's list from any core; that core's
//! comparator may then fire for nothing, and is reprogrammed.
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
    use crate::critical::{CriticalSection, KernelCell};
    use crate::percpu::{self, PerCpu, MAX_CPUS};
    use crate::sched::list::List;
    use crate::sched::scheduler;
    use crate::sched::tcb::{State, Tcb, TimerLinks, WakeReason};
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicBool, Ordering};

    struct Timers {
        sleepers: List<TimerLinks>,
        /// When the running task's slice ends (`u64::MAX`: it has none).
        slice_end: u64,
        /// What the comparator is programmed for (`u64::MAX`: off), so
        /// that a new slice ending later than that leaves it alone.
        armed_at: u64,
        slice_ticks: u64,
        /// The periodic handler, its period (0: none) and its next deadline.
        periodic: Option<fn()>,
        period_ticks: u64,
        next_period: u64,
    }

    const NO_TIMERS: Timers = Timers {
        sleepers: List::new(),
        slice_end: u64::MAX,
        armed_at: u64::MAX,
        slice_ticks: 0,
        periodic: None,
        period_ticks: 0,
        next_period: 0,
    };

    /// Each core's record.
    static TIMERS: KernelCell<PerCpu<Timers>> = KernelCell::new(PerCpu::new([NO_TIMERS; MAX_CPUS]));

    /// Runs `f` on this core's record.
    #[inline]
    fn mine<R>(cs: &CriticalSection, f: impl FnOnce(&mut Timers) -> R) -> R {
        TIMERS.with(cs, |all| f(all.of_mut(percpu::cpu_index())))
    }

    /// At boot: the comparator off until something needs it.
    pub(crate) fn init() {
        cpu::stop_timer();
    }

    /// The longest slice, in counter ticks: 146 years at 1 GHz (a longer
    /// one would never end anyway), so that the end of a slice, "now" plus at
    /// most this, needs no overflow check on the switch path.
    const MAX_SLICE_TICKS: u64 = 1 << 62;

    /// Sets the length of a time slice, in counter ticks (at least one, at
    /// most [`MAX_SLICE_TICKS`]). Once, at boot: what a preempted task had
    /// used of its slice (`Tcb::slice_used`) is less than this.
    pub(crate) fn set_slice(masked: &CriticalSection, slice_ticks: u64) {
        let ticks = slice_ticks.clamp(1, MAX_SLICE_TICKS);
        TIMERS.with(masked, |all| (0..MAX_CPUS).for_each(|cpu| all.of_mut(cpu).slice_ticks = ticks));
    }

    /// Programs this core's comparator for the earliest of what is waiting for it:
    /// the first sleeper's deadline, the end of the slice, the next period.
    /// Nothing waiting: timer off.
    #[inline]
    fn rearm(masked: &CriticalSection) {
        rearm_core(masked, percpu::cpu_index());
    }

    /// [`rearm`], for a caller that knows it runs on core `this_cpu`.
    #[inline]
    fn rearm_core(masked: &CriticalSection, this_cpu: usize) {
        let next = TIMERS.with(masked, |all| {
            let t = all.of_mut(this_cpu);
            // SAFETY: tasks on the timer list are alive.
            let sleeper = t.sleepers.front().map_or(u64::MAX, |s| unsafe { s.as_ref() }.deadline.get());
            let periodic = if t.period_ticks != 0 { t.next_period } else { u64::MAX };
            t.armed_at = sleeper.min(t.slice_end).min(periodic);
            t.armed_at
        });
        if next == u64::MAX {
            cpu::stop_timer();
        } else {
            cpu::set_timer_deadline(next);
        }
    }

    /// Starts the slice of `next`, which is about to run on core `this_cpu`
    /// (the caller's): what was left of it if a more urgent task preempted
    /// it, else a whole one.
    ///
    /// The comparator is programmed lazily: only when it would fire *after*
    /// the new slice ends (or is off). If it fires earlier, for the end of
    /// a slice that has since been replaced, the interrupt finds the slice
    /// not over and programs it for what comes next: at most one such early
    /// interrupt per slice length, instead of a comparator write on every
    /// switch between time-sliced tasks (BENCHMARKS.md, issue 14).
    #[inline]
    pub(crate) fn start_slice(masked: &CriticalSection, this_cpu: usize, next: &Tcb, now: u64) {
        let sliced = next.level.is_sliced();
        let fires_too_late = TIMERS.with(masked, |all| {
            let t = all.of_mut(this_cpu);
            t.slice_end = match sliced {
                // What it had used when it was preempted (`pause_slice`),
                // less than a slice; read only here, for a sliced task (for
                // another it is 0, or stale from before a change of priority
                // and harmless: at most a slice). No overflow: a slice is at
                // most `MAX_SLICE_TICKS`.
                true => now + (t.slice_ticks - next.slice_used.replace(0)),
                false => u64::MAX,
            };
            t.slice_end < t.armed_at
        });
        if fires_too_late {
            rearm_core(masked, this_cpu);
        }
    }

    /// The running task `task` (on core `this_cpu`, the caller's) is
    /// preempted by a more urgent one before its slice ended, at counter
    /// `now`: it keeps what is left (at least one tick) for when it runs
    /// again, so a task woken often cannot give its less urgent peers fresh
    /// slices and starve their equals.
    #[inline(always)]
    pub(crate) fn pause_slice(masked: &CriticalSection, this_cpu: usize, task: &Tcb, now: u64) {
        let (end, ticks) = TIMERS.with(masked, |all| {
            let t = all.of_mut(this_cpu);
            (t.slice_end, t.slice_ticks)
        });
        // What it used, `ticks - (end - now)`, leaving at least one tick
        // (`end` is at most `ticks` after the slice began, so the
        // difference is not negative); 0 with no slice (`end` is
        // `u64::MAX`). No overflow: a slice is at most `MAX_SLICE_TICKS`.
        task.slice_used.set((now + ticks).saturating_sub(end).min(ticks - 1));
    }

    /// Puts `task` on this core's timer list until `deadline`.
    ///
    /// # Safety
    /// `task` is alive and on no timer list; it stays alive until taken off.
    pub(crate) unsafe fn add(masked: &CriticalSection, task: NonNull<Tcb>, deadline: u64) {
        // SAFETY: forwarded from our caller.
        let first = mine(masked, |t| unsafe {
            task.as_ref().deadline.set(deadline);
            task.as_ref().timer_cpu.set(percpu::cpu_index() as u8);
            t.sleepers.insert_ordered(task, |a, b| a.deadline.get() < b.deadline.get());
            t.sleepers.front() == Some(task)
        });
        if first {
            rearm(masked);
        }
    }

    /// Takes `task` off its timer list (whichever core's), if it is on one.
    ///
    /// # Safety
    /// `task` is alive.
    #[inline(always)]
    pub(crate) unsafe fn cancel(masked: &CriticalSection, task: NonNull<Tcb>) {
        // SAFETY: `task` is alive (our caller's promise). (The look is
        // inlined: most waits have no deadline.)
        if unsafe { task.as_ref() }.timer_links.is_linked() {
            // SAFETY: as above.
            unsafe { take_off_timer_list(masked, task) };
        }
    }

    /// [`cancel`] for a task that is on a timer list.
    ///
    /// # Safety
    /// `task` is alive and on a timer list.
    #[inline(never)]
    unsafe fn take_off_timer_list(masked: &CriticalSection, task: NonNull<Tcb>) {
        // SAFETY: `task` is alive and linked through `timer_links`: on the
        // list of the core `timer_cpu` names.
        TIMERS.with(masked, |all| unsafe {
            all.of_mut(task.as_ref().timer_cpu.get() as usize).sleepers.remove(task);
        });
    }

    /// Calls `handler` (in interrupt context, on this core) every
    /// `period_ticks`, starting one period from now, replacing any previous
    /// periodic handler (on any core); returns once the one replaced is
    /// not running on another core ([`wait_for_stopped_handlers`]).
    pub(crate) fn set_periodic(period_ticks: u64, handler: fn()) {
        let masked = CriticalSection::new();
        let next = cpu::counter().saturating_add(period_ticks);
        OVERRUN_REPORTED.store(false, Ordering::Relaxed);
        TIMERS.with(&masked, |all| (0..MAX_CPUS).for_each(|c| all.of_mut(c).period_ticks = 0));
        mine(&masked, |t| {
            t.periodic = Some(handler);
            t.period_ticks = period_ticks.max(1);
            t.next_period = next;
        });
        rearm(&masked);
        wait_for_stopped_handlers(masked);
    }

    /// Stops the periodic timer; returns once its handler is not running
    /// on another core ([`wait_for_stopped_handlers`]).
    pub(crate) fn stop_periodic() {
        let masked = CriticalSection::new();
        TIMERS.with(&masked, |all| (0..MAX_CPUS).for_each(|c| all.of_mut(c).period_ticks = 0));
        rearm(&masked);
        wait_for_stopped_handlers(masked);
    }

    /// Per core: is the periodic handler running there? Set, with the
    /// kernel lock held, by the timer interrupt that picks the handler to
    /// call; cleared when the handler returns (it runs outside the
    /// critical section: it is application code).
    static HANDLER_RUNNING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

    /// After `set_periodic` or `stop_periodic` changed the periods in
    /// `masked` (which ends here): waits until no core runs a periodic
    /// handler picked before, so that the caller, once it returns, may tear
    /// down what the old handler used. A handler that had been picked on
    /// another core ran on after the call returned, for as long as it took,
    /// and a stopped handler could even begin then (picked just before the
    /// stop, called just after). A handler picked later is the new one,
    /// on the caller's core, which cannot be in an interrupt handler while
    /// its task runs here. Not from an interrupt handler (a handler that
    /// stops itself would wait for itself) nor inside a critical section
    /// or with interrupts masked (a spin lock held: a handler that takes it
    /// would wait for the caller): those return at once, as with one core,
    /// where no handler can run meanwhile.
    fn wait_for_stopped_handlers(masked: CriticalSection) {
        let wait = crate::critical::several_cores()
            && crate::critical::kernel_lock_depth(&masked) == 1
            && !cpu::in_exception_handler();
        drop(masked);
        if wait && cpu::interrupts_enabled() {
            for running in &HANDLER_RUNNING {
                // Acquire: what the handler wrote is seen after it.
                while running.load(Ordering::Acquire) {
                    core::hint::spin_loop();
                }
            }
        }
    }

    /// A core's timer interrupt: the periodic handler if its period is up,
    /// then every task on this core's list whose deadline has passed is
    /// woken and an expired slice noted; then the comparator is programmed
    /// for what comes next. (The periodic handler runs outside the critical
    /// section: it is application code.)
    pub(crate) fn interrupt(_: crate::irq::IntId) {
        let here = percpu::cpu_index();
        let mut masked = CriticalSection::new();
        let now = cpu::counter();
        let handler = TIMERS.with(&masked, |all| {
            let t = all.of_mut(here);
            if t.period_ticks == 0 || t.next_period > now {
                return None;
            }
            t.next_period = next_periodic_deadline(t.next_period, t.period_ticks, now);
            // Under the kernel lock: a stop that takes it after us sees it.
            HANDLER_RUNNING[here].store(t.periodic.is_some(), Ordering::Relaxed);
            t.periodic
        });
        if let Some(handler) = handler {
            drop(masked);
            handler();
            HANDLER_RUNNING[here].store(false, Ordering::Release);
            masked = CriticalSection::new();
            if let Some((took, period)) = skip_overrun_periods(&masked, here, now) {
                // Reported outside the critical section: a console line is slow.
                drop(masked);
                report_overrun(took, period);
                masked = CriticalSection::new();
            }
        }
        wake_sleepers(&masked, here, now);
        rearm_core(&masked, here);
    }

    /// After the periodic handler, which started at `started`: if it ran
    /// past its next deadline, that deadline moves on to the next period
    /// still ahead (the phase kept). Left in the past, the comparator fired
    /// again as the interrupt ended, and a handler longer than its period
    /// left its core nothing but the handler: every task there stopped for
    /// good, silently. The first overrun after a `set_periodic` is to be
    /// reported: how long the handler took, and the period, in ticks.
    fn skip_overrun_periods(masked: &CriticalSection, here: usize, started: u64) -> Option<(u64, u64)> {
        let after = cpu::counter();
        let period = TIMERS.with(masked, |all| {
            let t = all.of_mut(here);
            // (A handler that set a new period, or stopped it, has nothing overrun.)
            let overran = t.period_ticks != 0 && t.next_period <= after;
            if overran {
                t.next_period = next_periodic_deadline(t.next_period, t.period_ticks, after);
            }
            overran.then_some(t.period_ticks)
        })?;
        (!OVERRUN_REPORTED.swap(true, Ordering::Relaxed)).then_some((after - started, period))
    }

    /// Whether an overrun of the periodic handler was reported since the last `set_periodic`.
    static OVERRUN_REPORTED: AtomicBool = AtomicBool::new(false);

    /// Says once that the periodic handler ran into its next period (out
    /// of line: the formatting stays off the timer interrupt's path).
    #[cold]
    #[inline(never)]
    fn report_overrun(took: u64, period: u64) {
        let hz = crate::time::frequency();
        log::warn!(
            "the periodic handler ran past its next period (it took {}µs, its period is {}µs): the periods it overran are skipped",
            crate::time::ticks_to_micros(took, hz),
            crate::time::ticks_to_micros(period, hz)
        );
    }

    /// Wakes every task on core `here`'s list whose deadline has passed;
    /// notes an expired slice.
    fn wake_sleepers(masked: &CriticalSection, here: usize, now: u64) {
        loop {
            let due = TIMERS.with(masked, |all| {
                let t = all.of_mut(here);
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
        let slice_over = TIMERS.with(masked, |all| {
            let t = all.of_mut(here);
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
