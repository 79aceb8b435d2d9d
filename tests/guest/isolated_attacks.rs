//! QEMU test: what an attacker at EL0 tries that the other isolation tests
//! do not. `panic` and `exit` with bad pointers; a receive into a buffer
//! that runs off the top of the stack (refused, the message kept for the
//! next receive); system-call copies that touch heap pages until the task's
//! memory limit refuses one (`BadAddress`, the task goes on); `svc` with a
//! nonzero immediate; `wfe` in a loop (QEMU runs it as a `yield`: the task
//! is preempted, then killed; a Pi traps it); a stack frame larger than the
//! stack (the probes meet the guard: `StackOverflow`); an allocation past
//! the heap reserve (`Panic`); `sleep`, `console_read` and
//! `channel_receive_timeout` of almost forever (waiting, then killed); and
//! a misaligned stack pointer (QEMU does not check it). Each twice; after
//! each, a kernel watchdog on the same core must have run, and the frames
//! and the kernel heap (less the frames pooled for reuse) must be back
//! where they were.
//!
//! Last, on two cores or more, a storm: on every core but the watchdog's,
//! isolated attackers of four kinds (copies past their memory limit, a read
//! of kernel memory, a sleep of almost forever, a spin) are spawned, killed
//! after a random delay and joined, 40 rounds a phase; after a first phase
//! (which fills the other cores' caches), each phase must leave the frames
//! and the kernel heap as it found them, the watchdog still counting.
//!
//! The isolated closures use no formatting (no `.rodata`).
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::ipc;
use ilusion::mm::user_layout::{HEAP_BASE, STACK_TOP};
use ilusion::syscall::abi::{decode, Syscall, SyscallError};
use ilusion::syscall::user::{raw_syscall, raw_syscall4};
use ilusion::task::{self, Builder, TaskFailure};

ilusion::entry!(main);

static WATCHDOG: AtomicU64 = AtomicU64::new(0);
const CORE: usize = 0;

/// Frames in use, and kernel heap bytes but the frames kept in the pools for reuse.
fn memory() -> (usize, usize) {
    let pooled = ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize;
    (ilusion::mm::frames_in_use(), ilusion::mm::heap::stats().requested - pooled)
}

/// Runs `attack` (which spawns and joins), then checks its outcome, the
/// watchdog and the memory.
fn attack<T: core::fmt::Debug>(name: &str, run: impl Fn() -> T, want: impl Fn(&T) -> bool) {
    for _ in 0..2 {
        let before = memory();
        let ticks = WATCHDOG.load(Ordering::Relaxed);
        let got = run();
        let progressed = common::counter_advances(&WATCHDOG, ticks);
        let after = memory();
        check(
            want(&got) && progressed && before == after,
            name,
            format_args!("{got:?}, watchdog {progressed}, (frames, heap bytes) {before:?} -> {after:?}"),
        );
    }
}

fn main() {
    let _watchdog = Builder::new()
        .cpu(CORE)
        .spawn(|| loop {
            WATCHDOG.fetch_add(1, Ordering::Relaxed);
            ilusion::time::sleep(Duration::from_millis(1));
        })
        .expect("watchdog");
    ilusion::time::sleep(Duration::from_millis(5));
    let kernel_address = WATCHDOG.as_ptr() as u64;
    // The first isolated task installs the isolation paths and fills the frame pools.
    let warm_up = Builder::new().cpu(CORE).spawn_isolated(|| 1u64).expect("spawn").join();
    check(warm_up == Ok(1), "warm_up", format_args!("{warm_up:?}"));

    attack(
        "misaligned_sp",
        || {
            Builder::new()
                .name("odd sp")
                .cpu(CORE)
                .spawn_isolated::<_, ()>(|| unsafe {
                    core::arch::asm!("mov x9, sp", "sub x9, x9, #4", "mov sp, x9", "ldr x0, [sp]", out("x9") _, out("x0") _)
                })
                .expect("spawn")
                .join()
        },
        // QEMU does not check the stack pointer's alignment (SCTLR_EL1.SA0); a Pi does.
        |got| matches!(got, Ok(()) | Err(TaskFailure::MisalignedStack { .. })),
    );

    attack(
        "panic_with_bad_pointers",
        || {
            Builder::new()
                .name("bad panic")
                .cpu(CORE)
                .spawn_isolated::<_, ()>(move || {
                    raw_syscall4(Syscall::Panic as u64, kernel_address, u64::MAX, STACK_TOP - 8, 4096);
                })
                .expect("spawn")
                .join()
        },
        |got| matches!(got, Err(TaskFailure::Panic { .. })),
    );

    attack(
        "exit_value_past_the_stack_top",
        || {
            Builder::new()
                .name("bad exit")
                .cpu(CORE)
                .spawn_isolated(|| {
                    let got = raw_syscall(Syscall::Exit as u64, 0, STACK_TOP - 4, 8);
                    u64::from(decode(got) == Err(SyscallError::BadAddress))
                })
                .expect("spawn")
                .join()
        },
        |got| *got == Ok(1),
    );

    attack(
        "receive_past_the_stack_top_keeps_the_message",
        || {
            let (tx, rx) = ipc::channel::<[u32; 2]>(1);
            tx.send([42, 43]).expect("send");
            let mut builder = Builder::new().name("straddler").cpu(CORE);
            let rx = builder.grant(rx).handle().expect("granted").number();
            let outcome = builder
                .spawn_isolated(move || {
                    let bad = raw_syscall(Syscall::ChannelReceive as u64, rx, STACK_TOP - 4, 8);
                    let mut value = [0u32; 2];
                    let good = raw_syscall(Syscall::ChannelReceive as u64, rx, value.as_mut_ptr() as u64, 8);
                    [decode(bad) == Err(SyscallError::BadAddress), decode(good) == Ok(8), value == [42, 43]]
                        .map(u64::from)
                })
                .expect("spawn")
                .join();
            drop(tx);
            outcome
        },
        |got| *got == Ok([1, 1, 1]),
    );

    attack(
        "system_call_copies_past_the_memory_limit",
        || {
            Builder::new()
                .name("limit")
                .cpu(CORE)
                .memory_limit(256 * 1024)
                .spawn_isolated(|| {
                    // Each write reads one byte of an untouched heap page: the
                    // kernel backs it, until the limit refuses.
                    let mut pages = 0u64;
                    loop {
                        let at = HEAP_BASE + (pages + 1) * 4096 * 7;
                        match decode(raw_syscall(Syscall::ConsoleWrite as u64, at, 0, 0)) {
                            Ok(_) => {}
                            Err(_) => return u64::MAX,
                        }
                        match decode(raw_syscall(Syscall::ConsoleWrite as u64, at, 1, 0)) {
                            Ok(1) => pages += 1,
                            Err(SyscallError::BadAddress) => return pages,
                            _ => return u64::MAX,
                        }
                    }
                })
                .expect("spawn")
                .join()
        },
        |got| matches!(got, Ok(n) if *n > 0 && *n < 64),
    );

    attack(
        "svc_with_an_immediate",
        || {
            Builder::new()
                .name("svc imm")
                .cpu(CORE)
                .spawn_isolated(|| {
                    let x0: u64;
                    // SAFETY: a system call (abi_version) with another immediate.
                    unsafe {
                        core::arch::asm!("svc #0x1234", inout("x0") 0u64 => x0, in("x8") Syscall::AbiVersion as u64)
                    };
                    x0
                })
                .expect("spawn")
                .join()
        },
        |_| true,
    );

    attack(
        "wfe_loop_is_preempted_and_killed",
        || {
            let spinner = Builder::new()
                .name("wfe")
                .cpu(CORE)
                .spawn_isolated::<_, ()>(|| loop {
                    // SAFETY: waits for an event; harmless at EL0.
                    unsafe { core::arch::asm!("wfe") }
                })
                .expect("spawn");
            ilusion::time::sleep(Duration::from_millis(20));
            let _ = spinner.kill();
            spinner.join()
        },
        // QEMU runs `wfe` as a `yield`; a Pi traps it (SCTLR_EL1.nTWE = 0).
        |got| matches!(got, Err(TaskFailure::Killed | TaskFailure::PrivilegedInstruction { .. })),
    );

    attack(
        "frame_larger_than_the_stack_guard",
        || {
            Builder::new()
                .name("big frame")
                .cpu(CORE)
                .spawn_isolated(|| {
                    let big = core::hint::black_box([7u8; 256 * 1024]);
                    u64::from(core::hint::black_box(&big)[1000])
                })
                .expect("spawn")
                .join()
        },
        |got| matches!(got, Err(TaskFailure::StackOverflow)),
    );

    attack(
        "allocation_past_the_reserve",
        || {
            Builder::new()
                .name("hog")
                .cpu(CORE)
                .spawn_isolated(|| {
                    let v = alloc::vec::Vec::<u8>::with_capacity(2 << 30);
                    v.capacity() as u64
                })
                .expect("spawn")
                .join()
        },
        |got| matches!(got, Err(TaskFailure::Panic { .. } | TaskFailure::OutOfMemory { .. })),
    );

    for (name, number, args) in [
        ("sleep_almost_forever", Syscall::Sleep, [u64::MAX - 1, 0, 0, 0]),
        ("sleep_half_forever", Syscall::Sleep, [1 << 63, 0, 0, 0]),
        ("console_read_almost_forever", Syscall::ConsoleRead, [0, 8, u64::MAX - 1, 0]),
        ("receive_almost_forever", Syscall::ChannelReceiveTimeout, [0, 0, 8, u64::MAX - 1]),
    ] {
        attack(
            name,
            || {
                let (tx, rx) = ipc::channel::<u64>(1);
                let mut builder = Builder::new().name("waiter").cpu(CORE);
                let rx = builder.grant(rx).handle().expect("granted").number();
                let waiter = builder
                    .spawn_isolated(move || {
                        let mut buffer = 0u64;
                        let at = &mut buffer as *mut u64 as u64;
                        let [a0, a1, a2, a3] = args;
                        let [a0, a1] = match number {
                            Syscall::ConsoleRead => [at, a1],
                            Syscall::ChannelReceiveTimeout => [rx, at],
                            _ => [a0, a1],
                        };
                        raw_syscall4(number as u64, a0, a1, a2, a3)
                    })
                    .expect("spawn");
                ilusion::time::sleep(Duration::from_millis(30));
                let _ = waiter.kill();
                drop(tx);
                waiter.join()
            },
            |got| *got == Err(TaskFailure::Killed),
        );
    }

    storm();
    finish()
}

/// One attacker of the storm, by kind: copies past its memory limit, a
/// fault, a long wait, a spin.
fn attacker(kind: u64, cpu: usize) -> ilusion::task::JoinHandle<u64> {
    Builder::new()
        .name("stormer")
        .cpu(cpu)
        .memory_limit(128 * 1024)
        .spawn_isolated(move || match kind % 4 {
            0 => {
                let mut k = 1;
                while decode(raw_syscall(Syscall::ConsoleWrite as u64, HEAP_BASE + k * 4096, 0, 0)).is_ok()
                    && decode(raw_syscall(Syscall::ConsoleWrite as u64, HEAP_BASE + k * 4096, 1, 0)).is_ok()
                {
                    k += 1;
                }
                k
            }
            // SAFETY: reads kernel memory on purpose (the task ends with the fault).
            1 => unsafe { core::ptr::read_volatile(0xffff_ff80_4000_0000 as *const u64) },
            2 => raw_syscall(Syscall::Sleep as u64, u64::MAX - 1, 0, 0),
            _ => loop {
                core::hint::spin_loop();
            },
        })
        .expect("spawn")
}

/// On every core but the watchdog's: attackers spawned, killed at random
/// and joined, over and over, while the watchdog keeps counting.
fn storm() {
    let cores = task::cpus_online();
    if cores < 2 {
        return;
    }
    // The first round fills the caches of the other cores (frame pools, stacks).
    for phase in 0..3 {
        storm_phase(cores, phase, phase > 0);
    }
}

fn storm_phase(cores: usize, phase: u64, checked: bool) {
    let before = memory();
    let ticks = WATCHDOG.load(Ordering::Relaxed);
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 + phase;
    let mut ended = 0;
    for round in 0..40u64 {
        let mut tasks = alloc::vec::Vec::new();
        for k in 0..(cores as u64 - 1) * 2 {
            tasks.push(attacker(round + k, 1 + (k as usize % (cores - 1))));
        }
        for t in &tasks {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ilusion::time::sleep(Duration::from_micros(rng % 500));
            let _ = t.kill();
        }
        for t in tasks {
            let _ = t.join();
            ended += 1;
        }
    }
    let progressed = common::counter_advances(&WATCHDOG, ticks);
    let after = memory();
    if !checked {
        return;
    }
    check(
        progressed && before == after,
        "storm_of_attackers_on_every_core",
        format_args!("{ended} ended, watchdog {progressed}, (frames, heap bytes) {before:?} -> {after:?}"),
    );
}
