//! Instruction counts of isolated-task operations, printed as `cost NAME VALUE`
//! (for the QEMU test) and `bench NAME VALUE` (for `just bench`); the image
//! is `bench_isolation`.
//! Meaningful only under `-icount shift=0,align=off,sleep=off -seed 1 -rtc
//! clock=vm` (1 instruction = 1 ns of virtual time), like `benches/`.
//!
//! Isolated tasks cannot read the counter, so each figure is the kernel's
//! view: spawn + join of a task doing N operations, minus spawn + join of an
//! empty one, over N.
#![no_std]
#![no_main]

use ilusion::ipc;
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

/// Ticks for two isolated tasks to bounce one `u64` back and forth `N`
/// times over two channels (each message: a send, a receive, a switch of
/// address space).
fn ping_pong() -> u64 {
    let (ping_tx, ping_rx) = ipc::channel::<u64>(1);
    let (pong_tx, pong_rx) = ipc::channel::<u64>(1);
    let start = Instant::now();
    let mut pinger = Builder::new().priority(Priority::Cooperative(1));
    let (tx, rx) = (pinger.grant(ping_tx), pinger.grant(pong_rx));
    let pinger = pinger
        .spawn_isolated(move || {
            for i in 0..N {
                let _ = tx.send(i);
                let _ = rx.recv();
            }
        })
        .expect("spawn");
    let mut ponger = Builder::new().priority(Priority::Cooperative(1));
    let (tx, rx) = (ponger.grant(pong_tx), ponger.grant(ping_rx));
    let ponger = ponger
        .spawn_isolated(move || {
            for _ in 0..N {
                let _ = rx.recv().map(|v| tx.send(v));
            }
        })
        .expect("spawn");
    pinger.join().expect("pinger failed");
    ponger.join().expect("ponger failed");
    Instant::now().ticks() - start.ticks()
}

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
    let messages = ping_pong();
    ilusion::println!("cost channel_message_isolated {}", instructions(messages - 2 * empty) / (2 * N));
    ilusion::println!("bench channel_send_recv_isolated {}", instructions(messages - 2 * empty) / (2 * N));
}
