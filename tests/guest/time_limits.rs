//! QEMU test: time arithmetic at its limits. Deadlines saturate:
//! `Duration::MAX` (and any duration past the counter's range) means
//! forever, for kernel and isolated tasks alike, and nothing overflows, at
//! 62.5 MHz (cortex-a72) or 1 GHz (`-cpu max`, as Armv8.6 hardware).
//!
//! - `Instant` arithmetic saturates (`+ Duration::MAX` is `FOREVER`, an
//!   earlier minus a later instant is zero, checked forms say `None`);
//! - kernel tasks sleep `Duration::MAX`, `u64::MAX` nanoseconds, until
//!   `FOREVER`, and busy-wait `Duration::MAX`; isolated tasks make the
//!   `sleep` call with `u64::MAX` and `u64::MAX - 1` nanoseconds (the
//!   kernel panicked at 1 GHz). None of them ends, and a watchdog task
//!   keeps counting: the machine runs on;
//! - huge timeouts never fire: waiters with `Duration::MAX` (semaphore,
//!   condvar, channel, mutex, join, bounded send, ipc receive in a kernel
//!   and an isolated task) are still waiting 20 ms later, and get what they
//!   wait for when it comes;
//! - `set_periodic` refuses periods under `MIN_PERIOD` (zero made the
//!   machine take nothing but timer interrupts) and takes huge ones as
//!   "never" (`Duration::MAX` wrapped around and hung the machine); at
//!   `MIN_PERIOD` itself the handler runs and the tasks still make progress.
//!
//! The watchdog, the spinner and the periodic handler share one core
//! ([`CORE`]), with `main`: "the machine runs on" means that core's
//! scheduler and timer go on. (With the spinner on a core of its own,
//! QEMU's instruction counting, which runs the cores one after the other,
//! would charge the watchdog's core for the spinner's time as well.)
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use common::{check, finish, on_core};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::ipc;
use ilusion::sync::mpsc::{self, RecvTimeoutError};
use ilusion::sync::{Condvar, Mutex, Semaphore};
use ilusion::syscall::abi::{Syscall, TIMEOUT_FOREVER};
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{self, Builder, JoinHandle, Priority};
use ilusion::time::{self, Duration, Instant, PeriodError, MIN_PERIOD};

ilusion::entry!(main);

static WATCHDOG: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);

fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// How far the watchdog counts (1 a millisecond) while `f` runs and 20 ms pass.
fn watchdog_during(f: impl FnOnce()) -> u64 {
    let before = WATCHDOG.load(Ordering::Relaxed);
    f();
    time::sleep(Duration::from_millis(20));
    WATCHDOG.load(Ordering::Relaxed) - before
}

/// The core the watchdog, the spinner and the periodic handler share.
const CORE: usize = 0;

fn main() {
    on_core(CORE, every_limit);
    finish();
}

fn every_limit() {
    let _watchdog = Builder::new()
        .name("watchdog")
        .priority(Priority::Preemptive(5))
        .cpu(CORE)
        .spawn(|| loop {
            WATCHDOG.fetch_add(1, Ordering::Relaxed);
            time::sleep(Duration::from_millis(1));
        })
        .unwrap();
    ilusion::println!("counter at {} Hz", time::frequency());
    instants_saturate();
    kernel_tasks_sleep_forever();
    isolated_tasks_sleep_forever();
    huge_timeouts_never_fire();
    zero_timeouts_return_at_once();
    periodic_limits();
}

fn instants_saturate() {
    let now = Instant::now();
    let later = now + Duration::from_millis(1);
    let ok = now + Duration::MAX == Instant::FOREVER
        && (now + Duration::from_nanos(u64::MAX)).ticks() >= now.ticks()
        && now.checked_add(Duration::MAX).is_none()
        && now - Duration::MAX == Instant::from_ticks(0)
        && now.checked_sub(Duration::MAX).is_none()
        && now.duration_since(later) == Duration::ZERO
        && now - later == Duration::ZERO
        && now.checked_duration_since(later).is_none()
        && later.checked_duration_since(now) == Some(Duration::from_millis(1));
    check(ok, "instant_arithmetic_saturates", format_args!("now {now:?}, later {later:?}"));
}

fn kernel_tasks_sleep_forever() {
    let mut sleepers: [Option<JoinHandle<()>>; 5] = Default::default();
    let progressed = watchdog_during(|| {
        sleepers[0] = Some(task::spawn(|| time::sleep(Duration::MAX)));
        sleepers[1] = Some(task::spawn(|| time::sleep(Duration::from_nanos(u64::MAX))));
        sleepers[2] = Some(task::spawn(|| time::sleep(Duration::from_secs(u64::MAX / 2))));
        sleepers[3] = Some(task::spawn(|| time::sleep_until(Instant::FOREVER)));
        let spinner = Builder::new().name("spinner").priority(Priority::Preemptive(25)).cpu(CORE);
        sleepers[4] = Some(spinner.spawn(|| time::busy_wait(Duration::MAX)).unwrap());
    });
    let ended = sleepers.iter().filter(|s| s.as_ref().unwrap().is_finished()).count();
    check(
        ended == 0 && progressed >= 15,
        "kernel_tasks_sleep_forever",
        format_args!("{ended} of 5 ended, watchdog +{progressed} in 20 ms"),
    );
    // A deadline already passed returns at once.
    let start = Instant::now();
    time::sleep_until(start - Duration::from_secs(1));
    time::sleep(Duration::ZERO);
    check(start.elapsed() < Duration::from_millis(1), "past_deadline_returns", format_args!("{:?}", start.elapsed()));
}

fn isolated_tasks_sleep_forever() {
    let mut sleepers: [Option<JoinHandle<()>>; 4] = Default::default();
    let progressed = watchdog_during(|| {
        let sleep_raw = |nanos: u64| {
            move || {
                raw_syscall(Syscall::Sleep as u64, nanos, 0, 0);
            }
        };
        sleepers[0] = Some(Builder::new().name("max").spawn_isolated(sleep_raw(TIMEOUT_FOREVER)).unwrap());
        sleepers[1] = Some(Builder::new().name("max-1").spawn_isolated(sleep_raw(u64::MAX - 1)).unwrap());
        sleepers[2] = Some(Builder::new().name("Duration::MAX").spawn_isolated(|| time::sleep(Duration::MAX)).unwrap());
        let until_forever = Builder::new().name("FOREVER");
        sleepers[3] = Some(until_forever.spawn_isolated(|| time::sleep_until(Instant::FOREVER)).unwrap());
    });
    let ended = sleepers.iter().filter(|s| s.as_ref().unwrap().is_finished()).count();
    check(
        ended == 0 && progressed >= 15,
        "isolated_tasks_sleep_forever",
        format_args!("{ended} of 4 ended, watchdog +{progressed} in 20 ms"),
    );
    // A short sleep still ends, on time.
    let start = Instant::now();
    let nap = Builder::new().name("nap").spawn_isolated(|| time::sleep(Duration::from_millis(2))).unwrap().join();
    let took = start.elapsed();
    check(
        nap == Ok(()) && took >= Duration::from_millis(2) && took < Duration::from_millis(5),
        "isolated_short_sleep",
        format_args!("{nap:?} after {took:?}"),
    );
}

/// Spawns `wait`, checks it is still waiting after 20 ms, then runs
/// `deliver` and checks `wait` got what it waited for.
fn waits_forever_then_gets(name: &str, wait: impl FnOnce() -> bool + Send + 'static, deliver: impl FnOnce()) {
    let waiter = task::spawn(wait);
    time::sleep(Duration::from_millis(20));
    let waiting = !waiter.is_finished();
    deliver();
    let got = waiter.join();
    check(waiting && got == Ok(true), name, format_args!("still waiting after 20 ms: {waiting}, then {got:?}"));
}

fn huge_timeouts_never_fire() {
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    waits_forever_then_gets("semaphore_timeout_max", move || s.acquire_timeout(Duration::MAX), || sem.release());

    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    waits_forever_then_gets(
        "condvar_timeout_max",
        move || {
            let mut g = p.0.lock().unwrap();
            while !*g {
                let (guard, r) = p.1.wait_timeout(g, Duration::MAX).unwrap();
                if r.timed_out() {
                    return false;
                }
                g = guard;
            }
            true
        },
        || {
            *pair.0.lock().unwrap() = true;
            pair.1.notify_one();
        },
    );

    let (tx, rx) = mpsc::channel::<u32>();
    waits_forever_then_gets(
        "recv_timeout_max",
        move || rx.recv_timeout(Duration::MAX) == Ok(7),
        || tx.send(7).unwrap(),
    );
    let (tx, rx) = mpsc::channel::<u32>();
    waits_forever_then_gets(
        "recv_timeout_huge",
        move || rx.recv_timeout(Duration::from_secs(u64::MAX / 4)) == Ok(8),
        || tx.send(8).unwrap(),
    );

    let lock = Arc::new(Mutex::new(0));
    let guard = lock.lock().unwrap();
    let l = lock.clone();
    waits_forever_then_gets(
        "lock_timeout_max",
        move || l.lock_timeout(Duration::MAX).map(|g| *g == 0).unwrap_or(false),
        || drop(guard),
    );

    let (tx, rx) = mpsc::sync_channel::<u32>(1);
    tx.send(1).unwrap();
    waits_forever_then_gets(
        "send_timeout_max",
        move || tx.send_timeout(2, Duration::MAX).is_ok(),
        || {
            let _ = rx.recv();
        },
    );

    let release = Arc::new(Semaphore::new(0));
    let r = release.clone();
    let worker = task::spawn(move || r.acquire());
    waits_forever_then_gets(
        "join_timeout_max",
        move || worker.join_timeout(Duration::MAX).is_ok_and(|outcome| outcome.is_ok()),
        || release.release(),
    );

    let (tx, rx) = ipc::channel::<u64>(1);
    waits_forever_then_gets(
        "ipc_recv_timeout_max",
        move || rx.recv_timeout(Duration::MAX) == Ok(9),
        || tx.send(9).unwrap(),
    );

    // An isolated receiver: raw calls with u64::MAX and u64::MAX - 1 nanoseconds, then the library's Duration::MAX.
    let (tx, rx) = ipc::channel::<u64>(1);
    let mut builder = Builder::new().name("patient");
    let rx = builder.grant(rx);
    let patient = builder
        .spawn_isolated(move || {
            let handle = rx.handle().unwrap().number();
            let mut buf = 0u64;
            let ptr = &mut buf as *mut u64 as u64;
            for (nanos, want) in [(TIMEOUT_FOREVER, 1), (u64::MAX - 1, 2)] {
                let r = ilusion::syscall::user::channel_receive_timeout(handle, ptr, 8, nanos);
                if r != Ok(8) || core::hint::black_box(buf) != want {
                    ilusion::syscall::user::exit(want);
                }
            }
            if rx.recv_timeout(Duration::MAX) != Ok(3) {
                ilusion::syscall::user::exit(3);
            }
        })
        .unwrap();
    let mut waiting = [false; 3];
    for (i, w) in waiting.iter_mut().enumerate() {
        time::sleep(Duration::from_millis(20));
        *w = !patient.is_finished();
        tx.send(i as u64 + 1).unwrap();
    }
    let outcome = patient.join();
    check(
        waiting == [true; 3] && outcome == Ok(()),
        "isolated_recv_timeout_max",
        format_args!("waiting {waiting:?}, then {outcome:?}"),
    );
}

fn zero_timeouts_return_at_once() {
    let start = Instant::now();
    let sem = Semaphore::new(0);
    let (_tx, rx) = mpsc::channel::<u8>();
    let lock = Mutex::new(());
    let _held = lock.lock().unwrap();
    let results = (
        sem.acquire_timeout(Duration::ZERO),
        rx.recv_timeout(Duration::ZERO),
        // A mutex we hold ourselves: the zero timeout returns instead of deadlocking.
        lock.lock_timeout(Duration::ZERO).is_err(),
    );
    let took = start.elapsed();
    check(
        results == (false, Err(RecvTimeoutError::Timeout), true) && took < Duration::from_micros(500),
        "zero_timeouts_return_at_once",
        format_args!("{results:?} in {took:?}"),
    );
}

fn periodic_limits() {
    let refused = [Duration::ZERO, Duration::from_nanos(1), MIN_PERIOD - Duration::from_nanos(1)]
        .map(|period| time::set_periodic(period, tick));
    let expected = [Duration::ZERO, Duration::from_nanos(1), MIN_PERIOD - Duration::from_nanos(1)]
        .map(|period| Err(PeriodError::TooShort { period, min: MIN_PERIOD }));
    check(refused == expected, "periodic_too_short_refused", format_args!("{refused:?}"));
    if let Err(e) = refused[0] {
        ilusion::println!("set_periodic(0): {e}");
    }

    for (name, period) in
        [("periodic_max_never_fires", Duration::MAX), ("periodic_huge_never_fires", Duration::from_nanos(u64::MAX))]
    {
        TICKS.store(0, Ordering::Relaxed);
        let mut set = Ok(());
        let progressed = watchdog_during(|| set = time::set_periodic(period, tick));
        time::stop_periodic();
        let ticks = TICKS.load(Ordering::Relaxed);
        check(
            set.is_ok() && ticks == 0 && progressed >= 15,
            name,
            format_args!("{set:?}, {ticks} ticks, watchdog +{progressed} in 20 ms"),
        );
    }

    TICKS.store(0, Ordering::Relaxed);
    let set = time::set_periodic(MIN_PERIOD, tick);
    let start = Instant::now();
    let progressed = watchdog_during(|| {});
    time::stop_periodic();
    let (ticks, took) = (TICKS.load(Ordering::Relaxed), start.elapsed());
    let expected = (took.as_micros() / MIN_PERIOD.as_micros()) as u64;
    check(
        // Periods missed while interrupts were masked are skipped: a few may be.
        set.is_ok() && ticks >= expected * 9 / 10 && ticks <= expected + 1 && progressed >= 15,
        "periodic_min_period_runs",
        format_args!("{set:?}, {ticks} ticks in {took:?} (expected {expected}), watchdog +{progressed}"),
    );
}
