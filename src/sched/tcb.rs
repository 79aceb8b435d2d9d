//! The task control block: everything the OS knows about one task.
//!
//! A `Tcb` lives in a `Box` from spawn until it has ended *and* its
//! `JoinHandle` is gone: two references, counted in `refs` (the task's own,
//! dropped by the next task once the dead one is switched away from, and the
//! handle's). It is on at most one queue through `queue_links` (the ready
//! queue or one wait queue) and, while it sleeps or waits with a timeout, on
//! the timer list through `timer_links`. All fields are touched with
//! interrupts masked only.

use super::list::{Adapter, Links};
use super::priority::Level;
use super::stack::TaskStacks;
use super::wait_queue::WaitQueue;
use crate::arch::context::Context;
use crate::task::{TaskFailure, TaskName};
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;

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
}

pub struct Tcb {
    pub context: UnsafeCell<Context>,
    pub queue_links: Links<Tcb>,
    pub timer_links: Links<Tcb>,
    pub id: u64,
    pub name: Option<TaskName>,
    /// The level the task was given, and the one it runs at (higher while it
    /// holds a mutex a more urgent task waits for).
    pub base_level: Cell<Level>,
    pub level: Cell<Level>,
    pub state: Cell<State>,
    pub wake_reason: Cell<WakeReason>,
    /// When a sleeping or timed wait ends, in counter ticks.
    pub deadline: Cell<u64>,
    /// What was left of its time slice when a more urgent task preempted it
    /// (counter ticks; 0: it gets a whole slice when it runs next).
    pub slice_left: Cell<u64>,
    /// The wait queue the task is on, if blocked on one.
    pub waiting_on: Cell<Option<NonNull<WaitQueue>>>,
    /// The mutex it waits for (for priority inheritance chains), as an opaque pointer.
    pub waiting_for_mutex: Cell<*const ()>,
    /// The mutexes it holds, a list threaded through the mutexes.
    pub held_mutexes: Cell<*const ()>,
    pub stacks: Option<TaskStacks>,
    /// Why it failed, once it has ended (`None`: returned normally).
    pub failure: UnsafeCell<Option<TaskFailure>>,
    /// Tasks waiting in `join`.
    pub joiners: WaitQueue,
    /// The closure and its result: run by `entry`, freed by `drop_packet`
    /// (which [`Tcb::take_packet`] hands over, leaving a no-op behind).
    pub packet: *mut (),
    pub entry: unsafe fn(*mut ()),
    pub drop_packet: Cell<unsafe fn(*mut ())>,
    pub refs: Cell<u8>,
    pub panicking: Cell<bool>,
    /// An `unpark` arrived while the task was not parked: the next `park` returns at once.
    pub park_token: Cell<bool>,
    /// Blocked in `park` (on no wait queue), until an `unpark`.
    pub parked: Cell<bool>,
    /// An isolated task's own lower half (`None` for kernel tasks). Touched
    /// with interrupts masked: activated when the task is switched to, freed
    /// with the task.
    pub address_space: UnsafeCell<Option<crate::mm::address_space::AddressSpace>>,
    /// An isolated task's stack size in its own address space (0 for kernel tasks).
    pub user_stack_size: u64,
}

impl Tcb {
    pub fn context(&self) -> *mut Context {
        self.context.get()
    }

    /// Does this task run at EL0 in an address space of its own?
    pub fn is_isolated(&self) -> bool {
        self.user_stack_size != 0
    }
}

impl Tcb {
    /// Takes ownership of the task's closure and result. Dropping them runs
    /// application code (their `Drop`s), so the caller does it in task
    /// context, outside every critical section: the task itself as it ends
    /// if its handle is gone, else the handle as it drops (see `task::spawn`).
    pub fn take_packet(&self) -> OwnedPacket {
        OwnedPacket { packet: self.packet, drop_packet: self.drop_packet.replace(no_packet) }
    }
}

/// A task's closure and result, taken out of its control block.
pub struct OwnedPacket {
    packet: *mut (),
    drop_packet: unsafe fn(*mut ()),
}

impl Drop for OwnedPacket {
    fn drop(&mut self) {
        // SAFETY: the packet was made for `drop_packet` at spawn, and taking it
        // left `no_packet` in the block: it is freed once, here.
        unsafe { (self.drop_packet)(self.packet) };
    }
}

impl Drop for Tcb {
    fn drop(&mut self) {
        // Normally taken already (by the task as it ended, or by its handle),
        // so this runs no application code inside the scheduler.
        drop(self.take_packet());
        if let Some(stacks) = self.stacks.take() {
            super::stack::recycle(stacks);
        }
    }
}

/// Threads tasks through `queue_links` (ready queue, wait queues).
pub struct QueueLinks;
impl Adapter for QueueLinks {
    type Item = Tcb;
    fn links(t: &Tcb) -> &Links<Tcb> {
        &t.queue_links
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

/// A no-op packet function, for tasks without one (idle).
pub unsafe fn no_packet(_: *mut ()) {}
