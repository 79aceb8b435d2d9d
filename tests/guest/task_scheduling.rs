//! QEMU test: priorities, round-robin, time slicing, cooperative tasks not
//! being preempted, preemption by a task an interrupt woke, sleep accuracy.
//!
//! Tasks run on every core by default. What this test checks is how tasks
//! share *one* core (which runs first, who is never preempted, who gets a
//! slice, who preempts whom), so the tasks that compete are pinned to the
//! same core, [`CORE`]: on several cores they would simply run side by side.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, micros};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use ilusion::sync::Mutex;
use ilusion::task::{self, Builder, Priority, SpawnError};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// The core the competing tasks share.
const CORE: usize = 0;

fn main() {
    identity_and_spawn_errors();
    priorities_order_and_round_robin();
    cooperative_is_not_preempted();
    equal_preemptive_tasks_share_by_slices();
    interrupt_woken_task_preempts();
    sleep_is_accurate();
    detached_result_dropped_in_task();
    finish();
}

/// `current()` names the running task; bad requests give a `SpawnError`.
fn identity_and_spawn_errors() {
    let me = task::current();
    check(me.name() == Some("main"), "current_is_main", format_args!("{me}"));
    let h = Builder::new().name("worker").spawn(task::current).unwrap();
    let (from_handle, from_inside) = (h.task(), h.join().unwrap());
    check(
        from_inside.name() == Some("worker") && from_inside.id() == from_handle.id() && from_inside.id() != me.id(),
        "current_in_task",
        format_args!("{from_inside} vs {from_handle}"),
    );
    let bad = Builder::new().priority(Priority::Cooperative(32)).spawn(|| ());
    let says = bad.as_ref().err().map(|e| alloc::format!("{e}")).unwrap_or_default();
    check(
        matches!(bad, Err(SpawnError::InvalidPriority(Priority::Cooperative(32)))),
        "invalid_priority",
        format_args!("{:?}", bad.err()),
    );
    // The message says what the ranges are, not only that the number is out of one.
    check(
        says.contains("Cooperative(32)") && says.contains("0 to 31") && says.contains("0 to 30"),
        "invalid_priority_names_the_ranges",
        format_args!("{says}"),
    );
    let huge = Builder::new().stack_size(64 << 20).spawn(|| ());
    check(matches!(huge, Err(SpawnError::StackTooLarge { .. })), "stack_too_large", format_args!("{:?}", huge.err()));
}

/// A cooperative coordinator spawns tasks at three cooperative levels (none
/// runs yet: the coordinator is cooperative), then joins them: they run most
/// urgent first. Two equal cooperative tasks that yield alternate.
fn priorities_order_and_round_robin() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    Builder::new()
        .priority(Priority::Cooperative(0))
        .cpu(CORE)
        .spawn(move || {
            let handles: Vec<_> = [3u8, 1, 2]
                .into_iter()
                .map(|n| {
                    let l = l.clone();
                    Builder::new()
                        .priority(Priority::Cooperative(n))
                        .cpu(CORE)
                        .spawn(move || l.lock().unwrap().push(n))
                        .unwrap()
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
        })
        .unwrap()
        .join()
        .unwrap();
    let order = log.lock().unwrap().clone();
    check(order == [1, 2, 3], "priority_order", format_args!("{order:?}"));

    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    Builder::new()
        .priority(Priority::Cooperative(0))
        .cpu(CORE)
        .spawn(move || {
            let spawn_yielder = |c: char| {
                let l = l.clone();
                Builder::new()
                    .priority(Priority::Cooperative(4))
                    .cpu(CORE)
                    .spawn(move || {
                        for _ in 0..3 {
                            l.lock().unwrap().push(c);
                            task::yield_now();
                        }
                    })
                    .unwrap()
            };
            let (a, b) = (spawn_yielder('a'), spawn_yielder('b'));
            a.join().unwrap();
            b.join().unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    let s: alloc::string::String = log.lock().unwrap().iter().collect();
    check(s == "ababab", "round_robin_yield", format_args!("{s}"));
}

/// A cooperative task busy for five time slices is never preempted by the
/// preemptive task that is ready all along (less urgent than `main`, so
/// `main` can stop it).
fn cooperative_is_not_preempted() {
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (counter.clone(), stop.clone());
    let spinner = Builder::new()
        .priority(Priority::Preemptive(20))
        .cpu(CORE)
        .spawn(move || {
            while !s.load(Ordering::Relaxed) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap();
    // Until the spinner runs (on core CORE, which this task may not share:
    // a fixed sleep would assume it has had its turn by then).
    while counter.load(Ordering::Relaxed) == 0 {
        time::sleep(Duration::from_millis(1));
    }
    let c = counter.clone();
    let (before, after) = Builder::new()
        .priority(Priority::Cooperative(10))
        .cpu(CORE)
        .spawn(move || {
            let before = c.load(Ordering::Relaxed);
            time::busy_wait(Duration::from_millis(50));
            (before, c.load(Ordering::Relaxed))
        })
        .unwrap()
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    check(before > 0 && before == after, "cooperative_not_preempted", format_args!("spinner {before} -> {after}"));
}

/// Two equal preemptive tasks that never yield both make progress.
fn equal_preemptive_tasks_share_by_slices() {
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<_> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let handles: Vec<_> = counters
        .iter()
        .map(|c| {
            let (c, s) = (c.clone(), stop.clone());
            Builder::new()
                .priority(Priority::Preemptive(20))
                .cpu(CORE)
                .spawn(move || {
                    while !s.load(Ordering::Relaxed) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .unwrap()
        })
        .collect();
    time::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    handles.into_iter().for_each(|h| h.join().unwrap());
    let (a, b) = (counters[0].load(Ordering::Relaxed), counters[1].load(Ordering::Relaxed));
    check(a > 0 && b > 0, "time_slicing", format_args!("counts {a} and {b}"));
}

/// An urgent task sleeping until a deadline while a less urgent one spins:
/// the timer interrupt wakes it and it runs at once (well under 1 ms even
/// without `-icount`, where QEMU's timer follows the host clock).
fn interrupt_woken_task_preempts() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = Builder::new()
        .priority(Priority::Preemptive(25))
        .cpu(CORE)
        .spawn(move || {
            while !s.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        })
        .unwrap();
    let worst = Builder::new()
        .priority(Priority::Preemptive(1))
        .cpu(CORE)
        .spawn(|| {
            let mut worst = 0;
            for i in 1..=20u64 {
                let deadline = Instant::now() + Duration::from_micros(700 * i);
                time::sleep_until(deadline);
                worst = worst.max(Instant::now().ticks() - deadline.ticks());
            }
            worst
        })
        .unwrap()
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    // In nanoseconds: at 62.5 MHz the worst is well under a microsecond, and "(0 us)" said nothing.
    let nanos = u128::from(worst) * 1_000_000_000 / u128::from(ilusion::time::frequency());
    ilusion::println!("wake latency: worst {worst} ticks ({nanos} ns)");
    check(micros(worst) < 1000, "interrupt_preemption_latency", format_args!("{} us", micros(worst)));
}

/// `sleep` ends within one timer period (here: 1 ms at most) after its deadline, never before.
fn sleep_is_accurate() {
    let mut worst_late = 0;
    let mut early = false;
    for ms in [1u64, 3, 10, 20] {
        let start = Instant::now();
        time::sleep(Duration::from_millis(ms));
        let took = Instant::now().duration_since(start);
        early |= took < Duration::from_millis(ms);
        worst_late = worst_late.max(took.as_micros() as u64 - (ms * 1000).min(took.as_micros() as u64));
    }
    ilusion::println!("sleep: worst lateness {worst_late} us");
    check(!early && worst_late < 1000, "sleep_accuracy", format_args!("early {early}, late {worst_late} us"));
}

/// How many [`Loud`] values were dropped, and how many of them with
/// interrupts masked (inside the kernel, not in a task's own code).
static LOUD_DROPS: AtomicUsize = AtomicUsize::new(0);
static LOUD_DROPS_MASKED: AtomicUsize = AtomicUsize::new(0);

/// A task's result whose `Drop` is application code, and notes where it ran.
struct Loud;

impl Drop for Loud {
    fn drop(&mut self) {
        let daif: u64;
        // SAFETY: reads the interrupt mask bits; no side effects.
        unsafe { core::arch::asm!("mrs {}, daif", out(reg) daif) };
        LOUD_DROPS.fetch_add(1, Ordering::Relaxed);
        if daif & (1 << 7) != 0 {
            LOUD_DROPS_MASKED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A task's result is application code: it is dropped by the task itself
/// (detached) or by whoever holds the handle, never by the scheduler with
/// interrupts masked, even when the handle goes while the task is on its
/// way out. A less urgent task returns a [`Loud`] as a more urgent one
/// wakes (a sweep of wake times across its return) and drops the handle.
fn detached_result_dropped_in_task() {
    const ROUNDS: u64 = 1500;
    let done = Builder::new()
        .name("dropper")
        .priority(Priority::Preemptive(1))
        .cpu(CORE)
        .spawn(|| {
            for k in 0..ROUNDS {
                let start = Instant::now().ticks() + 2000;
                let h = Builder::new()
                    .name("returner")
                    .priority(Priority::Preemptive(20))
                    .cpu(CORE)
                    .stack_size(4096)
                    .spawn(move || {
                        while Instant::now().ticks() < start {}
                        Loud
                    })
                    .unwrap();
                time::sleep_until(Instant::from_ticks(start + k / 4));
                drop(h);
                time::sleep(Duration::from_micros(200)); // the returner ends meanwhile
            }
        })
        .unwrap()
        .join();
    let (drops, masked) = (LOUD_DROPS.load(Ordering::Relaxed), LOUD_DROPS_MASKED.load(Ordering::Relaxed));
    check(
        done.is_ok() && drops == ROUNDS as usize && masked == 0,
        "detached_result_dropped_in_task",
        format_args!(
            "{drops} results dropped of {ROUNDS}, {masked} of them with interrupts masked (by the scheduler); {done:?}"
        ),
    );
}
