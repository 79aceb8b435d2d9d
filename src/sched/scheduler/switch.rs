//! The switch from the running task to the next one: picked from the ready
//! queues (or idle), or given by the caller. It charges the statistics,
//! starts the next task's time slice, installs its lower half, and swaps
//! the registers (`context::switch`). Also a task's first switch in
//! ([`ilusion_task_start`]) and its last switch out ([`exit_current`]),
//! after which its block is freed.

use super::alive::release;
use super::{ask, running, SCHED};
use crate::arch::context;
use crate::critical::{self, CriticalSection};
use crate::sched::priority::IDLE_LEVEL;
use crate::sched::tcb::{State, TaskCounters, Tcb};
use crate::sched::timer;
use crate::task::TaskFailure;
use crate::trace::{self, Why};
use core::ptr::NonNull;

/// Puts the running task `t` back in a ready queue, unless it is this core's
/// idle task (never queued). A task preempted by a more urgent one keeps
/// what is left of its slice (counted up to `now`).
#[inline(always)]
pub(super) fn requeue_current<const MANY: bool>(cs: &CriticalSection, t: &Tcb, in_front: bool, now: u64) {
    // Only idle tasks run at the idle level (no `Priority` names it).
    if t.level.get() == IDLE_LEVEL {
        return;
    }
    let cpu = if MANY { t.core() } else { 0 };
    TaskCounters::bump(&t.counters.preempted);
    if in_front {
        timer::pause_slice(cs, cpu, t, now);
    }
    // SAFETY: the running task, not idle.
    SCHED.with(cs, |s| unsafe { s.put_back::<MANY>(t, in_front) });
}

/// Switches away from the running task (`me` finds it: the caller may
/// have it at hand already), which its caller has just put back
/// in a ready queue because a task ahead of it is ready (a yield, a
/// preemption, the end of a slice). On one core that task is the first one
/// picked, never the running one (queued behind it) and never idle, so the
/// pick and the switch are inlined here, with no look at idle or at
/// whether next is the running task; several cores take
/// [`schedule_away_on`] (core levels, asking other cores).
#[inline(always)]
pub(super) fn switch_to_the_one_ahead<'a, const MANY: bool>(
    cs: &'a CriticalSection,
    me: impl FnOnce() -> &'a Tcb,
    why: Why,
    now: u64,
) {
    match if MANY { None } else { SCHED.with(cs, |s| s.queues.pick::<false>(0)) } {
        Some(next) => switch_to_at::<false>(cs, me(), next, why, false, now),
        None => schedule_away_on::<MANY, false>(cs, me(), why),
    }
}

/// Switches away from the running task, which has ended, to the most
/// urgent task ready for this core (or its idle task), which frees it.
fn schedule_away_for_good(cs: &CriticalSection) {
    let me = running(cs);
    if critical::several_cores() {
        schedule_away_on::<true, true>(cs, me, Why::EXIT)
    } else {
        schedule_away_on::<false, true>(cs, me, Why::EXIT)
    }
}

/// Switches from the running task `me` to the most urgent task ready for
/// this core (or its idle task). The caller has put `me` where it belongs
/// (ready queue, wait queue, or nowhere if it ended: `ENDING`, and the
/// next task frees it). Compiled for one core or several.
#[inline(never)]
pub(super) fn schedule_away_on<const MANY: bool, const ENDING: bool>(cs: &CriticalSection, me: &Tcb, why: Why) {
    critical::assert_no_spin_lock_held("a context switch"); // (also before a switch to self)
    let cur = NonNull::from(me);
    let cpu = if MANY { me.core() } else { 0 };
    let (next, also_ask) = SCHED.with(cs, |s| {
        let handed = if MANY { None } else { s.take_handed() };
        // (Idle looked at only when nothing is ready: `or` loaded and selected it on every block.)
        let next = handed.or_else(|| s.queues.pick::<MANY>(cpu)).or_else(|| s.idle[cpu]).expect("no idle task");
        if !MANY {
            return (next, None); // no levels to keep, nobody to ask
        }
        // SAFETY: a queued task (or idle) is alive.
        s.queues.set_core_level(cpu, unsafe { next.as_ref() }.level.get());
        (next, s.queues.ask_for_shared(cpu))
    });
    ask(cs, also_ask);
    if next == cur {
        me.state.set(State::Running);
        return;
    }
    switch_to::<MANY>(cs, me, next, why, ENDING);
}

/// Switches from the running task `me` to `next`, another task just taken
/// off a ready queue (or idle): the statistics, the slice, the lower half,
/// the registers. If `me` has ended (`ending`), its last switch, which
/// frees it once `next`'s stack is in place (`free_ended`).
#[inline(always)]
pub(super) fn switch_to<const MANY: bool>(cs: &CriticalSection, me: &Tcb, next: NonNull<Tcb>, why: Why, ending: bool) {
    switch_to_at::<MANY>(cs, me, next, why, ending, crate::arch::cpu::counter())
}

/// [`switch_to`] at counter `now` (read once by a caller that also
/// paused `me`'s slice).
#[inline(always)]
pub(super) fn switch_to_at<const MANY: bool>(
    cs: &CriticalSection,
    me: &Tcb,
    next: NonNull<Tcb>,
    why: Why,
    ending: bool,
    now: u64,
) {
    critical::assert_no_spin_lock_held("a context switch");
    let cur = NonNull::from(me);
    let cpu = if MANY { me.core() } else { 0 };
    // SAFETY: `next` came off a ready queue (or is idle): alive, with its context saved.
    let n = unsafe { next.as_ref() };
    trace::switch(me.id, n.id, why);
    n.state.set(State::Running);
    SCHED.with(cs, |s| s.account_switch::<MANY>(cpu, me, n, now));
    timer::start_slice(cs, cpu, n, now);
    switch_lower_half(cs, me, n);
    context::set_current_task_pointer(next.as_ptr() as *mut u8);
    // Several cores: the others see which task this core runs (for the
    // mutexes' spinners), and the kernel lock's depth goes over the switch.
    let depth = if MANY {
        // SAFETY: in a critical section, on the running task's context. It
        // may resume on another core: its FP/SIMD registers go with it.
        unsafe { crate::arch::fp::save_before_switch(me.context()) };
        n.cpu.set(cpu as u8);
        context::publish_running_task(cpu, next.as_ptr() as *mut u8);
        critical::kernel_lock_depth(cs)
    } else {
        0
    };
    if ending {
        // SAFETY: in a critical section; `next` is a live task whose stacks
        // are mapped; `me` has ended, nothing of it is saved, and it is freed
        // once nothing runs on its stacks.
        unsafe { context::switch_ending(cur.as_ptr() as *mut u8, n.context(), free_ended) };
    }
    // SAFETY: in a critical section; both contexts belong to live tasks
    // whose stacks are mapped (a task is freed only after it has been
    // switched away from), and `me` is queued nowhere another core could
    // take it from before this core gives up the kernel lock.
    unsafe { context::switch(me.context(), n.context()) };
    if MANY {
        // SAFETY: resumed by a switch on this core, which holds the kernel
        // lock for us; `depth` is what we had open when we switched away.
        unsafe { critical::resume_kernel_lock(depth) };
    }
}

/// Installs the lower half `next` runs with: its own address space (tagged
/// with its ASID, so no TLB flush), or the empty one for kernel tasks
/// (between two kernel tasks, the empty one is there already). An isolated
/// task's EL0 thread register goes and comes with its address space.
#[inline(always)]
fn switch_lower_half(masked: &CriticalSection, prev: &Tcb, next: &Tcb) {
    if prev.is_isolated() || next.is_isolated() {
        switch_address_spaces(masked, prev, next);
    }
}

#[inline(never)]
fn switch_address_spaces(_masked: &CriticalSection, prev: &Tcb, next: &Tcb) {
    // SAFETY: interrupts are masked, and an address space is only touched
    // here and when its task is freed (after it has been switched away
    // from); `prev` and `next` are two tasks, so the borrows do not overlap.
    let (prev, next) = unsafe { ((*prev.address_space.get()).as_mut(), (*next.address_space.get()).as_mut()) };
    crate::mm::address_space::switch_spaces(prev, next);
}

/// Frees a task that has ended: called by its last switch
/// (`context::switch_ending`) on the next task's stack, once nothing runs
/// on its own, before the next task resumes. So no other switch has to
/// ask whether the task before it had ended.
extern "C" fn free_ended(ended: *mut u8) {
    // SAFETY: the switch runs in the ended task's critical section, which
    // the resumed task takes over and closes: a token for it, never dropped.
    let masked = unsafe { critical::section_of_switch() };
    // SAFETY: the ended task, alive until released here.
    let ended = unsafe { NonNull::new_unchecked(ended as *mut Tcb) };
    // SAFETY: as above.
    debug_assert!(unsafe { ended.as_ref() }.state.get() == State::Exited);
    // SAFETY: its own reference, given up now that nothing runs on its stacks.
    drop(unsafe { release(&masked, ended) });
}

/// The last step of a task's end (the task layer has given back what the
/// task held: its mutexes, its handles, a detached task's result): records
/// why it ended, wakes its joiners and switches away for good.
pub(crate) fn exit_current(masked: CriticalSection, failure: Option<TaskFailure>) -> ! {
    let t = running(&masked);
    trace::exit(t.id, crate::task::how_it_ended(failure.as_ref()));
    // The slot starts as `None`, so a task that returned writes nothing
    // (a failure is large: its message is inline).
    if let Some(failure) = failure {
        // SAFETY: nothing but the task itself touches its failure slot before it has ended.
        unsafe { *t.failure.get() = Some(failure) };
    }
    t.state.set(State::Exited);
    t.joiners.wake_all(&masked);
    schedule_away_for_good(&masked);
    unreachable!("an ended task was resumed");
}

/// Where a new task starts (from `task_trampoline` in switch.s, which the
/// first switch to it "returns" into): close the switch's critical section,
/// then run its body, which ends the task.
#[no_mangle]
extern "C" fn ilusion_task_start(task: *mut Tcb) -> ! {
    // SAFETY: switches run in a critical section, whose hold on the kernel
    // lock comes to us: we were just switched to.
    let masked = unsafe { critical::inherited_critical_section() };
    drop(masked);
    crate::arch::cpu::enable_interrupts();
    // SAFETY: our control block lives until we have ended and been switched
    // away from, and only our handle takes the body, once we have ended.
    let body = unsafe { (*task).body() };
    body.expect("a task without a body was started").run()
}
