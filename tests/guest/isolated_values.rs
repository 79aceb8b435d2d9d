//! QEMU test: what an isolated task gives back, how it ends, and time at EL0.
//!
//! - `spawn_isolated` returns the closure's value (plain data: a number, an
//!   array, 1 KiB of them), copied out of the task's memory by the kernel;
//! - `ilusion::exit(n)` in an isolated task ends that task with
//!   `Exited { status: n }` (not a fault on kernel data), and a task with a
//!   value to return that exits with 0 is `Exited { status: 0 }`;
//! - an `exit` call with a value of the wrong size or at a bad address is
//!   refused with an error code, and the task goes on;
//! - `Instant::now()`, `elapsed()` and `since_boot()` work at EL0 (the task
//!   reads the virtual counter itself), agreeing with the kernel's clock,
//!   also for an instant still to come (a deadline a second ahead).
#![no_std]
#![no_main]

use core::time::Duration;
use ilusion::syscall::abi::{encode, Syscall, SyscallError};
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{Builder, TaskFailure};
use ilusion::time::Instant;

ilusion::entry!(main);

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

fn main() {
    let frames = ilusion::mm::frames_in_use();
    let spawn = |name: &str| Builder::new().name(name);

    let answer = spawn("answer").spawn_isolated(|| core::hint::black_box(6u64) * 7).expect("spawn").join();
    ilusion::println!("u64: {answer:?}");
    let squares = spawn("squares")
        .spawn_isolated(|| {
            let mut a = [0u32; 8];
            for (i, x) in a.iter_mut().enumerate() {
                *x = (i * i) as u32;
            }
            a
        })
        .expect("spawn")
        .join();
    ilusion::println!("array: {squares:?}");
    let big = spawn("big").spawn_isolated(|| [0x5a5a_0000_0000_0000u64 + 1; 128]).expect("spawn").join();
    let big_ok = big.is_ok_and(|b| b.iter().all(|&x| x == 0x5a5a_0000_0000_0001));
    ilusion::println!("1 KiB value: {big_ok}");
    let unit = spawn("unit").spawn_isolated(|| {}).expect("spawn").join();
    ilusion::println!("unit: {unit:?}");
    if answer != Ok(42) || squares != Ok([0, 1, 4, 9, 16, 25, 36, 49]) || !big_ok || unit != Ok(()) {
        fail("values");
    }

    let too_large = spawn("too large").stack_size(4096).spawn_isolated(|| [7u8; 4096]).err();
    ilusion::println!("4 KiB result on a 4 KiB stack: {too_large:?}");
    if too_large != Some(ilusion::task::SpawnError::ResultTooLarge { size: 4096, stack: 4096 }) {
        fail("result size");
    }
    // A stack of 0 bytes is one page, as for a kernel task (it was refused
    // as too small even for a `()`).
    let no_stack = spawn("no stack").stack_size(0).spawn_isolated(|| 5u8).map(|h| h.join());
    ilusion::println!("stack_size(0): {no_stack:?}");
    if no_stack != Ok(Ok(5)) {
        fail("stack size 0");
    }
    let early = spawn("early").spawn_isolated(|| -> u64 { ilusion::syscall::user::exit(0) }).expect("spawn").join();
    ilusion::println!("exit(0) before its value: {early:?}");
    let seven = spawn("seven").spawn_isolated(|| -> u64 { ilusion::exit(7) }).expect("spawn").join();
    ilusion::println!("ilusion::exit(7): {seven:?}");
    let minus_one = spawn("minus one").spawn_isolated(|| -> u64 { ilusion::exit(-1) }).expect("spawn").join();
    ilusion::println!("ilusion::exit(-1): {minus_one:?}");
    let zero = spawn("zero").spawn_isolated::<_, ()>(|| ilusion::exit(0)).expect("spawn").join();
    ilusion::println!("ilusion::exit(0): {zero:?}");
    if early != Err(TaskFailure::Exited { status: 0 })
        || seven != Err(TaskFailure::Exited { status: 7 })
        || minus_one != Err(TaskFailure::Exited { status: 4_294_967_295 })
        || zero != Ok(())
    {
        fail("exit");
    }

    let kernel_address = &frames as *const usize as u64;
    let refused = spawn("bad exit")
        .spawn_isolated(move || {
            let value = 5u64;
            let at = &value as *const u64 as u64;
            let exit = |ptr: u64, len: u64| raw_syscall(Syscall::Exit as u64, 0, ptr, len);
            let ok = exit(at, 4) == encode(Err(SyscallError::BadLength))
                && exit(at, 16) == encode(Err(SyscallError::BadLength))
                && exit(kernel_address, 8) == encode(Err(SyscallError::BadAddress))
                && exit(0, 8) == encode(Err(SyscallError::BadAddress));
            if ok {
                99u64
            } else {
                1
            }
        })
        .expect("spawn")
        .join();
    ilusion::println!("exit with a bad value: refused, task went on: {refused:?}");
    if refused != Ok(99) {
        fail("bad exit");
    }

    let before = Instant::now();
    let clock = spawn("clock")
        .spawn_isolated(|| {
            let start = Instant::now();
            ilusion::time::busy_wait(Duration::from_millis(2));
            let busy = start.elapsed();
            ilusion::time::sleep(Duration::from_millis(3));
            let end = Instant::now();
            let frequency: u64;
            // SAFETY: reads a register EL0 may read.
            unsafe { core::arch::asm!("mrs {0}, cntfrq_el0", out(reg) frequency) };
            [
                start.ticks(),
                end.ticks(),
                busy.as_nanos() as u64,
                (end - start).as_nanos() as u64,
                start.since_boot().as_nanos() as u64,
                frequency,
                ilusion::time::frequency(),
                // A deadline a second ahead: since boot, a second more than now.
                (start + Duration::from_secs(1)).since_boot().as_nanos() as u64,
            ]
        })
        .expect("spawn")
        .join();
    let after = Instant::now();
    let Ok([start, end, busy, total, since_boot, cntfrq, frequency, ahead]) = clock else {
        ilusion::println!("clock: {clock:?}");
        fail("clock");
    };
    let in_order = before.ticks() <= start && start < end && end <= after.ticks();
    let kernel_since_boot = Instant::from_ticks(start).since_boot().as_nanos() as u64;
    let kernel_ahead = (Instant::from_ticks(start) + Duration::from_secs(1)).since_boot().as_nanos() as u64;
    let boot_agrees = since_boot.abs_diff(kernel_since_boot) < 100_000 && ahead.abs_diff(kernel_ahead) < 100_000;
    let ms = 1_000_000;
    let timings = (2 * ms..3 * ms).contains(&busy) && (5 * ms..7 * ms).contains(&total);
    let hz = ilusion::time::frequency();
    ilusion::println!("EL0 clock: counter {cntfrq} Hz, frequency() {frequency} (kernel {hz})");
    ilusion::println!(
        "EL0 clock: inside the kernel's readings {in_order}, busy 2 ms and 5 ms in all {timings}, since_boot agrees {boot_agrees}"
    );
    if !(in_order && timings && boot_agrees && cntfrq == hz && frequency == hz) {
        ilusion::println!("start {start} end {end} busy {busy} total {total} boot {since_boot} vs {kernel_since_boot}");
        ilusion::println!("a second ahead: since boot {ahead} vs {kernel_ahead}");
        fail("clock");
    }
    let freed = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("frames back: {freed}");
    if !freed {
        fail("frames");
    }
    ilusion::println!("isolated values ok");
}
