//! How long interrupts waited, seen from a task: a watcher, more urgent
//! than the code under test and on its core, wakes every [`PERIOD`] and
//! records how late it woke. Under icount (one instruction, one
//! nanosecond) a wake-up is late only by what ran with interrupts masked,
//! so [`Watcher::watch`] tells how long the code it runs kept them waiting
//! (the `*_masked_time` tests).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::task::{Builder, JoinHandle, Priority};
use ilusion::time::{sleep, Duration, Instant};

/// How often the watcher wakes.
pub const PERIOD: Duration = Duration::from_micros(200);
/// The latest a wake-up may be while the code under test runs.
pub const AT_MOST_LATE: Duration = Duration::from_micros(100);

static STOP: AtomicBool = AtomicBool::new(false);
static LATEST_NS: AtomicU64 = AtomicU64::new(0);
static WAKES: AtomicU64 = AtomicU64::new(0);

/// What the watcher saw while some code ran.
pub struct Watched {
    /// Times it woke meanwhile (0: the code ran too briefly to tell).
    pub wakes: u64,
    /// The latest it woke.
    pub latest: Duration,
}

impl Watched {
    /// Woken at least once, and never later than [`AT_MOST_LATE`].
    pub fn interrupts_taken(&self) -> bool {
        self.wakes > 0 && self.latest <= AT_MOST_LATE
    }
}

/// The watcher task (one at a time).
pub struct Watcher {
    task: JoinHandle<()>,
    /// How late it woke at rest, before any `watch`.
    pub at_rest: Duration,
}

impl Watcher {
    /// Starts the watcher on core `cpu` and lets it wake a few times.
    pub fn start(cpu: usize) -> Self {
        STOP.store(false, Ordering::Relaxed);
        let task = Builder::new().name("watcher").cpu(cpu).priority(Priority::Preemptive(5)).spawn(watch).unwrap();
        sleep(Duration::from_millis(2)); // its first wakes: how late it is at rest
        Self { task, at_rest: Duration::from_nanos(LATEST_NS.load(Ordering::Relaxed)) }
    }

    /// Runs `f` while the watcher watches: its value, and what the watcher saw.
    pub fn watch<R>(&self, f: impl FnOnce() -> R) -> (R, Watched) {
        LATEST_NS.store(0, Ordering::Relaxed);
        let before = WAKES.load(Ordering::Relaxed);
        let value = f();
        let seen = Watched {
            wakes: WAKES.load(Ordering::Relaxed) - before,
            latest: Duration::from_nanos(LATEST_NS.load(Ordering::Relaxed)),
        };
        (value, seen)
    }

    pub fn stop(self) {
        STOP.store(true, Ordering::Relaxed);
        self.task.join().unwrap();
    }
}

/// Sleeps `PERIOD` at a time and records the latest wake-up.
fn watch() {
    while !STOP.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        sleep(PERIOD);
        let late = asleep.elapsed().saturating_sub(PERIOD);
        LATEST_NS.fetch_max(late.as_nanos() as u64, Ordering::Relaxed);
        WAKES.fetch_add(1, Ordering::Relaxed);
    }
}
