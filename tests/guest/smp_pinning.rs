//! QEMU test: affinity (issue 12). A task pinned to core 3 with
//! `Builder::cpu(3)` runs there and nowhere else: it samples
//! `task::current_cpu()` thousands of times, across yields, sleeps, waits
//! on a semaphore and preemptions by more urgent unpinned tasks that keep
//! every core busy in bursts (so a migration would have somewhere to go),
//! and every sample says 3. A task restricted to cores 1 and 2 with
//! `Builder::cpus` is only ever seen on those. Cores that are not online
//! are refused with `SpawnError::NoAllowedCpu`.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::percpu::MAX_CPUS;
use ilusion::sync::Semaphore;
use ilusion::task::{self, Builder, Priority, SpawnError};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

/// The core the sampler is pinned to.
const PINNED: usize = 3;
/// The cores the restricted task may run on (bit `n`: core `n`).
const RESTRICTED: u64 = 0b110;
const SAMPLES: u64 = 4000;

/// What a sampler saw: samples taken, and on which cores (bit `n`: core `n`).
struct Seen {
    samples: u64,
    cores: u64,
}

fn main() {
    let cores = require_cores(PINNED + 1);
    let stop = Arc::new(AtomicBool::new(false));
    let disturbers: Vec<_> = (0..cores).map(|_| spawn_disturber(stop.clone())).collect();

    let ping = Arc::new(Semaphore::new(0));
    let p = ping.clone();
    let pinger = Builder::new()
        .name("pinger")
        .cpus(ilusion::percpu::ALL_CPUS)
        .spawn(move || {
            for _ in 0..SAMPLES / 4 {
                time::sleep(Duration::from_micros(100));
                p.release();
            }
        })
        .expect("spawn pinger");
    let pinned = Builder::new().name("pinned").cpu(PINNED).spawn(move || sample(&ping)).expect("spawn pinned");
    let restricted = Builder::new()
        .name("restricted")
        .cpus(RESTRICTED)
        .spawn(|| sample(&Semaphore::new(SAMPLES as usize)))
        .expect("spawn restricted");
    let pinned = pinned.join().expect("pinned");
    let restricted = restricted.join().expect("restricted");
    pinger.join().expect("pinger");
    stop.store(true, Ordering::Relaxed);
    let disturbed: u64 = disturbers.into_iter().map(|d| d.join().expect("disturber")).fold(0, |all, c| all | c);

    ilusion::println!(
        "pinned to core {PINNED}: {} samples on cores {:#b}; restricted to {RESTRICTED:#b}: {} samples on cores {:#b}; unpinned disturbers ran on {disturbed:#b}",
        pinned.samples,
        pinned.cores,
        restricted.samples,
        restricted.cores
    );
    check(
        pinned.samples == SAMPLES && pinned.cores == 1 << PINNED,
        "pinned_task_stays_on_its_core",
        format_args!("seen on cores {:#b}", pinned.cores),
    );
    check(
        restricted.samples == SAMPLES && restricted.cores & !RESTRICTED == 0,
        "restricted_task_stays_in_its_mask",
        format_args!("seen on cores {:#b}", restricted.cores),
    );
    refusals(cores);
    finish()
}

/// Samples the core it runs on [`SAMPLES`] times, between which it yields,
/// sleeps, waits on `ping`, or spins past a time slice, in turn.
fn sample(ping: &Semaphore) -> Seen {
    let mut seen = Seen { samples: 0, cores: 0 };
    for i in 0..SAMPLES {
        seen.cores |= 1 << task::current_cpu();
        seen.samples += 1;
        match i % 4 {
            0 => task::yield_now(),
            1 => time::sleep(Duration::from_micros(50)),
            2 => ping.acquire(),
            _ => time::busy_wait(Duration::from_micros(30)),
        }
    }
    seen
}

/// An unpinned task, more urgent than the samplers, that keeps a core busy
/// in bursts (preempting whatever runs there) until `stop`; returns the
/// cores it ran on.
fn spawn_disturber(stop: Arc<AtomicBool>) -> task::JoinHandle<u64> {
    let cores = AtomicU64::new(0);
    Builder::new()
        .name("disturber")
        .cpus(ilusion::percpu::ALL_CPUS)
        .priority(Priority::Preemptive(5))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                cores.fetch_or(1 << task::current_cpu(), Ordering::Relaxed);
                time::busy_wait(Duration::from_micros(200));
                time::sleep(Duration::from_micros(300));
            }
            cores.load(Ordering::Relaxed)
        })
        .expect("spawn disturber")
}

/// A core that is not online, or does not exist, is refused, naming the cores online.
fn refusals(cores: usize) {
    let online = ilusion::percpu::online_mask();
    let mut refused = Vec::new();
    for cpu in [cores, MAX_CPUS, 64, usize::MAX] {
        let r = Builder::new().cpu(cpu).spawn(|| ());
        let ok = cpu >= MAX_CPUS && matches!(r, Err(SpawnError::NoAllowedCpu { mask: 0, online: o }) if o == online)
            || cpu < MAX_CPUS
                && matches!(r, Err(SpawnError::NoAllowedCpu { mask, online: o }) if mask == 1 << cpu && o == online);
        refused.push(ok);
        if let Err(e) = &r {
            ilusion::println!("cpu({cpu}): {e}");
        }
    }
    check(refused.iter().all(|&r| r), "offline_cores_refused", format_args!("{refused:?}"));
}
