//! Arm semihosting: how an image running in QEMU (`-semihosting`) hands the
//! emulator its exit status. A `HLT #0xF000` with an operation number in w0
//! and a parameter block in x1 is trapped by QEMU instead of executing.
//!
//! Without `-semihosting` (or on real hardware) the `HLT` is an undefined
//! instruction; the exception handler recognises it by address
//! ([`is_semihosting_call`]) and makes the call return
//! ([`return_not_heard`]), so [`exit`] says nobody listened.

const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

core::arch::global_asm!(
    ".section .text.semihosting, \"ax\"",
    ".global semihosting_call",
    "semihosting_call:",
    "    hlt #0xf000",
    "    ret",
);

extern "C" {
    /// `HLT #0xF000` with the operation in x0 and its parameter block in x1.
    fn semihosting_call(operation: u64, parameters: *const u64) -> u64;
}

/// What a semihosting call returns when there is no semihosting: no
/// operation answers with this (SYS_EXIT does not return at all).
const NOT_HEARD: u64 = u64::MAX - 0x5e41;

/// Asks the emulator to exit with `code`. Returns only if nobody listened
/// (real hardware, or QEMU without `-semihosting`).
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: SYS_EXIT reads the two-word block we pass; if the call returns,
    // nothing changed.
    let answer = unsafe { semihosting_call(SYS_EXIT, block.as_ptr()) };
    debug_assert_eq!(answer, NOT_HEARD);
}

/// Makes the trapped semihosting call in `frame` return [`NOT_HEARD`]: the
/// `HLT` was undefined, so resume after it.
pub fn return_not_heard(frame: &mut super::exception::ExceptionFrame) {
    frame.x[0] = NOT_HEARD;
    frame.elr += 4;
}

/// Was the instruction at `pc` the semihosting call (so: no semihosting here)?
pub fn is_semihosting_call(pc: u64) -> bool {
    pc == semihosting_call as *const () as u64
}
