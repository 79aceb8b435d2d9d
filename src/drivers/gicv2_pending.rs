//! The GICv2 distributor's set-pending registers (GICD_ISPENDR), which the
//! `arm-gic` crate (0.10) leaves alone: writing a 1 makes that interrupt
//! pending as if its device had raised it. Tests use it to stand in for a
//! device QEMU does not model fully (`gpio::simulate_edge`): the interrupt
//! then takes the real path (acknowledge, handler, end of interrupt).
//!
//! For a level-sensitive interrupt the GIC keeps a software pending state
//! apart from the device's line: acknowledging it clears that state, so
//! with the line low it arrives once.

use super::mmio::Mmio;
use tock_registers::interfaces::Writeable;
use tock_registers::registers::WriteOnly;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// One bit per interrupt, 32 per register: a 1 makes it pending.
    ISPENDR [ INTIDS OFFSET(0) NUMBITS(32) [] ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x00 => ISPENDR: [WriteOnly<u32, ISPENDR::Register>; 32]),
        (0x80 => @END),
    }
}

/// Where ISPENDR starts in the distributor.
const ISPENDR_OFFSET: u64 = 0x200;

/// The distributor's set-pending registers: each write is one store that
/// changes only the interrupts written as 1, so writers need no lock.
pub struct SetPending {
    regs: Mmio<Registers>,
}

impl SetPending {
    /// # Safety
    /// `gicd` must be the mapped GICv2 distributor.
    pub unsafe fn new(gicd: u64) -> Self {
        // SAFETY: promised by our caller; ISPENDR is inside the distributor.
        Self { regs: unsafe { Mmio::new(gicd + ISPENDR_OFFSET) } }
    }

    /// Makes interrupt `intid` (0 to 1019) pending.
    pub fn set(&self, intid: u32) {
        if let Some(register) = self.regs.ISPENDR.get(intid as usize / 32) {
            register.write(ISPENDR::INTIDS.val(1 << (intid % 32)));
        }
    }
}
