//! The ARM Generic Interrupt Controller, versions 2 and 3, through the
//! `arm-gic` crate, behind ilusion's [`InterruptController`] interface.
//!
//! Which interrupt *group* to use depends on the security state the kernel
//! runs in (see `docs/01-from-reset-to-main.md`): booted from EL3, ilusion
//! stays in the Secure world and uses Secure groups; otherwise Non-secure
//! group 1. On GICv2 the "group 0" registers (IAR/EOIR) are the right ones
//! in every case: in the Non-secure view they handle the Non-secure group.
//! GICv2 shared interrupts are also routed to this core
//! ([`super::gicv2_targets`]).

use super::gicv2_targets::Targets;
use crate::critical::SpinLock;
use crate::irq::{IntId, InterruptController};
use arm_gic::gicv2::GicV2;
use arm_gic::gicv3::registers::GicdCtlr;
use arm_gic::gicv3::{GicCpuInterface, GicV3, Group, SecureIntGroup};
use arm_gic::{InterruptGroup, Trigger, UniqueMmioPointer};
use core::ptr::NonNull;

pub enum Gic {
    V2 { gic: SpinLock<GicV2<'static>>, targets: Targets },
    V3 { gic: SpinLock<GicV3<'static>>, secure: bool },
}

/// The priority given to every interrupt (lower is more urgent).
const PRIORITY: u8 = 0x80;

impl Gic {
    /// # Safety
    /// `gicd` and `gicc` must be the mapped distributor and CPU interface, used by nobody else.
    pub unsafe fn new_v2(gicd: u64, gicc: u64) -> Self {
        // SAFETY: promised by our caller.
        let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
        gic.setup();
        gic.enable_group0(true);
        gic.set_priority_mask(0xff);
        // SAFETY: promised by our caller; `arm-gic` never writes ITARGETSR.
        let targets = unsafe { Targets::new(gicd) };
        Self::V2 { gic: SpinLock::new("GIC", gic), targets }
    }

    /// # Safety
    /// `gicd` and `gicr` must be the mapped distributor and redistributors, used by nobody else.
    pub unsafe fn new_v3(gicd: u64, gicr: u64, cpus: usize, secure: bool) -> Self {
        // SAFETY: promised by our caller.
        let gicd = unsafe { UniqueMmioPointer::new(NonNull::new(gicd as *mut _).unwrap()) };
        // SAFETY: promised by our caller.
        let mut gic =
            unsafe { GicV3::new(gicd, NonNull::new(gicr as *mut _).unwrap(), cpus) }.expect("GICv3 redistributors");
        gic.setup(0);
        if secure {
            gic.gicd_set_control(GicdCtlr::EnableGrp1S);
        }
        GicCpuInterface::set_priority_mask(0xff);
        Self::V3 { gic: SpinLock::new("GIC", gic), secure }
    }

    pub fn version(&self) -> u8 {
        match self {
            Self::V2 { .. } => 2,
            Self::V3 { .. } => 3,
        }
    }
}

impl InterruptController for Gic {
    fn enable(&self, id: IntId, level_triggered: bool) {
        let intid = arm_gic::IntId::try_from(id).expect("valid interrupt id");
        let trigger = if level_triggered { Trigger::Level } else { Trigger::Edge };
        match self {
            Self::V2 { gic, targets } => {
                let mut gic = gic.lock();
                gic.set_group(intid, InterruptGroup::Group0);
                gic.set_interrupt_priority(intid, PRIORITY);
                if !intid.is_private() {
                    gic.set_trigger(intid, trigger);
                    targets.route(id, targets.this_cpu());
                }
                let _ = gic.enable_interrupt(intid, true);
            }
            Self::V3 { gic, secure } => {
                let mut gic = gic.lock();
                let cpu = intid.is_private().then_some(0);
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

    fn disable(&self, id: IntId) {
        let intid = arm_gic::IntId::try_from(id).expect("valid interrupt id");
        match self {
            Self::V2 { gic, .. } => {
                let _ = gic.lock().enable_interrupt(intid, false);
            }
            Self::V3 { gic, .. } => {
                let _ = gic.lock().enable_interrupt(intid, intid.is_private().then_some(0), false);
            }
        }
    }

    fn acknowledge(&self) -> Option<IntId> {
        match self {
            Self::V2 { gic, .. } => gic.lock().get_and_acknowledge_interrupt(InterruptGroup::Group0),
            Self::V3 { .. } => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1),
        }
        .map(u32::from)
    }

    fn send_software(&self, id: IntId) -> Result<(), crate::irq::IrqError> {
        let intid = arm_gic::IntId::try_from(id).ok().filter(|i| i.is_sgi());
        let intid = intid.ok_or(crate::irq::IrqError::Unsupported(id))?;
        match self {
            // The lock masks interrupts: the SGI is taken once it is released.
            Self::V2 { gic, .. } => gic.lock().send_sgi(
                intid,
                arm_gic::gicv2::SgiTarget::List {
                    target_list_filter: arm_gic::gicv2::SgiTargetListFilter::ForwardSelfOnly,
                    target_list: 0,
                },
            ),
            Self::V3 { .. } => {
                let (aff3, aff2, aff1, aff0) = crate::arch::cpu::affinity();
                let target = arm_gic::gicv3::SgiTarget::List {
                    affinity3: aff3,
                    affinity2: aff2,
                    affinity1: aff1,
                    target_list: 1 << (aff0 & 15),
                };
                GicCpuInterface::send_sgi(intid, target, arm_gic::gicv3::SgiTargetGroup::CurrentGroup1)
                    .map_err(|_| crate::irq::IrqError::Unsupported(id))?
            }
        }
        Ok(())
    }

    fn end_of_interrupt(&self, id: IntId) {
        let intid = arm_gic::IntId::try_from(id).expect("valid interrupt id");
        match self {
            Self::V2 { gic, .. } => gic.lock().end_interrupt(intid, InterruptGroup::Group0),
            Self::V3 { .. } => GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1),
        }
    }
}
