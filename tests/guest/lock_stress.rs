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
//! - Two spin locks of the same name, one taken inside the other on one
//!   core while another core takes the inner one: a lock found held by
//!   another core is no lock taken again, whatever its name.
//! - One spin lock taken by a 5 µs periodic handler and by tasks free to
//!   move between cores (they yield between two acquisitions): every count
//!   made under it is kept, and no acquisition is taken for a second one.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::critical::SpinLock;
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
    same_name_locks_on_two_cores();
    one_lock_for_a_handler_and_moving_tasks();
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

/// Two locks named alike, as the locks of a table's entries are: core 0
/// takes `inner` while it holds `outer`, core 1 takes `inner` alone (one
/// order, no deadlock). The lock checks once took a lock found held while
/// one of the same name was held on this core for the same lock taken
/// again, and stopped the machine.
fn same_name_locks_on_two_cores() {
    static OUTER: SpinLock<u64> = SpinLock::new("account", 0);
    static INNER: SpinLock<u64> = SpinLock::new("account", 0);
    static DONE: AtomicBool = AtomicBool::new(false);
    static STARTED: AtomicBool = AtomicBool::new(false);
    const ROUNDS: u64 = 5_000;
    if ilusion::task::cpus_online() < 2 {
        check(true, "same_name_locks_on_two_cores", format_args!("one core"));
        return;
    }
    // Core 1 holds `inner` a while each time, so that core 0 finds it held,
    // and then leaves it free a while, so that core 0 gets it. Under icount
    // one core runs at a time, in turns, and a `spin_hint` (YIELD) passes
    // the turn: a holder that yielded only while holding the lock and took
    // it again at once would never let core 0 see it free (with eight
    // cores the case hung so).
    let other = Builder::new()
        .cpu(1)
        .spawn(|| {
            let mut n = 0u64;
            while !DONE.load(Ordering::Relaxed) {
                let mut inner = INNER.lock();
                for _ in 0..50 {
                    ilusion::internals::spin_hint();
                }
                *inner += 1;
                n += 1;
                drop(inner);
                STARTED.store(true, Ordering::Release);
                for _ in 0..50 {
                    ilusion::internals::spin_hint();
                }
            }
            n
        })
        .unwrap();
    let nested = Builder::new()
        .cpu(0)
        .spawn(|| {
            // Not before core 1 takes turns with the lock (its task may start later).
            while !STARTED.load(Ordering::Acquire) {
                ilusion::internals::spin_hint();
            }
            for _ in 0..ROUNDS {
                let mut outer = OUTER.lock();
                *INNER.lock() += 1;
                *outer += 1;
            }
            DONE.store(true, Ordering::Relaxed);
        })
        .unwrap();
    nested.join().unwrap();
    let alone = other.join().unwrap();
    let (outer, inner) = (*OUTER.lock(), *INNER.lock());
    check(
        outer == ROUNDS && inner == ROUNDS + alone && alone > 0,
        "same_name_locks_on_two_cores",
        format_args!("outer counted {outer}, inner {inner} (expected {ROUNDS} and {ROUNDS} + {alone})"),
    );
}

/// A lock a periodic handler takes, and tasks that may run on any core and
/// change core between two acquisitions (they yield; how many times they
/// did is printed only): each acquisition finds it free or held by another
/// core, never by itself.
fn one_lock_for_a_handler_and_moving_tasks() {
    static SHARED: SpinLock<(u64, u64)> = SpinLock::new("handler and tasks", (0, 0));
    const TASKS: u64 = 6;
    const ROUNDS: u64 = 3_000;
    fn tick_under_lock() {
        SHARED.lock().1 += 1;
    }
    time::set_periodic(Duration::from_micros(5), tick_under_lock).expect("a 5 us period");
    let moved = Arc::new(AtomicU64::new(0));
    let tasks: alloc::vec::Vec<_> = (0..TASKS)
        .map(|_| {
            let moved = moved.clone();
            Builder::new()
                .spawn(move || {
                    let mut core = ilusion::task::current_cpu();
                    for _ in 0..ROUNDS {
                        SHARED.lock().0 += 1;
                        ilusion::task::yield_now();
                        let now = ilusion::task::current_cpu();
                        moved.fetch_add((now != core) as u64, Ordering::Relaxed);
                        core = now;
                    }
                })
                .unwrap()
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    time::stop_periodic();
    let (counted, ticks) = *SHARED.lock();
    let moved = moved.load(Ordering::Relaxed);
    check(
        counted == TASKS * ROUNDS && ticks > 0,
        "one_lock_for_a_handler_and_moving_tasks",
        format_args!("{counted} counts of {}, {ticks} from the handler, {moved} moves between cores", TASKS * ROUNDS),
    );
}
