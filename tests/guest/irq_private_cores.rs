//! QEMU test: an application's software interrupt reaches its handler on
//! every core, whichever core the task that registered it ran on. A task
//! may run on any core, so an interrupt of the core's own (an SGI) that it
//! registers must be on wherever it later raises it. On a GICv3 `register`
//! enabled it on the calling core only: raised by a task on another core,
//! it stayed pending there, its handler never run, and nothing said so.
//! `unregister` takes it away on every core the same way; registered again
//! from a third core, it is back on all of them.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicUsize, Ordering};
use ilusion::irq::{self, IntId, IrqError};
use ilusion::percpu::MAX_CPUS;
use ilusion::task::Builder;
use ilusion::time::{sleep, Duration};

ilusion::entry!(main);

/// An application's software interrupt.
const SGI: IntId = 3;

/// How many times the handler ran on each core.
static RAN: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

fn on_sgi(_: IntId) {
    RAN[ilusion::task::current_cpu()].fetch_add(1, Ordering::Relaxed);
}

/// Runs `f` in a task pinned to core `cpu`; returns what it returned.
fn on<T: Send + 'static>(cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    Builder::new().cpu(cpu).spawn(f).expect("a pinned task").join().expect("the pinned task")
}

/// Raises the interrupt from a task on each core; the cores whose handler ran.
fn raise_on_every_core(cores: usize) -> [bool; MAX_CPUS] {
    let mut ran = [false; MAX_CPUS];
    for (cpu, ran) in ran.iter_mut().enumerate().take(cores) {
        let before = RAN[cpu].load(Ordering::Relaxed);
        let sent = on(cpu, || irq::send_software_interrupt(SGI));
        sleep(Duration::from_millis(2));
        *ran = sent.is_ok() && RAN[cpu].load(Ordering::Relaxed) > before;
    }
    ran
}

fn main() {
    let cores = require_cores(2);
    let registered = on(1, || irq::register(SGI, on_sgi));
    check(registered.is_ok(), "registered_on_core_1", format_args!("{registered:?}"));
    let ran = raise_on_every_core(cores);
    check(
        ran[..cores].iter().all(|&r| r),
        "handler_runs_on_every_core",
        format_args!("registered on core 1, raised on each core: the handler ran on {:?}", &ran[..cores]),
    );
    let unregistered = on(cores - 1, || irq::unregister(SGI));
    let ran = raise_on_every_core(cores);
    check(
        unregistered.is_ok() && ran[..cores].iter().all(|&r| !r),
        "unregistered_runs_nowhere",
        format_args!("unregister: {unregistered:?}; the handler still ran on {:?}", &ran[..cores]),
    );
    let again = on(0, || irq::register(SGI, on_sgi));
    let ran = raise_on_every_core(cores);
    check(
        again.is_ok() && ran[..cores].iter().all(|&r| r),
        "registered_again_runs_on_every_core",
        format_args!("register: {again:?}; the handler ran on {:?}", &ran[..cores]),
    );
    check(
        irq::register(SGI, on_sgi) == Err(IrqError::AlreadyRegistered(SGI)),
        "still_registered_once",
        format_args!("a second register was not refused"),
    );
    finish();
}
