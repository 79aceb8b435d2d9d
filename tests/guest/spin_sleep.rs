//! QEMU test, built as an application gets it (without the lock checks):
//! a task that sleeps while it holds a spin lock is caught at the sleep.
//!
//! A spin lock masks interrupts while it is held, and must never be held
//! across a switch. Only the lock checks of the test images caught a task
//! that blocked holding one; as an application is built, the task switched
//! away keeping the lock: the next task on its core to take it was
//! reported as taking it twice (the lock word names the core, not the
//! task), so the report blamed the wrong code; a task on another core spun
//! on it, interrupts masked, until the sleeper came back, for ever if it
//! never did. Now a task that blocks or yields with interrupts masked is
//! stopped there, in every build, with a report naming the mistake
//! (status 101).
//!
//! Here the sleeper holds the lock while a task on its core, then one on
//! another core, would take it.
#![no_std]
#![no_main]

use ilusion::critical::SpinLock;
use ilusion::task::Builder;
use ilusion::time::Duration;

ilusion::entry!(main);

static SHARED: SpinLock<u64> = SpinLock::new("shared counter", 0);

fn bump(who: &'static str) {
    *SHARED.lock() += 1;
    ilusion::println!("{who}: took the lock");
}

fn main() {
    let sleeper = Builder::new()
        .name("sleeper")
        .cpu(0)
        .spawn(|| {
            let mut count = SHARED.lock();
            *count += 1;
            ilusion::println!("sleeper: sleeping while holding a spin lock");
            ilusion::time::sleep(Duration::from_millis(20));
            ilusion::println!("sleeper: not caught");
        })
        .expect("spawn the sleeper");
    ilusion::time::sleep(Duration::from_millis(5));
    let here = Builder::new().cpu(0).spawn(|| bump("a task on the sleeper's core")).expect("spawn");
    let there = Builder::new().cpu(1).spawn(|| bump("a task on another core")).expect("spawn");
    let _ = (sleeper.join(), here.join(), there.join());
    ilusion::println!("FAILED: the sleep holding a spin lock was not refused");
}
