//! Ending the program: powering off with an exit status, or rebooting.
//!
//! [`reboot`] resets the whole machine through the board
//! ([`crate::board::Board::reboot`]): PSCI `SYSTEM_RESET` on QEMU virt, the
//! power-management watchdog on the Raspberry Pis. QEMU started with
//! `-no-reboot` exits (status 0) instead of booting again.
//!
//! In QEMU the status reaches the host through semihosting (the runner
//! always passes `-semihosting`), so `just run` exits with it. Without
//! semihosting (a real board) nobody can take the status: `exit` prints it,
//! `ilusion: exit status N; halted (power off the board)`, stops the other
//! cores (the stop IPI) and halts this one in a low-power wait with
//! interrupts masked. Called from an isolated task, `exit` ends that task
//! only, with `TaskFailure::Exited`.
//!
//! The program ends once: the first core to end it (an `exit`, or a fatal
//! report) masks its interrupts and claims the end (`cores::claim_the_end`);
//! a core that comes later, exiting or failing, halts there.

/// Ends the program with exit status `code` (0 = success). Never returns.
/// In an isolated task (at EL0) it ends just that task: a non-zero `code`
/// is `TaskFailure::Exited { status: code as u32 }` for its joiner (the
/// status as the host would see it: -1 is 4294967295), 0 is success.
pub fn exit(code: i32) -> ! {
    if crate::arch::user_mode::running_at_el0() {
        crate::syscall::user::exit(u64::from(code as u32));
    }
    // Interrupts masked from here: once this core is the one ending the
    // program, a `Stop` from another core must not halt it.
    crate::arch::cpu::disable_interrupts();
    crate::cores::claim_the_end();
    crate::trace::at_exit();
    crate::irq::stop_other_cores();
    crate::console::flush();
    crate::arch::semihosting::exit(code as u32);
    // Still here: no semihosting, so no host to hand the status to.
    crate::console::write_fmt_emergency(format_args!("ilusion: exit status {code}; halted (power off the board)\n"));
    crate::console::flush();
    crate::arch::cpu::halt()
}

/// Resets the whole machine, after flushing the console; the board's
/// loader boots the image again. Never returns. Kernel code only: an
/// isolated task (at EL0) that calls it panics (it cannot reset the machine).
pub fn reboot() -> ! {
    use crate::board::{Board, Selected};
    if crate::arch::user_mode::running_at_el0() {
        panic!("reboot: an isolated task cannot reset the machine");
    }
    crate::console::flush();
    Selected::reboot(crate::kernel::boot_exception_level())
}
