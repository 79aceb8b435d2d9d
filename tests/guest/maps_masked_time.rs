//! QEMU test (under icount: one instruction, one nanosecond): reading an
//! isolated task's address space (`mm::maps`, `mm::dump`, the shell's
//! `maps <id>`) never keeps interrupts waiting long, however many pages
//! the task has.
//!
//! The task's mappings are read with interrupts masked and the kernel lock
//! held (so that the scheduler does not change them meanwhile): every core
//! waits while they are. An isolated task with the largest stack (8 MiB,
//! mapped whole at spawn) and 24 MiB of heap touched has 8,192 pages.
//!
//! Ending such a task gives its frames back: that was done as the
//! scheduler freed the task, in the handle's drop, all 8,192 with every
//! core waiting. Now the handle's drop frees them outside the critical
//! section. A detached task's were freed inside the switch that left it
//! for good, on the next task's stack, where sorting 8,215 frames ran off
//! an 8 KiB kernel stack and stopped the machine. Now the task gives them
//! back itself as it ends, outside any critical section, off its own
//! tables, sorted by a heapsort that needs a few words of stack.
//!
//! A watcher, more urgent than the reader and on its core, wakes every
//! 200 µs and records how late it woke. While the reader reads the task's
//! address space (both ways), and while the task is killed and its frames
//! freed, the latest wake-up must stay under
//! 100 µs, and what is read must still be right.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::watcher::Watcher;
use common::{check, finish};
use ilusion::task::{self, Builder};
use ilusion::time::{sleep, Duration, Instant};

ilusion::entry!(main);

const CORE: usize = 0;
/// The largest stack an isolated task may have: mapped whole at spawn.
const STACK: usize = 8 << 20;
/// Heap the task touches, page by page.
const HEAP: usize = 24 << 20;

fn main() {
    common::on_core(CORE, run);
    finish()
}

/// What task `id` holds, in bytes.
fn resident(id: u64) -> u64 {
    task::stats(id).and_then(|t| t.memory).map_or(0, |m| m.resident_bytes)
}

/// An isolated task with the largest stack and `HEAP` bytes of heap
/// touched, which then sleeps for ever; returned once it has them.
fn spawn_many_pages() -> task::JoinHandle<()> {
    let big = Builder::new()
        .name("many pages")
        .cpu(CORE)
        .stack_size(STACK)
        .memory_limit(64 << 20)
        .spawn_isolated(|| {
            let mut heap: Vec<u8> = Vec::with_capacity(HEAP);
            for page in (0..HEAP).step_by(4096) {
                // SAFETY: within the capacity; each page written once, to back it.
                unsafe { heap.as_mut_ptr().add(page).write_volatile(1) };
            }
            sleep(Duration::MAX);
        })
        .unwrap();
    let start = Instant::now();
    while resident(big.task().id()) < (STACK + HEAP) as u64 && start.elapsed() < Duration::from_secs(10) {
        sleep(Duration::from_millis(1));
    }
    big
}

fn run() {
    let big = spawn_many_pages();
    let pages = resident(big.task().id()) / 4096;
    let watcher = Watcher::start(CORE);
    let (maps, maps_seen) = watcher.watch(|| ilusion::mm::maps(&big));
    let ((), dump_seen) = watcher.watch(|| ilusion::mm::dump(&big));
    let frames = ilusion::mm::frames_in_use();
    let ((), end_seen) = watcher.watch(|| {
        big.kill().unwrap();
        let _ = big.join();
        sleep(Duration::from_millis(1));
    });
    let freed = frames - ilusion::mm::frames_in_use();
    // The same task, detached (its handle dropped), then killed by id.
    let detached = spawn_many_pages();
    let id = detached.task().id();
    drop(detached);
    let frames = ilusion::mm::frames_in_use();
    let ((), detached_seen) = watcher.watch(|| {
        task::kill(id).unwrap();
        // Not looked up meanwhile: a lookup holds the task, and the last
        // holder frees it, outside any critical section.
        let start = Instant::now();
        while ilusion::mm::frames_in_use() + pages as usize > frames && start.elapsed() < Duration::from_secs(10) {
            sleep(Duration::from_millis(1));
        }
    });
    let detached_freed = frames - ilusion::mm::frames_in_use();
    let at_rest = watcher.at_rest;
    watcher.stop();
    let listed = maps.as_ref().is_ok_and(|text| text.contains("heap"));
    ilusion::println!(
        "{pages} pages resident (maps lists the heap: {listed}); the watcher woke {} times during maps, at most \
         {:?} late; {} times during dump, at most {:?} late ({at_rest:?} at rest)",
        maps_seen.wakes,
        maps_seen.latest,
        dump_seen.wakes,
        dump_seen.latest
    );
    check(
        pages as usize >= (STACK + HEAP) / 4096 && listed,
        "task_has_many_pages",
        format_args!("{pages} pages, {maps:?}"),
    );
    check(
        maps_seen.interrupts_taken(),
        "interrupts_never_wait_for_maps",
        format_args!(
            "woken {} times while maps read {pages} pages, at most {:?} late",
            maps_seen.wakes, maps_seen.latest
        ),
    );
    let (end_wakes, end_latest) = (end_seen.wakes, end_seen.latest);
    ilusion::println!(
        "ending it freed {freed} frames: the watcher woke {end_wakes} times, at most {end_latest:?} late"
    );
    check(
        freed >= pages as usize && end_seen.interrupts_taken(),
        "interrupts_never_wait_for_the_frames_freed",
        format_args!("woken {end_wakes} times while {freed} frames were freed, at most {end_latest:?} late"),
    );
    let (wakes, latest) = (detached_seen.wakes, detached_seen.latest);
    ilusion::println!("ending it detached freed {detached_freed} frames: woken {wakes} times, at most {latest:?} late");
    check(
        detached_freed >= pages as usize && detached_seen.interrupts_taken(),
        "interrupts_never_wait_for_a_detached_tasks_frames",
        format_args!("woken {wakes} times while {detached_freed} frames were freed, at most {latest:?} late"),
    );
    check(
        dump_seen.interrupts_taken(),
        "interrupts_never_wait_for_dump",
        format_args!(
            "woken {} times while dump read {pages} pages, at most {:?} late",
            dump_seen.wakes, dump_seen.latest
        ),
    );
}
