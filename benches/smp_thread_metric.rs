//! Thread-Metric (`benches/thread_metric.rs`) on a 4-core boot: the same
//! suite, its tasks on core 0 while cores 1 to 3 are online and idle, so
//! every critical section really takes the kernel lock and wakes look for
//! a core to ask; figures `smp_tm_*` (`benches/run` boots `bench_smp_*`
//! images with `-smp 4`).
//!
//! Why not spread the threads over the cores: the suite's tests are
//! written for one processor, and its fairness checks with them (the
//! preemptive test's chain counts once per resume only if resuming a more
//! urgent thread stops the resumer; five cooperative threads on four cores
//! do not take turns). And under QEMU's instruction counting the cores run
//! one after another, so more cores cannot raise a count per interval of
//! virtual time: what the 4-core figures show is what the multi-core
//! machinery costs one core's work.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;
#[path = "common/thread_metric.rs"]
mod thread_metric;

ilusion::entry!(main);

fn main() {
    common::require_cores(4);
    thread_metric::run_suite("smp_tm_", 1 << 0);
}
