//! QEMU test: a fault in an interrupt handler is not any task's fault. While
//! tasks run, a periodic timer handler reads a null pointer: the machine
//! stops with the full report and exit status 102.

#![no_std]
#![no_main]

use ilusion::task;
use ilusion::time::{self, Duration};

ilusion::entry!(main);

fn faulty_handler() {
    // SAFETY: none: the null read is the bug under test.
    let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    ilusion::println!("read {value} in the handler?!");
}

fn main() {
    let worker = task::spawn(|| loop {
        time::sleep(Duration::from_millis(1));
    });
    ilusion::println!("arming a faulty timer handler");
    time::set_periodic(Duration::from_millis(5), faulty_handler).expect("a 5 ms period");
    let _ = worker.join();
}
