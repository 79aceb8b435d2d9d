//! Isolated tasks: three tasks at EL0, each in its own address space. Two
//! count and print, keeping their totals in a `Vec` on their own heap (backed
//! page by page on first touch) and showing their resident memory at the
//! end; the third writes to kernel memory on purpose. Its fault
//! is reported, it is restarted (at most twice, at least 5 ms apart) in a
//! fresh address space, and the other two never notice.
//!
//! At the end it prints both counters' address spaces as they were midway
//! (each stops after its second round until `main` has looked: two
//! channels), heap in use, in the framed form `just maps isolation` draws
//! (`ilusion::mm::maps`).
//!
//! `just run isolation`
#![no_std]
#![no_main]

extern crate alloc;

use core::time::Duration;
use ilusion::ipc;
use ilusion::task::{self, Builder, Policy, Restart};

ilusion::entry!(main);

/// Kernel data: an isolated task cannot reach it.
static KERNEL_COUNTER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn main() {
    let frames_at_start = ilusion::mm::frames_in_use();
    // Each worker also gets two channels, to stop midway until `main` has
    // taken its address space (below): a sleep would do on an idle
    // machine, but on a busy one the cores' turns come late.
    let workers = [("alpha", 3u64), ("beta", 5)].map(|(name, step)| {
        let (midway_tx, midway_rx) = ipc::channel::<()>(1);
        let (go_on_tx, go_on_rx) = ipc::channel::<()>(1);
        let mut builder = Builder::new().name(name);
        let (midway_tx, go_on_rx) = (builder.grant(midway_tx), builder.grant(go_on_rx));
        let worker = builder
            .spawn_isolated(move || {
                let mut totals = alloc::vec::Vec::new(); // on the task's own heap
                let resident_before = ilusion::syscall::user::resident_bytes();
                let mut total = 0;
                for round in 1..=4 {
                    total += step;
                    totals.push(total);
                    ilusion::println!("[{name}] round {round}: total {total}");
                    if round == 2 {
                        midway_tx.send(()).ok(); // to main; then wait for its go-ahead
                        go_on_rx.recv().ok();
                    }
                    ilusion::time::sleep(Duration::from_millis(4));
                }
                let resident = ilusion::syscall::user::resident_bytes();
                ilusion::println!(
                    "[{name}] totals {totals:?}; resident {resident} bytes ({} more for the heap)",
                    resident - resident_before
                );
            })
            .expect("spawn isolated");
        (worker, midway_rx, go_on_tx)
    });
    ilusion::mm::dump(&workers[0].0);

    let target = KERNEL_COUNTER.as_ptr() as u64;
    let supervisor = task::spawn(move || {
        let policy = Policy::new(Restart::UpTo(2)).min_run_time(Duration::from_millis(5));
        task::supervise(Builder::new().name("vandal"), policy, move || {
            ilusion::println!("[vandal] writing to kernel memory at {target:#x}");
            // SAFETY: not safe at all: the point of the example is that it faults.
            unsafe { core::ptr::write_volatile(target as *mut u64, 666) };
        })
    });

    // Midway (two rounds done, the heap in use; each worker waits for us):
    // the address spaces, kept for the end so they do not cut into the
    // story above.
    let maps = workers.each_ref().map(|(worker, midway, go_on)| {
        midway.recv().ok();
        let frame = ilusion::mm::maps(worker).unwrap_or_else(|why| why + "\n");
        go_on.send(()).ok();
        frame
    });

    for (worker, ..) in workers {
        let name = worker.task();
        ilusion::println!("{name} joined: {:?}", worker.join());
    }
    let supervised = supervisor.join().expect("supervisor").expect("spawn");
    match &supervised.outcome {
        Ok(()) => ilusion::println!("vandal: {} restarts, then returned", supervised.restarts),
        Err(failure) => ilusion::println!("vandal: {} restarts, last failure: {failure}", supervised.restarts),
    }
    ilusion::println!(
        "kernel counter untouched: {}, frames back to start: {}",
        KERNEL_COUNTER.load(core::sync::atomic::Ordering::Relaxed) == 0,
        ilusion::mm::frames_in_use() == frames_at_start
    );
    ilusion::println!("address spaces midway, for `just maps isolation`:");
    for frame in maps {
        ilusion::print!("{frame}");
    }
}
