//! Time: a monotonic clock, sleeping, and a periodic timer, from the ARM generic timer.
//!
//! [`Instant`] counts the generic timer's virtual counter (CNTVCT_EL0) from
//! boot. [`sleep`] and [`sleep_until`] block the calling task (see
//! `sched::timer`). [`set_periodic`] calls a handler every period; its next
//! deadline and the scheduler's share the one timer comparator ([`rearm`]
//! programs the earliest), and periods do not drift.
//!
//! **Deadlines saturate.** A deadline past the counter's range (64 bits of
//! ticks: 584 years at 1 GHz) is [`Instant::FOREVER`], which never comes:
//! `Duration::MAX` means "forever" for `sleep`, `busy_wait`, every timeout
//! and `set_periodic`, and no duration, from a task or a system call, can
//! make the kernel's time arithmetic overflow. Unlike std, `Instant + Duration`
//! saturates at `FOREVER` and `Instant - Duration` at the reset (no panics);
//! `checked_add`/`checked_sub` say when that happened.

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
/// (`as_nanos()` is below 2^94 and `hz` below 2^34: the product fits a `u128`.)
pub fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    let ticks = (d.as_nanos() * hz as u128).div_ceil(1_000_000_000);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// The counter value `d` after `now` at `hz`: `None` if it is past the
/// counter's range (`u64::MAX`, [`Instant::FOREVER`], included), i.e. never.
pub fn deadline_after(now: u64, d: Duration, hz: u64) -> Option<u64> {
    now.checked_add(duration_to_ticks(d, hz)).filter(|&t| t != u64::MAX)
}

impl Instant {
    /// The deadline that never comes: what a deadline past the counter's range saturates to.
    pub const FOREVER: Instant = Instant(u64::MAX);

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

    /// Time from `earlier` to `self`; zero if `earlier` is later (as std).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        ticks_to_duration(self.0.saturating_sub(earlier.0), frequency())
    }

    /// Time from `earlier` to `self`; `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(|ticks| ticks_to_duration(ticks, frequency()))
    }

    /// Is this the deadline that never comes?
    pub fn is_forever(self) -> bool {
        self == Self::FOREVER
    }

    /// Counter ticks since `self` (finer than a `Duration` for measurements).
    pub fn elapsed_ticks(self) -> u64 {
        Self::now().0.saturating_sub(self.0)
    }

    pub fn elapsed(self) -> Duration {
        Self::now().duration_since(self)
    }

    /// `self + d`, or `None` if that is past the counter's range.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        deadline_after(self.0, d, frequency()).map(Self)
    }

    /// `self - d`, or `None` if that is before the counter's reset.
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        self.0.checked_sub(duration_to_ticks(d, frequency())).map(Self)
    }

    /// `self + d`, at most [`Instant::FOREVER`].
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::FOREVER)
    }

    /// `self - d`, at least the counter's reset (tick 0).
    pub fn saturating_sub(self, d: Duration) -> Self {
        self.checked_sub(d).unwrap_or(Self(0))
    }
}

/// Saturates at [`Instant::FOREVER`] (std panics).
impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl core::ops::AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// Saturates at tick 0 (std panics).
impl core::ops::Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl core::ops::SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

/// Zero if `earlier` is later (as std).
impl core::ops::Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// The deadline `timeout` from now, for a timed wait: `None` (wait forever)
/// if it is past the counter's range.
pub fn deadline_from_now(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
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

/// Spins (without sleeping) for `d` (`Duration::MAX`: forever).
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

/// The shortest period [`set_periodic`] accepts: a shorter one would leave
/// the processor nothing but timer interrupts.
pub const MIN_PERIOD: Duration = Duration::from_micros(5);

/// Why [`set_periodic`] refused a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodError {
    /// Shorter than [`MIN_PERIOD`] (zero included).
    TooShort { period: Duration, min: Duration },
}

impl core::fmt::Display for PeriodError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::TooShort { period, min } => write!(f, "period {period:?} is shorter than the minimum {min:?}"),
        }
    }
}

/// The periodic timer's deadline after `previous` (which has come): the
/// next multiple of `period` after it that is still ahead of `now`. Periods
/// missed while the handler or masked code ran too long are skipped, not
/// caught up in a burst; the phase is kept (no drift). Saturates at
/// `u64::MAX` (never).
pub fn next_periodic_deadline(previous: u64, period: u64, now: u64) -> u64 {
    let period = period.max(1);
    let Some(next) = previous.checked_add(period) else { return u64::MAX };
    if next > now {
        return next;
    }
    let missed = (now - next) / period + 1;
    missed.checked_mul(period).and_then(|skip| next.checked_add(skip)).unwrap_or(u64::MAX)
}

/// Calls `handler` (in interrupt context) every `period`, starting one
/// period from now, replacing any previous periodic handler. A period too
/// long to fall within the counter's range (`Duration::MAX`) never comes.
#[cfg(target_os = "none")]
pub fn set_periodic(period: Duration, handler: fn()) -> Result<(), PeriodError> {
    if period < MIN_PERIOD {
        return Err(PeriodError::TooShort { period, min: MIN_PERIOD });
    }
    let ticks = duration_to_ticks(period, frequency()).max(1);
    crate::arch::cpu::without_interrupts(|| {
        PERIOD_TICKS.store(ticks, Ordering::Relaxed);
        PERIODIC_HANDLER.store(handler as usize, Ordering::Relaxed);
        let next = crate::arch::cpu::counter().saturating_add(ticks);
        NEXT_DEADLINE.store(next, Ordering::Relaxed);
        rearm(&crate::critical::InterruptsMasked::new());
    });
    Ok(())
}

/// Stops the periodic timer.
#[cfg(target_os = "none")]
pub fn stop_periodic() {
    crate::arch::cpu::without_interrupts(|| {
        PERIOD_TICKS.store(0, Ordering::Relaxed);
        rearm(&crate::critical::InterruptsMasked::new());
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
pub(crate) fn rearm(masked: &crate::critical::InterruptsMasked) {
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
    let masked = unsafe { crate::critical::InterruptsMasked::assume() };
    let now = crate::arch::cpu::counter();
    let period = PERIOD_TICKS.load(Ordering::Relaxed);
    let due = NEXT_DEADLINE.load(Ordering::Relaxed);
    if period != 0 && due <= now {
        NEXT_DEADLINE.store(next_periodic_deadline(due, period, now), Ordering::Relaxed);
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

/// Blocks the running task for `d` (other tasks run meanwhile);
/// `Duration::MAX`, or any `d` past the counter's range, is forever.
#[cfg(target_os = "none")]
pub fn sleep(d: Duration) {
    if crate::arch::user_mode::running_at_el0() {
        return crate::syscall::user::sleep_nanos(crate::syscall::abi::timeout_to_nanos(d));
    }
    sleep_until(Instant::now() + d)
}

/// Blocks the running task until `deadline` ([`Instant::FOREVER`]: forever).
#[cfg(target_os = "none")]
pub fn sleep_until(deadline: Instant) {
    use crate::critical::InterruptsMasked;
    use crate::sched::{scheduler, timer};
    if crate::arch::user_mode::running_at_el0() {
        let left = if deadline.is_forever() { Duration::MAX } else { deadline.duration_since(Instant::now()) };
        return crate::syscall::user::sleep_nanos(crate::syscall::abi::timeout_to_nanos(left));
    }
    let masked = InterruptsMasked::new();
    if Instant::now() >= deadline {
        return;
    }
    if !deadline.is_forever() {
        // SAFETY: the running task is alive and on no list; the timer takes it off when it wakes it.
        unsafe { timer::add(&masked, scheduler::current(), deadline.ticks()) };
    }
    // Forever: on no list at all, nothing ever wakes it.
    scheduler::block_current(&masked);
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_HZ: u64 = 62_500_000; // QEMU's generic timer (cortex-a72)
    const GHZ: u64 = 1_000_000_000; // Armv8.6 and later, QEMU's `-cpu max`
    const PI3_HZ: u64 = 19_200_000;

    #[test]
    fn conversions_round_trip() {
        let hz = QEMU_HZ;
        assert_eq!(ticks_to_duration(hz, hz), Duration::from_secs(1));
        assert_eq!(ticks_to_duration(hz / 1000, hz), Duration::from_millis(1));
        assert_eq!(duration_to_ticks(Duration::from_millis(10), hz), 625_000);
        assert_eq!(duration_to_ticks(Duration::from_nanos(1), hz), 1, "rounds up");
        assert_eq!(duration_to_ticks(Duration::MAX, hz), u64::MAX, "saturates");
        assert_eq!(ticks_to_duration(u64::MAX, GHZ).as_secs(), u64::MAX / GHZ);
    }

    #[test]
    fn conversions_saturate_at_every_frequency() {
        for hz in [1, PI3_HZ, QEMU_HZ, GHZ, u32::MAX as u64] {
            assert_eq!(duration_to_ticks(Duration::MAX, hz), u64::MAX, "{hz} Hz");
            assert_eq!(duration_to_ticks(Duration::ZERO, hz), 0);
            assert_eq!(duration_to_ticks(Duration::from_secs(1), hz), hz);
            let max_ticks = ticks_to_duration(u64::MAX, hz);
            assert_eq!(max_ticks.as_secs(), u64::MAX / hz, "{hz} Hz");
        }
        // u64::MAX nanoseconds (what an isolated task may pass to `sleep`):
        // exactly u64::MAX ticks at 1 GHz, in range at 62.5 MHz.
        assert_eq!(duration_to_ticks(Duration::from_nanos(u64::MAX), GHZ), u64::MAX);
        assert_eq!(duration_to_ticks(Duration::from_nanos(u64::MAX), QEMU_HZ), u64::MAX / 16 + 1);
    }

    #[test]
    fn deadlines_past_the_counter_are_never() {
        let now = 5_000_000_000; // 5 s at 1 GHz
        assert_eq!(deadline_after(now, Duration::from_millis(3), GHZ), Some(now + 3_000_000));
        assert_eq!(deadline_after(now, Duration::ZERO, GHZ), Some(now));
        for hz in [PI3_HZ, QEMU_HZ, GHZ] {
            assert_eq!(deadline_after(now, Duration::MAX, hz), None, "{hz} Hz");
            assert_eq!(deadline_after(0, Duration::MAX, hz), None, "{hz} Hz");
            assert_eq!(deadline_after(u64::MAX - 1, Duration::from_nanos(1), hz), None, "{hz} Hz");
        }
        // The system call's largest sleep: overflows at 1 GHz once the counter has moved.
        assert_eq!(deadline_after(now, Duration::from_nanos(u64::MAX), GHZ), None);
        assert_eq!(deadline_after(1, Duration::from_nanos(u64::MAX - 1), GHZ), None, "exactly u64::MAX: never");
        assert_eq!(deadline_after(now, Duration::from_nanos(u64::MAX), QEMU_HZ), Some(now + u64::MAX / 16 + 1));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        // On the host the counter runs at 1 Hz: one tick a second.
        let t = Instant::from_ticks(100);
        assert_eq!(t + Duration::from_secs(5), Instant::from_ticks(105));
        assert_eq!(t + Duration::MAX, Instant::FOREVER);
        assert!((t + Duration::MAX).is_forever());
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(Instant::FOREVER.checked_add(Duration::ZERO), None, "FOREVER is never a real deadline");
        assert_eq!(t.checked_add(Duration::from_secs(u64::MAX - 100)), None);
        assert_eq!(t.checked_add(Duration::from_secs(u64::MAX - 101)), Some(Instant::from_ticks(u64::MAX - 1)));
        let mut u = t;
        u += Duration::MAX;
        assert_eq!(u, Instant::FOREVER);
        assert_eq!(t - Duration::from_secs(30), Instant::from_ticks(70));
        assert_eq!(t - Duration::MAX, Instant::from_ticks(0));
        assert_eq!(t.checked_sub(Duration::from_secs(101)), None);
        assert_eq!(t.checked_sub(Duration::from_secs(100)), Some(Instant::from_ticks(0)));
        let mut v = t;
        v -= Duration::from_secs(1000);
        assert_eq!(v, Instant::from_ticks(0));
        let later = Instant::from_ticks(150);
        assert_eq!(later - t, Duration::from_secs(50));
        assert_eq!(t - later, Duration::ZERO, "an earlier minus a later instant is zero");
        assert_eq!(t.duration_since(later), Duration::ZERO);
        assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
        assert_eq!(t.checked_duration_since(later), None);
        assert_eq!(later.checked_duration_since(t), Some(Duration::from_secs(50)));
        assert_eq!(Instant::FOREVER - Instant::from_ticks(0), Duration::from_secs(u64::MAX));
    }

    #[test]
    fn periodic_deadlines_skip_missed_periods_and_saturate() {
        assert_eq!(next_periodic_deadline(1000, 100, 1000), 1100, "on time");
        assert_eq!(next_periodic_deadline(1000, 100, 1099), 1100);
        assert_eq!(next_periodic_deadline(1000, 100, 1100), 1200, "one missed: skipped");
        assert_eq!(next_periodic_deadline(1000, 100, 1750), 1800, "phase kept");
        assert_eq!(next_periodic_deadline(1000, 0, 5000), 5001, "a zero period counts as one tick");
        assert_eq!(next_periodic_deadline(1000, u64::MAX, 1000), u64::MAX, "never");
        assert_eq!(next_periodic_deadline(u64::MAX - 5, 10, u64::MAX - 5), u64::MAX);
        assert_eq!(next_periodic_deadline(10, u64::MAX / 2, u64::MAX - 1), u64::MAX);
        assert_eq!(next_periodic_deadline(0, 3, u64::MAX - 1), u64::MAX, "no multiple left: never");
    }

    #[test]
    fn period_errors_name_the_problem() {
        let e = PeriodError::TooShort { period: Duration::ZERO, min: MIN_PERIOD };
        assert_eq!(alloc::format!("{e}"), "period 0ns is shorter than the minimum 5µs");
    }
}
