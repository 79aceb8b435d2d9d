//! QEMU test: an interrupt handler that runs off its task's 8 KiB kernel
//! stack (here a periodic timer handler with a 16 KiB buffer) stops the
//! machine with a report that names the overflow and shows the handler in
//! its backtrace, and exit status 101. Without the check in the vector the
//! core would fault again on every push of a frame, for ever: a silent hang.
#![no_std]
#![no_main]

use core::time::Duration;

ilusion::entry!(main);

/// Uses 16 KiB of stack (the buffer is written through `black_box`, so it
/// is really there).
#[inline(never)]
fn greedy_handler() {
    let mut buffer = [0u8; 16 * 1024];
    core::hint::black_box(&mut buffer)[0] = 1;
    core::hint::black_box(&buffer);
}

fn main() {
    ilusion::println!("a timer handler with a 16 KiB buffer, every millisecond");
    ilusion::time::set_periodic(Duration::from_millis(1), greedy_handler).expect("periodic handler");
    // Busy: the interrupt comes on main's kernel stack (a task's, in its
    // stack slot). Sleeping, it would come on the idle task's (core 0's
    // exception stack), which is checked the same way.
    loop {
        core::hint::spin_loop();
    }
}
