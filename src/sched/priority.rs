//! Task priorities: two classes, as in Zephyr.
//!
//! A [`Priority::Cooperative`] task is never preempted by another task; a
//! [`Priority::Preemptive`] one is, as soon as a more urgent task is ready,
//! and shares the processor round-robin with equals. Every cooperative task
//! is more urgent than every preemptive one; within a class a lower number
//! is more urgent. The scheduler works with one number, the [`Level`]:
//! cooperative `n` is level `n`, preemptive `n` is level `32 + n`, and level
//! 63 is the idle task's alone.

/// How urgent a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Runs until it yields, blocks, sleeps or ends. `0..=31`, 0 most urgent.
    Cooperative(u8),
    /// Preempted by more urgent tasks, time-sliced with equals. `0..=30`, 0 most urgent.
    Preemptive(u8),
}

/// A priority as one number: lower is more urgent, `0..LEVELS`.
pub type Level = u8;

/// Number of levels: 32 cooperative, 31 preemptive, and the idle level.
pub const LEVELS: usize = 64;
/// The first preemptive level.
pub const FIRST_PREEMPTIVE: Level = 32;
/// The idle task's level: less urgent than anything else.
pub const IDLE_LEVEL: Level = 63;

impl Priority {
    /// What `spawn` uses: preemptive, in the middle of the range.
    pub const DEFAULT: Self = Self::Preemptive(15);
    pub const MAX_COOPERATIVE: u8 = 31;
    pub const MAX_PREEMPTIVE: u8 = 30;

    /// The scheduler's level, or `None` if the number is out of range.
    pub const fn level(self) -> Option<Level> {
        match self {
            Self::Cooperative(n) if n <= Self::MAX_COOPERATIVE => Some(n),
            Self::Preemptive(n) if n <= Self::MAX_PREEMPTIVE => Some(FIRST_PREEMPTIVE + n),
            _ => None,
        }
    }

    /// The priority of a level (the idle level reads as the least urgent preemptive one + 1).
    pub const fn from_level(level: Level) -> Self {
        if level < FIRST_PREEMPTIVE {
            Self::Cooperative(level)
        } else {
            Self::Preemptive(level - FIRST_PREEMPTIVE)
        }
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Is a task at `level` preemptible by other tasks?
pub const fn is_preemptive(level: Level) -> bool {
    level >= FIRST_PREEMPTIVE
}

/// Does a task at `level` get time slices? Preemptive levels but idle's.
pub const fn is_sliced(level: Level) -> bool {
    is_preemptive(level) && level != IDLE_LEVEL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_preemptive_tasks_get_slices() {
        assert!(!is_sliced(Priority::Cooperative(0).level().unwrap()));
        assert!(!is_sliced(Priority::Cooperative(31).level().unwrap()));
        assert!(is_sliced(Priority::Preemptive(0).level().unwrap()));
        assert!(is_sliced(Priority::Preemptive(30).level().unwrap()));
        assert!(!is_sliced(IDLE_LEVEL));
    }

    #[test]
    fn every_cooperative_level_is_more_urgent_than_every_preemptive_one() {
        let least_urgent_coop = Priority::Cooperative(31).level().unwrap();
        let most_urgent_preempt = Priority::Preemptive(0).level().unwrap();
        assert!(least_urgent_coop < most_urgent_preempt);
        assert!(Priority::Preemptive(30).level().unwrap() < IDLE_LEVEL);
        assert!(Priority::Cooperative(3).level() < Priority::Cooperative(4).level());
    }

    #[test]
    fn out_of_range_and_round_trip() {
        assert_eq!(Priority::Cooperative(32).level(), None);
        assert_eq!(Priority::Preemptive(31).level(), None);
        for p in [Priority::Cooperative(0), Priority::Cooperative(31), Priority::Preemptive(0), Priority::DEFAULT] {
            assert_eq!(Priority::from_level(p.level().unwrap()), p);
        }
        assert!(is_preemptive(Priority::DEFAULT.level().unwrap()));
        assert!(!is_preemptive(Priority::Cooperative(31).level().unwrap()));
    }
}
