//! What the benchmark images share: converting counter ticks to
//! instructions, timing a loop with its own cost subtracted, and printing
//! `bench NAME VALUE` lines for `benches/run`.
//!
//! Under QEMU's `-icount shift=0` one guest instruction advances virtual
//! time by 1 ns and the generic timer counts that time, so instructions =
//! ticks x 1e9 / CNTFRQ (16 per tick at QEMU's 62.5 MHz).

#![allow(dead_code)]

use alloc::vec::Vec;
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Instant};

/// Counter ticks to instructions (1 instruction per ns under `-icount shift=0`).
pub fn instructions(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000 / time::frequency() as u128) as u64
}

/// Instructions to run `f` `n` times in a loop (call and loop included).
#[inline(never)]
pub fn time_loop(n: u64, f: &mut dyn FnMut()) -> u64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    instructions(start.elapsed_ticks())
}

/// Instructions the measuring loop itself costs per iteration (an empty body).
pub fn loop_cost(n: u64) -> u64 {
    time_loop(n, &mut || core::hint::black_box(()))
}

/// Instructions per call of `f`, with the loop's own cost subtracted.
pub fn per_op(n: u64, mut f: impl FnMut()) -> u64 {
    let empty = time_loop(n, &mut || core::hint::black_box(()));
    let full = time_loop(n, &mut f);
    full.saturating_sub(empty) / n
}

pub fn report(name: &str, value: u64) {
    ilusion::println!("bench {name} {value}");
}

/// `tasks` cooperative tasks at one level each yield `rounds` times:
/// instructions per yield (= per switch), their loop's cost subtracted.
pub fn yield_coop(tasks: usize, rounds: u64) -> u64 {
    let overhead = loop_cost(rounds);
    Builder::new()
        .priority(Priority::Cooperative(0))
        .spawn(move || {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    Builder::new()
                        .priority(Priority::Cooperative(1))
                        .stack_size(4096)
                        .spawn(move || {
                            for _ in 0..rounds {
                                task::yield_now();
                            }
                        })
                        .unwrap()
                })
                .collect();
            // All are ready; once the first runs, they take turns until done.
            let start = Instant::now();
            let mut handles = handles.into_iter();
            handles.next().unwrap().join().unwrap(); // after the first task's last yield
            let total = instructions(start.elapsed_ticks());
            handles.for_each(|h| h.join().unwrap());
            let yields = tasks as u64 * rounds;
            (total - overhead * tasks as u64) / yields
        })
        .unwrap()
        .join()
        .unwrap()
}

/// For the images of a 4-core boot (`bench_smp*`): stops with a clear
/// message unless at least `n` cores run tasks (e.g. QEMU started with
/// fewer: `benches/run` gives these images `-smp 4`).
pub fn require_cores(n: usize) {
    let online = task::cpus_online();
    if online < n {
        ilusion::println!(
            "error: this benchmark needs {n} cores running tasks, {online} are (boot QEMU with -smp {n})"
        );
        ilusion::exit(1);
    }
}
