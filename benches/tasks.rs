//! Instruction counts of the task operations, printed as `bench NAME VALUE`
//! lines for `benches/run` (`just bench`).
//!
//! Meaningful under QEMU's instruction counting, where the generic timer
//! advances with instructions (1 ns per instruction with `shift=0`), as
//! `just bench` runs it.
//!
//! Each figure is instructions per operation: counter ticks over many
//! repetitions, converted with the counter's frequency (instructions =
//! ticks x 1e9 / CNTFRQ), loop overhead included. See BENCHMARKS.md.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::sync::Mutex;
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// Counter ticks to instructions (at 1 instruction per ns).
fn instructions(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000 / ilusion::time::frequency() as u128) as u64
}

fn main() {
    ilusion::println!("counter frequency: {} Hz", ilusion::time::frequency());
    ilusion::println!("bench task_yield_2_tasks {}", yield_cost(2, 20_000));
    ilusion::println!("bench task_yield_1000_tasks {}", yield_cost(1000, 40));
    ilusion::println!("bench task_preempt_by_interrupt {}", preemption_cost());
    ilusion::println!("bench task_spawn_join_empty {}", spawn_join_cost(2000));
    ilusion::println!("bench mutex_lock_unlock {}", mutex_cost(100_000));
}

/// `tasks` cooperative tasks at one level each yield `rounds` times;
/// instructions per yield (= per switch).
fn yield_cost(tasks: usize, rounds: u32) -> u64 {
    let result = Arc::new(AtomicU64::new(0));
    let r = result.clone();
    Builder::new()
        .priority(Priority::Cooperative(0))
        .spawn(move || {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    Builder::new()
                        .priority(Priority::Cooperative(1))
                        .stack_size(4096)
                        .spawn(move || {
                            for _ in 0..rounds {
                                task::yield_now();
                            }
                        })
                        .unwrap()
                })
                .collect();
            // All are ready; once the first runs, they alternate until done.
            let start = Instant::now();
            let mut handles = handles.into_iter();
            let first = handles.next().unwrap();
            first.join().unwrap(); // returns after the first task's last yield
            let ticks = Instant::now().ticks() - start.ticks();
            r.store(instructions(ticks) / (tasks as u64 * rounds as u64), Ordering::Relaxed);
            handles.for_each(|h| h.join().unwrap());
        })
        .unwrap()
        .join()
        .unwrap();
    result.load(Ordering::Relaxed)
}

/// From the timer interrupt that wakes an urgent task to that task running,
/// while a less urgent task spins: the wake latency, best of many.
fn preemption_cost() -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = Builder::new()
        .priority(Priority::Preemptive(25))
        .spawn(move || {
            while !s.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        })
        .unwrap();
    let best = Builder::new()
        .priority(Priority::Preemptive(1))
        .spawn(|| {
            let mut best = u64::MAX;
            for i in 1..=50u64 {
                let deadline = Instant::now() + Duration::from_micros(100 + i);
                time::sleep_until(deadline);
                best = best.min(Instant::now().ticks() - deadline.ticks());
            }
            best
        })
        .unwrap()
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    instructions(best)
}

fn spawn_join_cost(n: u32) -> u64 {
    task::spawn(|| ()).join().unwrap(); // warm: translation tables for the stack slot
    let start = Instant::now();
    for _ in 0..n {
        task::spawn(|| ()).join().unwrap();
    }
    instructions(start.elapsed_ticks()) / n as u64
}

fn mutex_cost(n: u32) -> u64 {
    let m = Mutex::new(0u32);
    let start = Instant::now();
    for _ in 0..n {
        *core::hint::black_box(&m).lock().unwrap() += 1;
    }
    instructions(start.elapsed_ticks()) / n as u64
}
