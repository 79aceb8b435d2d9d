//! The kernel lock, and the critical sections that take it: one lock for
//! the scheduler's state and what is built on it, recursive on its core,
//! handed over at a context switch (see the module documentation of
//! [`super`]). On one core it is not taken at all: masking interrupts is
//! enough there.

#[cfg(any(debug_assertions, feature = "lock-checks"))]
use super::checks;
use super::masking;
use super::{holder_id, spin_hint};
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

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
