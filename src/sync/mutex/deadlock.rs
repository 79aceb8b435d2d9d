//! Deadlock detection for `Mutex::lock`: a task about to wait, with no
//! deadline, for a mutex whose owner waits (with no deadline either) for
//! one held by a task that waits... for one this task holds, would close a
//! **cycle of waiting**: none of them could ever run again. The chain of
//! owners is the one priority inheritance already follows (each blocked
//! task names the mutex it waits for), so finding the cycle is a walk of a
//! few steps, on the contended path only, before the task blocks.
//!
//! The task that would close the cycle panics instead of waiting, naming
//! the tasks in it ("a deadlock, each task waiting for a mutex the next
//! holds: this task, #3, #4, this task"), as a `lock` of a mutex the task
//! holds already does. Its mutexes are released and poisoned, as for
//! any failed task: the next in the cycle gets its mutex (and
//! `PoisonError`), and the rest go on. A chain with a deadline in it (a
//! `lock_timeout`) is no deadlock (that wait ends), nor one through a task
//! that was woken or killed and has not run yet.

use super::raw::{waited_for, RawMutex, MAX_INHERITANCE_CHAIN};
use crate::critical::CriticalSection;
use crate::sched::tcb::{State, Tcb};
use core::fmt;
use core::ptr::NonNull;

/// The tasks a closed cycle passes through, after the task closing it.
pub(super) struct Cycle {
    ids: [u64; MAX_INHERITANCE_CHAIN],
    len: usize,
}

/// The cycle `me` would close by waiting forever for a mutex owned by
/// `owner`, if it would: every task along the chain of owners from
/// `owner` is blocked, with no deadline, on a mutex whose owner is the
/// next, and the last one's owner is `me`. `None` as soon as the chain
/// ends (a free mutex, an owner that runs, a wait with a deadline) or grows
/// longer than priority inheritance follows. (Usually at the first step:
/// the owner runs, or is ready. The tasks are written down only once a
/// cycle is found, by a second walk.)
#[inline]
pub(super) fn cycle_closed_by(masked: &CriticalSection, me: &Tcb, owner: NonNull<Tcb>) -> Option<Cycle> {
    walk_chain(masked, me, owner, |_| {})?;
    // The same chain again (nothing changes it while the kernel lock is held).
    let mut cycle = Cycle { ids: [0; MAX_INHERITANCE_CHAIN], len: 0 };
    walk_chain(masked, me, owner, |id| {
        cycle.ids[cycle.len] = id;
        cycle.len += 1;
    })?;
    Some(cycle)
}

/// Follows the chain of owners from `owner` (see [`cycle_closed_by`]),
/// telling `each` the id of every task on it before `me`; `Some` if it
/// comes back to `me`.
#[inline(always)]
fn walk_chain(_masked: &CriticalSection, me: &Tcb, mut owner: NonNull<Tcb>, mut each: impl FnMut(u64)) -> Option<()> {
    for _ in 0..MAX_INHERITANCE_CHAIN {
        // SAFETY: owners of locked mutexes are alive; the kernel lock (held:
        // `_masked`) keeps each blocked task blocked and its mutexes held.
        let o = unsafe { owner.as_ref() };
        if core::ptr::eq(o, me) {
            return Some(());
        }
        let (mutex, forever) = waited_for(o)?;
        if !forever || o.state.get() != State::Blocked {
            return None;
        }
        each(o.id);
        // SAFETY: a mutex a blocked task waits for is alive (the waiter borrows it).
        owner = RawMutex::owner_of(unsafe { &*mutex })?;
    }
    None
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // Short: a panic message keeps 117 bytes (a cycle of six tasks fits).
        f.write_str("a deadlock, each task waiting for a mutex the next holds: this task")?;
        self.ids[..self.len].iter().try_for_each(|id| write!(f, ", #{id}"))?;
        f.write_str(", this task")
    }
}
