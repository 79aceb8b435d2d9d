//! QEMU test: holding a spin lock at a context switch is caught (with the
//! `lock-checks` feature the test images have) and names the lock.
#![no_std]
#![no_main]

use ilusion::critical::SpinLock;

ilusion::entry!(main);

static LOCK: SpinLock<u32> = SpinLock::new("careless lock", 0);

fn main() {
    let mut guard = LOCK.lock();
    *guard += 1;
    ilusion::println!("sleeping while holding a spin lock");
    // Long enough that it always blocks: a sleep whose end has passed by
    // the time it looks (1 ms, on a host that paused QEMU that long between
    // the two reads of the clock) returns without a switch, and the test
    // printed "not caught" once in CI. Caught, it ends at once.
    ilusion::time::sleep(ilusion::time::Duration::from_secs(5));
    ilusion::println!("not caught");
}
