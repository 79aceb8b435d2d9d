//! Stand-ins for the task statistics API of issue 13 (`task::list`,
//! `task::stats`, `task::kill`, `cpu::stats`), with the shapes in its
//! specification, until that API is merged: `ps`, `top`, `kill`, `maps` and
//! the per-task part of `mem` are written against these, and say that the
//! statistics are missing instead of showing anything. Merging the real
//! API replaces this file with one `use` line in `tasks.rs`.

// Not every field and variant is read until the real API replaces these.
#![allow(dead_code)]

use crate::task::{Priority, TaskName};
use alloc::vec::Vec;
use core::time::Duration;

/// Set when the real API is in: until then the commands say it is not.
pub const AVAILABLE: bool = false;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Ready,
    Blocked,
    Sleeping,
    Ended,
}

#[derive(Clone, Debug)]
pub struct TaskMemory {
    pub resident_bytes: u64,
    pub reserved_bytes: u64,
    pub page_faults: u64,
}

#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub id: u64,
    pub name: Option<TaskName>,
    pub state: TaskState,
    pub priority: Priority,
    pub running_priority: Priority,
    pub cpu: usize,
    pub isolated: bool,
    pub cpu_time: Duration,
    pub switched_in: u64,
    pub preempted: u64,
    pub woken: u64,
    pub stack_size: usize,
    pub stack_high_water: usize,
    pub memory: Option<TaskMemory>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillError {
    NoSuchTask(u64),
    AlreadyEnded(u64),
    IdleTask(u64),
}

impl core::fmt::Display for KillError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::NoSuchTask(id) => write!(f, "no task {id}"),
            Self::AlreadyEnded(id) => write!(f, "task {id} has ended already"),
            Self::IdleTask(id) => write!(f, "task {id} is an idle task"),
        }
    }
}

pub struct CpuStats {
    pub cpu: usize,
    pub busy: Duration,
    pub idle: Duration,
    pub interrupts: u64,
    pub switches: u64,
}

pub fn list() -> Vec<TaskInfo> {
    Vec::new()
}

pub fn stats(id: u64) -> Option<TaskInfo> {
    let _ = id;
    None
}

pub fn kill(id: u64) -> Result<(), KillError> {
    Err(KillError::NoSuchTask(id))
}

pub fn cpu_stats() -> Vec<CpuStats> {
    Vec::new()
}

/// Prints task `id`'s address space as text (`mm::dump`), or says why not.
pub fn dump_maps(id: u64) -> Result<(), alloc::string::String> {
    let _ = id;
    Err(alloc::string::String::from("needs the task registry of issue 13 (task::list), not in this build"))
}
