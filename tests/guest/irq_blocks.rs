//! QEMU test: an interrupt handler that tries to block (here a periodic
//! timer handler that sleeps) stops the machine with a report naming the
//! mistake, and exit status 101. Before the check its core hung for good:
//! the handler waited for a timer interrupt that its own core, still
//! inside the handler, could never take.
#![no_std]
#![no_main]

use core::time::Duration;

ilusion::entry!(main);

fn sleepy_handler() {
    ilusion::time::sleep(Duration::from_millis(1));
}

fn main() {
    ilusion::println!("a timer handler that sleeps, every millisecond");
    ilusion::time::set_periodic(Duration::from_millis(1), sleepy_handler).expect("periodic handler");
    ilusion::time::sleep(Duration::from_millis(100));
    ilusion::println!("FAILED: the handler's sleep was not refused");
}
