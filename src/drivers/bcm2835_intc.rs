//! The BCM2835 peripheral ("GPU") interrupt controller, in the BCM2837 of
//! the Raspberry Pi 3 at 0x3F00_B200: 64 peripheral interrupts (the UARTs,
//! GPIO, the system timer, ...) in two banks of 32, each with a pending,
//! an enable-set and an enable-clear register. When any enabled one is
//! pending it raises the "GPU" source of the ARM-local block
//! ([`super::bcm2836_local`]). See the BCM2835 ARM Peripherals manual,
//! chapter 7 "Interrupts". (The eight "basic" ARM interrupts are not used.)

use super::mmio::Mmio;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// One bit per peripheral interrupt of a bank.
    BANK [ IRQS OFFSET(0) NUMBITS(32) [] ],
    /// The basic ARM interrupts (ARM timer, doorbells, ...).
    BASIC [ IRQS OFFSET(0) NUMBITS(8) [] ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x00 => _basic_pending),
        (0x04 => PENDING: [ReadOnly<u32, BANK::Register>; 2]),
        (0x0c => _fiq_control),
        (0x10 => ENABLE: [WriteOnly<u32, BANK::Register>; 2]),
        (0x18 => _enable_basic),
        (0x1c => DISABLE: [WriteOnly<u32, BANK::Register>; 2]),
        (0x24 => DISABLE_BASIC: WriteOnly<u32, BASIC::Register>),
        (0x28 => @END),
    }
}

/// Peripheral interrupt numbers: 0 to 63.
pub const IRQ_COUNT: u32 = 64;

/// The controller's registers. Its enable and disable registers are
/// write-one-to-change, so writers never interleave a read-modify-write.
pub struct PeripheralInterrupts {
    regs: Mmio<Registers>,
}

impl PeripheralInterrupts {
    /// # Safety
    /// `base` must be the mapped address of the controller's registers, used by nobody else.
    pub const unsafe fn new(base: u64) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(base) } }
    }

    /// Everything off.
    pub fn init(&self) {
        let r = &self.regs;
        for bank in &r.DISABLE {
            bank.write(BANK::IRQS.val(u32::MAX));
        }
        r.DISABLE_BASIC.write(BASIC::IRQS.val(0xff));
    }

    pub fn set_enabled(&self, irq: u32, enabled: bool) {
        assert!(irq < IRQ_COUNT, "peripheral interrupt {irq} does not exist");
        let r = &self.regs;
        let banks = if enabled { &r.ENABLE } else { &r.DISABLE };
        banks[(irq / 32) as usize].write(BANK::IRQS.val(1 << (irq % 32)));
    }

    /// The lowest-numbered pending interrupt among those in `enabled` (a
    /// 64-bit mask), if any.
    pub fn pending(&self, enabled: u64) -> Option<u32> {
        let r = &self.regs;
        let pending = u64::from(r.PENDING[0].get()) | (u64::from(r.PENDING[1].get()) << 32);
        let mine = pending & enabled;
        (mine != 0).then(|| mine.trailing_zeros())
    }
}
