//! Time: a monotonic clock, sleeping, and a periodic timer, from the ARM generic timer.
//!
//! This module is the facade: it turns `Duration`s and `Instant`s into
//! counter ticks. [`Instant`] counts the generic timer's virtual counter
//! (CNTVCT_EL0) from boot. [`sleep`] and [`sleep_until`] block the calling
//! task; [`set_periodic`] calls a handler every period, without drift. Both
//! hand their deadlines down to `sched::timer`, the timer comparator's one
//! owner, which programs it for the earliest of them.
//!
//! **Deadlines saturate.** A deadline past the counter's range (64 bits of
//! ticks: 584 years at 1 GHz) is [`Instant::FOREVER`], which never comes:
//! `Duration::MAX` means "forever" for `sleep`, `busy_wait`, every timeout
//! and `set_periodic`, and no duration, from a task or a system call, can
//! make the kernel's time arithmetic overflow. Unlike std, `Instant + Duration`
//! saturates at `FOREVER` and `Instant - Duration` at the reset (no panics);
//! `checked_add`/`checked_sub` say when that happened.

use core::sync::atomic::{AtomicU64, Ordering};
pub use core::time::Duration;

pub use crate::sched::timer::next_periodic_deadline;
#[cfg(target_os = "none")]
pub use target::*;

static BOOT_COUNT: AtomicU64 = AtomicU64::new(0);
static FREQUENCY: AtomicU64 = AtomicU64::new(1);

/// A point in time, as generic-timer ticks since reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

// Both conversions stay in 64 bits (no 128-bit division linked in): with
// `hz` below 2^34 (16 GHz; generic timers run at 1 GHz at most), a part
// of a second in ticks or nanoseconds times `hz` or 10^9 is below 2^64.

/// The counter frequency to count time in, from CNTFRQ_EL0 as the firmware
/// left it and the board's crystal frequency ([`crate::board::Board::COUNTER_HZ`]):
/// the register's, unless it is 0, which a firmware (a Pi armstub) that
/// forgets to set it leaves there; then the board's, which the counter
/// runs at anyway (with 0, time was counted in 1 Hz: every sleep and
/// timeout came out millions of times too long). Boot warns about it, see
/// [`warn_if_firmware_left_no_frequency`].
pub const fn counter_hz(cntfrq_el0: u64, board_hz: u64) -> u64 {
    if cntfrq_el0 == 0 {
        board_hz
    } else {
        cntfrq_el0
    }
}

/// Ticks to a `Duration` at `hz` ticks per second, without overflow.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let secs = ticks / hz;
    let nanos = (ticks % hz) * 1_000_000_000 / hz;
    Duration::new(secs, nanos as u32)
}

/// Ticks to whole microseconds at `hz`, saturating: for messages, where
/// `Duration`'s `Debug` would link about 1.4 KiB of formatting into every
/// image.
pub fn ticks_to_micros(ticks: u64, hz: u64) -> u64 {
    let d = ticks_to_duration(ticks, hz);
    d.as_secs().saturating_mul(1_000_000).saturating_add(u64::from(d.subsec_micros()))
}

/// A `Duration` to ticks at `hz` ticks per second, rounded up, saturating:
/// whole seconds times `hz`, plus the nanoseconds' ticks rounded up.
pub fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    let part = (u64::from(d.subsec_nanos()) * hz).div_ceil(1_000_000_000);
    d.as_secs().saturating_mul(hz).saturating_add(part)
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
    /// (the kernel lets them, as a vDSO would), no system call needed. (On
    /// the host, for unit tests, the counter stands at 0.)
    pub fn now() -> Self {
        Self(counter())
    }

    pub fn ticks(self) -> u64 {
        self.0
    }

    pub fn from_ticks(ticks: u64) -> Self {
        Self(ticks)
    }

    /// Time since the kernel started. At EL0, where the boot count is out
    /// of reach, it is the `time` system call's answer for now, less the
    /// time since `self`, or plus the time until it for an instant still to
    /// come (exact to within the call's own duration).
    pub fn since_boot(self) -> Duration {
        if running_at_el0() {
            let boot_to_now = Duration::from_nanos(nanos_since_boot_from_el0());
            let now = Self::now();
            return match self.checked_duration_since(now) {
                Some(ahead) => boot_to_now.saturating_add(ahead),
                None => boot_to_now.saturating_sub(now.duration_since(self)),
            };
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
    if running_at_el0() {
        return counter_frequency_from_el0();
    }
    FREQUENCY.load(Ordering::Relaxed)
}

/// [`frequency`], typed never 0: a division by it has no zero check (the
/// fast `time` call, `syscall/fast.rs`, must stay a leaf; the compiler
/// cannot tell that [`counter_hz`] never gives 0).
pub fn frequency_nonzero() -> core::num::NonZeroU64 {
    core::num::NonZeroU64::new(frequency()).unwrap_or(core::num::NonZeroU64::MIN)
}

/// Spins (without sleeping) for `d` (`Duration::MAX`: forever).
pub fn busy_wait(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        core::hint::spin_loop();
    }
}

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

/// The host's stand-ins for the hardware, so that the arithmetic above can
/// be unit-tested: a counter that stands still, never at EL0.
#[cfg(not(target_os = "none"))]
mod host {
    pub(super) fn counter() -> u64 {
        0
    }
    pub(super) fn running_at_el0() -> bool {
        false
    }
    pub(super) fn nanos_since_boot_from_el0() -> u64 {
        0
    }
    pub(super) fn counter_frequency_from_el0() -> u64 {
        1
    }
}
#[cfg(not(target_os = "none"))]
use host::*;

/// On the machine: the counter, boot, sleeping and the periodic timer.
#[cfg(target_os = "none")]
mod target {
    use super::{duration_to_ticks, frequency, Duration, Instant, PeriodError, BOOT_COUNT, FREQUENCY, MIN_PERIOD};
    use crate::critical::CriticalSection;
    use crate::sched::{scheduler, timer};
    use core::sync::atomic::Ordering;

    pub(super) use crate::arch::cpu::counter;
    pub(super) use crate::arch::user_mode::running_at_el0;
    pub(super) use crate::syscall::user::nanos_since_boot as nanos_since_boot_from_el0;

    /// CNTFRQ_EL0, which EL0 may read (kernel data is out of its reach), or
    /// the board's frequency if it reads 0: the same choice as the kernel's.
    pub(super) fn counter_frequency_from_el0() -> u64 {
        use crate::board::Board;
        super::counter_hz(crate::arch::cpu::counter_frequency(), crate::board::Selected::COUNTER_HZ)
    }

    /// Calls `handler` (in interrupt context) every `period`, starting one
    /// period from now, replacing any previous periodic handler. A period too
    /// long to fall within the counter's range (`Duration::MAX`) never comes.
    /// Called from a task, it returns once the handler it replaced is not
    /// running on any core (as [`stop_periodic`]).
    pub fn set_periodic(period: Duration, handler: fn()) -> Result<(), PeriodError> {
        if period < MIN_PERIOD {
            return Err(PeriodError::TooShort { period, min: MIN_PERIOD });
        }
        timer::set_periodic(duration_to_ticks(period, frequency()).max(1), handler);
        Ok(())
    }

    /// Stops the periodic timer. Called from a task, it returns once the
    /// handler is not running on any core, and it never starts again: what
    /// the handler used may go. (From an interrupt handler, the periodic
    /// handler stopping itself included, or inside a critical section or
    /// with a spin lock held, it cannot wait: a handler running on another core may still be at work
    /// when it returns.)
    pub fn stop_periodic() {
        timer::stop_periodic();
    }

    /// At boot: the counter's frequency, EL0 may read the counter, the timer is off.
    pub(crate) fn init() {
        FREQUENCY.store(counter_frequency_from_el0(), Ordering::Relaxed);
        init_core();
    }

    /// Warns in the boot log (once the console is up) if the firmware left
    /// CNTFRQ_EL0 at 0: time then counts in the board's frequency
    /// ([`super::counter_hz`]).
    pub(crate) fn warn_if_firmware_left_no_frequency() {
        if crate::arch::cpu::counter_frequency() == 0 {
            log::warn!(
                "CNTFRQ_EL0 is 0: the firmware did not set the counter frequency; using the board's {} Hz",
                frequency()
            );
        }
    }

    /// On every core as it comes up (the boot core through [`init`]): EL0
    /// may read the counter (a per-core setting), and the core's own timer
    /// is off.
    pub(crate) fn init_core() {
        crate::arch::cpu::let_el0_read_virtual_counter();
        timer::init();
    }

    /// Records the counter at reset; `Instant::since_boot` counts from here.
    pub(crate) fn mark_boot(count: u64) {
        BOOT_COUNT.store(count, Ordering::Relaxed);
    }

    /// Blocks the running task for `d` (other tasks run meanwhile);
    /// `Duration::MAX`, or any `d` past the counter's range, is forever.
    pub fn sleep(d: Duration) {
        if running_at_el0() {
            return crate::syscall::user::sleep_nanos(crate::syscall::abi::timeout_to_nanos(d));
        }
        sleep_until(Instant::now() + d)
    }

    /// Blocks the running task until `deadline` ([`Instant::FOREVER`]: forever).
    pub fn sleep_until(deadline: Instant) {
        if running_at_el0() {
            let left = if deadline.is_forever() { Duration::MAX } else { deadline.duration_since(Instant::now()) };
            return crate::syscall::user::sleep_nanos(crate::syscall::abi::timeout_to_nanos(left));
        }
        let masked = CriticalSection::new();
        if Instant::now() >= deadline {
            return;
        }
        if !deadline.is_forever() {
            let me = core::ptr::NonNull::from(scheduler::running(&masked));
            // SAFETY: the running task is on no list; the timer takes it off when it wakes it.
            unsafe { timer::add(&masked, me, deadline.ticks()) };
        }
        // Forever: on no list at all, nothing ever wakes it.
        scheduler::block_current(&masked, crate::trace::On::SLEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_HZ: u64 = 62_500_000; // QEMU's generic timer (cortex-a72)
    const GHZ: u64 = 1_000_000_000; // Armv8.6 and later, QEMU's `-cpu max`
    const PI3_HZ: u64 = 19_200_000;

    #[test]
    fn counter_hz_is_the_firmware_s_unless_it_left_zero() {
        assert_eq!(counter_hz(QEMU_HZ, PI3_HZ), QEMU_HZ);
        assert_eq!(counter_hz(GHZ, QEMU_HZ), GHZ);
        // A firmware that forgot CNTFRQ_EL0: the board's crystal, not 1 Hz.
        assert_eq!(counter_hz(0, PI3_HZ), PI3_HZ);
        assert_eq!(counter_hz(0, 54_000_000), 54_000_000);
        assert_eq!(duration_to_ticks(Duration::from_millis(100), counter_hz(0, PI3_HZ)), 1_920_000);
    }

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
    fn microseconds_for_messages_saturate() {
        assert_eq!(ticks_to_micros(625, QEMU_HZ), 10);
        assert_eq!(ticks_to_micros(QEMU_HZ + 62, QEMU_HZ), 1_000_000, "whole microseconds, rounded down");
        assert_eq!(ticks_to_micros(31_000, GHZ), 31);
        assert_eq!(ticks_to_micros(u64::MAX, 1), u64::MAX, "saturates");
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
    fn period_errors_name_the_problem() {
        let e = PeriodError::TooShort { period: Duration::ZERO, min: MIN_PERIOD };
        assert_eq!(alloc::format!("{e}"), "period 0ns is shorter than the minimum 5µs");
    }
}
