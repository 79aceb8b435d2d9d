//! [`SetOnce`]: a value set once, at boot, then read by every core with no
//! lock: the console's port, the board's interrupt controller. A
//! `spin::Once` did this, and linked its generic slow path (waiting for
//! another initialiser, poisoning; with the initialiser inlined: 1,704
//! bytes in the hello image) for values that one call sets while one core
//! runs.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};

/// Nothing set.
const EMPTY: u8 = 0;
/// Being set, by the one caller that claimed it.
const WRITING: u8 = 1;
/// Set, for good.
const SET: u8 = 2;

/// A value set at most once ([`get_or_set`](Self::get_or_set)), then read
/// ([`get`](Self::get)) from any core, with no lock. For statics set at
/// boot: a caller that finds another one setting it waits (the setter must
/// not be preempted by it, as for a `spin::Once`), and a setter that panics
/// leaves it unset for good (the machine stops: a panic at boot).
pub(crate) struct SetOnce<T> {
    state: AtomicU8,
    /// Written once, before `state` is SET. (Uninitialised rather than an
    /// `Option`: a static of zeros goes in `.bss`, where an `Option` whose
    /// `None` is not all zeros, the GIC's, took 192 bytes of `.data`.)
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `value` is written once, by the one caller of `get_or_set` whose
// compare-exchange moved `state` from EMPTY to WRITING, before it stores
// SET (Release); it is read only after a load of SET (Acquire), which that
// write happens before, and never written again. Every core may then share
// the value (`T: Sync`), and it may have been made on another (`T: Send`).
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}

impl<T> SetOnce<T> {
    pub(crate) const fn new() -> Self {
        Self { state: AtomicU8::new(EMPTY), value: UnsafeCell::new(MaybeUninit::uninit()) }
    }

    /// The value: the one set already, or else `make()`'s, set now.
    pub(crate) fn get_or_set(&self, make: impl FnOnce() -> T) -> &T {
        if self.state.compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Acquire).is_ok() {
            let value = make();
            // SAFETY: this caller alone moved EMPTY to WRITING: nobody else
            // writes `value`, and nobody reads it before SET, stored below.
            unsafe { (*self.value.get()).write(value) };
            self.state.store(SET, Ordering::Release);
        }
        loop {
            if let Some(value) = self.get() {
                return value;
            }
            core::hint::spin_loop(); // another caller is setting it
        }
    }

    /// The value, once set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) != SET {
            return None;
        }
        // SAFETY: SET (Acquire): `value` was written (initialised) before,
        // and is never written again, so a shared reference to it stays valid.
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }
}

#[cfg(test)]
mod tests {
    use super::SetOnce;

    #[test]
    fn set_once_keeps_the_first_value() {
        let cell = SetOnce::new();
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_set(|| 1), 1);
        assert_eq!(*cell.get_or_set(|| unreachable!("set already")), 1);
        assert_eq!(cell.get(), Some(&1));
    }
}
