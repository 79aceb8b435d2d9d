//! The tasks alive: the list each task is on from its spawn until its block
//! is freed (idle tasks included), the references that keep a block alive
//! ([`hold`], [`release`]), and what statistics read of a task (its run
//! time, whether a core runs it, each core's clock).

use super::{ask, running, ONLINE_AT, SCHED};
use crate::arch::context;
use crate::critical::{self, CriticalSection};
use crate::percpu;
use crate::sched::tcb::{State, Tcb};
use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

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
    // SAFETY: forwarded from our caller.
    unsafe { release_refs(masked, task, 1) }
}

/// [`release`] for the task's `JoinHandle`, whose reference counts
/// [`HANDLE_REF`](crate::sched::tcb::HANDLE_REF).
///
/// # Safety
/// The caller owns the task's handle reference.
#[must_use]
pub(crate) unsafe fn release_handle(masked: &CriticalSection, task: NonNull<Tcb>) -> Option<Box<Tcb>> {
    // SAFETY: forwarded from our caller.
    unsafe { release_refs(masked, task, crate::sched::tcb::HANDLE_REF) }
}

/// [`release`], of a reference that counts `weight`.
///
/// # Safety
/// As for [`release`].
#[inline(always)]
unsafe fn release_refs(masked: &CriticalSection, task: NonNull<Tcb>, weight: u32) -> Option<Box<Tcb>> {
    // SAFETY: alive while a reference is held (ours).
    let refs = unsafe { task.as_ref() }.refs.get() - weight;
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

/// One more reference to `task`: it stays alive, and on the list of tasks
/// alive, until the holder gives it back with [`release`].
pub(crate) fn hold(_: &CriticalSection, task: &Tcb) {
    task.refs.set(task.refs.get() + 1);
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

/// Asks the core running `task` to look at it again (a kill, for an
/// isolated task, which ends as that core returns to EL0).
pub(crate) fn nudge_running(cs: &CriticalSection, task: &Tcb) {
    if task.state.get() == State::Running && task.core() != percpu::cpu_index() {
        ask(cs, Some(task.core()));
    }
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
