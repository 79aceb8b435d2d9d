//! Where a task becomes ready: a wake ([`make_ready`], [`wake`]) queues
//! it and asks the core that should run it to reschedule (a woken task
//! that would run next at once is handed straight over: on one core, or on
//! several when it is pinned to the waker's core); a new
//! task is admitted ([`admit`]); a task's level changes ([`set_level`],
//! priority inheritance) and it moves in its queue.

use super::give_way::reschedule_point_on;
use super::switch::{requeue_current, switch_to_at};
use super::{ask, running, NEED_RESCHED, SCHED};
use crate::critical::{self, CriticalSection};
use crate::percpu;
use crate::sched::priority::{is_preemptive, Level};
use crate::sched::tcb::{State, TaskCounters, Tcb};
use crate::trace::{self, Why};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

/// Queues `task`, which the running task is not, as ready, and asks the
/// core that should run it to reschedule.
///
/// # Safety
/// `task` is alive and on no queue.
#[inline]
pub(crate) unsafe fn make_ready(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: promised by our caller.
    trace::wake(unsafe { task.as_ref() }.id);
    // SAFETY: forwarded from our caller.
    unsafe {
        if critical::several_cores() {
            make_ready_on::<true>(cs, task)
        } else {
            make_ready_on::<false>(cs, task)
        }
    }
}

/// [`make_ready`] then [`reschedule_point`](super::reschedule_point): a task woken by its waker,
/// which gives way to it at once if it is more urgent.
///
/// # Safety
/// As for [`make_ready`].
#[inline]
pub(crate) unsafe fn wake_and_reschedule(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: forwarded from our caller.
    unsafe {
        if critical::several_cores() {
            wake::<true>(cs, task)
        } else {
            wake::<false>(cs, task)
        }
    }
}

/// [`wake_and_reschedule`], for a caller that has looked at the number of
/// cores already (`MANY`).
///
/// # Safety
/// As for [`make_ready`].
#[inline(always)]
pub(crate) unsafe fn wake<const MANY: bool>(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: promised by our caller.
    trace::wake(unsafe { task.as_ref() }.id);
    if MANY {
        let here = percpu::cpu_index();
        // SAFETY: forwarded from our caller.
        let pinned_here = unsafe { task.as_ref() }.cpus == 1 << here;
        // SAFETY: forwarded from our caller.
        if pinned_here && !crate::arch::cpu::in_exception_handler() && unsafe { hand_off_pinned_here(cs, task, here) } {
            return;
        }
    } else {
        if crate::arch::cpu::in_exception_handler() {
            // An interrupt handler (or an isolated task's system call): its
            // end is the reschedule point.
            // SAFETY: forwarded from our caller.
            return unsafe { make_ready_in_handler(cs, task) };
        }
        // SAFETY: forwarded from our caller.
        if unsafe { hand_off(cs, task) } {
            return;
        }
    }
    // SAFETY: forwarded from our caller.
    unsafe { make_ready_on::<MANY>(cs, task) };
    reschedule_point_on::<MANY>(cs, if MANY { percpu::cpu_index() } else { 0 });
}

/// One core: is the woken task `t` the one the next reschedule point would
/// pick, at once? Yes if it is more urgent than the running task (at
/// `my_level`), which is preemptive, and no reschedule is pending (so no
/// ready task is as urgent as `t`). Then it can be switched to straight
/// away, never passing through a ready queue: the queueing, the decision
/// and the pick are skipped ([`hand_off`] in a task,
/// [`make_ready_in_handler`] in a handler; BENCHMARKS.md, session 18).
#[inline(always)]
fn runs_next(t: &Tcb, my_level: Level) -> bool {
    t.level.get() < my_level && is_preemptive(my_level) && !NEED_RESCHED.of(0).load(Ordering::Relaxed)
}

/// One core, in an exception handler: [`make_ready_on`], or, if `task`
/// [`runs_next`], it is handed over ([`Scheduler::handed`](super::Scheduler::handed)): the handler's
/// end switches straight to it.
///
/// # Safety
/// As for [`make_ready`].
#[inline(always)]
unsafe fn make_ready_in_handler(cs: &CriticalSection, task: NonNull<Tcb>) {
    let my_level = running(cs).level.get();
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    if runs_next(t, my_level) {
        t.state.set(State::Ready);
        TaskCounters::bump(&t.counters.woken);
        SCHED.with(cs, |s| s.handed = Some(task));
        NEED_RESCHED.of(0).store(true, Ordering::Relaxed);
        return;
    }
    // SAFETY: forwarded from our caller.
    unsafe { make_ready_on::<false>(cs, task) }
}

/// One core, in a task (not in an exception handler): if the woken `task`
/// [`runs_next`], the running task goes back in front of its level, as a
/// preempted one, and the switch goes straight to `task`. Else nothing is
/// done (`false`).
///
/// # Safety
/// As for [`make_ready`].
#[inline(always)]
unsafe fn hand_off(cs: &CriticalSection, task: NonNull<Tcb>) -> bool {
    let me = running(cs);
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    if !runs_next(t, me.level.get()) {
        return false;
    }
    let now = crate::arch::cpu::counter();
    requeue_current::<false>(cs, me, true, now);
    // (Counted after: a store to `t` before would make `me`'s level, read
    // above, be read again, as far as the compiler knows `t` may be `me`.)
    TaskCounters::bump(&t.counters.woken);
    switch_to_at::<false>(cs, me, task, Why::PREEMPT, false, now);
    true
}

/// Several cores, in a task: [`hand_off`] for a woken `task` that may run
/// on this core, `here`, only (pinned to it, `Builder::cpu`). Queued, it would go
/// into this core's own queue and ask this core, the only candidate, to
/// reschedule: if it is more urgent than the running task, which is
/// preemptive, and this core has not been asked already (so nothing ready
/// for it is as urgent), it is exactly the task the reschedule would pick,
/// and the switch goes straight to it. A task allowed on other cores too
/// goes the usual way: an idle core may be the one to run it. `false` when
/// nothing was done.
///
/// # Safety
/// As for [`make_ready`].
#[inline(never)]
unsafe fn hand_off_pinned_here(cs: &CriticalSection, task: NonNull<Tcb>, here: usize) -> bool {
    let me = running(cs);
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    let my_level = me.level.get();
    if t.level.get() >= my_level || !is_preemptive(my_level) || NEED_RESCHED.of(here).load(Ordering::Relaxed) {
        return false;
    }
    let now = crate::arch::cpu::counter();
    requeue_current::<true>(cs, me, true, now);
    TaskCounters::bump(&t.counters.woken);
    // This core now runs `task`'s level; the running task may have gone to
    // the shared queue, where another core may take it.
    let also_ask = SCHED.with(cs, |s| {
        s.queues.set_core_level(here, t.level.get());
        s.queues.ask_for_shared(here)
    });
    ask(cs, also_ask);
    switch_to_at::<true>(cs, me, task, Why::PREEMPT, false, now);
    true
}

/// [`make_ready`], compiled for one core (inline: short) or several (out of line).
///
/// # Safety
/// As for [`make_ready`].
#[inline(always)]
unsafe fn make_ready_on<const MANY: bool>(cs: &CriticalSection, task: NonNull<Tcb>) {
    if MANY {
        // SAFETY: forwarded from our caller.
        return unsafe { make_ready_on_many(cs, task) };
    }
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    t.state.set(State::Ready);
    TaskCounters::bump(&t.counters.woken);
    let level = t.level.get();
    // One core, which runs the running task: asked if the new one is more
    // urgent (and a task handed over is queued first: this one may be
    // more urgent still).
    let urgent = level < running(cs).level.get();
    SCHED.with(cs, |s| {
        if urgent {
            s.queue_handed();
        }
        // SAFETY: `task` is alive and unqueued (our caller's promise).
        unsafe { s.queues.put_back::<false>(task, level, t.cpus, 0, 0, false) }
    });
    if urgent {
        NEED_RESCHED.of(0).store(true, Ordering::Relaxed);
    }
}

/// [`make_ready`] with several cores: the queue and the core to ask come
/// from `run_queues`.
///
/// # Safety
/// As for [`make_ready`].
#[inline(never)]
unsafe fn make_ready_on_many(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    t.state.set(State::Ready);
    TaskCounters::bump(&t.counters.woken);
    let (level, here, last) = (t.level.get(), percpu::cpu_index(), t.core());
    // SAFETY: `task` is alive and unqueued (our caller's promise).
    let placement = SCHED.with(cs, |s| unsafe { s.queues.enqueue(task, level, t.cpus, here, last, false) });
    t.ready_in.set(placement.queue);
    ask(cs, placement.ask);
}

/// A new task joins the list of tasks alive and is queued as ready.
///
/// # Safety
/// `task` is alive (it stays so until [`release`](super::release) frees it) and on no list.
pub(crate) unsafe fn admit(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: promised by our caller.
    unsafe {
        SCHED.with(cs, |s| s.all.push_back(task));
        make_ready(cs, task);
    }
}

/// Changes the level `task` runs at (priority inheritance), moving it in
/// the ready queue or its wait queue.
///
/// # Safety
/// `task` is alive.
#[inline]
pub(crate) unsafe fn set_level(masked: &CriticalSection, task: NonNull<Tcb>, level: u8) {
    // SAFETY: promised by our caller.
    let old = unsafe { task.as_ref() }.level.get();
    if old == level {
        return;
    }
    // SAFETY: as above.
    unsafe {
        if critical::several_cores() {
            change_level::<true>(masked, task, old, level)
        } else {
            change_level::<false>(masked, task, old, level)
        }
    }
}

/// [`set_level`] when the level changes, out of line (often it does not).
///
/// # Safety
/// As for [`set_level`]; `old` is the task's level.
#[inline(never)]
unsafe fn change_level<const MANY: bool>(masked: &CriticalSection, task: NonNull<Tcb>, old: u8, level: u8) {
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    if !MANY {
        // A task handed over is queued like the others first, whichever task this is.
        SCHED.with(masked, |s| s.queue_handed());
    }
    match t.state.get() {
        State::Ready => {
            let queue = t.ready_in.get();
            // SAFETY: a ready task is queued at its level, where `enqueue` put it.
            SCHED.with(masked, |s| unsafe { s.queues.remove::<MANY>(queue, old, task) });
            t.level.set(level);
            // SAFETY: alive (our caller's promise), and just taken off its queue.
            unsafe { make_ready_on::<MANY>(masked, task) };
        }
        State::Blocked => {
            t.level.set(level);
            if let Some(queue) = t.waiting_on.get() {
                // SAFETY: a task's `waiting_on` queue is alive while it waits, and it is on it.
                unsafe {
                    queue.as_ref().remove(masked, task);
                    queue.as_ref().insert(masked, task);
                }
            }
        }
        State::Running => {
            t.level.set(level);
            // Its core now runs at `level`; if that is less urgent than
            // before and a task between the two is ready, it gives way.
            let cpu = if MANY { t.core() } else { 0 };
            let give_way = SCHED.with(masked, |s| {
                if MANY && s.queues.core_level(cpu) == old {
                    s.queues.set_core_level(cpu, level);
                }
                level > old && s.queues.has_ready_for::<MANY>(cpu, level - 1)
            });
            if give_way {
                ask(masked, Some(cpu));
            }
        }
        State::Exited => t.level.set(level),
    }
}
