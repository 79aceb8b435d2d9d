//! Critical sections: interrupts masked on this core, and the kernel lock
//! held against the other cores.
//!
//! Two kinds of code can touch kernel state while a task does: an
//! interrupt handler on the same core, and whatever runs on the other
//! cores. A [`CriticalSection`] keeps both out. It masks interrupts on this
//! core, then takes the *kernel lock*: one lock, for the scheduler's state
//! (ready queues, wait queues, timers, task control blocks), the state of
//! the blocking primitives built on it (`sync`) and the stack cache. Code
//! shows the token to borrow a [`KernelCell`] through [`KernelCell::with`].
//! One lock for all of that is the choice of Zephyr (`_sched_spinlock`) and
//! FreeRTOS-SMP: a wake, a block or a switch touches several of these
//! structures at once, and one lock makes that one step with no lock
//! ordering to get wrong. What does not need it has a [`SpinLock`] of its own
//! (heap, page tables, frame pool, interrupt controller, console), so the
//! allocators do not queue behind the scheduler.
//!
//! The kernel lock is recursive on its core (a critical section may open
//! another: a wake inside a `Mutex` unlock). It is a plain test-and-set
//! lock, not a fair ticket lock: on a virtual machine (QEMU, with fewer host
//! threads than cores) a ticket lock hands the lock to the next core in line
//! even while that core's host thread is not running, and every core behind
//! it waits too; here whichever core is running takes it. It is the one lock
//! that stays taken across a context switch: the task switching away hands
//! the core's hold to the task it resumes, which releases it when it leaves
//! its own critical section (as xv6 hands over its process-table lock). So
//! no other core can pick a task from a ready queue while its registers are
//! still being saved. [`kernel_lock_depth`] and [`resume_kernel_lock`] are
//! the switch's side of that.
//!
//! Nothing slow happens with the kernel lock held that can wait until it
//! is given back: an interrupt to another core asked for inside a critical
//! section ([`interrupt_after_unlock`], the scheduler's reschedule requests)
//! is sent when this core gives the lock back. Writing the interrupt
//! controller is a device access; under QEMU it is a trip into the emulator
//! (its global lock, and waking the target core's host thread), and with it
//! inside the lock the other cores spun on the kernel lock meanwhile:
//! `smp_spawn_join` (10,000 cross-core spawn/join cycles) took 7 to 9 s a
//! round, with 2.5 to 3.9 billion spins on the kernel lock, and 0.35 to
//! 0.45 s, with 50 to 90 million, once the interrupts were sent after.
//!
//! Both kinds of lock wait the same way when another core holds them:
//! reading the lock word (no writes, so the holder's cache line stays put)
//! with a `YIELD` hint, which also lets an emulator running the cores in
//! turns on one host thread run the holder; and only there, in the slow
//! path, they count the iterations for `lock_stats` (how long cores wait,
//! for the benchmarks).
//!
//! A [`SpinLock`] masks interrupts while it is held, so an interrupt
//! handler that takes the same lock never spins on a holder it interrupted,
//! and a holder is never preempted (which would make a more urgent task
//! spin). Spin locks come *after* the kernel lock: code holding one never
//! opens a critical section (the checks below catch it), so no two cores
//! can wait for each other.
//!
//! The rules are checked, not only written down: built with the
//! `lock-checks` feature (the QEMU tests are) or in a debug build, every
//! lock records its name and address while held (the address tells it
//! apart from other locks of the same name), and the kernel panics with
//! that name if one is held at a context switch, when an interrupt arrives
//! (so interrupts were unmasked while it was held), when it is taken again
//! on the core that holds it (a certain deadlock), or when a critical section opens
//! inside it (once there are several cores: on one, the kernel lock is not
//! taken at all, see [`use_kernel_lock`]). `spin::Mutex` itself is refused by clippy (`clippy.toml`), so
//! no lock can bypass this module. One rule is checked in every build: a
//! [`SpinLock`]'s word records the core that holds it, so a core that
//! finds the lock taken by itself (a task asking again for a lock it holds)
//! panics instead of spinning for ever with its interrupts masked; this
//! costs nothing on the uncontended path (see [`SpinLock::lock`]).
//!
//! This module sits just above `arch` (it needs only masking and the core's
//! number); every other part of the OS may use it. On the host, masking is a
//! no-op and each thread counts as a core, so the code built on it (the
//! heap, the kernel lock itself) can be unit-tested.
//!
//! ## Where each part is
//!
//! This file has what every part uses: masking interrupts (the CPU's, or
//! nothing on the host), who is taking a lock, how a waiter waits. Then
//! three files, each using only those before it:
//! - `checks.rs`: the bookkeeping behind the lock checks (the builds that
//!   check locks);
//! - `kernel_lock.rs`: the kernel lock, the [`CriticalSection`] that takes
//!   it, and the [`KernelCell`] it guards;
//! - `spin_lock.rs`: [`SpinLock`], and the rules about what may run while
//!   one is held.

#[cfg(any(debug_assertions, feature = "lock-checks"))]
mod checks;
mod kernel_lock;
mod set_once;
mod spin_lock;
#[cfg(test)]
mod tests;

#[cfg_attr(not(target_os = "none"), allow(unused_imports))] // on the host, used by the unit tests only
pub(crate) use kernel_lock::KernelCell;
pub use kernel_lock::{
    inherited_critical_section, kernel_lock_depth, leave_all_for_good, resume_kernel_lock, section_of_switch,
    several_cores, use_kernel_lock, CriticalSection,
};
#[cfg(target_os = "none")]
pub use kernel_lock::{interrupt_after_unlock, set_deferred_interrupt_sender};
pub(crate) use set_once::SetOnce;
pub use spin_lock::{assert_no_spin_lock_held, SpinLock, SpinLockGuard};
#[cfg_attr(not(target_os = "none"), allow(unused_imports))] // used by the kernel's first-use `Once`s only
pub(crate) use spin_lock::{assert_unpreemptible, call_once_unpreempted};

use core::marker::PhantomData;

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
    #[derive(Clone, Copy)]
    pub struct SavedMasks;
    impl SavedMasks {
        pub fn irqs_masked(self) -> bool {
            false
        }
    }
    pub fn mask_interrupts_saving() -> SavedMasks {
        SavedMasks
    }
    pub fn current_masks() -> SavedMasks {
        SavedMasks
    }
    pub fn restore_masks(_: SavedMasks) {}
}

/// Who may hold the kernel lock: a core on the machine; a thread in unit tests.
#[cfg(target_os = "none")]
#[inline(always)]
fn holder_id() -> usize {
    crate::percpu::cpu_index()
}
#[cfg(all(not(target_os = "none"), test))]
fn holder_id() -> usize {
    std::thread_local! { static ID: u8 = const { 0 } }
    ID.with(|id| id as *const u8 as usize)
}
#[cfg(all(not(target_os = "none"), not(test)))]
fn holder_id() -> usize {
    0
}

#[cfg(target_os = "none")]
#[inline(always)]
fn spin_hint() {
    crate::arch::cpu::spin_hint(); // lets QEMU's one host thread run the holder
}
#[cfg(all(not(target_os = "none"), test))]
fn spin_hint() {
    std::thread::yield_now();
}
#[cfg(all(not(target_os = "none"), not(test)))]
fn spin_hint() {
    core::hint::spin_loop();
}

/// What a spin lock taken again on the core that holds it is.
const TAKEN_AGAIN: &str =
    "taken again on the core that holds it (a certain deadlock: interrupts are masked while it is held)";

/// Interrupts are masked on this core while this value lives (restored as
/// they were when it drops): what a [`SpinLock`] holds besides its lock.
/// The masks are saved whole and written back whole (one instruction, no
/// test of what they were).
struct InterruptsMasked {
    saved: masking::SavedMasks,
    _not_send: PhantomData<*const ()>,
}

impl InterruptsMasked {
    #[inline(always)]
    fn new() -> Self {
        Self { saved: masking::mask_interrupts_saving(), _not_send: PhantomData }
    }
}

impl Drop for InterruptsMasked {
    #[inline(always)]
    fn drop(&mut self) {
        masking::restore_masks(self.saved);
    }
}
