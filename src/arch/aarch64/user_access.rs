//! Copying to and from user (EL0) memory, safely, from the kernel.
//!
//! System calls receive pointers from isolated tasks. The kernel never
//! dereferences them directly: it copies through the routines below, which
//! use the *unprivileged* load/store instructions `LDTRB`/`STTRB`. Those
//! check the access with EL0's permissions, so a pointer into kernel memory
//! faults exactly as it would for the task itself. A fault inside these
//! routines is not fatal: for an abort at EL1, the exception entry
//! (`arch::exception`) asks [`in_copy_routine`] before anything else, and
//! hands a fault there to the isolated task's failure path
//! (`task::user_copy_fault`). A fault on a page of the task's heap not
//! touched yet is no error: that maps it (demand paging) and the copy
//! instruction runs again. Anything else [`recover`]s: the copy resumes at
//! `user_access_fault`, which returns an error to the caller.
//!
//! Before touching anything, [`UserRange::new`] refuses ranges that are not
//! entirely in the lower half (TTBR0, where user address spaces live) or
//! whose length overflows. Where the CPU has PAN (Armv8.1+), it is enabled
//! ([`enable_pan`]), so a plain kernel access to user memory faults too; the
//! design does not depend on it (the Pis' Cortex-A53/A72 lack PAN).

use aarch64_cpu::registers::{Readable, ID_AA64MMFR1_EL1};

core::arch::global_asm!(
    ".section .text.user_access, \"ax\"",
    ".global user_access_start",
    "user_access_start:",
    // user_copy_from(dst: x0 kernel, src: x1 user, len: x2) -> 0 or 1 (fault)
    ".global user_copy_from",
    "user_copy_from:",
    "    cbz x2, 2f",
    "1:  ldtrb w3, [x1]",
    "    strb w3, [x0], #1",
    "    add x1, x1, #1",
    "    subs x2, x2, #1",
    "    b.ne 1b",
    "2:  mov x0, #0",
    "    ret",
    // user_copy_to(dst: x0 user, src: x1 kernel, len: x2) -> 0 or 1 (fault)
    ".global user_copy_to",
    "user_copy_to:",
    "    cbz x2, 2f",
    "1:  ldrb w3, [x1], #1",
    "    sttrb w3, [x0]",
    "    add x0, x0, #1",
    "    subs x2, x2, #1",
    "    b.ne 1b",
    "2:  mov x0, #0",
    "    ret",
    ".global user_access_fault",
    "user_access_fault:",
    "    mov x0, #1",
    "    ret",
    ".global user_access_end",
    "user_access_end:",
);

extern "C" {
    fn user_copy_from(dst: *mut u8, src: u64, len: usize) -> u64;
    fn user_copy_to(dst: u64, src: *const u8, len: usize) -> u64;
    static user_access_start: u8;
    static user_access_end: u8;
    static user_access_fault: u8;
}

/// The first address above the lower half (39-bit user address spaces).
pub const USER_END: u64 = 1 << 39;

/// Why a user pointer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAccessError {
    /// The range is (partly) outside user address space: a kernel address.
    NotUserAddress,
    /// `address + length` overflows.
    Overflow,
    /// The address is not aligned for the type read or written.
    Misaligned,
    /// The range is in user space but not mapped with the needed permission.
    Fault,
}

/// A range of user addresses, checked to lie entirely in the lower half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRange {
    pub address: u64,
    pub len: usize,
}

impl UserRange {
    pub fn new(address: u64, len: usize) -> Result<Self, UserAccessError> {
        let end = address.checked_add(len as u64).ok_or(UserAccessError::Overflow)?;
        if end > USER_END {
            return Err(UserAccessError::NotUserAddress);
        }
        Ok(Self { address, len })
    }
}

/// Copies `dst.len()` bytes from user address `src` into `dst`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), UserAccessError> {
    let range = UserRange::new(src, dst.len())?;
    // SAFETY: `dst` is a valid kernel buffer of `len` bytes; the user side is
    // only read with LDTRB, whose faults `recover` turns into a return of 1.
    match unsafe { user_copy_from(dst.as_mut_ptr(), range.address, range.len) } {
        0 => Ok(()),
        _ => Err(UserAccessError::Fault),
    }
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), UserAccessError> {
    let range = UserRange::new(dst, src.len())?;
    // SAFETY: `src` is a valid kernel buffer; the user side is only written
    // with STTRB, whose faults `recover` turns into a return of 1.
    match unsafe { user_copy_to(range.address, src.as_ptr(), range.len) } {
        0 => Ok(()),
        _ => Err(UserAccessError::Fault),
    }
}

/// Reads a `u64` from an 8-byte-aligned user address.
pub fn read_user_u64(src: u64) -> Result<u64, UserAccessError> {
    if !src.is_multiple_of(8) {
        return Err(UserAccessError::Misaligned);
    }
    let mut bytes = [0u8; 8];
    copy_from_user(&mut bytes, src)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Is `pc` inside the copy routines (a fault there is a user pointer's)?
pub fn in_copy_routine(pc: u64) -> bool {
    let start = core::ptr::addr_of!(user_access_start) as u64;
    let end = core::ptr::addr_of!(user_access_end) as u64;
    (start..end).contains(&pc)
}

/// Makes a copy routine that faulted return an error instead: `return_pc`
/// is where the exception returns to (the faulting instruction, which
/// [`in_copy_routine`] accepted), and becomes the routine's error exit.
pub fn recover(return_pc: &mut u64) {
    debug_assert!(in_copy_routine(*return_pc));
    *return_pc = core::ptr::addr_of!(user_access_fault) as u64;
}

/// Does this CPU implement Privileged Access Never (Armv8.1)?
pub fn has_pan() -> bool {
    ID_AA64MMFR1_EL1.read(ID_AA64MMFR1_EL1::PAN) != 0
}

/// Turns PAN on where the CPU has it, and makes every exception entry set it
/// again (SCTLR_EL1.SPAN = 0). Returns whether PAN is on.
pub fn enable_pan() -> bool {
    if !has_pan() {
        return false;
    }
    use aarch64_cpu::registers::{Writeable, SCTLR_EL1};
    const SPAN: u64 = 1 << 23; // 0: exception entry to EL1 sets PSTATE.PAN
    SCTLR_EL1.set(SCTLR_EL1.get() & !SPAN);
    // SAFETY: writes PSTATE.PAN (S3_0_C4_C2_3); affects only kernel accesses to EL0 memory.
    unsafe { core::arch::asm!("msr S3_0_C4_C2_3, {0}", in(reg) 1u64 << 22, options(nostack)) };
    true
}
