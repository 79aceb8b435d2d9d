//! QEMU test: ending tasks badly leaks nothing the OS made.
//!
//! Each cycle: a named kernel task panics, another is killed by a fault
//! (one cycle in [`KERNEL_FAULT_EVERY`]), a
//! named isolated task panics (the `panic` call), another is killed by a
//! fault, another exits with a failure status, an isolated task whose
//! closure captured a kernel `Vec` of 64 KiB runs (the spawner's copy is
//! dropped), and a supervised isolated task fails and is restarted once.
//! After a warm-up cycle (the OS's caches of freed stacks and frames fill
//! up), the kernel heap (bytes requested and allocated) and the frames in
//! use must be exactly where they were, after any number of cycles.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish};
use ilusion::mm::heap::HeapStats;
use ilusion::task::{self, Builder, Policy, Restart, TaskFailure};

ilusion::entry!(main);

/// Every stack is one page, like an isolated task's kernel-side stack, so the
/// cache of freed stacks holds the same bytes throughout.
const STACK: usize = 4096;

/// Cycles after the warm-up one (about 1.5 ms each on QEMU).
const CYCLES: usize = 10_000;
/// A kernel fault's report has a backtrace, which `boards/run` symbolizes
/// with one `addr2line` run per line (tens of ms, and the guest waits for
/// the console meanwhile): one cycle in this many has one.
const KERNEL_FAULT_EVERY: usize = 100;

fn usage() -> (HeapStats, usize) {
    (ilusion::mm::heap::stats(), ilusion::mm::frames_in_use())
}

/// The core every task of this test runs on.
const CORE: usize = 0;

fn builder(name: &str) -> Builder {
    Builder::new().name(name).cpu(CORE).stack_size(STACK)
}

/// Cycle `n`; the number of outcomes that were not the expected ones.
fn cycle(n: usize) -> usize {
    let mut wrong = 0;
    let mut expect = |ok: bool, what: &dyn core::fmt::Debug| {
        if !ok {
            wrong += 1;
            ilusion::println!("unexpected: {what:?}");
        }
    };
    let r = builder("panicker").spawn(|| -> u32 { panic!("deliberate {}", 1) }).unwrap().join();
    expect(r == Err(TaskFailure::Panic { message: "deliberate 1".into() }), &r);
    if n.is_multiple_of(KERNEL_FAULT_EVERY) {
        // SAFETY: none: a deliberate read of an unmapped address, which ends the task.
        let r = builder("faulter").spawn(|| unsafe { core::ptr::read_volatile(0x10 as *const u64) }).unwrap().join();
        expect(matches!(r, Err(TaskFailure::MemoryAccess { addr: 0x10, .. })), &r);
    }
    let r = builder("isolated panicker").spawn_isolated::<_, ()>(|| panic!("isolated {}", 2)).unwrap().join();
    expect(r == Err(TaskFailure::Panic { message: "isolated 2".into() }), &r);
    let r = builder("isolated faulter")
        // SAFETY: none: a deliberate write to an unmapped address, which ends the task.
        .spawn_isolated(|| unsafe { core::ptr::write_volatile(0x10 as *mut u64, 1) })
        .unwrap()
        .join();
    expect(matches!(r, Err(TaskFailure::MemoryAccess { addr: 0x10, .. })), &r);
    let r = builder("exiter").spawn_isolated::<_, ()>(|| ilusion::syscall::user::exit(3)).unwrap().join();
    expect(r == Err(TaskFailure::Exited { status: 3 }), &r);
    let kernel_vec: Vec<u8> = alloc::vec![7; 64 * 1024];
    let r = builder("captor")
        .spawn_isolated(move || {
            // Kernel memory, out of reach here: neither read nor freed.
            core::mem::forget(core::hint::black_box(kernel_vec));
        })
        .unwrap()
        .join();
    expect(r == Ok(()), &r);
    let r = task::supervise(Builder::new().name("flaky").cpu(CORE), Policy::new(Restart::UpTo(1)), || panic!("flaky"));
    let ok = matches!(&r, Ok(s) if s.restarts == 1 && s.outcome == Err(TaskFailure::Panic { message: "flaky".into() }));
    expect(ok, &r);
    wrong
}

fn main() {
    common::on_core(CORE, cycles);
    finish()
}

fn cycles() {
    let wrong = cycle(0);
    check(wrong == 0, "first_cycle_outcomes", format_args!("{wrong} unexpected"));
    let baseline = usage();
    let start = ilusion::time::Instant::now();
    let mut wrong = 0;
    for n in 1..=CYCLES {
        wrong += cycle(n);
    }
    let now = usage();
    ilusion::println!("{CYCLES} more cycles in {} ms", start.elapsed().as_millis());
    check(wrong == 0, "every_cycle_outcomes", format_args!("{wrong} unexpected"));
    check(now == baseline, "heap_and_frames_exactly_at_baseline", format_args!("{baseline:?} -> {now:?}"));
}
