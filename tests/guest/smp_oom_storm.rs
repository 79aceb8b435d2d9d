//! QEMU test, under real parallelism (MTTCG): spawning on every core at
//! once with the kernel heap nearly exhausted.
//!
//! Each round, main takes the whole kernel heap but [`ROOM`] bytes (the
//! hoard), then a spawner pinned to each core spawns kernel tasks (which
//! wait at a gate) and isolated ones (which return at once) as fast as it
//! can, so that the cores meet the end of the heap together, at every
//! stage of a spawn. A spawn must then fail cleanly with
//! `SpawnError::OutOfMemory`, never a crash; each spawner goes on for
//! [`AFTER_FULL`] more attempts, joining its isolated tasks as they end, so
//! that memory comes and goes while the other cores fail. Then the gate
//! opens, every task ends with the value it was spawned to return, the
//! hoard is given back, and the kernel heap and the frames in use are
//! exactly at baseline again. [`ROUNDS`] rounds.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use ilusion::mm::heap::HeapStats;
use ilusion::sync::{Mutex, Semaphore};
use ilusion::task::{self, Builder, JoinHandle, SpawnError};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 5;
/// What the hoard leaves of the heap (about 12 kernel tasks' worth).
const ROOM: usize = 256 * 1024;
/// Spawn attempts each spawner makes after its first failure.
const AFTER_FULL: usize = 200;
/// Room for a spawner's handles, reserved before the heap runs out.
const MAX_HANDLES: usize = 2048;
/// Every kernel task's stack: one size, so that the cache of freed stacks
/// holds the same bytes whatever ended last.
const STACK: usize = 8192;

static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static GATE: Semaphore = Semaphore::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static FULL: AtomicUsize = AtomicUsize::new(0);
static WAITING: AtomicUsize = AtomicUsize::new(0);
/// Spawners that have made their room for handles (before the hoard).
static READY: AtomicUsize = AtomicUsize::new(0);

/// The kernel heap in use and the frames in use, leaving out the freed
/// frames the per-core pools keep for reuse (as `kernel_oom` does).
fn usage() -> (HeapStats, usize) {
    let heap = ilusion::mm::heap::stats();
    let pooled = ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize;
    let in_use = HeapStats { requested: heap.requested - pooled, allocated: heap.allocated - pooled, ..heap };
    (in_use, ilusion::mm::frames_in_use())
}

/// Takes blocks of every size, largest first, down to 8 bytes; then gives
/// back the smallest ones until `room` bytes are free again.
fn take_all_but(hoard: &mut Vec<Vec<u8>>, room: usize) {
    common::take_blocks_down_to(hoard, 8);
    let mut freed = 0;
    while freed < room {
        let Some(block) = hoard.pop() else { break };
        freed += block.capacity();
    }
}

/// What one spawner saw.
#[derive(Default)]
struct Seen {
    kernel: usize,
    isolated: usize,
    out_of_memory: usize,
    wrong: usize,
}

fn spawner(c: usize) -> Seen {
    let mut seen = Seen::default();
    let mut kernel: Vec<JoinHandle<usize>> = Vec::with_capacity(MAX_HANDLES);
    let mut isolated: Vec<JoinHandle<u64>> = Vec::with_capacity(MAX_HANDLES);
    READY.fetch_add(1, Ordering::Release);
    while !GO.load(Ordering::Acquire) {
        time::sleep(Duration::from_micros(100));
    }
    let mut after_full = 0;
    let mut n = 0usize;
    while after_full < AFTER_FULL && kernel.len() < MAX_HANDLES && isolated.len() < MAX_HANDLES {
        n += 1;
        let k = n * 8 + c;
        let r = if n.is_multiple_of(3) {
            Builder::new().memory_limit(1 << 20).spawn_isolated(move || k as u64).map(|h| isolated.push(h))
        } else {
            Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    WAITING.fetch_add(1, Ordering::Relaxed);
                    GATE.acquire();
                    k
                })
                .map(|h| kernel.push(h))
        };
        match r {
            Ok(()) if n.is_multiple_of(3) => seen.isolated += 1,
            Ok(()) => seen.kernel += 1,
            Err(SpawnError::OutOfMemory) => {
                if after_full == 0 {
                    FULL.fetch_add(1, Ordering::Relaxed);
                }
                seen.out_of_memory += 1;
                after_full += 1;
                // Memory comes back as isolated tasks end.
                if let Some(h) = isolated.pop() {
                    check_isolated(&mut seen, h, c);
                }
            }
            Err(e) => {
                seen.wrong += 1;
                ilusion::println!("core {c}: spawn {n}: {e:?}");
            }
        }
    }
    // Every spawner full before the gate opens.
    while FULL.load(Ordering::Relaxed) < task::cpus_online() {
        time::sleep(Duration::from_micros(100));
    }
    for h in isolated.drain(..) {
        check_isolated(&mut seen, h, c);
    }
    for h in kernel.drain(..) {
        match h.join() {
            Ok(k) if k % 8 == c => {}
            other => {
                seen.wrong += 1;
                ilusion::println!("core {c}: kernel task: {other:?}");
            }
        }
    }
    seen
}

/// Joins an isolated task spawner `c` made: it returns a number of `c`'s.
fn check_isolated(seen: &mut Seen, h: JoinHandle<u64>, c: usize) {
    match h.join() {
        Ok(k) if k % 8 == c as u64 => {}
        other => {
            seen.wrong += 1;
            ilusion::println!("isolated task: {other:?}");
        }
    }
}

fn main() {
    let cores = require_cores(4);
    HOARD.lock().unwrap().reserve(4096);
    // More tasks alive at once than a round has: the stack slots (and the
    // translation tables behind them) are made here, before any baseline
    // (they are kept for reuse, not leaked).
    let many: Vec<JoinHandle<()>> =
        (0..1000).map(|_| Builder::new().stack_size(STACK).spawn(task::park).expect("warm-up")).collect();
    many.iter().for_each(|t| t.unpark());
    many.into_iter().for_each(|t| t.join().expect("warm-up task"));
    let mut baseline = None;
    for n in 0..=ROUNDS {
        let start = Instant::now();
        GO.store(false, Ordering::Relaxed);
        FULL.store(0, Ordering::Relaxed);
        WAITING.store(0, Ordering::Relaxed);
        READY.store(0, Ordering::Relaxed);
        let spawners: Vec<JoinHandle<Seen>> = (0..cores)
            .map(|c| Builder::new().name("spawner").cpu(c).stack_size(STACK).spawn(move || spawner(c)).unwrap())
            .collect();
        let mut results: Vec<Seen> = Vec::with_capacity(cores);
        while READY.load(Ordering::Acquire) < cores {
            time::sleep(Duration::from_micros(100));
        }
        take_all_but(&mut HOARD.lock().unwrap(), ROOM);
        GO.store(true, Ordering::Release);
        // Once every spawner has met the end of the heap, open the gate for
        // every task that waits there (each takes one permit).
        while FULL.load(Ordering::Relaxed) < cores {
            time::sleep(Duration::from_millis(1));
        }
        let mut seen = Seen::default();
        let mut released = 0;
        let mut pending = spawners;
        while let Some(s) = pending.pop() {
            // Release enough permits as the kernel tasks come to the gate.
            while !s.is_finished() {
                while released < WAITING.load(Ordering::Relaxed) {
                    GATE.release();
                    released += 1;
                }
                time::sleep(Duration::from_micros(200));
            }
            results.push(s.join().expect("spawner"));
        }
        for r in &results {
            seen.kernel += r.kernel;
            seen.isolated += r.isolated;
            seen.out_of_memory += r.out_of_memory;
            seen.wrong += r.wrong;
        }
        drop(results);
        HOARD.lock().unwrap().clear();
        let leftover = GATE.available();
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "round {n}: {} kernel and {} isolated tasks spawned on {cores} cores, {} out of memory: {} wrong, gate left {leftover}, heap and frames at baseline {at_baseline}, {} ms",
            seen.kernel,
            seen.isolated,
            seen.out_of_memory,
            seen.wrong,
            start.elapsed().as_millis()
        );
        let ok = seen.wrong == 0 && seen.out_of_memory >= cores * AFTER_FULL && leftover == 0 && at_baseline;
        check(ok, "oom_storm_clean", format_args!("round {n}: {baseline:?} -> {now:?}"));
        if !ok {
            break;
        }
    }
    finish()
}
