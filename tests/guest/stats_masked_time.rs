//! QEMU test (under icount: one instruction, one nanosecond): reading an
//! isolated task's statistics never keeps interrupts waiting long, whatever
//! the size of its stack.
//!
//! `task::stats`, `JoinHandle::stats` and `task::list` read each task with
//! interrupts masked and the kernel lock held, so every core waits while
//! they do (the shell's `top` calls them every second). An isolated task's
//! stack high-water mark is found by reading its stack from the bottom up
//! to the first word that is not zero: for a task with the largest stack
//! (8 MiB) that dug 4 MiB deep, four megabytes of zeros. That scan was done
//! inside the section, looking each of the 2,048 pages up among the task's
//! frames one by one: milliseconds with interrupts masked. A kernel task's
//! stack (with the `stack-watermark` feature, as here) was scanned the
//! same way: `list` read this test's 256 KiB main stack in 250 µs.
//!
//! A watcher, more urgent than the reader and on its core, wakes every
//! 200 µs and records how late it woke. While the reader asks for the
//! statistics (three ways), the latest wake-up must stay under 100 µs.
//! The mark must still be right, within a page.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::watcher::Watcher;
use common::{check, finish};
use ilusion::task::{self, Builder};
use ilusion::time::{sleep, Duration};

ilusion::entry!(main);

const CORE: usize = 0;
/// The largest stack an isolated task may have.
const STACK: usize = 8 << 20;
/// Levels of `common::dig_and_measure`, about a kilobyte each: about 4 MiB.
const DEPTH: u32 = 3900;

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn within_a_page(reported: Option<usize>, truth: u64) -> bool {
    reported.is_some_and(|r| (r as i64 - truth as i64).unsigned_abs() <= 4096)
}

fn run() {
    let digger = Builder::new()
        .name("deep digger")
        .cpu(CORE)
        .stack_size(STACK)
        .memory_limit(16 << 20)
        .spawn_isolated(|| common::dig_and_measure(DEPTH))
        .unwrap();
    while !digger.is_finished() {
        sleep(Duration::from_millis(1));
    }
    let id = digger.task().id();
    let watcher = Watcher::start(CORE);
    let ((by_handle, by_id, listed), seen) = watcher.watch(|| {
        let by_handle = digger.stats().stack_high_water;
        let by_id = task::stats(id).and_then(|info| info.stack_high_water);
        let listed = task::list().into_iter().find(|info| info.id == id).and_then(|info| info.stack_high_water);
        (by_handle, by_id, listed)
    });
    let at_rest = watcher.at_rest;
    watcher.stop();
    let truth = digger.join().unwrap();
    ilusion::println!(
        "an 8 MiB stack {truth} bytes deep: high-water {by_handle:?} (handle), {by_id:?} (id), {listed:?} (list); \
         the watcher woke {} times meanwhile, at most {:?} late ({at_rest:?} at rest)",
        seen.wakes,
        seen.latest
    );
    check(truth > 1 << 20, "digger_went_deep", format_args!("{truth} bytes"));
    check(
        within_a_page(by_handle, truth) && within_a_page(by_id, truth) && within_a_page(listed, truth),
        "deep_high_water_within_a_page",
        format_args!("{by_handle:?}, {by_id:?}, {listed:?} for {truth}"),
    );
    check(
        seen.interrupts_taken(),
        "interrupts_never_wait_for_the_scan",
        format_args!("woken {} times while the statistics were read, at most {:?} late", seen.wakes, seen.latest),
    );
}
