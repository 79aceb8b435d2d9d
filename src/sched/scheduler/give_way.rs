//! Where the running task gives way: it yields ([`yield_now`]), blocks
//! ([`block_current`]), or is preempted at a reschedule point: after it
//! woke a more urgent task ([`reschedule_point`]), or at the end of an
//! interrupt handler ([`preempt_from_interrupt`]), which may also end its
//! time slice. A task that was killed ends at these points.

use super::switch::{requeue_current, schedule_away_on, switch_to, switch_to_at, switch_to_the_one_ahead};
use super::{current, running, NEED_RESCHED, SCHED};
use crate::arch::context;
use crate::critical::{self, CriticalSection};
use crate::percpu;
use crate::sched::priority::is_preemptive;
use crate::sched::tcb::{State, Tcb, WakeReason};
use crate::sched::timer;
use crate::trace::{self, On, Why};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Lets an equally or more urgent ready task run.
pub fn yield_now() {
    if critical::several_cores() {
        yield_on::<true>()
    } else {
        yield_on::<false>()
    }
}

#[inline(always)]
fn yield_on<const MANY: bool>() {
    let cs = CriticalSection::enter::<MANY>();
    let me = running(&cs);
    // Interrupts masked by the caller: an interrupt handler (an exception's
    // entry masks them, and no handler unmasks them), an isolated task's
    // system call, or a spin lock held. One test on the usual path.
    if cs.entered_masked() {
        if in_handler(me) {
            // An interrupt handler (or a fault's): a switch here would leave
            // the interrupt unfinished, its end never signalled, and the core
            // without one again. Nothing to do: the handler's end is where a
            // more urgent task runs, and the slice where an equal one does.
            return;
        }
        if !me.in_system_call.get() {
            switched_with_interrupts_masked(me.id);
        }
    }
    if me.kill_requested.load(Ordering::Relaxed) {
        end_killed();
    }
    if !MANY {
        // The usual case on one core: the most urgent ready tasks are at
        // our level. We go behind them and the first one runs, in one step.
        // SAFETY: the running task (not idle, which never yields) is on no queue.
        let next = SCHED.with(&cs, |s| unsafe { s.queues.pass_turn_one_core(me.level.get(), NonNull::from(me)) });
        if let Some(next) = next {
            me.state.set(State::Ready);
            return switch_to::<false>(&cs, me, next, Why::YIELD, false);
        }
    }
    let others_ready = SCHED.with(&cs, |s| {
        let ready = s.queues.has_ready_for::<MANY>(me.core(), me.level.get());
        if ready {
            // SAFETY: the running task; not idle, which never yields.
            unsafe { s.put_back::<MANY>(me, false) };
        }
        ready
    });
    if others_ready {
        switch_to_the_one_ahead::<MANY>(&cs, || me, Why::YIELD, crate::arch::cpu::counter());
    }
}

/// Blocks the running task, which the caller has put on a wait queue or the
/// timer list (`on`: what it waits for, for the trace). A task that was
/// killed ends here instead (before it blocks, or as the kill wakes it),
/// with the critical sections its callers opened.
pub(crate) fn block_current(cs: &CriticalSection, on: On) {
    block(cs, running(cs), on)
}

/// [`block_current`] for a caller that has the running task `me` at hand.
#[inline(always)]
pub(crate) fn block(cs: &CriticalSection, me: &Tcb, on: On) {
    if critical::several_cores() {
        block_on::<true>(cs, me, on)
    } else {
        block_on::<false>(cs, me, on)
    }
}

/// [`block_current`] for a caller that has the running task `me` at hand
/// and has looked at the number of cores (`MANY`) already.
#[inline(always)]
pub(crate) fn block_on<const MANY: bool>(cs: &CriticalSection, me: &Tcb, on: On) {
    check_may_block(cs, me);
    if me.kill_requested.load(Ordering::Relaxed) {
        cancel_wait_and_end(me);
    }
    trace::block(me.id, on);
    me.state.set(State::Blocked);
    schedule_away_on::<MANY, false>(cs, me, on.why());
    // `me` again: a switch away and back resumes the same task. Killed
    // while it waited, it ends here. Killed after its wait was over (a
    // permit, a mutex or a message handed to it, a deadline reached), it
    // keeps what it was given, as its caller returns, and ends at its next
    // block or yield, as a running task does: a permit handed over and then
    // dropped would be lost for every other task.
    if me.wake_reason.get() == WakeReason::Cancelled {
        end_killed();
    }
}

/// [`block`] for a wait whose caller has begun something that a kill must
/// undo (a rendezvous `send`: its message is in the channel): killed before
/// it blocks or while it waits, the task is taken off what it waits on and
/// this returns `false`, instead of ending it there. Its caller undoes what
/// it began, leaves its critical sections, and ends the task with
/// [`end_killed`]. `true` when the wait ended otherwise.
pub(crate) fn block_unless_killed(cs: &CriticalSection, me: &Tcb, on: On) -> bool {
    check_may_block(cs, me);
    if me.kill_requested.load(Ordering::Relaxed) {
        cancel_wait(cs, me);
        return false;
    }
    trace::block(me.id, on);
    me.state.set(State::Blocked);
    if critical::several_cores() {
        schedule_away_on::<true, false>(cs, me, on.why());
    } else {
        schedule_away_on::<false, false>(cs, me, on.why());
    }
    me.wake_reason.get() != WakeReason::Cancelled
}

/// Stops a task from blocking where it must not: in an interrupt handler
/// (checked first: a handler must not end the task it interrupted either),
/// or with interrupts masked by its caller (a spin lock held).
#[inline(always)]
fn check_may_block(cs: &CriticalSection, me: &Tcb) {
    if in_handler(me) {
        blocked_in_interrupt_handler();
    }
    if cs.entered_masked() && !me.in_system_call.get() {
        switched_with_interrupts_masked(me.id);
    }
}

/// For a waiting call that may end without blocking (a `park` with an
/// unpark token there, a `join` of the running task): in an interrupt
/// handler, `me`, the running task, is the task it interrupted, not the
/// caller, and the call is refused as a block there is
/// ([`check_may_block`]). Taken as that task's own, a handler's `park`
/// took the task's token (its next `park` waited for ever), and a
/// handler's `join` of the task's handle was reported as the task joining
/// itself.
#[inline(always)]
pub(crate) fn refuse_wait_in_handler(me: &Tcb) {
    if in_handler(me) {
        blocked_in_interrupt_handler();
    }
}

/// Does an exception handler (an interrupt's, a fault's) run now, on the
/// kernel stack of the task it interrupted, `me`? On the kernel stack
/// (SP_EL1) only an isolated task's system call may block, yield or end its
/// task; a handler must not switch the task it interrupted away, or end it
/// (its interrupt would never be finished).
#[inline(always)]
pub(crate) fn in_handler(me: &Tcb) -> bool {
    crate::arch::cpu::in_exception_handler() && !me.in_system_call.get()
}

/// An interrupt handler tried to wait (sleep, a semaphore, a channel, a
/// join, `park`): nothing could wake it, since its core takes no interrupt
/// until the handler returns, and the interrupted task is not the one
/// waiting. A panic outside any task: the machine stops with the report.
#[inline(never)]
#[cold]
fn blocked_in_interrupt_handler() -> ! {
    panic!("an interrupt handler tried to block (a sleep, a semaphore, a channel, a join or a park): handlers must not wait; wake a task to do it")
}

/// A task tried to block or yield with interrupts masked by its caller:
/// holding a spin lock (which masks them), or having masked them itself.
/// Switched away, it kept the lock: a task on its core that took it next
/// was reported as taking it twice (the lock word names the core), and a
/// task on another core spun, interrupts masked, until it came back, for
/// ever if it never did. A panic with interrupts masked: the machine stops
/// with the report, as for every broken spin-lock rule. (With the lock
/// checks, the lock is named.)
#[inline(never)]
#[cold]
fn switched_with_interrupts_masked(id: u64) -> ! {
    critical::assert_no_spin_lock_held("a context switch");
    panic!("task #{id} tried to block or yield (a sleep, a lock, a channel, a join, a park) with interrupts masked: a spin lock is held, or they were masked by hand; let go of it first (a spin lock is for short sections that never wait)")
}

/// Runs `call` (an isolated task's system call, on its kernel stack)
/// marked on the running task: there, unlike in an interrupt handler, it
/// may block ([`block_on`]).
#[inline(always)]
pub(crate) fn in_system_call(call: impl FnOnce()) {
    // SAFETY: an isolated task, alive while it runs; a switch away and back
    // inside `call` resumes this same task, whose mark it is.
    let me = unsafe { current().as_ref() };
    me.in_system_call.set(true);
    call();
    me.in_system_call.set(false);
}

/// A killed task about to block: off what it was put on, then it ends.
#[inline(never)]
#[cold]
fn cancel_wait_and_end(me: &Tcb) -> ! {
    cancel_wait(&CriticalSection::new(), me);
    end_killed()
}

/// Takes a task that is about to block, or blocked, off whatever it waits
/// on: its wait queue (whose timeout hook undoes what its waiting had
/// changed, as for a timeout), its timer list, `park`.
pub(crate) fn cancel_wait(cs: &CriticalSection, task: &Tcb) {
    let t = NonNull::from(task);
    if let Some(queue) = task.waiting_on.get() {
        // SAFETY: a wait queue a task is on outlives its wait; the task is on it.
        unsafe { queue.as_ref().remove_timed_out(cs, t) };
    }
    // SAFETY: alive; `cancel` does nothing if it is on no timer list.
    unsafe { timer::cancel(cs, t) };
    task.parked.set(false);
}

/// What ends a task that was killed (`task::kill`), set by the task layer
/// at boot: the scheduler finds a kill at a yield or a block, but ending a
/// task (giving back its mutexes and handles) is the task layer's work.
static KILLED_TASK_ENDS: AtomicUsize = AtomicUsize::new(0);

/// Sets what ends a killed task (once, at boot, by the task layer).
pub(crate) fn set_killed_task_end(end: fn() -> !) {
    KILLED_TASK_ENDS.store(end as usize, Ordering::Relaxed);
}

/// Ends the running task, which was killed, from inside the critical
/// sections its callers opened, which are left for good: the task never
/// returns to them. (Its own token, not theirs: a token passed on to code
/// out of line would have to be kept in memory on every caller's path.)
#[inline(never)]
#[cold]
pub(crate) fn end_killed() -> ! {
    let cs = CriticalSection::new();
    // SAFETY: the task ends below without returning into its callers, whose
    // sections hold nothing else (no spin lock is held at a block or a yield).
    unsafe { critical::leave_all_for_good(&cs) };
    let end = KILLED_TASK_ENDS.load(Ordering::Relaxed);
    assert!(end != 0, "a task was killed before the task layer set up kills");
    // SAFETY: only ever stored from a `fn() -> !` above.
    let end: fn() -> ! = unsafe { core::mem::transmute::<usize, fn() -> !>(end) };
    end()
}

/// After waking tasks from task context: a preemptive task gives way now to
/// a more urgent one. (In an exception handler, an interrupt's or an
/// isolated task's system call, the decision waits for the handler's end.)
#[inline]
pub(crate) fn reschedule_point(cs: &CriticalSection) {
    if critical::several_cores() {
        reschedule_point_on::<true>(cs, percpu::cpu_index())
    } else {
        reschedule_point_on::<false>(cs, 0)
    }
}

#[inline(always)]
pub(super) fn reschedule_point_on<const MANY: bool>(cs: &CriticalSection, cpu: usize) {
    if !NEED_RESCHED.of(cpu).load(Ordering::Relaxed) || crate::arch::cpu::in_exception_handler() {
        return;
    }
    NEED_RESCHED.of(cpu).store(false, Ordering::Relaxed);
    give_way_if_decided::<MANY>(cs, running(cs), cpu, false);
}

/// Switches the running task `me` away if a handler handed a task over
/// ([`Scheduler::handed`](super::Scheduler::handed)) or if [`decide`] says so.
#[inline(never)]
fn give_way_if_decided<const MANY: bool>(cs: &CriticalSection, me: &Tcb, cpu: usize, at_interrupt: bool) {
    if !MANY {
        if let Some(next) = SCHED.with(cs, |s| s.handed.take()) {
            // Ahead of every ready task: `me` goes in front of its level,
            // or behind its equals if its slice is over, as `decide` says.
            let slice_over = at_interrupt && SCHED.with(cs, |s| core::mem::take(&mut s.slice_expired[0]));
            let now = crate::arch::cpu::counter();
            requeue_current::<false>(cs, me, !slice_over, now);
            let why = if slice_over { Why::SLICE } else { Why::PREEMPT };
            return switch_to_at::<false>(cs, me, next, why, false, now);
        }
    }
    if let Some(in_front) = decide::<MANY>(cs, me, cpu, at_interrupt) {
        let now = crate::arch::cpu::counter();
        requeue_current::<MANY>(cs, me, in_front, now);
        let why = if in_front { Why::PREEMPT } else { Why::SLICE };
        // `decide` saw a task ahead of this one, which is now queued behind
        // it (or is idle, never queued).
        switch_to_the_one_ahead::<MANY>(cs, || me, why, now);
    }
}

/// Called by the timer when the running task's slice is over.
pub(crate) fn slice_expired(cs: &CriticalSection) {
    let cpu = percpu::cpu_index();
    SCHED.with(cs, |s| s.slice_expired[cpu] = true);
    NEED_RESCHED.of(cpu).store(true, Ordering::Relaxed);
}

/// Should core `cpu` switch away from its running task `me`, now that it was
/// asked to? `Some(true)`: a more urgent task is ready (the running one
/// keeps its turn, in front); `Some(false)`: its slice is over and an equal
/// one is ready (behind its equals). Only preemptive tasks (and idle) give
/// way here. If not, the core's level is what it runs again (a claim made
/// for a task another core took is dropped).
#[inline(always)]
fn decide<const MANY: bool>(cs: &CriticalSection, me: &Tcb, cpu: usize, at_interrupt: bool) -> Option<bool> {
    let level = me.level.get();
    SCHED.with(cs, |s| {
        let slice_over = at_interrupt && core::mem::take(&mut s.slice_expired[cpu]);
        // (Idle, at the idle level, is preemptive.)
        let decision = if !is_preemptive(level) {
            None
        } else if slice_over && s.queues.has_ready_for::<MANY>(cpu, level) {
            Some(false)
        } else if level > 0 && s.queues.has_ready_for::<MANY>(cpu, level - 1) {
            Some(true)
        } else {
            None
        };
        if MANY && decision.is_none() {
            s.queues.set_core_level(cpu, level);
        }
        decision
    })
}

/// At the end of an interrupt handler: switch away from a preemptive task if
/// a more urgent one is ready for this core, or if its slice is over and an
/// equal one is.
#[inline]
pub(crate) fn preempt_from_interrupt() {
    if critical::several_cores() {
        preempt_from_interrupt_on::<true>(percpu::cpu_index())
    } else {
        preempt_from_interrupt_on::<false>(0)
    }
}

#[inline(always)]
fn preempt_from_interrupt_on<const MANY: bool>(cpu: usize) {
    if !NEED_RESCHED.of(cpu).load(Ordering::Relaxed) {
        return;
    }
    // Tasks not started yet (an interrupt at boot): nothing to switch.
    let Some(me) = NonNull::new(context::current_task_pointer() as *mut Tcb) else { return };
    NEED_RESCHED.of(cpu).store(false, Ordering::Relaxed);
    // SAFETY: an interrupt handler runs with interrupts masked.
    let cs = unsafe { CriticalSection::enter_masked::<MANY>() };
    // SAFETY: the running task, alive while it runs (as for `running`).
    give_way_if_decided::<MANY>(&cs, unsafe { me.as_ref() }, cpu, true);
}

/// For the end of an exception handler that is not a reschedule point
/// (one nested in another handler): a task handed over to it
/// ([`Scheduler::handed`](super::Scheduler::handed)) goes on its ready queue, where every pick finds it.
pub(crate) fn queue_handed_over() {
    if !critical::several_cores() {
        let cs = CriticalSection::new();
        SCHED.with(&cs, |s| s.queue_handed());
    }
}
