//! Arm semihosting: how an image running in QEMU (`-semihosting`) hands the
//! emulator its exit status. A `HLT #0xF000` with an operation number in w0
//! and a parameter block in x1 is trapped by QEMU instead of executing.
//!
//! Without `-semihosting` (or on real hardware) the `HLT` is an undefined
//! instruction; the exception handler recognises it by address
//! ([`is_semihosting_call`]) and halts the core instead.

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

/// Asks the emulator to exit with `code`. Returns only if nobody listened.
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: SYS_EXIT reads the two-word block we pass; if the call returns,
    // nothing changed.
    unsafe { semihosting_call(SYS_EXIT, block.as_ptr()) };
}

/// Was the instruction at `pc` the semihosting call (so: no semihosting here)?
pub fn is_semihosting_call(pc: u64) -> bool {
    pc == semihosting_call as *const () as u64
}
