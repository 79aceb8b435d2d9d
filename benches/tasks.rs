//! Instruction counts of the task, interrupt and synchronisation operations
//! (the suite's micro-benchmarks), printed as `bench NAME VALUE` lines for
//! `benches/run` (`just bench`).
//!
//! Meaningful under QEMU's instruction counting (`just bench` runs it so).
//! A figure is either an operation timed over many iterations with the
//! empty loop's cost subtracted ([`common::per_op`]), or a latency (from
//! one point in one context to another point in another, e.g. raising an
//! interrupt to its handler's first line) averaged over many samples.
//! BENCHMARKS.md says what each one covers.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{instructions, per_op, report, yield_coop};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::critical::{CriticalSection, SpinLock};
use ilusion::sync::{mpsc, Mutex, Semaphore};
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// The SGI the interrupt figures raise.
const SGI: u32 = 1;
/// Counter value just before the SGI was raised, and the sum of latencies seen.
static RAISED_AT: AtomicU64 = AtomicU64::new(0);
static LATENCY_SUM: AtomicU64 = AtomicU64::new(0);
static SEMAPHORE: Semaphore = Semaphore::new(0);
/// What the SGI handler does besides timing: 0 nothing, 1 give `SEMAPHORE`.
static HANDLER_GIVES: AtomicBool = AtomicBool::new(false);

fn main() {
    let sgi = ilusion::irq::register(SGI, on_sgi).is_ok() && ilusion::irq::send_software_interrupt(SGI).is_ok();
    report("yield_coop", yield_coop(2, 20_000));
    report("spawn_join", spawn_join(2_000));
    if sgi {
        report("irq_entry_to_handler", irq_entry_to_handler(5_000));
        report("switch_preempt_irq", switch_preempt_irq(5_000));
    } else {
        ilusion::println!("irq_entry_to_handler, switch_preempt_irq skipped: no software interrupts on this board");
    }
    report("timer_irq_to_task", timer_irq_to_task(500));
    report("mutex_uncontended", per_op(100_000, || drop(core::hint::black_box(&MUTEX).lock())));
    report("mutex_contended_switch", mutex_contended_switch(5_000));
    report("semaphore_give_take", semaphore_give_take(100_000));
    report("semaphore_with_switch", semaphore_with_switch(5_000));
    report("channel_send_recv", channel_send_recv(5_000));
    report("alloc_free_128", alloc_free_128(100_000));
    // The locks themselves (the same figures on a 4-core boot: `benches/smp.rs`).
    report("spin_lock_uncontended", per_op(100_000, || drop(core::hint::black_box(&SPIN_LOCK).lock())));
    report("critical_section_uncontended", per_op(100_000, || drop(core::hint::black_box(CriticalSection::new()))));
}

static SPIN_LOCK: SpinLock<u32> = SpinLock::new("bench", 0);

static MUTEX: Mutex<u32> = Mutex::new(0);

fn spawn_join(n: u64) -> u64 {
    task::spawn(|| ()).join().unwrap(); // warm: the stack cache
    per_op(n, || task::spawn(|| ()).join().unwrap())
}

fn on_sgi(_: u32) {
    let now = Instant::now().ticks();
    LATENCY_SUM.fetch_add(now - RAISED_AT.load(Ordering::Relaxed), Ordering::Relaxed);
    if HANDLER_GIVES.load(Ordering::Relaxed) {
        SEMAPHORE.release();
    }
}

fn raise_sgi() {
    RAISED_AT.store(Instant::now().ticks(), Ordering::Relaxed);
    ilusion::irq::send_software_interrupt(SGI).unwrap();
}

/// From just before an SGI is raised to the first line of its handler.
fn irq_entry_to_handler(n: u64) -> u64 {
    LATENCY_SUM.store(0, Ordering::Relaxed);
    for _ in 0..n {
        raise_sgi();
    }
    instructions(LATENCY_SUM.load(Ordering::Relaxed)) / n
}

/// An SGI's handler gives a semaphore an urgent task waits on, while a less
/// urgent task runs: from raising the SGI to the urgent task running again.
fn switch_preempt_irq(n: u64) -> u64 {
    HANDLER_GIVES.store(true, Ordering::Relaxed);
    let urgent = Builder::new()
        .priority(Priority::Preemptive(1))
        .spawn(move || {
            let mut sum = 0;
            for _ in 0..n {
                SEMAPHORE.acquire();
                sum += Instant::now().ticks() - RAISED_AT.load(Ordering::Relaxed);
            }
            sum
        })
        .unwrap();
    let raiser = Builder::new().priority(Priority::Preemptive(20)).spawn(move || (0..n).for_each(|_| raise_sgi()));
    raiser.unwrap().join().unwrap();
    let sum = urgent.join().unwrap();
    HANDLER_GIVES.store(false, Ordering::Relaxed);
    instructions(sum) / n
}

/// From the timer deadline an urgent sleeping task waits for to that task
/// running, while a less urgent task spins.
fn timer_irq_to_task(n: u64) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = Builder::new().priority(Priority::Preemptive(25)).spawn(move || {
        while !s.load(Ordering::Relaxed) {
            core::hint::spin_loop();
        }
    });
    let sum = Builder::new()
        .priority(Priority::Preemptive(1))
        .spawn(move || {
            let mut sum = 0;
            for i in 1..=n {
                let deadline = Instant::now() + Duration::from_micros(20 + i % 7);
                time::sleep_until(deadline);
                sum += Instant::now().ticks() - deadline.ticks();
            }
            sum
        })
        .unwrap()
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    spinner.unwrap().join().unwrap();
    instructions(sum) / n
}

/// An urgent task locks a mutex a less urgent one holds: from its `lock`
/// call to holding the lock (block, switch to the holder, which unlocks and
/// hands over, switch back).
fn mutex_contended_switch(n: u64) -> u64 {
    let urgent = Builder::new()
        .priority(Priority::Preemptive(1))
        .spawn(move || {
            let mut sum = 0;
            for _ in 0..n {
                task::park();
                let start = Instant::now().ticks();
                let guard = MUTEX.lock();
                sum += Instant::now().ticks() - start;
                drop(guard);
            }
            sum
        })
        .unwrap();
    let urgent = Arc::new(urgent);
    let u = urgent.clone();
    let holder = Builder::new().priority(Priority::Preemptive(2)).spawn(move || {
        for _ in 0..n {
            let guard = MUTEX.lock();
            u.unpark(); // runs, blocks on the mutex
            drop(guard); // hands it over: the urgent task runs
        }
    });
    holder.unwrap().join().unwrap();
    let sum = Arc::into_inner(urgent).unwrap().join().unwrap();
    instructions(sum) / n
}

/// `release` then `acquire` of a free semaphore, one task.
fn semaphore_give_take(n: u64) -> u64 {
    let s = Semaphore::new(0);
    per_op(n, || {
        core::hint::black_box(&s).release();
        core::hint::black_box(&s).acquire();
    })
}

/// A task gives a semaphore an urgent task waits on: from `release` to the
/// urgent task returning from `acquire`.
fn semaphore_with_switch(n: u64) -> u64 {
    let sem = Arc::new(Semaphore::new(0));
    let given_at = Arc::new(AtomicU64::new(0));
    let (s, g) = (sem.clone(), given_at.clone());
    let urgent = Builder::new().priority(Priority::Preemptive(1)).spawn(move || {
        let mut sum = 0;
        for _ in 0..n {
            s.acquire();
            sum += Instant::now().ticks() - g.load(Ordering::Relaxed);
        }
        sum
    });
    let urgent = urgent.unwrap();
    for _ in 0..n {
        given_at.store(Instant::now().ticks(), Ordering::Relaxed);
        sem.release();
    }
    instructions(urgent.join().unwrap()) / n
}

/// A 16-byte message sent to an urgent task waiting in `recv`: from `send`
/// to the receiver returning from `recv` (one-way hand-off with a switch).
fn channel_send_recv(n: u64) -> u64 {
    let (tx, rx) = mpsc::channel::<[u64; 2]>();
    let receiver = Builder::new().priority(Priority::Preemptive(1)).spawn(move || {
        let mut sum = 0;
        for _ in 0..n {
            let [sent_at, _] = rx.recv().unwrap();
            sum += Instant::now().ticks() - sent_at;
        }
        sum
    });
    let receiver = receiver.unwrap();
    for i in 0..n {
        tx.send([Instant::now().ticks(), i]).unwrap();
    }
    instructions(receiver.join().unwrap()) / n
}

/// A 128-byte block from the OS heap, freed at once.
fn alloc_free_128(n: u64) -> u64 {
    let layout = core::alloc::Layout::from_size_align(128, 8).unwrap();
    per_op(n, || {
        // SAFETY: a non-zero-size layout; the block is freed with it at once.
        unsafe { alloc::alloc::dealloc(core::hint::black_box(alloc::alloc::alloc(layout)), layout) }
    })
}
