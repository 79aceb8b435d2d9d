//! The locks a task holds: a small stack of their addresses, kept in the
//! task's control block ([`HeldLocks`]).
//!
//! The blocking mutex (`sync::mutex`) records here each mutex a task
//! takes, so that the task's end can release them and priority inheritance
//! can find their waiters. The addresses live here, not in the mutexes: a
//! locked mutex whose guard was forgotten (`mem::forget`, safe code) may be
//! moved, and a list threaded through the mutexes then ran through its old
//! place, reused meanwhile, into whatever was written there. Here, an
//! entry whose place holds something else now is only an address to skip
//! (its owner checks what is there before using it). The scheduler
//! knows nothing of mutexes: entries are opaque pointers.
//!
//! Only the task itself changes its stack (on the mutex's fast paths,
//! interrupts unmasked), or the OS with interrupts masked while the task
//! is not running (a mutex handed to it as it waits).

use core::cell::{Cell, UnsafeCell};
use core::mem::MaybeUninit;

/// How many locks a task may hold at once: the 33rd `lock` fails the task,
/// saying so. (The entries fill what the control block's heap block has to
/// spare: it costs no memory.)
pub const MAX_HELD: usize = 32;
const _: () = assert!(MAX_HELD.is_power_of_two());

/// A stack of at most [`MAX_HELD`] opaque pointers. Entries past `len` are
/// never read, so a new one costs one store (`len`), not [`MAX_HELD`].
/// `repr(C)`, the count first: the word before entry 0 is the count, so
/// the top entry is read without a test for an empty stack (it then reads
/// the count, 0, never a lock's address).
#[repr(C)]
pub struct HeldLocks {
    len: Cell<usize>,
    entries: UnsafeCell<[MaybeUninit<*const ()>; MAX_HELD]>,
}

impl HeldLocks {
    pub const fn new() -> Self {
        Self { len: Cell::new(0), entries: UnsafeCell::new([MaybeUninit::uninit(); MAX_HELD]) }
    }

    /// The word `len` words into the block: entry `len - 1`, or the count
    /// itself for `len` 0.
    #[inline(always)]
    fn word_before(&self, len: usize) -> *const () {
        debug_assert!(len <= MAX_HELD);
        // SAFETY: `repr(C)`: the count, then the entries, words without
        // padding; `len` is at most `MAX_HELD`, so the word is in the block,
        // and it was written (the count, or an entry below `len`).
        unsafe { (self as *const Self as *const *const ()).add(len).read() }
    }

    /// How many are held.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.get()
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No room for one more, if the count is `len` (what [`Self::len`]
    /// returns: at most [`MAX_HELD`], a power of two, so one bit says it).
    #[inline(always)]
    pub fn is_full_at(len: usize) -> bool {
        len & MAX_HELD != 0
    }

    /// The entries, bottom first.
    #[inline(always)]
    pub fn as_slice(&self) -> &[*const ()] {
        let len = self.len().min(MAX_HELD);
        // SAFETY: entries below `len` were written (by `push`, or moved
        // down by `remove`); `MaybeUninit<T>` has `T`'s layout. Not changed
        // while the slice is borrowed: the holder changes its own stack, and
        // looks at it, one call at a time.
        unsafe { core::slice::from_raw_parts(self.entries.get() as *const *const (), len) }
    }

    /// Entry `i` (below [`Self::len`]).
    #[inline(always)]
    pub fn get(&self, i: usize) -> *const () {
        self.as_slice()[i]
    }

    /// Adds `lock` on top. A full stack is left as it is (debug builds
    /// assert): the caller checks [`Self::is_full_at`] before it takes the lock.
    #[inline(always)]
    pub fn push(&self, lock: *const ()) {
        let len = self.len();
        debug_assert!(!Self::is_full_at(len), "room checked before the lock was taken");
        if self.write_entry(len, lock) {
            self.len.set(len + 1);
        }
    }

    /// [`Self::push`] for a caller that has read the count already, before
    /// taking the lock.
    ///
    /// # Safety
    /// `len` is [`Self::len`], and the stack is not full ([`Self::is_full_at`]).
    #[inline(always)]
    pub unsafe fn push_at(&self, len: usize, lock: *const ()) {
        debug_assert!(len == self.len() && len < MAX_HELD);
        // SAFETY: `len` is below `MAX_HELD` (our caller's promise): in the array.
        unsafe { (self.entries.get() as *mut *const ()).add(len).write(lock) };
        self.len.set(len + 1);
    }

    /// Takes one entry equal to `lock` (never null) off: the top one,
    /// usually (locks nest), else the top entry moves into its place;
    /// `false` if none is.
    #[inline(always)]
    pub fn remove(&self, lock: *const ()) -> bool {
        let len = self.len();
        if self.word_before(len) == lock {
            self.len.set(len - 1);
            return true;
        }
        self.remove_below_top(lock)
    }

    /// [`Self::remove`] for an entry under the top one (out of line: rare).
    #[inline(never)]
    fn remove_below_top(&self, lock: *const ()) -> bool {
        let len = self.len();
        let Some(i) = self.as_slice().iter().rposition(|&e| e == lock) else { return false };
        let top = self.get(len - 1);
        self.write_entry(i, top);
        self.len.set(len - 1);
        true
    }

    /// Takes the top entry off.
    pub fn pop(&self) -> Option<*const ()> {
        let len = self.len().checked_sub(1)?;
        let top = self.get(len);
        self.len.set(len);
        Some(top)
    }

    /// Writes entry `i`; `false` (nothing written) past the end.
    #[inline(always)]
    fn write_entry(&self, i: usize, lock: *const ()) -> bool {
        if i >= MAX_HELD {
            return false;
        }
        // SAFETY: in the array; only the holder's own calls (or the OS's,
        // masked, while it does not run) reach the entries, one at a time,
        // and no reference to them is kept.
        unsafe { (self.entries.get() as *mut *const ()).add(i).write(lock) };
        true
    }
}

impl Default for HeldLocks {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: usize) -> *const () {
        (n * 8) as *const ()
    }

    #[test]
    fn nested_locks_come_off_the_top() {
        let held = HeldLocks::new();
        assert!(held.is_empty() && held.pop().is_none());
        held.push(p(1));
        held.push(p(2));
        assert!(held.remove(p(2)) && held.remove(p(1)));
        assert!(held.is_empty());
        assert!(!held.remove(p(1)), "not held");
    }

    #[test]
    fn a_lock_released_out_of_order_leaves_the_others() {
        let held = HeldLocks::new();
        for n in 1..=4 {
            held.push(p(n));
        }
        assert!(held.remove(p(2)));
        let mut left: std::vec::Vec<_> = (0..held.len()).map(|i| held.get(i)).collect();
        left.sort();
        assert_eq!(left, [p(1), p(3), p(4)]);
        assert_eq!(held.pop(), Some(p(3)), "the top moved into the hole");
    }

    #[test]
    fn a_place_held_twice_comes_off_once() {
        let held = HeldLocks::new();
        held.push(p(7));
        held.push(p(7));
        assert!(held.remove(p(7)));
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn it_fills_up_at_max_held() {
        let held = HeldLocks::new();
        for n in 0..MAX_HELD {
            assert!(!HeldLocks::is_full_at(held.len()));
            held.push(p(n + 1));
        }
        assert!(HeldLocks::is_full_at(held.len()));
        assert_eq!(held.get(MAX_HELD - 1), p(MAX_HELD));
    }
}
