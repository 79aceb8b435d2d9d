//! The lock behind [`super::Mutex`]: a word holding the owner (or 0) and
//! two flags, the owner's list of held mutexes, the contended paths (spin
//! while the owner runs, then block), the hand-over to the most urgent
//! waiter, and priority inheritance along a chain of owners (see the
//! module documentation of [`super`]).

use crate::critical::CriticalSection;
use crate::sched::held::{HeldLocks, MAX_HELD};
use crate::sched::scheduler::{self, running_task_address};
use crate::sched::tcb::{State, Tcb, WakeReason};
use crate::sched::wait_queue::WaitQueue;
use crate::time::Duration;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Set in the lock word when tasks wait: `unlock` must take the slow path.
const HAS_WAITERS: usize = 1;
/// Set in the lock word by `unlock` as it hands the mutex to a waiter, which
/// clears it once it runs again: spinners know the new owner is on its way.
const HANDED_OVER: usize = 2;
/// The lock word's flags; the rest is the owner's address (a task control
/// block, aligned to 8 bytes, so these bits are free).
const FLAGS: usize = HAS_WAITERS | HANDED_OVER;
const _: () = assert!(core::mem::align_of::<Tcb>() > FLAGS);
/// How long a contended `lock` spins, at most, before it blocks (see
/// [`RawMutex::spin_while_owner_runs`]): several times a cross-core wake on
/// the Pis, so a spinner outlasts a hand-over.
const SPIN_LIMIT: Duration = Duration::from_micros(500);
/// Longest chain of owners priority inheritance (and deadlock detection) follows.
pub(super) const MAX_INHERITANCE_CHAIN: usize = 16;
/// Set in a waiter's `waiting_for_mutex` when its wait has no deadline (a
/// `RawMutex` is aligned to 8: the bit is free). Deadlock detection reads it.
const WAITS_FOREVER: usize = 1;
const _: () = assert!(core::mem::align_of::<RawMutex>() > WAITS_FOREVER);

/// The mutex `t` waits for, if any, and whether it waits with no deadline.
pub(super) fn waited_for(t: &Tcb) -> Option<(*const RawMutex, bool)> {
    let word = t.waiting_for_mutex.get() as usize;
    let mutex = (word & !WAITS_FOREVER) as *const RawMutex;
    (!mutex.is_null()).then_some((mutex, word & WAITS_FOREVER != 0))
}

/// `repr(C)`, the lock word first (and a [`Mutex`](super::Mutex)'s `RawMutex` first in
/// it): a freed heap block keeps its free-list link in its first word, so
/// the old place of a mutex moved out of the heap fails `holds_in_place`
/// even before the block is reused.
#[repr(C)]
pub(crate) struct RawMutex {
    pub(super) owner: AtomicUsize,
    /// Where it was locked (its address then) while locked, null while
    /// not: its holder's list names that place. A locked mutex moved (its
    /// guard forgotten) keeps the old place here. Atomic: a waiter on
    /// another core reads it (relaxed: plain loads and stores).
    home: AtomicPtr<RawMutex>,
    waiters: WaitQueue,
    /// The cores the waiter last handed the mutex to may run on: a spinner
    /// on one of them may be what keeps it from running, so it does not spin.
    handed_to_cpus: AtomicU64,
    pub(super) poisoned: AtomicBool,
}

/// A mutex dropped while locked (its guard was forgotten, `mem::forget`)
/// comes off its owner's list of held mutexes (by the place it was locked
/// at, `home`: it may have been moved since), which would otherwise lead
/// the owner's later unlocks and its end into freed memory. No task waits
/// on it: a waiter would still be borrowing it. Only its owner may do
/// that: another task's list changes on the owner's fast paths, unmasked,
/// on any core, so a task dropping a mutex another one holds fails there
/// (a panic, which leaks the mutex's memory and so keeps the list sound).
impl Drop for RawMutex {
    fn drop(&mut self) {
        let Some(owner) = tcb_of_or_none(*self.owner.get_mut()) else { return };
        if owner.as_ptr() as usize != running_task_address() {
            held_by_another_task();
        }
        // Masked: no switch while the list is changed.
        let _masked = CriticalSection::new();
        // Where it was locked: here, or where it was before a move.
        let place = *self.home.get_mut();
        // SAFETY: the owner is the running task, alive, and the mutex is on its list.
        unsafe { self.pop_held_from(owner.as_ptr(), place) };
    }
}

#[cold]
#[inline(never)]
fn held_by_another_task() -> ! {
    panic!("a Mutex was dropped while another task holds it (its guard forgotten): only the holder may drop it")
}

/// A `Mutex` belongs to tasks; an interrupt handler has none of its own
/// (it runs on the task it interrupted, which the mutex would record as
/// its owner). `lock_until` refuses a handler that would have to wait;
/// with the lock checks on (see `critical`), every `lock`, `try_lock` and
/// `lock_timeout` in a handler is refused at once, free or not, so the
/// misuse shows on the first run, not on the one where the mutex is held.
#[inline(always)]
fn refuse_in_handler() {
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    assert!(!crate::arch::cpu::in_exception_handler(), "a Mutex was locked (lock, try_lock or lock_timeout) in an interrupt handler: a Mutex belongs to tasks; share data with a handler through a SpinLock");
}

/// A `lock` with no room left on the task's list of held mutexes.
#[cold]
#[inline(never)]
fn too_many_held() -> ! {
    panic!("Mutex::lock: this task holds {MAX_HELD} mutexes already, the most a task may hold at once")
}

/// A `lock` of a mutex moved while locked (its guard forgotten): it can
/// never be unlocked, and its holder may have ended.
#[cold]
#[inline(never)]
fn moved_while_locked() -> ! {
    panic!("Mutex::lock: this mutex was moved while locked (its guard forgotten): it can never be unlocked")
}

fn tcb_of(owner_word: usize) -> NonNull<Tcb> {
    tcb_of_or_none(owner_word).expect("mutex has no owner")
}

fn tcb_of_or_none(owner_word: usize) -> Option<NonNull<Tcb>> {
    NonNull::new((owner_word & !FLAGS) as *mut Tcb)
}

impl RawMutex {
    /// The task that owns `mutex`, if it is locked.
    pub(super) fn owner_of(mutex: &RawMutex) -> Option<NonNull<Tcb>> {
        tcb_of_or_none(mutex.owner.load(Ordering::Relaxed))
    }

    pub(super) const fn new() -> Self {
        Self {
            owner: AtomicUsize::new(0),
            waiters: WaitQueue::with_timeout_hook(withdraw_waiter),
            poisoned: AtomicBool::new(false),
            handed_to_cpus: AtomicU64::new(0),
            home: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Was it moved while locked (see the module doc)? Null: not locked,
    /// or its holder has not recorded it yet (it has just taken it, here).
    fn moved_while_locked(&self) -> bool {
        let home = self.home.load(Ordering::Relaxed);
        !home.is_null() && !core::ptr::eq(home, self)
    }

    /// Is this place's mutex locked by `owner`, and was it locked here?
    /// For an entry of `owner`'s list, whose mutex may have moved away
    /// (its guard forgotten): then the place holds something else now.
    ///
    /// # Safety
    /// `place` is an entry of `owner`'s list: a mutex was there (in the
    /// owner's own stack, the heap or a static), so the memory is mapped.
    unsafe fn holds_in_place(place: *const RawMutex, owner: &Tcb) -> bool {
        // SAFETY: mapped (our caller's promise); read as what a mutex there
        // would hold, and trusted only if both words say so.
        let (home, word) = unsafe {
            (
                core::ptr::read_volatile(core::ptr::addr_of!((*place).home) as *const *const RawMutex),
                core::ptr::read_volatile(core::ptr::addr_of!((*place).owner) as *const usize),
            )
        };
        home == place && tcb_of_or_none(word) == Some(NonNull::from(owner))
    }

    #[inline]
    pub(super) fn try_lock(&self) -> bool {
        refuse_in_handler();
        let me = running_task_address();
        // SAFETY: the running task is alive.
        let held = &unsafe { &*(me as *const Tcb) }.held_mutexes;
        // Room first: a lock taken could not be recorded.
        let len = held.len();
        if HeldLocks::is_full_at(len) {
            too_many_held();
        }
        let won = self.owner.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok();
        if won {
            let here = self as *const RawMutex;
            self.home.store(here as *mut RawMutex, Ordering::Relaxed);
            // SAFETY: the count read above (only this task changes it), not full.
            unsafe { held.push_at(len, here as *const ()) };
        }
        won
    }

    #[inline]
    pub(super) fn lock(&self) {
        if !self.try_lock() {
            self.lock_contended();
        }
    }

    #[inline]
    pub(super) fn unlock(&self) {
        let me = running_task_address();
        // SAFETY: the running task owns the mutex (it holds the guard).
        unsafe { self.pop_held(me as *const Tcb) };
        if self.owner.compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_contended();
        }
    }

    /// Unlocks without rescheduling, for the running task `me`, its holder
    /// (`Condvar::wait`, which then blocks on the condition instead).
    pub(super) fn unlock_for_wait(&self, masked: &CriticalSection, me: &Tcb) {
        // SAFETY: `me` owns the mutex (its caller had the guard).
        unsafe { self.pop_held(me) };
        if self.owner.compare_exchange(me as *const Tcb as usize, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.hand_over(masked);
            recompute_level(masked, me);
        }
    }

    /// `unlock` when tasks wait: out of line, so that the fast path inlines.
    #[inline(never)]
    fn unlock_contended(&self) {
        let masked = CriticalSection::new();
        self.hand_over(&masked);
        recompute_level(&masked, scheduler::running(&masked));
        scheduler::reschedule_point(&masked);
    }

    /// Adds this mutex to `owner`'s list of held mutexes, and records
    /// where it is (`home`).
    ///
    /// # Safety
    /// `owner` is alive, owns the mutex and has room on its list (the
    /// `try_lock` before any way of taking it checked); only it (or the OS
    /// with interrupts masked, while it does not run) touches the list.
    #[inline(always)]
    unsafe fn push_held(&self, owner: *const Tcb) {
        // SAFETY: promised by our caller.
        let owner = unsafe { &*owner };
        let here = self as *const RawMutex;
        self.home.store(here as *mut RawMutex, Ordering::Relaxed);
        owner.held_mutexes.push(here as *const ());
    }

    /// Takes this mutex, locked here, off `owner`'s list (an unlock: a
    /// mutex with a guard cannot have moved).
    ///
    /// # Safety
    /// As for [`RawMutex::push_held`]; the mutex is on the list.
    #[inline(always)]
    pub(super) unsafe fn pop_held(&self, owner: *const Tcb) {
        // SAFETY: promised by our caller.
        unsafe { self.pop_held_from(owner, self) }
    }

    /// Takes the entry for `place`, where this mutex was locked, off
    /// `owner`'s list.
    ///
    /// # Safety
    /// As for [`RawMutex::pop_held`].
    #[inline(always)]
    unsafe fn pop_held_from(&self, owner: *const Tcb, place: *const RawMutex) {
        // SAFETY: promised by our caller.
        let owner = unsafe { &*owner };
        self.home.store(core::ptr::null_mut(), Ordering::Relaxed);
        owner.held_mutexes.remove(place as *const ());
    }

    #[cold]
    fn lock_contended(&self) {
        if !self.spin_while_owner_runs(None) {
            self.lock_until(None);
        }
    }

    /// Adaptive spinning: while the owner runs on another core, it will
    /// likely unlock soon, sooner than this task could block, be woken by
    /// an interrupt and be switched back in; so wait for that by watching
    /// the lock word, for [`SPIN_LIMIT`] at most (or until `deadline`).
    /// Also while the mutex has just been handed to a waiter that has not
    /// run yet, and cannot run on this core (where the spinner might be
    /// what keeps it waiting): it is on its way, and blocking now would
    /// queue behind it (a *convoy*: every later `unlock` a hand-over to a
    /// sleeping task).
    /// `true` if the mutex came free and is ours; `false`: block instead.
    ///
    /// Never on one core (the owner cannot be running while we are), and
    /// never with the owner asleep or preempted. A spinner lends the owner
    /// no urgency (an owner on a core needs none to run), and the most
    /// urgent of the blocked waiters still gets the mutex first at
    /// `unlock`; a spin lasts at most [`SPIN_LIMIT`], then the task blocks
    /// and priority inheritance works as always. Interrupts stay enabled,
    /// so a more urgent task for this core preempts a preemptive spinner.
    pub(super) fn spin_while_owner_runs(&self, deadline: Option<u64>) -> bool {
        if !crate::critical::several_cores() {
            return false;
        }
        let now = crate::arch::cpu::counter();
        let limit = now.saturating_add(crate::time::duration_to_ticks(SPIN_LIMIT, crate::time::frequency()));
        let limit = deadline.map_or(limit, |d| d.min(limit));
        let me = running_task_address();
        loop {
            let word = self.owner.load(Ordering::Relaxed);
            if word == 0 {
                if self.owner.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    // SAFETY: we are the running task and now own the mutex.
                    unsafe { self.push_held(me as *const Tcb) };
                    return true;
                }
                continue;
            }
            let owner = word & !FLAGS;
            let on_its_way = word & HANDED_OVER != 0
                && self.handed_to_cpus.load(Ordering::Relaxed) & (1 << crate::percpu::cpu_index()) == 0;
            if owner == me || !(on_its_way || crate::percpu::runs_on_a_core(owner)) {
                return false;
            }
            if crate::arch::cpu::counter() >= limit {
                return false;
            }
            crate::arch::cpu::spin_hint();
        }
    }

    /// Waits for the mutex until the counter reaches `deadline` (`None`:
    /// forever); `false` if it did not come by then.
    pub(super) fn lock_until(&self, deadline: Option<u64>) -> bool {
        let masked = CriticalSection::new();
        assert!(!crate::arch::cpu::in_exception_handler(), "a Mutex was locked (lock, try_lock or lock_timeout) in an interrupt handler: a Mutex belongs to tasks; share data with a handler through a SpinLock");
        let me_task = scheduler::running(&masked);
        let me = NonNull::from(me_task);
        let mut first = true;
        loop {
            let word = self.owner.load(Ordering::Relaxed);
            if word == 0 {
                if self.owner.compare_exchange(0, me.as_ptr() as usize, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    // SAFETY: we own it now.
                    unsafe { self.push_held(me.as_ptr()) };
                    return true;
                }
                continue;
            }
            if first && self.moved_while_locked() {
                // Its holder may have ended: nothing of it is looked at.
                drop(masked);
                moved_while_locked();
            }
            if tcb_of(word) == me && first {
                // Our own mutex: it cannot come free while we wait for it.
                drop(masked);
                let deadline = deadline.expect("Mutex::lock: this task holds the mutex already (a deadlock)");
                crate::time::sleep_until(crate::time::Instant::from_ticks(deadline));
                return false;
            }
            first = false;
            if tcb_of(word) == me {
                // Handed over to us by `unlock` (we waited): we run, spinners may stop.
                if word & HANDED_OVER != 0 {
                    self.owner.fetch_and(!HANDED_OVER, Ordering::Relaxed);
                }
                return true;
            }
            // The owner may unlock on another core at this moment, on its fast
            // path (which only works while this bit is clear): set the bit
            // only on the word just read, or look again.
            if word & HAS_WAITERS == 0
                && self.owner.compare_exchange(word, word | HAS_WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            let forever = deadline.is_none_or(|d| d == u64::MAX);
            if forever {
                if let Some(cycle) = super::deadlock::cycle_closed_by(&masked, me_task, tcb_of(word)) {
                    drop(masked);
                    panic!("Mutex::lock: {cycle}");
                }
            }
            let waits = self as *const RawMutex as usize | if forever { WAITS_FOREVER } else { 0 };
            me_task.waiting_for_mutex.set(waits as *const ());
            // SAFETY: the owner is alive while it owns the mutex.
            unsafe { inherit(&masked, me_task.level.get(), tcb_of(word)) };
            let reason = self.waiters.wait(&masked, deadline, crate::trace::On::MUTEX);
            me_task.waiting_for_mutex.set(core::ptr::null());
            if reason == WakeReason::TimedOut && tcb_of_or_none(self.owner.load(Ordering::Relaxed)) != Some(me) {
                // Usually done already, by the timer as it woke us (`withdraw_waiter`).
                self.give_up_waiting(&masked);
                return false;
            }
        }
    }

    /// A waiter gave up (it is off the queue already): the lock word loses
    /// its waiters bit if none are left, and the owners it lent its urgency
    /// to drop back to what their remaining waiters justify. Harmless twice.
    ///
    /// An owner running on another core is left alone: it may be taking and
    /// releasing other mutexes there on their fast paths, changing the list
    /// `recompute_level` walks. The waiters bit stays set instead, so its
    /// unlock of this mutex takes the slow path, which recomputes its level.
    fn give_up_waiting(&self, masked: &CriticalSection) {
        let here = crate::percpu::cpu_index() as u8;
        let runs_elsewhere = |owner: NonNull<Tcb>| {
            // SAFETY: owners of locked mutexes are alive.
            let o = unsafe { owner.as_ref() };
            o.state.get() == State::Running && o.cpu.get() != here
        };
        let word = self.owner.load(Ordering::Relaxed);
        if !self.waiters.has_waiters(masked) && !tcb_of_or_none(word).is_some_and(runs_elsewhere) {
            self.owner.fetch_and(!HAS_WAITERS, Ordering::Relaxed);
        }
        let mut mutex = self as *const RawMutex;
        for _ in 0..MAX_INHERITANCE_CHAIN {
            // SAFETY: `self` is alive (we are in its method); further along
            // the chain, a mutex a task waits for is locked, so alive.
            let word = unsafe { &*mutex }.owner.load(Ordering::Relaxed);
            let Some(owner) = tcb_of_or_none(word) else { return };
            if runs_elsewhere(owner) {
                return;
            }
            // SAFETY: owners of locked mutexes are alive.
            let owner = unsafe { owner.as_ref() };
            recompute_level(masked, owner);
            let Some((waits_for, _)) = waited_for(owner) else { return };
            mutex = waits_for;
        }
    }

    /// Passes the mutex to its most urgent waiter, or frees it.
    #[inline]
    pub(super) fn hand_over(&self, masked: &CriticalSection) {
        match self.waiters.wake_one(masked) {
            Some(next) => {
                let more = if self.waiters.has_waiters(masked) { HAS_WAITERS } else { 0 };
                // Only spinners (several cores) look for the new owner on its way.
                let handed = if crate::critical::several_cores() {
                    // SAFETY: `next` is alive (just woken).
                    self.handed_to_cpus.store(unsafe { next.as_ref() }.cpus, Ordering::Relaxed);
                    HANDED_OVER
                } else {
                    0
                };
                self.owner.store(next.as_ptr() as usize | handed | more, Ordering::Release);
                // SAFETY: `next` now owns the mutex and is alive (just woken).
                unsafe {
                    self.push_held(next.as_ptr());
                    recompute_level(masked, next.as_ref());
                }
            }
            None => self.owner.store(0, Ordering::Release),
        }
    }
}

/// Raises `owner` (and the owners it waits for, in turn) to `level`.
///
/// # Safety
/// `owner` is alive.
unsafe fn inherit(masked: &CriticalSection, level: u8, mut owner: NonNull<Tcb>) {
    for _ in 0..MAX_INHERITANCE_CHAIN {
        // SAFETY: owners of locked mutexes are alive.
        let o = unsafe { owner.as_ref() };
        if o.level.get() <= level {
            return;
        }
        // SAFETY: as above.
        unsafe { scheduler::set_level(masked, owner, level) };
        let Some((waits_for, _)) = waited_for(o) else { return };
        // SAFETY: a mutex a task waits for is locked, so alive.
        let word = unsafe { &*waits_for }.owner.load(Ordering::Relaxed);
        if word == 0 {
            return;
        }
        owner = tcb_of(word);
    }
}

/// Sets `t`'s level to the most urgent of its own and its mutexes' waiters'.
#[inline]
fn recompute_level(masked: &CriticalSection, t: &Tcb) {
    let mut level = t.base_level.get();
    for &m in t.held_mutexes.as_slice() {
        let m = m as *const RawMutex;
        // SAFETY: an entry of `t`'s list; one moved away is skipped (no task
        // waits for it: a waiter would be borrowing it, and it could not have moved).
        if !unsafe { RawMutex::holds_in_place(m, t) } {
            continue;
        }
        // SAFETY: locked by `t`, in place, so alive.
        let mutex = unsafe { &*m };
        if let Some(w) = mutex.waiters.first(masked) {
            // SAFETY: waiters are alive.
            level = level.min(unsafe { w.as_ref() }.level.get());
        }
    }
    // SAFETY: `t` is a live task (we borrow it).
    unsafe { scheduler::set_level(masked, NonNull::from(t), level) };
}

/// Every mutex's wait queue timeout hook: the timer, as it wakes `task`
/// from a timed-out wait (off the queue already), calls it, and the loan of
/// urgency ends now, so that the task can run before the owner it had
/// raised to its own level.
fn withdraw_waiter(masked: &CriticalSection, task: &Tcb) {
    let waited = waited_for(task);
    task.waiting_for_mutex.set(core::ptr::null());
    if let Some((mutex, _)) = waited {
        // SAFETY: a mutex a task waits for is alive (its waiter holds a reference).
        unsafe { &*mutex }.give_up_waiting(masked);
    }
}

/// Releases every mutex the running task holds (it is ending), poisoning
/// them if it failed.
pub(crate) fn release_all_held(masked: &CriticalSection, poison: bool) {
    let t = scheduler::running(masked);
    while let Some(m) = t.held_mutexes.pop() {
        let m = m as *const RawMutex;
        // SAFETY: an entry of `t`'s list. A mutex moved away (its guard
        // forgotten) left something else there: not ours, untouched.
        if !unsafe { RawMutex::holds_in_place(m, t) } {
            continue;
        }
        // SAFETY: locked by `t`, in place, so alive.
        let mutex = unsafe { &*m };
        mutex.home.store(core::ptr::null_mut(), Ordering::Relaxed);
        if poison {
            mutex.poisoned.store(true, Ordering::Relaxed);
        }
        mutex.hand_over(masked);
    }
    t.level.set(t.base_level.get());
}
