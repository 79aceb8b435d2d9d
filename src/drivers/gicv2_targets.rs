//! The GICv2 distributor's interrupt processor targets (GICD_ITARGETSR),
//! which the `arm-gic` crate does not program.
//!
//! On a GICv2 with more than one CPU interface (the Pi 4's GIC-400 has
//! four), a shared peripheral interrupt (SPI) reaches no core until its
//! target byte names one; [`super::gic`] points each SPI it enables at the
//! CPU interface of the core running the kernel. On a one-CPU GIC (QEMU
//! virt with one core) the bytes read as zero and writes are ignored, which
//! is harmless.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u8,
    /// One bit per CPU interface: which of them the interrupt is sent to.
    TARGETS [ CPUS OFFSET(0) NUMBITS(8) [] ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x000 => ITARGETSR: [ReadWrite<u8, TARGETS::Register>; 1020]),
        (0x3fc => _reserved),
        (0x400 => @END),
    }
}

/// Where ITARGETSR starts in the distributor.
const ITARGETSR_OFFSET: u64 = 0x800;

pub struct Targets {
    regs: *const Registers,
}

// SAFETY: MMIO registers, each access a single volatile byte read or write;
// the GIC driver serialises writers.
unsafe impl Sync for Targets {}
// SAFETY: as above.
unsafe impl Send for Targets {}

impl Targets {
    /// # Safety
    /// `gicd` must be the mapped GICv2 distributor; nothing else may write its
    /// ITARGETSR registers.
    pub unsafe fn new(gicd: u64) -> Self {
        Self { regs: (gicd + ITARGETSR_OFFSET) as *const Registers }
    }

    fn regs(&self) -> &Registers {
        // SAFETY: `new`'s caller promised a valid mapping.
        unsafe { &*self.regs }
    }

    /// The CPU interface mask of the calling core: the first eight target
    /// bytes are banked per core and read as the core's own bit.
    pub fn this_cpu(&self) -> u8 {
        self.regs().ITARGETSR[0].read(TARGETS::CPUS)
    }

    /// Sends shared interrupt `intid` (32 or more) to the CPU interfaces in `cpus`.
    pub fn route(&self, intid: u32, cpus: u8) {
        if let Some(target) = self.regs().ITARGETSR.get(intid as usize).filter(|_| intid >= 32) {
            target.write(TARGETS::CPUS.val(cpus));
        }
    }
}
