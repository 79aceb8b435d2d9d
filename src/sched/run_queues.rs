//! Ready tasks on several cores: which queue a ready task waits in, which
//! core takes it, and which core must be interrupted for it.
//!
//! ## The policy: one shared queue, and one queue per core
//!
//! A task that may run on every core online waits in the *shared* queue,
//! which every core takes from. A task restricted to some cores
//! (`Builder::cpu`, `Builder::cpus`) waits in the queue of one core it may
//! run on, chosen as it becomes ready: the allowed core running the least
//! urgent task. Each queue is a [`ReadyQueue`] (a FIFO per level and a
//! bitmap), so a core's next task is the more urgent of two queue fronts:
//! O(1), as on one core. On a tie between the two, they take turns, so
//! neither starves the other at one level.
//!
//! Why not a queue per core with balancing (Linux, ArceOS)? Balancing moves
//! tasks after the fact, so for a while a core may run a less urgent task
//! while a more urgent one waits elsewhere. The contract ilusion keeps is
//! Zephyr's: *while a task is ready and not running, no core runs a less
//! urgent task it is allowed to run* (cooperative tasks aside: nothing
//! preempts them). A shared queue keeps it by construction; its cost is that
//! every core takes the same lock (the kernel lock) to schedule, which on a
//! small machine (4 to 8 cores) is short, and measured (BENCHMARKS.md). A
//! restricted task keeps the contract among the tasks of the core it was
//! given.
//!
//! ## Asking a core
//!
//! Each core's *level* here is the level of the task it runs. When a task
//! becomes ready, [`RunQueues::enqueue`] finds the allowed core running the
//! least urgent *preemptible* task (idle counts as preemptible; a
//! cooperative task is never preempted); if that is less urgent than the new
//! task, that core is asked to reschedule (by the caller: a flag, and an
//! interrupt if it is another core), and its level becomes the new task's
//! at once (a *claim*), so the next ready task asks a different core. After
//! a core takes a task ([`RunQueues::pick`]), [`RunQueues::ask_for_shared`]
//! asks one more core if the shared queue still holds a task more urgent
//! than some core runs: a claim that came to nothing is made good there.
//!
//! ## One core
//!
//! The methods a switch calls take `MANY`, known when the code is compiled:
//! the scheduler calls them with `MANY = false` on a boot with one core
//! (`critical::several_cores`), and then they are the one-core scheduler's:
//! every task waits in the shared queue, the cores' queues and levels are
//! not looked at, and no core is asked. A one-core boot of the SMP-capable
//! build pays nothing for the other cores (BENCHMARKS.md, "One core").
//!
//! Plain data, no locks: the scheduler keeps it in a `KernelCell`. Unit
//! tests drive it with several simulated cores.

use super::list::Adapter;
use super::priority::{is_preemptive, Level, IDLE_LEVEL};
use super::ready_queue::ReadyQueue;
use crate::percpu::{CpuMask, MAX_CPUS};
use core::ptr::NonNull;

/// The queue number of the shared queue (others are core numbers).
pub const SHARED: u8 = u8::MAX;

/// Where [`RunQueues::enqueue`] put a task, and which core must reschedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// [`SHARED`], or the core whose own queue holds it.
    pub queue: u8,
    /// The core to ask to reschedule, if one runs a less urgent task.
    pub ask: Option<usize>,
}

// In this order (`repr(C)`): the small fields every switch touches first,
// where an instruction reaches them from the start of the structure.
#[repr(C)]
pub struct RunQueues<A: Adapter> {
    /// The cores that take tasks (bit `n`: core `n`).
    online: CpuMask,
    /// What each core runs (or has been asked to take), as a level,
    /// stored as `level ^ IDLE_LEVEL` (read with `level`, written with
    /// `set_level`): every core idle is all zero, so the scheduler's state
    /// (about 9 KiB with its queues) starts in `.bss`, not in the image.
    levels_from_idle: [Level; MAX_CPUS],
    /// On a tie between the shared queue and a core's own, the shared one goes first.
    tie_to_shared: [bool; MAX_CPUS],
    shared: ReadyQueue<A>,
    own: [ReadyQueue<A>; MAX_CPUS],
}

/// Can a task become ready and take a core running at `level`?
#[inline]
fn preemptible(level: Level) -> bool {
    is_preemptive(level) || level == IDLE_LEVEL
}

impl<A: Adapter> RunQueues<A> {
    pub const fn new() -> Self {
        Self {
            shared: ReadyQueue::new(),
            own: [const { ReadyQueue::new() }; MAX_CPUS],
            levels_from_idle: [0; MAX_CPUS],
            tie_to_shared: [false; MAX_CPUS],
            online: 0,
        }
    }

    /// Core `cpu` takes tasks from now on; it runs its idle task.
    pub fn bring_online(&mut self, cpu: usize) {
        self.online |= 1 << cpu;
        self.set_level(cpu, IDLE_LEVEL);
    }

    /// Records that core `cpu` now runs a task at `level` (idle: `IDLE_LEVEL`).
    #[inline]
    pub fn set_core_level(&mut self, cpu: usize, level: Level) {
        self.set_level(cpu, level);
    }

    #[inline(always)]
    fn level(&self, cpu: usize) -> Level {
        self.levels_from_idle[cpu] ^ IDLE_LEVEL
    }

    #[inline(always)]
    fn set_level(&mut self, cpu: usize, level: Level) {
        self.levels_from_idle[cpu] = level ^ IDLE_LEVEL;
    }

    /// What core `cpu` runs, or has been asked to take, as a level.
    pub fn core_level(&self, cpu: usize) -> Level {
        self.level(cpu)
    }

    /// Queues `item` at `level`, at the front (it was preempted and keeps
    /// its turn) or the back, and returns the queue's number ([`SHARED`] or
    /// a core's). `allowed` are the cores it may run on, `here` the calling
    /// core, `last` the core it ran on last (preferred among equals: its
    /// caches are warm). No core is asked: this is for the running task
    /// going back (it yields, is preempted or its slice is over), whose core
    /// is about to pick; then [`RunQueues::ask_for_shared`] offers what is
    /// left to the other cores. With one core (`MANY` false): the shared queue.
    ///
    /// # Safety
    /// As for [`ReadyQueue::push_back`].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn put_back<const MANY: bool>(
        &mut self,
        item: NonNull<A::Item>,
        level: Level,
        allowed: CpuMask,
        here: usize,
        last: usize,
        front: bool,
    ) -> u8 {
        let (queue, number) = if !MANY || allowed & self.online == self.online {
            (&mut self.shared, SHARED)
        } else {
            let allowed = allowed & self.online;
            // One core allowed (a pinned task): that one, with no search.
            let cpu = match allowed.is_power_of_two() {
                true => allowed.trailing_zeros() as usize,
                false => self.core_to_wait_for(allowed, here, last),
            };
            (&mut self.own[cpu], cpu as u8)
        };
        // SAFETY: forwarded from our caller.
        unsafe {
            if front {
                queue.push_front(level, item)
            } else {
                queue.push_back(level, item)
            }
        }
        number
    }

    /// Queues `item` as [`RunQueues::put_back`] does, for a task that
    /// becomes ready (woken, new, or moved by a change of level), and finds
    /// the core that should run it: the one to ask to reschedule, if any.
    /// (Several cores: one core's scheduler compares with its running task.)
    ///
    /// # Safety
    /// As for [`ReadyQueue::push_back`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn enqueue(
        &mut self,
        item: NonNull<A::Item>,
        level: Level,
        allowed: CpuMask,
        here: usize,
        last: usize,
        front: bool,
    ) -> Placement {
        // SAFETY: forwarded from our caller.
        let number = unsafe { self.put_back::<true>(item, level, allowed, here, last, front) };
        let candidates = if number == SHARED { self.online } else { 1 << number };
        Placement { queue: number, ask: self.ask_a_core(candidates, level, here) }
    }

    /// Takes `item`, queued at `level`, off the queue [`RunQueues::enqueue`] put it in.
    ///
    /// # Safety
    /// `item` is in queue `queue` at `level`.
    pub unsafe fn remove<const MANY: bool>(&mut self, queue: u8, level: Level, item: NonNull<A::Item>) {
        let queue = if !MANY || queue == SHARED { &mut self.shared } else { &mut self.own[queue as usize] };
        // SAFETY: promised by our caller.
        unsafe { queue.remove(level, item) };
    }

    /// One core's yield: [`ReadyQueue::pass_turn`] on the shared queue
    /// (with one core online, every task waits there).
    ///
    /// # Safety
    /// As for [`ReadyQueue::push_back`]; one core is online.
    #[inline]
    pub unsafe fn pass_turn_one_core(&mut self, level: Level, item: NonNull<A::Item>) -> Option<NonNull<A::Item>> {
        // SAFETY: forwarded from our caller.
        unsafe { self.shared.pass_turn(level, item) }
    }

    /// Is a task at `level` or more urgent ready to run on core `cpu`?
    #[inline]
    pub fn has_ready_for<const MANY: bool>(&self, cpu: usize, level: Level) -> bool {
        self.shared.has_ready_at_or_above(level) || (MANY && self.own[cpu].has_ready_at_or_above(level))
    }

    /// Is anything ready to run on core `cpu`?
    #[inline]
    pub fn has_any_for<const MANY: bool>(&self, cpu: usize) -> bool {
        !self.shared.is_empty() || (MANY && !self.own[cpu].is_empty())
    }

    /// Takes the most urgent task core `cpu` may run off its queue, if any.
    #[inline]
    pub fn pick<const MANY: bool>(&mut self, cpu: usize) -> Option<NonNull<A::Item>> {
        if !MANY || self.own[cpu].is_empty() {
            // The common case (always, on one core): nothing restricted waits for this core.
            return self.shared.pop_most_urgent();
        }
        let shared = self.shared.most_urgent_level();
        let own = self.own[cpu].most_urgent_level();
        let take_shared = match (shared, own) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(s), Some(o)) if s == o => {
                let turn = self.tie_to_shared[cpu];
                self.tie_to_shared[cpu] = !turn;
                turn
            }
            (Some(s), Some(o)) => s < o,
        };
        if take_shared {
            self.shared.pop_most_urgent()
        } else {
            self.own[cpu].pop_most_urgent()
        }
    }

    /// After core `here` took a task: if the shared queue still holds one
    /// more urgent than what another online core runs, asks that core.
    #[inline]
    pub fn ask_for_shared(&mut self, here: usize) -> Option<usize> {
        let others = self.online & !(1 << here);
        if others == 0 {
            return None; // one core: nobody to ask
        }
        let level = self.shared.most_urgent_level()?;
        self.ask_a_core(others, level, here)
    }

    /// Among `candidates`, the core running the least urgent preemptible
    /// task, if it is less urgent than `level`; claims it (its level becomes
    /// `level`). Among equals, `here` (no interrupt needed), else the lowest.
    #[inline]
    fn ask_a_core(&mut self, candidates: CpuMask, level: Level, here: usize) -> Option<usize> {
        let eligible = |l: Level| preemptible(l) && l > level;
        let cpu = if candidates.is_power_of_two() {
            // One candidate (one core, or a pinned task): no search.
            let cpu = candidates.trailing_zeros() as usize;
            (cpu < MAX_CPUS && eligible(self.level(cpu))).then_some(cpu)?
        } else {
            self.least_urgent_core(candidates, here, eligible)?
        };
        self.set_level(cpu, level);
        Some(cpu)
    }

    /// The core whose own queue a task restricted to `allowed` (online
    /// cores) waits in: the one running the least urgent task, `last` among
    /// equals. Out of line: the path of the shared queue stays short.
    #[inline(never)]
    fn core_to_wait_for(&self, allowed: CpuMask, here: usize, last: usize) -> usize {
        self.least_urgent_core(allowed, last, |_| true).unwrap_or(here)
    }

    /// Among `candidates` whose level passes `eligible`, the one running the
    /// least urgent task; `prefer` among equals, else the lowest number.
    fn least_urgent_core(&self, candidates: CpuMask, prefer: usize, eligible: impl Fn(Level) -> bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut rest = candidates & ((1 << MAX_CPUS) - 1);
        while rest != 0 {
            let cpu = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let level = self.level(cpu);
            if !eligible(level) {
                continue;
            }
            best = match best {
                Some(b) if level < self.level(b) || (level == self.level(b) && cpu != prefer) => Some(b),
                _ => Some(cpu),
            };
        }
        best
    }
}

impl<A: Adapter> Default for RunQueues<A> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::list::tests::{nodes, ByLinks};
    use super::*;
    extern crate std;
    use std::vec::Vec;

    const FOUR: CpuMask = 0b1111;

    /// Four cores, each running a task at the given level.
    fn machine(levels: [Level; 4]) -> RunQueues<ByLinks> {
        let mut q = RunQueues::new();
        for (cpu, level) in levels.into_iter().enumerate() {
            q.bring_online(cpu);
            q.set_core_level(cpu, level);
        }
        q
    }

    #[test]
    fn a_ready_task_asks_the_core_running_the_least_urgent_task() {
        let mut q = machine([40, 50, 45, IDLE_LEVEL]);
        let n = nodes(&[0, 1, 2, 3, 4]);
        // SAFETY: leaked nodes, each queued once (here and below).
        let p = unsafe { q.enqueue(n[0], 35, FOUR, 0, 0, false) };
        assert_eq!(p, Placement { queue: SHARED, ask: Some(3) }, "the idle core first");
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[1], 36, FOUR, 0, 0, false) };
        assert_eq!(p.ask, Some(1), "core 3 is claimed now: the next least urgent");
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[2], 37, FOUR, 0, 0, false) };
        assert_eq!(p.ask, Some(2));
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[3], 38, FOUR, 0, 0, false) };
        assert_eq!(p.ask, Some(0));
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[4], 39, FOUR, 0, 0, false) };
        assert_eq!(p.ask, None, "every core runs (or takes) something more urgent");
        // The asked cores take the four most urgent; the fifth waits.
        let mut taken: Vec<_> = (0..4).map(|cpu| q.pick::<true>(cpu).unwrap()).collect();
        taken.sort();
        let mut want = n[..4].to_vec();
        want.sort();
        assert_eq!(taken, want);
        assert!(q.has_ready_for::<true>(0, 39) && !q.has_ready_for::<true>(0, 38));
    }

    #[test]
    fn cooperative_tasks_are_not_asked_and_equals_are_not_preempted() {
        let mut q = machine([5, 20, 40, 40]); // cores 0 and 1 run cooperative tasks
        let n = nodes(&[0, 1]);
        // SAFETY: leaked nodes, each queued once.
        let p = unsafe { q.enqueue(n[0], 3, FOUR, 0, 0, false) };
        assert_eq!(p.ask, Some(2), "a preemptive core, though cores 0 and 1 are less urgent than 3");
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[1], 40, FOUR, 3, 3, false) };
        assert_eq!(p.ask, None, "an equal does not preempt");
    }

    #[test]
    fn a_pinned_task_waits_in_its_core_queue_and_asks_only_that_core() {
        let mut q = machine([IDLE_LEVEL, 40, 45, 50]);
        let n = nodes(&[0, 1, 2]);
        // SAFETY: leaked nodes, each queued once.
        let p = unsafe { q.enqueue(n[0], 45, 1 << 1, 0, 0, false) };
        assert_eq!(p, Placement { queue: 1, ask: None }, "core 1 runs something more urgent");
        assert_eq!(q.pick::<true>(0), None, "core 0 may not run it");
        assert!(!q.has_any_for::<true>(2));
        assert_eq!(q.pick::<true>(1), Some(n[0]));
        // Two allowed cores: the one running the least urgent task.
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[1], 35, 0b1100, 0, 0, false) };
        assert_eq!(p, Placement { queue: 3, ask: Some(3) });
        // Only cores that are not online: the calling core's queue.
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[2], 45, 1 << 5, 2, 2, false) };
        assert_eq!(p.queue, 2);
    }

    #[test]
    fn ties_between_the_shared_and_a_core_queue_take_turns() {
        let mut q = machine([40; 4]);
        let n = nodes(&[0, 1, 2, 3]);
        // SAFETY: leaked nodes, each queued once (and again only after `pick`).
        unsafe {
            q.enqueue(n[0], 40, FOUR, 0, 0, false);
            q.enqueue(n[1], 40, 1, 0, 0, false);
        }
        let first = q.pick::<true>(0).unwrap();
        // SAFETY: `first` was just taken off; it goes back where it was.
        unsafe { q.enqueue(first, 40, if first == n[0] { FOUR } else { 1 }, 0, 0, false) };
        let second = q.pick::<true>(0).unwrap();
        assert_ne!(first, second, "the other queue's turn");
    }

    #[test]
    fn one_core_online_is_the_one_core_scheduler() {
        let mut q = RunQueues::<ByLinks>::new();
        q.bring_online(0);
        q.set_core_level(0, 40);
        let n = nodes(&[0, 1]);
        // SAFETY: leaked nodes, each queued once.
        let p = unsafe { q.enqueue(n[0], 30, 0b1, 0, 0, false) };
        assert_eq!(p, Placement { queue: SHARED, ask: Some(0) }, "pinned to the only core = shared");
        // SAFETY: as above.
        let p = unsafe { q.enqueue(n[1], 30, FOUR, 0, 0, true) };
        assert_eq!(p.ask, None, "core 0 is claimed at 30 already");
        assert_eq!(q.pick::<true>(0), Some(n[1]), "in front");
    }

    #[test]
    fn compiled_for_one_core_only_the_shared_queue_is_used() {
        let mut q = machine([40; 4]);
        let n = nodes(&[0, 1]);
        // SAFETY: leaked nodes, each queued once.
        let queue = unsafe { q.put_back::<false>(n[0], 30, 1 << 2, 0, 0, false) };
        assert_eq!(queue, SHARED, "one core has one queue, whatever the mask");
        // SAFETY: as above.
        let queue = unsafe { q.put_back::<true>(n[1], 20, 1, 0, 0, false) };
        assert_eq!(queue, 0, "several cores: a restricted task waits in a core's queue");
        assert!(q.has_ready_for::<true>(0, 20) && !q.has_ready_for::<false>(0, 20), "core 0's queue is not looked at");
        assert_eq!(q.pick::<false>(0), Some(n[0]));
        assert!(!q.has_any_for::<false>(0) && q.has_any_for::<true>(0));
    }

    #[test]
    fn a_claim_that_came_to_nothing_is_made_good() {
        let mut q = machine([IDLE_LEVEL, 40, 40, 20]);
        let n = nodes(&[0]);
        // SAFETY: a leaked node, queued once.
        let p = unsafe { q.enqueue(n[0], 30, FOUR, 1, 1, false) };
        assert_eq!(p.ask, Some(0));
        // Core 0 went on running idle (its level set back), and the task is still queued:
        q.set_core_level(0, IDLE_LEVEL);
        assert_eq!(q.ask_for_shared(1), Some(0));
        assert_eq!(q.ask_for_shared(1), Some(2), "core 0 is claimed again: the next");
        assert_eq!(q.ask_for_shared(1), None, "core 3 runs something more urgent; 1 is the caller");
    }
}
