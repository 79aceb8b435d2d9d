//! QEMU test, under real parallelism (MTTCG): kills from every core at
//! once, racing with what the victims wait for and with their end.
//!
//! Each round spawns [`VICTIMS`] tasks, some pinned to a core, some free,
//! at three priorities; each does one kind of thing [`STEPS`] times: lock
//! a mutex, take a semaphore permit, park, sleep, receive, send, or return
//! at once. A killer pinned to each core kills victims at random moments
//! (through shared `JoinHandle`s: several cores kill the same task), an
//! unparker on each core unparks them, and main, once every victim has
//! ended, joins them all. Every kill comes when the victim runs on
//! another core, is blocked in one of those waits, has just been handed
//! what it waited for, or is ending.
//!
//! What must hold after each of [`ROUNDS`] rounds: every victim ended with
//! `Ok(STEPS)` or `Err(Killed)`, and `Killed` only if some kill was
//! accepted; the mutex's count equals the increments the victims made and
//! it is not poisoned (nobody holds it across a wait); the semaphore has
//! its permits back and never had more holders than permits; every
//! message a sender saw accepted was received exactly once; and after the
//! warm-up round, the kernel heap and the frames in use are exactly where
//! they were (the victims capture nothing but `'static` references, so a
//! killed one leaks nothing of its own).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores, rng, Contention};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use ilusion::mm::heap::HeapStats;
use ilusion::sync::mpsc::{self, Receiver, SyncSender};
use ilusion::sync::{Mutex, Semaphore};
use ilusion::task::{self, Builder, JoinHandle, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const VICTIMS: usize = 48;
const STEPS: u64 = 60;
const ROUNDS: usize = 8;
const PERMITS: usize = 2;
const CHANNELS: usize = 4;
const KINDS: usize = 7;
/// Every task's stack: one size, so that the OS's cache of freed stacks
/// holds the same bytes whichever tasks ended last.
const STACK: usize = 8192;

static COUNTER: Mutex<u64> = Mutex::new(0);
static ADDED: AtomicU64 = AtomicU64::new(0);
static PERMIT: Semaphore = Semaphore::new(PERMITS);
static HOLDERS: AtomicUsize = AtomicUsize::new(0);
static MOST_HOLDERS: AtomicUsize = AtomicUsize::new(0);
static SENT: AtomicU64 = AtomicU64::new(0);
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// Per victim: did some kill of it return `Ok`?
static KILLED: [AtomicBool; VICTIMS] = [const { AtomicBool::new(false) }; VICTIMS];

/// A receiver one victim at a time uses (this test's promise), shared
/// through a `'static` reference so that a killed victim leaks nothing.
struct OneUser(Receiver<u64>);
// SAFETY: each round gives each channel to at most one receiving victim,
// and main drains it only once that victim has ended.
unsafe impl Sync for OneUser {}

struct Channels {
    tx: Vec<SyncSender<u64>>,
    rx: Vec<OneUser>,
}

fn usage() -> (HeapStats, usize) {
    (ilusion::mm::heap::stats(), ilusion::mm::frames_in_use())
}

fn main() {
    let cores = require_cores(4);
    let (tx, rx): (Vec<_>, Vec<_>) = (0..CHANNELS).map(|_| mpsc::sync_channel(4)).unzip();
    let channels: &'static Channels =
        alloc::boxed::Box::leak(alloc::boxed::Box::new(Channels { tx, rx: rx.into_iter().map(OneUser).collect() }));
    warm_up();
    // Each queue at its full size once (it keeps its room), before any baseline.
    for (tx, rx) in channels.tx.iter().zip(&channels.rx) {
        (0..4).for_each(|k| tx.send(k).expect("warm-up send"));
        (0..4).for_each(|_| assert!(rx.0.recv().is_ok()));
    }
    let mut baseline = None;
    for n in 0..=ROUNDS {
        let start = Instant::now();
        let before = Contention::now();
        let (wrong, killed) = round(n as u64, cores, channels);
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "round {n}: {VICTIMS} victims, {killed} killed: {wrong} wrong, heap and frames at baseline {at_baseline}, {} ms ({})",
            start.elapsed().as_millis(),
            Contention::now().since(before)
        );
        let ok = wrong == 0 && at_baseline;
        check(ok, "kills_race_cleanly", format_args!("round {n}: {wrong} wrong; {baseline:?} -> {now:?}"));
        if !ok {
            break;
        }
    }
    detach_races(cores);
    finish()
}

/// Tasks of the detach rounds, per round.
const DETACHED: usize = 400;
static STARTED: [AtomicBool; DETACHED] = [const { AtomicBool::new(false) }; DETACHED];
static RETURNED: [AtomicBool; DETACHED] = [const { AtomicBool::new(false) }; DETACHED];
static DROPS: [AtomicUsize; DETACHED] = [const { AtomicUsize::new(0) }; DETACHED];
/// The ids of the tasks spawned so far this round, for the killers.
static IDS: [AtomicU64; DETACHED] = [const { AtomicU64::new(0) }; DETACHED];
static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops: made by a spawner, moved into a task's closure, and
/// from there into its result.
struct Token(usize);
impl Drop for Token {
    fn drop(&mut self) {
        DROPS[self.0].fetch_add(1, Ordering::Relaxed);
    }
}

/// Phase 2: a task's end races with its handle being dropped (detach) or
/// joined on another core, and with kills by id from every core (of tasks
/// that may have ended and been freed meanwhile). Each task's closure owns
/// a `Token`, which it returns: it must be dropped exactly once (by the
/// joiner, by the task's own end if detached, by the handle's drop if the
/// task had ended, or unrun if the task was killed before it started),
/// except when the task was killed at its one yield (then it is on the
/// task's stack, leaked with it by design: no heap memory). Afterwards no
/// task of the round is left and the heap and frames are at baseline.
fn detach_races(cores: usize) {
    let mut baseline = None;
    for n in 0..=ROUNDS {
        STOP.store(false, Ordering::Relaxed);
        SPAWNED.store(0, Ordering::Relaxed);
        for i in 0..DETACHED {
            STARTED[i].store(false, Ordering::Relaxed);
            RETURNED[i].store(false, Ordering::Relaxed);
            DROPS[i].store(0, Ordering::Relaxed);
            IDS[i].store(0, Ordering::Relaxed);
        }
        let tasks_before = task::list().len();
        let start = Instant::now();
        let killers: Vec<JoinHandle<usize>> = (0..cores)
            .map(|c| {
                Builder::new()
                    .name("id killer")
                    .stack_size(STACK)
                    .cpu(c)
                    // Less urgent than main (15): it spins until main says stop.
                    .priority(Priority::Preemptive(16))
                    .spawn(move || {
                        let mut seed = 0xabcd ^ ((n as u64 + 1) << 8) ^ c as u64;
                        let mut kills = 0;
                        while !STOP.load(Ordering::Relaxed) {
                            let spawned = SPAWNED.load(Ordering::Acquire);
                            if spawned == 0 {
                                core::hint::spin_loop();
                                continue;
                            }
                            // Mostly the newest ones: they are starting or ending now.
                            let back = (rng(&mut seed) % 4) as usize;
                            let i = spawned.saturating_sub(1 + back);
                            let id = IDS[i].load(Ordering::Relaxed);
                            if id != 0 && task::kill(id).is_ok() {
                                kills += 1;
                            }
                            if rng(&mut seed).is_multiple_of(64) {
                                time::sleep(Duration::from_micros(20));
                            }
                        }
                        kills
                    })
                    .expect("spawn id killer")
            })
            .collect();
        let spawners: Vec<JoinHandle<usize>> = (0..cores)
            .map(|c| {
                Builder::new()
                    .name("spawner")
                    .stack_size(STACK)
                    .cpu(c)
                    .priority(Priority::Preemptive(12))
                    .spawn(move || {
                        let mut wrong = 0;
                        for i in (c..DETACHED).step_by(cores) {
                            let token = Token(i);
                            let b = Builder::new().stack_size(STACK).priority(Priority::Preemptive(11 + (i % 3) as u8));
                            let b = if i % 2 == 0 { b } else { b.cpu((c + 1 + i / cores) % cores) };
                            let h = b
                                .spawn(move || {
                                    STARTED[token.0].store(true, Ordering::Relaxed);
                                    task::yield_now();
                                    RETURNED[token.0].store(true, Ordering::Relaxed);
                                    token
                                })
                                .expect("spawn");
                            IDS[i].store(h.task().id(), Ordering::Relaxed);
                            SPAWNED.fetch_max(i + 1, Ordering::Release);
                            match i % 4 {
                                0 | 1 => drop(h), // detached as it starts, runs or ends
                                2 => {
                                    let _ = h.kill();
                                    drop(h);
                                }
                                _ => match h.join() {
                                    Ok(Token(k)) if k == i => {}
                                    Err(TaskFailure::Killed) => {}
                                    other => {
                                        wrong += 1;
                                        ilusion::println!("task {i}: {:?}", other.map(|t| t.0));
                                    }
                                },
                            }
                        }
                        wrong
                    })
                    .expect("spawn spawner")
            })
            .collect();
        let mut wrong: usize = spawners.into_iter().map(|s| s.join().expect("spawner")).sum();
        // The detached ones end on their own.
        while task::list().len() > tasks_before + cores {
            if start.elapsed() > Duration::from_secs(20) {
                ilusion::println!("detach round {n}: {} tasks left", task::list().len() - tasks_before - cores);
                wrong += 1;
                break;
            }
            time::sleep(Duration::from_millis(1));
        }
        STOP.store(true, Ordering::Relaxed);
        let kills: usize = killers.into_iter().map(|k| k.join().expect("killer")).sum();
        for i in 0..DETACHED {
            let (started, returned) = (STARTED[i].load(Ordering::Relaxed), RETURNED[i].load(Ordering::Relaxed));
            let expected = if started && !returned { 0 } else { 1 };
            let drops = DROPS[i].load(Ordering::Relaxed);
            if drops != expected {
                wrong += 1;
                ilusion::println!("task {i}: token dropped {drops} times (started {started}, returned {returned})");
            }
        }
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "detach round {n}: {DETACHED} tasks, {kills} kills accepted: {wrong} wrong, heap and frames at baseline {at_baseline}, {} ms",
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && at_baseline;
        check(ok, "detach_join_kill_race", format_args!("round {n}: {wrong} wrong; {baseline:?} -> {now:?}"));
        if !ok {
            break;
        }
    }
}

/// More tasks alive at once than any round has: the stack slots (and the
/// translation tables behind them) a round can use are made once, here,
/// before any baseline (they are kept for reuse, not leaked).
fn warm_up() {
    let tasks: Vec<JoinHandle<()>> =
        (0..DETACHED + 100).map(|_| Builder::new().stack_size(STACK).spawn(task::park).expect("warm-up")).collect();
    tasks.iter().for_each(|t| t.unpark());
    tasks.into_iter().for_each(|t| t.join().expect("warm-up task"));
}

fn victim(i: usize, channels: &'static Channels) -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) * 0x1234_5678);
    for _ in 0..STEPS {
        match i % KINDS {
            0 => {
                let mut g = COUNTER.lock().expect("counter poisoned");
                *g += 1;
                ADDED.fetch_add(1, Ordering::Relaxed);
                drop(g);
                if rng(&mut seed).is_multiple_of(4) {
                    task::yield_now();
                }
            }
            1 => {
                PERMIT.acquire();
                let holders = HOLDERS.fetch_add(1, Ordering::Relaxed) + 1;
                MOST_HOLDERS.fetch_max(holders, Ordering::Relaxed);
                time::busy_wait(Duration::from_micros(rng(&mut seed) % 20));
                HOLDERS.fetch_sub(1, Ordering::Relaxed);
                PERMIT.release();
            }
            2 => task::park(),
            3 => time::sleep(Duration::from_micros(rng(&mut seed) % 200)),
            4 => {
                if channels.rx[i % CHANNELS].0.recv_timeout(Duration::from_micros(500)).is_ok() {
                    RECEIVED.fetch_add(1, Ordering::Relaxed);
                }
            }
            5 => {
                if channels.tx[i % CHANNELS].send_timeout(i as u64, Duration::from_micros(500)).is_ok() {
                    SENT.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => return STEPS,
        }
    }
    STEPS
}

/// One round; how many victims ended wrongly, and how many were killed.
fn round(n: u64, cores: usize, channels: &'static Channels) -> (usize, usize) {
    STOP.store(false, Ordering::Relaxed);
    KILLED.iter().for_each(|k| k.store(false, Ordering::Relaxed));
    // Receivers: at most one victim per channel each round (`OneUser`).
    let handles: Vec<JoinHandle<u64>> = (0..VICTIMS)
        .map(|i| {
            let b = Builder::new().name("victim").stack_size(STACK).priority(Priority::Preemptive(10 + (i % 3) as u8));
            let b = if i % 3 == 0 { b } else { b.cpu((i + n as usize) % cores) };
            b.spawn(move || victim(i, channels)).expect("spawn victim")
        })
        .collect();
    let handles = Arc::new(handles);
    let helpers: Vec<JoinHandle<()>> = (0..cores)
        .flat_map(|c| {
            let (h1, h2) = (handles.clone(), handles.clone());
            let killer = Builder::new()
                .name("killer")
                .stack_size(STACK)
                .cpu(c)
                .priority(Priority::Preemptive(9 + (c % 3) as u8))
                .spawn(move || {
                    let mut seed = 0xdead_beef ^ ((n + 1) << 8) ^ c as u64;
                    while !STOP.load(Ordering::Relaxed) {
                        let i = (rng(&mut seed) % VICTIMS as u64) as usize;
                        // About half the victims are ever killed.
                        if i % 2 == (n as usize + c) % 2 && h1[i].kill().is_ok() {
                            KILLED[i].store(true, Ordering::Relaxed);
                        }
                        time::busy_wait(Duration::from_micros(rng(&mut seed) % 300));
                        if rng(&mut seed).is_multiple_of(8) {
                            time::sleep(Duration::from_micros(100));
                        }
                    }
                })
                .expect("spawn killer");
            let unparker = Builder::new()
                .name("unparker")
                .stack_size(STACK)
                .cpu(c)
                .priority(Priority::Preemptive(11))
                .spawn(move || {
                    let mut seed = 0xfeed ^ ((n + 1) << 8) ^ c as u64;
                    while !STOP.load(Ordering::Relaxed) {
                        h2[(rng(&mut seed) % VICTIMS as u64) as usize].unpark();
                        if rng(&mut seed).is_multiple_of(16) {
                            time::sleep(Duration::from_micros(50));
                        }
                    }
                })
                .expect("spawn unparker");
            [killer, unparker]
        })
        .collect();
    let start = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        if start.elapsed() > Duration::from_secs(30) {
            for h in handles.iter().filter(|h| !h.is_finished()) {
                ilusion::println!("stuck: {} {:?}", h.task(), h.stats().state);
            }
            check(false, "victims_end", format_args!("round {n}: victims still running after 30 s"));
            finish();
        }
        time::sleep(Duration::from_millis(1));
    }
    STOP.store(true, Ordering::Relaxed);
    helpers.into_iter().for_each(|h| h.join().expect("helper"));
    let handles = Arc::try_unwrap(handles).unwrap_or_else(|_| panic!("handles still shared"));
    let mut wrong = 0;
    let mut killed = 0;
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.join();
        let ok = match r {
            Ok(STEPS) => true,
            Err(TaskFailure::Killed) => {
                killed += 1;
                KILLED[i].load(Ordering::Relaxed)
            }
            _ => false,
        };
        if !ok {
            wrong += 1;
            ilusion::println!("victim {i} (kind {}): {r:?}", i % KINDS);
        }
    }
    // Whatever is left in the channels counts as received.
    for rx in &channels.rx {
        while rx.0.try_recv().is_ok() {
            RECEIVED.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (count, poisoned) = match COUNTER.lock() {
        Ok(g) => (*g, false),
        Err(e) => (*e.into_inner(), true),
    };
    let checks = [
        (count == ADDED.load(Ordering::Relaxed) && !poisoned, "mutex count"),
        (PERMIT.available() == PERMITS && HOLDERS.load(Ordering::Relaxed) == 0, "semaphore permits back"),
        (MOST_HOLDERS.load(Ordering::Relaxed) <= PERMITS, "at most PERMITS holders"),
        (SENT.load(Ordering::Relaxed) == RECEIVED.load(Ordering::Relaxed), "every message sent received once"),
    ];
    for (ok, what) in checks {
        if !ok {
            wrong += 1;
            ilusion::println!(
                "round {n}: {what} wrong: count {count} added {} poisoned {poisoned}; permits {} holders {} most {}; sent {} received {}",
                ADDED.load(Ordering::Relaxed),
                PERMIT.available(),
                HOLDERS.load(Ordering::Relaxed),
                MOST_HOLDERS.load(Ordering::Relaxed),
                SENT.load(Ordering::Relaxed),
                RECEIVED.load(Ordering::Relaxed)
            );
        }
    }
    (wrong, killed)
}
