//! A blocking mutex with priority inheritance and poisoning.
//!
//! The lock word holds the owner (its task control block's address) or 0,
//! plus a bit saying that tasks wait. Uncontended, `lock` and `unlock` are
//! one compare-and-swap each, without masking interrupts. Contended, the
//! slow paths mask interrupts and use the mutex's wait queue:
//! - a waiter lends its urgency to the owner (and, along a chain of owners
//!   waiting for other mutexes, to each): **priority inheritance**, so a
//!   less urgent owner cannot be held up indefinitely by middle-priority tasks;
//! - `unlock` hands the mutex straight to the most urgent waiter and drops
//!   back to the urgency the owner's remaining mutexes justify.
//!
//! On several cores, a contended `lock` first spins, **adaptively**, as
//! Linux's and Zephyr-style mutexes do: while the owner is running on
//! another core (or has just been handed the mutex and is on its way to
//! run), it will likely unlock sooner than a waiter could block, be woken
//! by an inter-processor interrupt and be switched back in, so the waiter
//! watches the lock word instead, for a bounded time (`SPIN_LIMIT`), then
//! blocks as above. Which task each core runs comes from a per-core copy
//! of its running-task register (`percpu::runs_on_a_core`),
//! compared with the owner's address, never followed (the owner may end
//! meanwhile). On one core there is nothing to spin for: the owner cannot
//! be running while the waiter is, so a 1-core boot never spins.
//!
//! A waiter with a deadline (`lock_timeout`) that gives up takes its loan
//! back: the owner (and each owner along the chain) drops to the urgency
//! its remaining waiters justify.
//!
//! Each task keeps the addresses of the mutexes it holds in its control
//! block (`sched::held`, at most [`MAX_HELD`](crate::sched::held::MAX_HELD) at once: one more `lock`
//! fails the task, saying so). When a task ends, the task layer releases
//! them ([`release_all_held`]);
//! if it failed, they are marked **poisoned**: the next `lock` returns
//! `Err(PoisonError)`, as in std. A mutex its holder drops while locked
//! (its guard forgotten) comes off the holder's list as it goes; another
//! task dropping it fails instead (see `RawMutex`'s `Drop`).
//!
//! A locked mutex whose guard was forgotten may also be **moved** (safe
//! code: out of a `Box`, into an `Arc`, passed by value). Each mutex
//! records where it was locked (`home`); the holder's list names that
//! place, and what is there is checked (`holds_in_place`) before it is
//! used: the old place, reused meanwhile, is skipped, never written. The
//! moved mutex comes off the list by its recorded place when it is
//! dropped, and can never be locked again: a `lock` of it fails the
//! calling task, saying so, without looking at its holder (which may have
//! ended). A list threaded through the mutexes ran through the old place
//! into whatever was written there: the machine hung, every core.
//!
//! This module sits on the scheduler (`sched`), which knows nothing of
//! mutexes: the running task's address comes from
//! `scheduler::running_task_address`, and a waiter whose deadline passes is
//! withdrawn through its wait queue's timeout hook (`raw::withdraw_waiter`).
//!
//! A `lock` (with no deadline) that would close a cycle of tasks each
//! waiting for a mutex the next holds panics instead of waiting forever,
//! naming the tasks in the cycle (`deadlock.rs`), as a `lock` of a mutex
//! the task holds already does.
//!
//! This file is the API (`Mutex`, `MutexGuard`); `raw.rs` is the lock
//! itself: the lock word, the held lists, the slow paths and priority
//! inheritance; `deadlock.rs` finds cycles along the chain of owners.

mod deadlock;
mod raw;

pub(crate) use raw::release_all_held;

use super::poison::{LockResult, PoisonError, TryLockError, TryLockResult};
use crate::critical::CriticalSection;
use crate::sched::scheduler;
use crate::time::Duration;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::Ordering;
use raw::RawMutex;

/// Mutual exclusion for a `T`, as `std::sync::Mutex`. (`repr(C)`: its
/// `RawMutex` first, see there.)
#[repr(C)]
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex gives one task at a time access to the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Access to the data while the lock is held; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    _not_send: core::marker::PhantomData<*const ()>,
}

// SAFETY: sharing a guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self { raw: RawMutex::new(), data: UnsafeCell::new(value) }
    }

    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.raw.poisoned.load(Ordering::Relaxed);
        let value = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is ours. `Err` if a task failed while holding it.
    /// A task locking a mutex it holds already panics (it would wait forever),
    /// as does one holding [`MAX_HELD`](crate::sched::held::MAX_HELD) mutexes already, or one locking a
    /// mutex that was moved while locked (its guard forgotten: it can never
    /// be unlocked).
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        self.guard()
    }

    /// The lock if it is free now, else `Err(WouldBlock)`. A task holding
    /// [`MAX_HELD`](crate::sched::held::MAX_HELD) mutexes already panics, as in [`Mutex::lock`].
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            Ok(self.guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Waits at most `timeout` for the lock (`Duration::MAX`: forever):
    /// `Err(WouldBlock)` if it did not come in time, `Err(Poisoned)` (with the
    /// guard inside) if a task failed while holding it. While it waits, the
    /// task lends its urgency to the owner, and takes it back if it gives up.
    /// A task that holds the mutex already waits out the timeout (the mutex
    /// cannot come free while it waits) and gets `Err(WouldBlock)`; with
    /// `Duration::MAX` it panics, as [`Mutex::lock`] does.
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            return Ok(self.guard()?);
        }
        let deadline = crate::time::deadline_from_now(timeout).map(|d| d.ticks());
        if self.raw.spin_while_owner_runs(deadline) || self.raw.lock_until(deadline) {
            Ok(self.guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    #[inline]
    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard { mutex: self, _not_send: core::marker::PhantomData };
        if self.raw.poisoned.load(Ordering::Relaxed) {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    pub fn is_poisoned(&self) -> bool {
        self.raw.poisoned.load(Ordering::Relaxed)
    }

    pub fn clear_poison(&self) {
        self.raw.poisoned.store(false, Ordering::Relaxed);
    }

    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Unlocks without rescheduling and returns the mutex (for `Condvar::wait`).
    pub(super) fn unlock_for_wait(self, masked: &CriticalSection) -> &'a Mutex<T> {
        let mutex = self.mutex;
        core::mem::forget(self);
        mutex.raw.unlock_for_wait(masked, scheduler::running(masked));
        mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard means we hold the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard means we hold the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}
