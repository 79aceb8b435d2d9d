//! QEMU test, under real parallelism (MTTCG, issue 12): isolated tasks
//! fault on every core at once, and each fault ends only its task.
//!
//! A kernel watchdog pinned to each core counts every 200 µs. Then, for
//! each kind of fault in turn, one isolated task pinned to each core
//! commits it, all at the same time; each must end with exactly its
//! failure. After each wave every watchdog must count again (within a
//! second: a core's thread may wait for a host processor), and
//! after each round the frames the tasks held must all be back.
//! [`ROUNDS`] rounds in a row.
//!
//! The isolated closures use no formatting (nothing from `.rodata`).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{Builder, FaultAccess, JoinHandle, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 10;

/// A fault to commit, and whether an outcome is it.
type Fault = (&'static str, fn(), fn(&Result<(), TaskFailure>) -> bool);

const FAULTS: [Fault; 5] = [
    (
        "write to null",
        // SAFETY: none: the bad write is the fault under test.
        || unsafe { core::ptr::write_volatile(0x10 as *mut u64, 1) },
        |r| matches!(r, Err(TaskFailure::MemoryAccess { addr: 0x10, access: FaultAccess::Write, .. })),
    ),
    (
        "undefined instruction",
        // SAFETY: none: UDF is the fault under test.
        || unsafe { core::arch::asm!("udf #0") },
        |r| matches!(r, Err(TaskFailure::IllegalInstruction { .. })),
    ),
    (
        "stack overflow",
        || {
            core::hint::black_box(common::recurse(0));
        },
        |r| matches!(r, Err(TaskFailure::StackOverflow)),
    ),
    (
        "mask interrupts",
        // SAFETY: none: the privileged instruction is the fault under test.
        || unsafe { core::arch::asm!("msr daifset, #2") },
        |r| matches!(r, Err(TaskFailure::PrivilegedInstruction { .. })),
    ),
    (
        "breakpoint",
        // SAFETY: none: BRK is the fault under test.
        || unsafe { core::arch::asm!("brk #5") },
        |r| matches!(r, Err(TaskFailure::Breakpoint { imm: 5, .. })),
    ),
];

fn main() {
    let cores = require_cores(4);
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..cores).map(|_| AtomicU64::new(0)).collect());
    let watchdogs: Vec<JoinHandle<()>> =
        (0..cores).map(|cpu| spawn_watchdog(cpu, counts.clone(), stop.clone())).collect();
    time::sleep(Duration::from_millis(2));
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let frames = ilusion::mm::frames_in_use();
        let mut wrong = 0;
        let mut stalled = 0;
        for (name, fault, is_it) in FAULTS {
            let before: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            let wave: Vec<_> = (0..cores)
                .map(|cpu| Builder::new().name(name).cpu(cpu).spawn_isolated(fault).expect("spawn isolated"))
                .collect();
            for (cpu, task) in wave.into_iter().enumerate() {
                let outcome = task.join();
                if !is_it(&outcome) {
                    wrong += 1;
                    ilusion::println!("{name} on core {cpu}: {outcome:?}");
                }
            }
            // Every watchdog counts again soon (under MTTCG its core's thread
            // may wait a while for a host processor: up to a second).
            let counted = |cpu: usize| counts[cpu].load(Ordering::Relaxed) > before[cpu];
            let waited = Instant::now();
            while !(0..cores).all(counted) && waited.elapsed() < Duration::from_secs(1) {
                time::sleep(Duration::from_millis(1));
            }
            for cpu in 0..cores {
                if !counted(cpu) {
                    stalled += 1;
                    ilusion::println!("{name}: the watchdog on core {cpu} stalled");
                }
            }
        }
        let freed = ilusion::mm::frames_in_use() == frames;
        ilusion::println!(
            "round {round}: {} faults on each of {cores} cores: {wrong} wrong, watchdogs stalled {stalled}, frames freed {freed}, {} ms",
            FAULTS.len(),
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && stalled == 0 && freed;
        check(ok, "faults_end_only_their_task", format_args!("round {round}"));
        if !ok {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    watchdogs.into_iter().for_each(|w| w.join().expect("watchdog"));
    finish()
}

/// A kernel task pinned to `cpu`, more urgent than the isolated tasks, that
/// counts every 200 µs until `stop`, checking it stays on its core.
fn spawn_watchdog(cpu: usize, counts: Arc<Vec<AtomicU64>>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    Builder::new()
        .name("watchdog")
        .cpu(cpu)
        .priority(Priority::Preemptive(5))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(ilusion::task::current_cpu(), cpu, "watchdog moved");
                counts[cpu].fetch_add(1, Ordering::Relaxed);
                time::sleep(Duration::from_micros(200));
            }
        })
        .expect("spawn watchdog")
}
