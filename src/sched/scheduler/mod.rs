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
//!
//! ## Where each part is
//!
//! This file holds the scheduler's state (the ready queues, each core's
//! idle task, the list of tasks alive) and the running task. The rest is
//! in five files, each using only those before it:
//! - `alive.rs`: the list of tasks alive, the references that keep a
//!   task's block alive, and what statistics read of a task;
//! - `switch.rs`: the switch from the running task to the next;
//! - `idle.rs`: each core's idle task and its loop;
//! - `give_way.rs`: where the running task yields, blocks or is preempted;
//! - `ready.rs`: where a task becomes ready (a wake, a spawn, a new level).

mod alive;
mod give_way;
mod idle;
mod ready;
mod switch;

pub(crate) use alive::{
    core_clock, hold, is_running, last_task, nudge_running, release, release_handle, run_ticks,
    take_running_address_space, task_after,
};
pub use give_way::yield_now;
pub(crate) use give_way::{
    block, block_current, block_on, block_unless_killed, cancel_wait, end_killed, in_handler, in_system_call,
    preempt_from_interrupt, queue_handed_over, refuse_wait_in_handler, reschedule_point, set_killed_task_end,
    slice_expired,
};
pub(crate) use idle::{become_idle, init, run_idle};
pub(crate) use ready::{admit, make_ready, set_level, wake, wake_and_reschedule};
pub(crate) use switch::exit_current;

use super::list::List;
use super::run_queues::RunQueues;
use super::tcb::{AllLinks, QueueLinks, State, TaskBody, Tcb};
use crate::arch::context;
use crate::critical::{self, CriticalSection, KernelCell};
use crate::irq::{self, Ipi};
use crate::percpu::{self, PerCpu, MAX_CPUS};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// (`ready::make_ready_in_handler`): ready, but on no queue. The
    /// handler's end switches straight to it (`give_way::give_way_if_decided`),
    /// as a block or the idle loop would ([`switch::schedule_away_on`]); a
    /// more urgent wake or a change of level first puts it on its queue
    /// ([`Scheduler::queue_handed`]); so does the end of a handler nested
    /// in another ([`queue_handed_over`]). (A handler's yield does nothing:
    /// `give_way::yield_on`.)
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
    /// Takes the task a handler handed over ([`Scheduler::handed`]), if
    /// any; with none (a block's usual case), nothing is written.
    #[inline(always)]
    fn take_handed(&mut self) -> Option<NonNull<Tcb>> {
        let handed = self.handed;
        if handed.is_some() {
            self.handed = None;
        }
        handed
    }

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

/// Runs `f` on the running task's record of its last failed kernel
/// allocation ([`Tcb::alloc_failure`]), without a critical section (the
/// allocator records there while it holds the heap's lock): only the
/// running task touches its own record, and TPIDR_EL1 names it on
/// whatever core it runs. `None` outside a task's own code: before tasks
/// start, and in an exception handler (an interrupt handler's failure is
/// not the task it interrupted; an isolated task's system calls fail
/// softly, with an error).
#[inline]
pub(crate) fn with_running_task_alloc_failure<R>(
    f: impl FnOnce(&core::cell::Cell<Option<(usize, usize)>>) -> R,
) -> Option<R> {
    if crate::arch::cpu::in_exception_handler() {
        return None;
    }
    let task = context::current_task_pointer() as *const Tcb;
    // SAFETY: a non-null TPIDR_EL1 is the running task, alive while it runs
    // (its block is freed only after it has ended and been switched away
    // from); the borrow ends with `f`, before this task can end.
    unsafe { task.as_ref() }.map(|t| f(&t.alloc_failure))
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

/// Is the running task this core's idle task (id 0, as every idle task
/// is)? Without a critical section: a task's id never changes. Tasks must
/// have started on this core ([`is_started`]).
pub(crate) fn running_is_idle() -> bool {
    // SAFETY: the running task's block is freed only after it has ended
    // and been switched away from.
    unsafe { current().as_ref() }.id == 0
}

/// Have tasks started on this core (is there a running task)?
pub(crate) fn is_started() -> bool {
    !context::current_task_pointer().is_null()
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
