//! QEMU test (under icount): a task preempted by a more urgent one keeps
//! only what was left of its time slice, so equal tasks still alternate
//! however often something more urgent wakes.
//!
//! - Two equal spinners with nothing else armed on the timer (no sleeper,
//!   no periodic handler: the comparator is off) still take turns: the
//!   first one's slice must program it (it is programmed lazily, see
//!   src/sched/timer.rs `start_slice`).
//! - Two equal spinners next to an urgent ticker (every 1, 5 and 9 ms) each
//!   get 50 % ± 10 % of what the ticker leaves them.
//! - `main` sleeping 5 ms next to an equal busy task (kernel or isolated)
//!   and a 1 ms ticker is late by at most one slice (10 ms), not until the
//!   busy task is done.
//!
//! Every task runs on one core ([`CORE`]): on several, the equal tasks
//! would each take a core of their own and never need their slices.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{Builder, JoinHandle, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const SPINNER: Priority = Priority::Preemptive(20);
const TICKER: Priority = Priority::Preemptive(2);

/// The core every task of this test runs on: on several cores, equal
/// tasks left to themselves each take a core and need no slices.
const CORE: usize = 0;

fn main() {
    common::on_core(CORE, run);
    finish();
}

fn run() {
    equal_spinners_alone_take_turns();
    for period_ms in [1, 5, 9] {
        equal_spinners_share(period_ms);
    }
    main_sleep_next_to_busy_kernel_task();
    main_sleep_next_to_busy_isolated_task();
}

/// Two equal spinners, each spinning until both have counted to 1000 (or
/// to a bound of about 100 ms of instructions, so that a failure ends).
/// Nothing else has a deadline: only their slices can make them alternate.
fn equal_spinners_alone_take_turns() {
    const BOUND: u64 = 20_000_000;
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let spinners = [0, 1].map(|me| {
        let counts = counts.clone();
        Builder::new()
            .cpu(CORE)
            .name("spinner")
            .priority(SPINNER)
            .spawn(move || {
                let (mine, other) = (&counts[me], &counts[1 - me]);
                let both_counted = || mine.load(Ordering::Relaxed).min(other.load(Ordering::Relaxed)) >= 1000;
                while !both_counted() && mine.load(Ordering::Relaxed) < BOUND {
                    mine.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    });
    for s in spinners {
        s.join().unwrap();
    }
    let [a, b] = [0, 1].map(|i| counts[i].load(Ordering::Relaxed));
    check(
        a < BOUND && b < BOUND,
        "equal_spinners_alone_take_turns",
        format_args!("spinner counts {a} and {b} (the bound, {BOUND}: one never let the other run)"),
    );
}

/// A task at `TICKER` priority that sleeps `period` in a loop until `stop`.
fn ticker(period: Duration, stop: &Arc<AtomicBool>) -> JoinHandle<u64> {
    let stop = stop.clone();
    Builder::new()
        .cpu(CORE)
        .name("ticker")
        .priority(TICKER)
        .spawn(move || {
            let mut ticks = 0;
            while !stop.load(Ordering::Relaxed) {
                time::sleep(period);
                ticks += 1;
            }
            ticks
        })
        .unwrap()
}

fn spinner(priority: Priority, count: &Arc<AtomicU64>, stop: &Arc<AtomicBool>) -> JoinHandle<()> {
    let (count, stop) = (count.clone(), stop.clone());
    Builder::new()
        .cpu(CORE)
        .name("spinner")
        .priority(priority)
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap()
}

fn equal_spinners_share(period_ms: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let ticker = ticker(Duration::from_millis(period_ms), &stop);
    let spinners = [spinner(SPINNER, &counts[0], &stop), spinner(SPINNER, &counts[1], &stop)];
    time::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    let ticks = ticker.join().unwrap();
    let [a, b] = [counts[0].load(Ordering::Relaxed), counts[1].load(Ordering::Relaxed)];
    let share = a * 100 / (a + b).max(1);
    check(
        (40..=60).contains(&share) && ticks > 0,
        &alloc::format!("equal_share_with_{period_ms}ms_ticker"),
        format_args!("spinner shares {a} and {b} ({share} %), ticker woke {ticks} times"),
    );
}

/// The worst of five 5 ms sleeps of `main`, in microseconds.
fn worst_sleep_micros() -> u64 {
    let mut worst = 0;
    for _ in 0..5 {
        let start = Instant::now();
        time::sleep(Duration::from_millis(5));
        worst = worst.max(common::micros(start.elapsed_ticks()));
    }
    worst
}

fn main_sleep_next_to_busy_kernel_task() {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let ticker = ticker(Duration::from_millis(1), &stop);
    let busy = spinner(Priority::DEFAULT, &count, &stop);
    let worst = worst_sleep_micros();
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    ticker.join().unwrap();
    check(
        worst <= 17_000,
        "sleep_next_to_equal_busy_task",
        format_args!("a 5 ms sleep took up to {worst} us (at most 5 ms + one 10 ms slice + 2 ms)"),
    );
}

fn main_sleep_next_to_busy_isolated_task() {
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = ticker(Duration::from_millis(1), &stop);
    // About 200 ms of instructions: far longer than the sleeps measured.
    let busy = Builder::new()
        .cpu(CORE)
        .name("isolated spinner")
        .spawn_isolated(|| {
            let mut x = 0u64;
            for i in 0..50_000_000u64 {
                x = core::hint::black_box(x.wrapping_add(i));
            }
        })
        .unwrap();
    let worst = worst_sleep_micros();
    busy.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    check(
        worst <= 17_000,
        "sleep_next_to_equal_busy_isolated_task",
        format_args!("a 5 ms sleep took up to {worst} us (at most 5 ms + one 10 ms slice + 2 ms)"),
    );
}
