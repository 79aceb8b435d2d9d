//! A task's saved processor state between two runs, and the switch itself
//! (`switch.s`).
//!
//! A task that is not running is always stopped inside `switch_context`: it
//! called it (yield, block, exit) or the interrupt handler called it for it
//! (preemption, whose general registers are already in an
//! `ExceptionFrame` on the task's kernel stack). So the [`Context`] needs
//! only the callee-saved general registers, the stack pointer and SPSel.
//! The FP/SIMD registers (callee-saved d8-d15 included) are switched
//! lazily: they stay in the core until another task uses them
//! ([`super::fp`]); a switch only enables or traps them for the next task.

use super::fp::{FpRegisters, FpState};
use crate::percpu::MAX_CPUS;
use core::mem::offset_of;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Callee-saved state, laid out as `switch.s` expects.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Context {
    /// x19 to x28, x29 (frame pointer), x30 (where `switch_context` returns).
    pub x19_x30: [u64; 12],
    pub sp: u64,
    /// 0: thread mode, SP_EL0 (yielded); 1: handler mode, SP_EL1 (preempted).
    pub spsel: u64,
    /// The top of the task's kernel stack, loaded into SP_EL1 when it resumes in thread mode.
    pub kernel_stack_top: u64,
    /// Its FP/SIMD registers, when another task took the core's, and
    /// whether it runs with them enabled (`CPACR_EL1`, set by `switch.s`).
    pub fp: FpRegisters,
}

// `switch.s` saves x19-x30 in pairs from offset 0, and sp with spsel in one
// pair; it loads the kernel stack with CPACR_EL1's value in one pair.
const _: () = assert!(offset_of!(Context, x19_x30) == 0);
const _: () = assert!(offset_of!(Context, spsel) == offset_of!(Context, sp) + 8);
const _: () =
    assert!(offset_of!(Context, fp) + offset_of!(FpRegisters, cpacr) == offset_of!(Context, kernel_stack_top) + 8);

core::arch::global_asm!(
    include_str!("switch.s"),
    CTX_SP = const offset_of!(Context, sp),
    CTX_KERNEL_STACK = const offset_of!(Context, kernel_stack_top),
);

impl Context {
    /// The context of a task that has not run yet: the first switch to it
    /// "returns" into `task_trampoline`, which calls `ilusion_task_start(task)`.
    /// Its FP/SIMD registers are saved in `fp_save_area` when another task takes the core's.
    pub fn new_task(task: u64, stack_top: u64, kernel_stack_top: u64, fp_save_area: *mut FpState) -> Self {
        extern "C" {
            fn task_trampoline();
        }
        let mut x19_x30 = [0; 12];
        x19_x30[0] = task;
        x19_x30[11] = task_trampoline as *const () as u64;
        Self { x19_x30, sp: stack_top, spsel: 0, kernel_stack_top, fp: FpRegisters::new(fp_save_area) }
    }
}

extern "C" {
    /// Saves the running task into `prev`, resumes `next`.
    fn switch_context(prev: *mut Context, next: *const Context);
    /// Resumes `next` and, on its stack, calls `free(ended)`.
    fn switch_context_ending(ended: *mut u8, next: *const Context, free: extern "C" fn(*mut u8)) -> !;
}

/// Switches from the running task to another one.
///
/// # Safety
/// Interrupts are masked; `prev` is the running task's context, `next` a
/// context saved by `switch_context` or made by [`Context::new_task`], of a
/// task whose stacks are mapped; both stay alive until the switch back.
#[inline(always)]
pub unsafe fn switch(prev: *mut Context, next: *const Context) {
    // SAFETY: forwarded from our caller.
    unsafe { switch_context(prev, next) }
}

/// Switches for good from the running task, which has ended, to another
/// one; once nothing runs on the ended task's stacks, `free(ended)` runs
/// on the next task's stack (interrupts still masked), then it resumes.
///
/// # Safety
/// As for [`switch`] (without a `prev` to save); `free` may free `ended`
/// and everything it owns, stacks included.
#[inline(always)]
pub unsafe fn switch_ending(ended: *mut u8, next: *const Context, free: extern "C" fn(*mut u8)) -> ! {
    // SAFETY: forwarded from our caller.
    unsafe { switch_context_ending(ended, next, free) }
}

/// The running task, as stored in TPIDR_EL1 (a register the OS owns).
#[inline]
pub fn current_task_pointer() -> *mut u8 {
    use aarch64_cpu::registers::{Readable, TPIDR_EL1};
    TPIDR_EL1.get() as *mut u8
}

/// A copy of each core's TPIDR_EL1 for the other cores, which cannot read
/// that register: a waiter for a `Mutex` spins only while its owner is
/// on one of them (`sync::mutex`). Only a core itself writes its copy.
static RUNNING_TASK_POINTERS: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Makes `task` this core's running task, in TPIDR_EL1. `task` points at
/// the task's [`Context`] (the scheduler's task block starts with it): the
/// exception return and the FP/SIMD trap in `vectors.s` find the running
/// task's FP/SIMD setting there.
#[inline]
pub fn set_current_task_pointer(task: *mut u8) {
    use aarch64_cpu::registers::{Writeable, TPIDR_EL1};
    TPIDR_EL1.set(task as u64);
}

/// Shows the other cores that core `cpu` (the caller) now runs `task`:
/// the copy of its TPIDR_EL1 they read. Only needed while several cores run.
#[inline]
pub fn publish_running_task(cpu: usize, task: *mut u8) {
    RUNNING_TASK_POINTERS[cpu].store(task as usize, Ordering::Relaxed);
}

/// The running task of core `cpu` as the other cores see it (0: none): a
/// sample, which may change at once. Only its address is given, to compare
/// with, never to follow (the task may have ended since).
#[inline]
pub fn running_task_pointer_of(cpu: usize) -> usize {
    RUNNING_TASK_POINTERS[cpu].load(Ordering::Relaxed)
}
