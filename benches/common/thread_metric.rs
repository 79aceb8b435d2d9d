//! The Thread-Metric suite itself (see `benches/thread_metric.rs` for what
//! it measures and how it maps onto ilusion), shared by the one-core image
//! (`bench_thread_metric`) and the 4-core one (`bench_smp_thread_metric`):
//! [`run_suite`] runs every test with its tasks on the cores given and
//! reports the figures under a prefix.

use crate::common::{instructions, report};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use ilusion::percpu::CpuMask;
use ilusion::sync::{mpsc, Mutex, Semaphore};
use ilusion::task::{self, Builder, JoinHandle, Priority};
use ilusion::time::{self, Duration, Instant};

/// The reporting interval (Thread-Metric's default is 30 s of wall time;
/// here virtual time, 1 instruction per ns, so 5 ms = 5,000,000 instructions).
const INTERVAL: Duration = Duration::from_millis(5);
const SGI: u32 = 2;

/// Per-thread counters (threads 0 to 4) and the interrupt handler's.
static COUNTERS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static HANDLER_COUNTER: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// What the SGI handler does: `GIVE` the semaphore, or `RESUME` the urgent thread.
static HANDLER_MODE: AtomicU8 = AtomicU8::new(0);
const GIVE: u8 = 1;
const RESUME: u8 = 2;
static IRQ_SEMAPHORE: Semaphore = Semaphore::new(0);
static TO_RESUME: spin::Once<JoinHandle<()>> = spin::Once::new();

fn prio(tm: u8) -> Priority {
    Priority::Preemptive(tm)
}

fn count(i: usize) {
    COUNTERS[i].fetch_add(1, Ordering::Relaxed);
}

/// The cores every task of the suite may run on, and the figures' prefix.
static CPUS: AtomicU64 = AtomicU64::new(1);
static PREFIX: spin::Once<&'static str> = spin::Once::new();

/// Runs every test with its tasks (reporter included) on the cores in
/// `cpus`, reporting `{prefix}{test}_per_interval` and `{prefix}{test}_instructions`.
pub fn run_suite(prefix: &'static str, cpus: CpuMask) {
    CPUS.store(cpus, Ordering::Relaxed);
    PREFIX.call_once(|| prefix);
    let sgi = ilusion::irq::register(SGI, on_sgi).is_ok() && ilusion::irq::send_software_interrupt(SGI).is_ok();
    run("basic_processing", 1, basic_processing);
    run("cooperative_scheduling", 5, cooperative_scheduling);
    run("preemptive_scheduling", 5, preemptive_scheduling);
    if sgi {
        run("interrupt_processing", 1, interrupt_processing);
        run("interrupt_preemption_processing", 2, interrupt_preemption_processing);
    } else {
        ilusion::println!("thread-metric: interrupt tests skipped: no software interrupts on this board");
    }
    run("message_processing", 1, message_processing);
    run("synchronization_processing", 1, synchronization_processing);
    run("memory_allocation", 1, memory_allocation);
}

/// A task of the suite: on its cores.
fn builder() -> Builder {
    Builder::new().cpus(CPUS.load(Ordering::Relaxed))
}

/// Runs one test: `start` spawns its threads and returns a function that
/// ends them once `STOP` is set. Reports and checks fairness.
fn run(name: &str, threads: usize, start: fn() -> fn()) {
    COUNTERS.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    HANDLER_COUNTER.store(0, Ordering::Relaxed);
    STOP.store(false, Ordering::Relaxed);
    let reporter = builder().priority(prio(1)).spawn(move || {
        let total = || COUNTERS[..threads].iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
        let first = Instant::now() + INTERVAL;
        time::sleep_until(first);
        let (at_first, handler_first) = (total(), HANDLER_COUNTER.load(Ordering::Relaxed));
        time::sleep_until(first + INTERVAL);
        let snapshot: Vec<u64> = COUNTERS[..threads].iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let handler = HANDLER_COUNTER.load(Ordering::Relaxed);
        STOP.store(true, Ordering::Relaxed);
        let elapsed = instructions(Instant::now().ticks() - first.ticks());
        (total() - at_first, handler - handler_first, snapshot, handler, elapsed)
    });
    let reporter = reporter.unwrap();
    // Like the suite, create every thread before any runs: from a
    // cooperative task, which spawning more urgent tasks does not preempt.
    let stop = builder().priority(Priority::Cooperative(0)).spawn(start).unwrap().join().unwrap();
    let (count, handler_count, snapshot, handler, elapsed) = reporter.join().unwrap();
    stop();
    // Thread-Metric's check: every counter within one of thread 0's (and
    // the handler's, where there is one).
    let mut fair = snapshot.iter().all(|&c| c.abs_diff(snapshot[0]) <= 1);
    if HANDLER_MODE.swap(0, Ordering::Relaxed) != 0 {
        fair &= handler.abs_diff(snapshot[0]) <= 1;
    }
    let counters: Vec<_> = snapshot.iter().map(|c| alloc::format!("{c}")).collect();
    ilusion::println!(
        "thread-metric {name}: {count} per interval (handler {handler_count}), counters [{}], fairness {}",
        counters.join(" "),
        if fair { "ok" } else { "FAILED" }
    );
    assert!(fair, "Thread-Metric fairness check failed in {name}");
    let prefix = PREFIX.get().copied().unwrap_or("tm_");
    report(&alloc::format!("{prefix}{name}_per_interval"), count);
    report(&alloc::format!("{prefix}{name}_instructions"), elapsed / count.max(1));
}

fn spawn(tm_priority: u8, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    builder().priority(prio(tm_priority)).spawn(f).unwrap()
}

static JOIN: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Keeps a test's task to join at its end.
fn keep(handle: JoinHandle<()>) {
    JOIN.lock().unwrap().push(handle);
}

fn join_all() {
    let handles = core::mem::take(&mut *JOIN.lock().unwrap());
    handles.into_iter().for_each(|h| h.join().unwrap());
}

/// Arithmetic over a 1,024-word array, then a count.
fn basic_processing() -> fn() {
    keep(spawn(10, || {
        let mut array = alloc::vec![0u32; 1024];
        while !STOP.load(Ordering::Relaxed) {
            for (i, x) in array.iter_mut().enumerate() {
                *x = (*x).wrapping_add(i as u32) ^ 0x5a5a;
            }
            core::hint::black_box(&mut array);
            count(0);
        }
    }));
    join_all
}

/// Five threads at one priority: count, yield.
fn cooperative_scheduling() -> fn() {
    for i in 0..5 {
        keep(spawn(3, move || {
            while !STOP.load(Ordering::Relaxed) {
                count(i);
                task::yield_now();
            }
        }));
    }
    join_all
}

static CHAIN: Mutex<Vec<Arc<JoinHandle<()>>>> = Mutex::new(Vec::new());

/// Threads 1-4 start suspended; thread 0 (least urgent) resumes thread 1,
/// which preempts it and resumes thread 2, ... thread 4 counts and
/// suspends itself, then thread 3 counts and suspends, ..., and thread 0 counts.
fn preemptive_scheduling() -> fn() {
    let mut next: Option<Arc<JoinHandle<()>>> = None;
    let mut chain = Vec::new();
    for i in (1..5).rev() {
        let resume = next.take();
        let h = Arc::new(spawn(10 - i as u8, move || {
            task::park();
            while !STOP.load(Ordering::Relaxed) {
                if let Some(h) = &resume {
                    h.unpark();
                }
                count(i);
                task::park();
            }
        }));
        chain.push(h.clone());
        next = Some(h);
    }
    chain.reverse(); // threads 1, 2, 3, 4
    *CHAIN.lock().unwrap() = chain;
    keep(spawn(10, move || {
        let first = next.unwrap();
        while !STOP.load(Ordering::Relaxed) {
            first.unpark();
            count(0);
        }
    }));
    || {
        join_all(); // thread 0
        let chain = core::mem::take(&mut *CHAIN.lock().unwrap());
        for h in chain {
            h.unpark(); // sees STOP and ends, dropping its handle of the next
            Arc::into_inner(h).expect("previous thread ended").join().unwrap();
        }
    }
}

fn on_sgi(_: u32) {
    match HANDLER_MODE.load(Ordering::Relaxed) {
        GIVE => {
            HANDLER_COUNTER.fetch_add(1, Ordering::Relaxed);
            IRQ_SEMAPHORE.release();
        }
        RESUME => {
            HANDLER_COUNTER.fetch_add(1, Ordering::Relaxed);
            if let Some(h) = TO_RESUME.get() {
                h.unpark();
            }
        }
        _ => {}
    }
}

fn cause_interrupt() {
    ilusion::irq::send_software_interrupt(SGI).unwrap();
}

/// A thread causes an interrupt whose handler gives a semaphore; the thread takes it and counts.
fn interrupt_processing() -> fn() {
    HANDLER_MODE.store(GIVE, Ordering::Relaxed);
    keep(spawn(10, || {
        while !STOP.load(Ordering::Relaxed) {
            cause_interrupt();
            IRQ_SEMAPHORE.acquire();
            count(0);
        }
    }));
    join_all
}

/// Thread 0 causes an interrupt whose handler resumes the suspended, more
/// urgent thread 1, which preempts thread 0 as the handler ends, counts and
/// suspends itself again; then thread 0 counts.
fn interrupt_preemption_processing() -> fn() {
    HANDLER_MODE.store(RESUME, Ordering::Relaxed);
    TO_RESUME.call_once(|| {
        spawn(9, || {
            task::park();
            while !STOP.load(Ordering::Relaxed) {
                count(1);
                task::park();
            }
        })
    });
    keep(spawn(10, || {
        while !STOP.load(Ordering::Relaxed) {
            cause_interrupt();
            count(0);
        }
    }));
    || {
        join_all();
        let urgent = TO_RESUME.get().unwrap();
        urgent.unpark();
        while !urgent.is_finished() {
            task::yield_now();
        }
    }
}

/// A 16-byte message sent to a queue and received back by the same thread.
fn message_processing() -> fn() {
    keep(spawn(10, || {
        let (tx, rx) = mpsc::channel::<[u32; 4]>();
        let mut message = [0u32, 1, 2, 3];
        while !STOP.load(Ordering::Relaxed) {
            tx.send(message).unwrap();
            let got = rx.recv().unwrap();
            assert_eq!(got, message, "message corrupted");
            message[3] = message[3].wrapping_add(1);
            count(0);
        }
    }));
    join_all
}

/// Get and put a semaphore.
fn synchronization_processing() -> fn() {
    keep(spawn(10, || {
        let s = Semaphore::new(1);
        while !STOP.load(Ordering::Relaxed) {
            s.acquire();
            s.release();
            count(0);
        }
    }));
    join_all
}

/// Allocate and free a 128-byte block from a block pool, as the suite does
/// on ThreadX's block pools (`mm::BlockPool`; the global allocator's own
/// figure for the same block is `alloc_free_128` in `bench_tasks`).
fn memory_allocation() -> fn() {
    keep(spawn(10, || {
        let pool = ilusion::mm::BlockPool::new(128, 16).unwrap();
        while !STOP.load(Ordering::Relaxed) {
            let block = core::hint::black_box(pool.allocate().unwrap());
            pool.free(block).unwrap();
            count(0);
        }
    }));
    join_all
}
