//! Ending the program: powering off with an exit status.
//!
//! In QEMU the status reaches the host through semihosting (the runner
//! always passes `-semihosting`), so `just run` exits with it. Without
//! semihosting the core halts (see `arch::semihosting`).

/// Ends the program with exit status `code` (0 = success). Never returns.
pub fn exit(code: i32) -> ! {
    crate::console::flush();
    crate::arch::semihosting::exit(code as u32);
    crate::arch::cpu::halt()
}
