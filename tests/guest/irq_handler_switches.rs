//! QEMU test: an interrupt handler that yields, or that kills the task it
//! interrupted, does not switch tasks inside the handler. Before the fix,
//! either switched away in the middle of the timer's handler: the
//! interrupt was never finished, the core took no timer interrupt again,
//! and every sleeper on it waited for ever (the test hung). Now a yield in
//! a handler does nothing (the handler's end is the reschedule point), and
//! a kill there ends the task as any kill does, at its next block or
//! yield, after the handler has returned.
//!
//! An application's exception handler that wakes a more urgent task and
//! resumes is a reschedule point too, as an interrupt's end is: the task
//! runs before the code after the trap (it could wait up to a slice, its
//! wake missed by yields, when the hand-off kept it off the queues).
//!
//! A handler may spawn a task, even a more urgent one: the spawn returns
//! in the handler, and the new task first runs after the handler's end.
//!
//! Everything runs on core 0, where the periodic handler runs.

#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, on_core};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::exception::{ExceptionFrame, ExceptionHandler, Resolution};
use ilusion::task::{self, Builder, JoinHandle, Priority, TaskFailure};
use ilusion::time::{sleep, Duration};

ilusion::entry!(main);

const CORE: usize = 0;

static HANDLER_RAN: AtomicU64 = AtomicU64::new(0);
static VICTIM: AtomicU64 = AtomicU64::new(u64::MAX);
static KILL_RETURNED: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

fn main() {
    on_core(CORE, || {
        handler_that_yields();
        handler_that_kills_the_interrupted_task();
        exception_handler_wake_runs_at_its_end();
        handler_that_spawns();
    });
    finish();
}

fn yielding_handler() {
    HANDLER_RAN.fetch_add(1, Ordering::Relaxed);
    task::yield_now();
}

/// Two equal tasks spin while a 1 ms handler yields: the handler keeps
/// running, both tasks get the core, and this task's sleeps end.
fn handler_that_yields() {
    static COUNTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    STOP.store(false, Ordering::SeqCst);
    let spinners = [0, 1].map(|i| {
        Builder::new()
            .priority(Priority::Preemptive(20))
            .cpu(CORE)
            .spawn(move || {
                while !STOP.load(Ordering::Relaxed) {
                    COUNTS[i].fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    });
    ilusion::time::set_periodic(Duration::from_millis(1), yielding_handler).unwrap();
    // Slices are 10 ms: 50 ms gives each spinner several.
    for _ in 0..5 {
        sleep(Duration::from_millis(10));
    }
    ilusion::time::stop_periodic();
    STOP.store(true, Ordering::SeqCst);
    for s in spinners {
        s.join().unwrap();
    }
    let ran = HANDLER_RAN.load(Ordering::Relaxed);
    let counts = [0, 1].map(|i| COUNTS[i].load(Ordering::Relaxed));
    check(
        ran >= 20 && counts.iter().all(|&c| c > 0),
        "handler_yield_does_not_switch",
        format_args!("handler ran {ran} times, spinners counted {counts:?}"),
    );
}

fn killing_handler() {
    let interrupted = task::current().id();
    if interrupted == VICTIM.load(Ordering::Relaxed) && !KILL_RETURNED.load(Ordering::Relaxed) {
        let killed = task::kill(interrupted);
        // Reached only if the kill did not end the task inside the handler.
        KILL_RETURNED.store(killed.is_ok(), Ordering::Relaxed);
    }
}

/// A 1 ms handler kills the task it interrupted: the kill returns, and the
/// task ends at its next yield, with `Killed`; the core goes on taking
/// timer interrupts (this task's sleeps end).
fn handler_that_kills_the_interrupted_task() {
    STOP.store(false, Ordering::SeqCst);
    let victim = Builder::new()
        .priority(Priority::Preemptive(20))
        .cpu(CORE)
        .spawn(|| {
            while !STOP.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
            task::yield_now(); // where a kill asked for ends a kernel task
        })
        .unwrap();
    VICTIM.store(victim.task().id(), Ordering::SeqCst);
    ilusion::time::set_periodic(Duration::from_millis(1), killing_handler).unwrap();
    let mut waited = 0;
    while !KILL_RETURNED.load(Ordering::Relaxed) && waited < 100 {
        sleep(Duration::from_millis(1));
        waited += 1;
    }
    ilusion::time::stop_periodic();
    let returned = KILL_RETURNED.load(Ordering::Relaxed);
    let still_running = !victim.is_finished();
    STOP.store(true, Ordering::SeqCst);
    let ended = victim.join();
    sleep(Duration::from_millis(5));
    check(
        returned && still_running && ended == Err(TaskFailure::Killed),
        "handler_kill_ends_task_after_handler",
        format_args!(
            "kill returned in the handler: {returned}, ran on until its yield: {still_running}, ended {ended:?}"
        ),
    );
}

static TO_WAKE: spin::Once<JoinHandle<()>> = spin::Once::new();
static WOKEN_RAN: AtomicBool = AtomicBool::new(false);

struct UnparkOnBreakpoint;

impl ExceptionHandler for UnparkOnBreakpoint {
    fn breakpoint(&self, frame: &mut ExceptionFrame, imm: u16) -> Resolution {
        if imm != 0x43 {
            return Resolution::NotHandled;
        }
        if let Some(h) = TO_WAKE.get() {
            h.unpark();
        }
        frame.skip_instruction();
        Resolution::Resume
    }
}

/// A breakpoint's handler unparks a more urgent task and resumes: that
/// task runs before the instruction after the breakpoint.
fn exception_handler_wake_runs_at_its_end() {
    ilusion::exception::set_handler(&UnparkOnBreakpoint);
    let woken = TO_WAKE.call_once(|| {
        Builder::new()
            .priority(Priority::Preemptive(3))
            .cpu(CORE)
            .spawn(|| {
                task::park(); // more urgent than this task: it runs at its spawn and parks
                WOKEN_RAN.store(true, Ordering::SeqCst);
            })
            .unwrap()
    });
    // SAFETY: the handler set above takes this breakpoint and resumes after it.
    unsafe { core::arch::asm!("brk #0x43") };
    let ran_at_once = WOKEN_RAN.load(Ordering::SeqCst);
    task::yield_now();
    let ran_after_a_yield = WOKEN_RAN.load(Ordering::SeqCst);
    while !woken.is_finished() {
        sleep(Duration::from_millis(1));
    }
    check(
        ran_at_once,
        "exception_handler_wake_runs_at_its_end",
        format_args!(
            "the woken task ran before the next instruction: {ran_at_once}, after a yield: {ran_after_a_yield}"
        ),
    );
}

/// The task `spawning_handler` spawned (taken by `handler_that_spawns`).
static SPAWNED: ilusion::critical::SpinLock<Option<JoinHandle<bool>>> =
    ilusion::critical::SpinLock::new("spawned in a handler", None);
static SPAWN_TRIED: AtomicBool = AtomicBool::new(false);
static SPAWN_FAILED: AtomicBool = AtomicBool::new(false);
static IN_HANDLER: AtomicBool = AtomicBool::new(false);
static SPAWNER_RAN: AtomicU64 = AtomicU64::new(0);

fn spawning_handler() {
    IN_HANDLER.store(true, Ordering::SeqCst);
    SPAWNER_RAN.fetch_add(1, Ordering::Relaxed);
    if !SPAWN_TRIED.swap(true, Ordering::Relaxed) {
        // More urgent than every task here: were it switched to at its
        // spawn, it would run inside this handler. It returns whether it did.
        let builder = Builder::new().name("spawned in a handler").priority(Priority::Preemptive(0)).cpu(CORE);
        match builder.spawn(|| IN_HANDLER.load(Ordering::SeqCst)) {
            Ok(handle) => SPAWNED.with(|slot| *slot = Some(handle)),
            Err(_) => SPAWN_FAILED.store(true, Ordering::Relaxed),
        }
    }
    IN_HANDLER.store(false, Ordering::SeqCst);
}

/// A 1 ms handler spawns a task more urgent than any: the spawn succeeds,
/// the task runs after the handler has returned (never inside it), and the
/// core goes on taking timer interrupts (this task's sleeps end).
fn handler_that_spawns() {
    ilusion::time::set_periodic(Duration::from_millis(1), spawning_handler).unwrap();
    for _ in 0..20 {
        sleep(Duration::from_millis(1));
    }
    ilusion::time::stop_periodic();
    let ran = SPAWNER_RAN.load(Ordering::Relaxed);
    let spawned = SPAWNED.with(|slot| slot.take());
    let failed = SPAWN_FAILED.load(Ordering::Relaxed);
    let ran_inside = spawned.map(|handle| handle.join());
    check(
        ran >= 10 && !failed && ran_inside == Some(Ok(false)),
        "handler_spawn_runs_after_handler",
        format_args!(
            "handler ran {ran} times, spawn failed: {failed}, the task ran inside the handler: {ran_inside:?}"
        ),
    );
}
