//! QEMU test: a fault in a task *with interrupts masked* (inside an OS
//! critical section, as the scheduler's own code runs) cannot be pinned on
//! the task alone: the machine stops with the full report and status 102.

#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    let h = ilusion::task::spawn(|| {
        ilusion::println!("faulting with interrupts masked");
        ilusion::internals::without_interrupts(|| {
            // SAFETY: none: the null read is the bug under test.
            unsafe { core::ptr::read_volatile(core::ptr::null::<u64>().wrapping_add(1)) }
        })
    });
    let r = h.join();
    ilusion::println!("the task was contained?! {r:?}");
}
