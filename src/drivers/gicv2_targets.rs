//! Where the GICv2 distributor sends interrupts, as far as the `arm-gic`
//! crate does not say it: the processor targets of shared interrupts
//! (GICD_ITARGETSR), and software-generated interrupts to chosen cores
//! (GICD_SGIR).
//!
//! On a GICv2 with more than one CPU interface (the Pi 4's GIC-400 has
//! four), a shared peripheral interrupt (SPI) reaches no core until its
//! target byte names one; [`super::gic`] points each SPI it enables at the
//! CPU interface of the core running the kernel. On a one-CPU GIC (QEMU
//! virt with one core) the bytes read as zero and writes are ignored, which
//! is harmless.
//!
//! An SGI is written here rather than through `arm-gic` (0.10), which
//! always sets SGIR's NSATT bit: from the Secure world (ilusion started at
//! EL3) that forwards the SGI only to cores where it is Group 1, while
//! ilusion's are Group 0 there. NSATT = 0 is right in both worlds (the
//! Non-secure world's writes ignore it).

use super::mmio::Mmio;
use tock_registers::fields::Field;
use tock_registers::interfaces::Writeable;
use tock_registers::interfaces::{ReadWriteable, Readable};
use tock_registers::registers::{ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Four interrupts per register, a byte each: one bit per CPU interface
    /// the interrupt is sent to.
    ITARGETSR [
        TARGETS0 OFFSET(0) NUMBITS(8) [],
        TARGETS1 OFFSET(8) NUMBITS(8) [],
        TARGETS2 OFFSET(16) NUMBITS(8) [],
        TARGETS3 OFFSET(24) NUMBITS(8) []
    ],
    /// Raises a software-generated interrupt on the cores the filter picks.
    SGIR [
        SGIINTID OFFSET(0) NUMBITS(4) [],
        NSATT OFFSET(15) NUMBITS(1) [],
        CPU_TARGET_LIST OFFSET(16) NUMBITS(8) [],
        TARGET_LIST_FILTER OFFSET(24) NUMBITS(2) [
            /// The CPU interfaces in CPU_TARGET_LIST.
            List = 0,
            /// Every CPU interface but the writer's.
            Others = 1,
            /// Only the writer's CPU interface.
            Myself = 2
        ]
    ]
}

const TARGETS: [Field<u32, ITARGETSR::Register>; 4] =
    [ITARGETSR::TARGETS0, ITARGETSR::TARGETS1, ITARGETSR::TARGETS2, ITARGETSR::TARGETS3];

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x000 => ITARGETSR: [ReadWrite<u32, ITARGETSR::Register>; 255]),
        (0x3fc => _reserved),
        (0x700 => SGIR: WriteOnly<u32, SGIR::Register>),
        (0x704 => @END),
    }
}

/// Where ITARGETSR starts in the distributor.
const ITARGETSR_OFFSET: u64 = 0x800;

/// The distributor's target registers. The GIC driver serialises the
/// writers of ITARGETSR (it routes an interrupt under its lock); an SGIR
/// write is one store, which any core may make at any time.
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

    /// Raises SGI `sgi` (0 to 15) on the calling core.
    pub fn send_sgi_to_self(&self, sgi: u32) {
        self.regs.SGIR.write(SGIR::SGIINTID.val(sgi) + SGIR::NSATT::CLEAR + SGIR::TARGET_LIST_FILTER::Myself);
    }

    /// Raises SGI `sgi` (0 to 15) on the CPU interfaces in `cpus`.
    pub fn send_sgi(&self, sgi: u32, cpus: u8) {
        self.regs.SGIR.write(
            SGIR::SGIINTID.val(sgi)
                + SGIR::NSATT::CLEAR
                + SGIR::CPU_TARGET_LIST.val(cpus.into())
                + SGIR::TARGET_LIST_FILTER::List,
        );
    }
}
