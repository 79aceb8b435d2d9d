//! Entering EL0, and telling whether code runs there.
//!
//! An isolated task starts like any task (in the kernel, in thread mode)
//! and then drops to EL0 for good with [`enter_user`]: from then on it comes
//! back to EL1 only through exceptions (system calls, faults, interrupts),
//! which land on its kernel stack (SP_EL1).
//!
//! Code that is shared by the kernel and isolated tasks (`println!`,
//! `yield_now`, `sleep`) must know which side it runs on, but EL0 may not
//! read `CurrentEL`. So the kernel keeps `TPIDRRO_EL0` (read-only at EL0) at
//! 1 exactly while EL0 runs: every exception entry clears it, and every
//! return to EL0 sets it (`vectors.s`, and [`enter_user`]).

use aarch64_cpu::registers::{Readable, TPIDRRO_EL0};

core::arch::global_asm!(
    ".section .text.enter_user, \"ax\"",
    ".global enter_user_mode",
    // enter_user_mode(arg: x0, pc: x1, sp: x2) -> !
    "enter_user_mode:",
    "    msr daifset, #0xf",
    "    msr spsel, #1", // the (empty) kernel stack; SP_EL0 becomes the user's
    "    msr sp_el0, x2",
    "    msr elr_el1, x1",
    "    msr spsr_el1, xzr", // EL0t, interrupts unmasked
    "    mov x1, #1",
    "    msr tpidrro_el0, x1",
    // The user view of the upper half (see mmu/kernel.rs and vectors.s).
    "    mrs x1, ttbr1_el1",
    "    orr x1, x1, #{USER_VIEW_TABLE}",
    "    orr x1, x1, #{USER_VIEW_ASID}",
    "    msr ttbr1_el1, x1",
    "    isb",
    // Leave nothing of the kernel's in the registers.
    "    mov x1, xzr",
    "    mov x2, xzr",
    "    mov x3, xzr",
    "    mov x4, xzr",
    "    mov x5, xzr",
    "    mov x6, xzr",
    "    mov x7, xzr",
    "    mov x8, xzr",
    "    mov x9, xzr",
    "    mov x10, xzr",
    "    mov x11, xzr",
    "    mov x12, xzr",
    "    mov x13, xzr",
    "    mov x14, xzr",
    "    mov x15, xzr",
    "    mov x16, xzr",
    "    mov x17, xzr",
    "    mov x18, xzr",
    "    mov x19, xzr",
    "    mov x20, xzr",
    "    mov x21, xzr",
    "    mov x22, xzr",
    "    mov x23, xzr",
    "    mov x24, xzr",
    "    mov x25, xzr",
    "    mov x26, xzr",
    "    mov x27, xzr",
    "    mov x28, xzr",
    "    mov x29, xzr",
    // The return address of the task's first frame: see `user_task_start` below.
    "    adr x30, user_task_start_end",
    // FP/SIMD: trapped, unless the task's kernel side already used (and so
    // owns) the registers: then they hold its kernel-side values, which
    // EL0 must not see (fp.rs).
    "    mrs x1, cpacr_el1",
    "    cbz x1, 1f",
    "    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "    movi v\\n\\().2d, #0",
    "    .endr",
    "    msr fpsr, xzr",
    "    msr fpcr, xzr",
    "    mov x1, xzr",
    "1:  eret",
    // An isolated task's outermost frame, for debuggers: its entry "returns"
    // here (it never does), and the call frame information says there is no
    // caller, so GDB's `bt` ends at `user_task_start` instead of at a bogus
    // frame at address 0. (EL0 may execute it: the image's code is shared.)
    ".cfi_sections .debug_frame",
    "user_task_start:",
    "    .cfi_startproc",
    "    .cfi_undefined x30",
    "    nop", // debuggers look a return address up minus one: this instruction
    "user_task_start_end:",
    "    udf #0", // an isolated task's entry never returns
    "    .cfi_endproc",
    USER_VIEW_TABLE = const super::mmu::USER_VIEW_TABLE_BIT,
    USER_VIEW_ASID = const super::mmu::USER_VIEW_ASID_BIT,
);

extern "C" {
    fn enter_user_mode(arg: u64, pc: u64, sp: u64) -> !;
}

/// Drops to EL0 at `pc` with `x0 = arg` and stack pointer `sp`; never returns.
///
/// # Safety
/// Called in thread mode by a task whose kernel stack (SP_EL1) is empty, with
/// its own address space installed in TTBR0, in which `sp` is a mapped stack.
/// `pc` must be EL0-executable (in the image's code) or the task faults.
pub unsafe fn enter_user(pc: u64, arg: u64, sp: u64) -> ! {
    // SAFETY: forwarded from our caller.
    unsafe { enter_user_mode(arg, pc, sp) }
}

/// Is this code running at EL0 (in an isolated task)?
#[inline]
pub fn running_at_el0() -> bool {
    TPIDRRO_EL0.get() != 0
}
