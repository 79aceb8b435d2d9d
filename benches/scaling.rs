//! Scaling figures: a cooperative yield with 2 to 10,000 ready tasks, the
//! OS memory an idle task costs, and the instructions to spawn 10,000
//! tasks. Printed as `bench NAME VALUE` lines for `benches/run`.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{instructions, report, yield_coop};
use ilusion::mm::heap;
use ilusion::task::{self, Builder, JoinHandle, Priority};
use ilusion::time::Instant;

ilusion::entry!(main);

fn main() {
    for (tasks, rounds) in [(2, 20_000), (10, 4_000), (100, 400), (1_000, 40), (10_000, 4)] {
        report(&alloc::format!("yield_coop_{tasks}_tasks"), yield_coop(tasks, rounds));
    }
    report("idle_task_bytes_4k_stack", idle_task_bytes(200, Some(4096)));
    report("idle_task_bytes_default_stack", idle_task_bytes(200, None));
    report("spawn_10000_tasks", spawn_many(10_000));
}

/// Spawns `n` tasks that park at once (an idle task: blocked, never to run
/// again until unparked) and returns them, parked.
fn spawn_parked(n: usize, stack: Option<usize>) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let b = Builder::new().priority(Priority::Preemptive(1));
            let b = match stack {
                Some(size) => b.stack_size(size),
                None => b,
            };
            b.spawn(task::park).unwrap()
        })
        .collect()
}

fn release(handles: Vec<JoinHandle<()>>) {
    for h in &handles {
        h.unpark();
    }
    handles.into_iter().for_each(|h| h.join().unwrap());
}

/// Heap bytes (as the buddy allocator sets them aside) per idle task: its
/// control block, closure, stacks and its share of the translation tables
/// mapping them; the `JoinHandle` vector is subtracted.
fn idle_task_bytes(n: usize, stack: Option<usize>) -> u64 {
    let mut handles = Vec::with_capacity(n);
    let before = heap::stats().allocated;
    handles.extend(spawn_parked(n, stack));
    let after = heap::stats().allocated;
    release(handles);
    ((after - before) / n) as u64
}

/// Instructions to spawn `n` tasks (each runs at once and parks).
fn spawn_many(n: usize) -> u64 {
    let start = Instant::now();
    let handles = spawn_parked(n, Some(4096));
    let spent = instructions(start.elapsed_ticks());
    release(handles);
    spent
}
