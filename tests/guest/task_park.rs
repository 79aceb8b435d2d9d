//! QEMU test: suspend/resume as `task::park` and `JoinHandle::unpark`
//! (from a task and from an interrupt handler), and software-generated
//! interrupts (`irq::send_software_interrupt`).
//!
//! Each check says who runs *first* when a more urgent task is spawned or
//! unparked ("it runs right here"), which holds on one core: on several, an
//! idle core takes the urgent task and both run at once. So the checks run
//! on one core ([`CORE`]) with every task they spawn pinned there (the SGI
//! goes to that core too: it is sent to the core that sends it).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish, on_core};
use core::sync::atomic::{AtomicU32, Ordering};
use ilusion::task::{self, Builder, JoinHandle, Priority};

ilusion::entry!(main);

const SGI: u32 = 3;
static SGI_SEEN: AtomicU32 = AtomicU32::new(0);
static TO_UNPARK: spin::Once<JoinHandle<u32>> = spin::Once::new();

/// The core every task of this test runs on.
const CORE: usize = 0;

fn main() {
    on_core(CORE, || {
        park_and_unpark();
        unpark_before_park_is_kept();
        software_interrupt_unparks_urgent_task();
    });
    finish();
}

/// A parked task stays off the processor until unparked; then it runs.
fn park_and_unpark() {
    let steps = Arc::new(AtomicU32::new(0));
    let s = steps.clone();
    let h = Builder::new()
        .priority(Priority::Preemptive(5))
        .cpu(CORE)
        .spawn(move || {
            s.fetch_add(1, Ordering::SeqCst);
            task::park();
            s.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    // The more urgent task ran at spawn and parked itself.
    let parked = steps.load(Ordering::SeqCst) == 1;
    for _ in 0..10 {
        task::yield_now();
    }
    let still_parked = steps.load(Ordering::SeqCst) == 1 && !h.is_finished();
    h.unpark(); // it is more urgent: runs right here
    let resumed = steps.load(Ordering::SeqCst) == 2;
    h.join().unwrap();
    check(parked && still_parked && resumed, "park_unpark", format_args!("{parked} {still_parked} {resumed}"));
}

/// An unpark before the park leaves a token: the park returns at once.
fn unpark_before_park_is_kept() {
    let h = Builder::new()
        .priority(Priority::Preemptive(25))
        .cpu(CORE)
        .spawn(|| {
            task::park();
            7
        })
        .unwrap();
    h.unpark(); // it has not run yet
    check(h.join() == Ok(7), "unpark_before_park", format_args!("join failed"));
}

fn on_sgi(_: u32) {
    SGI_SEEN.fetch_add(1, Ordering::SeqCst);
    if let Some(h) = TO_UNPARK.get() {
        h.unpark();
    }
}

/// An SGI's handler unparks a more urgent task, which runs before the
/// interrupted task continues.
fn software_interrupt_unparks_urgent_task() {
    ilusion::irq::register(SGI, on_sgi).unwrap();
    let order = Arc::new(AtomicU32::new(0));
    let o = order.clone();
    let h = TO_UNPARK.call_once(|| {
        Builder::new()
            .priority(Priority::Preemptive(1))
            .cpu(CORE)
            .spawn(move || {
                let mut rounds = 0;
                for _ in 0..3 {
                    task::park();
                    o.fetch_add(1, Ordering::SeqCst);
                    rounds += 1;
                }
                rounds
            })
            .unwrap()
    });
    let mut in_order = true;
    for i in 1..=3 {
        ilusion::irq::send_software_interrupt(SGI).unwrap();
        in_order &= order.load(Ordering::SeqCst) == i;
    }
    let done = h.is_finished();
    let seen = SGI_SEEN.load(Ordering::SeqCst);
    check(in_order && done && seen == 3, "sgi_unparks_urgent_task", format_args!("{in_order} {done} {seen}"));
    check(ilusion::irq::send_software_interrupt(16).is_err(), "sgi_number_checked", format_args!("INTID 16 accepted"));
}
