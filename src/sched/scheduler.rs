//! The scheduler: which task runs on each core, and switching to it.
//!
//! Each core's running task is in its TPIDR_EL1; the others are in a ready
//! queue (`run_queues`: the shared one, or a core's own for a task
//! restricted to some cores), on a wait queue, or ended. Every scheduling
//! decision is made in a critical section (interrupts masked, the kernel
//! lock held), at one of these points:
//! - the running task yields ([`yield_now`]), blocks ([`block_current`]) or
//!   ends ([`exit_current`]): the most urgent task ready for this core runs next;
//! - a task becomes ready ([`make_ready`]): the core running the least
//!   urgent preemptible task, if less urgent than it, is asked to
//!   reschedule: its `need_resched` flag, plus an inter-processor interrupt
//!   if it is another core;
//! - a task woke a more urgent one for this core ([`reschedule_point`]): a
//!   preemptive task gives way at once, a cooperative one at its next yield
//!   or block;
//! - an interrupt handler (a wake, the timer, a reschedule IPI) asked this
//!   core to reschedule, or the running task's slice ran out
//!   ([`preempt_from_interrupt`], at the end of the handler): a preemptive
//!   task is switched out right there, inside the handler, on its kernel
//!   stack; it resumes there later (on any core it may run on) and returns
//!   from the exception. An isolated task's system call runs on that
//!   stack too (a wake inside it only asks), and ends the same way.
//!
//! Each core's boot context becomes its idle task: least urgent of all,
//! never queued, it waits for interrupts when nothing is ready.
//!
//! ## Compiled twice: one core, or several
//!
//! Whether several cores run tasks is settled at boot, before the first
//! task (`critical::several_cores`). Each entry point above reads it once
//! and runs the code below compiled for that case (`MANY`, a constant
//! parameter): with one core, the branches for the others fold away
//! (no kernel lock, one queue, no core levels or IPIs), so a one-core boot
//! of the SMP-capable build switches tasks as fast as the one-core kernel
//! did (BENCHMARKS.md, "One core").
//!
//! Code above reaches the running task with [`running`], a borrow tied to
//! the critical section's token (its fields change only inside one), and
//! its body with [`with_running_body`]. A new task starts at
//! `ilusion_task_start`, here; it ends through the task layer, which gives
//! back what the task held, then [`exit_current`].

use super::list::List;
use super::priority::{is_preemptive, Level, IDLE_LEVEL};
use super::run_queues::RunQueues;
use super::tcb::{AllLinks, QueueLinks, State, TaskBody, TaskCounters, Tcb, WakeReason};
use super::timer;
use crate::arch::context::{self, Context};
use crate::critical::{self, CriticalSection, KernelCell};
use crate::irq::{self, Ipi};
use crate::percpu::{self, PerCpu, MAX_CPUS};
use crate::task::TaskFailure;
use crate::trace::{self, On, Why};
use alloc::boxed::Box;
use core::ptr::{addr_of, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

// `repr(C)`, in this order: the small fields first (see `RunQueues`).
#[repr(C)]
struct Scheduler {
    idle: [Option<NonNull<Tcb>>; MAX_CPUS],
    /// The running task's slice is over (per core).
    slice_expired: [bool; MAX_CPUS],
    /// Per core: how many switches it made (several cores only; one core's
    /// are the sum of its tasks' `switched_in`, see [`core_clock`]).
    switches: [u64; MAX_CPUS],
    /// The `switched_in` counts of the tasks freed so far (for that sum).
    freed_switches: u64,
    /// Every task alive (spawned and not yet freed), idle tasks included.
    all: List<AllLinks>,
    queues: RunQueues<QueueLinks>,
    /// One core: a task an exception handler woke that is more urgent than
    /// the running task (preemptive) and than every ready task
    /// ([`make_ready_in_handler`]): ready, but on no queue. The handler's
    /// end switches straight to it ([`give_way_if_decided`]), as a block
    /// or the idle loop would ([`schedule_away_on`]); a more urgent wake or
    /// a change of level first puts it on its queue
    /// ([`Scheduler::queue_handed`]); so does the end of a handler nested
    /// in another ([`queue_handed_over`]). (A handler's yield does nothing:
    /// [`yield_on`].)
    handed: Option<NonNull<Tcb>>,
}

impl Scheduler {
    /// Puts the running task `me` back in a ready queue: in front when a
    /// more urgent task preempts it (it keeps its turn), at the back when
    /// its slice is over or it yields. No core is asked: the caller is about
    /// to `schedule_away_on`, which picks next, then offers what is left to the
    /// others. A method, not a function taking the `KernelCell`, so that it
    /// inlines into each caller's one closure (the path of every yield).
    ///
    /// # Safety
    /// `me` is the running task, and not this core's idle task.
    #[inline(always)]
    unsafe fn put_back<const MANY: bool>(&mut self, me: &Tcb, in_front: bool) {
        me.state.set(State::Ready);
        let (level, here) = (me.level.get(), me.core());
        // SAFETY: the running task is alive and on no queue.
        let queue = unsafe { self.queues.put_back::<MANY>(NonNull::from(me), level, me.cpus, here, here, in_front) };
        if MANY {
            me.ready_in.set(queue); // one core: always the shared queue, as `ready_in` starts
        }
    }
}

impl Scheduler {
    /// Puts the task a handler handed over ([`Scheduler::handed`]), if any,
    /// on its ready queue (behind its equals: it was woken before any of
    /// them), where the usual pick finds it.
    #[inline(always)]
    fn queue_handed(&mut self) {
        if let Some(task) = self.handed.take() {
            // SAFETY: a handed task is alive, ready and on no queue.
            unsafe {
                let t = task.as_ref();
                self.queues.put_back::<false>(task, t.level.get(), t.cpus, 0, 0, false);
            }
        }
    }

    /// Charges `prev` the time since it was switched to, and counts the
    /// switch to `next` (and, with several cores, this core's): the
    /// statistics' whole cost on a switch, 10 instructions on one core
    /// (BENCHMARKS.md).
    #[inline(always)]
    fn account_switch<const MANY: bool>(&mut self, cpu: usize, prev: &Tcb, next: &Tcb, now: u64) {
        let (p, n) = (&prev.counters, &next.counters);
        // Every load before any store: the compiler cannot tell that the
        // two tasks' counters do not overlap, and would load again after a
        // store to the other's.
        let (ran, was_in_at, switches) = (p.run_ticks.get(), p.switched_in_at.get(), n.switched_in.get());
        p.run_ticks.set(ran + now.wrapping_sub(was_in_at));
        n.switched_in_at.set(now);
        n.switched_in.set(switches + 1);
        if MANY {
            self.switches[cpu] += 1;
        }
    }
}

static SCHED: KernelCell<Scheduler> = KernelCell::new(Scheduler {
    queues: RunQueues::new(),
    idle: [None; MAX_CPUS],
    slice_expired: [false; MAX_CPUS],
    switches: [0; MAX_CPUS],
    freed_switches: 0,
    all: List::new(),
    handed: None,
});

/// Per core: a more urgent task may be ready for it, or its slice ended.
/// Set inside a critical section (by any core, before the IPI that tells
/// it), read without one first, so the end of an interrupt that changed
/// nothing costs one load.
static NEED_RESCHED: PerCpu<AtomicBool> = PerCpu::new([const { AtomicBool::new(false) }; MAX_CPUS]);

/// Per core: the counter when it came online (its statistics start there).
static ONLINE_AT: PerCpu<AtomicU64> = PerCpu::new([const { AtomicU64::new(0) }; MAX_CPUS]);

/// What ends a task that was killed (`task::kill`), set by the task layer
/// at boot: the scheduler finds a kill at a yield or a block, but ending a
/// task (giving back its mutexes and handles) is the task layer's work.
static KILLED_TASK_ENDS: AtomicUsize = AtomicUsize::new(0);

/// The running task, as a pointer.
#[inline(always)]
fn current() -> NonNull<Tcb> {
    NonNull::new(context::current_task_pointer() as *mut Tcb).expect("scheduler not started")
}

/// The running task, borrowed for as long as the critical section lasts.
#[inline(always)]
pub(crate) fn running(_cs: &CriticalSection) -> &Tcb {
    // SAFETY: the running task is alive while it runs: its block is freed
    // only after it has ended and been switched away from. A switch away
    // and back under the same token resumes the same task, so the borrow
    // still names the running task (of whatever core it resumed on).
    unsafe { current().as_ref() }
}

/// The running task's address, without a critical section (the `Mutex`
/// fast paths compare and store it in their lock word): 0 before tasks start.
#[inline(always)]
pub(crate) fn running_task_address() -> usize {
    context::current_task_pointer() as usize
}

/// Has the running task been killed? Without a critical section: the
/// flag is atomic, and the running task is alive while it runs (this is on
/// every return to EL0 from an interrupt or a system call).
#[inline(always)]
pub(crate) fn running_task_killed() -> bool {
    // SAFETY: the running task's block is freed only after it has ended
    // and been switched away from.
    unsafe { current().as_ref() }.kill_requested.load(Ordering::Relaxed)
}

/// Puts `condvar` in the running task's `notified_by` slot and returns
/// what was there (`sync::condvar`: a notification taken and not yet acted
/// on). Without a critical section: only the task itself touches the slot,
/// and the running task is alive while it runs.
#[inline(always)]
pub(crate) fn swap_running_notified_by(condvar: *const ()) -> *const () {
    // SAFETY: the running task's block is freed only after it has ended
    // and been switched away from.
    unsafe { current().as_ref() }.notified_by.replace(condvar)
}

/// Runs `f` on the running task's body, with interrupts as they are (`f`
/// may block: an isolated task's system calls use its handle table there).
#[inline(always)]
pub(crate) fn with_running_body<R>(f: impl FnOnce(Option<&dyn TaskBody>) -> R) -> R {
    // SAFETY: the running task is alive while it runs, and its body stays
    // in place until the task has ended (its handle takes it then). Only
    // the task itself touches what is inside, so nothing changes it under `f`.
    f(unsafe { current().as_ref() }.body())
}

/// Have tasks started on this core (is there a running task)?
pub(crate) fn is_started() -> bool {
    !context::current_task_pointer().is_null()
}

/// Makes the boot context core 0's idle task, and sets the time slice (in
/// counter ticks). Called once, before any spawn and before the other
/// cores start.
pub(crate) fn init(slice_ticks: u64) {
    extern "C" {
        static __exception_stack_bottom: u8;
        static __exception_stack_top: u8;
    }
    let (bottom, top) = (addr_of!(__exception_stack_bottom) as u64, addr_of!(__exception_stack_top) as u64);
    // `vectors.s` checks for an overflow of every task's kernel stack, idle's too, with this size.
    assert_eq!(top - bottom, super::stack::KERNEL_STACK_SIZE, "EXCEPTION_STACK_SIZE in linker/ilusion.ld");
    critical::set_deferred_interrupt_sender(send_reschedule);
    let cs = CriticalSection::new();
    timer::set_slice(&cs, slice_ticks);
    drop(cs);
    become_idle(0, top);
}

/// Makes the calling context (a core's boot context, on its idle stack)
/// core `cpu`'s idle task; `kernel_stack_top` is the core's exception stack.
/// Then the core is online: tasks may run on it.
pub(crate) fn become_idle(cpu: usize, kernel_stack_top: u64) {
    let context = Context { kernel_stack_top, ..Context::default() };
    let mut idle = Tcb::new(0, Some("idle".into()), IDLE_LEVEL, context, None, None);
    idle.state = State::Running.into();
    idle.refs = 1.into(); // never freed
    idle.cpus = 1 << cpu;
    idle.cpu = (cpu as u8).into();
    let idle = NonNull::from(Box::leak(Box::new(idle)));
    let cs = CriticalSection::new();
    let now = crate::arch::cpu::counter();
    SCHED.with(&cs, |s| {
        s.idle[cpu] = Some(idle);
        s.queues.bring_online(cpu);
        // SAFETY: just made, ours.
        unsafe { idle.as_ref() }.counters.switched_in_at.set(now);
        ONLINE_AT.of(cpu).store(now, Ordering::Relaxed);
        // SAFETY: alive for ever, and on no list yet.
        unsafe { s.all.push_back(idle) };
    });
    // SAFETY: interrupts are masked; the idle task lives for ever, on this
    // core. The boot context's FP/SIMD registers become its own.
    unsafe { crate::arch::fp::adopt_boot_registers(idle.as_ref().context()) };
    context::set_current_task_pointer(idle.as_ptr() as *mut u8);
    context::publish_running_task(cpu, idle.as_ptr() as *mut u8);
    percpu::mark_online(cpu);
}

/// The idle task's loop: run whatever is ready for this core, else wait
/// for an interrupt. The wait is outside the critical section (other cores
/// need the kernel lock meanwhile) but with interrupts still masked, so a
/// wake that comes between the check and `wfi` is pending and ends the wait.
pub(crate) fn run_idle() -> ! {
    if critical::several_cores() {
        idle_loop::<true>()
    } else {
        idle_loop::<false>()
    }
}

fn idle_loop<const MANY: bool>() -> ! {
    use crate::arch::cpu;
    loop {
        let were_enabled = cpu::disable_interrupts();
        let cs = CriticalSection::enter::<MANY>();
        if SCHED.with(&cs, |s| (!MANY && s.handed.is_some()) || s.queues.has_any_for::<MANY>(percpu::cpu_index())) {
            schedule_away_on::<MANY, false>(&cs, running(&cs), Why::IDLE);
            drop(cs);
        } else {
            SCHED.with(&cs, |s| s.queues.set_core_level(percpu::cpu_index(), IDLE_LEVEL));
            drop(cs);
            cpu::wait_for_interrupt();
        }
        // The interrupt that ended the wait is taken here; its handler
        // switches to what it woke.
        cpu::restore_interrupts(were_enabled);
    }
}

/// Asks core `cpu` to reschedule: its flag, and if it is another core an
/// interrupt, sent once this core gives the kernel lock back
/// (`critical::interrupt_after_unlock`).
#[inline]
fn ask(cs: &CriticalSection, cpu: Option<usize>) {
    let Some(cpu) = cpu else { return };
    NEED_RESCHED.of(cpu).store(true, Ordering::Relaxed);
    if critical::several_cores() && cpu != percpu::cpu_index() {
        critical::interrupt_after_unlock(cs, cpu);
    }
}

/// Sends a reschedule interrupt to core `cpu` (deferred by [`ask`]).
fn send_reschedule(cpu: usize) {
    // The controller's barrier makes the flag visible before the interrupt.
    let sent = irq::try_send_ipi(cpu, Ipi::Reschedule);
    debug_assert!(sent.is_ok(), "reschedule IPI to core {cpu}: {sent:?}");
}

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

/// [`make_ready`] then [`reschedule_point`]: a task woken by its waker,
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
    if !MANY {
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
/// [`runs_next`], it is handed over ([`Scheduler::handed`]): the handler's
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
    TaskCounters::bump(&t.counters.woken);
    let now = crate::arch::cpu::counter();
    requeue_current::<false>(cs, me, true, now);
    switch_to_at::<false>(cs, me, task, Why::PREEMPT, false, now);
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

/// Puts the running task `t` back in a ready queue, unless it is this core's
/// idle task (never queued). A task preempted by a more urgent one keeps
/// what is left of its slice (counted up to `now`).
#[inline(always)]
fn requeue_current<const MANY: bool>(cs: &CriticalSection, t: &Tcb, in_front: bool, now: u64) {
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

/// Switches away from the running task (`me` finds it: the caller may
/// have it at hand already), which its caller has just put back
/// in a ready queue because a task ahead of it is ready (a yield, a
/// preemption, the end of a slice). On one core that task is the first one
/// picked, never the running one (queued behind it) and never idle, so the
/// pick and the switch are inlined here, with no look at idle or at
/// whether next is the running task; several cores take
/// [`schedule_away_on`] (core levels, asking other cores).
#[inline(always)]
fn switch_to_the_one_ahead<'a, const MANY: bool>(
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
    // Checked first: a handler must not end the task it interrupted either.
    if in_handler(me) {
        blocked_in_interrupt_handler();
    }
    if cs.entered_masked() && !me.in_system_call.get() {
        switched_with_interrupts_masked(me.id);
    }
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
fn end_killed() -> ! {
    let cs = CriticalSection::new();
    // SAFETY: the task ends below without returning into its callers, whose
    // sections hold nothing else (no spin lock is held at a block or a yield).
    unsafe { critical::leave_all_for_good(&cs) };
    let end = KILLED_TASK_ENDS.load(Ordering::Relaxed);
    assert_ne!(end, 0, "a task was killed before the task layer set up kills");
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
fn reschedule_point_on<const MANY: bool>(cs: &CriticalSection, cpu: usize) {
    if !NEED_RESCHED.of(cpu).load(Ordering::Relaxed) || crate::arch::cpu::in_exception_handler() {
        return;
    }
    NEED_RESCHED.of(cpu).store(false, Ordering::Relaxed);
    give_way_if_decided::<MANY>(cs, running(cs), cpu, false);
}

/// Switches the running task `me` away if a handler handed a task over
/// ([`Scheduler::handed`]) or if [`decide`] says so.
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
/// ([`Scheduler::handed`]) goes on its ready queue, where every pick finds it.
pub(crate) fn queue_handed_over() {
    if !critical::several_cores() {
        let cs = CriticalSection::new();
        SCHED.with(&cs, |s| s.queue_handed());
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
fn schedule_away_on<const MANY: bool, const ENDING: bool>(cs: &CriticalSection, me: &Tcb, why: Why) {
    critical::assert_no_spin_lock_held("a context switch"); // (also before a switch to self)
    let cur = NonNull::from(me);
    let cpu = if MANY { me.core() } else { 0 };
    let (next, also_ask) = SCHED.with(cs, |s| {
        let handed = if MANY { None } else { s.handed.take() };
        let next = handed.or_else(|| s.queues.pick::<MANY>(cpu)).or(s.idle[cpu]).expect("no idle task");
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
fn switch_to<const MANY: bool>(cs: &CriticalSection, me: &Tcb, next: NonNull<Tcb>, why: Why, ending: bool) {
    switch_to_at::<MANY>(cs, me, next, why, ending, crate::arch::cpu::counter())
}

/// [`switch_to`] at counter `now` (read once by a caller that also
/// paused `me`'s slice).
#[inline(always)]
fn switch_to_at<const MANY: bool>(
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

/// Takes the running task's address space out of its block, and puts this
/// core on the empty lower half: for the task layer's end of a detached
/// isolated task, which drops it outside any critical section (its frames
/// go back one by one: dropped with the block, inside the task's last
/// switch, 8,192 pages kept every core waiting 4.7 ms under icount). The
/// task never returns to EL0 again; whoever reads its block afterwards
/// finds no address space, as for a task that has ended.
#[cold]
#[inline(never)] // off the switch paths: only a detached isolated task's end comes here
pub(crate) fn take_running_address_space(masked: &CriticalSection) -> Option<crate::mm::address_space::AddressSpace> {
    // SAFETY: an address space is touched only with interrupts masked, as
    // here; the running task's block is alive.
    let space = unsafe { (*running(masked).address_space.get()).take() };
    if space.is_some() {
        // Off its tables before they go: nothing walks them from this core again.
        crate::mm::address_space::switch_spaces(None, None);
    }
    space
}

/// Drops one reference to `task`. At zero, takes the task off the list of
/// tasks and hands back its block, for the caller to drop (its stacks,
/// body and address space go with it) after its critical section where it
/// can: an address space gives back its frames one by one, thousands
/// perhaps, and every core would wait for that (8,192 pages: 4.7 ms under
/// icount). Only the last switch of a task that nobody holds drops it inside.
///
/// # Safety
/// The caller owns one of the task's references.
#[must_use]
pub(crate) unsafe fn release(masked: &CriticalSection, task: NonNull<Tcb>) -> Option<Box<Tcb>> {
    // SAFETY: alive while a reference is held (ours).
    let refs = unsafe { task.as_ref() }.refs.get() - 1;
    // SAFETY: as above.
    unsafe { task.as_ref() }.refs.set(refs);
    if refs == 0 {
        // SAFETY: alive, and on the list since `admit`.
        SCHED.with(masked, |s| unsafe {
            s.all.remove(task);
            s.freed_switches += task.as_ref().counters.switched_in.get();
        });
        // SAFETY: interrupts are masked; the task has ended and was switched away from.
        unsafe { crate::arch::fp::forget(task.as_ref().context()) };
        // SAFETY: the last reference: the block came from `Box::leak` at spawn.
        return Some(unsafe { Box::from_raw(task.as_ptr()) });
    }
    None
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

/// The task after `task` on the list of tasks alive (the first with
/// `None`), for a walk that spans critical sections (`task::list`): a
/// task the walker holds ([`hold`]) stays on the list, so it can go on
/// from there.
pub(crate) fn task_after(cs: &CriticalSection, task: Option<&Tcb>) -> Option<NonNull<Tcb>> {
    SCHED.with(cs, |s| match task {
        Some(t) => s.all.next(NonNull::from(t)),
        None => s.all.front(),
    })
}

/// The last task on the list of tasks alive (the list is never empty:
/// the idle tasks are on it).
pub(crate) fn last_task(cs: &CriticalSection) -> NonNull<Tcb> {
    SCHED.with(cs, |s| s.all.back()).expect("the idle tasks are on the list of tasks alive")
}

/// One more reference to `task`: it stays alive, and on the list of tasks
/// alive, until the holder gives it back with [`release`].
pub(crate) fn hold(_: &CriticalSection, task: &Tcb) {
    task.refs.set(task.refs.get() + 1);
}

/// Counter ticks `task` has run, up to `now` if it is running.
pub(crate) fn run_ticks(cs: &CriticalSection, task: &Tcb, now: u64) -> u64 {
    let ran = task.counters.run_ticks.get();
    if !is_running(cs, task) {
        return ran;
    }
    ran + now.saturating_sub(task.counters.switched_in_at.get())
}

/// Is `task` on a core now? (An idle task keeps the state `Running` while
/// others run, since it is never queued: ask its core.)
pub(crate) fn is_running(_: &CriticalSection, task: &Tcb) -> bool {
    if task.state.get() != State::Running {
        return false;
    }
    let on_core = match critical::several_cores() {
        true => context::running_task_pointer_of(task.core()),
        false => context::current_task_pointer() as usize,
    };
    on_core == task as *const Tcb as usize
}

/// Core `cpu`'s clock: when it came online, its switches, and its idle
/// task (whose run time is the core's idle time). `None` if it never came online.
pub(crate) fn core_clock(cs: &CriticalSection, cpu: usize) -> Option<(u64, u64, &Tcb)> {
    let (switches, idle) = SCHED.with(cs, |s| match critical::several_cores() {
        true => (s.switches[cpu], s.idle[cpu]),
        // One core made every switch: each switched a task in.
        // SAFETY: tasks on the list are alive while the kernel lock is held
        // (one is freed, and taken off, only inside a critical section).
        false => (
            s.freed_switches + s.all.iter().map(|t| unsafe { t.as_ref() }.counters.switched_in.get()).sum::<u64>(),
            s.idle[cpu],
        ),
    });
    // SAFETY: idle tasks are never freed.
    Some((ONLINE_AT.of(cpu).load(Ordering::Relaxed), switches, unsafe { idle?.as_ref() }))
}

/// A new task joins the list of tasks alive and is queued as ready.
///
/// # Safety
/// `task` is alive (it stays so until [`release`] frees it) and on no list.
pub(crate) unsafe fn admit(cs: &CriticalSection, task: NonNull<Tcb>) {
    // SAFETY: promised by our caller.
    unsafe {
        SCHED.with(cs, |s| s.all.push_back(task));
        make_ready(cs, task);
    }
}

/// Asks the core running `task` to look at it again (a kill, for an
/// isolated task, which ends as that core returns to EL0).
pub(crate) fn nudge_running(cs: &CriticalSection, task: &Tcb) {
    if task.state.get() == State::Running && task.core() != percpu::cpu_index() {
        ask(cs, Some(task.core()));
    }
}
