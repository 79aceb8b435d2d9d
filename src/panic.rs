//! Panics: print the message, where, and a backtrace; exit with status 101.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status after a panic.
pub const EXIT_PANIC: i32 = 101;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::arch::cpu::disable_interrupts();
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
