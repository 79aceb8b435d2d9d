//! Critical sections: interrupts masked on this core, and the kernel lock
//! held against the other cores.
//!
//! Two kinds of code can touch kernel state while a task does: an
//! interrupt handler on the same core, and whatever runs on the other
//! cores. A [`CriticalSection`] keeps both out. It masks interrupts on this
//! core, then takes the *kernel lock*: one lock, for the scheduler's state
//! (ready queues, wait queues, timers, task control blocks), the state of
//! the blocking primitives built on it (`sync`) and the stack cache. Code
//! shows the token to borrow a [`KernelCell`] through [`KernelCell::with`].
//! One lock for all of that is the choice of Zephyr (`_sched_spinlock`) and
//! FreeRTOS-SMP: a wake, a block or a switch touches several of these
//! structures at once, and one lock makes that one step with no lock
//! ordering to get wrong. What does not need it has a [`SpinLock`] of its own
//! (heap, page tables, frame pool, interrupt controller, console), so the
//! allocators do not queue behind the scheduler.
//!
//! The kernel lock is recursive on its core (a critical section may open
//! another: a wake inside a `Mutex` unlock). It is a plain test-and-set
//! lock, not a fair ticket lock: on a virtual machine (QEMU, with fewer host
//! threads than cores) a ticket lock hands the lock to the next core in line
//! even while that core's host thread is not running, and every core behind
//! it waits too; here whichever core is running takes it. It is the one lock
//! that stays taken across a context switch: the task switching away hands
//! the core's hold to the task it resumes, which releases it when it leaves
//! its own critical section (as xv6 hands over its process-table lock). So
//! no other core can pick a task from a ready queue while its registers are
//! still being saved. [`kernel_lock_depth`] and [`resume_kernel_lock`] are
//! the switch's side of that.
//!
//! Nothing slow happens with the kernel lock held that can wait until it
//! is given back: an interrupt to another core asked for inside a critical
//! section ([`interrupt_after_unlock`], the scheduler's reschedule requests)
//! is sent when this core gives the lock back. Writing the interrupt
//! controller is a device access; under QEMU it is a trip into the emulator
//! (its global lock, and waking the target core's host thread), and with it
//! inside the lock the other cores spun on the kernel lock meanwhile:
//! `smp_spawn_join` (10,000 cross-core spawn/join cycles) took 7 to 9 s a
//! round, with 2.5 to 3.9 billion spins on the kernel lock, and 0.35 to
//! 0.45 s, with 50 to 90 million, once the interrupts were sent after.
//!
//! Both kinds of lock wait the same way when another core holds them:
//! reading the lock word (no writes, so the holder's cache line stays put)
//! with a `YIELD` hint, which also lets an emulator running the cores in
//! turns on one host thread run the holder; and only there, in the slow
//! path, they count the iterations for `lock_stats` (how long cores wait,
//! for the benchmarks).
//!
//! A [`SpinLock`] masks interrupts while it is held, so an interrupt
//! handler that takes the same lock never spins on a holder it interrupted,
//! and a holder is never preempted (which would make a more urgent task
//! spin). Spin locks come *after* the kernel lock: code holding one never
//! opens a critical section (the checks below catch it), so no two cores
//! can wait for each other.
//!
//! The rules are checked, not only written down: built with the
//! `lock-checks` feature (the QEMU tests are) or in a debug build, every
//! lock records its name and address while held (the address tells it
//! apart from other locks of the same name), and the kernel panics with
//! that name if one is held at a context switch, when an interrupt arrives
//! (so interrupts were unmasked while it was held), when it is taken again
//! on the core that holds it (a certain deadlock), or when a critical section opens
//! inside it (once there are several cores: on one, the kernel lock is not
//! taken at all, see [`use_kernel_lock`]). `spin::Mutex` itself is refused by clippy (`clippy.toml`), so
//! no lock can bypass this module. One rule is checked in every build: a
//! [`SpinLock`]'s word records the core that holds it, so a core that
//! finds the lock taken by itself (a task asking again for a lock it holds)
//! panics instead of spinning for ever with its interrupts masked; this
//! costs nothing on the uncontended path (see [`SpinLock::lock`]).
//!
//! This module sits just above `arch` (it needs only masking and the core's
//! number); every other part of the OS may use it. On the host, masking is a
//! no-op and each thread counts as a core, so the code built on it (the
//! heap, the kernel lock itself) can be unit-tested.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Masking itself: the CPU's, or on the host (unit tests) nothing to mask.
#[cfg(target_os = "none")]
use crate::arch::cpu as masking;
#[cfg(not(target_os = "none"))]
mod masking {
    pub fn disable_interrupts() -> bool {
        false
    }
    pub fn restore_interrupts(_: bool) {}
    pub fn interrupts_enabled() -> bool {
        false
    }
    #[derive(Clone, Copy)]
    pub struct SavedMasks;
    impl SavedMasks {
        pub fn irqs_masked(self) -> bool {
            false
        }
    }
    pub fn mask_interrupts_saving() -> SavedMasks {
        SavedMasks
    }
    pub fn current_masks() -> SavedMasks {
        SavedMasks
    }
    pub fn restore_masks(_: SavedMasks) {}
}

/// Who may hold the kernel lock: a core on the machine; a thread in unit tests.
#[cfg(target_os = "none")]
#[inline(always)]
fn holder_id() -> usize {
    crate::percpu::cpu_index()
}
#[cfg(all(not(target_os = "none"), test))]
fn holder_id() -> usize {
    std::thread_local! { static ID: u8 = const { 0 } }
    ID.with(|id| id as *const u8 as usize)
}
#[cfg(all(not(target_os = "none"), not(test)))]
fn holder_id() -> usize {
    0
}

#[cfg(target_os = "none")]
#[inline(always)]
fn spin_hint() {
    crate::arch::cpu::spin_hint(); // lets QEMU's one host thread run the holder
}
#[cfg(all(not(target_os = "none"), test))]
fn spin_hint() {
    std::thread::yield_now();
}
#[cfg(all(not(target_os = "none"), not(test)))]
fn spin_hint() {
    core::hint::spin_loop();
}

/// The kernel lock: the holder's number in one word, recursive on the
/// core that holds it.
struct KernelLock {
    /// The holder ([`holder_id`]), or [`NOBODY`].
    holder: AtomicUsize,
    /// How many critical sections the holder has open (only it touches this).
    depth: AtomicU32,
    /// The cores to interrupt once the lock is given back
    /// ([`interrupt_after_unlock`]; bit `n`: core `n`). Only the holder
    /// touches this, so the release path reads it next to `depth`.
    deferred: AtomicUsize,
}

const NOBODY: usize = usize::MAX;

static KERNEL_LOCK: KernelLock =
    KernelLock { holder: AtomicUsize::new(NOBODY), depth: AtomicU32::new(0), deferred: AtomicUsize::new(0) };

/// Is the kernel lock in use? Not while core 0 is the only core: masking
/// interrupts is enough there, as it always was on one core, and costs a
/// load instead of an atomic exchange (a 1-core boot keeps its one-core
/// speed). Core 0 turns it on for good before it starts another core.
static KERNEL_LOCK_IN_USE: AtomicBool = AtomicBool::new(false);

/// Do several cores run tasks (so critical sections take the kernel lock)?
/// Settled at boot, before the first task: false on a one-core machine for
/// good. The scheduler runs code compiled for one core when it is false.
#[inline(always)]
pub fn several_cores() -> bool {
    KERNEL_LOCK_IN_USE.load(Ordering::Relaxed)
}

/// From now on, critical sections take the kernel lock. Core 0 calls this
/// before starting the other cores, outside every critical section, so no
/// critical section began without the lock and ends with it.
pub fn use_kernel_lock() {
    let was = masking::disable_interrupts();
    // This core must hold no critical section. (Not "the depth is 0": the
    // depth is the holder's, which may be another core, or on the host
    // another test's thread.)
    debug_assert_ne!(
        KERNEL_LOCK.holder.load(Ordering::Relaxed),
        holder_id(),
        "use_kernel_lock inside a critical section"
    );
    KERNEL_LOCK_IN_USE.store(true, Ordering::Release);
    masking::restore_interrupts(was);
}

impl KernelLock {
    #[inline(never)]
    fn take(&self) {
        let me = holder_id();
        // Only this core ever stores its own number here: if it reads it,
        // it holds the lock.
        if self.holder.load(Ordering::Relaxed) == me {
            self.depth.store(self.depth.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            return;
        }
        #[cfg(any(debug_assertions, feature = "lock-checks"))]
        checks::entering_kernel_lock();
        // Acquire: what the previous holder wrote is seen here.
        while self.holder.compare_exchange_weak(NOBODY, me, Ordering::Acquire, Ordering::Relaxed).is_err() {
            let mut spins = 0;
            while self.holder.load(Ordering::Relaxed) != NOBODY {
                spins += 1;
                spin_hint();
            }
            crate::lock_stats::spun("kernel lock", spins);
        }
        self.depth.store(1, Ordering::Relaxed);
    }

    #[inline(never)]
    fn give_back(&self) {
        let depth = self.depth.load(Ordering::Relaxed) - 1;
        self.depth.store(depth, Ordering::Relaxed);
        if depth == 0 {
            // Taken while still the holder: after the release, another core may add to it.
            let deferred = self.deferred.load(Ordering::Relaxed);
            if deferred != 0 {
                self.deferred.store(0, Ordering::Relaxed);
            }
            // Release: what the critical section wrote is seen by the next holder.
            self.holder.store(NOBODY, Ordering::Release);
            #[cfg(target_os = "none")]
            if deferred != 0 {
                deferred::send(deferred);
            }
        }
    }
}

/// Interrupts to other cores asked for inside a critical section, sent
/// once this core gives the kernel lock back ([`interrupt_after_unlock`]).
#[cfg(target_os = "none")]
mod deferred {
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// What sends one (`fn(core)`), set once by the scheduler; 0: none yet.
    static SENDER: AtomicUsize = AtomicUsize::new(0);

    pub fn set_sender(send: fn(usize)) {
        SENDER.store(send as usize, Ordering::Relaxed);
    }

    /// Interrupts each core in `cores` (the kernel lock just given back).
    #[cold]
    pub fn send(mut cores: usize) {
        let sender = SENDER.load(Ordering::Relaxed);
        if sender == 0 {
            return;
        }
        // SAFETY: `SENDER` only ever holds a `fn(usize)` (`set_sender`).
        let send: fn(usize) = unsafe { core::mem::transmute::<usize, fn(usize)>(sender) };
        while cores != 0 {
            send(cores.trailing_zeros() as usize);
            cores &= cores - 1;
        }
    }
}

/// Inside a critical section: interrupts core `cpu` (through the function
/// given to [`set_deferred_interrupt_sender`]) once this core gives the
/// kernel lock back, not now. So the lock is not held while the interrupt
/// controller is written (on a virtual machine, a trip to the emulator),
/// and the interrupted core does not wait for the lock the moment it
/// wakes. Several asks for one core send one interrupt.
#[cfg(target_os = "none")]
#[inline(always)]
pub fn interrupt_after_unlock(_: &CriticalSection, cpu: usize) {
    // This core holds the lock (the token): nobody else touches `deferred`.
    let cores = KERNEL_LOCK.deferred.load(Ordering::Relaxed);
    KERNEL_LOCK.deferred.store(cores | 1 << cpu, Ordering::Relaxed);
}

/// Names the function that sends [`interrupt_after_unlock`]'s interrupts.
#[cfg(target_os = "none")]
pub fn set_deferred_interrupt_sender(send: fn(usize)) {
    deferred::set_sender(send);
}

/// Interrupts are masked on this core while this value lives (restored as
/// they were when it drops): what a [`SpinLock`] holds besides its lock.
/// The masks are saved whole and written back whole (one instruction, no
/// test of what they were).
struct InterruptsMasked {
    saved: masking::SavedMasks,
    _not_send: PhantomData<*const ()>,
}

impl InterruptsMasked {
    #[inline(always)]
    fn new() -> Self {
        Self { saved: masking::mask_interrupts_saving(), _not_send: PhantomData }
    }
}

impl Drop for InterruptsMasked {
    #[inline(always)]
    fn drop(&mut self) {
        masking::restore_masks(self.saved);
    }
}

/// Interrupts are masked on this core, and it holds the kernel lock, while
/// this value lives; both are given back as they were when it drops.
pub struct CriticalSection {
    /// The interrupt masks before it, put back whole as it ends (one
    /// write, no test and branch around an unmask).
    saved: masking::SavedMasks,
    /// It took the kernel lock (several cores run), so it gives it back.
    locked: bool,
    _not_send: PhantomData<*const ()>,
}

impl CriticalSection {
    /// Masks interrupts, then takes the kernel lock (or opens one more
    /// level of it, if this core holds it already).
    #[inline(always)]
    pub fn new() -> Self {
        let saved = masking::mask_interrupts_saving();
        let locked = several_cores();
        if locked {
            KERNEL_LOCK.take();
        }
        Self { saved, locked, _not_send: PhantomData }
    }
}

impl CriticalSection {
    /// [`CriticalSection::new`] for code compiled for one core or for
    /// several (`MANY`, which the caller read from [`several_cores`]): one
    /// core only masks interrupts, several take the kernel lock, neither
    /// looks at the flag again.
    #[inline(always)]
    pub fn enter<const MANY: bool>() -> Self {
        let saved = masking::mask_interrupts_saving();
        if MANY {
            KERNEL_LOCK.take();
        }
        Self { saved, locked: MANY, _not_send: PhantomData }
    }
}

impl CriticalSection {
    /// [`CriticalSection::enter`] where interrupts are masked already (an
    /// interrupt handler): it only takes the kernel lock, and puts the
    /// masks back as they are (masked) when it drops.
    ///
    /// # Safety
    /// Interrupts are masked on this core, and stay so while it lives.
    #[inline(always)]
    pub unsafe fn enter_masked<const MANY: bool>() -> Self {
        debug_assert!(!masking::interrupts_enabled(), "enter_masked with interrupts unmasked");
        if MANY {
            KERNEL_LOCK.take();
        }
        Self { saved: masking::current_masks(), locked: MANY, _not_send: PhantomData }
    }
}

impl CriticalSection {
    /// Were interrupts masked already where it was entered: by an
    /// exception's entry, a spin lock held, or masked by hand?
    #[inline(always)]
    pub fn entered_masked(&self) -> bool {
        self.saved.irqs_masked()
    }
}

impl Default for CriticalSection {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for CriticalSection {
    #[inline(always)]
    fn drop(&mut self) {
        if self.locked {
            KERNEL_LOCK.give_back();
        }
        masking::restore_masks(self.saved);
    }
}

/// For the context switch: how many critical sections this core has open
/// (the switching task's), to give back to it when it resumes.
#[inline]
pub fn kernel_lock_depth(_: &CriticalSection) -> u32 {
    KERNEL_LOCK.depth.load(Ordering::Relaxed)
}

/// For a task just resumed by a context switch, on whatever core: it takes
/// over this core's hold on the kernel lock, at the `depth` it had when it
/// switched away (a new task: 1, the critical section it starts in).
///
/// # Safety
/// This core holds the kernel lock (the switch that resumed us ran in a
/// critical section), and the resumed task has `depth` critical sections
/// open, which it will close.
#[inline]
pub unsafe fn resume_kernel_lock(depth: u32) {
    debug_assert!(
        !KERNEL_LOCK_IN_USE.load(Ordering::Relaxed) || KERNEL_LOCK.holder.load(Ordering::Relaxed) == holder_id()
    );
    KERNEL_LOCK.depth.store(depth, Ordering::Relaxed);
}

/// For a task that ends where it is (killed as it blocks or yields): closes
/// every critical section this core has open for it, giving the kernel lock
/// back and unmasking interrupts, without running the code that opened them.
///
/// # Safety
/// The caller never returns into those sections (it ends the task), and
/// holds no spin lock.
pub unsafe fn leave_all_for_good(_: &CriticalSection) {
    if several_cores() {
        KERNEL_LOCK.depth.store(1, Ordering::Relaxed);
        KERNEL_LOCK.give_back();
    }
    masking::restore_interrupts(true);
}

/// For code a context switch runs between the two tasks (on the next
/// task's stack): a token for the critical section the switch runs in,
/// which the resumed task closes. It never drops: it neither unmasks
/// interrupts nor gives the kernel lock back.
///
/// # Safety
/// Called only there: interrupts are masked, and with several cores this
/// core holds the kernel lock.
#[inline(always)]
pub unsafe fn section_of_switch() -> core::mem::ManuallyDrop<CriticalSection> {
    core::mem::ManuallyDrop::new(CriticalSection {
        saved: masking::current_masks(),
        locked: several_cores(),
        _not_send: PhantomData,
    })
}

/// For a new task: the critical section it starts in, inherited from the
/// switch that started it (see [`resume_kernel_lock`]).
///
/// # Safety
/// As for [`resume_kernel_lock`] with a depth of 1; interrupts are masked.
#[inline(always)]
pub unsafe fn inherited_critical_section() -> CriticalSection {
    // SAFETY: forwarded from our caller.
    unsafe { resume_kernel_lock(1) };
    CriticalSection { saved: masking::current_masks(), locked: several_cores(), _not_send: PhantomData }
}

/// Kernel state shared by every core: touched only inside a critical
/// section (its token is the proof), so by one core at a time, with that
/// core's interrupts masked. The kernel's alone: [`KernelCell::with`] trusts
/// its caller not to nest (a `with` inside a `with` of one cell would give
/// two `&mut` to its contents), which safe application code cannot promise
/// (it has [`SpinLock`], which checks).
pub(crate) struct KernelCell<T>(UnsafeCell<T>);

// SAFETY: access needs a `CriticalSection` token: the kernel lock is held,
// so no two contexts on any cores touch the contents at the same time.
unsafe impl<T> Sync for KernelCell<T> {}

impl<T> KernelCell<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Runs `f` on the contents. `f` must not call `with` on the same cell,
    /// nor switch tasks.
    #[inline(always)]
    pub fn with<R>(&self, _cs: &CriticalSection, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the kernel lock is held (the token) and `f` neither nests
        // nor switches: this borrow is unique.
        f(unsafe { &mut *self.0.get() })
    }
}

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
    name: &'static str,
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

/// What a spin lock taken again on the core that holds it is.
const TAKEN_AGAIN: &str =
    "taken again on the core that holds it (a certain deadlock: interrupts are masked while it is held)";

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
    /// in [`use_kernel_lock`], before core 0 starts any other core; the
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
    fn address(&self) -> usize {
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

/// The bookkeeping behind the checks: the names of the locks this core
/// holds, innermost last. Touched only with interrupts masked.
#[cfg(any(debug_assertions, feature = "lock-checks"))]
mod checks {
    use super::masking::interrupts_enabled;
    use core::cell::UnsafeCell;

    const MAX_NESTED: usize = 8;

    /// The locks this core holds, innermost last: each one's name (for
    /// the reports) and address (which lock it is: names may repeat).
    struct Held {
        names: [&'static str; MAX_NESTED],
        locks: [usize; MAX_NESTED],
        depth: usize,
    }

    struct HeldCell(UnsafeCell<Held>);
    // SAFETY: each core touches only its own record (indexed by its number),
    // and only with interrupts masked (inside a `SpinLock`'s critical
    // section or an exception handler), so no two contexts touch one at once.
    unsafe impl Sync for HeldCell {}

    const NONE_HELD: Held = Held { names: [""; MAX_NESTED], locks: [0; MAX_NESTED], depth: 0 };

    /// One record per core: a lock held on one core says nothing of another.
    #[cfg(not(test))]
    static HELD: crate::percpu::PerCpu<HeldCell> =
        crate::percpu::PerCpu::new([const { HeldCell(UnsafeCell::new(NONE_HELD)) }; crate::percpu::MAX_CPUS]);

    #[cfg(not(test))]
    fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
        let mine = HELD.of(crate::percpu::cpu_index());
        // SAFETY: see `HeldCell`: this core's own record, with interrupts
        // masked by our callers, so this borrow is the only one, and it ends
        // with the call.
        f(unsafe { &mut *mine.0.get() })
    }

    // Host unit tests run on many threads: each has its own record.
    #[cfg(test)]
    std::thread_local! { static HELD: HeldCell = const { HeldCell(UnsafeCell::new(NONE_HELD)) }; }

    #[cfg(test)]
    fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
        // SAFETY: this thread's own record, borrowed once for the call.
        HELD.with(|h| f(unsafe { &mut *h.0.get() }))
    }

    /// Records the lock `name` at `lock` (its address) as held, or panics
    /// with the reason it cannot be. `locked`: found held, by this core if
    /// this core's record has it (a lock found held that merely shares a
    /// name with one this core holds is another core's: it is waited for).
    pub fn acquiring(name: &'static str, lock: usize, locked: bool) {
        let problem = with_held(|h| {
            let problem = if locked && h.locks[..h.depth].contains(&lock) {
                Some(super::TAKEN_AGAIN)
            } else if h.depth == MAX_NESTED {
                Some("nested inside too many other spin locks")
            } else {
                h.names[h.depth] = name;
                h.locks[h.depth] = lock;
                h.depth += 1;
                None
            };
            if problem.is_some() {
                h.depth = 0;
            }
            problem
        });
        if let Some(problem) = problem {
            panic!("spin lock '{name}' {problem}");
        }
    }

    /// Forgets the lock `name` at `lock` (guards may drop out of order:
    /// wherever it is).
    pub fn released(name: &'static str, lock: usize) {
        let unmasked = interrupts_enabled();
        with_held(|h| {
            if unmasked {
                h.depth = 0;
            } else if let Some(i) = h.locks[..h.depth].iter().rposition(|l| *l == lock) {
                h.names.copy_within(i + 1..h.depth, i);
                h.locks.copy_within(i + 1..h.depth, i);
                h.depth -= 1;
            }
        });
        if unmasked {
            panic!("interrupts were unmasked while spin lock '{name}' was held");
        }
    }

    /// The kernel lock comes before every spin lock: none may be held here.
    pub fn entering_kernel_lock() {
        let held = with_held(|h| h.depth.checked_sub(1).map(|i| h.names[i]));
        if let Some(name) = held {
            with_held(|h| h.depth = 0);
            panic!("critical section opened inside spin lock '{name}' (spin locks come after the kernel lock)");
        }
    }

    pub fn assert_none_held(what: &str) {
        let held = with_held(|h| {
            let innermost = h.depth.checked_sub(1).map(|i| h.names[i]);
            h.depth = 0;
            innermost
        });
        if let Some(name) = held {
            panic!("spin lock '{name}' held at {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_gives_its_data_and_releases_it() {
        let lock = SpinLock::new("test", 1);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
        assert_eq!(lock.name(), "test");
    }

    #[test]
    fn nested_locks_are_tracked_and_released_out_of_order() {
        let a = SpinLock::new("a", ());
        let b = SpinLock::new("b", ());
        let ga = a.lock();
        let gb = b.lock();
        drop(ga);
        drop(gb);
        assert_no_spin_lock_held("the end of the test");
    }

    #[test]
    fn a_lock_held_elsewhere_that_shares_a_name_with_one_held_here_is_waited_for() {
        // The locks of a table's entries share a name: this thread takes
        // `inner` inside `outer` while another holds `inner`.
        let (outer, inner) = (SpinLock::new("entry", 0), SpinLock::new("entry", 0));
        let holding = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                let mut held = inner.lock();
                holding.store(true, Ordering::Release);
                std::thread::sleep(std::time::Duration::from_millis(50));
                *held += 1;
            });
            while !holding.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            let mut o = outer.lock();
            *inner.lock() += 1; // found held by the other thread: waits
            *o += 1;
            drop(o);
            other.join().unwrap();
        });
        assert_eq!((*outer.lock(), *inner.lock()), (1, 2));
        assert_no_spin_lock_held("the end of the test");
    }

    #[test]
    #[cfg(any(debug_assertions, feature = "lock-checks"))] // the checks' own record
    fn two_locks_of_one_name_released_out_of_order_are_told_apart() {
        let (a, b) = (SpinLock::new("entry", ()), SpinLock::new("entry", ()));
        let ga = a.lock();
        let gb = b.lock();
        drop(ga);
        // `a`, found held now, is another core's (this one gave it back);
        // `b`, still held here, would be taken again.
        checks::acquiring(a.name, a.address(), true);
        checks::released(a.name, a.address());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checks::acquiring(b.name, b.address(), true);
        }));
        assert!(again.is_err(), "b, still held here, was not recognised");
        drop(gb);
        assert_no_spin_lock_held("the end of the test");
    }

    #[test]
    fn the_kernel_lock_excludes_other_cores_and_nests_on_its_own() {
        use_kernel_lock();
        static COUNTER: KernelCell<u64> = KernelCell::new(0);
        let threads: std::vec::Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..20_000 {
                        let outer = CriticalSection::new();
                        let inner = CriticalSection::new(); // nested on this "core"
                        let before = COUNTER.with(&inner, |c| *c);
                        std::thread::yield_now();
                        COUNTER.with(&inner, |c| *c = before + 1);
                        drop(inner);
                        drop(outer);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(COUNTER.with(&CriticalSection::new(), |c| *c), 80_000);
    }

    /// Holds `lock` until another thread is waiting for it; the waiter's
    /// spinning must show in the spin count (counted once it gets the lock).
    fn a_waiter_spins<G>(take: impl Fn() -> G + Sync) {
        let before = crate::lock_stats::spin_iterations();
        let waiting = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let held = take();
            scope.spawn(|| {
                waiting.store(true, Ordering::Release);
                drop(take());
            });
            while !waiting.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            // Long enough for the waiter to reach the lock on a busy host.
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(held);
        });
        assert!(crate::lock_stats::spin_iterations() > before, "a thread waited for the lock but no spin was counted");
    }

    #[test]
    fn a_spin_lock_waiter_is_counted() {
        let lock = SpinLock::new("counted", ());
        a_waiter_spins(|| lock.lock());
    }

    #[test]
    fn a_kernel_lock_waiter_is_counted() {
        use_kernel_lock();
        a_waiter_spins(CriticalSection::new);
    }

    #[test]
    #[should_panic(expected = "critical section opened inside spin lock 'inner'")]
    fn a_critical_section_inside_a_spin_lock_is_named() {
        use_kernel_lock(); // on one core there is no lock to order
        let lock = SpinLock::new("inner", ());
        let _g = lock.lock();
        let _cs = CriticalSection::new();
    }

    #[test]
    #[should_panic(expected = "spin lock 'outer' held at a context switch")]
    fn a_lock_held_at_a_switch_is_named() {
        let lock = SpinLock::new("outer", ());
        let _g = lock.lock();
        assert_no_spin_lock_held("a context switch");
    }
}
