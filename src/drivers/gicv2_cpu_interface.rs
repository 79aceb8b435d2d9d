//! The GICv2 CPU interface's control register (GICC_CTLR), which the
//! `arm-gic` crate writes only in its whole-GIC `setup`.
//!
//! The CPU interface is banked: every core sees its own at the same
//! address, and each must switch its own on before the GIC signals it
//! anything. The boot core's is switched on by `arm-gic`'s `setup`, which
//! also resets every interrupt's group and so must run once; the other
//! cores switch theirs on here ([`super::gic::Gic::init_cpu`]).

use super::mmio::Mmio;
use tock_registers::interfaces::Writeable;
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Bit 0 enables signalling the interrupts of the accessing world's
    /// group (Group 0 from the Secure world, Group 1 from the Non-secure).
    GICC_CTLR [
        ENABLE OFFSET(0) NUMBITS(1) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x000 => CTLR: ReadWrite<u32, GICC_CTLR::Register>),
        (0x004 => @END),
    }
}

/// The calling core's CPU interface control.
pub struct CpuInterface {
    regs: Mmio<Registers>,
}

impl CpuInterface {
    /// # Safety
    /// `gicc` must be the mapped GICv2 CPU interface; nothing else may write
    /// its GICC_CTLR but `arm-gic`'s `setup` on the boot core.
    pub unsafe fn new(gicc: u64) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(gicc) } }
    }

    /// Lets the calling core's CPU interface signal interrupts to it, as
    /// `arm-gic`'s `setup` does on the boot core.
    pub fn enable(&self) {
        self.regs.CTLR.write(GICC_CTLR::ENABLE::SET);
    }
}
