//! The ARM Generic Interrupt Controller, versions 2 and 3, through the
//! `arm-gic` crate (0.10), behind ilusion's [`InterruptController`] interface.
//!
//! Which interrupt *group* to use depends on the security state the kernel
//! runs in (see `docs/01-from-reset-to-main.md`): booted from EL3, ilusion
//! stays in the Secure world and uses Secure groups; otherwise Non-secure
//! group 1. On GICv2 the "group 0" registers (IAR/EOIR) are the right ones
//! in every case: in the Non-secure view they handle the Non-secure group.
//! Every interrupt gets the same priority ([`PRIORITY`]).
//!
//! Several cores: the distributor is shared, but each core has its own CPU
//! interface and its own copy of the private interrupts (INTIDs 0 to 31:
//! the SGIs and PPIs such as the timer), which only that core can reach on
//! GICv2 (banked registers), and which live in the core's redistributor on
//! GICv3. So enabling a private interrupt ([`InterruptController::enable`])
//! enables it on every core's redistributor on GICv3, on the calling core
//! on GICv2 (the others' copies are out of its reach; an SGI's enable bit
//! is fixed on there), and remembers it; each other core, once up,
//! switches its CPU interface on and enables the remembered ones on its
//! side with the same group and priority ([`Gic::init_cpu`]). Shared
//! interrupts (SPIs, such as the UART) stay routed to the core that
//! enabled them, the boot core (GICv2: [`super::gicv2_targets`]; GICv3:
//! the distributor's default, as `arm-gic` leaves it).
//!
//! Taking an interrupt needs no lock: each core has its own CPU interface
//! (GICv2: [`super::gicv2_cpu_interface`]; GICv3: system registers).
//!
//! Inter-processor interrupts are SGIs [`RESCHEDULE_SGI`] and [`STOP_SGI`]
//! (14 and 15; applications may use 0 to 13 through
//! `irq::send_software_interrupt`), sent through GICD_SGIR on GICv2
//! (target list: the CPU interface each core recorded when it came up) and
//! ICC_SGI1R_EL1 on GICv3 (target: the core's affinity).

use super::gicv2_cpu_interface::CpuInterface;
use super::gicv2_pending::SetPending;
use super::gicv2_targets::Targets;
use crate::critical::SpinLock;
use crate::irq::{Acknowledged, IntId, InterruptController, Ipi, IrqError};
use crate::percpu::MAX_CPUS;
use arm_gic::gicv2::GicV2;
use arm_gic::gicv3::registers::{GicdCtlr, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicRedistributorIterator, GicV3, Group, SecureIntGroup};
use arm_gic::{InterruptGroup, Trigger, UniqueMmioPointer};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// The SGI that asks a core to reschedule ([`Ipi::Reschedule`]).
pub const RESCHEDULE_SGI: IntId = 14;
/// The SGI that stops a core for good ([`Ipi::Stop`]).
pub const STOP_SGI: IntId = 15;

/// The priority given to every interrupt (lower is more urgent).
const PRIORITY: u8 = 0x80;
/// The priority mask of every core: let every priority through.
const PRIORITY_MASK: u8 = 0xff;

pub struct Gic {
    version: Version,
    /// The private interrupts (INTIDs 0 to 31) enabled so far, a bit each:
    /// each core that comes up enables them on its side.
    private_enabled: AtomicU32,
    /// How many INTIDs the distributor implements (from GICD_TYPER's
    /// ITLinesNumber: 288 on QEMU `virt`), at most the board's count (the
    /// size of the kernel's tables): from here up there is no interrupt,
    /// and an enable bit written there does not stick.
    lines: u32,
}

enum Version {
    V2 {
        gic: SpinLock<GicV2<'static>>,
        targets: Targets,
        /// GICD_ISPENDR, for `set_pending`.
        pending: SetPending,
        cpu_interface: CpuInterface,
        /// Each core's CPU interface (a one-bit mask), recorded by the core
        /// itself; 0 until it is up (and on a one-CPU GIC, which has no
        /// target lists).
        interface_of_core: [AtomicU8; MAX_CPUS],
    },
    V3 {
        gic: SpinLock<GicV3<'static>>,
        secure: bool,
        /// Each core's redistributor (`arm-gic`'s index), by the core's
        /// number (MPIDR Aff0), from the redistributors' GICR_TYPER.
        redistributor_of_core: [Option<usize>; MAX_CPUS],
    },
}

/// The calling core's number (MPIDR Aff0).
fn this_core() -> usize {
    crate::arch::cpu::core_index()
}

/// `id` as `arm-gic`'s interrupt number. Every `IntId` the kernel passes a
/// controller was checked against the GIC's count (`GICD_TYPER`), so the
/// panic is a kernel bug; it names the number (the crate's error would
/// link its `Debug` into every image for it).
#[inline]
fn gic_intid(id: IntId) -> arm_gic::IntId {
    arm_gic::IntId::try_from(id).unwrap_or_else(|_| not_a_gic_intid(id))
}

#[cold]
#[inline(never)]
fn not_a_gic_intid(id: IntId) -> ! {
    panic!("interrupt {id} is not a GIC interrupt number")
}

/// Stops boot when `arm-gic` cannot take the GICv3 it was given, saying
/// why in words (the only error its set-up returns is the frame layout).
#[cold]
fn v3_refused(e: arm_gic::gicv3::GicError) -> ! {
    match e {
        arm_gic::gicv3::GicError::InvalidRedistributorFrameLayout => {
            panic!("GICv3: the redistributors' frame layout (GICR_TYPER) is not one arm-gic supports")
        }
        _ => panic!("GICv3: arm-gic refused the distributor and redistributors"),
    }
}

impl Gic {
    /// # Safety
    /// `gicd` and `gicc` must be the mapped distributor and CPU interface, used by nobody else.
    pub unsafe fn new_v2(gicd: u64, gicc: u64) -> Self {
        // SAFETY: promised by our caller.
        let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
        gic.setup();
        gic.enable_group0(true);
        gic.set_priority_mask(PRIORITY_MASK);
        // SAFETY: promised by our caller; `arm-gic` never writes ITARGETSR or SGIR.
        let targets = unsafe { Targets::new(gicd) };
        // SAFETY: promised by our caller; `arm-gic` wrote GICC_CTLR in `setup`, and never again.
        let cpu_interface = unsafe { CpuInterface::new(gicc) };
        // SAFETY: promised by our caller; `arm-gic` never writes ISPENDR.
        let pending = unsafe { SetPending::new(gicd) };
        let interface_of_core = [const { AtomicU8::new(0) }; MAX_CPUS];
        if let Some(slot) = interface_of_core.get(this_core()) {
            slot.store(targets.this_cpu(), Ordering::Relaxed);
        }
        let lines = gic.typer().num_irqs().min(crate::irq::INTERRUPTS as u32);
        let gic = SpinLock::new("GIC", gic);
        let version = Version::V2 { gic, targets, pending, cpu_interface, interface_of_core };
        Self { version, private_enabled: AtomicU32::new(0), lines }
    }

    /// # Safety
    /// `gicd` and `gicr` must be the mapped distributor and redistributors
    /// (up to the one marked last), used by nobody else.
    pub unsafe fn new_v3(gicd: u64, gicr: u64, secure: bool) -> Self {
        let gicr = NonNull::new(gicr as *mut GicrSgi).expect("GICv3 redistributors");
        let mut redistributor_of_core = [None; MAX_CPUS];
        let mut count = 0;
        // SAFETY: promised by our caller; the iterator is gone before `GicV3` takes the registers.
        let redistributors = unsafe { GicRedistributorIterator::new(gicr) }.unwrap_or_else(|e| v3_refused(e));
        for (index, redistributor) in redistributors.enumerate() {
            let core = (redistributor.typer().core_mpidr() & 0xff) as usize;
            if let Some(slot) = redistributor_of_core.get_mut(core) {
                *slot = Some(index);
            }
            count += 1;
        }
        // SAFETY: promised by our caller.
        let gicd = unsafe { UniqueMmioPointer::new(NonNull::new(gicd as *mut _).unwrap()) };
        // SAFETY: promised by our caller.
        let mut gic = unsafe { GicV3::new(gicd, gicr, count) }.unwrap_or_else(|e| v3_refused(e));
        let boot = redistributor_of_core.get(this_core()).copied().flatten().expect("the boot core's redistributor");
        gic.setup(boot);
        if secure {
            gic.gicd_set_control(GicdCtlr::EnableGrp1S);
        }
        GicCpuInterface::set_priority_mask(PRIORITY_MASK);
        // The SGIs and PPIs, then the SPIs (the extended SPI range is not used).
        let lines = (32 + gic.typer().num_spis()).min(crate::irq::INTERRUPTS as u32);
        let gic = SpinLock::new("GIC", gic);
        let version = Version::V3 { gic, secure, redistributor_of_core };
        Self { version, private_enabled: AtomicU32::new(0), lines }
    }

    pub fn version(&self) -> u8 {
        match self.version {
            Version::V2 { .. } => 2,
            Version::V3 { .. } => 3,
        }
    }

    /// Sets up the calling core, `cpu` (not the boot core), once it is up:
    /// its CPU interface on with the boot core's priority mask, and every
    /// private interrupt enabled so far (the timer, the IPIs) enabled on its
    /// side, as on the boot core.
    pub fn init_cpu(&self, cpu: usize) {
        debug_assert_eq!(cpu, this_core(), "init_cpu runs on the core it sets up");
        match &self.version {
            Version::V2 { targets, cpu_interface, interface_of_core, .. } => {
                if let Some(slot) = interface_of_core.get(cpu) {
                    slot.store(targets.this_cpu(), Ordering::Relaxed);
                }
                cpu_interface.set_priority_mask(PRIORITY_MASK);
                cpu_interface.enable();
            }
            Version::V3 { gic, redistributor_of_core, .. } => {
                let Some(index) = redistributor_of_core.get(cpu).copied().flatten() else {
                    log::warn!("GICv3: core {cpu} has no redistributor; it gets no interrupts");
                    return;
                };
                // System-register access, the redistributor awake, EOI deactivates.
                gic.lock().init_cpu(index);
                GicCpuInterface::enable_group1(true);
                GicCpuInterface::set_priority_mask(PRIORITY_MASK);
            }
        }
        let private = self.private_enabled.load(Ordering::Acquire);
        for id in (0..32).filter(|id| private & (1 << id) != 0) {
            self.enable_on(cpu, id, true);
        }
    }

    /// The cores with a GICv3 redistributor, each reachable from any core
    /// (memory-mapped). A GICv2 has none: its private copies are banked,
    /// each core reaching only its own.
    fn cores_with_redistributor(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_CPUS).filter(move |&cpu| match &self.version {
            Version::V2 { .. } => false,
            Version::V3 { redistributor_of_core, .. } => redistributor_of_core.get(cpu).copied().flatten().is_some(),
        })
    }

    /// Group, priority, trigger (shared interrupts), routing and enable bit
    /// of `id`: a shared one routed to the calling core; a private one in
    /// core `cpu`'s copy (on GICv2, `cpu` must be the calling core).
    fn enable_on(&self, cpu: usize, id: IntId, level_triggered: bool) {
        let intid = gic_intid(id);
        let trigger = if level_triggered { Trigger::Level } else { Trigger::Edge };
        match &self.version {
            Version::V2 { gic, targets, .. } => {
                debug_assert!(!intid.is_private() || cpu == this_core(), "a GICv2's private interrupts are banked");
                let mut gic = gic.lock();
                gic.set_group(intid, InterruptGroup::Group0);
                gic.set_interrupt_priority(intid, PRIORITY);
                if !intid.is_private() {
                    gic.set_trigger(intid, trigger);
                    targets.route(id, targets.this_cpu());
                }
                let _ = gic.enable_interrupt(intid, true);
            }
            Version::V3 { gic, secure, redistributor_of_core } => {
                let mut gic = gic.lock();
                let cpu = if intid.is_private() {
                    let Some(index) = redistributor_of_core.get(cpu).copied().flatten() else { return };
                    Some(index)
                } else {
                    None
                };
                let group = if *secure { Group::Secure(SecureIntGroup::Group1S) } else { Group::Group1NS };
                let _ = gic.set_group(intid, cpu, group);
                let _ = gic.set_interrupt_priority(intid, cpu, PRIORITY);
                if !intid.is_private() {
                    let _ = gic.set_trigger(intid, cpu, trigger);
                }
                let _ = gic.enable_interrupt(intid, cpu, true);
            }
        }
    }

    /// Raises SGI `sgi` on core `cpu` (which may be the calling core).
    fn send_sgi(&self, sgi: IntId, cpu: usize) -> Result<(), IrqError> {
        let intid = arm_gic::IntId::try_from(sgi).ok().filter(|i| i.is_sgi()).ok_or(IrqError::Unsupported(sgi))?;
        // What the sender wrote before must be visible to the core the SGI interrupts.
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
        match &self.version {
            Version::V2 { targets, .. } if cpu == this_core() => targets.send_sgi_to_self(sgi),
            Version::V2 { targets, interface_of_core, .. } => {
                let interface = interface_of_core.get(cpu).map_or(0, |i| i.load(Ordering::Relaxed));
                if interface == 0 {
                    return Err(IrqError::NoSuchCpu(cpu));
                }
                targets.send_sgi(sgi, interface);
            }
            Version::V3 { redistributor_of_core, .. } => {
                if redistributor_of_core.get(cpu).copied().flatten().is_none() {
                    return Err(IrqError::NoSuchCpu(cpu));
                }
                // Every core is in the boot core's cluster (Aff3.Aff2.Aff1); Aff0 is its number.
                let (aff3, aff2, aff1, _) = crate::arch::cpu::affinity();
                let target = arm_gic::gicv3::SgiTarget::List {
                    affinity3: aff3,
                    affinity2: aff2,
                    affinity1: aff1,
                    target_list: 1 << cpu,
                };
                GicCpuInterface::send_sgi(intid, target, arm_gic::gicv3::SgiTargetGroup::CurrentGroup1)
                    .map_err(|_| IrqError::Unsupported(sgi))?
            }
        }
        Ok(())
    }
}

impl InterruptController for Gic {
    /// The numbers below the distributor's count (GICD_TYPER): QEMU `virt`
    /// has 288, not the 1020 the architecture allows.
    fn has_interrupt(&self, id: IntId) -> bool {
        id < self.lines
    }

    /// A private interrupt (0 to 31) is enabled on every core the calling
    /// core can reach ([`Gic::cores_with_redistributor`]: all of them on GICv3, itself
    /// on GICv2) and on every core that comes up later ([`Gic::init_cpu`]).
    /// (On GICv3 it was enabled on the calling core only: an application's
    /// software interrupt raised by a task on another core stayed pending
    /// there, its handler never run.)
    fn enable(&self, id: IntId, level_triggered: bool) {
        if id < 32 {
            self.private_enabled.fetch_or(1 << id, Ordering::AcqRel);
            if let Version::V3 { .. } = self.version {
                return self.cores_with_redistributor().for_each(|cpu| self.enable_on(cpu, id, level_triggered));
            }
        }
        // A shared interrupt, or a GICv2's private one: the calling core's.
        self.enable_on(this_core(), id, level_triggered)
    }

    /// A private interrupt is disabled where [`Gic::enable`] enables it, and
    /// no longer enabled on cores that come up later.
    fn disable(&self, id: IntId) {
        let intid = gic_intid(id);
        if id < 32 {
            self.private_enabled.fetch_and(!(1 << id), Ordering::AcqRel);
        }
        match &self.version {
            Version::V2 { gic, .. } => {
                let _ = gic.lock().enable_interrupt(intid, false);
            }
            Version::V3 { gic, redistributor_of_core, .. } if intid.is_private() => {
                for cpu in self.cores_with_redistributor() {
                    let index = redistributor_of_core.get(cpu).copied().flatten();
                    let _ = gic.lock().enable_interrupt(intid, index, false);
                }
            }
            Version::V3 { gic, .. } => {
                let _ = gic.lock().enable_interrupt(intid, None, false);
            }
        }
    }

    /// Without the lock: each core has its own CPU interface.
    /// A GICv2's acknowledge value (GICC_IAR, with the sender of an SGI)
    /// goes back to it at the end as the token. (Inlined, as are the two
    /// below, into the interrupt path, which calls them directly.)
    #[inline]
    fn acknowledge(&self) -> Option<Acknowledged> {
        match &self.version {
            Version::V2 { cpu_interface, .. } => {
                let (id, raw) = cpu_interface.acknowledge()?;
                Some(Acknowledged { id, token: raw })
            }
            Version::V3 { .. } => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
                .map(|id| Acknowledged { id: id.into(), token: 0 }),
        }
    }

    /// To this core: on a GICv2, one register write (GICD_SGIR) after the
    /// barrier; the rest through [`Gic::send_sgi`].
    #[inline]
    fn send_software(&self, id: IntId) -> Result<(), IrqError> {
        match &self.version {
            Version::V2 { targets, .. } if id < 16 => {
                // What the sender wrote before must be visible to the handler.
                aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
                targets.send_sgi_to_self(id);
                Ok(())
            }
            _ => self.send_sgi(id, this_core()),
        }
    }

    /// GICv2 only (the boards with a device to stand in for use it).
    fn set_pending(&self, id: IntId) -> Result<(), IrqError> {
        match &self.version {
            Version::V2 { pending, .. } if id < self.lines => {
                pending.set(id);
                Ok(())
            }
            _ => Err(IrqError::Unsupported(id)),
        }
    }

    fn ipi_id(&self, ipi: Ipi) -> Option<IntId> {
        Some(match ipi {
            Ipi::Reschedule => RESCHEDULE_SGI,
            Ipi::Stop => STOP_SGI,
        })
    }

    fn send_ipi(&self, cpu: usize, ipi: Ipi) -> Result<(), IrqError> {
        let sgi = self.ipi_id(ipi).ok_or(IrqError::NoIpi)?;
        self.send_sgi(sgi, cpu)
    }

    #[inline]
    fn end_of_interrupt(&self, acknowledged: Acknowledged) {
        match &self.version {
            Version::V2 { cpu_interface, .. } => cpu_interface.end(acknowledged.token),
            Version::V3 { .. } => {
                let intid = gic_intid(acknowledged.id);
                GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1)
            }
        }
    }
}
