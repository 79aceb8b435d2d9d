//! QEMU test: inter-processor interrupts between cores. Core 0 sends a
//! reschedule IPI to every other core online, and each takes it (its own
//! counter goes up, no other core's); then a stop IPI halts the last core
//! for good: it takes no IPI after that, while the others still do.
//! Needs the other cores up and taking interrupts (idle with interrupts
//! unmasked).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish};
use ilusion::internals::{ipis_received, send_ipi};
use ilusion::irq::Ipi;
use ilusion::percpu::{up_mask, MAX_CPUS};

ilusion::entry!(main);

/// Waits (up to 200 ms, sleeping, so that QEMU runs the other cores even
/// with one host thread) until `cpu` has taken more than `count` `ipi`s.
fn wait_for(cpu: usize, ipi: Ipi, count: u64) -> bool {
    (0..200).any(|_| {
        ilusion::time::sleep(ilusion::time::Duration::from_millis(1));
        ipis_received(cpu, ipi) > count
    })
}

fn counts(ipi: Ipi) -> [u64; MAX_CPUS] {
    core::array::from_fn(|cpu| ipis_received(cpu, ipi))
}

fn main() {
    let online = up_mask();
    let others: Vec<usize> = (0..MAX_CPUS).filter(|c| online & (1 << c) != 0 && *c != 0).collect();
    ilusion::println!("cores up: {online:#b}");
    check(!others.is_empty(), "other_cores_online", format_args!("only core 0 is up"));
    for &cpu in others.iter() {
        let before = counts(Ipi::Reschedule);
        let sent = send_ipi(cpu, Ipi::Reschedule);
        let arrived = wait_for(cpu, Ipi::Reschedule, before[cpu]);
        let after = counts(Ipi::Reschedule);
        let only_there = (0..MAX_CPUS).all(|c| after[c] == before[c] + u64::from(c == cpu));
        ilusion::println!("reschedule IPI to core {cpu}: {sent:?}, taken {arrived}");
        check(
            sent.is_ok() && arrived && only_there,
            "ipi_reaches_core",
            format_args!("core {cpu}: {before:?} -> {after:?}"),
        );
    }
    let Some(&last) = others.iter().last() else { finish() };
    let stops = ipis_received(last, Ipi::Stop);
    let sent = send_ipi(last, Ipi::Stop);
    check(sent.is_ok() && wait_for(last, Ipi::Stop, stops), "stop_ipi_taken", format_args!("core {last}: {sent:?}"));
    let reschedules = ipis_received(last, Ipi::Reschedule);
    let _ = send_ipi(last, Ipi::Reschedule);
    let taken_after_stop = wait_for(last, Ipi::Reschedule, reschedules);
    check(!taken_after_stop, "stopped_core_stays_stopped", format_args!("core {last} took an IPI after stopping"));
    if let Some(&first) = others.iter().find(|&&c| c != last) {
        let before = ipis_received(first, Ipi::Reschedule);
        let _ = send_ipi(first, Ipi::Reschedule);
        check(wait_for(first, Ipi::Reschedule, before), "other_cores_still_run", format_args!("core {first}"));
    }
    finish()
}
