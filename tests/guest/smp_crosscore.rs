//! QEMU test, under real parallelism (MTTCG): what the other smp tests
//! leave out, each raced from every core at once.
//!
//! 1. Readers against ends: tasks on two cores read `task::list`,
//!    `task::stats(id)` of tasks just spawned, their handles' `stats`, and
//!    `cpu::stats`, while spawners on the other cores spawn short
//!    tasks that end at once, after a yield or a short sleep, and are
//!    joined, joined with a timeout that may expire (then joined later) or
//!    detached (the handle dropped while the task may be ending on another
//!    core). Every id in one list is listed once; every joined task gave
//!    back what it returned; after the warm-up round the kernel heap and the
//!    frames in use are exactly where they were.
//! 2. The periodic timer set and stopped from every core at once
//!    ([`PERIODIC_STEPS`] each): once every core has stopped it, no handler
//!    call starts any more; set from one core, it runs only there.
//! 3. A semaphore of [`PERMITS`] permits, taken with timeouts and given back
//!    from every core: never more holders than permits, every permit back;
//!    and a signalling semaphore (releases on some cores, timed acquires on
//!    others): as many taken as given.
//! 4. Channels (unbounded, bounded and rendezvous) with senders on every
//!    core while the receiver is dropped after a random number of
//!    messages: every sender sees the receiver go, every message is dropped
//!    exactly once (received, given back, or left in the channel).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores, rng};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use ilusion::mm::heap::HeapStats;
use ilusion::sync::mpsc;
use ilusion::sync::Semaphore;
use ilusion::task::{self, Builder, JoinHandle, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// Every task's stack: one size, so that the OS's cache of freed stacks
/// holds the same bytes whichever tasks ended last.
const STACK: usize = 16 * 1024;
const ROUNDS: usize = 2;

fn usage() -> (HeapStats, usize) {
    (ilusion::mm::heap::stats(), ilusion::mm::frames_in_use())
}

fn pinned<T: Send + 'static>(name: &'static str, cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    Builder::new()
        .name(name)
        .cpu(cpu)
        .stack_size(STACK)
        .priority(Priority::Preemptive(16))
        .spawn(f)
        .expect("spawn a pinned task")
}

fn main() {
    let cores = require_cores(4);
    readers_against_ends(cores);
    periodic_from_every_core(cores);
    semaphores(cores);
    channels_lose_their_receiver(cores);
    finish()
}

// ---- 1. Readers against ends ----

const SPAWNS: usize = 150;
static STOP_READING: AtomicBool = AtomicBool::new(false);
static LAST_ID: AtomicU64 = AtomicU64::new(0);
static DUPLICATES: AtomicUsize = AtomicUsize::new(0);
static WRONG: AtomicUsize = AtomicUsize::new(0);

fn reader(cpu: usize) -> u64 {
    let mut seed = 0x9e37_79b9 ^ cpu as u64;
    let mut reads = 0;
    while !STOP_READING.load(Ordering::Relaxed) {
        match rng(&mut seed) % 3 {
            0 => {
                let mut ids: Vec<u64> = task::list().iter().map(|t| t.id).filter(|&id| id != 0).collect();
                let n = ids.len();
                ids.sort_unstable();
                ids.dedup();
                if ids.len() != n {
                    DUPLICATES.fetch_add(1, Ordering::Relaxed);
                }
            }
            1 => {
                let last = LAST_ID.load(Ordering::Relaxed);
                if let Some(info) = task::stats(last.saturating_sub(rng(&mut seed) % 4)) {
                    if info.cpu >= ilusion::percpu::MAX_CPUS {
                        WRONG.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {
                let cpus = ilusion::cpu::stats();
                if cpus.len() != task::cpus_online() {
                    WRONG.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        reads += 1;
    }
    reads
}

fn spawner(cpu: usize, round: u64) -> usize {
    let mut seed = 0x1234_5678 ^ ((round + 1) << 16) ^ cpu as u64;
    let mut wrong = 0;
    let mut later: Vec<(u64, JoinHandle<u64>)> = Vec::new();
    for i in 0..SPAWNS as u64 {
        let kind = rng(&mut seed) % 4;
        let value = (cpu as u64) << 32 | i;
        let handle = Builder::new()
            .name("short")
            .stack_size(STACK)
            .spawn(move || {
                match kind {
                    0 => {}
                    1 => task::yield_now(),
                    _ => time::sleep(Duration::from_micros(kind * 30)),
                }
                value
            })
            .expect("spawn a short task");
        LAST_ID.store(handle.task().id(), Ordering::Relaxed);
        match rng(&mut seed) % 4 {
            0 => drop(handle),
            1 => {
                let _ = handle.stats();
                wrong += (handle.join() != Ok(value)) as usize;
            }
            2 => match handle.join_timeout(Duration::from_micros(rng(&mut seed) % 100)) {
                Ok(result) => wrong += (result != Ok(value)) as usize,
                Err(handle) => later.push((value, handle)),
            },
            _ => later.push((value, handle)),
        }
        if later.len() > 8 {
            for (value, handle) in later.drain(..) {
                wrong += (handle.join() != Ok(value)) as usize;
            }
        }
    }
    for (value, handle) in later {
        wrong += (handle.join() != Ok(value)) as usize;
    }
    wrong
}

/// Waits until only the tasks alive before are (detached ones end on their own).
fn wait_for_tasks(before: usize) -> usize {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let now = task::list().len();
        if now <= before || Instant::now() > until {
            return now;
        }
        time::sleep(Duration::from_millis(1));
    }
}

/// Many tasks alive at once, more than a round has: the stack slots'
/// translation tables a round's peak needs are made before any baseline
/// (they are kept for the next spawns, as the slots are).
fn warm_up() {
    let tasks: Vec<JoinHandle<()>> =
        (0..400).map(|_| Builder::new().stack_size(STACK).spawn(task::park).expect("warm-up")).collect();
    tasks.iter().for_each(|t| t.unpark());
    tasks.into_iter().for_each(|t| t.join().expect("warm-up task"));
}

fn readers_against_ends(cores: usize) {
    warm_up();
    let mut baseline = None;
    for round in 0..=ROUNDS as u64 {
        let start = Instant::now();
        let tasks_before = task::list().len();
        STOP_READING.store(false, Ordering::Relaxed);
        let readers: Vec<_> = (0..2).map(|c| pinned("reader", c, move || reader(c))).collect();
        let spawners: Vec<_> = (2..cores).map(|c| pinned("spawner", c, move || spawner(c, round))).collect();
        let wrong: usize = spawners.into_iter().map(|h| h.join().expect("a spawner failed")).sum();
        STOP_READING.store(true, Ordering::Relaxed);
        let reads: u64 = readers.into_iter().map(|h| h.join().expect("a reader failed")).sum();
        let tasks_after = wait_for_tasks(tasks_before);
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        let (dups, bad) = (DUPLICATES.swap(0, Ordering::Relaxed), WRONG.swap(0, Ordering::Relaxed));
        ilusion::println!(
            "readers round {round}: {} spawns, {reads} reads: {wrong} wrong results, {dups} lists with an id twice, {bad} wrong stats, tasks {tasks_before} -> {tasks_after}, heap and frames at baseline {at_baseline}, {} ms",
            SPAWNS * (cores - 2),
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && dups == 0 && bad == 0 && tasks_after == tasks_before && at_baseline;
        check(ok, "readers_against_ends", format_args!("round {round}: {baseline:?} -> {now:?}"));
        if !ok {
            return;
        }
    }
}

// ---- 2. The periodic timer from every core ----

const PERIODIC_STEPS: usize = 1000;
static CALLS: [AtomicU64; ilusion::percpu::MAX_CPUS] = [const { AtomicU64::new(0) }; ilusion::percpu::MAX_CPUS];
static ALL_STOPPED: AtomicBool = AtomicBool::new(false);
static LATE_CALLS: AtomicU64 = AtomicU64::new(0);
static STOPPED_CORES: AtomicUsize = AtomicUsize::new(0);

fn on_period() {
    if ALL_STOPPED.load(Ordering::SeqCst) {
        LATE_CALLS.fetch_add(1, Ordering::SeqCst);
    }
    CALLS[task::current_cpu()].fetch_add(1, Ordering::Relaxed);
}

fn calls() -> Vec<u64> {
    CALLS.iter().map(|c| c.load(Ordering::SeqCst)).collect()
}

fn periodic_from_every_core(cores: usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..cores)
        .map(|c| {
            pinned("periodic", c, move || {
                let mut seed = 0x5555 ^ c as u64;
                for _ in 0..PERIODIC_STEPS {
                    match rng(&mut seed) % 3 {
                        0 => time::stop_periodic(),
                        _ => time::set_periodic(Duration::from_micros(50 + rng(&mut seed) % 200), on_period)
                            .expect("a period long enough"),
                    }
                    if rng(&mut seed).is_multiple_of(8) {
                        time::busy_wait(Duration::from_micros(rng(&mut seed) % 300));
                    }
                }
                time::stop_periodic();
                STOPPED_CORES.fetch_add(1, Ordering::SeqCst);
                while STOPPED_CORES.load(Ordering::SeqCst) < cores {
                    core::hint::spin_loop();
                }
                ALL_STOPPED.store(true, Ordering::SeqCst);
            })
        })
        .collect();
    tasks.into_iter().for_each(|t| t.join().expect("a periodic task failed"));
    let stopped = calls();
    time::sleep(Duration::from_millis(20));
    let after = calls();
    let late = LATE_CALLS.load(Ordering::SeqCst);
    ilusion::println!(
        "periodic: {PERIODIC_STEPS} sets and stops on each of {cores} cores, calls {stopped:?}, {late} begun after every core stopped it, {} ms",
        start.elapsed().as_millis()
    );
    check(
        stopped == after && late == 0,
        "periodic_stopped_from_every_core",
        format_args!("{stopped:?} -> {after:?}, {late} late"),
    );
    // Set from core 2 (after others set it): runs on core 2 alone.
    ALL_STOPPED.store(false, Ordering::SeqCst);
    for c in [1, 3, 2] {
        pinned("set", c, || time::set_periodic(Duration::from_micros(500), on_period).unwrap()).join().unwrap();
    }
    let before = calls();
    time::sleep(Duration::from_millis(20));
    time::stop_periodic();
    let after = calls();
    let grew: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let only_core_2 = grew.iter().enumerate().all(|(c, &n)| (c == 2) == (n > 0));
    ilusion::println!("periodic set last from core 2: calls per core {grew:?}");
    check(only_core_2, "periodic_runs_where_set_last", format_args!("{grew:?}"));
}

// ---- 3. Semaphores ----

const PERMITS: usize = 3;
const SEM_STEPS: usize = 1500;
static GATE: Semaphore = Semaphore::new(PERMITS);
static HOLDERS: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);
static SIGNAL: Semaphore = Semaphore::new(0);
static TAKEN: AtomicU64 = AtomicU64::new(0);
static GIVEN: AtomicU64 = AtomicU64::new(0);
static GIVERS_DONE: AtomicUsize = AtomicUsize::new(0);

fn semaphores(cores: usize) {
    let start = Instant::now();
    let gate: Vec<_> = (0..2 * cores)
        .map(|k| {
            pinned("gate", k % cores, move || {
                let mut seed = 0x7777 ^ k as u64;
                let mut got = 0;
                for _ in 0..SEM_STEPS {
                    let ok = match rng(&mut seed) % 4 {
                        0 => GATE.try_acquire(),
                        _ => GATE.acquire_timeout(Duration::from_micros(rng(&mut seed) % 40)),
                    };
                    if ok {
                        got += 1;
                        let h = HOLDERS.fetch_add(1, Ordering::SeqCst) + 1;
                        MOST.fetch_max(h, Ordering::SeqCst);
                        if rng(&mut seed).is_multiple_of(4) {
                            task::yield_now();
                        }
                        HOLDERS.fetch_sub(1, Ordering::SeqCst);
                        GATE.release();
                    }
                }
                got
            })
        })
        .collect();
    let got: u64 = gate.into_iter().map(|h| h.join().expect("a gate task failed")).sum();
    let (most, available) = (MOST.load(Ordering::SeqCst), GATE.available());
    ilusion::println!(
        "semaphore: {got} permits taken by {} tasks, at most {most} holders of {PERMITS}, {available} free after, {} ms",
        2 * cores,
        start.elapsed().as_millis()
    );
    check(
        most <= PERMITS && available == PERMITS,
        "semaphore_with_timeouts",
        format_args!("most {most}, free {available}"),
    );

    let start = Instant::now();
    let givers = cores / 2;
    let giving: Vec<_> = (0..givers)
        .map(|k| {
            pinned("giver", k, move || {
                let mut seed = 0x3131 ^ k as u64;
                for _ in 0..SEM_STEPS {
                    SIGNAL.release();
                    GIVEN.fetch_add(1, Ordering::SeqCst);
                    if rng(&mut seed).is_multiple_of(16) {
                        time::sleep(Duration::from_micros(20));
                    }
                }
                GIVERS_DONE.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let taking: Vec<_> = (givers..cores)
        .map(|k| {
            pinned("taker", k, move || {
                let mut seed = 0x4141 ^ k as u64;
                loop {
                    let done = GIVERS_DONE.load(Ordering::SeqCst) == givers;
                    if SIGNAL.acquire_timeout(Duration::from_micros(rng(&mut seed) % 60)) {
                        TAKEN.fetch_add(1, Ordering::SeqCst);
                    } else if done {
                        return;
                    }
                }
            })
        })
        .collect();
    giving.into_iter().chain(taking).for_each(|h| h.join().expect("a signalling task failed"));
    let (given, taken, left) = (GIVEN.load(Ordering::SeqCst), TAKEN.load(Ordering::SeqCst), SIGNAL.available());
    ilusion::println!("signals: {given} given, {taken} taken, {left} left, {} ms", start.elapsed().as_millis());
    check(
        given == taken && left == 0,
        "semaphore_signals_balance",
        format_args!("{given} given, {taken} taken, {left} left"),
    );
}

// ---- 4. Channels that lose their receiver ----

const CHANNEL_ROUNDS: usize = 30;
static MADE: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// A message that counts its drops.
struct Counted(#[allow(dead_code)] u64);
impl Counted {
    fn new(n: u64) -> Self {
        MADE.fetch_add(1, Ordering::SeqCst);
        Self(n)
    }
}
impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

enum AnySender {
    Unbounded(mpsc::Sender<Counted>),
    Bounded(mpsc::SyncSender<Counted>),
}

fn channels_lose_their_receiver(cores: usize) {
    let start = Instant::now();
    let mut wrong = 0;
    let mut received = 0;
    let baseline = usage();
    for round in 0..CHANNEL_ROUNDS as u64 {
        let kind = round % 3;
        let (senders, rx): (Vec<AnySender>, _) = match kind {
            0 => {
                let (tx, rx) = mpsc::channel();
                ((0..2 * cores).map(|_| AnySender::Unbounded(tx.clone())).collect(), rx)
            }
            _ => {
                let (tx, rx) = mpsc::sync_channel(if kind == 1 { 4 } else { 0 });
                ((0..2 * cores).map(|_| AnySender::Bounded(tx.clone())).collect(), rx)
            }
        };
        let tasks: Vec<JoinHandle<bool>> = senders
            .into_iter()
            .enumerate()
            .map(|(k, tx)| {
                pinned("sender", k % cores, move || {
                    let mut seed = 0xfeed ^ (round << 8) ^ k as u64;
                    // Until the receiver goes (then the message comes back).
                    for i in 0..100_000u64 {
                        let message = Counted::new(i);
                        let gone = match &tx {
                            AnySender::Unbounded(tx) => tx.send(message).is_err(),
                            AnySender::Bounded(tx) => match rng(&mut seed) % 3 {
                                0 => matches!(
                                    tx.send_timeout(message, Duration::from_micros(50)),
                                    Err(mpsc::SendTimeoutError::Disconnected(_))
                                ),
                                1 => matches!(tx.try_send(message), Err(mpsc::TrySendError::Disconnected(_))),
                                _ => tx.send(message).is_err(),
                            },
                        };
                        if gone {
                            return true;
                        }
                        if i % 32 == 0 {
                            task::yield_now();
                        }
                    }
                    false
                })
            })
            .collect();
        let receiver = pinned("receiver", (round as usize) % cores, move || {
            let mut seed = 0xabba ^ round;
            let take = 1 + rng(&mut seed) % 200;
            let mut n = 0;
            while n < take {
                match rx.recv_timeout(Duration::from_micros(200)) {
                    Ok(_) => n += 1,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            drop(rx);
            n
        });
        received += receiver.join().expect("the receiver failed");
        for t in tasks {
            match t.join() {
                Ok(true) => {}
                other => {
                    wrong += 1;
                    ilusion::println!("round {round}: a sender ended {other:?} (expected to see the receiver go)");
                }
            }
        }
    }
    let (made, dropped) = (MADE.load(Ordering::SeqCst), DROPPED.load(Ordering::SeqCst));
    let now = usage();
    ilusion::println!(
        "channels: {CHANNEL_ROUNDS} receivers dropped under {} senders each, {received} received, {made} made, {dropped} dropped, {wrong} wrong, heap requested {} -> {}, {} ms",
        2 * cores,
        baseline.0.requested,
        now.0.requested,
        start.elapsed().as_millis()
    );
    check(
        wrong == 0 && made == dropped,
        "channels_lose_their_receiver",
        format_args!("{made} messages made, {dropped} dropped, {wrong} senders wrong"),
    );
}
