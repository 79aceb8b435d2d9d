//! Interrupts: the controller interface boards implement, and the table of
//! handlers applications and drivers register.
//!
//! The path of an interrupt: the vector (`vectors.s`) saves the context,
//! `arch::exception` calls `dispatch`, which asks the controller which
//! interrupt it is, runs its handler with interrupts masked, and signals the
//! end of the interrupt. Then `arch::exception` lets the scheduler preempt
//! the interrupted task if the handler made that due.
//!
//! ## Several cores
//!
//! Shared interrupts (devices: the UART) are routed to the boot core, core
//! 0, and stay there. Private interrupts (the timer, which every core has
//! its own of, the IPIs below, an application's software interrupts)
//! exist once per core: [`register`]ing one enables it on every core the
//! controller lets the calling core reach, and on every core that comes up
//! after, when the board sets that core up (`Board::init_cpu_interrupts`);
//! [`unregister`] disables it the same way. A GICv3 and the Pi 3's local
//! block reach every core's copy, so a task, which may run on any core,
//! gets its handler wherever it raises its software interrupt. A GICv2's
//! copies are banked, each core's own: its software interrupts are on on
//! every core anyway, but a private peripheral interrupt (16 to 31)
//! registered after boot is enabled only on the calling core: register it
//! from a task pinned (`Builder::cpu`) to the core that should take it.
//! The kernel registers the timer and the IPIs on the boot core before the
//! other cores start, so every core gets them.
//!
//! ## Interrupts between cores (IPIs)
//!
//! [`try_send_ipi`]`(cpu, ipi)` interrupts core `cpu` (the caller itself too)
//! for one of two reasons, [`Ipi`]:
//! - [`Ipi::Reschedule`]: its handler only counts it; the scheduler's check
//!   at the end of every interrupt (`need_resched`) does the rest;
//! - [`Ipi::Stop`]: its handler halts the core for good, interrupts masked.
//!
//! Each arrives as an interrupt of its own, whose number the controller
//! chooses ([`InterruptController::ipi_id`], [`ipi_id`]): GIC SGIs 14
//! (reschedule) and 15 (stop) on QEMU virt and the Pi 4, so applications'
//! software interrupts keep 0 to 13; on the Pi 3, the receiving core's
//! BCM2836 mailbox 0 (reschedule) or 1 (stop), IntIds 4 and 5 in its
//! controller's numbering. The sender's earlier memory writes are visible
//! to the receiver when its handler runs (the drivers put a barrier before
//! the send). How many of each kind a core has taken: [`ipis_received`],
//! one relaxed atomic load, cheap enough to poll.
//!
//! ## The kernel's own
//!
//! The kernel registers the timer, the console UART, the IPIs and the GPIO
//! banks for itself (`register_for_kernel`): [`register`] finds them taken,
//! and [`unregister`] and [`send_software_interrupt`] refuse them
//! (`IrqError::KernelOwned`): an application that took the timer's handler
//! away would stop every sleep and time slice, and one that raised the stop
//! IPI would halt its own core.
//!
//! Every interrupt handled is counted, per interrupt number, all cores
//! together (one relaxed atomic increment in `dispatch`): [`taken`],
//! [`taken_counts`] (the shell's `irq`).

mod controller;

pub use controller::{Acknowledged, IntId, InterruptController, Ipi, IrqError, MAX_INTERRUPTS};

/// The board's controller driver, called directly (see `irq::controller`).
#[cfg(target_os = "none")]
use crate::board::Interrupts;
/// Host builds (unit tests) have no board and install no controller: a
/// type that stands for one and has no values.
#[cfg(not(target_os = "none"))]
pub(crate) enum Interrupts {}
#[cfg(not(target_os = "none"))]
impl InterruptController for Interrupts {
    fn enable(&self, _: IntId, _: bool) {
        match *self {}
    }
    fn disable(&self, _: IntId) {
        match *self {}
    }
    fn acknowledge(&self) -> Option<Acknowledged> {
        match *self {}
    }
    fn end_of_interrupt(&self, _: Acknowledged) {
        match *self {}
    }
}
use crate::percpu::{PerCpu, MAX_CPUS};

/// How many interrupt numbers the board has: the size of the tables below
/// (288 on QEMU `virt`, 224 on the Pi 4, 96 on the Pi 3, against the 1020
/// the architecture allows: 11 KiB less for boot to zero).
#[cfg(target_os = "none")]
pub(crate) use crate::board::INTERRUPTS;
/// Host builds (unit tests) have no board: the architecture's count.
#[cfg(not(target_os = "none"))]
pub(crate) const INTERRUPTS: usize = MAX_INTERRUPTS;

/// A handler runs in interrupt context, with interrupts masked: keep it short.
pub type Handler = fn(IntId);
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

static HANDLERS: [AtomicUsize; INTERRUPTS] = [const { AtomicUsize::new(0) }; INTERRUPTS];

/// Interrupt `id`'s handler slot, or why there is none: a number the
/// architecture does not allow, or one this board's controller does not have.
fn handler_slot(id: IntId) -> Result<&'static AtomicUsize, IrqError> {
    match HANDLERS.get(id as usize) {
        Some(slot) => Ok(slot),
        None if (id as usize) < MAX_INTERRUPTS => Err(IrqError::NoSuchInterrupt(id)),
        None => Err(IrqError::OutOfRange(id)),
    }
}
/// The controller, installed once at boot (null before): a plain pointer,
/// one load on the interrupt path (a `spin::Once` also checks its state).
static CONTROLLER: AtomicPtr<Interrupts> = AtomicPtr::new(core::ptr::null_mut());

/// The controller, once installed.
#[inline(always)]
fn controller() -> Option<&'static Interrupts> {
    // SAFETY: only ever set (by `init`) from a `&'static Interrupts`.
    unsafe { CONTROLLER.load(Ordering::Acquire).as_ref() }
}
static SPURIOUS: AtomicU64 = AtomicU64::new(0);
/// Interrupts 0..32 (SGIs and PPIs on a GIC) are each core's own: counted
/// per core, in `TAKEN_HERE`, where slot 32 counts the shared ones each
/// core took. Only a core writes its own slots, so a count is a plain load
/// and store. The shared interrupts (32 and up) are also counted by number,
/// all cores together, in `SHARED_TAKEN` (an atomic add: they are rare).
const PRIVATE_INTERRUPTS: usize = 32;
static TAKEN_HERE: PerCpu<[AtomicU64; PRIVATE_INTERRUPTS + 1]> =
    PerCpu::new([const { [const { AtomicU64::new(0) }; PRIVATE_INTERRUPTS + 1] }; MAX_CPUS]);
static SHARED_TAKEN: [AtomicU64; INTERRUPTS - PRIVATE_INTERRUPTS] =
    [const { AtomicU64::new(0) }; INTERRUPTS - PRIVATE_INTERRUPTS];

/// Counts interrupt `id` (in range), taken on this core.
#[inline(always)]
fn count_taken(id: IntId) {
    let id = id as usize;
    let here = &TAKEN_HERE.of(crate::percpu::cpu_index())[id.min(PRIVATE_INTERRUPTS)];
    here.store(here.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    if id >= PRIVATE_INTERRUPTS {
        SHARED_TAKEN[id - PRIVATE_INTERRUPTS].fetch_add(1, Ordering::Relaxed);
    }
}
static UNHANDLED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn init(controller: &'static Interrupts) {
    // The first one stays (boot installs one).
    let _ = CONTROLLER.compare_exchange(
        core::ptr::null_mut(),
        controller as *const Interrupts as *mut Interrupts,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

/// Installs `handler` for interrupt `id` and enables it (level-triggered).
/// Refused: a number past the architecture's 1020 ([`IrqError::OutOfRange`]),
/// one the board's controller has not ([`IrqError::NoSuchInterrupt`]), one with a
/// handler already.
pub fn register(id: IntId, handler: Handler) -> Result<(), IrqError> {
    register_with_trigger(id, handler, true)
}

/// The interrupts the kernel registered for itself (the timer, the console
/// UART, the IPIs, the GPIO banks): an application may not take their
/// handlers away ([`unregister`]) nor raise them ([`send_software_interrupt`]):
/// without the timer no sleep would end; a raised stop IPI would halt the core.
static KERNEL_OWNED: [AtomicU32; INTERRUPTS.div_ceil(32)] = [const { AtomicU32::new(0) }; INTERRUPTS.div_ceil(32)];

fn is_kernel_owned(id: IntId) -> bool {
    KERNEL_OWNED.get(id as usize / 32).is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (id % 32)) != 0)
}

/// [`register`], for the kernel's own use: the interrupt stays the kernel's.
pub(crate) fn register_for_kernel(id: IntId, handler: Handler) -> Result<(), IrqError> {
    handler_slot(id)?;
    let word = &KERNEL_OWNED[id as usize / 32];
    // The kernel's before its handler is in: no moment where an application
    // could unregister it.
    let was = word.fetch_or(1 << (id % 32), Ordering::Relaxed);
    register(id, handler).inspect_err(|_| {
        word.fetch_and(!(1 << (id % 32)) | was, Ordering::Relaxed);
    })
}

/// As [`register`], choosing level- or edge-triggered.
pub fn register_with_trigger(id: IntId, handler: Handler, level_triggered: bool) -> Result<(), IrqError> {
    let slot = handler_slot(id)?;
    let controller = controller().ok_or(IrqError::NoController)?;
    if !controller.has_interrupt(id) {
        return Err(IrqError::NoSuchInterrupt(id));
    }
    slot.compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| IrqError::AlreadyRegistered(id))?;
    controller.enable(id, level_triggered);
    Ok(())
}

/// Disables interrupt `id` and removes the handler [`register`] gave it.
/// The kernel's own interrupts (the timer, the console, the IPIs, GPIO)
/// are refused, as is one with no handler. Another core that took the
/// interrupt just before may still be running the handler as this returns
/// (waiting for it would cost every interrupt a store); an interrupt
/// taken after it finds no handler. A handler is a plain `fn`, so nothing
/// it uses is freed here.
pub fn unregister(id: IntId) -> Result<(), IrqError> {
    let slot = handler_slot(id)?;
    if is_kernel_owned(id) {
        return Err(IrqError::KernelOwned(id));
    }
    if slot.load(Ordering::Acquire) == 0 {
        return Err(IrqError::NotRegistered(id));
    }
    if let Some(c) = controller() {
        c.disable(id);
    }
    slot.store(0, Ordering::Release);
    Ok(())
}

/// Raises software-generated interrupt `id` on this core: it goes through
/// the controller like a device's, and its handler (see [`register`]) runs
/// as soon as interrupts are unmasked. 0 to 13 on a GIC (14 and 15 are the
/// kernel's IPIs, refused); none on the Raspberry Pi 3's controller, which
/// has no software interrupts.
pub fn send_software_interrupt(id: IntId) -> Result<(), IrqError> {
    if is_kernel_owned(id) {
        return Err(IrqError::KernelOwned(id));
    }
    controller().ok_or(IrqError::NoController)?.send_software(id)
}

/// Makes interrupt `id` pending at the controller, as if its device had
/// raised it: for tests that stand in for a device QEMU does not model
/// fully (`gpio::simulate_edge`). Not every controller can.
pub(crate) fn set_pending(id: IntId) -> Result<(), IrqError> {
    controller().ok_or(IrqError::NoController)?.set_pending(id)
}

/// Interrupts core `cpu` with `ipi` (see the module documentation), or
/// says why it cannot (no such core, a controller without IPIs).
pub(crate) fn try_send_ipi(cpu: usize, ipi: Ipi) -> Result<(), IrqError> {
    if cpu >= MAX_CPUS {
        return Err(IrqError::NoSuchCpu(cpu));
    }
    controller().ok_or(IrqError::NoController)?.send_ipi(cpu, ipi)
}

/// Sends [`Ipi::Stop`] to every core that is up but this one (a fatal
/// report, or the end of the program): they halt, interrupts masked.
pub(crate) fn stop_other_cores() {
    let me = crate::percpu::cpu_index();
    let up = crate::percpu::up_mask();
    for cpu in (0..MAX_CPUS).filter(|&c| c != me && up & (1 << c) != 0) {
        let _ = try_send_ipi(cpu, Ipi::Stop);
    }
}

/// The interrupt `ipi` arrives as (GIC SGI 14 or 15; the Pi 3's mailbox
/// IntIds 4 or 5); `None` before boot set the controller up, or if it
/// cannot interrupt cores.
pub(crate) fn ipi_id(ipi: Ipi) -> Option<IntId> {
    controller()?.ipi_id(ipi)
}

/// Installs the IPI handlers (boot core, while it is the only one up, so
/// that every core enables them when it comes up).
pub(crate) fn register_ipi_handlers() -> Result<(), IrqError> {
    let handlers: [(Ipi, Handler); 2] = [(Ipi::Reschedule, reschedule_interrupt), (Ipi::Stop, stop_interrupt)];
    for (ipi, handler) in handlers {
        if let Some(id) = ipi_id(ipi) {
            register_for_kernel(id, handler)?;
        }
    }
    Ok(())
}

/// IPIs taken, per core, per kind (indexed by `Ipi as usize`).
static IPIS_RECEIVED: PerCpu<[AtomicU64; 2]> =
    PerCpu::new([const { [AtomicU64::new(0), AtomicU64::new(0)] }; MAX_CPUS]);

fn count_ipi(ipi: Ipi) {
    if let Some(counts) = IPIS_RECEIVED.iter().nth(crate::percpu::cpu_index()) {
        counts[ipi as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// How many `ipi`s core `cpu` has taken (their handlers ran) since boot.
pub(crate) fn ipis_received(cpu: usize, ipi: Ipi) -> u64 {
    IPIS_RECEIVED.iter().nth(cpu).map_or(0, |counts| counts[ipi as usize].load(Ordering::Relaxed))
}

/// [`Ipi::Reschedule`]: nothing more to do here; the scheduler's check at
/// the end of the interrupt picks the task that became due.
fn reschedule_interrupt(_: IntId) {
    count_ipi(Ipi::Reschedule);
}

/// [`Ipi::Stop`]: this core stops for good, interrupts masked.
fn stop_interrupt(_: IntId) {
    count_ipi(Ipi::Stop);
    #[cfg(target_os = "none")]
    crate::arch::cpu::halt();
}

/// How many interrupts core `cpu` has taken since boot (whose handlers ran).
pub fn interrupts_taken(cpu: usize) -> u64 {
    TAKEN_HERE.iter().nth(cpu).map_or(0, |slots| slots.iter().map(|n| n.load(Ordering::Relaxed)).sum())
}

/// How many spurious interrupts (nothing pending on acknowledge) were seen.
pub fn spurious_count() -> u64 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// How many times interrupt `id`'s handler has run since boot (on every
/// core together: a private interrupt such as the timer counts each core's).
pub fn taken(id: IntId) -> u64 {
    let id = id as usize;
    match id.checked_sub(PRIVATE_INTERRUPTS) {
        None => TAKEN_HERE.iter().map(|slots| slots[id].load(Ordering::Relaxed)).sum(),
        Some(shared) => SHARED_TAKEN.get(shared).map_or(0, |n| n.load(Ordering::Relaxed)),
    }
}

/// Every interrupt taken at least once since boot, with its count ([`taken`]).
pub fn taken_counts() -> impl Iterator<Item = (IntId, u64)> {
    (0..INTERRUPTS as IntId).map(|id| (id, taken(id))).filter(|&(_, n)| n != 0)
}

/// How many interrupts arrived that had no handler.
pub fn unhandled_count() -> u64 {
    UNHANDLED.load(Ordering::Relaxed)
}

/// Handles the pending interrupt; called from the exception vector.
pub(crate) fn dispatch() {
    // A spin lock held here was held with interrupts unmasked.
    crate::critical::assert_no_spin_lock_held("an interrupt");
    let Some(controller) = controller() else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(acknowledged) = controller.acknowledge() else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let id = acknowledged.id;
    match HANDLERS.get(id as usize).map(|h| h.load(Ordering::Acquire)) {
        Some(h) if h != 0 => {
            // SAFETY: non-zero entries are only ever stored from a `Handler`.
            let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(h) };
            crate::trace::irq_enter(id);
            handler(id);
            crate::trace::irq_exit(id);
            // Counted after the handler, off the path from the interrupt
            // to its handler. (`id` indexes HANDLERS, so it is in range.)
            count_taken(id);
        }
        _ => unhandled(controller, id),
    }
    controller.end_of_interrupt(acknowledged);
}

/// An interrupt without a handler: reported and disabled (out of line: the
/// report's formatting would otherwise enlarge every interrupt's frame).
#[cold]
#[inline(never)]
fn unhandled(controller: &Interrupts, id: IntId) {
    UNHANDLED.fetch_add(1, Ordering::Relaxed);
    log::warn!("interrupt {id} has no handler; disabling it");
    controller.disable(id);
}
