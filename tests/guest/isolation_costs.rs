//! Instruction counts of isolated-task operations, printed as `cost NAME VALUE`
//! (for the QEMU test) and `bench NAME VALUE` (for `just bench`); the image
//! is `bench_isolation`.
//! Meaningful only under `-icount shift=0,align=off,sleep=off -seed 1 -rtc
//! clock=vm` (1 instruction = 1 ns of virtual time), like `benches/`.
//!
//! It fails (exit status 1) when a figure is over the isolation design's budget
//! (docs/notes-isolation-design.md): the costs that make isolation affordable.
//!
//! Isolated tasks cannot read the counter, so each figure is the kernel's
//! view: spawn + join of a task doing N operations, minus spawn + join of an
//! empty one, over N (the task's loop is included: 2 or 3 instructions).
//!
//! `page_fault_demand_zero` is one first touch of a heap page: the fault,
//! a frame from the kernel heap, its mapping, the return, and giving the
//! frame back when the task ends, *minus* the zeroing of the frame, which
//! is measured on its own (`frame_zeroing`: `alloc_zeroed` minus `alloc` of
//! a frame, in the kernel) and subtracted. `isolated_task_bytes` is the
//! kernel heap (control block, kernel-side stacks, translation tables,
//! frames) per isolated task that has started and sleeps.
#![no_std]
#![no_main]

extern crate alloc;

use ilusion::ipc;
use ilusion::syscall::abi::Syscall;
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{self, Builder, Priority, TaskFailure};
use ilusion::time::Instant;

ilusion::entry!(main);

fn instructions(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000 / ilusion::time::frequency() as u128) as u64
}

/// Ticks to spawn and join `tasks` isolated tasks, each running `f`.
fn run(tasks: usize, f: impl Fn() + Clone + Send + 'static) -> u64 {
    let start = Instant::now();
    let handles: [_; 2] = core::array::from_fn(|i| {
        (i < tasks).then(|| Builder::new().priority(Priority::Preemptive(0)).spawn_isolated(f.clone()).expect("spawn"))
    });
    for h in handles.into_iter().flatten() {
        h.join().expect("isolated task failed");
    }
    Instant::now().ticks() - start.ticks()
}

const N: u64 = 20_000;
/// Heap pages touched for the page-fault figure: all under one level-3 table.
const PAGES: u64 = 500;

fn kernel_per_op(n: u64, mut op: impl FnMut()) -> u64 {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    Instant::now().ticks() - start.ticks()
}

/// Instructions spent zeroing a frame in the page-fault path: the same
/// `arch::cpu::zero_page` (`DC ZVA`) on a page-aligned kernel frame.
fn frame_zeroing() -> u64 {
    let layout = core::alloc::Layout::from_size_align(4096, 4096).unwrap();
    // SAFETY: a non-zero-size layout; freed below.
    let frame = unsafe { alloc::alloc::alloc(layout) };
    let n = 2_000;
    // SAFETY: a whole page-aligned frame of the kernel heap, ours alone.
    let zeroing = kernel_per_op(n, || unsafe { ilusion::internals::zero_page(core::hint::black_box(frame)) });
    let empty = kernel_per_op(n, || {
        core::hint::black_box(frame);
    });
    // SAFETY: allocated above with `layout`, freed once.
    unsafe { alloc::alloc::dealloc(frame, layout) };
    instructions(zeroing - empty) / n
}

/// Instructions per first touch of a heap page, measured inside the task
/// (from one `time` call to the next: under icount, nanoseconds are
/// instructions). The task reports the figure as its exit status.
fn page_touch() -> u64 {
    let outcome = Builder::new()
        .spawn_isolated::<_, ()>(|| {
            let now = || raw_syscall(Syscall::Time as u64, 0, 0, 0);
            let start = now();
            for page in 0..PAGES {
                let addr = ilusion::mm::user_layout::HEAP_BASE + page * ilusion::mm::PAGE_SIZE;
                // SAFETY: the task's own heap reserve: each first touch maps a zeroed page.
                unsafe { core::ptr::write_volatile(addr as *mut u8, 1) };
            }
            ilusion::syscall::user::exit((now() - start).max(1))
        })
        .expect("spawn")
        .join();
    match outcome {
        Err(TaskFailure::Exited { status }) => status / PAGES,
        other => panic!("page-touch task: {other:?}"),
    }
}

/// OS memory per isolated task, started and asleep at EL0: kernel heap
/// (control block, kernel stacks, packet) and frames (pages and tables).
fn isolated_task_bytes() -> u64 {
    const TASKS: usize = 20;
    let before = ilusion::mm::heap::stats().allocated;
    let pool_before = ilusion::mm::pooled_frames();
    let handles: [_; TASKS] = core::array::from_fn(|_| {
        Builder::new()
            .priority(Priority::Preemptive(0))
            .spawn_isolated(|| ilusion::time::sleep(core::time::Duration::from_millis(5)))
            .expect("spawn")
    });
    task::yield_now(); // let them all start and go to sleep
    let during = ilusion::mm::heap::stats().allocated;
    let pool_during = ilusion::mm::pooled_frames();
    for h in handles {
        h.join().expect("isolated task failed");
    }
    // Frames taken from the pool of freed frames were already counted as
    // allocated: add them.
    let from_pool = pool_before.saturating_sub(pool_during) * ilusion::mm::PAGE_SIZE as usize;
    ((during - before + from_pool) / TASKS) as u64
}

/// Ticks for two isolated tasks to bounce one `u64` back and forth `N`
/// times over two channels (each message: a send, a receive, a switch of
/// address space).
fn ping_pong() -> u64 {
    let (ping_tx, ping_rx) = ipc::channel::<u64>(1);
    let (pong_tx, pong_rx) = ipc::channel::<u64>(1);
    let start = Instant::now();
    let mut pinger = Builder::new().priority(Priority::Preemptive(0));
    let (tx, rx) = (pinger.grant(ping_tx), pinger.grant(pong_rx));
    let pinger = pinger
        .spawn_isolated(move || {
            for i in 0..N {
                let _ = tx.send(i);
                let _ = rx.recv();
            }
        })
        .expect("spawn");
    let mut ponger = Builder::new().priority(Priority::Preemptive(0));
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

    let allocs = run(1, || {
        let layout = core::alloc::Layout::from_size_align(128, 8).unwrap();
        // A heap in use, as the OS heap is: a neighbour stays allocated, so
        // a freed block merges with its buddy but not all the way up to the page.
        let neighbour = core::hint::black_box(alloc::boxed::Box::new([0u8; 128]));
        for _ in 0..N {
            // SAFETY: a non-zero-size layout; the block is freed with it at once.
            unsafe { alloc::alloc::dealloc(core::hint::black_box(alloc::alloc::alloc(layout)), layout) }
        }
        drop(neighbour);
    });
    ilusion::println!("cost alloc_free_128_isolated {}", instructions(allocs - empty) / N);
    ilusion::println!("bench alloc_free_128_isolated {}", instructions(allocs - empty) / N);

    let zeroing = frame_zeroing();
    let per_page = page_touch();
    let fault = per_page.saturating_sub(zeroing);
    ilusion::println!("cost frame_zeroing {zeroing}");
    ilusion::println!("cost page_touch_with_zeroing {per_page}");
    ilusion::println!("cost page_fault_demand_zero {fault}");
    ilusion::println!("bench page_fault_demand_zero {fault}");

    let bytes = isolated_task_bytes();
    ilusion::println!("cost isolated_task_bytes {bytes}");
    ilusion::println!("bench isolated_task_bytes {bytes}");

    let messages = ping_pong();
    ilusion::println!("cost channel_message_isolated {}", instructions(messages - 2 * empty) / (2 * N));
    ilusion::println!("bench channel_send_recv_isolated {}", instructions(messages - 2 * empty) / (2 * N));

    // The isolation design's budgets: null call < 80, yield < 400, spawn + join < 25,000,
    // demand-zero fault (without the zeroing) < 600.
    let within = instructions(calls - empty) / N < 80
        && instructions(yields - 2 * empty) / (2 * N) < 400
        && instructions(empty) < 25_000
        && fault < 600;
    ilusion::println!("isolation costs within budgets: {within}");
    if !within {
        ilusion::exit(1);
    }
}
