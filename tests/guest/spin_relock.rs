//! QEMU test: a spin lock taken again by the task that holds it. Interrupts
//! stay masked while a spin lock is held, so that task cannot be switched
//! away: it is the same core asking again, a certain deadlock. The core
//! used to spin for ever, silently, unless the image had the `lock-checks`
//! feature. Now the lock word records the core that holds it, and a core
//! that finds the lock taken by itself panics; with interrupts masked that
//! is the machine's end (as for every broken spin-lock rule: src/panic.rs),
//! reported with the problem and a backtrace to the second `lock`, status
//! 101. Built twice: as an application gets it (`spin_relock_unchecked`,
//! the report gives the lock's address), and with the checks of the test
//! images (`spin_relock`, which name the lock).
#![no_std]
#![no_main]

use ilusion::critical::SpinLock;
use ilusion::task::Builder;
use ilusion::time::Duration;

ilusion::entry!(main);

static COUNTER: SpinLock<u64> = SpinLock::new("careless lock", 0);

/// Adds one under the lock: fine on its own, a deadlock with the lock held.
fn bump() {
    *COUNTER.lock() += 1;
}

fn main() {
    let careless = Builder::new()
        .name("careless")
        .spawn(|| {
            let mut total = COUNTER.lock();
            *total += 1;
            ilusion::println!("taking the lock again while holding it");
            bump();
            ilusion::println!("not caught");
            *total
        })
        .expect("spawn");
    // Not reached once caught; before, the careless task's core spun.
    match careless.join_timeout(Duration::from_secs(5)) {
        Ok(outcome) => ilusion::println!("careless: {outcome:?}"),
        Err(_) => ilusion::println!("careless: still spinning after 5 s"),
    }
}
