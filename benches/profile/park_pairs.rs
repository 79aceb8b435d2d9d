//! The profiling image of a park/unpark pair, Thread-Metric preemptive's
//! operation: a task unparks a more urgent one ([`PAIRS`] times), which
//! runs at once, counts and parks again. Both on core 0, so that every
//! unpark finds the task parked on any board (a Pi's machine has four
//! cores). The waker is less urgent than `main` (`Priority::DEFAULT`,
//! level 15), so it starts only once `main` waits for it: `main` is on no
//! ready queue while the pairs run (on several cores, a ready `main` in
//! the shared queue would be offered to the idle cores on every switch).
//!
//! Not a benchmark (`just bench` does not run it): `benches/profile-pairs`
//! builds it twice, with 1,000 and 2,000 pairs, runs both under QEMU's
//! execution log and prints what one pair costs, per function
//! (BENCHMARKS.md, "Session 31"). Built as an application gets it
//! (`*_unchecked`: without the test images' lock checks).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::task::{self, Builder, Priority};

ilusion::entry!(main);

/// How many pairs: `PAIRS` in the build's environment (the script sets
/// it), else 1,000.
const PAIRS: u64 = match option_env!("PAIRS") {
    Some(text) => parse(text),
    None => 1_000,
};

/// Counted by both tasks, as Thread-Metric's threads count.
static COUNT: AtomicU64 = AtomicU64::new(0);

fn main() {
    let urgent = Builder::new()
        .priority(Priority::Preemptive(9))
        .cpu(0)
        .spawn(|| loop {
            task::park();
            COUNT.fetch_add(1, Ordering::Relaxed);
        })
        .expect("spawn the urgent task");
    let urgent = Arc::new(urgent);
    let waker = Builder::new()
        .priority(Priority::Preemptive(20))
        .cpu(0)
        .spawn(move || {
            for _ in 0..PAIRS {
                urgent.unpark();
                COUNT.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("spawn the waker");
    waker.join().expect("the waker ran");
    ilusion::println!("park_pairs: {} pairs, count {}", PAIRS, COUNT.load(Ordering::Relaxed));
    ilusion::power::exit(0);
}

/// `PAIRS` as a number, at build time (a typo fails the build).
const fn parse(text: &str) -> u64 {
    let (bytes, mut i, mut n) = (text.as_bytes(), 0, 0u64);
    assert!(!bytes.is_empty(), "PAIRS is empty");
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "PAIRS is not a number");
        n = n * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    n
}
