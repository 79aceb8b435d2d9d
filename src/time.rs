//! Time: a monotonic clock, sleeping, and a periodic timer, from the ARM generic timer.
//!
//! [`Instant`] counts the generic timer's virtual counter (CNTVCT_EL0) from
//! boot. [`sleep`] and [`sleep_until`] block the calling task (see
//! `sched::timer`). [`set_periodic`] calls a handler every period; its next
//! deadline and the scheduler's share the one timer comparator ([`rearm`]
//! programs the earliest), and periods do not drift.

#[cfg(target_os = "none")]
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::{AtomicU64, Ordering};
pub use core::time::Duration;

static BOOT_COUNT: AtomicU64 = AtomicU64::new(0);
static FREQUENCY: AtomicU64 = AtomicU64::new(1);

/// A point in time, as generic-timer ticks since reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// Ticks to a `Duration` at `hz` ticks per second, without overflow.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let secs = ticks / hz;
    let nanos = (ticks % hz) as u128 * 1_000_000_000 / hz as u128;
    Duration::new(secs, nanos as u32)
}

/// A `Duration` to ticks at `hz` ticks per second, rounded up, saturating.
pub fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    let ticks = (d.as_nanos() * hz as u128).div_ceil(1_000_000_000);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

impl Instant {
    /// Now. Also at EL0: isolated tasks read the virtual counter directly
    /// (the kernel lets them, as a vDSO would), no system call needed.
    #[cfg(target_os = "none")]
    pub fn now() -> Self {
        Self(crate::arch::cpu::counter())
    }

    #[cfg(not(target_os = "none"))]
    pub fn now() -> Self {
        Self(0)
    }

    pub fn ticks(self) -> u64 {
        self.0
    }

    pub fn from_ticks(ticks: u64) -> Self {
        Self(ticks)
    }

    /// Time since the kernel started. At EL0, where the boot count is out
    /// of reach, it is the `time` system call's answer for now, less the
    /// time since `self` (exact to within the call's own duration).
    pub fn since_boot(self) -> Duration {
        #[cfg(target_os = "none")]
        if crate::arch::user_mode::running_at_el0() {
            let boot_to_now = Duration::from_nanos(crate::syscall::user::nanos_since_boot());
            return boot_to_now.saturating_sub(self.elapsed());
        }
        ticks_to_duration(self.0.saturating_sub(BOOT_COUNT.load(Ordering::Relaxed)), frequency())
    }

    pub fn duration_since(self, earlier: Instant) -> Duration {
        ticks_to_duration(self.0.saturating_sub(earlier.0), frequency())
    }

    /// Counter ticks since `self` (finer than a `Duration` for measurements).
    pub fn elapsed_ticks(self) -> u64 {
        Self::now().0.saturating_sub(self.0)
    }

    pub fn elapsed(self) -> Duration {
        Self::now().duration_since(self)
    }

    pub fn checked_add(self, d: Duration) -> Option<Self> {
        self.0.checked_add(duration_to_ticks(d, frequency())).map(Self)
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).expect("Instant overflow")
    }
}

impl core::ops::Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// The counter value at boot, from which [`Instant::since_boot`] counts.
#[inline]
pub(crate) fn boot_count() -> u64 {
    BOOT_COUNT.load(Ordering::Relaxed)
}

/// Generic-timer ticks per second. At EL0 (where kernel data is out of
/// reach) it is read from CNTFRQ_EL0, which EL0 may read.
pub fn frequency() -> u64 {
    #[cfg(target_os = "none")]
    if crate::arch::user_mode::running_at_el0() {
        return crate::arch::cpu::counter_frequency().max(1);
    }
    FREQUENCY.load(Ordering::Relaxed)
}

/// Spins (without sleeping) for `d`.
pub fn busy_wait(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        core::hint::spin_loop();
    }
}

#[cfg(target_os = "none")]
static PERIOD_TICKS: AtomicU64 = AtomicU64::new(0);
#[cfg(target_os = "none")]
static NEXT_DEADLINE: AtomicU64 = AtomicU64::new(0);
#[cfg(target_os = "none")]
static PERIODIC_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Calls `handler` (in interrupt context) every `period`, starting one period from now.
#[cfg(target_os = "none")]
pub fn set_periodic(period: Duration, handler: fn()) {
    let ticks = duration_to_ticks(period, frequency()).max(1);
    crate::arch::cpu::without_interrupts(|| {
        PERIOD_TICKS.store(ticks, Ordering::Relaxed);
        PERIODIC_HANDLER.store(handler as usize, Ordering::Relaxed);
        let next = crate::arch::cpu::counter() + ticks;
        NEXT_DEADLINE.store(next, Ordering::Relaxed);
        rearm(&crate::sched::critical::InterruptsMasked::new());
    });
}

/// Stops the periodic timer.
#[cfg(target_os = "none")]
pub fn stop_periodic() {
    crate::arch::cpu::without_interrupts(|| {
        PERIOD_TICKS.store(0, Ordering::Relaxed);
        rearm(&crate::sched::critical::InterruptsMasked::new());
    });
}

#[cfg(target_os = "none")]
pub(crate) fn init() {
    FREQUENCY.store(crate::arch::cpu::counter_frequency().max(1), Ordering::Relaxed);
    crate::arch::cpu::let_el0_read_virtual_counter();
    crate::arch::cpu::stop_timer();
}

/// Records the counter at reset; `Instant::since_boot` counts from here.
#[cfg(target_os = "none")]
pub(crate) fn mark_boot(count: u64) {
    BOOT_COUNT.store(count, Ordering::Relaxed);
}

/// Programs the one timer for the earliest of what is waiting for it: the
/// periodic handler's next period and the scheduler's next deadline
/// (sleepers, timeouts, the end of a slice). Nothing waiting: timer off.
#[cfg(target_os = "none")]
pub(crate) fn rearm(masked: &crate::sched::critical::InterruptsMasked) {
    let periodic =
        if PERIOD_TICKS.load(Ordering::Relaxed) != 0 { NEXT_DEADLINE.load(Ordering::Relaxed) } else { u64::MAX };
    let next = periodic.min(crate::sched::timer::next_deadline(masked));
    if next == u64::MAX {
        crate::arch::cpu::stop_timer();
    } else {
        crate::arch::cpu::set_timer_deadline(next);
    }
}

/// The timer's interrupt: the periodic handler if its period is up, then the
/// scheduler's deadlines; then the timer is programmed for what comes next.
#[cfg(target_os = "none")]
pub(crate) fn timer_interrupt(_: crate::irq::IntId) {
    // SAFETY: interrupt handlers run with interrupts masked.
    let masked = unsafe { crate::sched::critical::InterruptsMasked::assume() };
    let now = crate::arch::cpu::counter();
    let period = PERIOD_TICKS.load(Ordering::Relaxed);
    if period != 0 && NEXT_DEADLINE.load(Ordering::Relaxed) <= now {
        NEXT_DEADLINE.store(NEXT_DEADLINE.load(Ordering::Relaxed) + period, Ordering::Relaxed);
        let h = PERIODIC_HANDLER.load(Ordering::Relaxed);
        if h != 0 {
            // SAFETY: only `set_periodic` stores here, from a `fn()`.
            let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(h) };
            handler();
        }
    }
    crate::sched::timer::expire(&masked, now);
    rearm(&masked);
    core::mem::forget(masked);
}

/// Blocks the running task for `d` (other tasks run meanwhile).
#[cfg(target_os = "none")]
pub fn sleep(d: Duration) {
    if crate::arch::user_mode::running_at_el0() {
        return crate::syscall::user::sleep_nanos(d.as_nanos().min(u128::from(u64::MAX)) as u64);
    }
    sleep_until(Instant::now() + d)
}

/// Blocks the running task until `deadline`.
#[cfg(target_os = "none")]
pub fn sleep_until(deadline: Instant) {
    use crate::sched::{critical::InterruptsMasked, scheduler, timer};
    let masked = InterruptsMasked::new();
    if Instant::now() >= deadline {
        return;
    }
    // SAFETY: the running task is alive and on no list; the timer takes it off when it wakes it.
    unsafe { timer::add(&masked, scheduler::current(), deadline.ticks()) };
    scheduler::block_current(&masked);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        let hz = 62_500_000; // QEMU's generic timer
        assert_eq!(ticks_to_duration(hz, hz), Duration::from_secs(1));
        assert_eq!(ticks_to_duration(hz / 1000, hz), Duration::from_millis(1));
        assert_eq!(duration_to_ticks(Duration::from_millis(10), hz), 625_000);
        assert_eq!(duration_to_ticks(Duration::from_nanos(1), hz), 1, "rounds up");
        assert_eq!(duration_to_ticks(Duration::MAX, hz), u64::MAX, "saturates");
        assert_eq!(ticks_to_duration(u64::MAX, 1_000_000_000).as_secs(), u64::MAX / 1_000_000_000);
    }
}
