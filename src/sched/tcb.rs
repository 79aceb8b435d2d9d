//! The task control block: everything the OS knows about one task.
//!
//! A `Tcb` lives in a `Box` from spawn until it has ended and nothing
//! refers to it, counted in `refs`: the task's own reference (dropped by
//! the next task once the dead one is switched away from), its
//! `JoinHandle`'s, and one for each hold (`scheduler::hold`: `task::list`
//! keeps its place among the tasks with one). It is on at most one queue
//! through `queue_links` (the ready queue or one wait queue) and, while it
//! sleeps or waits with a timeout, on the timer list of one core through
//! `timer_links`. All fields are touched with the kernel lock held only (in
//! a critical section), but for the body (what the task runs, a
//! [`TaskBody`] trait object the task layer made), whose contents only the
//! task itself touches while it runs.

use super::held::HeldLocks;
use super::list::{Adapter, Links};
use super::priority::{is_sliced, Level};
use super::stack::TaskStacks;
use super::wait_queue::WaitQueue;
use crate::arch::context::Context;
use crate::task::{TaskFailure, TaskName};
use alloc::boxed::Box;
use core::any::{Any, TypeId};
use core::cell::{Cell, UnsafeCell};
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::AtomicBool;

/// What a task's handle counts for in [`Tcb::refs`]: more than every hold
/// together (holders are tasks, one per stack slot, each holding a task at
/// most twice at once: `task::list`'s last one and its chunk; an interrupt
/// handler's `kill` by id, one more per core), so that
/// `refs < HANDLE_REF` says the handle is gone, whoever holds the task
/// meanwhile: a detached task then drops its result itself as it ends,
/// never a reader that held it (`task::stats`, `task::list`), which would
/// fail if that `Drop` panicked. (Compared as `refs == 1` was: the same cost.)
pub const HANDLE_REF: u32 = 1 << 20;
const _: () = assert!(super::stack::MAX_SLOTS < HANDLE_REF);

/// What a task runs: made by `task` at spawn (a kernel task's closure and
/// the slot for its result, or what an isolated task enters EL0 with), kept
/// in the control block. The scheduler only starts it and, with the task,
/// drops it; the task layer, which made it, finds its own type again
/// with `downcast_ref`.
pub trait TaskBody: Any {
    /// The task's code, run in the new task with interrupts enabled. It
    /// ends the task (through `task`), so it never returns here.
    fn run(&self) -> !;
    /// The task is ending: give back what others may be waiting for (an
    /// isolated task's channel handles). Called by the task layer, in the
    /// task, outside any critical section.
    fn end(&self) {}
    /// The task is ending detached (its handle is gone): drop its result,
    /// if it keeps one, here in the task, outside any critical section
    /// (a result's `Drop` is application code). Called by the task layer.
    fn drop_result(&self) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    Ready,
    Blocked,
    /// Ended (returned, panicked or faulted); waiting to be joined or freed.
    Exited,
}

/// Why a blocked task was made ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeReason {
    Notified,
    TimedOut,
    /// Killed while it waited (`task::kill` took it off what it waited
    /// for): it ends as it resumes, and its wait returns nothing.
    Cancelled,
}

/// `repr(C)`, with the context first: TPIDR_EL1 points at the running
/// task's block, and the exception path reads its context there (see
/// `arch::context::set_current_task_pointer`).
#[repr(C)]
pub struct Tcb {
    pub context: UnsafeCell<Context>,
    pub queue_links: Links<Tcb>,
    pub timer_links: Links<Tcb>,
    pub id: u64,
    pub name: Option<TaskName>,
    /// Its references: its own (1), its handle's ([`HANDLE_REF`]), and
    /// one per hold (`scheduler::hold`: a reader of every task keeping its
    /// place in the list, `task::stats` scanning its stack).
    pub refs: Cell<u32>,
    // The one-byte fields together: between the eight-byte ones they
    // would leave holes, which make a spawn's stores of zeros uneven (a
    // copy from the stack instead of paired stores).
    /// The level the task was given, and the one it runs at (higher while it
    /// holds a mutex a more urgent task waits for).
    pub base_level: Cell<Level>,
    pub level: LevelCell,
    pub state: Cell<State>,
    pub wake_reason: Cell<WakeReason>,
    pub panicking: Cell<bool>,
    /// An `unpark` arrived while the task was not parked: the next `park` returns at once.
    pub park_token: Cell<bool>,
    /// Blocked in `park` (on no wait queue), until an `unpark`.
    pub parked: Cell<bool>,
    /// In a system call (an isolated task's): on its kernel stack, as an
    /// interrupt handler is, but allowed to block (`scheduler::block_on`).
    pub in_system_call: Cell<bool>,
    /// The core it runs on, or ran on last.
    pub cpu: Cell<u8>,
    /// While ready: which ready queue holds it (a core's number, or
    /// `scheduler::SHARED` for the queue every core takes from).
    pub ready_in: Cell<u8>,
    /// While on a timer list: whose (each core has its own).
    pub timer_cpu: Cell<u8>,
    /// `task::kill` asked it to end: at its next yield or block (an
    /// isolated task also on its next return to EL0). Set by any core.
    pub kill_requested: AtomicBool,
    /// When a sleeping or timed wait ends, in counter ticks.
    pub deadline: Cell<u64>,
    /// How much of its time slice it had used when a more urgent task
    /// preempted it (counter ticks; 0: it gets a whole slice when it runs
    /// next). Kept as "used" rather than "left" so that a whole slice is the
    /// zero a new task starts with, and the end of the next slice is one
    /// subtraction and one add.
    pub slice_used: Cell<u64>,
    /// The wait queue the task is on, if blocked on one.
    pub waiting_on: Cell<Option<NonNull<WaitQueue>>>,
    /// The mutex it waits for (for priority inheritance chains and deadlock
    /// detection), as an opaque pointer; bit 0 set when the wait has no
    /// deadline (`sync::mutex` reads it).
    pub waiting_for_mutex: Cell<*const ()>,
    /// The condition variable whose notification it took and has not acted
    /// on yet (it is taking its mutex back), as an opaque pointer; null
    /// otherwise. Only the task itself touches it (`sync::condvar`).
    pub notified_by: Cell<*const ()>,
    pub stacks: Option<TaskStacks>,
    /// Why it failed, once it has ended (`None`: returned normally).
    pub failure: UnsafeCell<Option<TaskFailure>>,
    /// Tasks waiting in `join`.
    pub joiners: WaitQueue,
    /// What the task runs, and where its result goes (`None` for idle, or
    /// once [`Tcb::take_body`] has handed it over).
    body: UnsafeCell<Option<Box<dyn TaskBody>>>,
    /// An isolated task's own lower half (`None` for kernel tasks). Touched
    /// with interrupts masked: activated when the task is switched to, freed
    /// with the block, through `mm::address_space::drop_task_space` (outside
    /// any critical section when its handle's drop frees the block; a
    /// detached task gives it back itself as it ends, `task::ending`; inside
    /// the last switch only for a handle dropped just before it) (hence
    /// `ManuallyDrop`: a block's drop does not link the code that frees
    /// address spaces into applications that never make one).
    pub address_space: UnsafeCell<ManuallyDrop<Option<crate::mm::address_space::AddressSpace>>>,
    /// An isolated task's stack size in its own address space (0 for kernel tasks).
    pub user_stack_size: u64,
    /// The cores it may run on (bit `n`: core `n`).
    pub cpus: crate::percpu::CpuMask,
    /// What the scheduler counted for it (`task::stats`).
    pub counters: TaskCounters,
    /// On the list of every task alive (`scheduler::task_after`).
    pub all_links: Links<Tcb>,
    /// The size and alignment of its last failed kernel allocation, exact:
    /// written by the allocator while the task runs, read by its own panic
    /// handler (`TaskFailure::OutOfKernelMemory`); only the task itself
    /// touches it. Its own, so that a failure on another core cannot
    /// overwrite it or take it first. (Here, near the end: the
    /// fields the switch paths read keep their places.)
    pub alloc_failure: Cell<Option<(usize, usize)>>,
    /// The mutexes it holds, by address (see `sched::held`). Last: a
    /// spawn writes only its count, and the fields above keep their places.
    pub held_mutexes: HeldLocks,
}

const _: () = assert!(core::mem::offset_of!(Tcb, context) == 0);

/// The level a task runs at, with whether it gets time slices kept beside
/// it ([`is_sliced`]), so that a switch tests one byte instead of comparing
/// the level with two bounds. Set only through [`LevelCell::set`], which
/// keeps the two together.
pub struct LevelCell {
    level: Cell<Level>,
    sliced: Cell<bool>,
}

impl LevelCell {
    pub const fn new(level: Level) -> Self {
        Self { level: Cell::new(level), sliced: Cell::new(is_sliced(level)) }
    }

    #[inline(always)]
    pub fn get(&self) -> Level {
        self.level.get()
    }

    #[inline(always)]
    pub fn set(&self, level: Level) {
        self.level.set(level);
        self.sliced.set(is_sliced(level));
    }

    /// Does the task get time slices at its level?
    #[inline(always)]
    pub fn is_sliced(&self) -> bool {
        self.sliced.get()
    }
}

/// A task's statistics, kept by the scheduler as it switches, preempts and
/// wakes it (in critical sections, like every other field). A switch
/// reads the leaving task's first two and writes the next task's second
/// and third (`repr(C)` keeps them together; on `aarch64-unknown-none`,
/// which is strict-align, the compiler still makes them single loads and
/// stores: it pairs two only where it knows the pair is 16-byte aligned).
#[repr(C)]
pub struct TaskCounters {
    /// Counter ticks it ran, up to its last switch away.
    pub run_ticks: Cell<u64>,
    /// The counter when it was last switched to.
    pub switched_in_at: Cell<u64>,
    /// Times it was switched to.
    pub switched_in: Cell<u64>,
    /// Times it was switched away from while it could still run (a more
    /// urgent task, or its slice ended).
    pub preempted: Cell<u64>,
    /// Times it was made ready after blocking (or at spawn).
    pub woken: Cell<u64>,
}

impl TaskCounters {
    /// A new task's: all zero.
    pub const fn zero() -> Self {
        Self {
            run_ticks: Cell::new(0),
            switched_in_at: Cell::new(0),
            switched_in: Cell::new(0),
            preempted: Cell::new(0),
            woken: Cell::new(0),
        }
    }

    /// Adds one to `counter`.
    #[inline(always)]
    pub fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }
}

impl dyn TaskBody {
    /// The body as a `B`, if that is what it is (as `Any::downcast_ref`).
    #[inline]
    pub fn downcast_ref<B: TaskBody>(&self) -> Option<&B> {
        if Any::type_id(self) == TypeId::of::<B>() {
            // SAFETY: the body is a `B` (the same type id), so the data
            // pointer of `self` points at one.
            Some(unsafe { &*(self as *const dyn TaskBody as *const B) })
        } else {
            None
        }
    }

    /// The body as a `B`, trusting (in release builds) that it is one: for
    /// the task's `JoinHandle`, which got its way of reading the result from
    /// the same spawn that made the body (this saves a type check per join).
    ///
    /// # Safety
    /// The body is a `B`.
    #[inline]
    pub unsafe fn downcast_unchecked<B: TaskBody>(&self) -> &B {
        debug_assert!(Any::type_id(self) == TypeId::of::<B>());
        // SAFETY: the caller promises the body is a `B`.
        unsafe { &*(self as *const dyn TaskBody as *const B) }
    }
}

impl Tcb {
    /// A new task's block: `id`, named `name`, at `level`, starting from
    /// `context`, on `stacks`, running `body`, in the kernel's address space
    /// (an isolated task's own lower half is put in afterwards: it is large,
    /// and copying a `None` of its size costs every kernel spawn). Ready,
    /// with two references (the task's own and its handle's).
    #[inline(always)] // built in place, in the block's own memory
    pub fn new(
        id: u64,
        name: Option<TaskName>,
        level: Level,
        context: Context,
        stacks: Option<TaskStacks>,
        body: Option<Box<dyn TaskBody>>,
    ) -> Self {
        Self {
            context: UnsafeCell::new(context),
            queue_links: Default::default(),
            timer_links: Default::default(),
            id,
            name,
            base_level: Cell::new(level),
            level: LevelCell::new(level),
            state: Cell::new(State::Ready),
            wake_reason: Cell::new(WakeReason::Notified),
            deadline: Cell::new(0),
            slice_used: Cell::new(0),
            waiting_on: Cell::new(None),
            waiting_for_mutex: Cell::new(core::ptr::null()),
            notified_by: Cell::new(core::ptr::null()),
            held_mutexes: HeldLocks::new(),
            stacks,
            failure: UnsafeCell::new(None),
            alloc_failure: Cell::new(None),
            joiners: WaitQueue::new(),
            body: UnsafeCell::new(body),
            refs: Cell::new(1 + HANDLE_REF),
            panicking: Cell::new(false),
            park_token: Cell::new(false),
            parked: Cell::new(false),
            in_system_call: Cell::new(false),
            address_space: UnsafeCell::new(ManuallyDrop::new(None)),
            user_stack_size: 0,
            cpus: crate::percpu::ALL_CPUS,
            cpu: Cell::new(0),
            ready_in: Cell::new(super::run_queues::SHARED),
            timer_cpu: Cell::new(0),
            kill_requested: AtomicBool::new(false),
            counters: TaskCounters::zero(),
            all_links: Default::default(),
        }
    }

    pub fn context(&self) -> *mut Context {
        self.context.get()
    }

    /// Does this task run at EL0 in an address space of its own?
    pub fn is_isolated(&self) -> bool {
        self.user_stack_size != 0
    }
}

impl Tcb {
    /// The core it runs on, or ran on last. For the running task that is
    /// this core (the switch to it stored it), read with one load where
    /// `percpu::cpu_index` needs a system register: the scheduler's hot
    /// paths use this one.
    #[inline(always)]
    pub fn core(&self) -> usize {
        // Only cores 0..MAX_CPUS run tasks; the mask spares per-core arrays their bounds checks.
        self.cpu.get() as usize & (crate::percpu::MAX_CPUS - 1)
    }

    /// What the task runs (`None` for idle, or once taken).
    #[inline]
    pub fn body(&self) -> Option<&dyn TaskBody> {
        // SAFETY: the body is replaced only by `take_body`, whose caller
        // promises that no borrow from here is alive.
        unsafe { (*self.body.get()).as_deref() }
    }

    /// Takes the task's body (its closure and result). Dropping it runs
    /// application code (their `Drop`s), so the caller does it in task
    /// context, outside every critical section: the handle as it drops
    /// after the task has ended (see `task::spawn`).
    ///
    /// # Safety
    /// No borrow from [`Tcb::body`] is alive.
    pub unsafe fn take_body(&self) -> Option<Box<dyn TaskBody>> {
        // SAFETY: promised by our caller.
        unsafe { (*self.body.get()).take() }
    }
}

impl Drop for Tcb {
    fn drop(&mut self) {
        // Taken by the handle, or holding no result (a detached task
        // dropped its own as it ended, `end_current`): this runs no
        // application code inside the scheduler.
        drop(self.body.get_mut().take());
        if let Some(stacks) = self.stacks.take() {
            super::stack::recycle(stacks);
        }
        crate::mm::address_space::drop_task_space(self.address_space.get_mut());
    }
}

/// Threads tasks through `queue_links` (ready queue, wait queues). A
/// task's state says which queue it is on (`Ready`: the ready queue;
/// `Blocked` with `waiting_on`: that wait queue), so the links' own flag is
/// kept only in debug builds, to check that.
pub struct QueueLinks;
impl Adapter for QueueLinks {
    type Item = Tcb;
    fn links(t: &Tcb) -> &Links<Tcb> {
        &t.queue_links
    }
    const KEEPS_FLAG: bool = cfg!(debug_assertions);
}

/// Threads tasks through `all_links` (every task alive).
pub struct AllLinks;
impl Adapter for AllLinks {
    type Item = Tcb;
    fn links(t: &Tcb) -> &Links<Tcb> {
        &t.all_links
    }
}

/// Threads tasks through `timer_links` (the timer list).
pub struct TimerLinks;
impl Adapter for TimerLinks {
    type Item = Tcb;
    fn links(t: &Tcb) -> &Links<Tcb> {
        &t.timer_links
    }
}
