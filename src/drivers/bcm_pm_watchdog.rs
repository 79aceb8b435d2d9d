//! The power-management (PM) watchdog of the Broadcom BCM2835 family
//! (BCM2837 on the Raspberry Pi 3, BCM2711 on the Pi 4): the one way the
//! ARM cores can reset the whole chip, used for [`PmWatchdog::reset`].
//!
//! The watchdog counts `PM_WDOG` down (in ticks of about 16 µs) and, when
//! it reaches zero, resets the chip the way `PM_RSTC`'s WRCFG field says.
//! Every write to a PM register must carry the password 0x5A in its top
//! byte, or the block ignores it. A reset: a short count in `PM_WDOG`, then
//! WRCFG = full reset. This is what Linux's `bcm2835_wdt` does to restart,
//! and what QEMU's `raspi3b`/`raspi4b` model (with `-no-reboot` QEMU exits).
//! See the BCM2835 ARM Peripherals errata (the PM block is undocumented
//! there) and Linux `drivers/watchdog/bcm2835_wdt.c`.

use super::mmio::Mmio;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Reset control: what happens when the watchdog fires.
    PM_RSTC [
        /// Which reset: 0b10 = full chip reset.
        WRCFG OFFSET(4) NUMBITS(2) [Clear = 0b00, FullReset = 0b10],
        PASSWORD OFFSET(24) NUMBITS(8) [Key = 0x5a]
    ],
    /// The watchdog counter, in ticks of about 16 µs.
    PM_WDOG [
        TIME OFFSET(0) NUMBITS(20) [],
        PASSWORD OFFSET(24) NUMBITS(8) [Key = 0x5a]
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x00 => _reserved0),
        (0x1c => PM_RSTC: ReadWrite<u32, PM_RSTC::Register>),
        (0x20 => _reserved1),
        (0x24 => PM_WDOG: ReadWrite<u32, PM_WDOG::Register>),
        (0x28 => @END),
    }
}

/// Watchdog ticks before the reset (about 160 µs), as Linux uses.
const RESET_TICKS: u32 = 10;
/// WRCFG's bits in `PM_RSTC`, replaced by a reset request; the other bits are kept.
const WRCFG_MASK: u32 = 0b11 << 4;

/// The PM block's watchdog and reset control.
pub struct PmWatchdog {
    regs: Mmio<Registers>,
}

impl PmWatchdog {
    /// # Safety
    /// `base` is the kernel address of the PM block (peripherals + 0x10_0000),
    /// mapped as device memory for good, and no other driver instance uses it.
    pub const unsafe fn new(base: u64) -> Self {
        // SAFETY: passed on from our caller.
        Self { regs: unsafe { Mmio::new(base) } }
    }

    /// Resets the whole chip: arms the watchdog with a short count and asks
    /// for a full reset when it fires, then waits for it. Only the last core
    /// standing should call it (nothing else touches `PM_RSTC`).
    pub fn reset(&self) -> ! {
        self.regs.PM_WDOG.write(PM_WDOG::PASSWORD::Key + PM_WDOG::TIME.val(RESET_TICKS));
        let kept = self.regs.PM_RSTC.get() & !WRCFG_MASK & 0x00ff_ffff;
        self.regs.PM_RSTC.set(kept | (PM_RSTC::PASSWORD::Key + PM_RSTC::WRCFG::FullReset).value);
        crate::arch::cpu::halt()
    }
}
