//! QEMU test (under icount): the kernel's spin locks are never held with
//! interrupts enabled, so an interrupt or a more urgent task cannot find
//! one taken by the code it interrupted.
//!
//! - 20,000 `irq::register` / `unregister` pairs while a 5 µs periodic
//!   timer interrupts them (its handler acknowledges through the same
//!   interrupt controller, whose lock `register` takes).
//! - A less urgent task spawns and joins in a loop (mapping and unmapping
//!   stacks of sizes the stack cache does not hold takes the kernel
//!   tables' lock) while a more urgent one, woken every millisecond, does
//!   the same.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::irq;
use ilusion::task::{Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

static TICKS: AtomicU64 = AtomicU64::new(0);

fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

fn nothing(_: irq::IntId) {}

fn main() {
    register_unregister_under_interrupts();
    spawn_from_two_priorities();
    finish();
}

/// An interrupt number the board's controller has and nothing uses.
fn spare_interrupt() -> irq::IntId {
    match ilusion::board::NAME {
        "rpi3" => 32 + 10, // a peripheral line QEMU never raises
        _ => 100,          // a GIC shared peripheral interrupt
    }
}

fn register_unregister_under_interrupts() {
    let id = spare_interrupt();
    time::set_periodic(Duration::from_micros(5), tick).expect("a 5 us period");
    let mut errors = 0;
    for _ in 0..20_000 {
        errors += irq::register(id, nothing).is_err() as u32;
        errors += irq::unregister(id).is_err() as u32;
    }
    time::stop_periodic();
    let ticks = TICKS.load(Ordering::Relaxed);
    check(
        errors == 0 && ticks > 100,
        "irq_register_20000_pairs",
        format_args!("{errors} errors, {ticks} timer interrupts during the loop"),
    );
}

fn spawn_from_two_priorities() {
    let stop = Arc::new(AtomicBool::new(false));
    let (low_count, high_count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // All on core 0: the point is the more urgent spawner preempting the
    // less urgent one on its core while it holds the heap's and the stack
    // mapper's spin locks (on separate cores they would only contend).
    let spawner = |priority, period: Option<Duration>, count: &Arc<AtomicU64>| {
        let (stop, count) = (stop.clone(), count.clone());
        Builder::new()
            .priority(priority)
            .cpu(0)
            .spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(p) = period {
                        time::sleep(p);
                    }
                    // Sizes the stack cache does not hold: each spawn maps new stacks.
                    n += 1;
                    let stack = 4096 * (1 + n % 8);
                    Builder::new().stack_size(stack).cpu(0).spawn(|| ()).unwrap().join().unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    };
    let low = spawner(Priority::Preemptive(20), None, &low_count);
    let high = spawner(Priority::Preemptive(1), Some(Duration::from_millis(1)), &high_count);
    let start = Instant::now();
    time::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    low.join().unwrap();
    high.join().unwrap();
    let (l, h) = (low_count.load(Ordering::Relaxed), high_count.load(Ordering::Relaxed));
    check(
        l > 100 && h > 100,
        "spawn_from_two_priorities",
        format_args!("{l} spawns from the less urgent task, {h} from the more urgent one in {:?}", start.elapsed()),
    );
}
