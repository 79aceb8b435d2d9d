//! QEMU test: the priority contract on several cores (issue 12). While a
//! task is ready and not running, no core runs a less urgent one: with N
//! cores online and N + 1 spinning preemptive tasks at distinct
//! priorities, the N most urgent run, one per core, and the least urgent
//! never does, for as long as the others spin.
//!
//! A coordinator, more urgent than every spinner, spawns them most urgent
//! first (so the least urgent is never ready while a core is idle), then
//! sleeps, 1 ms at a time: while it sleeps its own core takes the N-th
//! spinner, and each time it wakes it preempts that one. Once the spinning
//! window has passed and each of the N most urgent has counted, on every
//! core (QEMU may leave a core's thread without a host processor for a
//! while, so this is waited for, up to [`PATIENCE`]), it tells them to
//! stop; the least urgent spinner, which looks at the stop flag before it
//! counts, must never have counted. Done for several rounds; with one core
//! online the same logic runs with N = 1.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// How long the spinners spin each round, at least.
const WINDOW: Duration = Duration::from_millis(20);
/// How long to wait for the N most urgent spinners to have run on every core.
const PATIENCE: Duration = Duration::from_secs(2);
const ROUNDS: usize = 5;
/// The coordinator's priority; the spinners' come after it, one level each.
const COORDINATOR: u8 = 1;

/// What one spinner did: how many times it counted, on which cores (bit `n`: core `n`).
struct Spinner {
    count: AtomicU64,
    cores: AtomicU64,
}

fn main() {
    let cores = require_cores(1);
    for round in 1..=ROUNDS {
        let (counts, cores_seen) = spin_round(cores);
        let least = *counts.last().unwrap();
        let others_ran = counts[..cores].iter().all(|&c| c > 0);
        ilusion::println!(
            "round {round}: {cores} cores, {} spinners: counts {counts:?}, cores {cores_seen:x?}",
            cores + 1
        );
        check(
            least == 0 && others_ran,
            "least_urgent_never_runs",
            format_args!("round {round}: least urgent counted {least}, the {cores} more urgent ran: {others_ran}"),
        );
        let used = cores_seen[..cores].iter().fold(0, |all, c| all | c);
        let online = ilusion::percpu::online_mask();
        check(
            used == online,
            "every_core_runs_a_spinner",
            format_args!("round {round}: the {cores} most urgent ran on cores {used:#x}, online {online:#x}"),
        );
    }
    finish()
}

/// One round: N + 1 spinners for [`WINDOW`]; their counts and cores, most urgent first.
fn spin_round(cores: usize) -> (Vec<u64>, Vec<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<Arc<Spinner>> =
        (0..=cores).map(|_| Arc::new(Spinner { count: AtomicU64::new(0), cores: AtomicU64::new(0) })).collect();
    let s = spinners.clone();
    Builder::new()
        .name("coordinator")
        .cpus(ilusion::percpu::ALL_CPUS)
        .priority(Priority::Preemptive(COORDINATOR))
        .spawn(move || {
            // Most urgent first: each is the most urgent ready task when spawned.
            let handles: Vec<_> = s
                .iter()
                .enumerate()
                .map(|(i, spinner)| {
                    let (spinner, stop) = (spinner.clone(), stop.clone());
                    Builder::new()
                        .name("spinner")
                        .cpus(ilusion::percpu::ALL_CPUS)
                        .priority(Priority::Preemptive(COORDINATOR + 1 + i as u8))
                        .spawn(move || spin(&spinner, &stop))
                        .expect("spawn spinner")
                })
                .collect();
            let start = Instant::now();
            let online = ilusion::percpu::online_mask();
            loop {
                time::sleep(Duration::from_millis(1));
                let urgent = &s[..s.len() - 1];
                let all_ran = urgent.iter().all(|s| s.count.load(Ordering::SeqCst) > 0);
                let cores = urgent.iter().fold(0, |all, s| all | s.cores.load(Ordering::SeqCst));
                let waited = start.elapsed();
                if waited >= PATIENCE || (waited >= WINDOW && all_ran && cores == online) {
                    break;
                }
            }
            stop.store(true, Ordering::SeqCst);
            handles.into_iter().for_each(|h| h.join().expect("spinner"));
        })
        .expect("spawn coordinator")
        .join()
        .expect("coordinator");
    let counts = spinners.iter().map(|s| s.count.load(Ordering::SeqCst)).collect();
    let cores_seen = spinners.iter().map(|s| s.cores.load(Ordering::SeqCst)).collect();
    (counts, cores_seen)
}

/// Counts until told to stop, looking at the flag before each count, and
/// notes the cores it runs on.
fn spin(me: &Spinner, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        me.count.fetch_add(1, Ordering::Relaxed);
        me.cores.fetch_or(1 << task::current_cpu(), Ordering::Relaxed);
    }
}
