//! QEMU test, under real parallelism (MTTCG, issue 12): a line printed on
//! one core comes out whole while other cores print fault reports and
//! long prints of their own.
//!
//! A kernel task pinned to core 0 prints [`LINES`] lines, each its number
//! and the same long pattern: half one line per `println!`, half four lines
//! per `println!` (about 400 bytes, more than the console's buffer).
//! Meanwhile, on each other core, isolated tasks write to address 0x10 one
//! after another; each fault ends its task with a report the kernel
//! prints. And an isolated "poet" on the last core prints [`POET_LINES`]
//! lines four per `println!` too, through the `console_write` system call.
//! The test runner checks that every printer and poet line is whole
//! (`WHOLE_LINES` in tests/qemu.rs): a report written without the console
//! lock (as fault reports once were) cuts into them, and so did a long
//! print cut at the buffer's size rather than at a line end (as the
//! console did until session 13: seen as another task's line inside a
//! row of `mm::dump`'s table).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{Builder, FaultAccess, TaskFailure};

ilusion::entry!(main);

/// How many lines the printer prints (tests/qemu.rs expects them all).
const LINES: usize = 400;
/// How many lines the isolated poet prints (tests/qemu.rs expects them all).
const POET_LINES: usize = 200;
/// What follows each line's number (the same text as in tests/qemu.rs).
const PATTERN: &str = "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn main() {
    let cores = require_cores(2);
    let done = Arc::new(AtomicBool::new(false));
    let faults = Arc::new(AtomicU64::new(0));
    let vandals: Vec<_> = (1..cores)
        .map(|cpu| {
            let (done, faults) = (done.clone(), faults.clone());
            Builder::new()
                .cpu(cpu)
                .spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        let task = Builder::new().name("vandal").cpu(cpu);
                        // SAFETY: none: the bad write is the fault under test.
                        let outcome = task
                            .spawn_isolated(|| unsafe { core::ptr::write_volatile(0x10 as *mut u64, 1) })
                            .expect("spawn vandal")
                            .join();
                        let right = matches!(
                            outcome,
                            Err(TaskFailure::MemoryAccess { addr: 0x10, access: FaultAccess::Write, .. })
                        );
                        assert!(right, "a vandal ended with {outcome:?}");
                        faults.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("spawn vandal loop")
        })
        .collect();
    let poet = Builder::new()
        .name("poet")
        .cpu(cores - 1)
        .spawn_isolated(|| (0..POET_LINES).step_by(4).for_each(|i| print_four("[poet]", i)))
        .expect("spawn poet");
    let printer = Builder::new()
        .cpu(0)
        .spawn(|| {
            for i in 0..LINES / 2 {
                ilusion::println!("[printer] {i:04} {PATTERN}");
            }
            (LINES / 2..LINES).step_by(4).for_each(|i| print_four("[printer]", i));
        })
        .expect("spawn printer");
    printer.join().expect("printer");
    poet.join().expect("poet");
    done.store(true, Ordering::Relaxed);
    vandals.into_iter().for_each(|v| v.join().expect("vandal loop"));
    let faults = faults.load(Ordering::Relaxed);
    ilusion::println!("{LINES} lines printed on core 0 while {faults} isolated tasks failed on the other cores");
    check(faults > 0, "faults_reported_meanwhile", format_args!("no fault while the printer printed"));
    finish()
}

/// Lines `first` to `first + 3`, in one `println!` (kernel or EL0).
fn print_four(who: &str, first: usize) {
    let (a, b, c, d) = (first, first + 1, first + 2, first + 3);
    ilusion::println!("{who} {a:04} {PATTERN}\n{who} {b:04} {PATTERN}\n{who} {c:04} {PATTERN}\n{who} {d:04} {PATTERN}");
}
