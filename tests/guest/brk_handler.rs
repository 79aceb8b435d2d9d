//! QEMU test: an application exception handler (a typed trait, not a magic
//! symbol) handles `BRK` and resumes; an unhandled `BRK` is then fatal (102).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use ilusion::exception::ExceptionFrame;
use ilusion::exception::{ExceptionHandler, Resolution};

ilusion::entry!(main);

static SEEN: AtomicU32 = AtomicU32::new(0);

struct Breakpoints;

impl ExceptionHandler for Breakpoints {
    fn breakpoint(&self, frame: &mut ExceptionFrame, imm: u16) -> Resolution {
        if imm != 0x42 {
            return Resolution::NotHandled;
        }
        SEEN.fetch_add(1, Ordering::Relaxed);
        frame.skip_instruction();
        Resolution::Resume
    }
}

fn main() {
    ilusion::exception::set_handler(&Breakpoints);
    // SAFETY: BRK traps to the handler above, which resumes after it.
    unsafe { core::arch::asm!("brk #0x42") };
    ilusion::println!("breakpoint handled {} time(s)", SEEN.load(Ordering::Relaxed));
    // SAFETY: this BRK is not handled: the OS must report it and exit 102.
    unsafe { core::arch::asm!("brk #0x7") };
    ilusion::println!("unhandled breakpoint returned!");
}
