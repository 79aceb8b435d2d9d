//! Looking at the running system, and acting on it: [`list`], [`stats`],
//! [`kill`], and `cpu::stats` (the types are in `stats`).
//!
//! A kill is a request the task obeys at a safe point, so that it can
//! never leave the kernel inconsistent:
//! - an isolated task ends at once: the core running it is interrupted and
//!   ends it before returning to EL0; a task blocked in a system call is
//!   taken off what it waits for and ends there; one that never ran ends
//!   before its first instruction at EL0;
//! - a kernel task ends at its next yield or block (one that never ran does
//!   not start: its closure is dropped unrun; a blocked one ends at once,
//!   taken off its wait queue as if it had timed out; one whose wait was
//!   over, a permit or a mutex handed to it, keeps it and runs on to its
//!   next yield or block; one that took a `Condvar` notification and ends
//!   blocking for its mutex passes the notification on): exactly as if it
//!   panicked there. Mutexes it holds are poisoned; values on its stack are
//!   leaked, as for any failure. A kernel task that never yields or blocks
//!   runs on (kernel code may be between two halves of a change to shared
//!   state anywhere else: stopping it there could corrupt the kernel).
//!
//! Either way it ends through the task layer's usual end (handles and
//! mutexes given back, joiners woken) with `TaskFailure::Killed`.

use super::ending::end_current;
use super::spawn::JoinHandle;
use super::stats::{CpuStats, KillError, TaskInfo, TaskMemory, TaskState};
use super::{Priority, TaskFailure};
use crate::critical::CriticalSection;
use crate::sched::scheduler;
use crate::sched::tcb::{State, Tcb};
use crate::time::ticks_to_duration;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

/// Every task alive: idle tasks (id 0, one per core), then the others in
/// the order they were spawned, with ended ones not yet joined. Tasks
/// spawned while it runs are left out; one that is freed before it is
/// reached too.
///
/// The tasks are read [`LIST_CHUNK`] per critical section, so interrupts
/// never wait for all of them (with 4,000 tasks, reading them all in one
/// section kept interrupts waiting 390 µs). Between sections the walk
/// holds the tasks it read last (`scheduler::hold`): they stay on the list
/// of tasks alive, and it goes on from there. It holds the last task of
/// the list as it started, too, and ends with it. Each task's stack is
/// scanned for its high-water mark while held, a page per critical
/// section; the tasks' blocks that the walk held last are freed after its
/// sections, as a `JoinHandle`'s are. Out of kernel memory for the table,
/// it gives back every task it holds, then ends the caller
/// (`TaskFailure::OutOfKernelMemory`, as a failed allocation does).
pub fn list() -> Vec<TaskInfo> {
    let mut out: Vec<TaskInfo> = Vec::new();
    // This chunk's tasks, held; and blocks whose last hold was ours, to free.
    let mut held: Vec<NonNull<Tcb>> = Vec::new();
    let mut freed: Vec<Box<Tcb>> = Vec::new();
    // Every allocation is tried, and a failure gives back what the walk
    // holds before it ends the task: a failed task's values are never
    // dropped, and tasks held for ever would never be freed.
    if held.try_reserve_exact(LIST_CHUNK).is_err() || freed.try_reserve_exact(LIST_CHUNK).is_err() {
        drop((held, freed));
        out_of_memory::<Box<Tcb>>(LIST_CHUNK);
    }
    let masked = CriticalSection::new();
    // Never empty: the idle tasks are on it. Held, so the walk can tell it.
    let last = HeldTask::new(&masked, scheduler::last_task(&masked));
    drop(masked);
    let mut after: Option<NonNull<Tcb>> = None;
    loop {
        if out.try_reserve(LIST_CHUNK).is_err() {
            let masked = CriticalSection::new();
            give_back(&masked, &mut held, &mut freed);
            drop(masked);
            // The blocks last: freeing one may drop a detached task's result.
            drop((last, out, held));
            drop(freed);
            out_of_memory::<TaskInfo>(LIST_CHUNK);
        }
        let masked = CriticalSection::new();
        let (now, hz) = (crate::arch::cpu::counter(), crate::time::frequency());
        // SAFETY: `after` is held (from the chunk before), so on the list.
        let mut next = scheduler::task_after(&masked, after.map(|t| unsafe { t.as_ref() }));
        give_back(&masked, &mut held, &mut freed);
        let mut ended = false;
        while held.len() < LIST_CHUNK && !ended {
            let Some(t) = next else { break };
            // SAFETY: alive: on the list, under this section.
            let task = unsafe { t.as_ref() };
            scheduler::hold(&masked, task);
            held.push(t);
            out.push(info_of(&masked, task, now, hz));
            ended = t == last.0;
            next = scheduler::task_after(&masked, Some(task));
        }
        drop(masked);
        freed.clear(); // blocks that were ours alone: freed outside the section
        let read = out.len() - held.len();
        for (info, &t) in out[read..].iter_mut().zip(&held) {
            // SAFETY: held, until `give_back`.
            info.stack_high_water = unsafe { stack_high_water(t) };
        }
        if ended || next.is_none() {
            let masked = CriticalSection::new();
            give_back(&masked, &mut held, &mut freed);
            drop(masked);
            return out; // `last` given back as it drops, `freed` freed: after the section
        }
        after = held.last().copied();
    }
}

/// Ends the calling task for want of kernel memory for `n` values of `T`,
/// as a failed allocation does. (What the caller holds, it gives back first.)
fn out_of_memory<T>(n: usize) -> ! {
    alloc::alloc::handle_alloc_error(core::alloc::Layout::array::<T>(n).unwrap_or(core::alloc::Layout::new::<T>()))
}

/// How many tasks [`list`] reads per critical section (about a hundred
/// instructions each; with the holds' bookkeeping, about 4 µs a chunk).
const LIST_CHUNK: usize = 32;

/// Gives back [`list`]'s holds on `held`; the blocks that were held by
/// nothing else go to `freed`, to be freed after the section.
#[allow(clippy::vec_box)] // the blocks as `release` gives them, each its own allocation, to free
fn give_back(masked: &CriticalSection, held: &mut Vec<NonNull<Tcb>>, freed: &mut Vec<Box<Tcb>>) {
    for t in held.drain(..) {
        // SAFETY: our hold on it, given back once.
        freed.extend(unsafe { scheduler::release(masked, t) });
    }
}

/// Task `id`'s statistics, if it is alive (idle: core 0's idle task).
/// The task is looked up once ([`find_held`]) and held while its stack is
/// scanned, as through a `JoinHandle`.
pub fn stats(id: u64) -> Option<TaskInfo> {
    let task = find_held(id)?;
    let masked = CriticalSection::new();
    let mut info = info_of(&masked, task.tcb(&masked), crate::arch::cpu::counter(), crate::time::frequency());
    drop(masked);
    // SAFETY: held until `task` is dropped, after the scan.
    info.stack_high_water = unsafe { stack_high_water(task.0) };
    Some(info)
}

/// A task's stack high-water mark, in bytes (see `TaskInfo`): `None` for
/// a task whose stack is gone or not scanned (an idle task; a kernel task
/// without the `stack-watermark` feature). A stack starts zeroed, and the
/// mark is its lowest word that is not zero: the scan reads every page the
/// task never reached, up to a whole isolated stack of 8 MiB (milliseconds).
/// So it reads one page per critical section, of a task held meanwhile
/// (by a handle, or by [`find_held`]: never looked up again): interrupts
/// wait for one page at most.
///
/// # Safety
/// `task` is held (a reference in `Tcb::refs`) for the whole call.
unsafe fn stack_high_water(task: NonNull<Tcb>) -> Option<usize> {
    // SAFETY: held, so alive (our caller's promise).
    let t = unsafe { task.as_ref() };
    let mut page = 0;
    loop {
        let masked = CriticalSection::new();
        // SAFETY: interrupts are masked, so the scheduler does not touch the
        // address space meanwhile (it lives as long as the task's block).
        let (pages, depth) = match (unsafe { (*t.address_space.get()).as_ref() }, &t.stacks) {
            (Some(space), _) => (space.stack_pages() as u64, space.stack_depth_in_page(page)),
            (None, Some(stacks)) if cfg!(feature = "stack-watermark") => (stacks.pages(), stacks.depth_in_page(page)),
            _ => return None,
        };
        if let Some(depth) = depth {
            return Some(depth as usize);
        }
        if page as u64 + 1 >= pages {
            return Some(0); // all zeros: never used
        }
        drop(masked);
        page += 1;
    }
}

/// Every online core's statistics, since it came online.
pub fn cpu_stats() -> Vec<CpuStats> {
    let mut out = Vec::with_capacity(crate::percpu::MAX_CPUS);
    let masked = CriticalSection::new();
    let (now, hz) = (crate::arch::cpu::counter(), crate::time::frequency());
    for cpu in 0..crate::percpu::MAX_CPUS {
        let Some((online_at, switches, idle)) = scheduler::core_clock(&masked, cpu) else { continue };
        let up = now.saturating_sub(online_at);
        let idle_ticks = scheduler::run_ticks(&masked, idle, now).min(up);
        out.push(CpuStats {
            cpu,
            busy: ticks_to_duration(up - idle_ticks, hz),
            idle: ticks_to_duration(idle_ticks, hz),
            interrupts: crate::irq::interrupts_taken(cpu),
            switches,
        });
    }
    out
}

/// Ends task `id` (see the module's notes for when). Killing oneself ends
/// at once, as a panic would; but an interrupt handler that kills the task
/// it interrupted only asks, and the task ends after the handler returns.
pub fn kill(id: u64) -> Result<(), KillError> {
    let task = find_held(id).ok_or(KillError::NoSuchTask(id))?;
    let masked = CriticalSection::new();
    let t = task.0;
    // Our hold is given back before the kill (a task killing itself does
    // not return). If it was the last, the task had ended and been joined
    // meanwhile: it is freed after the section, and was already ended.
    if let Some(freed) = task.release(&masked) {
        drop(masked);
        drop(freed);
        return Err(KillError::AlreadyEnded(id));
    }
    // SAFETY: alive: others hold it still, and nothing lets go of a task
    // outside a critical section.
    kill_task(masked, unsafe { t.as_ref() })
}

fn kill_task(masked: CriticalSection, t: &Tcb) -> Result<(), KillError> {
    match t.id {
        0 => return Err(KillError::IdleTask),
        super::ending::MAIN_TASK_ID => return Err(KillError::MainTask),
        _ => {}
    }
    if t.state.get() == State::Exited {
        return Err(KillError::AlreadyEnded(t.id));
    }
    let running = scheduler::running(&masked);
    crate::trace::kill(t.id, running.id);
    // The running task ends here, unless an interrupt handler (or a
    // fault's) asks, about the task it interrupted: then the task ends as
    // any other, at its next block or yield or before EL0, after the
    // handler has returned (ending it inside the handler would leave the
    // interrupt unfinished).
    if core::ptr::eq(t, running) && !scheduler::in_handler(running) {
        drop(masked);
        end_current(Some(TaskFailure::Killed));
    }
    if t.kill_requested.swap(true, Ordering::Relaxed) {
        return Ok(()); // asked before; on its way out
    }
    match t.state.get() {
        State::Blocked => {
            // Off what it waits for, and ready: it ends as it resumes in its block.
            scheduler::cancel_wait(&masked, t);
            t.wake_reason.set(crate::sched::tcb::WakeReason::Cancelled);
            // SAFETY: alive, and now on no queue.
            unsafe { scheduler::make_ready(&masked, NonNull::from(t)) };
            scheduler::reschedule_point(&masked);
        }
        // An isolated task on another core: that core ends it before EL0.
        State::Running if t.is_isolated() => scheduler::nudge_running(&masked, t),
        _ => {} // it ends at its next yield or block (or return to EL0)
    }
    Ok(())
}

/// Where an exception taken from EL0 returns: if the running (isolated)
/// task was killed meanwhile, it ends here instead. The check is inlined
/// into the exception's handler; the end is not, so that the handler's
/// frame stays small (`ilusion_interrupt`'s is on every interrupt's path).
#[inline]
pub(crate) fn end_if_killed() {
    if scheduler::running_task_killed() {
        end_now_killed();
    }
}

/// The end of a task [`end_if_killed`] found killed.
#[cold]
#[inline(never)]
fn end_now_killed() -> ! {
    end_current(Some(TaskFailure::Killed))
}

/// How a task the scheduler found killed ends (at a block or a yield). A
/// `Condvar` notification it took and had not acted on goes to the next
/// waiter first (it was blocking for its mutex: `sync::condvar`).
fn end_killed() -> ! {
    crate::sync::condvar::pass_on_notification();
    end_current(Some(TaskFailure::Killed))
}

/// Tells the scheduler how killed tasks end (once, at boot).
pub(crate) fn init() {
    scheduler::set_killed_task_end(end_killed);
}

impl<T> JoinHandle<T> {
    /// The task's statistics (see [`TaskInfo`]); also once it has ended.
    pub fn stats(&self) -> TaskInfo {
        let masked = CriticalSection::new();
        let t = self.block(&masked);
        let mut info = info_of(&masked, t, crate::arch::cpu::counter(), crate::time::frequency());
        drop(masked);
        // SAFETY: the handle holds the task.
        info.stack_high_water = unsafe { stack_high_water(self.tcb) };
        info
    }

    /// Ends the task: see [`kill`].
    pub fn kill(&self) -> Result<(), KillError> {
        let masked = CriticalSection::new();
        // SAFETY: the handle keeps the task alive; the borrow ends with `kill_task`.
        let t = unsafe { &*(self.block(&masked) as *const Tcb) };
        kill_task(masked, t)
    }
}

/// A task alive that [`find_held`] found, held (`scheduler::hold`): it
/// stays alive, and on the list of tasks alive, until this is dropped.
pub(super) struct HeldTask(NonNull<Tcb>);

impl HeldTask {
    /// Holds `task`, alive under `masked`.
    fn new(masked: &CriticalSection, task: NonNull<Tcb>) -> Self {
        // SAFETY: alive: on the list, under this section (our caller's).
        scheduler::hold(masked, unsafe { task.as_ref() });
        Self(task)
    }

    /// The task's block, under a critical section.
    pub(super) fn tcb<'a>(&'a self, _: &'a CriticalSection) -> &'a Tcb {
        // SAFETY: alive while held.
        unsafe { self.0.as_ref() }
    }

    /// The task's block, whatever the section: for code that reads it as a
    /// `JoinHandle`'s holder does.
    pub(super) fn as_ptr(&self) -> NonNull<Tcb> {
        self.0
    }

    /// Gives the hold back under `masked`; the block, if it was the last
    /// hold (the task had ended and nothing else held it), to be freed
    /// after the section.
    fn release(self, masked: &CriticalSection) -> Option<Box<Tcb>> {
        let task = core::mem::ManuallyDrop::new(self).0;
        // SAFETY: our hold on it, given back once (`self` is not dropped).
        unsafe { scheduler::release(masked, task) }
    }
}

impl Drop for HeldTask {
    fn drop(&mut self) {
        let masked = CriticalSection::new();
        // SAFETY: our hold on it, given back once (here).
        let freed = unsafe { scheduler::release(&masked, self.0) };
        drop(masked);
        drop(freed); // outside the section: a detached task's result may be dropped here
    }
}

/// How many tasks [`find_held`] compares per critical section.
const FIND_CHUNK: usize = 64;

/// The task alive with id `id` (for 0, core 0's idle task), held. It is
/// looked for [`FIND_CHUNK`] tasks per critical section, holding the last
/// one compared between two sections, as [`list`] does: interrupts never
/// wait for every task to be compared. Callers then use the held task
/// directly, never looking it up again (a stack scan or a table of
/// mappings spans a section per page or so: finding the task again in each,
/// behind 2,500 others, took `stats` of an isolated task with an 8 MiB
/// stack 47 ms instead of its handle's 5.5 ms; test `find_by_id`).
/// A task spawned while it looks may be missed; it stops at the task that
/// was last when it began.
pub(super) fn find_held(id: u64) -> Option<HeldTask> {
    let masked = CriticalSection::new();
    let last = HeldTask::new(&masked, scheduler::last_task(&masked));
    drop(masked);
    let mut after: Option<HeldTask> = None;
    loop {
        let masked = CriticalSection::new();
        let mut compared = after.as_ref().map(|t| t.0);
        for _ in 0..FIND_CHUNK {
            // SAFETY: `compared` is held, or was compared under this section: on the list.
            let t = scheduler::task_after(&masked, compared.map(|t| unsafe { t.as_ref() }))?;
            // SAFETY: alive: on the list, under this section.
            if unsafe { t.as_ref() }.id == id {
                return Some(HeldTask::new(&masked, t));
            }
            if t == last.0 {
                return None;
            }
            compared = Some(t);
        }
        // The last task compared, held: the walk goes on from it. The hold
        // before is given back in a section of its own, after this one.
        let held = compared.map(|t| HeldTask::new(&masked, t));
        drop(masked);
        after = held;
    }
}

fn info_of(masked: &CriticalSection, t: &Tcb, now: u64, hz: u64) -> TaskInfo {
    let state = match t.state.get() {
        State::Running if scheduler::is_running(masked, t) => TaskState::Running,
        State::Running | State::Ready => TaskState::Ready, // `Running`: an idle task while others run
        State::Exited => TaskState::Ended,
        State::Blocked if t.waiting_on.get().is_none() && !t.parked.get() && t.timer_links.is_linked() => {
            TaskState::Sleeping
        }
        State::Blocked => TaskState::Blocked,
    };
    // SAFETY: interrupts are masked, so the scheduler does not touch the
    // address space meanwhile (it lives as long as the task's block).
    let space = unsafe { &**t.address_space.get() };
    // The stack's high-water mark is left to `stack_high_water`, outside
    // this section (it may read megabytes).
    let (stack_size, memory) = match (space, &t.stacks) {
        (Some(space), _) => {
            let usage = space.usage();
            let memory = TaskMemory {
                resident_bytes: usage.resident + usage.tables,
                reserved_bytes: usage.limit,
                page_faults: space.demand_faults(),
            };
            (t.user_stack_size as usize, Some(memory))
        }
        (None, Some(stacks)) => (stacks.size(), None),
        (None, None) => (0, None), // an idle task, on its core's boot stack
    };
    TaskInfo {
        id: t.id,
        name: t.name.clone(),
        state,
        priority: Priority::from_level(t.base_level.get()),
        running_priority: Priority::from_level(t.level.get()),
        cpu: t.core(),
        isolated: t.is_isolated(),
        cpu_time: ticks_to_duration(scheduler::run_ticks(masked, t, now), hz),
        switched_in: t.counters.switched_in.get(),
        preempted: t.counters.preempted.get(),
        woken: t.counters.woken.get(),
        stack_size,
        stack_high_water: None,
        memory,
    }
}
