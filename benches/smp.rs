//! Instruction counts of what several cores add (issue 12), on a 4-core
//! boot (`benches/run` boots `bench_smp` and `bench_smp_*` images with
//! `-smp 4`), printed as
//! `bench NAME VALUE` lines:
//!
//! - the locks themselves while every core is online: a `SpinLock` lock +
//!   unlock, a critical section (interrupts masked and the kernel lock
//!   taken; on a 1-core boot only masked: `benches/tasks.rs` has both
//!   figures there), `Mutex`, `Semaphore` and a heap block without
//!   contention;
//! - a cross-core wake: a task on core 0 gives a semaphore an urgent task
//!   pinned to idle core 1 waits on; from `release` to the taker running;
//! - IPI preemption: the same, but core 2 is busy with a less urgent
//!   spinning task, which the woken task must preempt (a reschedule IPI);
//! - lock spinning: four tasks, one per core, lock a shared `Mutex`,
//!   allocate and free a heap block and pass messages round a ring of
//!   channels; the spin iterations all cores spent waiting for a lock
//!   (the kernel lock, the heap's, every `SpinLock`), per 1,000 operations,
//!   and the instructions all cores executed per operation.
//!
//! Under QEMU's instruction counting the cores run one after another on
//! one host thread, each until it waits (`wfi`, a `yield` in a spin loop)
//! or a timer is due (an interrupt it sends another core does not end its
//! turn); virtual time counts every core's instructions. So a latency from
//! one core to another is the instructions either core executes between the
//! two points, and cores never wait for each other except where a turn ends
//! with a lock held, which the spin counts show. It is deterministic, like
//! every figure here; it says nothing about parallel speed-up (BENCHMARKS.md).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{instructions, per_op, report, require_cores};
use core::hint::black_box;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::critical::{CriticalSection, SpinLock};
use ilusion::internals::{lock_stats, reset_lock_stats, spin_hint, spin_iterations, spin_iterations_on};
use ilusion::sync::{mpsc, Mutex, Semaphore};
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const CORES: usize = 4;

fn main() {
    require_cores(CORES);
    report("smp_spin_lock_uncontended", per_op(100_000, || drop(black_box(&SPIN_LOCK).lock())));
    report("smp_critical_section_uncontended", per_op(100_000, || drop(black_box(CriticalSection::new()))));
    report("smp_mutex_uncontended", per_op(100_000, || drop(black_box(&MUTEX).lock())));
    report("smp_semaphore_give_take", semaphore_give_take(100_000));
    report("smp_alloc_free_128", alloc_free_128(100_000));
    report("smp_cross_core_wake", cross_core_wake(2_000));
    report("smp_ipi_preemption", ipi_preemption(2_000));
    let (spins_per_1000, instructions_per_op) = busy_cores(4_000);
    report("smp_lock_spin_iterations_per_1000_ops", spins_per_1000);
    report("smp_busy_4_cores_per_op", instructions_per_op);
}

static SPIN_LOCK: SpinLock<u32> = SpinLock::new("bench", 0);
static MUTEX: Mutex<u64> = Mutex::new(0);

/// `release` then `acquire` of a free semaphore, one task.
fn semaphore_give_take(n: u64) -> u64 {
    let s = Semaphore::new(0);
    per_op(n, || {
        black_box(&s).release();
        black_box(&s).acquire();
    })
}

/// A 128-byte block from the OS heap, freed at once (the heap's spin lock
/// is taken on one core as on four; `bench_tasks` has the 1-core figure).
fn alloc_free_128(n: u64) -> u64 {
    let layout = core::alloc::Layout::from_size_align(128, 8).unwrap();
    per_op(n, || {
        // SAFETY: a non-zero-size layout; the block is freed with it at once.
        unsafe { alloc::alloc::dealloc(black_box(alloc::alloc::alloc(layout)), layout) }
    })
}

/// A task on core 0 gives a semaphore an urgent task on core 1 waits on,
/// core 1 otherwise idle (in `wfi`): from `release` to the taker returning
/// from `acquire`.
fn cross_core_wake(n: u64) -> u64 {
    wake_on_core(n, 1, false)
}

/// As [`cross_core_wake`], but on core 2, which runs a less urgent task
/// spinning flat out: the woken task preempts it (a reschedule IPI, taken
/// by a busy core instead of an idle one).
fn ipi_preemption(n: u64) -> u64 {
    wake_on_core(n, 2, true)
}

/// Instructions from a give on core 0 to the taker running on `target`,
/// averaged over `n` wakes; with a less urgent spinner on `target` if `busy`.
///
/// Before each give the giver sleeps, so the taker is surely blocked again
/// (and the spinner spinning). After it, the giver waits for the taker with
/// a `YIELD` in its loop, as a spin lock waits: under instruction counting
/// that ends core 0's turn at once (a core's interrupt to another does not),
/// so what is counted is the give, one turn of the loop and the other
/// core's path, not the giver's way to sleep.
fn wake_on_core(n: u64, target: usize, busy: bool) -> u64 {
    let sem = Arc::new(Semaphore::new(0));
    let given_at = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spun = Arc::new(AtomicU64::new(0));
    let spinner = busy.then(|| {
        let (stop, spun) = (stop.clone(), spun.clone());
        Builder::new()
            .cpu(target)
            .priority(Priority::Preemptive(20))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    spun.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    });
    let (s, g, t, c) = (sem.clone(), given_at.clone(), taken.clone(), spun.clone());
    let taker = Builder::new()
        .cpu(target)
        .priority(Priority::Preemptive(1))
        .spawn(move || {
            let (mut sum, mut elsewhere, mut spinner_idle) = (0, 0, 0);
            let mut spun_before = c.load(Ordering::Relaxed);
            for _ in 0..n {
                s.acquire();
                sum += Instant::now().ticks() - g.load(Ordering::Relaxed);
                t.fetch_add(1, Ordering::Release);
                elsewhere += u64::from(task::current_cpu() != target);
                let spun_now = c.load(Ordering::Relaxed);
                spinner_idle += u64::from(spun_now == spun_before);
                spun_before = spun_now;
            }
            (sum, elsewhere, spinner_idle)
        })
        .unwrap();
    let giver = Builder::new().cpu(0).priority(Priority::Preemptive(1)).spawn(move || {
        for i in 0..n {
            time::sleep(Duration::from_micros(20)); // the taker waits, the spinner spins
            given_at.store(Instant::now().ticks(), Ordering::Relaxed);
            sem.release();
            while taken.load(Ordering::Acquire) <= i {
                spin_hint();
            }
        }
    });
    giver.unwrap().join().unwrap();
    let (sum, elsewhere, spinner_idle) = taker.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    if let Some(spinner) = spinner {
        spinner.join().unwrap();
    }
    assert_eq!(elsewhere, 0, "the taker ran off core {target}");
    // With a spinner, it ran between every two wakes: each wake preempted it.
    assert!(!busy || spinner_idle <= 1, "{spinner_idle} wakes found core {target}'s spinner not run");
    instructions(sum) / n
}

/// The mean time between two interruptions of the running core's turn in
/// [`busy_cores`]. Under instruction counting the cores take turns, and a
/// turn otherwise ends only where its core waits (`wfi`, a `YIELD`), never
/// inside a lock; cut at a timer deadline, a turn may end with a lock held,
/// as a real core may be anywhere in its code when another reaches for the
/// lock. The spin count is proportional to how often turns are cut (2.5 µs
/// to 10 µs apart: 5 µs gives about 4.4 times the spins of 20 µs).
const INTERLEAVE: Duration = Duration::from_micros(5);

/// Four tasks, one per core, each `rounds` times: lock a shared `Mutex`
/// and count, allocate and free a 128-byte block, send a message to the
/// next core's task and receive one from the previous core's (a ring, so
/// every message wakes a task on another core). A more urgent task on core
/// 0 sleeps for pseudo-random spans of [`INTERLEAVE`] on average (half to
/// one and a half of it), each timer deadline ending the turn of whichever
/// core runs then; random, so that the cuts do not fall into step with the
/// workers' rounds (a periodic timer did, and the count then jumped by
/// factors of 4 with unrelated changes). Returns the spin
/// iterations spent waiting for locks per 1,000 operations (3 a round: the
/// mutex, the block, the message), and the instructions all cores executed
/// per operation.
fn busy_cores(rounds: u64) -> (u64, u64) {
    let channels: Vec<_> = (0..CORES).map(|_| mpsc::channel::<u64>()).collect();
    let (senders, receivers): (Vec<_>, Vec<_>) = channels.into_iter().unzip();
    let mut receivers: Vec<_> = receivers.into_iter().map(Some).collect();
    *MUTEX.lock().unwrap() = 0;
    let workers: Vec<_> = (0..CORES)
        .map(|core| {
            let to_next = senders[(core + 1) % CORES].clone();
            let from_previous = receivers[core].take().unwrap();
            Builder::new()
                .cpu(core)
                .priority(Priority::Preemptive(10))
                .spawn(move || {
                    task::park(); // until every worker is there
                    let layout = core::alloc::Layout::from_size_align(128, 8).unwrap();
                    for round in 0..rounds {
                        *MUTEX.lock().unwrap() += 1;
                        // SAFETY: a non-zero-size layout; the block is freed with it at once.
                        unsafe { alloc::alloc::dealloc(black_box(alloc::alloc::alloc(layout)), layout) };
                        to_next.send(round).unwrap();
                        assert_eq!(from_previous.recv().unwrap(), round, "a message lost or reordered");
                    }
                })
                .unwrap()
        })
        .collect();
    // The interleaver, on core 0 and more urgent than the workers: sleeps
    // for pseudo-random spans, so that the cores' turns end at points that
    // do not lock into step with the workers' rounds.
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let interleaver = Builder::new()
        .cpu(0)
        .priority(Priority::Preemptive(2))
        .spawn(move || {
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            let mean = INTERLEAVE.as_nanos() as u64;
            while !d.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                time::sleep(Duration::from_nanos(mean / 2 + x % mean));
            }
        })
        .unwrap();
    reset_lock_stats();
    let start = Instant::now();
    workers.iter().for_each(|w| w.unpark());
    workers.into_iter().for_each(|w| w.join().unwrap());
    let elapsed = instructions(start.elapsed_ticks());
    let spins = spin_iterations();
    done.store(true, Ordering::Relaxed);
    interleaver.join().unwrap();
    assert_eq!(*MUTEX.lock().unwrap(), CORES as u64 * rounds, "a mutex increment lost");
    let ops = 3 * CORES as u64 * rounds;
    ilusion::println!(
        "busy cores: {ops} operations, {spins} spin iterations waiting for locks, {elapsed} instructions"
    );
    for cpu in 0..CORES {
        ilusion::println!("  core {cpu}: {} spin iterations", spin_iterations_on(cpu));
    }
    // By lock, when built with the `lock-stats` feature (else empty).
    for lock in lock_stats().iter() {
        ilusion::println!("  {}: {} contended acquisitions, {} spin iterations", lock.name, lock.contended, lock.spins);
    }
    (spins * 1000 / ops, elapsed / ops)
}
