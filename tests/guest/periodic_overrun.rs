//! QEMU test: a periodic handler that runs longer than its period (here
//! 30 µs of work every 10 µs, as a `println!` in a fast handler would) does
//! not stop the tasks on its core.
//!
//! Its next deadline was computed before it ran; once it had run, that
//! deadline was past, the comparator fired again as the interrupt ended,
//! and the core ran the handler and nothing else, for good, silently (the
//! test hung). Now the periods it overran are skipped from the handler's
//! end, and the first overrun is reported (a warning in the log).
//!
//! Everything runs on core 0, where the handler runs: a task there must
//! still make progress (busy waits, sleeps, a task it spawns), and after
//! `stop_periodic` the handler runs no more.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

const CORE: usize = 0;
const PERIOD: Duration = Duration::from_micros(10);
/// How long each call of the handler takes: three periods.
const HANDLER_TAKES: Duration = Duration::from_micros(30);
const ROUNDS: u64 = 5;

static CALLS: AtomicU64 = AtomicU64::new(0);

fn slow_handler() {
    CALLS.fetch_add(1, Ordering::Relaxed);
    time::busy_wait(HANDLER_TAKES);
}

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn run() {
    ilusion::println!("a periodic handler taking {HANDLER_TAKES:?} every {PERIOD:?}");
    time::set_periodic(PERIOD, slow_handler).expect("periodic handler");
    let mut rounds = 0;
    for _ in 0..ROUNDS {
        time::busy_wait(Duration::from_millis(1));
        time::sleep(Duration::from_millis(1));
        let helper = ilusion::task::Builder::new().cpu(CORE).spawn(|| 7).expect("spawn a helper");
        if helper.join() == Ok(7) {
            rounds += 1;
        }
        ilusion::println!("round {rounds} done, the handler called {} times", CALLS.load(Ordering::Relaxed));
    }
    time::stop_periodic();
    let calls = CALLS.load(Ordering::Relaxed);
    check(rounds == ROUNDS, "tasks_run_beside_an_overrunning_handler", format_args!("{rounds} of {ROUNDS} rounds"));
    check(calls >= ROUNDS, "the_handler_still_runs", format_args!("{calls} calls"));
    time::sleep(Duration::from_millis(5));
    let after = CALLS.load(Ordering::Relaxed);
    check(after == calls, "stopped_handler_runs_no_more", format_args!("{calls} calls at the stop, {after} after"));
}
