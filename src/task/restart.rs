//! Restart policies: a supervisor respawns an isolated task that failed, in
//! a fresh address space, as its [`Policy`] allows: at most so many
//! restarts ([`Restart`]), starts at least `min_run_time` apart, and (as
//! Hubris's supervisor) giving up after `N` failures within a period.
//!
//! ```ignore
//! use ilusion::task::{supervise, Builder, Policy, Restart};
//! let mut builder = Builder::new().name("flaky").priority(Priority::Preemptive(3));
//! let rx = builder.grant(rx);
//! let policy = Policy::new(Restart::Always)
//!     .min_run_time(Duration::from_millis(10))
//!     .give_up_after(3, Duration::from_millis(100));
//! let supervised = supervise(builder, policy, move || work(rx))?;
//! ```
//!
//! Only failures are restarted; a task that returns is done. Every run is
//! spawned from the same [`Builder`] (name, priority, stack, heap reserve,
//! memory limit) with the same grants:
//! - **channel endpoints** stay the task's across restarts: the handle
//!   table a failed run held goes, whole, to the next run, so the handles
//!   its closure captured still name the same channels. The other ends see
//!   no disconnection while the supervisor restarts the task (a message the
//!   failed run had received is gone with it); they see it when the
//!   supervisor is done (the task returned, or it gave up). A handle a run
//!   closed itself (it dropped the endpoint, and the other end saw the
//!   disconnection then) stays closed for the runs after it: their calls
//!   on it get `Closed`.
//! - **shared regions** are mapped again into each run's fresh address
//!   space, at the same address with the same access. Their contents are
//!   shared memory: what a failed run wrote there stays.
//!
//! Nothing of a failed run outlives it but that: its address space, stacks
//! and control block are freed before the next run starts.

use alloc::collections::VecDeque;
use core::time::Duration;

/// How many times a failed task is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Never: the first failure is final.
    Never,
    /// After every failure.
    Always,
    /// After at most this many failures.
    UpTo(u32),
}

impl Restart {
    /// May a task that has been restarted `restarts` times already be restarted again?
    pub fn allows(self, restarts: u32) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::UpTo(n) => restarts < n,
        }
    }
}

/// A supervisor's whole policy (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub restart: Restart,
    /// Consecutive starts are at least this far apart.
    pub min_run_time: Duration,
    /// Give up after this many failures within this period.
    pub window: Option<(u32, Duration)>,
}

impl Policy {
    /// `restart`, with no minimum run time and no window.
    pub const fn new(restart: Restart) -> Self {
        Self { restart, min_run_time: Duration::ZERO, window: None }
    }

    /// Starts at least `d` apart: a task that fails at once is restarted
    /// `d` after its previous start, not in a tight loop.
    pub const fn min_run_time(mut self, d: Duration) -> Self {
        self.min_run_time = d;
        self
    }

    /// Gives up when the task has failed `failures` times (at least 1)
    /// within `period`, counted from the first of them to the last.
    pub const fn give_up_after(mut self, failures: u32, period: Duration) -> Self {
        self.window = Some((failures, period));
        self
    }
}

/// Why a supervisor stopped restarting a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaveUp {
    /// The [`Restart`] rule allows no more restarts.
    RestartLimit,
    /// The window rule: `failures` failures within `span` (at most the policy's period).
    TooManyFailures { failures: u32, span: Duration },
}

/// What a supervisor does after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start the task again after this delay.
    RestartAfter(Duration),
    GiveUp(GaveUp),
}

/// A supervisor's memory of one task: restarts so far, and the times of
/// its latest failures (as many as the window counts).
#[derive(Clone, Debug)]
pub struct RestartState {
    policy: Policy,
    restarts: u32,
    recent_failures: VecDeque<Duration>,
}

impl RestartState {
    pub fn new(policy: Policy) -> Self {
        Self { policy, restarts: 0, recent_failures: VecDeque::new() }
    }

    /// Restarts decided so far (at most `u32::MAX`).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// A run that started at `started` failed at `failed` (both measured
    /// from the same origin): restart it (after how long), or give up?
    pub fn on_failure(&mut self, started: Duration, failed: Duration) -> Decision {
        if let Some((failures, period)) = self.policy.window {
            let failures = failures.max(1);
            // A failure more than `period` before this one can never be in
            // a span that counts (later ones only end later): forgotten, so
            // a window of `u32::MAX` failures keeps only those of the last
            // `period`, not every failure the task ever had.
            while self.recent_failures.front().is_some_and(|&t| failed.saturating_sub(t) > period) {
                self.recent_failures.pop_front();
            }
            self.recent_failures.push_back(failed);
            if self.recent_failures.len() > failures as usize {
                self.recent_failures.pop_front();
            }
            let span = failed.saturating_sub(self.recent_failures[0]);
            if self.recent_failures.len() == failures as usize && span <= period {
                return Decision::GiveUp(GaveUp::TooManyFailures { failures, span });
            }
        }
        if !self.policy.restart.allows(self.restarts) {
            return Decision::GiveUp(GaveUp::RestartLimit);
        }
        // `Restart::Always` may restart more than `u32::MAX` times: the count stays there.
        self.restarts = self.restarts.saturating_add(1);
        Decision::RestartAfter(restart_delay(failed.saturating_sub(started), self.policy.min_run_time))
    }
}

/// How long to wait before the next start, so that consecutive starts are at
/// least `min_run_time` apart, after a run that lasted `run_time`.
pub fn restart_delay(run_time: Duration, min_run_time: Duration) -> Duration {
    min_run_time.saturating_sub(run_time)
}

#[cfg(target_os = "none")]
pub use supervisor::*;

#[cfg(target_os = "none")]
mod supervisor {
    use super::{Decision, GaveUp, Policy, RestartState};
    use crate::task::{isolated, Builder, SpawnError, TaskFailure};
    use crate::time::Instant;

    /// How a supervised task ended, and how many times it was restarted.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Supervised {
        pub restarts: u32,
        /// The last run's outcome: `Ok` if it returned, else its failure.
        pub outcome: Result<(), TaskFailure>,
        /// Why the supervisor stopped restarting it (`None`: it returned).
        pub gave_up: Option<GaveUp>,
    }

    /// Runs `f` as an isolated task spawned from `builder` and waits for
    /// it; when it fails and `policy` allows, reports the failure and starts
    /// it again in a fresh address space with the same grants (see the
    /// module doc). Each run starts from a fresh copy of `f` as it was
    /// given (bit for bit, as `spawn_isolated` moves it into the task), so
    /// nothing a failed run changed in its own memory carries over. Returns
    /// the last run's outcome, or the error of a spawn that failed (a
    /// cooperative priority, out of memory...).
    pub fn supervise<F>(mut builder: Builder, policy: Policy, f: F) -> Result<Supervised, SpawnError>
    where
        F: FnOnce() + Send + 'static,
    {
        let mut grants = builder.grants.take().map(|g| *g).unwrap_or_default();
        let mut handles = core::mem::take(&mut grants.handles);
        let mut state = RestartState::new(policy);
        let origin = Instant::now();
        loop {
            let started = origin.elapsed();
            let again = grants.try_again(core::mem::take(&mut handles)).ok_or(SpawnError::OutOfMemory)?;
            let run = builder.spawn_with_grants(again, true, &f)?;
            run.wait();
            handles = isolated::take_back_handles(&run);
            let failure = match run.join() {
                Ok(()) => return Ok(Supervised { restarts: state.restarts(), outcome: Ok(()), gave_up: None }),
                Err(failure) => failure,
            };
            let name = crate::task::Printable(builder.name.as_deref().unwrap_or("isolated task"));
            match state.on_failure(started, origin.elapsed()) {
                Decision::RestartAfter(delay) => {
                    crate::println!(
                        "[supervisor] '{name}' failed ({failure}); restart {} ({:?}) in {delay:?}",
                        state.restarts(),
                        policy.restart
                    );
                    crate::time::sleep(delay);
                }
                Decision::GiveUp(why) => {
                    crate::println!("[supervisor] '{name}' failed ({failure}); giving up: {why:?}");
                    let outcome = Err(failure);
                    return Ok(Supervised { restarts: state.restarts(), outcome, gave_up: Some(why) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_count_restarts() {
        assert!(!Restart::Never.allows(0));
        assert!(Restart::Always.allows(0) && Restart::Always.allows(u32::MAX));
        assert!(Restart::UpTo(2).allows(0) && Restart::UpTo(2).allows(1));
        assert!(!Restart::UpTo(2).allows(2));
        assert!(!Restart::UpTo(0).allows(0));
    }

    #[test]
    fn restarts_are_rate_limited() {
        let ms = Duration::from_millis;
        assert_eq!(restart_delay(ms(3), ms(10)), ms(7));
        assert_eq!(restart_delay(ms(30), ms(10)), ms(0));
        let mut state = RestartState::new(Policy::new(Restart::UpTo(2)).min_run_time(ms(10)));
        assert_eq!(state.on_failure(ms(0), ms(3)), Decision::RestartAfter(ms(7)));
        assert_eq!(state.on_failure(ms(10), ms(40)), Decision::RestartAfter(ms(0)));
        assert_eq!(state.on_failure(ms(40), ms(41)), Decision::GiveUp(GaveUp::RestartLimit));
        assert_eq!(state.restarts(), 2);
    }

    #[test]
    fn the_window_gives_up_after_n_failures_within_the_period() {
        let ms = Duration::from_millis;
        let policy = Policy::new(Restart::Always).give_up_after(3, ms(25));
        let mut state = RestartState::new(policy);
        // Failures 20 ms apart: never 3 within 25 ms.
        for i in 0..10 {
            assert!(matches!(state.on_failure(ms(20 * i), ms(20 * i + 1)), Decision::RestartAfter(_)));
        }
        // Then three quick ones: 201, 211, 221 (the span from 201 to 221 is 20 ms).
        let mut state = RestartState::new(policy);
        assert!(matches!(state.on_failure(ms(0), ms(1)), Decision::RestartAfter(_)));
        assert!(matches!(state.on_failure(ms(100), ms(201)), Decision::RestartAfter(_)));
        assert!(matches!(state.on_failure(ms(201), ms(211)), Decision::RestartAfter(_)));
        let last = state.on_failure(ms(211), ms(221));
        assert_eq!(last, Decision::GiveUp(GaveUp::TooManyFailures { failures: 3, span: ms(20) }));
        assert_eq!(state.restarts(), 3);
        // Exactly at the period still counts; one tick past does not.
        let mut state = RestartState::new(Policy::new(Restart::Always).give_up_after(2, ms(25)));
        assert!(matches!(state.on_failure(ms(0), ms(0)), Decision::RestartAfter(_)));
        assert!(matches!(state.on_failure(ms(0), ms(25)), Decision::GiveUp(_)));
        let mut state = RestartState::new(Policy::new(Restart::Always).give_up_after(2, ms(25)));
        assert!(matches!(state.on_failure(ms(0), ms(0)), Decision::RestartAfter(_)));
        assert!(matches!(state.on_failure(ms(0), ms(25) + Duration::from_nanos(1)), Decision::RestartAfter(_)));
    }

    #[test]
    fn a_window_of_one_or_zero_failures_gives_up_at_the_first() {
        for n in [0, 1] {
            let mut state = RestartState::new(Policy::new(Restart::Always).give_up_after(n, Duration::ZERO));
            let first = state.on_failure(Duration::ZERO, Duration::from_secs(5));
            assert_eq!(first, Decision::GiveUp(GaveUp::TooManyFailures { failures: 1, span: Duration::ZERO }));
            assert_eq!(state.restarts(), 0);
        }
    }

    #[test]
    fn hostile_policies_keep_bounded_state() {
        let ms = Duration::from_millis;
        // A window of u32::MAX failures: only the failures within its period are kept.
        let mut state = RestartState::new(Policy::new(Restart::Always).give_up_after(u32::MAX, ms(1)));
        for i in 0..10_000 {
            assert!(matches!(state.on_failure(ms(10 * i), ms(10 * i + 5)), Decision::RestartAfter(_)));
        }
        assert_eq!(state.recent_failures.len(), 1, "failures older than the period are forgotten");
        // Failures closer together than the period are all kept, and still counted.
        let mut state = RestartState::new(Policy::new(Restart::Always).give_up_after(3, ms(10)));
        assert!(matches!(state.on_failure(ms(0), ms(100)), Decision::RestartAfter(_)));
        assert!(matches!(state.on_failure(ms(100), ms(104)), Decision::RestartAfter(_)));
        assert_eq!(
            state.on_failure(ms(104), ms(108)),
            Decision::GiveUp(GaveUp::TooManyFailures { failures: 3, span: ms(8) })
        );
        // Restart::Always past u32::MAX restarts: the count saturates (it overflowed).
        let mut state = RestartState::new(Policy::new(Restart::Always));
        state.restarts = u32::MAX - 1;
        for _ in 0..3 {
            assert_eq!(state.on_failure(Duration::ZERO, Duration::ZERO), Decision::RestartAfter(Duration::ZERO));
        }
        assert_eq!(state.restarts(), u32::MAX);
    }

    #[test]
    fn the_window_is_checked_before_the_restart_limit() {
        let ms = Duration::from_millis;
        let mut state = RestartState::new(Policy::new(Restart::UpTo(1)).give_up_after(2, ms(5)));
        assert_eq!(state.on_failure(ms(0), ms(1)), Decision::RestartAfter(ms(0)));
        assert_eq!(
            state.on_failure(ms(1), ms(2)),
            Decision::GiveUp(GaveUp::TooManyFailures { failures: 2, span: ms(1) })
        );
    }
}
