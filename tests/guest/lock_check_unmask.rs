//! QEMU test: unmasking interrupts while a spin lock is held is caught
//! (with the `lock-checks` feature the test images have) and names the lock.
#![no_std]
#![no_main]

use ilusion::critical::SpinLock;

ilusion::entry!(main);

static LOCK: SpinLock<u32> = SpinLock::new("careless lock", 0);

fn main() {
    let guard = LOCK.lock();
    ilusion::println!("unmasking interrupts while holding a spin lock");
    ilusion::internals::enable_interrupts();
    drop(guard);
    ilusion::println!("not caught");
}
