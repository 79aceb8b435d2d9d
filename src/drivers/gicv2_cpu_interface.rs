//! The GICv2 CPU interface, which every core has its own of, reached
//! without the `arm-gic` crate's lock.
//!
//! The CPU interface is banked: every core sees its own at the same
//! address. So no lock is needed to use it, while `arm-gic` (0.10) keeps it
//! in one object with the shared distributor, behind the GIC driver's lock:
//! taking an interrupt would serialise every core on that lock. And each
//! core must switch its interface on before the GIC signals it anything:
//! the boot core's is switched on by `arm-gic`'s `setup`, which also resets
//! every interrupt's group and so must run once; the other cores switch
//! theirs on here ([`super::gic::Gic::init_cpu`]).
//!
//! An SGI's acknowledge value (GICC_IAR) names the core that sent it
//! (CPUID, bits 10 to 12), and its end of interrupt must repeat it:
//! [`CpuInterface::acknowledge`] returns the whole value for that.

use super::mmio::Mmio;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Bit 0 enables signalling the interrupts of the accessing world's
    /// group (Group 0 from the Secure world, Group 1 from the Non-secure).
    GICC_CTLR [
        ENABLE OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupts less urgent than this (numerically higher) are held back.
    GICC_PMR [
        PRIORITY OFFSET(0) NUMBITS(8) []
    ],
    /// The acknowledged interrupt (GICC_IAR); written back to GICC_EOIR.
    GICC_IAR [
        INTID OFFSET(0) NUMBITS(10) [],
        CPUID OFFSET(10) NUMBITS(3) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x000 => CTLR: ReadWrite<u32, GICC_CTLR::Register>),
        (0x004 => PMR: ReadWrite<u32, GICC_PMR::Register>),
        (0x008 => _bpr),
        (0x00c => IAR: ReadOnly<u32, GICC_IAR::Register>),
        (0x010 => EOIR: WriteOnly<u32, GICC_IAR::Register>),
        (0x014 => @END),
    }
}

/// The first special INTID (1020 to 1023: nothing to acknowledge).
const SPECIAL: u32 = 1020;

/// The calling core's CPU interface.
pub struct CpuInterface {
    regs: Mmio<Registers>,
}

impl CpuInterface {
    /// # Safety
    /// `gicc` must be the mapped GICv2 CPU interface; `arm-gic` may use it
    /// only to set it up (`setup`, `set_priority_mask` on the boot core).
    pub unsafe fn new(gicc: u64) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(gicc) } }
    }

    /// Lets the calling core's CPU interface signal interrupts to it, as
    /// `arm-gic`'s `setup` does on the boot core.
    pub fn enable(&self) {
        self.regs.CTLR.write(GICC_CTLR::ENABLE::SET);
    }

    /// Lets interrupts of priority `mask` and more urgent through.
    pub fn set_priority_mask(&self, mask: u8) {
        self.regs.PMR.write(GICC_PMR::PRIORITY.val(mask.into()));
    }

    /// Acknowledges the most urgent pending interrupt: its INTID and the
    /// raw value [`CpuInterface::end`] needs, or `None` if nothing is pending.
    pub fn acknowledge(&self) -> Option<(u32, u32)> {
        let raw = self.regs.IAR.get();
        let intid = raw & 0x3ff;
        (intid < SPECIAL).then_some((intid, raw))
    }

    /// Ends the interrupt [`CpuInterface::acknowledge`] returned `raw` for.
    pub fn end(&self, raw: u32) {
        self.regs.EOIR.set(raw);
    }
}
