//! Parking: a task suspends itself ([`park`]) until another task or an
//! interrupt handler resumes it ([`JoinHandle::unpark`]), as
//! `std::thread::park`. This is ilusion's suspend/resume (ThreadX
//! `tx_thread_suspend`/`tx_thread_resume` on oneself, Zephyr
//! `k_thread_suspend(k_current_get())`/`k_thread_resume`), with one
//! difference that makes it race-free: an `unpark` that comes before the
//! `park` is not lost, it leaves a token and the next `park` returns at once.
//!
//! [`JoinHandle::unpark`]: super::JoinHandle::unpark

use crate::critical::{self, CriticalSection};
use crate::sched::scheduler;
use crate::sched::tcb::{State, Tcb};
use core::ptr::NonNull;

/// Suspends the running task until it is unparked (at once if an unpark
/// came since the last `park`). Unlike `std`, never wakes spuriously.
pub fn park() {
    // One look at the number of cores for the whole call.
    if critical::several_cores() {
        park_on::<true>()
    } else {
        park_on::<false>()
    }
}

/// [`park`], compiled for one core or several.
#[inline(always)]
fn park_on<const MANY: bool>() {
    let masked = CriticalSection::enter::<MANY>();
    let me = scheduler::running(&masked);
    if me.park_token.get() {
        // In a handler, `me` is the task it interrupted: refused, not its token taken.
        scheduler::refuse_wait_in_handler(me);
        me.park_token.set(false);
        return;
    }
    me.parked.set(true);
    // Blocked at least once: the flag was just set (no reload of it first).
    loop {
        scheduler::block_on::<MANY>(&masked, me, crate::trace::On::PARK);
        if !me.parked.get() {
            return;
        }
    }
}

/// Resumes `task` if it is parked, else leaves it a token for its next `park`.
///
/// # Safety
/// `task` is alive.
pub(crate) unsafe fn unpark(task: NonNull<Tcb>) {
    // One look at the number of cores for the whole call (interrupt
    // handlers unpark: it is on their path).
    // SAFETY: forwarded from our caller.
    unsafe {
        if critical::several_cores() {
            unpark_on::<true>(task)
        } else {
            unpark_on::<false>(task)
        }
    }
}

/// [`unpark`], compiled for one core or several.
///
/// # Safety
/// As for [`unpark`].
#[inline(always)]
unsafe fn unpark_on<const MANY: bool>(task: NonNull<Tcb>) {
    let masked = CriticalSection::enter::<MANY>();
    // SAFETY: promised by our caller.
    let t = unsafe { task.as_ref() };
    if t.parked.replace(false) && t.state.get() == State::Blocked {
        // SAFETY: alive, and a parked task is on no queue.
        unsafe { scheduler::wake::<MANY>(&masked, task) };
    } else if t.state.get() != State::Exited {
        t.park_token.set(true);
    }
}
