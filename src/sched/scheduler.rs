//! The scheduler: which task runs, and switching to it.
//!
//! The running task is in TPIDR_EL1; the others are in the ready queue (one
//! FIFO per level), on a wait queue, or ended. Every scheduling decision is
//! made with interrupts masked, at one of these points:
//! - the running task yields ([`yield_now`]), blocks ([`block_current`]) or
//!   ends ([`exit_current`]): the most urgent ready task runs next;
//! - a task wakes a more urgent one ([`reschedule_point`]): a preemptive
//!   task gives way at once, a cooperative one at its next yield or block;
//! - an interrupt handler woke a more urgent task, or the running task's
//!   slice ran out ([`preempt_from_interrupt`], at the end of the handler):
//!   a preemptive task is switched out right there, inside the handler, on
//!   its kernel stack; it resumes there later and returns from the exception.
//!
//! The boot context becomes the idle task: least urgent of all, never queued,
//! it waits for interrupts when nothing is ready.
//!
//! Code above reaches the running task with [`running`], a borrow tied to
//! the interrupts-masked token (its fields change only with interrupts
//! masked), and its body with [`with_running_body`]. A new task starts at
//! `ilusion_task_start`, here; it ends through the task layer, which gives
//! back what the task held, then [`exit_current`].

use super::priority::{is_preemptive, IDLE_LEVEL};
use super::ready_queue::ReadyQueue;
use super::tcb::{QueueLinks, State, TaskBody, Tcb};
use super::timer;
use crate::arch::context::{self, Context};
use crate::critical::{CpuCell, InterruptsMasked};
use crate::task::TaskFailure;
use alloc::boxed::Box;
use core::ptr::NonNull;

struct Scheduler {
    ready: ReadyQueue<QueueLinks>,
    idle: Option<NonNull<Tcb>>,
    /// A task more urgent than the running one became ready, or the slice ended.
    need_resched: bool,
    slice_expired: bool,
}

static SCHED: CpuCell<Scheduler> =
    CpuCell::new(Scheduler { ready: ReadyQueue::new(), idle: None, need_resched: false, slice_expired: false });

/// The running task, as a pointer.
#[inline(always)]
fn current() -> NonNull<Tcb> {
    NonNull::new(context::current_task_pointer() as *mut Tcb).expect("scheduler not started")
}

/// The running task, borrowed for as long as interrupts stay masked.
#[inline(always)]
pub(crate) fn running(_masked: &InterruptsMasked) -> &Tcb {
    // SAFETY: the running task is alive while it runs: its block is freed
    // only after it has ended and been switched away from for good. A switch
    // away and back under the same token resumes the same task, so the
    // borrow still names the running task.
    unsafe { current().as_ref() }
}

/// The running task's address, without masking interrupts (the `Mutex`
/// fast paths compare and store it in their lock word): 0 before tasks start.
#[inline(always)]
pub(crate) fn running_task_address() -> usize {
    context::current_task_pointer() as usize
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

/// Have tasks started (is there a running task)?
pub(crate) fn is_started() -> bool {
    !context::current_task_pointer().is_null()
}

/// Makes the boot context the idle task, and sets the time slice (in
/// counter ticks). Called once, before any spawn.
pub(crate) fn init(slice_ticks: u64) {
    extern "C" {
        static __exception_stack_top: u8;
    }
    let masked = InterruptsMasked::new();
    let kernel_stack_top = core::ptr::addr_of!(__exception_stack_top) as u64;
    let context = Context { kernel_stack_top, ..Context::default() };
    let mut idle = Tcb::new(0, Some("idle".into()), IDLE_LEVEL, context, None, None, None);
    idle.state = State::Running.into();
    idle.refs = 1.into(); // never freed
    let idle = Box::new(idle);
    let idle = NonNull::from(Box::leak(idle));
    timer::set_slice(&masked, slice_ticks);
    SCHED.with(&masked, |s| s.idle = Some(idle));
    context::set_current_task_pointer(idle.as_ptr() as *mut u8);
}

/// The idle task's loop: run whatever is ready, else wait for an interrupt.
pub(crate) fn run_idle() -> ! {
    loop {
        let masked = InterruptsMasked::new();
        if SCHED.with(&masked, |s| s.ready.is_empty()) {
            // Masked `wfi` still wakes on a pending interrupt, which is taken
            // when `masked` drops; its handler switches to what it woke.
            crate::arch::cpu::wait_for_interrupt();
        } else {
            schedule_away(&masked);
        }
    }
}

/// Queues `task` as ready; notes if it should preempt the running task.
///
/// # Safety
/// `task` is alive and on no queue.
pub(crate) unsafe fn make_ready(masked: &InterruptsMasked, task: NonNull<Tcb>) {
    let running_level = running(masked).level.get();
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    t.state.set(State::Ready);
    let level = t.level.get();
    SCHED.with(masked, |s| {
        // SAFETY: `task` is alive and unqueued (our caller's promise).
        unsafe { s.ready.push_back(level, task) };
        if level < running_level {
            s.need_resched = true;
        }
    });
}

/// Puts the running task back in the ready queue: in front when a more
/// urgent task preempts it (it keeps its turn, and what is left of its
/// slice), at the back when its slice is over. The idle task is never queued.
fn requeue_current(masked: &InterruptsMasked, in_front: bool) {
    let t = running(masked);
    let cur = NonNull::from(t);
    let is_idle = SCHED.with(masked, |s| s.idle == Some(cur));
    if is_idle {
        return;
    }
    if in_front {
        timer::pause_slice(masked, t);
    }
    let level = t.level.get();
    t.state.set(State::Ready);
    SCHED.with(masked, |s| {
        // SAFETY: the running task (alive) is on no queue.
        unsafe {
            if in_front {
                s.ready.push_front(level, cur)
            } else {
                s.ready.push_back(level, cur)
            }
        }
    });
}

/// Lets an equally or more urgent ready task run.
pub fn yield_now() {
    let masked = InterruptsMasked::new();
    let me = running(&masked);
    let (cur, level) = (NonNull::from(me), me.level.get());
    let others = SCHED.with(&masked, |s| {
        let others = s.ready.has_ready_at_or_above(level);
        if others {
            // SAFETY: the running task (alive) is on no queue.
            unsafe { s.ready.push_back(level, cur) };
        }
        others
    });
    if others {
        me.state.set(State::Ready);
        schedule_away(&masked);
    }
}

/// Blocks the running task, which the caller has put on a wait queue or the timer list.
pub(crate) fn block_current(masked: &InterruptsMasked) {
    running(masked).state.set(State::Blocked);
    schedule_away(masked);
}

/// After waking tasks from task context: a preemptive task gives way now to
/// a more urgent one. (In an interrupt handler the decision waits for the
/// end of the handler.)
pub(crate) fn reschedule_point(masked: &InterruptsMasked) {
    if crate::arch::cpu::in_exception_handler() {
        return;
    }
    let me = running(masked);
    let (cur, level) = (NonNull::from(me), me.level.get());
    let switch = SCHED.with(masked, |s| {
        let more_urgent = s.need_resched && level > 0 && s.ready.has_ready_at_or_above(level - 1);
        s.need_resched = false;
        more_urgent && (is_preemptive(level) || s.idle == Some(cur))
    });
    if switch {
        requeue_current(masked, true);
        schedule_away(masked);
    }
}

/// Called by the timer when the running task's slice is over.
pub(crate) fn slice_expired(masked: &InterruptsMasked) {
    SCHED.with(masked, |s| {
        s.need_resched = true;
        s.slice_expired = true;
    });
}

/// At the end of an interrupt handler: switch away from a preemptive task if
/// a more urgent one is ready, or if its slice is over and an equal one is.
pub(crate) fn preempt_from_interrupt() {
    // SAFETY: interrupt handlers run with interrupts masked.
    let masked = unsafe { InterruptsMasked::assume() };
    if !is_started() {
        return;
    }
    let me = running(&masked);
    let (cur, level) = (NonNull::from(me), me.level.get());
    let decision = SCHED.with(&masked, |s| {
        if !core::mem::take(&mut s.need_resched) {
            return None;
        }
        let slice_over = core::mem::take(&mut s.slice_expired);
        if !is_preemptive(level) && s.idle != Some(cur) {
            return None;
        }
        if slice_over && s.ready.has_ready_at_or_above(level) {
            Some(false) // its turn is over: behind its equals
        } else if level > 0 && s.ready.has_ready_at_or_above(level - 1) {
            Some(true)
        } else {
            None
        }
    });
    if let Some(in_front) = decision {
        requeue_current(&masked, in_front);
        schedule_away(&masked);
    }
    core::mem::forget(masked);
}

/// Switches to the most urgent ready task (or idle). The caller has put the
/// running task where it belongs (ready queue, wait queue, or nowhere if it ended).
pub(crate) fn schedule_away(masked: &InterruptsMasked) {
    crate::critical::assert_no_spin_lock_held("a context switch");
    let me = running(masked);
    let cur = NonNull::from(me);
    let next = SCHED.with(masked, |s| s.ready.pop_most_urgent().or(s.idle)).expect("no idle task");
    if next == cur {
        me.state.set(State::Running);
        return;
    }
    // SAFETY: `next` came off the ready queue (or is idle): alive, with its context saved.
    let n = unsafe { next.as_ref() };
    n.state.set(State::Running);
    timer::start_slice(masked, n);
    switch_lower_half(masked, me, n);
    context::set_current_task_pointer(next.as_ptr() as *mut u8);
    // SAFETY: interrupts are masked; both contexts belong to live tasks whose
    // stacks are mapped (a task is freed only after it has been switched away from).
    let prev = unsafe { context::switch(me.context(), n.context(), cur.as_ptr() as *mut u8) };
    finish_switch(masked, prev as *mut Tcb);
}

/// Installs the lower half `next` runs with: its own address space (tagged
/// with its ASID, so no TLB flush), or the empty one for kernel tasks
/// (between two kernel tasks, the empty one is there already). An isolated
/// task's EL0 thread register goes and comes with its address space.
fn switch_lower_half(_masked: &InterruptsMasked, prev: &Tcb, next: &Tcb) {
    if !prev.is_isolated() && !next.is_isolated() {
        return;
    }
    // SAFETY: interrupts are masked, and an address space is only touched
    // here and when its task is freed (after it has been switched away from).
    if let Some(space) = unsafe { &mut *prev.address_space.get() } {
        space.save_user_state();
    }
    // SAFETY: as above.
    match unsafe { &mut *next.address_space.get() } {
        Some(space) => space.activate(),
        None => crate::arch::mmu::clear_lower_half(),
    }
}

/// Runs in the task just switched to: frees the previous task if it had ended.
pub(crate) fn finish_switch(masked: &InterruptsMasked, prev: *mut Tcb) {
    // SAFETY: `prev` is the task that ran before, alive until released here.
    let prev = unsafe { &*prev };
    if prev.state.get() == State::Exited {
        // SAFETY: its own reference, given up now that nothing runs on its stacks.
        unsafe { release(masked, NonNull::from(prev)) };
    }
}

/// Drops one reference to `task`, freeing it (stacks, body, block) at zero.
///
/// # Safety
/// The caller owns one of the task's references.
pub(crate) unsafe fn release(_masked: &InterruptsMasked, task: NonNull<Tcb>) {
    // SAFETY: alive while a reference is held (ours).
    let refs = unsafe { task.as_ref() }.refs.get() - 1;
    // SAFETY: as above.
    unsafe { task.as_ref() }.refs.set(refs);
    if refs == 0 {
        // SAFETY: the last reference: the block came from `Box::leak` at spawn.
        drop(unsafe { Box::from_raw(task.as_ptr()) });
    }
}

/// The last step of a task's end (the task layer has given back what the
/// task held: its mutexes, its handles, a detached task's result): records
/// why it ended, wakes its joiners and switches away for good.
pub(crate) fn exit_current(masked: InterruptsMasked, failure: Option<TaskFailure>) -> ! {
    let t = running(&masked);
    // SAFETY: nothing but the task itself touches its failure slot before it has ended.
    unsafe { *t.failure.get() = failure };
    t.state.set(State::Exited);
    t.joiners.wake_all(&masked);
    schedule_away(&masked);
    unreachable!("an ended task was resumed");
}

/// Where a new task starts (from `task_trampoline` in switch.s, which the
/// first switch to it "returns" into): finish the switch, then run its body,
/// which ends the task.
#[no_mangle]
extern "C" fn ilusion_task_start(prev: *mut u8, task: *mut Tcb) -> ! {
    // SAFETY: switches run with interrupts masked; we were just switched to.
    let masked = unsafe { InterruptsMasked::assume() };
    finish_switch(&masked, prev as *mut Tcb);
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
pub(crate) unsafe fn set_level(masked: &InterruptsMasked, task: NonNull<Tcb>, level: u8) {
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    let old = t.level.get();
    if old == level {
        return;
    }
    match t.state.get() {
        State::Ready => SCHED.with(masked, |s| {
            // SAFETY: a ready task is queued at its level.
            unsafe {
                s.ready.remove(old, task);
                t.level.set(level);
                s.ready.push_back(level, task);
            }
            if level < old {
                s.need_resched = true;
            }
        }),
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
        State::Running | State::Exited => t.level.set(level),
    }
}
