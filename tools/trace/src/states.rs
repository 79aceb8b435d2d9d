//! From events to intervals: what each task was doing, and what each core ran.
//!
//! A task is *running* from a switch to it until a switch away from it;
//! then it is *ready* (yield, preemption, end of slice), *blocked* (it
//! blocked on something first: `bl`, or the switch says `block`) or
//! *sleeping* (blocked on `sleep`, or the switch says `sleep`), until a
//! wake (`wk`) makes it ready again. A spawned task is ready. Before its
//! first event a task's state is unknown (not drawn), except for a task
//! the trace first sees switched away from: it was running since the start.
//! The idle task (id 0, one per core) is not a task lane: a core running
//! it is idle.

use crate::trace::{Kind, Trace, IDLE};
use std::collections::BTreeMap;

/// What a task was doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running {
        core: usize,
    },
    Ready,
    /// Blocked on what the `bl` event said (`mutex`, `channel`, ...).
    Blocked {
        on: String,
    },
    Sleeping,
}

impl State {
    /// Its name in pictures and traces.
    pub fn label(&self) -> String {
        match self {
            State::Running { core } => format!("running on core {core}"),
            State::Ready => "ready".into(),
            State::Blocked { on } => format!("blocked on {on}"),
            State::Sleeping => "sleeping".into(),
        }
    }
}

/// A state from `start` to `end` (ticks since the trace's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval<T> {
    pub start: u64,
    pub end: u64,
    pub what: T,
}

/// Every task's states and every core's tasks, over the trace.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// By task id (not the idle task): its intervals in time order.
    pub tasks: BTreeMap<u64, Vec<Interval<State>>>,
    /// By core: the task it ran ([`IDLE`] for idle), in time order.
    pub cores: Vec<Vec<Interval<u64>>>,
    /// By core: interrupt handlers, `(intid)` from enter to exit.
    pub irqs: Vec<Vec<Interval<u64>>>,
    /// Where the trace ends (its last event).
    pub end: u64,
}

/// Derives the timeline of `trace`.
pub fn derive(trace: &Trace) -> Timeline {
    let end = trace.end_ticks();
    let mut open: BTreeMap<u64, (u64, State)> = BTreeMap::new();
    let mut tasks: BTreeMap<u64, Vec<Interval<State>>> = trace.tasks().into_iter().map(|id| (id, vec![])).collect();
    let mut block_reason: BTreeMap<u64, String> = BTreeMap::new();
    let mut ended: Vec<u64> = Vec::new();
    let mut core_open: Vec<Option<(u64, u64)>> = vec![None; trace.cores];
    let mut cores: Vec<Vec<Interval<u64>>> = vec![vec![]; trace.cores];
    let mut irq_open: Vec<Vec<(u64, u64)>> = vec![vec![]; trace.cores];
    let mut irqs: Vec<Vec<Interval<u64>>> = vec![vec![]; trace.cores];

    let mut set = |open: &mut BTreeMap<u64, (u64, State)>, task: u64, at: u64, state: Option<State>| {
        if task == IDLE {
            return;
        }
        if let Some((start, what)) = open.remove(&task) {
            if at > start {
                tasks.entry(task).or_default().push(Interval { start, end: at, what });
            }
        }
        if let Some(state) = state {
            open.insert(task, (at, state));
        }
    };

    for event in &trace.events {
        let at = event.ticks;
        match &event.kind {
            Kind::Switch { from, to, why } => {
                if *from != IDLE && !open.contains_key(from) && !ended.contains(from) {
                    // First seen leaving the core: it ran since the start.
                    open.insert(*from, (0, State::Running { core: event.core }));
                }
                let next = match (why.as_str(), block_reason.remove(from)) {
                    ("exit", _) => None,
                    (_, Some(on)) if on == "sleep" => Some(State::Sleeping),
                    (_, Some(on)) => Some(State::Blocked { on }),
                    ("sleep", None) => Some(State::Sleeping),
                    ("block", None) => Some(State::Blocked { on: "something".into() }),
                    _ => Some(State::Ready),
                };
                if ended.contains(from) {
                    set(&mut open, *from, at, None);
                } else {
                    set(&mut open, *from, at, next);
                }
                set(&mut open, *to, at, Some(State::Running { core: event.core }));
                let (start, task) = core_open[event.core].unwrap_or((0, *from));
                if at > start {
                    cores[event.core].push(Interval { start, end: at, what: task });
                }
                core_open[event.core] = Some((at, *to));
            }
            Kind::Wake { task } | Kind::Spawn { task, .. } => {
                // Woken while still running (before it blocked) or already ready: no change.
                let unchanged = matches!(open.get(task), Some((_, State::Running { .. } | State::Ready)));
                if !unchanged {
                    set(&mut open, *task, at, Some(State::Ready));
                }
            }
            Kind::Block { task, on } => {
                block_reason.insert(*task, on.clone());
            }
            Kind::Exit { task, .. } => {
                ended.push(*task);
                // A task ends while running: it is gone at the switch away from it.
                if !matches!(open.get(task), Some((_, State::Running { .. }))) {
                    set(&mut open, *task, at, None);
                }
            }
            Kind::IrqEnter { intid } => irq_open[event.core].push((at, *intid)),
            Kind::IrqExit { intid } => {
                let stack = &mut irq_open[event.core];
                if let Some(k) = stack.iter().rposition(|(_, id)| id == intid) {
                    let (start, id) = stack.remove(k);
                    irqs[event.core].push(Interval { start, end: at, what: id });
                }
            }
            Kind::SyscallEnter { .. } | Kind::SyscallExit { .. } | Kind::PageFault { .. } | Kind::Kill { .. } => {}
        }
    }
    let still_open: Vec<u64> = open.keys().copied().collect();
    for task in still_open {
        set(&mut open, task, end, None);
    }
    for (core, slot) in core_open.into_iter().enumerate() {
        if let Some((start, task)) = slot {
            if end > start {
                cores[core].push(Interval { start, end, what: task });
            }
        }
    }
    for (core, stack) in irq_open.into_iter().enumerate() {
        // An interrupt still in its handler when the trace ends.
        irqs[core].extend(stack.into_iter().map(|(start, id)| Interval { start, end, what: id }));
        irqs[core].sort_by_key(|i| i.start);
    }
    Timeline { tasks, cores, irqs, end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{framed, parse_log};

    fn timeline(body: &[&str]) -> Timeline {
        derive(&parse_log(&framed("", "@@ilusion-trace v1 cores=2 hz=1000000 start=0", body, "")).unwrap())
    }

    fn states(t: &Timeline, task: u64) -> Vec<(u64, u64, String)> {
        t.tasks[&task].iter().map(|i| (i.start, i.end, i.what.label())).collect()
    }

    #[test]
    fn two_tasks_yielding_and_a_sleeper_woken_by_the_timer() {
        // Timestamps are hexadecimal in the dump, the expected intervals decimal (1 tick = 1 µs).
        let t = timeline(&[
            "t 1 a",
            "t 2 b",
            "t 3 sleeper",
            "e 0 a sw 1 2 yield",  // a ran since the start; b runs
            "e 0 14 sw 2 1 yield", // a again
            "e 1 19 bl 3 sleep",   // the sleeper on core 1 goes to sleep
            "e 1 1a sw 3 0 sleep",
            "e 1 28 ie 30", // timer interrupt wakes it
            "e 1 29 wk 3",
            "e 1 2a ix 30",
            "e 1 2b sw 0 3 idle",
            "e 0 32 sw 1 2 preempt",
            "e 1 3c sw 3 0 yield",
        ]);
        assert_eq!(
            states(&t, 1),
            [
                (0, 10, "running on core 0".into()),
                (10, 20, "ready".into()),
                (20, 50, "running on core 0".into()),
                (50, 60, "ready".into())
            ]
        );
        assert_eq!(
            states(&t, 2),
            [(10, 20, "running on core 0".into()), (20, 50, "ready".into()), (50, 60, "running on core 0".into())]
        );
        assert_eq!(
            states(&t, 3),
            [
                (0, 26, "running on core 1".into()),
                (26, 41, "sleeping".into()),
                (41, 43, "ready".into()),
                (43, 60, "running on core 1".into())
            ]
        );
        let core1: Vec<(u64, u64, u64)> = t.cores[1].iter().map(|i| (i.start, i.end, i.what)).collect();
        assert_eq!(core1, [(0, 26, 3), (26, 43, IDLE), (43, 60, 3)]);
        assert_eq!(t.irqs[1], [Interval { start: 40, end: 42, what: 30 }]);
        assert!(t.irqs[0].is_empty());
    }

    #[test]
    fn blocking_spawning_and_ending() {
        let t = timeline(&[
            "t 1 main",
            "t 2 child",
            "e 0 5 sp 2 1",
            "e 0 6 bl 1 join",
            "e 0 7 sw 1 2 block",
            "e 0 9 bl 2 mutex",
            "e 0 a sw 2 0 block",
            "e 1 c wk 2",
            "e 1 d sw 0 2 idle",
            "e 1 14 ex 2 ok",
            "e 1 14 wk 1",
            "e 1 15 sw 2 1 exit",
            "e 1 1e sw 1 0 yield",
        ]);
        assert_eq!(
            states(&t, 1),
            [
                (0, 7, "running on core 0".into()),
                (7, 20, "blocked on join".into()),
                (20, 21, "ready".into()),
                (21, 30, "running on core 1".into())
            ]
        );
        assert_eq!(
            states(&t, 2),
            [
                (5, 7, "ready".into()),
                (7, 10, "running on core 0".into()),
                (10, 12, "blocked on mutex".into()),
                (12, 13, "ready".into()),
                (13, 21, "running on core 1".into())
            ],
            "nothing after it ended"
        );
    }
}
