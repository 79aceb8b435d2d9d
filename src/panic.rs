//! Panics: print the message, where, and a backtrace; exit with status 101.
//!
//! A panic in task code (not in an interrupt handler, not with interrupts
//! masked inside the OS) ends only that task: `join` returns
//! `Err(TaskFailure::Panic { message })`, or `OutOfKernelMemory` for the
//! panic of a failed allocation; nothing is allocated on the way (the
//! message is kept inline, see `task::failure::PanicMessage`), so this
//! works with the heap exhausted. The message is formatted in the task,
//! with interrupts as they were: formatting runs application code
//! (`Display` impls), which may take long or panic again; a panic while
//! formatting the message ends the task too. In an isolated task (EL0) the
//! message is formatted on the task's stack and handed to the kernel with
//! the `panic` system call (see `syscall::user::panic`).

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status after a panic.
pub const EXIT_PANIC: i32 = 101;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    if crate::arch::user_mode::running_at_el0() {
        // An isolated task: kernel data is out of reach, the kernel reports it.
        crate::syscall::user::panic(info);
    }
    match crate::task::panicking_task(crate::arch::cpu::interrupts_enabled()) {
        // A panic in task code ends that task only (reported without allocating).
        Some(false) => crate::task::fail_on_panic(info),
        Some(true) => {
            let task = crate::task::RunningTask;
            crate::console::write_fmt_emergency(format_args!(
                "\n*** {task} panicked while formatting its panic message\n"
            ));
            let message = "panic while formatting a panic message".into();
            crate::task::fail_current(crate::task::TaskFailure::Panic { message });
        }
        None => stop_machine(info),
    }
}

/// Any other panic is the program's end: report it and exit with 101.
fn stop_machine(info: &PanicInfo) -> ! {
    crate::arch::cpu::disable_interrupts();
    crate::cores::stop_others_for_report();
    if PANICKING.swap(true, Ordering::SeqCst) {
        crate::console::write_fmt_emergency(format_args!("\n*** panic while panicking\n"));
        crate::power::exit(EXIT_PANIC);
    }
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
    match info.location() {
        Some(l) => p(format_args!("\n*** panicked at {}:{}:{}:\n", l.file(), l.line(), l.column())),
        None => p(format_args!("\n*** panicked:\n")),
    }
    p(format_args!("{}\n", info.message()));
    crate::mm::heap::report_failure_if_any();
    crate::backtrace::print(None, crate::arch::cpu::frame_pointer());
    crate::power::exit(EXIT_PANIC);
}
