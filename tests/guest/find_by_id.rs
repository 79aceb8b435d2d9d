//! QEMU test (under icount: one instruction, one nanosecond): what looks a
//! task up by its id (`task::stats(id)`, `task::kill(id)`, the shell's
//! `maps`) finds it once, among many, and is as quick as a `JoinHandle`.
//!
//! They found the task in one critical section that compared every task
//! alive, and `stats` and `maps` then found it again in each of their
//! sections: one per stack page scanned, one per 64 pages mapped. Behind
//! 2,500 other tasks, an isolated task with an 8 MiB stack took `stats(id)`
//! 47 ms where its handle took 5.5 (`maps`: 1.5 ms, 0.84). The lookup now
//! compares 64 tasks per section and holds the task it found (as
//! `task::list` holds the tasks it reads) while the caller reads it.
//!
//! Two rounds: 2,500 parked tasks, then the isolated one (last on the list
//! of tasks alive). Each round checks that the figures by id are the
//! handle's, as quick, with interrupts never kept waiting; that unknown ids
//! are refused; that `kill(id)` ends the task and, once joined, its id is
//! unknown. The second round must leave the heap and the frames as the
//! first did (no hold is left behind).
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::watcher::Watcher;
use common::{check, finish};
use ilusion::task::{self, Builder, KillError, TaskFailure};
use ilusion::time::{sleep, Duration, Instant};

ilusion::entry!(main);

const CORE: usize = 0;
/// Tasks spawned before the one looked up.
const PARKED: usize = 2500;
/// The looked-up task's stack: a page scanned per critical section.
const USER_STACK: usize = 8 << 20;

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn usage() -> (usize, usize) {
    (ilusion::mm::heap::stats().requested, ilusion::mm::frames_in_use())
}

/// How long `f` takes, and what it gives.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// At most half as slow again as through the handle, and 100 µs.
fn as_quick(by_id: Duration, by_handle: Duration) -> bool {
    by_id <= by_handle + by_handle / 2 + Duration::from_micros(100)
}

fn round(n: usize) {
    let parked: Vec<_> = (0..PARKED)
        .map(|_| Builder::new().name("parked").cpu(CORE).stack_size(4096).spawn(task::park).unwrap())
        .collect();
    let user = Builder::new()
        .name("user sleeper")
        .cpu(CORE)
        .stack_size(USER_STACK)
        .spawn_isolated(|| sleep(Duration::from_secs(100)))
        .unwrap();
    sleep(Duration::from_millis(1)); // it runs, and sleeps
    let id = user.task().id();
    let watcher = Watcher::start(CORE);

    let (by_handle, handle_time) = timed(|| user.stats());
    let ((by_id, id_time), seen) = watcher.watch(|| timed(|| task::stats(id)));
    ilusion::println!("round {n}: stats through the handle {handle_time:?}, by id {id_time:?}");
    let same = by_id.as_ref().is_some_and(|s| {
        s.id == id && s.stack_size == by_handle.stack_size && s.stack_high_water == by_handle.stack_high_water
    });
    check(same && by_handle.stack_high_water.is_some(), "stats_by_id_as_the_handle", format_args!(""));
    check(as_quick(id_time, handle_time), "stats_by_id_as_quick", format_args!("{id_time:?} vs {handle_time:?}"));
    check(seen.interrupts_taken(), "stats_by_id_interrupts_taken", format_args!("{:?} late", seen.latest));

    let ((), dump_handle_time) = timed(|| ilusion::mm::dump(&user));
    let ((found, dump_id_time), seen) = watcher.watch(|| timed(|| task::dump_address_space_of(id)));
    ilusion::println!("round {n}: maps through the handle {dump_handle_time:?}, by id {dump_id_time:?}");
    check(found, "maps_by_id_found", format_args!(""));
    check(
        as_quick(dump_id_time, dump_handle_time),
        "maps_by_id_as_quick",
        format_args!("{dump_id_time:?} vs {dump_handle_time:?}"),
    );
    check(seen.interrupts_taken(), "maps_by_id_interrupts_taken", format_args!("{:?} late", seen.latest));

    let unknown = u64::MAX;
    check(
        task::stats(unknown).is_none()
            && task::kill(unknown) == Err(KillError::NoSuchTask(unknown))
            && !task::dump_address_space_of(unknown),
        "unknown_id_refused",
        format_args!(""),
    );

    let (killed, seen) = watcher.watch(|| task::kill(id));
    check(killed == Ok(()), "kill_by_id", format_args!("{killed:?}"));
    check(matches!(user.join(), Err(TaskFailure::Killed)), "killed_by_id_ends_killed", format_args!(""));
    check(seen.latest <= common::watcher::AT_MOST_LATE, "kill_by_id_interrupts_taken", format_args!(""));
    check(
        task::stats(id).is_none() && task::kill(id) == Err(KillError::NoSuchTask(id)),
        "joined_id_unknown",
        format_args!(""),
    );
    watcher.stop();
    for t in &parked {
        t.unpark();
    }
    for t in parked {
        t.join().unwrap();
    }
}

fn run() {
    // The first round leaves the heap's pools grown to their peak (kept
    // for reuse); the second must leave everything as the first did.
    round(1);
    let before = usage();
    round(2);
    let after = usage();
    check(after == before, "nothing_leaked", format_args!("{before:?} -> {after:?}"));
}
