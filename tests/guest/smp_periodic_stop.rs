//! QEMU test, under real parallelism (MTTCG): once `time::stop_periodic`
//! or a `time::set_periodic` that replaces the handler has returned, the
//! handler it stopped is not running on any core, nor starts again.
//!
//! The periodic handler runs on the core that set it; it is application
//! code, called outside the kernel's critical section. A task on another
//! core that stops it, then tears down what the handler uses (or reads
//! what it counted), must not find it still running there. [`TRIES`]
//! times: a task on core 1 sets a handler that takes [`HANDLER_BUSY`] of
//! every [`PERIOD`]; a task on core 0 waits a random moment, then stops
//! it (or, every other time, replaces it with another handler) and looks
//! at once whether the old handler is running, and a moment later whether
//! it was called again.

#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, on_core, require_cores, rng};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::Builder;
use ilusion::time::{self, Duration};

ilusion::entry!(main);

const TRIES: usize = 300;
const PERIOD: Duration = Duration::from_micros(100);
const HANDLER_BUSY: Duration = Duration::from_micros(80);

static CALLS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

fn busy_handler() {
    RUNNING.store(true, Ordering::SeqCst);
    CALLS.fetch_add(1, Ordering::SeqCst);
    time::busy_wait(HANDLER_BUSY);
    RUNNING.store(false, Ordering::SeqCst);
}

fn other_handler() {}

fn main() {
    require_cores(2);
    let (running, called) = on_core(0, || {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let (mut running, mut called) = (0, 0);
        for i in 0..TRIES {
            Builder::new()
                .cpu(1)
                .spawn(|| time::set_periodic(PERIOD, busy_handler).expect("period"))
                .expect("spawn the setter")
                .join()
                .expect("the setter");
            time::busy_wait(Duration::from_micros(50 + rng(&mut seed) % 300));
            if i % 2 == 0 {
                time::stop_periodic();
            } else {
                time::set_periodic(Duration::from_secs(10), other_handler).expect("period");
            }
            running += RUNNING.load(Ordering::SeqCst) as usize;
            let calls = CALLS.load(Ordering::SeqCst);
            time::busy_wait(PERIOD * 3);
            called += (CALLS.load(Ordering::SeqCst) != calls) as usize;
            while RUNNING.load(Ordering::SeqCst) {
                core::hint::spin_loop();
            }
        }
        time::stop_periodic();
        (running, called)
    });
    ilusion::println!(
        "{TRIES} stops: the old handler still running after {running}, called again after {called}, {} calls",
        CALLS.load(Ordering::SeqCst)
    );
    check(
        running == 0 && called == 0,
        "stopped_handler_is_done",
        format_args!(
            "after {running} of {TRIES} stops the handler was still running, after {called} it was called again"
        ),
    );
    finish()
}
