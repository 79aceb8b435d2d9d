//! The fast path of system calls: the calls in [`FAST_SYSCALLS`], which
//! never block, switch tasks or touch user memory.
//!
//! `vectors.s` sends them straight from the EL0 synchronous vector to
//! [`ilusion_fast_syscall`], saving only `x1`, `x8`–`x15` and `x30` and
//! restoring them (`x0` becomes the result). That is sound only while the
//! handler writes no other register the task would see: it is a *leaf* (it
//! calls nothing, since a callee could change more), uses no FP/SIMD
//! register (those are not saved, and would leak kernel values to the
//! task), and names no caller-saved general register outside that set
//! (`x2`–`x7`, `x16`–`x18`; the callee-saved `x19`–`x29` it restores itself,
//! as AAPCS64 requires, on its own stack below the frame). LLVM hands out
//! `x8`, `x9`, ... first, so code this small stays within them. The QEMU
//! test harness checks all three on every board's image by disassembling it
//! (`tests/support/fast_syscall.rs`); keep the code here small and free of
//! panics, formatting, `u128` division and anything else that would call
//! out.

use super::abi::{encode, Syscall, SyscallError, ABI_VERSION, FAST_SYSCALLS};
use crate::sched::tcb::Tcb;

const TIME: u64 = Syscall::Time as u64;
const TASK_ID: u64 = Syscall::TaskId as u64;
const ABI: u64 = Syscall::AbiVersion as u64;
const _: () = assert!(FAST_SYSCALLS == (1 << TIME) | (1 << TASK_ID) | (1 << ABI));

/// Answers fast call `number`; returns the `x0` for the task.
#[no_mangle]
extern "C" fn ilusion_fast_syscall(number: u64) -> u64 {
    match number {
        TIME => encode(Ok(nanos_since_boot())),
        TASK_ID => encode(Ok(current_task_id())),
        ABI => encode(Ok(ABI_VERSION)),
        // `vectors.s` sends no other number here.
        _ => encode(Err(SyscallError::NoSuchCall)),
    }
}

/// `Instant::now().since_boot()` in nanoseconds, with 64-bit arithmetic only
/// (`udiv` is an instruction; a `u128` division is a call). Exact while the
/// counter frequency is below 2^34 Hz (CNTFRQ_EL0 holds 32 bits).
#[inline(always)]
pub(super) fn nanos_since_boot() -> u64 {
    let ticks = crate::arch::cpu::counter().saturating_sub(crate::time::boot_count());
    let hz = crate::time::frequency_nonzero();
    let (secs, rem) = (ticks / hz, ticks % hz);
    secs.wrapping_mul(1_000_000_000).wrapping_add(rem * 1_000_000_000 / hz)
}

/// The running task's id (0 before tasks start), read without the checks of
/// `scheduler::current` (whose failure path would be a call).
#[inline(always)]
pub(super) fn current_task_id() -> u64 {
    let task = crate::arch::context::current_task_pointer() as *const Tcb;
    if task.is_null() {
        return 0;
    }
    // SAFETY: TPIDR_EL1 points at the running task's control block, alive
    // while it runs; `id` never changes after spawn.
    unsafe { (*task).id }
}
