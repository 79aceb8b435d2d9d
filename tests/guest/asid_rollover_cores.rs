//! QEMU test: ASIDs roll over while every core runs isolated tasks.
//!
//! On each core online, a long-lived isolated task (pinned there) keeps a
//! pattern on its stack and checks it after every yield, and a kernel task
//! (pinned there too) spawns and joins short-lived isolated tasks on that
//! core, far more in all than there are ASIDs in a generation. So rollovers
//! start on every core while the other cores hold active ASIDs: each core
//! must flush its own TLB at its next switch, and a long-lived task's ASID
//! must stay its own (reserved) across the rollover. A stale translation
//! would show as a wrong pattern or value, or a fault. With one core online
//! it all runs on core 0 and checks the same bookkeeping.
//!
//! The whole is done [`REPEATS`] times in a row (each must pass), so that
//! under real parallelism (MTTCG) the races get many chances.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use ilusion::task::{self, Builder};

ilusion::entry!(main);

/// Short-lived isolated tasks in all, spread over the cores.
const SHORT_TASKS: u64 = 400;
const ROUNDS: u64 = 300;
/// Times the whole test is done in a row.
const REPEATS: u64 = 10;

fn long_lived(seed: u64) -> impl FnOnce() + Send + 'static {
    move || {
        let mut pattern = [0u64; 64];
        for round in 0..ROUNDS {
            for (i, word) in pattern.iter_mut().enumerate() {
                *word = seed ^ (round << 8) ^ i as u64;
            }
            core::hint::black_box(&mut pattern);
            task::yield_now();
            for (i, word) in pattern.iter().enumerate() {
                if *word != seed ^ (round << 8) ^ i as u64 {
                    ilusion::syscall::user::exit(1);
                }
            }
        }
    }
}

/// Spawns and joins `count` short isolated tasks on core `cpu`: how many went wrong.
fn spawner(cpu: usize, first: u64, count: u64) -> u64 {
    let mut wrong = 0;
    for n in first..first + count {
        let secret = n * 7919;
        let outcome = Builder::new()
            .name("short")
            .cpu(cpu)
            .spawn_isolated::<_, ()>(move || {
                let copy = core::hint::black_box(secret);
                task::yield_now();
                ilusion::syscall::user::exit(if copy == n * 7919 { 0 } else { 2 });
            })
            .expect("spawn short")
            .join();
        if outcome.is_err() {
            wrong += 1;
            ilusion::println!("short task {n} on core {cpu}: {outcome:?}");
        }
    }
    wrong
}

fn main() {
    for repeat in 1..=REPEATS {
        if !rollover_on_every_core(repeat) {
            ilusion::println!("FAILED");
            ilusion::exit(1);
        }
    }
    ilusion::println!("asid rollover on every core ok");
}

/// Long-lived and short-lived isolated tasks on every core: whether all went right.
fn rollover_on_every_core(repeat: u64) -> bool {
    let cores = task::cpus_online();
    let frames_before = ilusion::mm::frames_in_use();
    let generation_before = ilusion::mm::address_space::asid_generation();
    let long: Vec<_> = (0..cores)
        .map(|cpu| {
            let seed = 0x1000_0000 * (cpu as u64 + 1);
            Builder::new().name("long").cpu(cpu).spawn_isolated(long_lived(seed)).expect("spawn long")
        })
        .collect();
    let share = SHORT_TASKS.div_ceil(cores as u64);
    let spawners: Vec<_> = (0..cores)
        .map(|cpu| {
            let first = cpu as u64 * share;
            let count = share.min(SHORT_TASKS - first);
            Builder::new().name("spawner").cpu(cpu).spawn(move || spawner(cpu, first, count)).expect("spawn spawner")
        })
        .collect();
    let wrong: u64 = spawners.into_iter().map(|s| s.join().expect("spawner")).sum();
    let long_failed = long.into_iter().map(|t| t.join()).filter(|outcome| outcome.is_err()).count();
    let generations = ilusion::mm::address_space::asid_generation() - generation_before;
    let frames_freed = ilusion::mm::frames_in_use() == frames_before;
    ilusion::println!(
        "{repeat}/{REPEATS}: {cores} cores: {SHORT_TASKS} short tasks, {wrong} wrong; long-lived failed: {long_failed}; new ASID generations: {generations}; frames freed {frames_freed}"
    );
    wrong == 0 && long_failed == 0 && generations >= 2 && frames_freed
}
