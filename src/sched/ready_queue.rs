//! The ready queue: which task runs next, in O(1).
//!
//! One FIFO per priority level plus a 64-bit bitmap with bit `l` set when
//! level `l` has a ready task. The most urgent ready task is at the front of
//! the list of the lowest set bit (`trailing_zeros`, one instruction), so
//! choosing the next task costs the same with 2 tasks or 10,000.

use super::list::{Adapter, List};
use super::priority::{Level, LEVELS};
use core::ptr::NonNull;

/// The list of `level`. Every level is below [`LEVELS`] (a `Priority`
/// cannot name another), a power of two: the mask tells the compiler so,
/// and takes the bounds check off the switch path.
#[inline(always)]
fn index(level: Level) -> usize {
    debug_assert!((level as usize) < LEVELS);
    level as usize & (LEVELS - 1)
}

const _: () = assert!(LEVELS.is_power_of_two() && LEVELS <= 64, "the bitmap has a bit per level");

pub struct ReadyQueue<A: Adapter> {
    levels: [List<A>; LEVELS],
    bitmap: u64,
}

impl<A: Adapter> ReadyQueue<A> {
    pub const fn new() -> Self {
        Self { levels: [const { List::new() }; LEVELS], bitmap: 0 }
    }

    /// The most urgent level with a ready task.
    #[inline]
    pub fn most_urgent_level(&self) -> Option<Level> {
        (self.bitmap != 0).then(|| self.bitmap.trailing_zeros() as Level)
    }

    /// Is any task at `level` or more urgent ready?
    #[inline]
    pub fn has_ready_at_or_above(&self, level: Level) -> bool {
        self.bitmap & (u64::MAX >> (63 - level)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bitmap == 0
    }

    /// Queues `item` behind the others at `level`.
    ///
    /// # Safety
    /// As for [`List::push_back`].
    #[inline]
    pub unsafe fn push_back(&mut self, level: Level, item: NonNull<A::Item>) {
        // SAFETY: forwarded from our caller.
        unsafe { self.levels[index(level)].push_back(item) };
        self.bitmap |= 1 << level;
    }

    /// Queues `item` in front of the others at `level` (a task preempted
    /// before its slice ended keeps its turn).
    ///
    /// # Safety
    /// As for [`List::push_back`].
    #[inline]
    pub unsafe fn push_front(&mut self, level: Level, item: NonNull<A::Item>) {
        // SAFETY: forwarded from our caller.
        unsafe { self.levels[index(level)].push_front(item) };
        self.bitmap |= 1 << level;
    }

    /// Takes the most urgent ready task off the queue.
    #[inline]
    pub fn pop_most_urgent(&mut self) -> Option<NonNull<A::Item>> {
        let level = self.most_urgent_level()?;
        let list = &mut self.levels[level as usize];
        // A level's bit is set only while its list holds a task: told to
        // the compiler, which then tests no empty list before the pop.
        debug_assert!(list.front().is_some(), "level {level} marked ready with an empty list");
        // SAFETY: as just said.
        unsafe { core::hint::assert_unchecked(list.front().is_some()) };
        let item = list.pop_front();
        if list.is_empty() {
            // `level` is the lowest bit set: cleared as such, in two
            // instructions (no mask of the level built first).
            self.bitmap &= self.bitmap - 1;
        }
        // SAFETY: as above, the list at the lowest bit set is not empty.
        Some(unsafe { item.unwrap_unchecked() })
    }

    /// A yield's turn, in one step: if the most urgent ready tasks are at
    /// `level`, queues `item` behind them and takes the first one off
    /// (`None`, and nothing queued, otherwise). The bitmap does not change:
    /// `level` has a task before and after.
    ///
    /// # Safety
    /// As for [`ReadyQueue::push_back`].
    #[inline]
    pub unsafe fn pass_turn(&mut self, level: Level, item: NonNull<A::Item>) -> Option<NonNull<A::Item>> {
        // `level` is the most urgent level with a task (an empty bitmap
        // has 64 trailing zeros).
        if self.bitmap.trailing_zeros() != level as u32 {
            return None;
        }
        // SAFETY: `level`'s bit is set, so its list is not empty; the rest
        // is forwarded from our caller.
        Some(unsafe { self.levels[index(level)].rotate(item) })
    }

    /// Takes `item` off `level` (its priority is changing).
    ///
    /// # Safety
    /// `item` is queued at `level`.
    #[inline]
    pub unsafe fn remove(&mut self, level: Level, item: NonNull<A::Item>) {
        let list = &mut self.levels[level as usize];
        // SAFETY: promised by our caller.
        unsafe { list.remove(item) };
        if list.is_empty() {
            self.bitmap &= !(1 << level);
        }
    }
}

impl<A: Adapter> Default for ReadyQueue<A> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::list::tests::{nodes, ByLinks};
    use super::*;

    #[test]
    fn most_urgent_first_fifo_within_a_level() {
        let n = nodes(&[0, 1, 2, 3]);
        let mut q = ReadyQueue::<ByLinks>::new();
        assert_eq!(q.pop_most_urgent(), None);
        // SAFETY: leaked nodes, each queued once.
        unsafe {
            q.push_back(40, n[0]);
            q.push_back(5, n[1]);
            q.push_back(40, n[2]);
            q.push_back(5, n[3]);
        }
        assert_eq!(q.most_urgent_level(), Some(5));
        assert!(q.has_ready_at_or_above(5) && !q.has_ready_at_or_above(4));
        assert_eq!(q.pop_most_urgent(), Some(n[1]));
        assert_eq!(q.pop_most_urgent(), Some(n[3]));
        assert_eq!(q.most_urgent_level(), Some(40));
        assert_eq!(q.pop_most_urgent(), Some(n[0]));
        assert_eq!(q.pop_most_urgent(), Some(n[2]));
        assert!(q.is_empty());
    }

    #[test]
    fn pass_turn_only_among_the_most_urgent() {
        let n = nodes(&[0, 1, 2, 3]);
        let mut q = ReadyQueue::<ByLinks>::new();
        // SAFETY: leaked nodes; each is queued at most once.
        unsafe {
            // Nobody ready: no turn to pass, nothing queued.
            assert_eq!(q.pass_turn(7, n[0]), None);
            assert!(q.is_empty());
            // Only less urgent tasks ready: none either.
            q.push_back(9, n[1]);
            assert_eq!(q.pass_turn(7, n[0]), None);
            assert_eq!(q.most_urgent_level(), Some(9));
            // An equal one ready: it runs, n[0] waits behind the others.
            q.push_back(7, n[2]);
            assert_eq!(q.pass_turn(7, n[0]), Some(n[2]));
            assert_eq!(q.most_urgent_level(), Some(7));
            // A more urgent one ready: the caller must pick it instead.
            q.push_back(0, n[3]);
            assert_eq!(q.pass_turn(7, n[2]), None);
            assert_eq!(q.pop_most_urgent(), Some(n[3]));
            assert_eq!(q.pop_most_urgent(), Some(n[0]));
            assert_eq!(q.pop_most_urgent(), Some(n[1]));
            assert!(q.is_empty());
            // The edges of the bitmap: levels 0 and 63.
            q.push_back(63, n[1]);
            assert_eq!(q.pass_turn(63, n[0]), Some(n[1]));
            q.push_back(0, n[2]);
            assert_eq!(q.pass_turn(0, n[3]), Some(n[2]));
            assert_eq!(q.pop_most_urgent(), Some(n[3]));
            assert_eq!(q.pop_most_urgent(), Some(n[0]));
        }
        assert!(q.is_empty());
    }

    #[test]
    fn push_front_and_remove_keep_the_bitmap_right() {
        let n = nodes(&[0, 1, 2]);
        let mut q = ReadyQueue::<ByLinks>::new();
        // SAFETY: leaked nodes, each queued once; removed only while queued.
        unsafe {
            q.push_back(63, n[0]);
            q.push_back(10, n[1]);
            q.push_front(10, n[2]);
            q.remove(10, n[1]);
        }
        assert_eq!(q.pop_most_urgent(), Some(n[2]));
        assert_eq!(q.most_urgent_level(), Some(63));
        // SAFETY: n[0] is queued at 63.
        unsafe { q.remove(63, n[0]) };
        assert!(q.is_empty());
        assert!(!q.has_ready_at_or_above(63));
    }

    #[test]
    fn the_cost_does_not_depend_on_how_many_are_ready() {
        // Not a timing test: the operations touch one list and the bitmap only,
        // so 10,000 tasks on one level behave exactly like 2.
        let many = nodes(&[7; 10_000]);
        let mut q = ReadyQueue::<ByLinks>::new();
        for &x in &many {
            // SAFETY: leaked nodes, each queued once.
            unsafe { q.push_back(33, x) };
        }
        for &x in &many {
            assert_eq!(q.pop_most_urgent(), Some(x));
        }
        assert!(q.is_empty());
    }
}
