//! QEMU soak test (under icount): a seeded random mix of everything tasks
//! do, for at least 10^8 instructions, checking that nothing is lost and
//! nothing leaks.
//!
//! Each round draws one action from a xorshift generator seeded by the
//! `SOAK_SEED` build variable (default 1):
//! - spawn and join kernel tasks that compute, sleep, or panic;
//! - detached kernel tasks that sleep and end on their own;
//! - a channel between two isolated tasks carrying sequence numbers: the
//!   receiver checks that none is lost, duplicated or reordered;
//! - a shared region written by an isolated task and checked by the kernel;
//! - an injected fault (null read, undefined instruction, stack overflow,
//!   write to the OS) in an isolated task, checked for its exact kind;
//! - a supervised isolated task that fails and is restarted.
//!
//! A watchdog task counts throughout. At the end, kernel heap bytes and
//! frames must be exactly where they were after a warm-up round (less what
//! the OS keeps for reuse on purpose; see `settle` and `heap_in_use`).
//!
//! Another mix: `SOAK_SEED=7 just _build qemu-virt`, then boot
//! `target/images/qemu-virt/soak.elf` with `boards/run` and the icount options.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::ipc;
use ilusion::mm::{Access, SharedRegion};
use ilusion::syscall::user::exit;
use ilusion::task::{self, Builder, Policy, Restart, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// At least 10^8 instructions: under icount, 1 ns each, so 100 ms; run 300 ms.
const RUN_FOR: Duration = Duration::from_millis(300);

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    option_env!("SOAK_SEED").and_then(|s| s.parse().ok()).unwrap_or(1).max(1)
}

static DETACHED_DONE: AtomicU64 = AtomicU64::new(0);

fn main() {
    let stop = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicU64::new(0));
    let watchdog = {
        let (stop, ticks) = (stop.clone(), ticks.clone());
        Builder::new()
            .name("watchdog")
            .priority(task::Priority::Preemptive(2))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    time::sleep(Duration::from_millis(1));
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
    };
    let region = SharedRegion::new(8192).expect("shared region");
    let seed = seed();
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    ilusion::println!("soak: seed {seed}");

    // Warm-up: one of each, so caches (stack slots, frame pool) are filled
    // before the baseline is taken.
    for action in 0..ACTIONS {
        run(action, &mut rng, &region);
    }
    settle();
    let heap_before = heap_in_use();
    let frames_before = ilusion::mm::frames_in_use();

    let start = Instant::now();
    let mut counts = [0u32; ACTIONS as usize];
    while start.elapsed() < RUN_FOR {
        let action = rng.below(ACTIONS);
        counts[action as usize] += 1;
        run(action, &mut rng, &region);
    }
    settle();
    let heap_after = heap_in_use();
    let frames_after = ilusion::mm::frames_in_use();
    stop.store(true, Ordering::Relaxed);
    watchdog.join().unwrap();
    let watchdog_ticks = ticks.load(Ordering::Relaxed);
    ilusion::println!("soak: actions {counts:?}, watchdog {watchdog_ticks} ticks");
    check(
        watchdog_ticks >= RUN_FOR.as_millis() as u64 / 2,
        "watchdog_kept_running",
        format_args!("{watchdog_ticks} ticks"),
    );
    check(
        heap_after == heap_before && frames_after == frames_before,
        "memory_back_to_baseline",
        format_args!("heap {heap_before} -> {heap_after} bytes, frames {frames_before} -> {frames_after}"),
    );
    finish();
}

/// Lets detached tasks end (they sleep at most 3 ms), then puts the OS's
/// reuse caches in one known state, so that heap bytes compare exactly:
/// - stack slots: the tables that map a slot's stacks stay for the next
///   task in that slot, so the heap holds tables for the most tasks ever
///   alive at once; `MOST_TASKS_AT_ONCE` tasks alive together make the
///   warm-up reach the most the soak ever has;
/// - the stack cache (a few stacks of recently ended tasks, of whatever
///   sizes they had) then holds kernel-task stacks only.
fn settle() {
    time::sleep(Duration::from_millis(10));
    let tasks: [_; MOST_TASKS_AT_ONCE] =
        core::array::from_fn(|_| task::spawn(|| time::sleep(Duration::from_millis(1))));
    for t in tasks {
        t.join().unwrap();
    }
}

/// More than the soak ever has alive at once: main, the watchdog, at most
/// `MAX_DETACHED` detached sleepers, and two more (an isolated pair, or a
/// supervised task and its runs).
const MOST_TASKS_AT_ONCE: usize = MAX_DETACHED as usize + 6;
const MAX_DETACHED: u64 = 8;
static DETACHED_ALIVE: AtomicU64 = AtomicU64::new(0);

/// Kernel heap bytes in use, less the frames the frame pool keeps for the
/// next isolated task (memory kept for reuse on purpose, not lost).
fn heap_in_use() -> usize {
    ilusion::mm::heap::stats().requested - ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize
}

const ACTIONS: u64 = 7;

fn run(action: u64, rng: &mut Rng, region: &SharedRegion) {
    match action {
        0 => compute(rng),
        1 => detached_sleepers(rng),
        2 => kernel_panic(),
        3 => isolated_channel(rng),
        4 => shared_region(rng, region),
        5 => injected_fault(rng),
        _ => supervised(rng),
    }
}

fn fail(what: core::fmt::Arguments) -> ! {
    ilusion::println!("FAIL soak: {what}");
    ilusion::exit(1)
}

fn compute(rng: &mut Rng) {
    let n = rng.below(1000);
    let got = task::spawn(move || (0..n).sum::<u64>()).join();
    if got != Ok(n * n.saturating_sub(1) / 2) {
        fail(format_args!("compute {n}: {got:?}"));
    }
}

fn detached_sleepers(rng: &mut Rng) {
    for _ in 0..=rng.below(3) {
        let ms = rng.below(4);
        if DETACHED_ALIVE.load(Ordering::Relaxed) >= MAX_DETACHED {
            return;
        }
        DETACHED_ALIVE.fetch_add(1, Ordering::Relaxed);
        drop(task::spawn(move || {
            time::sleep(Duration::from_millis(ms));
            DETACHED_DONE.fetch_add(1, Ordering::Relaxed);
            DETACHED_ALIVE.fetch_sub(1, Ordering::Relaxed);
        }));
    }
}

fn kernel_panic() {
    let got = Builder::new().name("panicker").spawn(|| -> () { panic!("soak panic") }).unwrap().join();
    if !matches!(&got, Err(TaskFailure::Panic { .. })) {
        fail(format_args!("kernel panic: {got:?}"));
    }
}

/// An isolated sender and an isolated receiver: every sequence number
/// arrives once, in order.
fn isolated_channel(rng: &mut Rng) {
    let count = 1 + rng.below(40);
    let bound = 1 + rng.below(4) as usize;
    let (tx, rx) = ipc::channel::<[u64; 2]>(bound);
    let mut b = Builder::new().name("seq sender");
    let tx = b.grant(tx);
    let sender = b
        .spawn_isolated(move || {
            for seq in 0..count {
                if tx.send([seq, seq ^ 0x5eed]).is_err() {
                    exit(2);
                }
            }
        })
        .unwrap();
    let mut b = Builder::new().name("seq receiver");
    let rx = b.grant(rx);
    let receiver = b
        .spawn_isolated(move || {
            for expected in 0..count {
                match rx.recv() {
                    Ok([seq, check]) if seq == expected && check == seq ^ 0x5eed => {}
                    Ok(_) => exit(3),
                    Err(_) => exit(4),
                }
            }
            // Nothing extra: the sender is gone, so this is the end.
            if rx.recv().is_ok() {
                exit(5);
            }
        })
        .unwrap();
    let (s, r) = (sender.join(), receiver.join());
    if s != Ok(()) || r != Ok(()) {
        fail(format_args!("channel of {count} (bound {bound}): sender {s:?}, receiver {r:?}"));
    }
}

fn shared_region(rng: &mut Rng, region: &SharedRegion) {
    let value = rng.next() as u8;
    let offset = rng.below(region.len() as u64) as usize;
    let mut b = Builder::new().name("region writer");
    let view = b.share(region, Access::ReadWrite);
    let got = b
        .spawn_isolated(move || {
            if view.write(offset, &[value]).is_err() {
                exit(2);
            }
        })
        .unwrap()
        .join();
    let mut byte = [0u8];
    region.read(offset, &mut byte).unwrap();
    if got != Ok(()) || byte[0] != value {
        fail(format_args!("shared region: {got:?}, read {} wanted {value}", byte[0]));
    }
}

fn injected_fault(rng: &mut Rng) {
    let kind = rng.below(4);
    let got = Builder::new()
        .name("faulty")
        .spawn_isolated(move || match kind {
            // SAFETY: none: each fault is the point of the test.
            0 => unsafe {
                core::ptr::read_volatile(core::ptr::null::<u64>());
            },
            // SAFETY: as above.
            1 => unsafe { core::arch::asm!("udf #0") },
            2 => {
                common::recurse(0);
            }
            // SAFETY: as above.
            _ => unsafe { core::ptr::write_volatile(DETACHED_DONE.as_ptr(), 7) },
        })
        .unwrap()
        .join();
    let right = match kind {
        0 | 3 => matches!(got, Err(TaskFailure::MemoryAccess { .. })),
        1 => matches!(got, Err(TaskFailure::IllegalInstruction { .. })),
        _ => matches!(got, Err(TaskFailure::StackOverflow)),
    };
    if !right {
        fail(format_args!("fault kind {kind}: {got:?}"));
    }
}

fn supervised(rng: &mut Rng) {
    let restarts = rng.below(3) as u32;
    let builder = Builder::new().name("supervised");
    let got = task::supervise(builder, Policy::new(Restart::UpTo(restarts)), || {
        // SAFETY: none: the fault is the point of the test.
        unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    });
    match got {
        Ok(s) if s.restarts == restarts && matches!(s.outcome, Err(TaskFailure::MemoryAccess { .. })) => {}
        other => fail(format_args!("supervised ({restarts} restarts): {other:?}")),
    }
}
