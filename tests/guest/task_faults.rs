//! QEMU test: a task that fails ends alone. A panic, a bad pointer, an
//! undefined instruction and a stack overflow (twice in a row, while another
//! task keeps counting) each end only their task, `join` says why, and a
//! mutex held by a failed task is poisoned. A kernel task that makes a
//! system call (`syscall::user`, for isolated tasks) ends alone, and its
//! report says so.
//!
//! Everything runs on one core ([`CORE`]): the bystander must keep counting
//! on the very core where tasks keep failing, which only a fault path that
//! gives that core back to the other tasks allows (on another core it
//! would count whatever the fault path did).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish, on_core};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::sync::{Mutex, TryLockError};
use ilusion::task::{Builder, TaskFailure};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

/// The core every task of this test runs on.
const CORE: usize = 0;

fn main() {
    on_core(CORE, failures_end_alone);
    finish();
}

fn failures_end_alone() {
    let heartbeat = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (h, s) = (heartbeat.clone(), stop.clone());
    let bystander = Builder::new()
        .name("bystander")
        .cpu(CORE)
        .spawn(move || {
            while !s.load(Ordering::Relaxed) {
                h.fetch_add(1, Ordering::Relaxed);
                time::sleep(Duration::from_micros(200));
            }
            "still fine"
        })
        .unwrap();

    let r = Builder::new().name("panicker").cpu(CORE).spawn(|| -> u32 { panic!("deliberate {}", 42) }).unwrap().join();
    check(r == Err(TaskFailure::Panic { message: "deliberate 42".into() }), "panic_gives_err", format_args!("{r:?}"));

    let r = Builder::new()
        .cpu(CORE)
        .spawn(|| {
            // SAFETY: none: this is the bug under test (an unmapped address).
            unsafe { core::ptr::read_volatile(0x10 as *const u64) }
        })
        .unwrap()
        .join();
    check(matches!(r, Err(TaskFailure::MemoryAccess { addr: 0x10, .. })), "null_read_gives_err", format_args!("{r:?}"));

    let r = Builder::new()
        .cpu(CORE)
        .spawn(|| {
            // SAFETY: none: UDF is the bug under test.
            unsafe { core::arch::asm!("udf #0") };
        })
        .unwrap()
        .join();
    check(matches!(r, Err(TaskFailure::IllegalInstruction { .. })), "udf_gives_err", format_args!("{r:?}"));

    for round in 1..=2 {
        let before = heartbeat.load(Ordering::Relaxed);
        let r = Builder::new().name("recursor").cpu(CORE).stack_size(16 * 1024).spawn(|| recurse(0)).unwrap().join();
        let advanced = common::counter_advances(&heartbeat, before);
        let after = heartbeat.load(Ordering::Relaxed);
        check(r == Err(TaskFailure::StackOverflow), "stack_overflow_caught", format_args!("round {round}: {r:?}"));
        check(advanced, "others_keep_running", format_args!("round {round}: heartbeat {before} -> {after}"));
    }

    let shared = Arc::new(Mutex::new(0));
    let m = shared.clone();
    let r = Builder::new()
        .cpu(CORE)
        .spawn(move || {
            let mut g = m.lock().unwrap();
            *g = 7;
            panic!("with the lock held");
        })
        .unwrap()
        .join();
    check(r.is_err(), "holder_failed", format_args!("{r:?}"));
    match shared.lock() {
        Err(poisoned) => {
            let value = *poisoned.into_inner();
            check(value == 7, "mutex_poisoned", format_args!("value {value}"));
        }
        Ok(_) => check(false, "mutex_poisoned", format_args!("lock succeeded")),
    }
    check(shared.is_poisoned(), "stays_poisoned", format_args!(""));
    // `try_lock` says so too: the lock is free, the guard comes inside the error.
    let tried = match shared.try_lock() {
        Err(TryLockError::Poisoned(poisoned)) => Ok(*poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => Err("WouldBlock"),
        Ok(_) => Err("Ok: the poison was not reported"),
    };
    check(tried == Ok(7), "try_lock_poisoned", format_args!("{tried:?}"));

    // A kernel task making a system call, the isolated tasks' way into the
    // kernel (`syscall::user`): it ends alone, and the report says what it
    // did and what a kernel task does instead (it said only "unexpected
    // exception: supervisor call (SVC #0)").
    let r =
        Builder::new().name("syscaller").cpu(CORE).spawn(|| -> u32 { ilusion::syscall::user::exit(3) }).unwrap().join();
    check(
        matches!(r, Err(TaskFailure::Exception { esr, .. }) if esr >> 26 == 0x15),
        "kernel_task_system_call_gives_err",
        format_args!("{r:?}"),
    );

    stop.store(true, Ordering::Relaxed);
    let r = bystander.join();
    check(r == Ok("still fine"), "bystander_unharmed", format_args!("{r:?}"));
}

/// Recurses until the stack runs out (the frame is kept alive by `black_box`).
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[depth as usize % 32]
}
