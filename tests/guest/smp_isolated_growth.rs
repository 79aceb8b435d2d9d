//! QEMU test, under real parallelism (MTTCG): isolated tasks grow and
//! shrink their heaps on every core (each new page a page fault, its frame
//! from the core's frame pool) while killers on every core kill them at
//! random moments, and some reach their memory limit.
//!
//! Each round spawns [`TASKS`] isolated tasks, some pinned to a core, some
//! free, each with a [`LIMIT`] memory limit: each allocates vectors of 1 to
//! 32 pages, touching every page, keeps up to four, frees one at random,
//! [`STEPS`] times; some ask for more than their limit now and then. A
//! killer pinned to each core kills the round's tasks by id at random.
//! What must hold: every task ends `Ok`, `Killed` or `OutOfMemory`; after
//! the first round, the frames in use and the kernel heap (less the frames
//! the per-core pools keep) are exactly where they were: a kill in the
//! middle of a page fault leaks no frame. No frame is given to two tasks:
//! a task checks that the pages it filled still hold its stamp.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::killers::{memory_in_use, Killers};
use common::{check, finish, require_cores, rng};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::task::{Builder, JoinHandle, TaskFailure};
use ilusion::time::Instant;

ilusion::entry!(main);

const ROUNDS: usize = 8;
const TASKS: usize = 12;
const STEPS: u64 = 600;
const LIMIT: u64 = 2 << 20;
const PAGE: usize = 4096;

static IDS: [AtomicU64; TASKS] = [const { AtomicU64::new(0) }; TASKS];

/// An isolated task's body: grows and shrinks its heap; returns how many
/// vectors it made, or `u64::MAX` if a page lost its stamp.
fn grower(seed: u64, greedy: bool) -> u64 {
    let mut seed = seed | 1;
    let mut held: Vec<(u8, Vec<u8>)> = Vec::new();
    for step in 0..STEPS {
        let pages = if greedy && rng(&mut seed).is_multiple_of(16) {
            (LIMIT as usize / PAGE) + 8
        } else {
            1 + (rng(&mut seed) % 32) as usize
        };
        let stamp = (step as u8) | 1;
        let v = alloc::vec![stamp; pages * PAGE];
        held.push((stamp, v));
        if held.len() > 4 || rng(&mut seed).is_multiple_of(2) {
            let (stamp, v) = held.swap_remove((rng(&mut seed) % held.len() as u64) as usize);
            if v.iter().step_by(PAGE / 2).any(|&b| b != stamp) {
                return u64::MAX;
            }
        }
    }
    STEPS
}

/// Frames held by address spaces, and the kernel heap in use less the
/// frames the per-core pools keep (how many a pool keeps depends on which
/// cores the tasks ended on).
/// A killer's pick: one of the round's growers, at random.
fn pick_a_grower(seed: &mut u64) -> Option<u64> {
    Some(IDS[(rng(seed) % TASKS as u64) as usize].load(Ordering::SeqCst)).filter(|&id| id != 0)
}

fn main() {
    let cores = require_cores(4);
    let mut baseline = None;
    for round in 0..=ROUNDS as u64 {
        let start = Instant::now();
        IDS.iter().for_each(|id| id.store(0, Ordering::SeqCst));
        let killers = Killers::spawn(cores, 0x5151 ^ (round << 8), 50..550, pick_a_grower);
        let tasks: Vec<JoinHandle<u64>> = (0..TASKS)
            .map(|k| {
                let builder = Builder::new().name("grower").memory_limit(LIMIT);
                let builder = if k % 3 == 2 { builder } else { builder.cpu(k % cores) };
                let seed = 0x9e37_79b9 ^ (round << 16) ^ k as u64;
                let greedy = k % 4 == 1;
                let handle = builder.spawn_isolated(move || grower(seed, greedy)).expect("spawn a grower");
                IDS[k].store(handle.task().id(), Ordering::SeqCst);
                handle
            })
            .collect();
        let (mut ok, mut killed, mut oom, mut wrong) = (0, 0, 0, 0);
        for (k, t) in tasks.into_iter().enumerate() {
            match t.join() {
                Ok(STEPS) => ok += 1,
                Err(TaskFailure::Killed) => killed += 1,
                Err(TaskFailure::OutOfMemory { .. }) => oom += 1,
                other => {
                    wrong += 1;
                    ilusion::println!("round {round}: grower {k} ended {other:?}");
                }
            }
        }
        let kills = killers.stop();
        let now = memory_in_use();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "round {round}: {TASKS} growers: {ok} done, {killed} killed ({kills} kills accepted), {oom} out of memory, {wrong} wrong, frames, pool and heap at baseline {at_baseline}, {} ms",
            start.elapsed().as_millis()
        );
        let good = wrong == 0 && at_baseline;
        check(good, "growers_end_cleanly", format_args!("round {round}: {baseline:?} -> {now:?}"));
        if !good {
            break;
        }
    }
    finish()
}
