//! QEMU test: a `Mutex` taken in an interrupt handler is refused the first
//! time, although it is free. A `Mutex` belongs to tasks: a handler runs on
//! the task it interrupted, which the mutex would record as its owner, and
//! before, only a handler that had to wait was stopped (so the misuse
//! passed every run where the mutex happened to be free). With the lock
//! checks on, as in the test images, the handler's `lock` panics, which in
//! a handler stops the machine (status 101) with the report.

#![no_std]
#![no_main]

use ilusion::sync::Mutex;
use ilusion::time::{self, Duration};

ilusion::entry!(main);

static COUNT: Mutex<u32> = Mutex::new(0);

fn handler_taking_a_mutex() {
    let mut count = COUNT.lock().unwrap();
    *count += 1;
    ilusion::println!("handler took the free mutex ({} times): not refused", *count);
}

fn main() {
    ilusion::println!("arming a timer handler that takes a free mutex");
    time::set_periodic(Duration::from_millis(5), handler_taking_a_mutex).expect("a 5 ms period");
    time::sleep(Duration::from_millis(100));
    ilusion::println!("the handler ran unchecked");
    ilusion::exit(0);
}
