//! What the scheduler counts about each task and each core, as seen from
//! above: [`TaskInfo`] (`task::list`, `task::stats`, `JoinHandle::stats`)
//! and [`CpuStats`] (`cpu::stats`).
//!
//! The counters themselves live in the task control block and the
//! scheduler, which keep them as they switch (charging the time since the
//! core's last switch to the task leaving, about ten instructions), preempt
//! and wake tasks (docs/03, "Seeing inside"). Time spent in interrupt
//! handlers counts for the task they interrupted, as in FreeRTOS's run-time
//! statistics. This module only shapes them, and works out percentages.

use super::{Priority, TaskName};
use core::time::Duration;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// On a core now.
    Running,
    /// Waiting for a core.
    Ready,
    /// Waiting for something (a mutex, a message, a join, `park`...).
    Blocked,
    /// In `sleep` until a deadline.
    Sleeping,
    /// Returned or failed, not yet joined (its handle still exists).
    Ended,
}

impl TaskState {
    /// A short name, for tables (`ps`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Blocked => "blocked",
            Self::Sleeping => "sleeping",
            Self::Ended => "ended",
        }
    }
}

/// An isolated task's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskMemory {
    /// Pages mapped now (code and constants are the image's, shared, not counted).
    pub resident_bytes: u64,
    /// What it may grow to: its memory limit.
    pub reserved_bytes: u64,
    /// Pages mapped on demand, each after a page fault.
    pub page_faults: u64,
}

/// One task, as the scheduler last counted it.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// Its id; every core's idle task is 0.
    pub id: u64,
    pub name: Option<TaskName>,
    pub state: TaskState,
    /// The priority it was given.
    pub priority: Priority,
    /// The priority it runs at now: higher while it holds a mutex a more
    /// urgent task waits for (priority inheritance).
    pub running_priority: Priority,
    /// The core it runs on, or ran on last.
    pub cpu: usize,
    /// Does it run at EL0 in an address space of its own?
    pub isolated: bool,
    /// How long it has run (interrupts it took included).
    pub cpu_time: Duration,
    /// Times it was switched to.
    pub switched_in: u64,
    /// Times it was switched away from while it could still run: a more
    /// urgent task was ready, or its time slice ended.
    pub preempted: u64,
    /// Times it was made ready: at spawn, and after each wait.
    pub woken: u64,
    /// Its stack (an isolated task's EL0 stack), in bytes; 0 for idle tasks.
    pub stack_size: usize,
    /// The deepest its stack has been, in bytes (docs/03, "Seeing inside":
    /// how it is measured): always for isolated tasks, for kernel tasks with
    /// the `stack-watermark` feature (else `None`).
    pub stack_high_water: Option<usize>,
    /// Its memory, for an isolated task.
    pub memory: Option<TaskMemory>,
}

impl TaskInfo {
    /// Its share of `elapsed` (0–100 %), given its CPU time at the start of
    /// that interval: what `top` shows.
    pub fn cpu_percent_since(&self, earlier_cpu_time: Duration, elapsed: Duration) -> u32 {
        percent(self.cpu_time.saturating_sub(earlier_cpu_time), elapsed)
    }
}

/// One core's time and events since it came online.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuStats {
    pub cpu: usize,
    /// Time it ran tasks (the interrupts they took included).
    pub busy: Duration,
    /// Time its idle task ran (waiting for interrupts).
    pub idle: Duration,
    /// Interrupts it took.
    pub interrupts: u64,
    /// Context switches it made.
    pub switches: u64,
}

impl CpuStats {
    /// The share of its time it was busy (0–100 %).
    pub fn busy_percent(&self) -> u32 {
        percent(self.busy, self.busy + self.idle)
    }
}

/// `part` as a whole percentage of `whole` (0 if `whole` is zero), at most 100.
pub fn percent(part: Duration, whole: Duration) -> u32 {
    if whole.is_zero() {
        return 0;
    }
    ((part.as_nanos() * 100 + whole.as_nanos() / 2) / whole.as_nanos()).min(100) as u32
}

/// Why `task::kill` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillError {
    /// No task alive has this id.
    NoSuchTask(u64),
    /// The task has ended already (it is waiting to be joined).
    AlreadyEnded(u64),
    /// Id 0: a core's idle task, which must always be there.
    IdleTask,
    /// The task running the application's `main`: the program ends when
    /// it does (use `ilusion::exit`).
    MainTask,
}

impl core::fmt::Display for KillError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::NoSuchTask(id) => write!(f, "no task #{id}"),
            Self::AlreadyEnded(id) => write!(f, "task #{id} has ended already"),
            Self::IdleTask => f.write_str("the idle task (#0) cannot be killed"),
            Self::MainTask => f.write_str("main (#1) cannot be killed: the program ends with it (use exit)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_and_stay_in_range() {
        let ms = Duration::from_millis;
        assert_eq!(percent(ms(500), ms(1000)), 50);
        assert_eq!(percent(ms(1), ms(3)), 33);
        assert_eq!(percent(ms(2), ms(3)), 67);
        assert_eq!(percent(ms(5), Duration::ZERO), 0);
        assert_eq!(percent(ms(1500), ms(1000)), 100, "clamped: counters are sampled one by one");
    }

    #[test]
    fn a_core_busy_for_a_quarter() {
        let s = CpuStats {
            cpu: 0,
            busy: Duration::from_millis(250),
            idle: Duration::from_millis(750),
            interrupts: 0,
            switches: 0,
        };
        assert_eq!(s.busy_percent(), 25);
    }

    #[test]
    fn kill_errors_name_the_task() {
        assert_eq!(KillError::NoSuchTask(42).to_string(), "no task #42");
        assert_eq!(KillError::AlreadyEnded(7).to_string(), "task #7 has ended already");
        assert!(KillError::IdleTask.to_string().contains("idle"));
    }
}
