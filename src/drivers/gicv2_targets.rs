//! The GICv2 distributor's interrupt processor targets (GICD_ITARGETSR),
//! which the `arm-gic` crate does not program.
//!
//! On a GICv2 with more than one CPU interface (the Pi 4's GIC-400 has
//! four), a shared peripheral interrupt (SPI) reaches no core until its
//! target byte names one; [`super::gic`] points each SPI it enables at the
//! CPU interface of the core running the kernel. On a one-CPU GIC (QEMU
//! virt with one core) the bytes read as zero and writes are ignored, which
//! is harmless.

use super::mmio::Mmio;
use tock_registers::fields::Field;
use tock_registers::interfaces::{ReadWriteable, Readable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Four interrupts per register, a byte each: one bit per CPU interface
    /// the interrupt is sent to.
    ITARGETSR [
        TARGETS0 OFFSET(0) NUMBITS(8) [],
        TARGETS1 OFFSET(8) NUMBITS(8) [],
        TARGETS2 OFFSET(16) NUMBITS(8) [],
        TARGETS3 OFFSET(24) NUMBITS(8) []
    ]
}

const TARGETS: [Field<u32, ITARGETSR::Register>; 4] =
    [ITARGETSR::TARGETS0, ITARGETSR::TARGETS1, ITARGETSR::TARGETS2, ITARGETSR::TARGETS3];

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x000 => ITARGETSR: [ReadWrite<u32, ITARGETSR::Register>; 255]),
        (0x3fc => _reserved),
        (0x400 => @END),
    }
}

/// Where ITARGETSR starts in the distributor.
const ITARGETSR_OFFSET: u64 = 0x800;

/// The distributor's target registers. The GIC driver serialises writers
/// (it routes an interrupt under its lock).
pub struct Targets {
    regs: Mmio<Registers>,
}

impl Targets {
    /// # Safety
    /// `gicd` must be the mapped GICv2 distributor; nothing else may write its
    /// ITARGETSR registers.
    pub unsafe fn new(gicd: u64) -> Self {
        // SAFETY: promised by our caller; ITARGETSR is inside the distributor.
        Self { regs: unsafe { Mmio::new(gicd + ITARGETSR_OFFSET) } }
    }

    /// The CPU interface mask of the calling core: the first eight target
    /// bytes are banked per core and read as the core's own bit.
    pub fn this_cpu(&self) -> u8 {
        self.regs.ITARGETSR[0].read(ITARGETSR::TARGETS0) as u8
    }

    /// Sends shared interrupt `intid` (32 or more) to the CPU interfaces in `cpus`.
    pub fn route(&self, intid: u32, cpus: u8) {
        if let Some(reg) = self.regs.ITARGETSR.get(intid as usize / 4).filter(|_| intid >= 32) {
            reg.modify(TARGETS[intid as usize % 4].val(cpus.into()));
        }
    }
}
