//! Critical sections on one core: masking interrupts is the lock.
//!
//! ilusion runs its tasks on one core, and the only code that can interrupt
//! a task is an interrupt handler. So the scheduler's state is safe to touch
//! while interrupts are masked, and [`InterruptsMasked`] is the proof of it.
//! [`CpuCell`] holds such state; code borrows it briefly through [`CpuCell::with`]
//! and never across a context switch.

use core::cell::UnsafeCell;
use core::marker::PhantomData;

/// Interrupts are masked on this core while this value lives (they are
/// restored as they were when it drops).
pub struct InterruptsMasked {
    were_enabled: bool,
    _not_send: PhantomData<*const ()>,
}

impl InterruptsMasked {
    #[inline]
    pub fn new() -> Self {
        Self { were_enabled: crate::arch::cpu::disable_interrupts(), _not_send: PhantomData }
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
        crate::arch::cpu::restore_interrupts(self.were_enabled);
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
