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
    ilusion::time::sleep(ilusion::time::Duration::from_millis(1));
    ilusion::println!("not caught");
}
