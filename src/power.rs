//! Ending the program: powering off with an exit status.
//!
//! In QEMU the status reaches the host through semihosting (the runner
//! always passes `-semihosting`), so `just run` exits with it. Without
//! semihosting the core halts (see `arch::semihosting`). Called from an
//! isolated task, `exit` ends that task only, with `TaskFailure::Exited`.

/// Ends the program with exit status `code` (0 = success). Never returns.
/// In an isolated task (at EL0) it ends just that task: a non-zero `code`
/// is `TaskFailure::Exited { status: code as u32 }` for its joiner (the
/// status as the host would see it: -1 is 4294967295), 0 is success.
pub fn exit(code: i32) -> ! {
    if crate::arch::user_mode::running_at_el0() {
        crate::syscall::user::exit(u64::from(code as u32));
    }
    crate::console::flush();
    crate::arch::semihosting::exit(code as u32);
    crate::arch::cpu::halt()
}
