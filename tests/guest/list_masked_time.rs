//! QEMU test (under icount: one instruction, one nanosecond): `task::list`
//! never keeps interrupts waiting long, however many tasks there are, and
//! lists them right while they end around it.
//!
//! `task::list` reads each task with interrupts masked and the kernel lock
//! held. It read every task in one critical section: with 4,000 tasks,
//! interrupts waited 390 µs for it (about a hundred instructions a task),
//! and it then found each task again, in one section per stack page, to
//! scan its stack (quadratic: 138 ms for one list). It now reads 32 tasks
//! a section, holding the ones it read last to go on from them, and scans
//! the stacks of the tasks it holds.
//!
//! A watcher, more urgent than the lister and on its core, wakes every
//! 200 µs and records how late it woke: at most 100 µs while `list` runs.
//! Meanwhile a reaper lets detached tasks end one by one, so some end while
//! the lister holds them and are freed by it. Each list must hold every
//! task that stays alive exactly once, in the order they were spawned;
//! every detached task's result must be dropped once, by that task itself,
//! never by the lister (its `Drop` is that task's code: one that panicked
//! failed the lister, `app_code_in_task_context`); and the heap and the
//! frames must be back where they were.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::watcher::Watcher;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use ilusion::sync::Semaphore;
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{sleep, Duration};

ilusion::entry!(main);

const CORE: usize = 0;
/// Tasks that stay parked while the lists run.
const PARKED: usize = 2000;
/// Detached tasks the reaper lets end, one every [`REAP_EVERY`].
const DETACHED: usize = 500;
const REAP_EVERY: Duration = Duration::from_micros(20);
/// Lists read while the reaper works.
const LISTS: usize = 3;

static GO: Semaphore = Semaphore::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);
static DROPPED_BY_LISTER: AtomicUsize = AtomicUsize::new(0);
static LISTER: AtomicU64 = AtomicU64::new(u64::MAX);
static REAPER_DONE: AtomicBool = AtomicBool::new(false);

/// A detached task's result: counts its drop, and whether the lister did it.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        if task::current().id() == LISTER.load(Ordering::Relaxed) {
            DROPPED_BY_LISTER.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn usage() -> (usize, usize) {
    (ilusion::mm::heap::stats().requested, ilusion::mm::frames_in_use())
}

fn small(name: &str) -> Builder {
    Builder::new().name(name).cpu(CORE).stack_size(4096)
}

/// One round: the tasks spawned, listed while the detached ones end, joined.
fn round() -> Round {
    DROPPED.store(0, Ordering::Relaxed);
    DROPPED_BY_LISTER.store(0, Ordering::Relaxed);
    REAPER_DONE.store(false, Ordering::Relaxed);
    let mut parked = Vec::with_capacity(PARKED);
    for i in 0..PARKED + DETACHED {
        if i % 4 == 3 && i / 4 < DETACHED {
            // Detached: more urgent than the lister, so each ends as soon as it may.
            let detached = small("detached").priority(Priority::Preemptive(4)).spawn(|| {
                GO.acquire();
                Counted
            });
            drop(detached.unwrap());
        } else {
            parked.push(small("parked").spawn(task::park).unwrap());
        }
    }
    let ids: Vec<u64> = parked.iter().map(|t| t.task().id()).collect();
    let watcher = Watcher::start(CORE);
    let reaper = small("reaper").priority(Priority::Preemptive(4)).spawn(|| {
        for _ in 0..DETACHED {
            sleep(REAP_EVERY);
            GO.release();
        }
        REAPER_DONE.store(true, Ordering::Relaxed);
    });
    let reaper = reaper.unwrap();
    let mut lists_right = true;
    let mut latest = Duration::ZERO;
    let mut wakes = 0;
    let mut lists = 0;
    while lists < LISTS || !REAPER_DONE.load(Ordering::Relaxed) {
        let (listed, seen) = watcher.watch(task::list);
        let listed: Vec<u64> = listed.iter().map(|info| info.id).filter(|id| ids.binary_search(id).is_ok()).collect();
        let ok = listed == ids;
        if !ok {
            ilusion::println!("list {lists}: {} of the {} parked tasks, in order: {ok}", listed.len(), ids.len());
        }
        lists_right &= ok;
        latest = latest.max(seen.latest);
        wakes += seen.wakes;
        lists += 1;
    }
    reaper.join().unwrap();
    watcher.stop();
    // The last detached tasks end (their results dropped) once they run.
    while DROPPED.load(Ordering::Relaxed) < DETACHED
        && task::list().iter().any(|t| t.name.as_ref().is_some_and(|n| n.as_str() == "detached"))
    {
        sleep(Duration::from_millis(1));
    }
    for t in &parked {
        t.unpark();
    }
    for t in parked {
        t.join().unwrap();
    }
    let (dropped, by_lister) = (DROPPED.load(Ordering::Relaxed), DROPPED_BY_LISTER.load(Ordering::Relaxed));
    Round { lists, lists_right, wakes, latest, dropped, by_lister }
}

/// What one [`round`] saw.
struct Round {
    lists: usize,
    lists_right: bool,
    wakes: u64,
    latest: Duration,
    dropped: usize,
    by_lister: usize,
}

fn run() {
    LISTER.store(task::current().id(), Ordering::Relaxed);
    // The first round leaves the heap's pools grown to its peak (kept for
    // reuse); the second must leave everything as the first did.
    let first = round();
    let before = usage();
    let second = round();
    let after = usage();
    for (n, r) in [(1, &first), (2, &second)] {
        ilusion::println!(
            "round {n}: {} lists of {} tasks, the watcher woke {} times, at most {:?} late; \
             {} detached results dropped, {} by the lister",
            r.lists,
            PARKED + DETACHED,
            r.wakes,
            r.latest,
            r.dropped,
            r.by_lister
        );
    }
    ilusion::println!("heap requested and frames in use after round 1 {before:?}, after round 2 {after:?}");
    let rounds = [first, second];
    check(
        rounds.iter().all(|r| r.wakes > 0 && r.latest <= common::watcher::AT_MOST_LATE),
        "interrupts_never_wait_for_the_list",
        format_args!("at most 100 µs late"),
    );
    check(rounds.iter().all(|r| r.lists_right), "each_list_holds_every_parked_task_once_in_order", format_args!(""));
    check(rounds.iter().all(|r| r.dropped == DETACHED), "every_detached_result_dropped_once", format_args!(""));
    check(
        rounds.iter().all(|r| r.by_lister == 0),
        "no_result_dropped_by_the_lister",
        format_args!("{} and {} dropped by the lister", rounds[0].by_lister, rounds[1].by_lister),
    );
    check(after == before, "nothing_leaked", format_args!("{before:?} -> {after:?}"));
}
