//! Thread-Metric, the RTOS benchmark suite first published by Express Logic
//! (now part of Eclipse ThreadX), reimplemented from its description on
//! ilusion's task API. Each test runs its threads flat out; a reporting
//! task at the most urgent priority wakes every reporting interval of
//! virtual time and reads the threads' counters. The figures are the count
//! in one interval (the second one, after a first for start-up) and the
//! instructions per counted iteration (the interval / the count).
//!
//! Priorities are Thread-Metric's (1 most urgent to 31), mapped one-to-one
//! onto ilusion's preemptive levels: reporter 1; cooperative test 3 (five
//! threads); preemptive test 10, 9, 8, 7, 6 (threads 0 to 4); every other
//! test thread 10, and the interrupt-preemption test's urgent thread 9.
//! Where the suite checks fairness (cooperative, preemptive, interrupt
//! tests) the counters must agree within one.
//!
//! "Cause an interrupt" is a software-generated interrupt (SGI) through the
//! GIC: a real interrupt, acknowledged and ended at the controller, taken
//! through the exception vector like a device's, which is what the suite
//! measures (its ports use a software interrupt or trap for the same
//! reason). Thread suspend/resume is `task::park` / `JoinHandle::unpark`.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;
#[path = "common/thread_metric.rs"]
mod thread_metric;

ilusion::entry!(main);

/// On the boot core (the image runs on a 1-core boot of qemu-virt; on the
/// Pis, whose machines always have 4, the other cores stay idle).
fn main() {
    thread_metric::run_suite("tm_", 1 << 0);
}
