//! QEMU test, under real parallelism (MTTCG): priority inheritance with
//! owners pinned to their cores, urgent waiters on every core that give up
//! (timeouts) or are killed, and middle-priority spinners in between.
//!
//! An owner pinned to each core, at a low priority, takes one or two of
//! [`MUTEXES`] mutexes (in index order) and holds them for a moment, over
//! and over; urgent waiters, some pinned and some free, lock them with
//! short timeouts, and a killer kills some waiters as they go. A spinner on
//! each core, between the two in urgency, keeps the owners' cores busy, so
//! an owner runs only while a waiter lends it its urgency. Each round
//! checks that every count kept under a mutex equals the increments made
//! there, that no mutex is poisoned (nobody holds one across a wait), that
//! every waiter ended `Ok` or (only if a kill was accepted) `Killed`, and
//! that an owner holding nothing always ran at its own priority: a loan
//! never outlives the wait it was made for, whether that wait ended with
//! the mutex, a timeout or a kill. [`ROUNDS`] rounds.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores, rng};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::sync::Mutex;
use ilusion::task::{self, Builder, JoinHandle, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 4;
const MUTEXES: usize = 4;
const WAITERS: usize = 12;
const OWNER: Priority = Priority::Preemptive(20);
const SPINNER: Priority = Priority::Preemptive(12);
const WAITER: Priority = Priority::Preemptive(3);
/// How long each round's owners and waiters run.
const ROUND: Duration = Duration::from_millis(400);

static COUNTS: [Mutex<u64>; MUTEXES] = [const { Mutex::new(0) }; MUTEXES];
static ADDED: [AtomicU64; MUTEXES] = [const { AtomicU64::new(0) }; MUTEXES];
static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SPIN: AtomicBool = AtomicBool::new(false);
static KILLED: [AtomicBool; WAITERS] = [const { AtomicBool::new(false) }; WAITERS];

fn add(m: usize, g: &mut u64) {
    *g += 1;
    ADDED[m].fetch_add(1, Ordering::Relaxed);
}

/// An owner: how many times it found itself above its own priority while
/// holding nothing.
fn owner(c: usize) -> (u64, u64) {
    let me = task::current().id();
    let mut seed = 0x1357 ^ (c as u64 + 1) << 20;
    let (mut rounds, mut raised) = (0, 0);
    while !STOP.load(Ordering::Relaxed) {
        let a = (rng(&mut seed) % MUTEXES as u64) as usize;
        let b = a + 1 + (rng(&mut seed) % MUTEXES as u64) as usize;
        let mut first = COUNTS[a].lock().expect("poisoned");
        add(a, &mut first);
        let second = (b < MUTEXES).then(|| COUNTS[b].lock().expect("poisoned"));
        time::busy_wait(Duration::from_micros(rng(&mut seed) % 100));
        if let Some(mut second) = second {
            add(b, &mut second);
            if rng(&mut seed).is_multiple_of(2) {
                drop(first);
                drop(second);
            } else {
                drop(second);
                drop(first);
            }
        } else {
            drop(first);
        }
        rounds += 1;
        let info = task::stats(me).expect("owner alive");
        if info.running_priority != info.priority {
            raised += 1;
            if raised <= 3 {
                ilusion::println!("owner {c}: runs at {:?}, holding nothing", info.running_priority);
            }
        }
        if rng(&mut seed).is_multiple_of(4) {
            time::sleep(Duration::from_micros(50));
        }
    }
    (rounds, raised)
}

fn waiter(i: usize) -> u64 {
    let mut seed = 0x2468 ^ (i as u64 + 1) << 24;
    let mut got = 0;
    while !STOP.load(Ordering::Relaxed) {
        let m = (rng(&mut seed) % MUTEXES as u64) as usize;
        let wait = Duration::from_micros(rng(&mut seed) % 400);
        if let Ok(mut g) = COUNTS[m].lock_timeout(wait) {
            add(m, &mut g);
            got += 1;
        }
        time::sleep(Duration::from_micros(rng(&mut seed) % 300));
    }
    got
}

fn main() {
    let cores = require_cores(4);
    for n in 1..=ROUNDS {
        let start = Instant::now();
        STOP.store(false, Ordering::Relaxed);
        STOP_SPIN.store(false, Ordering::Relaxed);
        KILLED.iter().for_each(|k| k.store(false, Ordering::Relaxed));
        let spinners: Vec<JoinHandle<()>> = (0..cores)
            .map(|c| {
                Builder::new()
                    .name("spinner")
                    .cpu(c)
                    .priority(SPINNER)
                    .spawn(|| {
                        while !STOP_SPIN.load(Ordering::Relaxed) {
                            time::busy_wait(Duration::from_millis(2));
                            time::sleep(Duration::from_micros(300));
                        }
                    })
                    .unwrap()
            })
            .collect();
        let owners: Vec<JoinHandle<(u64, u64)>> = (0..cores)
            .map(|c| Builder::new().name("owner").cpu(c).priority(OWNER).spawn(move || owner(c)).unwrap())
            .collect();
        let waiters: Vec<JoinHandle<u64>> = (0..WAITERS)
            .map(|i| {
                let b = Builder::new().name("waiter").priority(WAITER);
                let b = if i % 2 == 0 { b } else { b.cpu(i % cores) };
                b.spawn(move || waiter(i)).unwrap()
            })
            .collect();
        // Kill about a third of the waiters as they go.
        let mut seed = 0xace ^ n as u64;
        let deadline = Instant::now() + ROUND;
        while Instant::now() < deadline {
            time::sleep(Duration::from_micros(rng(&mut seed) % 20_000));
            let i = (rng(&mut seed) % WAITERS as u64) as usize;
            if i % 3 == n % 3 && waiters[i].kill().is_ok() {
                KILLED[i].store(true, Ordering::Relaxed);
            }
        }
        STOP.store(true, Ordering::Relaxed);
        let mut wrong = 0;
        let mut killed = 0;
        let mut got = 0;
        for (i, w) in waiters.into_iter().enumerate() {
            match w.join() {
                Ok(k) => got += k,
                Err(TaskFailure::Killed) if KILLED[i].load(Ordering::Relaxed) => killed += 1,
                other => {
                    wrong += 1;
                    ilusion::println!("waiter {i}: {other:?}");
                }
            }
        }
        let (mut rounds, mut raised) = (0, 0);
        for (c, o) in owners.into_iter().enumerate() {
            match o.join() {
                Ok((r, x)) => {
                    rounds += r;
                    raised += x;
                }
                other => {
                    wrong += 1;
                    ilusion::println!("owner {c}: {other:?}");
                }
            }
        }
        STOP_SPIN.store(true, Ordering::Relaxed);
        spinners.into_iter().for_each(|s| s.join().expect("spinner"));
        for m in 0..MUTEXES {
            match COUNTS[m].lock() {
                Ok(g) if *g == ADDED[m].load(Ordering::Relaxed) => {}
                Ok(g) => {
                    wrong += 1;
                    ilusion::println!("mutex {m}: count {} but {} added", *g, ADDED[m].load(Ordering::Relaxed));
                }
                Err(_) => {
                    wrong += 1;
                    ilusion::println!("mutex {m}: poisoned");
                }
            }
        }
        ilusion::println!(
            "round {n}: {rounds} owner rounds, {got} waiter locks, {killed} waiters killed: {wrong} wrong, owners raised while holding nothing {raised}, {} ms",
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && raised == 0;
        check(ok, "loans_end_with_their_waits", format_args!("round {n}: {wrong} wrong, raised {raised}"));
        if !ok {
            break;
        }
    }
    finish()
}
