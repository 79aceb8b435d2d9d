//! QEMU test: a kernel task waiting for console input (`console::read_line`,
//! `read_byte_blocking`) blocks, as a task waiting for anything else does:
//! its core runs other tasks meanwhile, less urgent ones included, and a
//! kill ends the reader there.
//!
//! The reader used to wait in its core (`wfe`, woken by each interrupt to
//! look again): a less urgent task on that core never ran while it
//! waited, and a kill (which a kernel task takes at its next block or
//! yield) waited for a byte that never came. No input is typed here.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

extern crate alloc;

use common::{check, finish};
use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::console;
use ilusion::task::{Builder, Priority, TaskFailure};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

/// Every task of the test on one core: the reader, if it held the core,
/// would keep the less urgent worker from running there.
const CORE: usize = 0;
/// Less urgent than the test's own task (`Priority::DEFAULT`, 15), which
/// must be able to look and kill; more urgent than the worker.
const READER: Priority = Priority::Preemptive(16);
const WORKER: Priority = Priority::Preemptive(20);

static WORKED: AtomicBool = AtomicBool::new(false);

/// One way to wait for input, and the names of its two checks.
struct Case {
    reader_name: &'static str,
    read: fn() -> usize,
    worker_runs: &'static str,
    reader_killed: &'static str,
}

const CASES: [Case; 2] = [
    Case {
        reader_name: "read_line",
        read: read_a_line,
        worker_runs: "worker_runs_while_read_line_waits",
        reader_killed: "killed_in_read_line",
    },
    Case {
        reader_name: "read_byte_blocking",
        read: read_a_byte,
        worker_runs: "worker_runs_while_read_byte_waits",
        reader_killed: "killed_in_read_byte_blocking",
    },
];

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn run() {
    for case in CASES {
        WORKED.store(false, Ordering::Relaxed);
        let reader = Builder::new()
            .name(case.reader_name)
            .cpu(CORE)
            .priority(READER)
            .spawn(case.read)
            .expect("spawn the reader");
        let worker = Builder::new()
            .name("worker")
            .cpu(CORE)
            .priority(WORKER)
            .spawn(|| WORKED.store(true, Ordering::Relaxed))
            .expect("spawn the worker");
        // The reader waits first (more urgent), then the worker may run.
        time::sleep(Duration::from_millis(20));
        let worked = WORKED.load(Ordering::Relaxed);
        check(worked, case.worker_runs, format_args!("worker ran: {worked}"));

        let killed = reader.kill();
        let ended = reader.join_timeout(Duration::from_millis(100));
        let ok = killed.is_ok() && matches!(ended, Ok(Err(TaskFailure::Killed)));
        let said = match &ended {
            Ok(outcome) => alloc::format!("{outcome:?}"),
            Err(_) => "still waiting 100 ms after the kill".into(),
        };
        check(ok, case.reader_killed, format_args!("kill {killed:?}, reader: {said}"));
        if let Err(still) = ended {
            core::mem::forget(still); // it holds the core's input; leave it
        }
        let _ = worker.join_timeout(Duration::from_millis(100));
    }
}

fn read_a_line() -> usize {
    let mut buf = [0u8; 16];
    console::read_line(&mut buf)
}

fn read_a_byte() -> usize {
    usize::from(console::read_byte_blocking())
}
