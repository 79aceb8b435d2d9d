//! The Raspberry Pi 3's interrupt controller as one [`InterruptController`]:
//! the BCM2836 ARM-local block ([`super::bcm2836_local`]) in front of the
//! BCM2835 peripheral controller ([`super::bcm2835_intc`]).
//!
//! Neither has GIC-style INTIDs, so this driver defines its own numbering,
//! the first 32 per core (each core has its own timers and mailboxes, and
//! takes only its own), the rest shared:
//!
//! | IntId   | Source                                                         |
//! |---------|----------------------------------------------------------------|
//! | 0..=3   | the core's generic timers: 0 CNTPS, 1 CNTPNS, 2 CNTHP, 3 CNTV  |
//! | 4..=7   | the core's mailboxes 0 to 3                                    |
//! | 8..=31  | reserved (PMU, local timer: not supported)                     |
//! | 32..=95 | peripheral interrupt n as 32 + n (UART0 = 57 → 89)             |
//!
//! Enabling a per-core interrupt enables it on every core (the block's
//! registers reach each core's copy), and again on each core as it is set
//! up ([`Bcm2837Interrupts::init_cpu`], which resets it first). Peripheral
//! interrupts all go to core 0 (the block routes them to one core).
//!
//! Inter-processor interrupts: [`Ipi::Reschedule`] is a write to the target
//! core's mailbox 0, [`Ipi::Stop`] to its mailbox 1 (mailbox 3 is the one
//! the firmware's and QEMU's boot stubs may watch; it is left alone).
//! Taking the interrupt empties the mailbox, so an IPI sent while its
//! handler runs raises the interrupt again.
//!
//! Timers and peripherals are level-triggered and cleared at the device,
//! so there is nothing to do at end of interrupt.

use super::bcm2835_intc::{PeripheralInterrupts, IRQ_COUNT};
use super::bcm2836_local::{LocalInterrupts, Source, Timer};
use crate::critical::SpinLock;
use crate::irq::{Acknowledged, IntId, InterruptController, Ipi, IrqError};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The first IntId of the peripheral interrupts.
pub const PERIPHERAL_BASE: IntId = 32;
/// One past the last IntId (the last peripheral interrupt).
pub const INTERRUPTS: usize = (PERIPHERAL_BASE + IRQ_COUNT) as usize;
/// The first IntId of the mailboxes.
const MAILBOX_BASE: IntId = 4;

/// The IntId of peripheral interrupt `irq` (0..64).
pub const fn peripheral(irq: u32) -> IntId {
    PERIPHERAL_BASE + irq
}

/// The IntId of one of the core's generic timers.
pub const fn timer(timer: Timer) -> IntId {
    timer as IntId
}

/// The IntId of the core's mailbox `mailbox` (0 to 3).
pub const fn mailbox(mailbox: u32) -> IntId {
    MAILBOX_BASE + mailbox
}

/// The mailbox that carries `ipi`.
const fn ipi_mailbox(ipi: Ipi) -> u32 {
    match ipi {
        Ipi::Reschedule => 0,
        Ipi::Stop => 1,
    }
}

/// The core that takes the peripheral interrupts.
const PERIPHERAL_CORE: usize = 0;

/// The calling core's number (MPIDR Aff0).
fn this_core() -> usize {
    crate::arch::cpu::core_index()
}

pub struct Bcm2837Interrupts {
    local: LocalInterrupts,
    peripherals: PeripheralInterrupts,
    /// Which peripheral interrupts are enabled (the enable registers are write-only).
    enabled: AtomicU64,
    /// Which per-core interrupts (timers, mailboxes: IntIds 0 to 7) are
    /// enabled: each core set up later enables them too.
    per_core_enabled: AtomicU32,
    /// Serialises changes to the per-core timer and mailbox controls.
    config: SpinLock<()>,
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
        local.reset_core(this_core());
        local.route_peripherals_to(PERIPHERAL_CORE);
        peripherals.init();
        Self {
            local,
            peripherals,
            enabled: AtomicU64::new(0),
            per_core_enabled: AtomicU32::new(0),
            config: SpinLock::new("BCM2836 local interrupts", ()),
        }
    }

    /// Sets up the calling core, `cpu` (not the boot core), once it is up:
    /// the per-core interrupts enabled so far (its CNTV timer, its IPI
    /// mailboxes) on for it, nothing else.
    pub fn init_cpu(&self, cpu: usize) {
        debug_assert_eq!(cpu, this_core(), "init_cpu runs on the core it sets up");
        if cpu >= LocalInterrupts::CORES {
            return;
        }
        self.local.reset_core(cpu);
        let per_core = self.per_core_enabled.load(Ordering::Acquire);
        for id in (0..32).filter(|id| per_core & (1 << id) != 0) {
            self.set_per_core_enabled(cpu, id, true);
        }
    }

    /// Turns per-core interrupt `id` on or off for core `core`.
    fn set_per_core_enabled(&self, core: usize, id: IntId, enabled: bool) {
        let _config = self.config.lock();
        if let Some(t) = Timer::from_bit(id) {
            self.local.set_timer_enabled(core, t, enabled);
        } else if (MAILBOX_BASE..MAILBOX_BASE + LocalInterrupts::MAILBOXES).contains(&id) {
            self.local.set_mailbox_enabled(core, id - MAILBOX_BASE, enabled);
        }
    }

    fn set_enabled(&self, id: IntId, enabled: bool) {
        if id < MAILBOX_BASE + LocalInterrupts::MAILBOXES {
            if enabled {
                self.per_core_enabled.fetch_or(1 << id, Ordering::AcqRel);
            } else {
                self.per_core_enabled.fetch_and(!(1 << id), Ordering::AcqRel);
            }
            // Every core's (the block's registers reach them all): a task
            // may run on any core, and takes its core's copy only.
            for core in 0..LocalInterrupts::CORES {
                self.set_per_core_enabled(core, id, enabled);
            }
        } else if (PERIPHERAL_BASE..PERIPHERAL_BASE + IRQ_COUNT).contains(&id) {
            let irq = id - PERIPHERAL_BASE;
            if enabled {
                self.enabled.fetch_or(1 << irq, Ordering::Relaxed);
            } else {
                self.enabled.fetch_and(!(1 << irq), Ordering::Relaxed);
            }
            self.peripherals.set_enabled(irq, enabled);
        } else {
            log::warn!("bcm2837 interrupts: no interrupt {id} (timers 0-3, mailboxes 4-7, peripherals 32-95)");
        }
    }
}

/// Whether `id` is one of this numbering's interrupts: the timers and
/// mailboxes (0 to 7) and the peripherals (32 to 95).
const fn exists(id: IntId) -> bool {
    id < MAILBOX_BASE + LocalInterrupts::MAILBOXES || (id >= PERIPHERAL_BASE && id < PERIPHERAL_BASE + IRQ_COUNT)
}

impl InterruptController for Bcm2837Interrupts {
    fn has_interrupt(&self, id: IntId) -> bool {
        exists(id)
    }

    /// Every source is level-triggered; `level_triggered` is ignored.
    fn enable(&self, id: IntId, _level_triggered: bool) {
        self.set_enabled(id, true);
    }

    fn disable(&self, id: IntId) {
        self.set_enabled(id, false);
    }

    /// Nothing to give back at the end: the token is 0.
    fn acknowledge(&self) -> Option<Acknowledged> {
        let core = this_core();
        let id = match self.local.pending(core)? {
            Source::Timer(t) => timer(t),
            Source::Mailbox(m) => {
                self.local.take(core, m);
                mailbox(m)
            }
            Source::Peripheral => self.peripherals.pending(self.enabled.load(Ordering::Relaxed)).map(peripheral)?,
            Source::Other(_) => return None,
        };
        Some(Acknowledged { id, token: 0 })
    }

    fn ipi_id(&self, ipi: Ipi) -> Option<IntId> {
        Some(mailbox(ipi_mailbox(ipi)))
    }

    fn send_ipi(&self, cpu: usize, ipi: Ipi) -> Result<(), IrqError> {
        if cpu >= LocalInterrupts::CORES {
            return Err(IrqError::NoSuchCpu(cpu));
        }
        // What the sender wrote before must be visible to the core the mailbox interrupts.
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
        self.local.post(cpu, ipi_mailbox(ipi), 1);
        Ok(())
    }

    fn end_of_interrupt(&self, _: Acknowledged) {}
}
