//! QEMU test: ilusion's APIs for kernel tasks, called in an isolated task
//! (a careless use: they touch kernel state, or mask interrupts), end that
//! task with a report that says so.
//!
//! A `Mutex`, a `Semaphore`, `time::set_periodic`, `irq::register` and
//! `task::spawn` each end the task with `PrivilegedInstruction` or a
//! `MemoryAccess` of kernel memory, as before; the report used to give only
//! a system register's name (`S3_0_C4_C2_0`) or a kernel address. It now
//! names the function it failed in and that these APIs are kernel-only, and
//! what an isolated task has instead. The machine runs on, and no periodic
//! handler or interrupt handler was installed.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use ilusion::sync::{Mutex, Semaphore};
use ilusion::task::{Builder, Priority, TaskFailure};
use ilusion::time::Duration;

ilusion::entry!(main);

fn isolated() -> Builder {
    Builder::new().priority(Priority::Preemptive(10))
}

fn kernel_only(name: &str, outcome: Result<u32, TaskFailure>) {
    let refused = match &outcome {
        Err(TaskFailure::PrivilegedInstruction { .. }) => true,
        Err(TaskFailure::MemoryAccess { addr, .. }) => addr >> 63 == 1,
        _ => false,
    };
    check(refused, name, format_args!("{outcome:?}"));
}

fn never() {}

/// An interrupt the board's controller has and nothing uses (the Pi 3's numbering ends at 95).
fn spare() -> ilusion::irq::IntId {
    if ilusion::board::NAME == "rpi3" {
        32 + 10
    } else {
        100
    }
}

fn main() {
    let run = |f: fn() -> u32| isolated().spawn_isolated(f).expect("spawn").join();
    kernel_only(
        "mutex_in_an_isolated_task",
        run(|| {
            let m = Mutex::new(1u32);
            let g = m.lock().unwrap_or_else(|e| e.into_inner());
            *g
        }),
    );
    kernel_only(
        "semaphore_in_an_isolated_task",
        run(|| {
            let s = Semaphore::new(1);
            s.acquire();
            1
        }),
    );
    kernel_only(
        "set_periodic_in_an_isolated_task",
        run(|| ilusion::time::set_periodic(Duration::from_millis(1), never).is_ok() as u32),
    );
    kernel_only("irq_register_in_an_isolated_task", run(|| ilusion::irq::register(spare(), |_| {}).is_ok() as u32));
    kernel_only("spawn_in_an_isolated_task", run(|| ilusion::task::spawn(|| 1u32).join().unwrap_or(0)));
    // Nothing of that reached the kernel: the interrupt is free, time runs.
    let free = ilusion::irq::register(spare(), |_| {});
    check(free.is_ok(), "interrupt_left_free", format_args!("{free:?}"));
    let _ = ilusion::irq::unregister(spare());
    ilusion::time::sleep(Duration::from_millis(2));
    finish()
}
