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
use core::time::Duration;
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
        token_serves_one_park();
        software_interrupt_unparks_urgent_task();
        handler_wakes_most_urgent_first();
        handler_wake_waits_for_cooperative_task();
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

/// The token is for one `park`: the next one waits for the next unpark.
/// Two unparks before a park leave one token, as `std`'s do.
fn token_serves_one_park() {
    let steps = Arc::new(AtomicU32::new(0));
    let s = steps.clone();
    let h = Builder::new()
        .priority(Priority::Preemptive(25))
        .cpu(CORE)
        .spawn(move || {
            task::park(); // the token is there: returns at once
            s.fetch_add(1, Ordering::SeqCst);
            task::park(); // no token left: waits
            s.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    h.unpark(); // it has not run yet: both leave the one token
    h.unpark();
    ilusion::time::sleep(Duration::from_millis(20)); // it runs while this task sleeps
    let (after_token, parked) = (steps.load(Ordering::SeqCst), !h.is_finished());
    h.unpark();
    h.join().unwrap();
    let resumed = steps.load(Ordering::SeqCst);
    check(
        after_token == 1 && parked && resumed == 2,
        "token_serves_one_park",
        format_args!("after the token: {after_token} step(s), parked {parked}; after the unpark: {resumed} steps"),
    );
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

/// The sets of tasks the second SGI's handler unparks, in order: one set a
/// round ([`ROUND`] says which). (Set once each, before the SGI that reads
/// them: no lock between a task and the handler.)
static TO_WAKE: [[spin::Once<JoinHandle<()>>; 2]; 3] = [const { [const { spin::Once::new() }; 2] }; 3];
static ROUND: AtomicU32 = AtomicU32::new(0);
/// Who ran, in order: one decimal digit per task.
static RAN: AtomicU32 = AtomicU32::new(0);
const SGI_WAKES: u32 = 4;

fn on_sgi_wakes(_: u32) {
    for h in &TO_WAKE[ROUND.load(Ordering::SeqCst) as usize] {
        if let Some(h) = h.get() {
            h.unpark();
        }
    }
}

/// Waits (yielding) until the tasks of round `round` have ended.
fn wait_for_round(round: usize) {
    while !TO_WAKE[round].iter().all(|h| h.get().is_none_or(JoinHandle::is_finished)) {
        task::yield_now();
    }
}

/// A task at `priority`, more urgent than the caller (so it runs at its
/// spawn and parks), that notes `digit` in [`RAN`] when unparked.
fn parked_task(priority: Priority, digit: u32) -> JoinHandle<()> {
    Builder::new()
        .priority(priority)
        .cpu(CORE)
        .spawn(move || {
            task::park();
            RAN.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| Some(r * 10 + digit)).unwrap();
        })
        .unwrap()
}

/// One handler wakes two tasks more urgent than the interrupted one, in
/// either order: the most urgent runs first, then the other, then the
/// interrupted task (one core: the first wake is handed straight over, the
/// second, more urgent or not, must not be overtaken by it).
fn handler_wakes_most_urgent_first() {
    ilusion::irq::register(SGI_WAKES, on_sgi_wakes).unwrap();
    let mut ok = true;
    let mut seen = [0; 2];
    for (round, urgent_first) in [true, false].into_iter().enumerate() {
        RAN.store(0, Ordering::SeqCst);
        // This task is Preemptive(15); 1 is the most urgent, 2 the next.
        let (a, b) = (parked_task(Priority::Preemptive(3), 1), parked_task(Priority::Preemptive(8), 2));
        let (first, second) = if urgent_first { (a, b) } else { (b, a) };
        TO_WAKE[round][0].call_once(|| first);
        TO_WAKE[round][1].call_once(|| second);
        ROUND.store(round as u32, Ordering::SeqCst);
        ilusion::irq::send_software_interrupt(SGI_WAKES).unwrap();
        // Both ran before the interrupted task went on: the most urgent first.
        seen[round] = RAN.load(Ordering::SeqCst);
        ok &= seen[round] == 12;
        wait_for_round(round);
    }
    check(ok, "handler_wakes_most_urgent_first", format_args!("ran {seen:?}, expected [12, 12]"));
}

/// A handler wakes a task more urgent than the interrupted one, which is
/// cooperative: it runs when the cooperative task yields, not before.
fn handler_wake_waits_for_cooperative_task() {
    RAN.store(0, Ordering::SeqCst);
    let coop = Builder::new()
        .priority(Priority::Cooperative(10))
        .cpu(CORE)
        .spawn(|| {
            let woken = parked_task(Priority::Cooperative(2), 7);
            TO_WAKE[2][0].call_once(|| woken);
            ROUND.store(2, Ordering::SeqCst);
            ilusion::irq::send_software_interrupt(SGI_WAKES).unwrap();
            let before_yield = RAN.load(Ordering::SeqCst);
            task::yield_now();
            let after_yield = RAN.load(Ordering::SeqCst);
            wait_for_round(2);
            (before_yield, after_yield)
        })
        .unwrap();
    let (before, after) = coop.join().unwrap();
    check(
        before == 0 && after == 7,
        "handler_wake_waits_for_cooperative_task",
        format_args!("ran {before} before the yield, {after} after (expected 0, 7)"),
    );
}
