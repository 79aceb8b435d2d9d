//! [`SpinLock`]: a lock of its own for what does not need the kernel lock
//! (the heap, page tables, frame pool, interrupt controller, console),
//! masking interrupts while it is held; and the rules about what may run
//! while one is held, checked in the builds that check locks.

#[cfg(not(target_os = "none"))]
use super::holder_id;
use super::kernel_lock::several_cores;
#[cfg(any(debug_assertions, feature = "lock-checks"))]
use super::{checks, masking};
use super::{spin_hint, InterruptsMasked, TAKEN_AGAIN};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicUsize, Ordering};

/// A spin lock that masks interrupts while it is held. The name appears in
/// the checks' reports (see the module documentation).
///
/// Also for applications: a driver sharing data with its own interrupt
/// handler protects it with a `SpinLock`. Hold it briefly: never across a
/// yield, a sleep or a blocking call (the checks panic if you do).
///
/// Holding two: keep both guards in local variables, so they are released
/// in the reverse order of taking them and the first one taken restores
/// the interrupt mask last. (A guard made as a temporary in a block's last
/// expression outlives that block's locals; the checks catch the moment it
/// is held with interrupts unmasked again.)
///
/// Taking it again on the core that holds it (the same task, since the
/// holder cannot be switched away) panics in every build, naming the lock
/// or, without the checks, its address: see [`SpinLock::lock`].
pub struct SpinLock<T> {
    /// Kept only where something reports it (the checks, the statistics):
    /// without it, a lock over all-zero data is all zeros, and a static one
    /// starts in `.bss` instead of taking bytes of the image.
    #[cfg(any(debug_assertions, feature = "lock-checks", feature = "lock-stats"))]
    pub(super) name: &'static str,
    /// [`FREE`], or the [`lock_owner`] of the core that holds it.
    word: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only by the holder of the lock (through its
// guard) or, on the one-core path of `with_lock_if_shared`, by the only core running with
// interrupts masked: one context at a time, so sharing the lock between
// cores only ever moves the `T` from one to another.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// A [`SpinLock`]'s word when nobody holds it.
const FREE: usize = 0;

/// Who takes a [`SpinLock`], as its word records it: never [`FREE`]. On
/// the machine, MPIDR_EL1 whole (one `mrs`, where a lock word of `true`
/// took a `mov` of 1: the fast path is no longer); in unit tests, the
/// thread (which plays a core).
#[cfg(target_os = "none")]
#[inline(always)]
fn lock_owner() -> usize {
    crate::arch::cpu::core_id()
}
#[cfg(not(target_os = "none"))]
fn lock_owner() -> usize {
    holder_id() | 1
}

/// The core that holds the spin lock `name` (at `address`) asked for it
/// again: report it. (The checks, where built, named it before this.) One
/// function for every `SpinLock<T>`, which never returns: the places that
/// take a lock set up no frame for it on their fast path.
#[cold]
#[inline(never)]
fn taken_again(name: &str, address: *const ()) -> ! {
    match name {
        "" => panic!("spin lock at {address:p} {TAKEN_AGAIN}"),
        name => panic!("spin lock '{name}' {TAKEN_AGAIN}"),
    }
}

/// Holds a [`SpinLock`]: interrupts stay masked until it drops (its
/// `Drop` gives the lock back first, then this field restores them).
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    _masked: InterruptsMasked,
}

impl<T> SpinLock<T> {
    pub const fn new(name: &'static str, value: T) -> Self {
        #[cfg(not(any(debug_assertions, feature = "lock-checks", feature = "lock-stats")))]
        let _ = name;
        Self {
            #[cfg(any(debug_assertions, feature = "lock-checks", feature = "lock-stats"))]
            name,
            word: AtomicUsize::new(FREE),
            data: UnsafeCell::new(value),
        }
    }

    /// Masks interrupts, then takes the lock.
    ///
    /// The lock word records who holds it ([`lock_owner`]), so a core that
    /// finds it taken sees whether by itself: the holder asking again (its
    /// interrupts masked, nothing else runs on its core to give it back)
    /// would spin for ever, silently; it panics instead. Looked at only
    /// when the lock is found taken: the uncontended path costs nothing
    /// more.
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let masked = InterruptsMasked::new();
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        checks::acquiring(self.name, self.address(), self.is_locked());
        let me = lock_owner();
        // Acquire: what the previous holder wrote is seen here.
        while let Err(holder) = self.word.compare_exchange_weak(FREE, me, Ordering::Acquire, Ordering::Relaxed) {
            if holder == me {
                taken_again(self.name(), self.word.as_ptr() as *const ());
            }
            // Held by another core (or the attempt failed spuriously): wait
            // reading it, no writes, so the holder's cache line stays put;
            // `YIELD` also lets an emulator running the cores in turns run
            // the holder. Counted for `lock_stats`, here only.
            let mut spins = 0;
            while self.word.load(Ordering::Relaxed) != FREE {
                spins += 1;
                spin_hint();
            }
            crate::lock_stats::spun(self.name(), spins);
        }
        SpinLockGuard { lock: self, _masked: masked }
    }

    /// Is the lock held (by any core)? For the checks.
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    #[inline(always)]
    fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) != FREE
    }

    /// Runs `f` on the data, the lock held (as `f(&mut lock.lock())`): so
    /// `f` taking this lock again is caught as [`Self::lock`] catches it.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock())
    }

    /// Runs `f` on the data with interrupts masked on this core, taking the
    /// lock only if other cores may want it: while core 0 runs alone
    /// ([`several_cores`] false), masking is all it takes, as on a one-core
    /// machine, and the lock word is not touched (no atomic exchange to
    /// take it, no release store to give it back). For the heap's fast
    /// path, which every `Box` and `Vec` takes.
    ///
    /// Why that is safe: [`several_cores`] turns true (for good) on core 0,
    /// in [`use_kernel_lock`](super::use_kernel_lock), before core 0 starts any other core; the
    /// other cores are started by core 0 after that store, past the barrier
    /// that publishes their boot record. So while the flag reads false,
    /// this is core 0 and no other core has run a single instruction of the
    /// kernel. Core 0 cannot set the flag while `f` runs: `f` is code of
    /// the lock's data (the heap's lists), which never starts cores, and
    /// with interrupts masked nothing else runs on core 0 meanwhile. So the
    /// one-core path never overlaps a locked one on another core, and the
    /// lock (always taken on the slow paths) is free whenever this runs on
    /// one core: a holder there is this core with interrupts masked, in
    /// code that does not come back here. Builds with lock checks verify
    /// both: the one-core path panics on any core but core 0, or with the
    /// lock held.
    ///
    /// `f` must not take this lock again: on the one-core path nothing but
    /// the checks would catch it (two `&mut` to the data), so this is the
    /// kernel's alone, for code it knows (the heap's lists); the public
    /// [`Self::with`] always takes the lock.
    #[inline(always)]
    pub(crate) fn with_lock_if_shared<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // On the host (unit tests) each thread counts as a core: always locked.
        if !cfg!(target_os = "none") || several_cores() {
            return f(&mut self.lock());
        }
        let masked = InterruptsMasked::new();
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        self.check_alone();
        // SAFETY: one core runs and cannot be joined by another before `f`
        // returns, the lock is free, and interrupts are masked on this core
        // (see above): nothing else can reach the data until we return, so
        // this borrow is unique.
        let r = f(unsafe { &mut *self.data.get() });
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        checks::released(self.name, self.address());
        drop(masked);
        r
    }

    /// The checks of [`Self::with_lock_if_shared`]'s one-core path: this core is core 0
    /// (on the host, where each thread counts as a core, not checked), the
    /// lock is free, and this core is not inside this lock already.
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    #[cold]
    fn check_alone(&self) {
        #[cfg(target_os = "none")]
        if crate::percpu::cpu_index() != 0 {
            panic!("spin lock '{}' taken on the one-core path on core {}", self.name, crate::percpu::cpu_index());
        }
        if self.is_locked() {
            panic!("spin lock '{}' held while the one-core path takes it", self.name);
        }
        // As held (`true`): it panics if this core already has it.
        checks::acquiring(self.name, self.address(), true);
    }

    /// Which lock this is, for the checks: its address (names need not
    /// be unique: the locks of a table's entries may share one).
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    #[inline(always)]
    pub(super) fn address(&self) -> usize {
        self.word.as_ptr() as usize
    }

    /// The lock's name, as the checks report it ("" in builds that neither
    /// check locks nor count their spins: there it is not kept).
    pub fn name(&self) -> &'static str {
        #[cfg(any(debug_assertions, feature = "lock-checks", feature = "lock-stats"))]
        return self.name;
        #[cfg(not(any(debug_assertions, feature = "lock-checks", feature = "lock-stats")))]
        ""
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock: no other reference to the data
        // exists while it lives.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow the only one.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        checks::released(self.lock.name, self.lock.address());
        // Release: what the holder wrote is seen by the next one.
        self.lock.word.store(FREE, Ordering::Release);
    }
}

/// `once.call_once(init)`, not preemptible while `init` runs: interrupts
/// are masked on this core from before `once` is marked as being
/// initialised until it is marked done. A `spin::Once` being initialised
/// makes every other caller spin until it is done; a task preempted in
/// between, by a more urgent task that calls it too, would never get its
/// core back to finish, and the more urgent one would spin for ever (on one
/// core, or when the other cores are taken: a hang). Masked, the
/// initialising task cannot be switched away: the others spin only while
/// it finishes. So `init` must be short and never block or yield (as with
/// a spin lock). Done already, it is one load, interrupts untouched.
#[inline]
pub(crate) fn call_once_unpreempted<T>(once: &spin::Once<T>, init: impl FnOnce() -> T) -> &T {
    if let Some(value) = once.get() {
        return value;
    }
    let _masked = InterruptsMasked::new();
    once.call_once(init)
}

/// Checks, in builds with the lock checks, that what runs here cannot be
/// switched away (interrupts are masked): for an initialiser that
/// [`call_once_unpreempted`] must run (`what` names it in the report).
#[inline(always)]
pub(crate) fn assert_unpreemptible(what: &str) {
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    if masking::interrupts_enabled() {
        panic!("{what} with interrupts enabled: a more urgent task could spin for ever on its spin::Once");
    }
    let _ = what;
}

/// Checks that no spin lock is held here: called at every context switch
/// (`what` = "a context switch") and when an interrupt arrives.
#[inline]
pub fn assert_no_spin_lock_held(what: &str) {
    #[cfg(any(debug_assertions, feature = "lock-checks"))]
    checks::assert_none_held(what);
    let _ = what;
}
