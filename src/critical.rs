//! Critical sections on one core: masking interrupts is the lock.
//!
//! ilusion runs its tasks on one core, and the only code that can interrupt
//! a task is an interrupt handler. So kernel state is safe to touch while
//! interrupts are masked, and [`InterruptsMasked`] is the proof of it. Two
//! kinds of container build on that:
//! - [`CpuCell`] holds the scheduler's state; code borrows it briefly through
//!   [`CpuCell::with`], showing the token, and never across a context switch;
//! - [`SpinLock`] is the kernel's only spin lock (heap, page tables, frame
//!   pool, interrupt controller, console): taking it masks interrupts, and
//!   they stay masked until the guard drops. So an interrupt handler that
//!   takes the same lock can never spin on a holder it interrupted, and a
//!   holder is never preempted (which would make a more urgent task spin).
//!
//! The rules are checked, not only written down: built with the
//! `lock-checks` feature (the QEMU tests are) or in a debug build, every
//! lock records its name while held, and the kernel panics with that name if
//! one is held at a context switch, when an interrupt arrives (so interrupts
//! were unmasked while it was held), or if it is taken again on the core
//! that holds it (a certain deadlock). `spin::Mutex` itself is refused by
//! clippy (`clippy.toml`), so no lock can bypass this module.
//!
//! This module sits just above `arch` (it needs only masking); every other
//! part of the OS may use it. On the host, masking is a no-op, so the code
//! built on it (the heap) can be unit-tested.

// The one module that may use a raw spin lock: it wraps it.
#![allow(clippy::disallowed_types)]

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// Masking itself: the CPU's, or on the host (unit tests) nothing to mask.
#[cfg(target_os = "none")]
use crate::arch::cpu as masking;
#[cfg(not(target_os = "none"))]
mod masking {
    pub fn disable_interrupts() -> bool {
        false
    }
    pub fn restore_interrupts(_: bool) {}
    pub fn interrupts_enabled() -> bool {
        false
    }
}

/// Interrupts are masked on this core while this value lives (they are
/// restored as they were when it drops).
pub struct InterruptsMasked {
    were_enabled: bool,
    _not_send: PhantomData<*const ()>,
}

impl InterruptsMasked {
    #[inline]
    pub fn new() -> Self {
        Self { were_enabled: masking::disable_interrupts(), _not_send: PhantomData }
    }

    /// For code that runs with interrupts masked already (handlers, the switch path).
    ///
    /// # Safety
    /// Interrupts really are masked, and stay so while the token lives.
    #[inline]
    pub unsafe fn assume() -> Self {
        Self { were_enabled: false, _not_send: PhantomData }
    }
}

impl Default for InterruptsMasked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for InterruptsMasked {
    #[inline]
    fn drop(&mut self) {
        masking::restore_interrupts(self.were_enabled);
    }
}

/// Data only touched with interrupts masked, on one core.
pub struct CpuCell<T>(UnsafeCell<T>);

// SAFETY: access needs an `InterruptsMasked` token, and ilusion runs tasks on
// one core, so no two contexts touch the contents at the same time.
unsafe impl<T> Sync for CpuCell<T> {}

impl<T> CpuCell<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Runs `f` on the contents. `f` must not call `with` on the same cell,
    /// nor switch tasks.
    #[inline]
    pub fn with<R>(&self, _masked: &InterruptsMasked, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: interrupts are masked (the token) on the only core running
        // tasks, and `f` neither nests nor switches: this borrow is unique.
        f(unsafe { &mut *self.0.get() })
    }
}

/// A spin lock that masks interrupts while it is held. The name appears in
/// the checks' reports (see the module documentation).
///
/// Also for applications: a driver sharing data with its own interrupt
/// handler protects it with a `SpinLock`. Hold it briefly: never across a
/// yield, a sleep or a blocking call (the checks panic if you do).
///
/// Holding two: keep both guards in local variables, so they are released
/// in the reverse order of taking them and the first one taken restores
/// the interrupt mask last. (A guard made as a temporary in a block's last
/// expression outlives that block's locals; the checks catch the moment it
/// is held with interrupts unmasked again.)
pub struct SpinLock<T> {
    name: &'static str,
    inner: spin::Mutex<T>,
}

/// Holds a [`SpinLock`]: interrupts stay masked until it drops.
pub struct SpinLockGuard<'a, T> {
    // Declared first, so it drops (unlocks) before interrupts are restored.
    guard: spin::MutexGuard<'a, T>,
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    name: &'static str,
    _masked: InterruptsMasked,
}

impl<T> SpinLock<T> {
    pub const fn new(name: &'static str, value: T) -> Self {
        Self { name, inner: spin::Mutex::new(value) }
    }

    /// Masks interrupts, then takes the lock.
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let masked = InterruptsMasked::new();
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        checks::acquiring(self.name, self.inner.is_locked());
        SpinLockGuard {
            guard: self.inner.lock(),
            #[cfg(any(debug_assertions, feature = "lock-checks"))]
            name: self.name,
            _masked: masked,
        }
    }

    /// The lock's name, as the checks report it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(any(debug_assertions, feature = "lock-checks"))]
impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        checks::released(self.name);
    }
}

/// Checks that no spin lock is held here: called at every context switch
/// (`what` = "a context switch") and when an interrupt arrives.
#[inline]
pub fn assert_no_spin_lock_held(what: &str) {
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    checks::assert_none_held(what);
    let _ = what;
}

/// The bookkeeping behind the checks: the names of the locks this core
/// holds, innermost last. Touched only with interrupts masked.
#[cfg(any(debug_assertions, feature = "lock-checks"))]
mod checks {
    use super::masking::interrupts_enabled;
    use core::cell::UnsafeCell;

    const MAX_NESTED: usize = 8;

    struct Held {
        names: [&'static str; MAX_NESTED],
        depth: usize,
    }

    struct HeldCell(UnsafeCell<Held>);
    // SAFETY: each core touches only its own record (indexed by its number),
    // and only with interrupts masked (inside a `SpinLock`'s critical
    // section or an exception handler), so no two contexts touch one at once.
    unsafe impl Sync for HeldCell {}

    const NONE_HELD: Held = Held { names: [""; MAX_NESTED], depth: 0 };

    /// One record per core: a lock held on one core says nothing of another.
    #[cfg(not(test))]
    static HELD: crate::percpu::PerCpu<HeldCell> =
        crate::percpu::PerCpu::new([const { HeldCell(UnsafeCell::new(NONE_HELD)) }; crate::percpu::MAX_CPUS]);

    #[cfg(not(test))]
    fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
        let mine = HELD.of(crate::percpu::cpu_index());
        // SAFETY: see `HeldCell`: this core's own record, with interrupts
        // masked by our callers, so this borrow is the only one, and it ends
        // with the call.
        f(unsafe { &mut *mine.0.get() })
    }

    // Host unit tests run on many threads: each has its own record.
    #[cfg(test)]
    std::thread_local! { static HELD: HeldCell = const { HeldCell(UnsafeCell::new(NONE_HELD)) }; }

    #[cfg(test)]
    fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
        // SAFETY: this thread's own record, borrowed once for the call.
        HELD.with(|h| f(unsafe { &mut *h.0.get() }))
    }

    /// Records `name` as held, or panics with the reason it cannot be.
    pub fn acquiring(name: &'static str, locked: bool) {
        let problem = with_held(|h| {
            let problem = if locked && h.names[..h.depth].contains(&name) {
                Some("taken again on the core that holds it (deadlock)")
            } else if h.depth == MAX_NESTED {
                Some("nested inside too many other spin locks")
            } else {
                h.names[h.depth] = name;
                h.depth += 1;
                None
            };
            if problem.is_some() {
                h.depth = 0;
            }
            problem
        });
        if let Some(problem) = problem {
            panic!("spin lock '{name}' {problem}");
        }
    }

    /// Forgets `name` (guards may drop out of order: wherever it is).
    pub fn released(name: &'static str) {
        let unmasked = interrupts_enabled();
        with_held(|h| {
            if unmasked {
                h.depth = 0;
            } else if let Some(i) = h.names[..h.depth].iter().rposition(|n| *n == name) {
                h.names.copy_within(i + 1..h.depth, i);
                h.depth -= 1;
            }
        });
        if unmasked {
            panic!("interrupts were unmasked while spin lock '{name}' was held");
        }
    }

    pub fn assert_none_held(what: &str) {
        let held = with_held(|h| {
            let innermost = h.depth.checked_sub(1).map(|i| h.names[i]);
            h.depth = 0;
            innermost
        });
        if let Some(name) = held {
            panic!("spin lock '{name}' held at {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_gives_its_data_and_releases_it() {
        let lock = SpinLock::new("test", 1);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
        assert_eq!(lock.name(), "test");
    }

    #[test]
    fn nested_locks_are_tracked_and_released_out_of_order() {
        let a = SpinLock::new("a", ());
        let b = SpinLock::new("b", ());
        let ga = a.lock();
        let gb = b.lock();
        drop(ga);
        drop(gb);
        assert_no_spin_lock_held("the end of the test");
    }

    #[test]
    #[should_panic(expected = "spin lock 'outer' held at a context switch")]
    fn a_lock_held_at_a_switch_is_named() {
        let lock = SpinLock::new("outer", ());
        let _g = lock.lock();
        assert_no_spin_lock_held("a context switch");
    }
}
