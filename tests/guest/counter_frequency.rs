//! QEMU test: the counter frequency time is counted in. The case that
//! matters starts the kernel through a stand-in firmware that zeroes
//! CNTFRQ_EL0 on core 0 (tests/qemu.rs), as a Pi firmware or armstub that
//! forgets it leaves it: the counter runs on, but the register reads 0.
//! ilusion must then count in the board's crystal frequency (and warn at
//! boot), not in 1 Hz, in the kernel and in an isolated task (which reads
//! the frequency itself, at EL0). QEMU runs the counter of all three
//! machines at 62.5 MHz (and sets CNTFRQ_EL0 to it), so the sleeps are
//! checked against the counter only where time counts in that rate: on
//! qemu-virt, whose crystal QEMU emulates, and wherever CNTFRQ_EL0 is set.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::{check, finish, on_core};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// The board's crystal frequency: what time must count in when CNTFRQ_EL0 reads 0.
const BOARD_HZ: u64 = match ilusion::board::NAME.as_bytes() {
    b"rpi3" => 19_200_000,
    b"rpi4" => 54_000_000,
    _ => 62_500_000,
};
/// The rate QEMU runs the counter at, on every machine here.
const QEMU_COUNTER_HZ: u64 = 62_500_000;

fn cntfrq_el0() -> u64 {
    let hz: u64;
    // SAFETY: reads a register EL1 may read; nothing else.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz) };
    hz
}

fn counter() -> u64 {
    let count: u64;
    // SAFETY: reads the virtual counter, which EL1 may read; nothing else.
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) count) };
    count
}

fn main() {
    on_core(0, checks);
    finish();
}

/// On core 0, whose CNTFRQ_EL0 the stand-in firmware zeroed.
fn checks() {
    let cntfrq = cntfrq_el0();
    let expected = if cntfrq == 0 { BOARD_HZ } else { cntfrq };
    ilusion::println!("CNTFRQ_EL0 reads {cntfrq} Hz; time counts in {} Hz", time::frequency());
    check(
        time::frequency() == expected,
        "counts_in_the_right_frequency",
        format_args!("{} Hz, not {expected}", time::frequency()),
    );

    let (start, before) = (counter(), Instant::now());
    time::sleep(Duration::from_millis(100));
    let (ticks, measured) = (counter() - start, before.elapsed());
    check(measured >= Duration::from_millis(100), "instant_counts_100_ms", format_args!("{measured:?}"));
    if time::frequency() == QEMU_COUNTER_HZ {
        let real_ms = ticks * 1000 / QEMU_COUNTER_HZ;
        ilusion::println!("sleep(100 ms) took {real_ms} ms of the counter");
        check((100..150).contains(&real_ms), "sleep_takes_100_ms", format_args!("{real_ms} ms"));
    }

    // The same at EL0.
    let el0 = ilusion::task::Builder::new()
        .name("el0 clock")
        .cpu(0)
        .spawn_isolated(|| {
            let before = Instant::now();
            time::sleep(Duration::from_millis(100));
            [time::frequency(), before.elapsed().as_millis() as u64]
        })
        .expect("spawn")
        .join();
    ilusion::println!("at EL0 (Hz, ms slept): {el0:?}");
    let el0_ok = el0.as_ref().is_ok_and(|&[hz, slept_ms]| hz == expected && (100..150).contains(&slept_ms));
    check(el0_ok, "el0_counts_in_the_right_frequency", format_args!("{el0:?}"));
}
