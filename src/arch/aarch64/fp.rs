//! Lazy FP/SIMD switching: a task's 32 vector registers (512 bytes, with
//! FPSR and FPCR) are saved and loaded only when another task really uses
//! them, not on every switch and every exception.
//!
//! Each core's registers belong to at most one task, its *owner*
//! ([`FP_OWNER`]). Only the owner, while it runs, has FP/SIMD enabled
//! (`CPACR_EL1.FPEN`); everything else runs with it trapped. The first
//! FP/SIMD instruction of any other code traps (`vectors.s`, `fp_trap`),
//! which stores the owner's registers in the owner's save area and then:
//!
//! - for a task (at EL0, or a kernel task in thread mode): loads its own
//!   registers (zeros the first time) and makes it the owner;
//! - for an exception handler (EL1 on SP_EL1): lends it the registers, owned
//!   by nobody, until the exception returns, with FPCR and FPSR zero (the
//!   default modes: the last owner's, an isolated task's perhaps, must not
//!   change what the kernel computes).
//!
//! So a switch only sets FPEN for the task it resumes (`switch.s`), an
//! exception only turns it off while its handler runs (`vectors.s`), and a
//! task that never touches FP/SIMD never pays for it. With several cores a
//! task may resume on another core, where its registers are not, so the
//! scheduler saves the owner's registers when it switches away from it
//! ([`save_before_switch`]).
//!
//! A task's save area ([`FpState`], 528 bytes) is at the top of its kernel
//! stack's pages (`sched::stack`), and each core's idle task has one here
//! ([`BOOT_SAVE_AREAS`]): the task control block only points at it, so
//! spawning a task neither zeroes nor copies it.
//!
//! The kernel is compiled with FP/SIMD allowed: the compiler uses vector
//! registers for some copies and bit counts. That code traps like any other
//! and gets the registers lent or loaded. What it must not do is keep a
//! value in them across a task switch (nothing in the kernel computes with
//! floating point).

use super::context::Context;
use crate::percpu::{cpu_index, MAX_CPUS};
use aarch64_cpu::registers::{Readable, Writeable, CPACR_EL1};
use core::cell::UnsafeCell;
use core::mem::{offset_of, MaybeUninit};
use core::sync::atomic::{AtomicPtr, Ordering};

/// `CPACR_EL1` with FP/SIMD enabled at EL0 and EL1 (FPEN = 0b11); 0 traps it at both.
pub const CPACR_FP_ON: u64 = 3 << 20;

/// The registers themselves, as `fp.s` stores them.
#[repr(C, align(16))]
pub struct FpState {
    pub q: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

/// A task's FP/SIMD setting and where its registers go: part of its [`Context`].
#[repr(C)]
#[derive(Debug)]
pub struct FpRegisters {
    /// `CPACR_EL1` for the task: [`CPACR_FP_ON`] while its registers are
    /// the core's (it owns them), else 0.
    pub cpacr: u64,
    /// 0 until the registers were first saved: a task starts with zeros.
    pub saved: u64,
    /// Its save area, valid once `saved` is set.
    pub state: *mut FpState,
}

const _: () = assert!(offset_of!(FpRegisters, saved) == offset_of!(FpRegisters, cpacr) + 8);
const _: () = assert!(offset_of!(FpState, fpcr) == 32 * 16 + 8);

impl FpRegisters {
    /// A new task's, saving into `state`: not loaded, never used.
    pub const fn new(state: *mut FpState) -> Self {
        Self { cpacr: 0, saved: 0, state }
    }
}

impl Default for FpRegisters {
    fn default() -> Self {
        Self::new(core::ptr::null_mut())
    }
}

/// The idle tasks' save areas (the boot contexts have no task stacks).
pub struct BootSaveAreas([UnsafeCell<MaybeUninit<FpState>>; MAX_CPUS]);

// SAFETY: core `n` only touches entry `n`, with interrupts masked.
unsafe impl Sync for BootSaveAreas {}

pub static BOOT_SAVE_AREAS: BootSaveAreas = BootSaveAreas([const { UnsafeCell::new(MaybeUninit::uninit()) }; MAX_CPUS]);

/// Each core's owner: the task whose registers are in the core's FP/SIMD
/// registers (null: nobody's). Read and written by that core only, with
/// interrupts masked (in exception handlers and switches).
pub static FP_OWNER: [AtomicPtr<FpRegisters>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

core::arch::global_asm!(
    include_str!("fp.s"),
    FP_CPACR = const offset_of!(FpRegisters, cpacr),
    FP_SAVED = const offset_of!(FpRegisters, saved),
    FP_STATE = const offset_of!(FpRegisters, state),
    CPACR_FP_ON = const CPACR_FP_ON,
);

extern "C" {
    fn fp_save(registers: *mut FpRegisters);
}

fn registers_of(context: *mut Context) -> *mut FpRegisters {
    // SAFETY: `context` points at a live context (every caller's promise);
    // the projection makes no reference.
    unsafe { &raw mut (*context).fp }
}

/// The boot context of this core becomes a task (its idle task) with
/// `context`: the registers it has been using are its own, enabled, and
/// saved (when another task takes them) in this core's boot save area.
///
/// # Safety
/// Interrupts are masked; `context` lives for ever, on this core.
pub unsafe fn adopt_boot_registers(context: *mut Context) {
    let cpu = cpu_index();
    let registers = registers_of(context);
    // SAFETY: promised by our caller; only this core touches it now.
    unsafe { *registers = FpRegisters { cpacr: CPACR_FP_ON, saved: 0, state: BOOT_SAVE_AREAS.0[cpu].get().cast() } };
    FP_OWNER[cpu].store(registers, Ordering::Relaxed);
}

/// Before switching away from the task with `context` when it may resume on
/// another core: if it owns this core's registers, save them into it.
///
/// # Safety
/// Interrupts are masked; `context` is the running task's.
#[inline(always)]
pub unsafe fn save_before_switch(context: *mut Context) {
    let registers = registers_of(context);
    // SAFETY: the running task's context, touched by this core only.
    if unsafe { (*registers).cpacr } != 0 {
        // Preempted, the task switches inside its interrupt handler, where
        // FP/SIMD is trapped although the registers are still its own (a
        // handler that borrowed them would have saved them first). Enabled
        // for the save: trapped, `fp_save` would trap into `fp_trap`, which
        // saves them and lends them to the handler with the default modes,
        // and `fp_save` would then store those modes over the task's.
        if CPACR_EL1.get() == 0 {
            CPACR_EL1.set(CPACR_FP_ON);
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        }
        // SAFETY: it owns the registers, and FP/SIMD is enabled.
        unsafe { fp_save(registers) };
        FP_OWNER[cpu_index()].store(core::ptr::null_mut(), Ordering::Relaxed);
    }
}

/// The task with `context` is being freed: if it still owns this core's
/// registers (it ended on this core, which since ran nobody else who used
/// them), it owns them no more; they are nobody's.
///
/// # Safety
/// Interrupts are masked; the task has ended and has been switched away from.
pub unsafe fn forget(context: *mut Context) {
    let owner = &FP_OWNER[cpu_index()];
    if owner.load(Ordering::Relaxed) == registers_of(context) {
        owner.store(core::ptr::null_mut(), Ordering::Relaxed);
    }
}
