//! QEMU test (under icount: exact counts): supervised restarts.
//!
//! `task::supervise` spawns every run from one `Builder` with its grants:
//! each run finds the same channel endpoints (a receiver and a sender,
//! their handles carried over, never disconnected in between) and the same
//! shared region. The policy's window gives up after N failures within a
//! period and returns the last failure; failures spread wider than the
//! period go on until the restart limit. No run leaks: frames and the
//! kernel heap are back where they started once the supervisor is done.
#![no_std]
#![no_main]

use core::time::Duration;
use ilusion::ipc;
use ilusion::mm::{Access, SharedRegion};
use ilusion::task::{self, Builder, GaveUp, Policy, Priority, Restart, Supervised, TaskFailure};

ilusion::entry!(main);

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

/// The job that makes a run return instead of failing.
const FINISH: u64 = u64::MAX;

/// Supervises a task that, each run: receives a job number, counts its run
/// in byte 0 of a shared region, reports the job, then sleeps the job's
/// number of milliseconds and faults (or returns, for [`FINISH`]). Returns
/// the outcome, the jobs reported and the runs counted.
fn run(name: &str, policy: Policy, jobs: &[u64]) -> (Supervised, [u64; 8], u8) {
    let (job_tx, job_rx) = ipc::channel::<u64>(8);
    let (report_tx, report_rx) = ipc::channel::<u64>(8);
    for &job in jobs {
        job_tx.send(job).expect("queue job");
    }
    let region = SharedRegion::new(8).expect("region");
    let mut builder = Builder::new().name(name).priority(Priority::Preemptive(3));
    let (jobs_in, reports) = (builder.grant(job_rx), builder.grant(report_tx));
    let runs = builder.share(&region, Access::ReadWrite);
    let supervised = task::supervise(builder, policy, move || {
        let Ok(job) = jobs_in.recv() else { return };
        let mut count = [0u8];
        let _ = runs.read(0, &mut count);
        let _ = runs.write(0, &[count[0] + 1]);
        let _ = reports.send(job);
        if job == FINISH {
            return;
        }
        ilusion::time::sleep(Duration::from_millis(job));
        // SAFETY: not safe at all: the fault under test.
        unsafe { core::ptr::write_volatile(core::hint::black_box(8usize) as *mut u64, job) };
    })
    .expect("supervise");
    // The supervisor is done: the task's endpoints are released, so the
    // reports end with a disconnection and the jobs have no receiver.
    let mut reported = [0u64; 8];
    for (slot, job) in reported.iter_mut().zip(report_rx.iter()) {
        *slot = job;
    }
    if job_tx.send(0).is_ok() || report_rx.recv().is_ok() {
        fail("the channels were not released when the supervisor was done");
    }
    let mut count = [0u8];
    region.read(0, &mut count).expect("read region");
    (supervised, reported, count[0])
}

fn print(what: &str, (s, reported, runs): &(Supervised, [u64; 8], u8)) {
    let last_is_fault = matches!(s.outcome, Err(TaskFailure::MemoryAccess { addr: 8, .. }));
    ilusion::print!("{what}: restarts {}, runs counted in the region {runs}, jobs reported {reported:?}, ", s.restarts);
    match s.gave_up {
        Some(GaveUp::TooManyFailures { failures, span }) => {
            ilusion::print!("gave up: {failures} failures within {} ms", span.as_millis())
        }
        Some(GaveUp::RestartLimit) => ilusion::print!("gave up: restart limit"),
        None => ilusion::print!("returned"),
    }
    ilusion::println!(", last outcome a memory fault {last_is_fault}");
}

fn main() {
    let ms = Duration::from_millis;
    // A warm-up, so that what the first isolated tasks set up once is not counted.
    run("warm-up", Policy::new(Restart::Never), &[FINISH]);
    let frames = ilusion::mm::frames_in_use();
    let heap = heap_in_use();

    // Failures 10 ms apart (the minimum run time): the third is within 25 ms of the first.
    let quick =
        run("quick", Policy::new(Restart::Always).min_run_time(ms(10)).give_up_after(3, ms(25)), &[1, 2, 3, 4, 5]);
    print("3 failures within 25 ms", &quick);
    // The same failures against a 15 ms window: never 3 within it; the restart limit ends it.
    let spread =
        run("spread", Policy::new(Restart::UpTo(4)).min_run_time(ms(10)).give_up_after(3, ms(15)), &[1, 1, 1, 1, 1, 1]);
    print("window 15 ms, up to 4 restarts", &spread);
    // Run 2 lasts 40 ms: failures at 0, 50, 50, 60 ms; the last three are within 25 ms.
    let slow =
        run("slow", Policy::new(Restart::Always).min_run_time(ms(10)).give_up_after(3, ms(25)), &[0, 40, 0, 0, 0, 0]);
    print("one slow run", &slow);
    // A run that returns ends supervision.
    let done = run("done", Policy::new(Restart::Always).give_up_after(3, ms(25)), &[0, FINISH]);
    print("returns on the second run", &done);

    let want = |s: &(Supervised, [u64; 8], u8), restarts: u32, gave_up: Option<GaveUp>, runs: u8| {
        s.0.restarts == restarts
            && s.0.gave_up.as_ref().map(core::mem::discriminant) == gave_up.as_ref().map(core::mem::discriminant)
            && s.2 == runs
    };
    let window = Some(GaveUp::TooManyFailures { failures: 3, span: Duration::ZERO });
    if !want(&quick, 2, window, 3) || quick.1[..4] != [1, 2, 3, 0] {
        fail("quick");
    }
    if !want(&spread, 4, Some(GaveUp::RestartLimit), 5) || spread.1[..6] != [1, 1, 1, 1, 1, 0] {
        fail("spread");
    }
    if !want(&slow, 3, window, 4) || slow.1[..5] != [0, 40, 0, 0, 0] {
        fail("slow");
    }
    if done.0.restarts != 1 || done.0.outcome != Ok(()) || done.0.gave_up.is_some() || done.2 != 2 {
        fail("done");
    }
    // The outcomes hold no heap memory (a failure's message is inline): nothing to free first.
    let frames_back = ilusion::mm::frames_in_use() == frames;
    let heap_back = heap_in_use() == heap;
    ilusion::println!("frames back {frames_back}, kernel heap back {heap_back}");
    if !(frames_back && heap_back) {
        ilusion::println!("heap {} -> {}", heap, heap_in_use());
        fail("leak");
    }
    ilusion::println!("supervise window ok");
}

/// Kernel heap bytes in use, less the freed frames the per-core frame pools
/// keep for the next isolated task (kept for reuse on purpose: a task that
/// ends on another core than last time leaves its frames in that core's pool).
fn heap_in_use() -> usize {
    ilusion::mm::heap::stats().allocated - ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize
}
