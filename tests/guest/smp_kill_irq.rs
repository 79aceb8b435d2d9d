//! QEMU test, under real parallelism (MTTCG): kills and unparks from an
//! interrupt handler, of tasks on every core.
//!
//! A periodic handler (every [`PERIOD`], on core 0) kills the current
//! round's victims by id, one every third tick, in turn: a victim
//! it interrupted on core 0 (only asked: it ends at its next block or
//! yield, after the handler), one blocked or running on another core, one
//! ending or already freed (a refusal). The victims, pinned to every core
//! or free, lock a mutex, take a semaphore permit, park (main unparks
//! them), sleep or yield, [`STEPS`] times. Each round: every victim ends `Ok(STEPS)` or
//! `Killed`; the mutex's count equals the increments, unpoisoned; the
//! semaphore has its permits back; and after the first round the kernel
//! heap and the frames in use are exactly where they were. [`ROUNDS`]
//! rounds.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use ilusion::mm::heap::HeapStats;
use ilusion::sync::{Mutex, Semaphore};
use ilusion::task::{self, Builder, JoinHandle, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 10;
const VICTIMS: usize = 32;
const STEPS: u64 = 200;
const PERMITS: usize = 2;
const PERIOD: Duration = Duration::from_micros(300);
/// One stack size for every task (the cache of freed stacks holds the same bytes).
const STACK: usize = 8192;

static IDS: [AtomicU64; VICTIMS] = [const { AtomicU64::new(0) }; VICTIMS];
static TICKS: AtomicUsize = AtomicUsize::new(0);
static KILLS: AtomicUsize = AtomicUsize::new(0);
static COUNTER: Mutex<u64> = Mutex::new(0);
static ADDED: AtomicU64 = AtomicU64::new(0);
static PERMIT: Semaphore = Semaphore::new(PERMITS);

/// The periodic handler: kills a victim every third tick, in turn.
fn on_tick() {
    let t = TICKS.fetch_add(1, Ordering::Relaxed);
    // Kill only every third tick: most victims should get some way first.
    if t.is_multiple_of(3) {
        let id = IDS[(t / 3) % VICTIMS].load(Ordering::Relaxed);
        if id != 0 && task::kill(id).is_ok() {
            KILLS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn victim(i: usize) -> u64 {
    for s in 0..STEPS {
        match i % 5 {
            0 => {
                let mut g = COUNTER.lock().expect("counter poisoned");
                *g += 1;
                ADDED.fetch_add(1, Ordering::Relaxed);
            }
            1 => {
                PERMIT.acquire();
                time::busy_wait(Duration::from_micros(5));
                PERMIT.release();
            }
            // Main unparks it as it waits to join it.
            2 if s % 10 == 0 => task::park(),
            3 => time::sleep(Duration::from_micros(s % 50)),
            _ => task::yield_now(),
        }
    }
    STEPS
}

fn usage() -> (HeapStats, usize) {
    (ilusion::mm::heap::stats(), ilusion::mm::frames_in_use())
}

fn main() {
    let cores = require_cores(4);
    let mut baseline = None;
    time::set_periodic(PERIOD, on_tick).expect("periodic handler");
    for n in 0..=ROUNDS {
        let start = Instant::now();
        let kills_before = KILLS.load(Ordering::Relaxed);
        let victims: Vec<JoinHandle<u64>> = (0..VICTIMS)
            .map(|i| {
                let b = Builder::new().stack_size(STACK).priority(Priority::Preemptive(14 + (i % 3) as u8));
                let b = if i % 3 == 0 { b } else { b.cpu((i + n) % cores) };
                let h = b.spawn(move || victim(i)).expect("spawn victim");
                IDS[i].store(h.task().id(), Ordering::Relaxed);
                h
            })
            .collect();
        let mut wrong = 0;
        let mut killed = 0;
        for (i, v) in victims.into_iter().enumerate() {
            // Parked victims need unparking: from here, until they end.
            let mut v = v;
            let r = loop {
                v.unpark();
                match v.join_timeout(Duration::from_millis(1)) {
                    Ok(r) => break r,
                    Err(back) => v = back,
                }
            };
            IDS[i].store(0, Ordering::Relaxed);
            match r {
                Ok(STEPS) => {}
                Err(TaskFailure::Killed) => killed += 1,
                other => {
                    wrong += 1;
                    ilusion::println!("victim {i}: {other:?}");
                }
            }
        }
        let count = COUNTER.lock().map(|g| *g).ok();
        if count != Some(ADDED.load(Ordering::Relaxed)) || PERMIT.available() != PERMITS {
            wrong += 1;
            ilusion::println!(
                "round {n}: count {count:?} (None: poisoned) added {}, permits {}",
                ADDED.load(Ordering::Relaxed),
                PERMIT.available()
            );
        }
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "round {n}: {VICTIMS} victims, {killed} killed ({} kills accepted in the handler): {wrong} wrong, heap and frames at baseline {at_baseline}, {} ms",
            KILLS.load(Ordering::Relaxed) - kills_before,
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && at_baseline;
        check(ok, "kills_from_a_handler", format_args!("round {n}: {wrong} wrong; {baseline:?} -> {now:?}"));
        if !ok {
            break;
        }
    }
    time::stop_periodic();
    finish()
}
