//! Instruction counts of isolated-task operations, printed as `cost NAME VALUE`
//! (for the QEMU test) and `bench NAME VALUE` (for `just bench`); the image
//! is `bench_isolation`.
//! Meaningful only under `-icount shift=0,align=off,sleep=off -seed 1 -rtc
//! clock=vm` (1 instruction = 1 ns of virtual time), like `benches/`.
//!
//! It fails (exit status 1) when a figure is over issue 4's budget.
//!
//! Isolated tasks cannot read the counter, so each figure is the kernel's
//! view: spawn + join of a task doing N operations, minus spawn + join of an
//! empty one, over N.
#![no_std]
#![no_main]

use ilusion::syscall::abi::Syscall;
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{self, Builder, Priority};
use ilusion::time::Instant;

ilusion::entry!(main);

fn instructions(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000 / ilusion::time::frequency() as u128) as u64
}

/// Ticks to spawn and join `tasks` isolated tasks, each running `f`.
fn run(tasks: usize, f: impl Fn() + Clone + Send + 'static) -> u64 {
    let start = Instant::now();
    let handles: [_; 2] = core::array::from_fn(|i| {
        (i < tasks).then(|| Builder::new().priority(Priority::Cooperative(1)).spawn_isolated(f.clone()).expect("spawn"))
    });
    for h in handles.into_iter().flatten() {
        h.join().expect("isolated task failed");
    }
    Instant::now().ticks() - start.ticks()
}

const N: u64 = 20_000;

fn main() {
    let runs = 100;
    let empty = (0..runs).map(|_| run(1, || {})).sum::<u64>() / runs;
    ilusion::println!("cost isolated_spawn_join_empty {}", instructions(empty));
    ilusion::println!("bench spawn_join_isolated {}", instructions(empty));
    let calls = run(1, || {
        for _ in 0..N {
            raw_syscall(Syscall::AbiVersion as u64, 0, 0, 0);
        }
    });
    ilusion::println!("cost null_syscall {}", instructions(calls - empty) / N);
    ilusion::println!("bench syscall_null {}", instructions(calls - empty) / N);
    let yields = run(2, || {
        for _ in 0..N {
            task::yield_now();
        }
    });
    ilusion::println!("cost isolated_yield_2_tasks {}", instructions(yields - 2 * empty) / (2 * N));
    ilusion::println!("bench yield_isolated {}", instructions(yields - 2 * empty) / (2 * N));
    // Issue 4's budgets: null call < 80, yield < 400, spawn + join < 25,000.
    let within = instructions(calls - empty) / N < 80
        && instructions(yields - 2 * empty) / (2 * N) < 400
        && instructions(empty) < 25_000;
    ilusion::println!("isolation costs within budgets: {within}");
    if !within {
        ilusion::exit(1);
    }
}
