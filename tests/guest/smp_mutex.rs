//! QEMU test, under real parallelism (MTTCG, issue 12): `sync::Mutex` excludes.
//!
//! Four tasks, one pinned to each core in turn, each add 1 to a shared
//! counter [`INCREMENTS`] times, under the mutex, by a plain read and a separate
//! write (so an increment lost to a race would show in the total), while
//! an atomic notes how many are inside at once (never more than one).
//! Each round must end with 4 x [`INCREMENTS`] and nobody ever found another inside;
//! [`ROUNDS`] rounds in a row.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::sync::Mutex;
use ilusion::task::{self, Builder};
use ilusion::time::Instant;

ilusion::entry!(main);

const TASKS: usize = 4;
/// As issue 12 asks. The four contend all the time; with adaptive spinning in
/// `Mutex::lock` a waiter rarely blocks, and ten rounds took 3 to 25 s
/// under MTTCG on a busy 2-processor host (about 90 s for a tenth of the
/// increments when every contended lock blocked).
const INCREMENTS: u64 = 100_000;
const ROUNDS: usize = 10;

/// How many tasks are inside the critical section, and how often one found another there.
static INSIDE: AtomicU64 = AtomicU64::new(0);
static OVERLAPS: AtomicU64 = AtomicU64::new(0);

fn main() {
    let cores = require_cores(TASKS);
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let counter = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..TASKS)
            .map(|t| {
                let counter = counter.clone();
                Builder::new().name("adder").cpu(t % cores).spawn(move || add(&counter)).expect("spawn adder")
            })
            .collect();
        let used = handles.into_iter().map(|h| h.join().expect("adder")).fold(0, |all, c| all | c);
        let total = *counter.lock().unwrap();
        let overlaps = OVERLAPS.swap(0, Ordering::SeqCst);
        ilusion::println!(
            "round {round}: {TASKS} tasks x {INCREMENTS} increments on cores {used:#b}: total {total}, overlaps {overlaps}, {} ms",
            start.elapsed().as_millis()
        );
        let ok = total == TASKS as u64 * INCREMENTS && overlaps == 0;
        check(ok, "mutex_excludes", format_args!("round {round}: total {total}, overlaps {overlaps}"));
        if !ok {
            break;
        }
    }
    finish()
}

/// [`INCREMENTS`] increments under the lock; returns the cores it ran on.
fn add(counter: &Mutex<u64>) -> u64 {
    let mut cores = 0;
    for _ in 0..INCREMENTS {
        let mut value = counter.lock().unwrap();
        if INSIDE.fetch_add(1, Ordering::SeqCst) != 0 {
            OVERLAPS.fetch_add(1, Ordering::SeqCst);
        }
        let read = core::hint::black_box(*value);
        *value = read + 1;
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        drop(value);
        cores |= 1 << task::current_cpu();
    }
    cores
}
