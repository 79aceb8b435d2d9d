//! QEMU test, under real parallelism (MTTCG): tasks on every core run out
//! of kernel memory at the same moment, each with an allocation of its
//! own size and alignment, while others fail fallible allocations
//! (`try_reserve`) over and over; each task that could not fail softly
//! must end with `TaskFailure::OutOfKernelMemory` naming *its* size and
//! alignment.
//!
//! Each round, [`FAILERS`] tasks (some pinned to each core, some free)
//! wait at a gate, then ask for more than the whole heap (a `Vec` of
//! `HUGE + k` elements of 1, 8, 16 or 64-byte alignment); [`TRIERS`] tasks
//! meanwhile fail `try_reserve`s of other sizes. [`ROUNDS`] rounds.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use ilusion::task::{Builder, JoinHandle, TaskFailure};

ilusion::entry!(main);

const ROUNDS: usize = 20;
const FAILERS: usize = 8;
const TRIERS: usize = 4;
/// More bytes than the kernel heap has (1 GiB of RAM on QEMU virt).
const HUGE: usize = 2 << 30;

static GO: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Waits at the gate, then asks for `bytes` bytes aligned to `align` (a
/// growing `Vec`, which cannot fail softly): the task ends there.
fn failer(k: usize) -> usize {
    while !GO.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let bytes = HUGE + 64 * k;
    match k % 4 {
        0 => Vec::<u8>::with_capacity(bytes).capacity(),
        1 => Vec::<u64>::with_capacity(bytes / 8).capacity(),
        2 => Vec::<u128>::with_capacity(bytes / 16).capacity(),
        _ => Vec::<Line>::with_capacity(bytes / 64).capacity(),
    }
}

/// What [`failer`] `k` must end with.
fn expected(k: usize) -> TaskFailure {
    let align = [1, 8, 16, 64][k % 4];
    TaskFailure::OutOfKernelMemory { size: (HUGE + 64 * k) as u64, align }
}

fn trier(k: usize) -> usize {
    while !GO.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let mut failed = 0;
    while FAILED.load(Ordering::Acquire) < FAILERS {
        let mut v: Vec<u32> = Vec::new();
        failed += v.try_reserve_exact((HUGE + 4096 * (k + 1)) / 4).is_err() as usize;
    }
    failed
}

fn main() {
    let cores = require_cores(4);
    let mut wrong = 0;
    for round in 0..ROUNDS {
        GO.store(false, Ordering::SeqCst);
        FAILED.store(0, Ordering::SeqCst);
        let failers: Vec<JoinHandle<usize>> = (0..FAILERS)
            .map(|k| {
                let b = Builder::new().name("failer");
                let b = if k < 2 * cores { b.cpu(k % cores) } else { b };
                b.spawn(move || failer(k)).expect("spawn a failer")
            })
            .collect();
        let triers: Vec<JoinHandle<usize>> = (0..TRIERS)
            .map(|k| Builder::new().name("trier").cpu(k % cores).spawn(move || trier(k)).expect("spawn a trier"))
            .collect();
        GO.store(true, Ordering::Release);
        for (k, f) in failers.into_iter().enumerate() {
            let r = f.join();
            FAILED.fetch_add(1, Ordering::Release);
            if r != Err(expected(k)) {
                wrong += 1;
                ilusion::println!("round {round}: failer {k} ended {r:?}, expected Err({:?})", expected(k));
            }
        }
        let tried: usize = triers.into_iter().map(|t| t.join().expect("a trier failed")).sum();
        if round % 5 == 4 {
            ilusion::println!(
                "round {}: {FAILERS} failers, {tried} fallible failures meanwhile, {wrong} wrong so far",
                round + 1
            );
        }
    }
    check(wrong == 0, "each_failure_names_its_own_allocation", format_args!("{wrong} of {} failers", ROUNDS * FAILERS));
    finish()
}
