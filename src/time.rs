//! Time: a monotonic clock and a periodic timer, from the ARM generic timer.
//!
//! [`Instant`] counts the generic timer's virtual counter (CNTVCT_EL0) from
//! boot. [`set_periodic`] programs the timer's compare value for the next
//! deadline and re-arms it from the interrupt, so periods do not drift.

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

    /// Time since the kernel started.
    pub fn since_boot(self) -> Duration {
        ticks_to_duration(self.0.saturating_sub(BOOT_COUNT.load(Ordering::Relaxed)), frequency())
    }

    pub fn duration_since(self, earlier: Instant) -> Duration {
        ticks_to_duration(self.0.saturating_sub(earlier.0), frequency())
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

/// Generic-timer ticks per second.
pub fn frequency() -> u64 {
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
        crate::arch::cpu::set_timer_deadline(next);
    });
}

/// Stops the periodic timer.
#[cfg(target_os = "none")]
pub fn stop_periodic() {
    crate::arch::cpu::without_interrupts(|| {
        PERIOD_TICKS.store(0, Ordering::Relaxed);
        crate::arch::cpu::stop_timer();
    });
}

#[cfg(target_os = "none")]
pub(crate) fn init() {
    FREQUENCY.store(crate::arch::cpu::counter_frequency().max(1), Ordering::Relaxed);
    crate::arch::cpu::stop_timer();
}

/// Records the counter at reset; `Instant::since_boot` counts from here.
#[cfg(target_os = "none")]
pub(crate) fn mark_boot(count: u64) {
    BOOT_COUNT.store(count, Ordering::Relaxed);
}

/// The timer's interrupt: re-arm for the next period, then call the handler.
#[cfg(target_os = "none")]
pub(crate) fn timer_interrupt(_: crate::irq::IntId) {
    let period = PERIOD_TICKS.load(Ordering::Relaxed);
    if period == 0 {
        crate::arch::cpu::stop_timer();
        return;
    }
    let next = NEXT_DEADLINE.load(Ordering::Relaxed) + period;
    NEXT_DEADLINE.store(next, Ordering::Relaxed);
    crate::arch::cpu::set_timer_deadline(next);
    let h = PERIODIC_HANDLER.load(Ordering::Relaxed);
    if h != 0 {
        // SAFETY: only `set_periodic` stores here, from a `fn()`.
        let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(h) };
        handler();
    }
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
