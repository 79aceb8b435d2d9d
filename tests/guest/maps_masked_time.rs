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
//! section. (A detached task's are still freed inside the switch that
//! leaves it for good: a known limit, see docs/02, section 7.)
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
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{sleep, Duration, Instant};

ilusion::entry!(main);

const CORE: usize = 0;
/// The largest stack an isolated task may have: mapped whole at spawn.
const STACK: usize = 8 << 20;
/// Heap the task touches, page by page.
const HEAP: usize = 24 << 20;
const PERIOD: Duration = Duration::from_micros(200);
/// The latest a wake-up may be while the address space is read.
const AT_MOST_LATE: Duration = Duration::from_micros(100);

static STOP: AtomicBool = AtomicBool::new(false);
static LATEST_NS: AtomicU64 = AtomicU64::new(0);
static WAKES: AtomicU64 = AtomicU64::new(0);

/// Sleeps `PERIOD` at a time and records the latest wake-up.
fn watch() {
    while !STOP.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        sleep(PERIOD);
        let late = asleep.elapsed().saturating_sub(PERIOD);
        LATEST_NS.fetch_max(late.as_nanos() as u64, Ordering::Relaxed);
        WAKES.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    common::on_core(CORE, run);
    finish()
}

/// Runs `f` while the watcher watches: its value, how many times the
/// watcher woke meanwhile, and the latest it woke.
fn watched<R>(f: impl FnOnce() -> R) -> (R, u64, Duration) {
    LATEST_NS.store(0, Ordering::Relaxed);
    let before = WAKES.load(Ordering::Relaxed);
    let value = f();
    (value, WAKES.load(Ordering::Relaxed) - before, Duration::from_nanos(LATEST_NS.load(Ordering::Relaxed)))
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
    let watcher = Builder::new().name("watcher").cpu(CORE).priority(Priority::Preemptive(5)).spawn(watch).unwrap();
    sleep(Duration::from_millis(2)); // its first wakes: how late it is at rest
    let at_rest = LATEST_NS.load(Ordering::Relaxed);
    let (maps, maps_wakes, maps_latest) = watched(|| ilusion::mm::maps(&big));
    let ((), dump_wakes, dump_latest) = watched(|| ilusion::mm::dump(&big));
    let frames = ilusion::mm::frames_in_use();
    let ((), end_wakes, end_latest) = watched(|| {
        big.kill().unwrap();
        let _ = big.join();
        sleep(Duration::from_millis(1));
    });
    let freed = frames - ilusion::mm::frames_in_use();
    STOP.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let listed = maps.as_ref().is_ok_and(|text| text.contains("heap"));
    ilusion::println!(
        "{pages} pages resident (maps lists the heap: {listed}); the watcher woke {maps_wakes} times during maps, at most \
         {maps_latest:?} late; {dump_wakes} times during dump, at most {dump_latest:?} late ({at_rest} ns at rest)"
    );
    check(
        pages as usize >= (STACK + HEAP) / 4096 && listed,
        "task_has_many_pages",
        format_args!("{pages} pages, {maps:?}"),
    );
    check(
        maps_wakes > 0 && maps_latest <= AT_MOST_LATE,
        "interrupts_never_wait_for_maps",
        format_args!("woken {maps_wakes} times while maps read {pages} pages, at most {maps_latest:?} late"),
    );
    ilusion::println!(
        "ending it freed {freed} frames: the watcher woke {end_wakes} times, at most {end_latest:?} late"
    );
    check(
        freed >= pages as usize && end_wakes > 0 && end_latest <= AT_MOST_LATE,
        "interrupts_never_wait_for_the_frames_freed",
        format_args!("woken {end_wakes} times while {freed} frames were freed, at most {end_latest:?} late"),
    );
    check(
        dump_wakes > 0 && dump_latest <= AT_MOST_LATE,
        "interrupts_never_wait_for_dump",
        format_args!("woken {dump_wakes} times while dump read {pages} pages, at most {dump_latest:?} late"),
    );
}
