//! QEMU test: an `hvc #0` and an `smc #0` made by a kernel task, on every
//! core, with a function number no firmware knows (a 64-bit SiP fast call),
//! end the way docs/01 (section 2) says for the level the machine was started at:
//! `x0 = -1` (SMCCC NOT_SUPPORTED) from whoever answers (QEMU's PSCI, or
//! the stub boot.s leaves at EL2/EL3), or, where the instruction is
//! undefined (`smc` with no EL3, `hvc` in the Secure world), the end of
//! that task alone with an "undefined instruction" report. Either way the
//! machine goes on: before, a call that reached an EL2 or EL3 without
//! vectors hung the core (a Pi booted either way, QEMU virt started at EL2
//! or EL3).

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::finish;
use ilusion::task::Builder;

ilusion::entry!(main);

/// A 64-bit SiP service fast call that nothing implements.
const UNKNOWN_CALL: u64 = 0xc200_ff00;

/// Makes the firmware call `$instruction` with [`UNKNOWN_CALL`]; its x0.
macro_rules! firmware_call {
    ($instruction:literal) => {{
        let mut x0 = UNKNOWN_CALL;
        // SAFETY: a firmware call with an unknown number changes nothing
        // but x0-x3 (SMCCC); x1-x17 are declared clobbered anyway.
        unsafe {
            core::arch::asm!($instruction, inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _)
        };
        x0
    }};
}

fn hvc() -> u64 {
    firmware_call!("hvc #0")
}

fn smc() -> u64 {
    firmware_call!("smc #0")
}

fn main() {
    let cores = ilusion::task::cpus_online();
    for (name, call) in [("hvc #0", hvc as fn() -> u64), ("smc #0", smc as fn() -> u64)] {
        for cpu in 0..cores {
            let result = Builder::new().name(name).cpu(cpu).spawn(call).unwrap().join();
            match result {
                Ok(x0) => ilusion::println!("{name} on core {cpu}: x0 = {}", x0 as i64),
                Err(failure) => ilusion::println!("{name} on core {cpu}: the task failed: {failure}"),
            }
        }
    }
    ilusion::println!("the machine goes on");
    finish();
}
