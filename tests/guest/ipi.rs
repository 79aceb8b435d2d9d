//! QEMU test: inter-processor interrupts on one core. An IPI this core
//! sends itself goes through the interrupt controller (a GIC SGI, the Pi
//! 3's mailbox): it stays pending while interrupts are masked, its handler
//! runs (and counts it) as soon as they are unmasked, once per IPI; the
//! IPIs' interrupt numbers are taken; a core number beyond the machine is
//! refused with a clear error. Prints the round trip of a self-IPI.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use ilusion::internals::{self, ipis_received, send_ipi};
use ilusion::irq::{self, Ipi, IrqError};

ilusion::entry!(main);

/// Waits (a bounded while) until `cpu` has taken more than `count` reschedule IPIs.
fn wait_for_reschedules(cpu: usize, count: u64) -> bool {
    (0..1_000_000).any(|_| ipis_received(cpu, Ipi::Reschedule) > count)
}

fn main() {
    let reschedule = internals::ipi_id(Ipi::Reschedule);
    let stop = internals::ipi_id(Ipi::Stop);
    ilusion::println!("IPI interrupts: reschedule {reschedule:?}, stop {stop:?}");
    let (Some(reschedule), Some(stop)) = (reschedule, stop) else {
        check(false, "ipi_ids", format_args!("no IPI interrupts on {}", ilusion::board::NAME));
        finish()
    };
    check(reschedule != stop, "ipi_ids_distinct", format_args!("both {reschedule}"));
    let taken = |id| irq::register(id, |_| {}) == Err(IrqError::AlreadyRegistered(id));
    check(taken(reschedule) && taken(stop), "ipi_handlers_registered", format_args!("a handler slot was free"));

    let (spurious, unhandled) = (irq::spurious_count(), irq::unhandled_count());
    // Masked: the IPI waits in the controller; unmasked: its handler runs.
    let (cpu, before, while_masked) = internals::without_interrupts(|| {
        let cpu = ilusion::percpu::cpu_index();
        let before = ipis_received(cpu, Ipi::Reschedule);
        let sent = send_ipi(cpu, Ipi::Reschedule);
        check(sent.is_ok(), "ipi_to_self_sent", format_args!("{sent:?}"));
        for _ in 0..10_000 {
            core::hint::spin_loop();
        }
        (cpu, before, ipis_received(cpu, Ipi::Reschedule))
    });
    let arrived = wait_for_reschedules(cpu, before);
    let after = ipis_received(cpu, Ipi::Reschedule);
    check(
        while_masked == before && arrived && after == before + 1,
        "ipi_to_self_taken_once_unmasked",
        format_args!("core {cpu}: {before} before, {while_masked} while masked, {after} after"),
    );

    // One interrupt per IPI, each taken before the next is sent.
    const ROUNDS: u64 = 100;
    let start = ilusion::time::Instant::now();
    let mut all_arrived = true;
    for _ in 0..ROUNDS {
        let count = ipis_received(cpu, Ipi::Reschedule);
        all_arrived &= send_ipi(cpu, Ipi::Reschedule).is_ok() && wait_for_reschedules(cpu, count);
    }
    let ticks = start.elapsed_ticks();
    let total = ipis_received(cpu, Ipi::Reschedule) - after;
    check(all_arrived && total == ROUNDS, "ipi_each_taken", format_args!("{total} of {ROUNDS} taken"));
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(ilusion::time::frequency());
    ilusion::println!("self-IPI round trip: {} ns on average", nanos / u128::from(ROUNDS));

    check(
        irq::spurious_count() == spurious && irq::unhandled_count() == unhandled,
        "ipi_no_stray_interrupts",
        format_args!("{} spurious, {} unhandled", irq::spurious_count() - spurious, irq::unhandled_count() - unhandled),
    );
    check(ipis_received(cpu, Ipi::Stop) == 0, "ipi_no_stop_received", format_args!("a stop IPI arrived"));
    let beyond = ilusion::percpu::MAX_CPUS;
    let refused = send_ipi(beyond, Ipi::Reschedule);
    if let Err(e) = refused {
        ilusion::println!("send_ipi({beyond}): {e}");
    }
    check(refused == Err(IrqError::NoSuchCpu(beyond)), "ipi_bad_core_refused", format_args!("{refused:?}"));
    finish()
}
