//! QEMU test: an interrupt, and a task switch from inside one, give the
//! interrupted code back every general register. Interrupts save only the
//! registers a Rust handler may change (x0-x18, x29, x30; `vectors.s`,
//! `interrupt_entry`) and count on the handler, and on the context switch,
//! to keep x19-x28: this checks that promise from the outside.
//!
//! Three kernel tasks and two isolated ones (EL0: the lower-level entry)
//! run `hold_registers`, which puts a pattern made from its seed in x2-x30
//! and checks all of them 400,000 times, while a periodic handler
//! interrupts every 50 us and an urgent task woken every 300 us preempts
//! them (a switch inside the interrupt); the equal tasks also share the core
//! in time slices. Any register that comes back changed fails the check.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{Builder, Priority};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

core::arch::global_asm!(
    r#"
.section .text.hold_registers, "ax"
.global hold_registers
// hold_registers(seed: x0, rounds: x1) -> x0: 0 if x(n) = seed << n held for
// n = 2..30 through every round, else 1. Keeps the callee-saved registers.
hold_registers:
    stp     x29, x30, [sp, #-96]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    lsl     x2, x0, #2
    lsl     x3, x0, #3
    lsl     x4, x0, #4
    lsl     x5, x0, #5
    lsl     x6, x0, #6
    lsl     x7, x0, #7
    lsl     x8, x0, #8
    lsl     x9, x0, #9
    lsl     x10, x0, #10
    lsl     x11, x0, #11
    lsl     x12, x0, #12
    lsl     x13, x0, #13
    lsl     x14, x0, #14
    lsl     x15, x0, #15
    lsl     x16, x0, #16
    lsl     x17, x0, #17
    lsl     x18, x0, #18
    lsl     x19, x0, #19
    lsl     x20, x0, #20
    lsl     x21, x0, #21
    lsl     x22, x0, #22
    lsl     x23, x0, #23
    lsl     x24, x0, #24
    lsl     x25, x0, #25
    lsl     x26, x0, #26
    lsl     x27, x0, #27
    lsl     x28, x0, #28
    lsl     x29, x0, #29
    lsl     x30, x0, #30
1:
    cmp     x2, x0, lsl #2
    b.ne    9f
    cmp     x3, x0, lsl #3
    b.ne    9f
    cmp     x4, x0, lsl #4
    b.ne    9f
    cmp     x5, x0, lsl #5
    b.ne    9f
    cmp     x6, x0, lsl #6
    b.ne    9f
    cmp     x7, x0, lsl #7
    b.ne    9f
    cmp     x8, x0, lsl #8
    b.ne    9f
    cmp     x9, x0, lsl #9
    b.ne    9f
    cmp     x10, x0, lsl #10
    b.ne    9f
    cmp     x11, x0, lsl #11
    b.ne    9f
    cmp     x12, x0, lsl #12
    b.ne    9f
    cmp     x13, x0, lsl #13
    b.ne    9f
    cmp     x14, x0, lsl #14
    b.ne    9f
    cmp     x15, x0, lsl #15
    b.ne    9f
    cmp     x16, x0, lsl #16
    b.ne    9f
    cmp     x17, x0, lsl #17
    b.ne    9f
    cmp     x18, x0, lsl #18
    b.ne    9f
    cmp     x19, x0, lsl #19
    b.ne    9f
    cmp     x20, x0, lsl #20
    b.ne    9f
    cmp     x21, x0, lsl #21
    b.ne    9f
    cmp     x22, x0, lsl #22
    b.ne    9f
    cmp     x23, x0, lsl #23
    b.ne    9f
    cmp     x24, x0, lsl #24
    b.ne    9f
    cmp     x25, x0, lsl #25
    b.ne    9f
    cmp     x26, x0, lsl #26
    b.ne    9f
    cmp     x27, x0, lsl #27
    b.ne    9f
    cmp     x28, x0, lsl #28
    b.ne    9f
    cmp     x29, x0, lsl #29
    b.ne    9f
    cmp     x30, x0, lsl #30
    b.ne    9f
    subs    x1, x1, #1
    b.ne    1b
    mov     x0, #0
    b       8f
9:  mov     x0, #1
8:  ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret
"#
);

extern "C" {
    fn hold_registers(seed: u64, rounds: u64) -> u64;
}

const ROUNDS: u64 = 400_000;
const LEVEL: Priority = Priority::Preemptive(20);
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

fn count_interrupt() {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
}

/// `hold_registers` with `seed`; for isolated tasks too (EL0 runs the
/// image's code).
fn hold(seed: u64) -> u64 {
    // SAFETY: an assembly function that touches only registers and its own
    // stack frame, and keeps what AAPCS64 asks it to.
    unsafe { hold_registers(seed, ROUNDS) }
}

fn main() {
    time::set_periodic(Duration::from_micros(50), count_interrupt).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let wakes = Arc::new(AtomicU64::new(0));
    let urgent = {
        let (stop, wakes) = (stop.clone(), wakes.clone());
        Builder::new()
            .name("urgent")
            .priority(Priority::Preemptive(2))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    time::sleep(Duration::from_micros(300));
                    wakes.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    };
    let mut kernel = Vec::new();
    for k in 0..3u64 {
        kernel.push(Builder::new().name("holder").priority(LEVEL).spawn(move || hold(0x1001 + 2 * k)).unwrap());
    }
    let mut isolated = Vec::new();
    for k in 0..2u64 {
        let seed = 0x2001 + 2 * k;
        isolated
            .push(Builder::new().name("isolated holder").priority(LEVEL).spawn_isolated(move || hold(seed)).unwrap());
    }
    let kernel: Vec<_> = kernel.into_iter().map(|h| h.join()).collect();
    let isolated: Vec<_> = isolated.into_iter().map(|h| h.join()).collect();
    stop.store(true, Ordering::Relaxed);
    urgent.join().unwrap();
    time::stop_periodic();
    let (interrupts, wakes) = (INTERRUPTS.load(Ordering::Relaxed), wakes.load(Ordering::Relaxed));
    check(
        kernel.iter().all(|r| *r == Ok(0)),
        "kernel_tasks_keep_x2_x30",
        format_args!("{kernel:?} ({interrupts} periodic interrupts, {wakes} urgent wakes)"),
    );
    check(isolated.iter().all(|r| *r == Ok(0)), "isolated_tasks_keep_x2_x30", format_args!("{isolated:?}"));
    check(interrupts > 50 && wakes > 5, "interrupted_often", format_args!("{interrupts} interrupts, {wakes} wakes"));
    finish();
}
