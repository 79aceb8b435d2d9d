//! Restart policies: a supervisor respawns an isolated task that failed, in
//! a fresh address space, as often as its policy allows and no faster than
//! its minimum run time.
//!
//! ```ignore
//! use ilusion::task::{supervise, Restart};
//! let outcome = supervise("flaky", Restart::UpTo(3), Duration::from_millis(10), || work());
//! ```
//!
//! Only failures are restarted; a task that returns is done.

use core::time::Duration;

/// When a failed task is started again.
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

/// How long to wait before the next start, so that consecutive starts are at
/// least `min_run_time` apart, after a run that lasted `run_time`.
pub fn restart_delay(run_time: Duration, min_run_time: Duration) -> Duration {
    min_run_time.saturating_sub(run_time)
}

#[cfg(target_os = "none")]
pub use supervisor::*;

#[cfg(target_os = "none")]
mod supervisor {
    use super::{restart_delay, Restart};
    use crate::task::{Builder, SpawnError, TaskFailure};
    use crate::time::Instant;
    use core::time::Duration;

    /// How a supervised task ended, and how many times it was restarted.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Supervised {
        pub restarts: u32,
        /// The last run's outcome.
        pub outcome: Result<(), TaskFailure>,
    }

    /// Runs `f` as the isolated task `name` and waits for it; when it fails
    /// and `policy` allows, reports the failure and starts it again in a fresh
    /// address space, at least `min_run_time` after the previous start.
    pub fn supervise<F>(name: &str, policy: Restart, min_run_time: Duration, f: F) -> Result<Supervised, SpawnError>
    where
        F: Fn() + Clone + Send + 'static,
    {
        let mut restarts = 0;
        loop {
            let started = Instant::now();
            let outcome = Builder::new().name(name).spawn_isolated(f.clone())?.join();
            let failure = match outcome {
                Err(failure) if policy.allows(restarts) => failure,
                outcome => return Ok(Supervised { restarts, outcome }),
            };
            crate::time::sleep(restart_delay(started.elapsed(), min_run_time));
            restarts += 1;
            crate::println!("[supervisor] '{name}' failed ({failure}); restart {restarts} ({policy:?})");
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
    }
}
