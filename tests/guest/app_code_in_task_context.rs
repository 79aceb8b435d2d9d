//! QEMU test: application code (formatting, `Drop`) runs in its task, never
//! inside a kernel critical section, so when it panics, prints or blocks,
//! only its task is affected.
//!
//! - a `Display` that panics inside `println!`; one that prints itself;
//! - a panic whose message panics while it is formatted;
//! - the `Drop` of a detached task's result (it panics, prints, sleeps);
//! - the `Drop` of an ended task's result when its handle is dropped; if
//!   it panics, the dropper fails (its code panicked), but the ended task's
//!   control block and stacks are freed all the same: rounds of it leave
//!   the kernel heap where it was (they were leaked, the drop having
//!   panicked before the block's turn came).
//! - a detached task's result that panics as it drops, while another task
//!   looks at it (`task::stats`, `task::list` hold it meanwhile): the
//!   task drops it itself, and the looker goes on (35 of 40 lookers
//!   dropped it, and failed, when a hold made the task look joined);
//! - the closure of a spawn refused for want of memory (at its box, at its
//!   control block) whose `Drop` panics: the spawner fails, after the
//!   spawn has given back the stacks it took (they were leaked, 28 KiB).
//!
//! Each `Drop` records whether it ran with interrupts enabled outside any
//! exception handler.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::string::String;
use alloc::vec::Vec;
use common::{check, finish};
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use ilusion::sync::{Mutex, Semaphore};
use ilusion::task::{self, TaskFailure};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

struct PanickyDisplay;
impl fmt::Display for PanickyDisplay {
    fn fmt(&self, _: &mut fmt::Formatter) -> fmt::Result {
        panic!("display refuses");
    }
}

struct PrintingDisplay;
impl fmt::Display for PrintingDisplay {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        ilusion::println!("(printed from inside a Display)");
        f.write_str("outer")
    }
}

/// How many drops ran in task context, and how many elsewhere.
static DROPS_IN_TASK: AtomicU32 = AtomicU32::new(0);
static DROPS_ELSEWHERE: AtomicU32 = AtomicU32::new(0);
/// Set when the printing `Drop` has printed and slept: counting a drop as it
/// starts is not enough to know its line is out, since on several cores it
/// may still be running when `main` reaches `finish` and powers off.
static PRINT_AND_SLEEP_DONE: AtomicBool = AtomicBool::new(false);

/// What a `Result` does when dropped.
#[derive(Clone, Copy)]
enum OnDrop {
    Record,
    Panic,
    PrintAndSleep,
}

struct Outcome(OnDrop);
impl Drop for Outcome {
    fn drop(&mut self) {
        let in_task = ilusion::internals::interrupts_enabled() && !ilusion::internals::in_exception_handler();
        let counter = if in_task { &DROPS_IN_TASK } else { &DROPS_ELSEWHERE };
        counter.fetch_add(1, Ordering::SeqCst);
        match self.0 {
            OnDrop::Record => {}
            OnDrop::Panic => panic!("result drop panics"),
            OnDrop::PrintAndSleep => {
                ilusion::println!("result dropping: printing and sleeping");
                time::sleep(Duration::from_millis(1));
                PRINT_AND_SLEEP_DONE.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn main() {
    formatting_panics_end_only_the_task();
    panic_message_that_panics();
    detached_results_drop_in_their_task();
    joined_handle_drops_result_in_dropper();
    panicking_result_drop_frees_the_ended_task();
    a_looker_never_drops_a_result();
    a_refused_spawn_gives_back_before_it_drops_the_closure();
    finish();
}

fn formatting_panics_end_only_the_task() {
    let r = task::spawn(|| ilusion::println!("value: {}", PanickyDisplay)).join();
    check(
        matches!(&r, Err(TaskFailure::Panic { message }) if message == "display refuses"),
        "display_panics_in_println",
        format_args!("{r:?}"),
    );
    // The console is not left locked: printing still works, also nested.
    ilusion::println!("nested: {}", PrintingDisplay);
    let r = task::spawn(|| ilusion::println!("{}", PrintingDisplay)).join();
    check(r.is_ok(), "display_prints_in_println", format_args!("{r:?}"));
}

struct PanickyMessage;
impl fmt::Display for PanickyMessage {
    fn fmt(&self, _: &mut fmt::Formatter) -> fmt::Result {
        panic!("the message panics too")
    }
}

fn panic_message_that_panics() {
    for round in 1..=2 {
        let r = task::spawn(|| -> () { panic!("{}", PanickyMessage) }).join();
        check(
            matches!(&r, Err(TaskFailure::Panic { message }) if message.contains("panic while formatting")),
            "panic_message_panics",
            format_args!("round {round}: {r:?}"),
        );
    }
}

fn detached_results_drop_in_their_task() {
    for on_drop in [OnDrop::Record, OnDrop::Panic, OnDrop::PrintAndSleep] {
        // Detached before it ends: it drops its own result as it ends.
        drop(task::spawn(move || {
            time::sleep(Duration::from_millis(2));
            Outcome(on_drop)
        }));
    }
    // They end within a few milliseconds; wait for the three drops to have
    // run to their end (on a busy host, QEMU's threads for the other cores
    // may be slow to run).
    let counted = || DROPS_IN_TASK.load(Ordering::SeqCst) + DROPS_ELSEWHERE.load(Ordering::SeqCst);
    let finished = || counted() >= 3 && PRINT_AND_SLEEP_DONE.load(Ordering::SeqCst);
    let deadline = time::Instant::now() + Duration::from_secs(2);
    while !finished() && time::Instant::now() < deadline {
        time::sleep(Duration::from_millis(1));
    }
    let (in_task, elsewhere) = (DROPS_IN_TASK.load(Ordering::SeqCst), DROPS_ELSEWHERE.load(Ordering::SeqCst));
    let printed = PRINT_AND_SLEEP_DONE.load(Ordering::SeqCst);
    check(
        in_task == 3 && elsewhere == 0 && printed,
        "detached_result_drops_in_task",
        format_args!("{in_task} in task, {elsewhere} elsewhere, printing drop finished: {printed}"),
    );
}

fn joined_handle_drops_result_in_dropper() {
    let before = DROPS_IN_TASK.load(Ordering::SeqCst);
    let h = task::spawn(|| Outcome(OnDrop::Record));
    let deadline = time::Instant::now() + Duration::from_secs(2);
    while !h.is_finished() && time::Instant::now() < deadline {
        time::sleep(Duration::from_millis(1)); // until it has ended; its handle still holds the result
    }
    check(h.is_finished(), "task_ended_first", format_args!("not finished"));
    drop(h);
    let r = task::spawn(|| String::from("plain result")).join();
    let after = DROPS_IN_TASK.load(Ordering::SeqCst);
    check(
        after == before + 1 && DROPS_ELSEWHERE.load(Ordering::SeqCst) == 0 && r.is_ok(),
        "ended_result_drops_in_dropper",
        format_args!("{} drops in task, {} elsewhere", after - before, DROPS_ELSEWHERE.load(Ordering::SeqCst)),
    );
}

/// A task drops the handle of an ended task whose result panics as it
/// drops: the dropper fails, and nothing of the ended task stays behind
/// but the result's own box (a failed task's values are leaked).
fn panicking_result_drop_frees_the_ended_task() {
    let round = || {
        let dropper = task::spawn(|| {
            let h = task::Builder::new().stack_size(12 * 1024).spawn(|| Outcome(OnDrop::Panic)).unwrap();
            while !h.is_finished() {
                time::sleep(Duration::from_millis(1));
            }
            drop(h);
        });
        dropper.join()
    };
    let first = round();
    let before = ilusion::mm::heap::stats().requested;
    const ROUNDS: usize = 5;
    for _ in 0..ROUNDS {
        round().ok();
    }
    let grown = ilusion::mm::heap::stats().requested.saturating_sub(before);
    check(
        matches!(&first, Err(TaskFailure::Panic { message }) if message == "result drop panics"),
        "panicking_result_drop_fails_the_dropper",
        format_args!("{first:?}"),
    );
    // The result's box (a few dozen bytes) is the dropper's, leaked as it failed.
    check(
        grown < ROUNDS * 256,
        "panicking_result_drop_frees_the_ended_task",
        format_args!("the heap grew by {grown} bytes in {ROUNDS} rounds"),
    );
}

/// A detached task whose result panics as it drops, looked at meanwhile
/// (`task::stats` holds it while it scans its stack, `task::list` too): the
/// task drops its result itself as it ends, never the task that looked at
/// it, which would fail for another task's `Drop`.
fn a_looker_never_drops_a_result() {
    const ROUNDS: usize = 40;
    let mut lookers_failed = 0;
    for round in 0..ROUNDS {
        // It ends only once detached: if its handle found it ended, the
        // handle would drop its result, here.
        let bomb = task::spawn(move || {
            DETACHED.acquire();
            time::sleep(Duration::from_millis(1 + (round % 3) as u64));
            Outcome(OnDrop::Panic)
        });
        let id = bomb.task().id();
        drop(bomb);
        DETACHED.release();
        let looker = task::spawn(move || {
            let deadline = time::Instant::now() + Duration::from_millis(10);
            while time::Instant::now() < deadline {
                if round % 2 == 0 {
                    let _ = task::stats(id);
                } else {
                    let _ = task::list();
                }
            }
        });
        if looker.join().is_err() {
            lookers_failed += 1;
        }
    }
    check(
        lookers_failed == 0,
        "a_looker_never_drops_a_result",
        format_args!("{lookers_failed} of {ROUNDS} lookers failed for another task's result"),
    );
}

/// Lets a task of [`a_looker_never_drops_a_result`] end, once detached.
static DETACHED: Semaphore = Semaphore::new(0);

/// The kernel heap, taken whole by [`spawn_refused_with`]'s spawner.
static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A closure's capture whose `Drop` panics.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the closure's capture panics as it drops");
    }
}

/// The stack size of the refused spawns: stacks of this size are cached,
/// so a spawn gets them without the heap, and then fails for want of it.
const REFUSED_STACK: usize = 20 * 1024;

/// A task takes the whole kernel heap, gives back `freed` of its smallest
/// blocks (0: none; 1: one of 8 bytes, room for the closure's box but not
/// for a control block), and spawns a task with cached stacks whose
/// closure panics as it drops: the spawn is refused, and the refusal drops
/// the closure in the spawner, which fails. Returns how the heap in use
/// changed, from before to after a spawn with those stacks' size joined
/// after it (stacks given back are found in the cache; leaked ones are
/// not, and new ones are made).
fn spawn_refused_with(freed: usize, armed: bool) -> (Result<(), TaskFailure>, isize) {
    let prime = || task::Builder::new().stack_size(REFUSED_STACK).cpu(0).spawn(|| ()).unwrap().join().unwrap();
    prime();
    HOARD.lock().unwrap().reserve(128);
    let before = ilusion::mm::heap::stats().requested as isize;
    let spawner = task::Builder::new().cpu(0).spawn(move || {
        let mut hoard = HOARD.lock().unwrap();
        common::take_blocks_down_to(&mut hoard, 8);
        for _ in 0..freed {
            drop(hoard.pop());
        }
        drop(hoard);
        let capture = armed.then(|| PanicsOnDrop);
        let refused = task::Builder::new().stack_size(REFUSED_STACK).cpu(0).spawn(move || drop(capture));
        HOARD.lock().unwrap().clear();
        refused.is_err().then_some(()).ok_or(TaskFailure::Killed)
    });
    let outcome = spawner.unwrap().join().and_then(|refused| refused);
    HOARD.lock().unwrap_or_else(|e| e.into_inner()).clear();
    HOARD.clear_poison();
    prime();
    (outcome, ilusion::mm::heap::stats().requested as isize - before)
}

/// A spawn refused for want of memory drops its closure (application
/// code, which may panic and end the spawner) only after it has given
/// back what it had taken: the stacks, an isolated task's address space.
/// Before, a closure that panicked there left them leaked.
fn a_refused_spawn_gives_back_before_it_drops_the_closure() {
    for (freed, stage) in [(0, "closure's box"), (1, "control block")] {
        let (plain, plain_grew) = spawn_refused_with(freed, false);
        let (panicked, grew) = spawn_refused_with(freed, true);
        let failed = matches!(&panicked, Err(TaskFailure::Panic { message }) if message.contains("capture panics"));
        ilusion::println!(
            "refused at the {stage}: plain {plain:?}, heap {plain_grew:+} bytes; panicking closure {}, heap {grew:+} bytes",
            if failed { "failed the spawner" } else { "did not fail the spawner" }
        );
        check(
            plain == Ok(()) && failed && grew - plain_grew < 4096,
            "a_refused_spawn_gives_back_before_it_drops_the_closure",
            format_args!("at the {stage}: {plain:?} {panicked:?}, {} bytes more", grew - plain_grew),
        );
    }
}
