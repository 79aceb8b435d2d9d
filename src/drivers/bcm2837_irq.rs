//! The Raspberry Pi 3's interrupt controller as one [`InterruptController`]:
//! the BCM2836 ARM-local block ([`super::bcm2836_local`]) in front of the
//! BCM2835 peripheral controller ([`super::bcm2835_intc`]).
//!
//! Neither has GIC-style INTIDs, so this driver defines its own numbering:
//!
//! | IntId   | Source                                                         |
//! |---------|----------------------------------------------------------------|
//! | 0..=3   | core 0's generic timers: 0 CNTPS, 1 CNTPNS, 2 CNTHP, 3 CNTV    |
//! | 4..=31  | reserved (mailboxes, PMU, local timer: not supported yet)      |
//! | 32..=95 | peripheral interrupt n as 32 + n (UART0 = 57 → 89)             |
//!
//! Only core 0 is served. Both levels are level-triggered and are cleared
//! at the device, so there is nothing to do at end of interrupt.

use super::bcm2835_intc::{PeripheralInterrupts, IRQ_COUNT};
use super::bcm2836_local::{LocalInterrupts, Source, Timer};
use crate::irq::{IntId, InterruptController};
use core::sync::atomic::{AtomicU64, Ordering};

/// The first IntId of the peripheral interrupts.
pub const PERIPHERAL_BASE: IntId = 32;

/// The IntId of peripheral interrupt `irq` (0..64).
pub const fn peripheral(irq: u32) -> IntId {
    PERIPHERAL_BASE + irq
}

/// The IntId of one of core 0's generic timers.
pub const fn timer(timer: Timer) -> IntId {
    timer as IntId
}

/// The core this driver routes everything to.
const CORE: usize = 0;

pub struct Bcm2837Interrupts {
    local: LocalInterrupts,
    peripherals: PeripheralInterrupts,
    /// Which peripheral interrupts are enabled (the enable registers are write-only).
    enabled: AtomicU64,
}

impl Bcm2837Interrupts {
    /// Everything disabled, peripheral interrupts routed to core 0.
    ///
    /// # Safety
    /// `local` and `peripherals` must be the mapped ARM-local block and
    /// peripheral interrupt controller, used by nobody else.
    pub unsafe fn new(local: u64, peripherals: u64) -> Self {
        // SAFETY: promised by our caller.
        let local = unsafe { LocalInterrupts::new(local) };
        // SAFETY: promised by our caller.
        let peripherals = unsafe { PeripheralInterrupts::new(peripherals) };
        local.init(CORE);
        peripherals.init();
        Self { local, peripherals, enabled: AtomicU64::new(0) }
    }

    fn set_enabled(&self, id: IntId, enabled: bool) {
        if let Some(t) = Timer::from_bit(id) {
            self.local.set_timer_enabled(CORE, t, enabled);
        } else if (PERIPHERAL_BASE..PERIPHERAL_BASE + IRQ_COUNT).contains(&id) {
            let irq = id - PERIPHERAL_BASE;
            if enabled {
                self.enabled.fetch_or(1 << irq, Ordering::Relaxed);
            } else {
                self.enabled.fetch_and(!(1 << irq), Ordering::Relaxed);
            }
            self.peripherals.set_enabled(irq, enabled);
        } else {
            log::warn!("bcm2837 interrupts: no interrupt {id} (timers 0-3, peripherals 32-95)");
        }
    }
}

impl InterruptController for Bcm2837Interrupts {
    /// Every source is level-triggered; `level_triggered` is ignored.
    fn enable(&self, id: IntId, _level_triggered: bool) {
        self.set_enabled(id, true);
    }

    fn disable(&self, id: IntId) {
        self.set_enabled(id, false);
    }

    fn acknowledge(&self) -> Option<IntId> {
        match self.local.pending(CORE)? {
            Source::Timer(t) => Some(timer(t)),
            Source::Peripheral => self.peripherals.pending(self.enabled.load(Ordering::Relaxed)).map(peripheral),
            Source::Other(_) => None,
        }
    }

    fn end_of_interrupt(&self, _id: IntId) {}
}
