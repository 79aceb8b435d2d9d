//! QEMU test: the trace's `start`, `stop` and `dump` called by tasks on
//! several cores at once (built with the `trace` feature). A dump reads the
//! cores' rings and the task names in place, without a lock; a `start` on
//! another core cleared the rings and let events in again while a dump was
//! printing them, and a second dump's end let names be written while the
//! first still read them (and both frames' lines came out mixed).
//!
//! Core 1 dumps [`DUMPS`] times; core 2 restarts the trace and stops it,
//! over and over, until the dumps are done; core 3 spawns named tasks (a
//! spawn, a switch, an exit each), so that there are events and names to
//! race over (with fewer cores, the three share them). tests/qemu.rs reads every dump back: each must be a whole,
//! consistent frame (its counts, its sum, its order, a name for every task).
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{self, Builder};
use ilusion::time::Duration;

ilusion::entry!(main);

/// How many dumps core 1 makes (tests/qemu.rs reads back as many).
const DUMPS: usize = 6;

static DONE: AtomicBool = AtomicBool::new(false);
static RESTARTS: AtomicU64 = AtomicU64::new(0);

fn main() {
    // With fewer cores (ILUSION_TEST_CORES), the three share what there is.
    let cores = task::cpus_online();
    ilusion::trace::start();
    let churn = Builder::new()
        .name("churn")
        .cpu(3 % cores)
        .spawn(move || {
            let mut n = 0u64;
            while !DONE.load(Ordering::Relaxed) {
                let name = alloc::format!("worker {n}");
                let _ = Builder::new().name(name).cpu(3 % cores).spawn(|| ()).map(|h| h.join());
                n += 1;
            }
            n
        })
        .expect("spawn churn");
    let restarter = Builder::new()
        .name("restarter")
        .cpu(2 % cores)
        .spawn(|| {
            while !DONE.load(Ordering::Relaxed) {
                ilusion::trace::start();
                ilusion::time::busy_wait(Duration::from_micros(200));
                ilusion::trace::stop();
                ilusion::trace::start();
                RESTARTS.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("spawn restarter");
    let dumper = Builder::new()
        .name("dumper")
        .cpu(1 % cores)
        .spawn(|| {
            for _ in 0..DUMPS {
                ilusion::time::sleep(Duration::from_millis(20));
                ilusion::trace::dump();
            }
            DONE.store(true, Ordering::Relaxed);
        })
        .expect("spawn dumper");
    dumper.join().expect("dumper");
    restarter.join().expect("restarter");
    let spawned = churn.join().expect("churn");
    ilusion::trace::stop();
    ilusion::println!(
        "trace races: {DUMPS} dumps, {} restarts, {spawned} tasks spawned meanwhile",
        RESTARTS.load(Ordering::Relaxed)
    );
    ilusion::println!("trace races ok");
}
