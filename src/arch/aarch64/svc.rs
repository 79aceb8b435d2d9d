//! `SVC #0`: the instruction with which code at EL0 calls the kernel.
//!
//! The call number goes in `x8`, the arguments in `x0`–`x4`, and the kernel
//! answers in `x0`, preserving every other register (the ABI in
//! [`crate::syscall::abi`]). The typed calls built on these are in
//! [`crate::syscall::user`].

/// System call `number` with three arguments; returns the raw `x0`.
#[inline]
pub fn call3(number: u64, a0: u64, a1: u64, a2: u64) -> u64 {
    let result;
    // SAFETY: SVC traps to the kernel, which checks every argument; only x0
    // is written back (the kernel preserves every other register).
    unsafe {
        core::arch::asm!("svc #0", inlateout("x0") a0 => result, in("x1") a1, in("x2") a2, in("x8") number, options(nostack));
    }
    result
}

/// System call `number` with four arguments; returns the raw `x0`.
#[inline]
pub fn call4(number: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let result;
    // SAFETY: as in `call3`.
    unsafe {
        core::arch::asm!("svc #0", inlateout("x0") a0 => result, in("x1") a1, in("x2") a2, in("x3") a3, in("x8") number, options(nostack));
    }
    result
}

/// System call `number` with five arguments, one that never returns (it
/// ends the calling task).
#[inline]
pub fn call5_no_return(number: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> ! {
    // SAFETY: SVC traps to the kernel, which checks every argument; the
    // caller names a call that does not return.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x0") a0, in("x1") a1, in("x2") a2, in("x3") a3, in("x4") a4, in("x8") number,
            options(noreturn, nostack)
        );
    }
}
