//! The BCM2836 "ARM local" interrupt block (also in the BCM2837 of the
//! Raspberry Pi 3), at 0x4000_0000: the first level of interrupt routing.
//!
//! Each core has a *source* register telling why its IRQ line is raised:
//! one of its four generic timers, a mailbox, the PMU, the local timer, or
//! "GPU": an interrupt from the peripheral controller
//! ([`super::bcm2835_intc`]). The generic timers' interrupts reach a core only
//! if they are enabled in its timer interrupt control register. See
//! "Quad-A7 control" (the BCM2836 ARM-local peripherals document).
//!
//! Each core also has four 32-bit *mailboxes*, which any core can set bits
//! in (a write-set register) and the owner reads and clears (a
//! write-one-to-clear register); a mailbox with a bit set raises its
//! owner's IRQ if its mailbox interrupt control enables it. ilusion sends
//! inter-processor interrupts this way.
//! [`super::bcm2837_irq`] combines the two levels into one controller.

use super::mmio::Mmio;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Which core gets the peripheral ("GPU") interrupts.
    GPU_ROUTING [
        IRQ_CORE OFFSET(0) NUMBITS(2) [],
        FIQ_CORE OFFSET(2) NUMBITS(2) []
    ],
    /// Per core: which generic-timer interrupts raise its IRQ line.
    TIMER_CONTROL [
        CNTPS_IRQ OFFSET(0) NUMBITS(1) [],
        CNTPNS_IRQ OFFSET(1) NUMBITS(1) [],
        CNTHP_IRQ OFFSET(2) NUMBITS(1) [],
        CNTV_IRQ OFFSET(3) NUMBITS(1) [],
        CNTPS_FIQ OFFSET(4) NUMBITS(1) [],
        CNTPNS_FIQ OFFSET(5) NUMBITS(1) [],
        CNTHP_FIQ OFFSET(6) NUMBITS(1) [],
        CNTV_FIQ OFFSET(7) NUMBITS(1) []
    ],
    /// Per core: which of its mailboxes raise its IRQ line when not empty.
    MAILBOX_CONTROL [
        MAILBOX0_IRQ OFFSET(0) NUMBITS(1) [],
        MAILBOX1_IRQ OFFSET(1) NUMBITS(1) [],
        MAILBOX2_IRQ OFFSET(2) NUMBITS(1) [],
        MAILBOX3_IRQ OFFSET(3) NUMBITS(1) []
    ],
    /// Per core: why its IRQ line is raised.
    IRQ_SOURCE [
        CNTPS OFFSET(0) NUMBITS(1) [],
        CNTPNS OFFSET(1) NUMBITS(1) [],
        CNTHP OFFSET(2) NUMBITS(1) [],
        CNTV OFFSET(3) NUMBITS(1) [],
        MAILBOXES OFFSET(4) NUMBITS(4) [],
        GPU OFFSET(8) NUMBITS(1) [],
        PMU OFFSET(9) NUMBITS(1) [],
        AXI OFFSET(10) NUMBITS(1) [],
        LOCAL_TIMER OFFSET(11) NUMBITS(1) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x00 => _reserved0),
        (0x0c => GPU_ROUTING: ReadWrite<u32, GPU_ROUTING::Register>),
        (0x10 => _reserved1),
        (0x40 => TIMER_CONTROL: [ReadWrite<u32, TIMER_CONTROL::Register>; 4]),
        (0x50 => MAILBOX_CONTROL: [ReadWrite<u32, MAILBOX_CONTROL::Register>; 4]),
        (0x60 => IRQ_SOURCE: [ReadOnly<u32, IRQ_SOURCE::Register>; 4]),
        (0x70 => _reserved3),
        /// Core c's mailbox m at `4 * c + m`: a write sets the bits written.
        (0x80 => MAILBOX_SET: [WriteOnly<u32>; 16]),
        /// Core c's mailbox m at `4 * c + m`: reads the bits, a write clears the bits written.
        (0xc0 => MAILBOX_CLEAR: [ReadWrite<u32>; 16]),
        (0x100 => @END),
    }
}

/// A generic timer of a core, numbered as its bit in the source register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    SecurePhysical = 0,
    NonSecurePhysical = 1,
    Hypervisor = 2,
    Virtual = 3,
}

impl Timer {
    pub fn from_bit(bit: u32) -> Option<Self> {
        [Self::SecurePhysical, Self::NonSecurePhysical, Self::Hypervisor, Self::Virtual].get(bit as usize).copied()
    }
}

/// Where the source register says the IRQ comes from (first match wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Timer(Timer),
    /// One of the core's mailboxes (0 to 3) is not empty.
    Mailbox(u32),
    Peripheral,
    Other(u32),
}

/// The block's registers. The interrupt layer serialises configuration (the
/// read-modify-write of a core's timer or mailbox control); the mailbox
/// set and clear registers are write-one-to-change, and only a mailbox's
/// owner empties it.
pub struct LocalInterrupts {
    regs: Mmio<Registers>,
}

impl LocalInterrupts {
    /// # Safety
    /// `base` must be the mapped address of the ARM-local block, used by nobody else.
    pub const unsafe fn new(base: u64) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(base) } }
    }

    /// How many cores the block serves.
    pub const CORES: usize = 4;
    /// Mailboxes per core.
    pub const MAILBOXES: u32 = 4;

    /// Peripheral interrupts to `core`'s IRQ.
    pub fn route_peripherals_to(&self, core: usize) {
        let core = core as u32;
        self.regs.GPU_ROUTING.write(GPU_ROUTING::IRQ_CORE.val(core) + GPU_ROUTING::FIQ_CORE.val(core));
    }

    /// Every timer and mailbox interrupt of `core` off, its mailboxes empty.
    pub fn reset_core(&self, core: usize) {
        let r = &self.regs;
        r.TIMER_CONTROL[core].set(0);
        r.MAILBOX_CONTROL[core].set(0);
        for mailbox in 0..Self::MAILBOXES {
            r.MAILBOX_CLEAR[Self::mailbox_index(core, mailbox)].set(u32::MAX);
        }
    }

    fn mailbox_index(core: usize, mailbox: u32) -> usize {
        core * Self::MAILBOXES as usize + mailbox as usize
    }

    /// Lets `core`'s mailbox `mailbox` (0 to 3) raise its IRQ, or not.
    pub fn set_mailbox_enabled(&self, core: usize, mailbox: u32, enabled: bool) {
        let field = [
            MAILBOX_CONTROL::MAILBOX0_IRQ,
            MAILBOX_CONTROL::MAILBOX1_IRQ,
            MAILBOX_CONTROL::MAILBOX2_IRQ,
            MAILBOX_CONTROL::MAILBOX3_IRQ,
        ][mailbox as usize];
        self.regs.MAILBOX_CONTROL[core].modify(field.val(enabled.into()));
    }

    /// Sets `bits` in `core`'s mailbox `mailbox` (any core may).
    pub fn post(&self, core: usize, mailbox: u32, bits: u32) {
        self.regs.MAILBOX_SET[Self::mailbox_index(core, mailbox)].set(bits);
    }

    /// Empties `core`'s mailbox `mailbox` and returns the bits it held.
    pub fn take(&self, core: usize, mailbox: u32) -> u32 {
        let register = &self.regs.MAILBOX_CLEAR[Self::mailbox_index(core, mailbox)];
        let bits = register.get();
        register.set(bits);
        bits
    }

    pub fn set_timer_enabled(&self, core: usize, timer: Timer, enabled: bool) {
        let field = match timer {
            Timer::SecurePhysical => TIMER_CONTROL::CNTPS_IRQ,
            Timer::NonSecurePhysical => TIMER_CONTROL::CNTPNS_IRQ,
            Timer::Hypervisor => TIMER_CONTROL::CNTHP_IRQ,
            Timer::Virtual => TIMER_CONTROL::CNTV_IRQ,
        };
        self.regs.TIMER_CONTROL[core].modify(field.val(enabled.into()));
    }

    /// Why `core`'s IRQ line is raised, if it is; timers first, then mailboxes.
    pub fn pending(&self, core: usize) -> Option<Source> {
        let source = self.regs.IRQ_SOURCE[core].extract();
        let timers = [
            (IRQ_SOURCE::CNTPS, Timer::SecurePhysical),
            (IRQ_SOURCE::CNTPNS, Timer::NonSecurePhysical),
            (IRQ_SOURCE::CNTHP, Timer::Hypervisor),
            (IRQ_SOURCE::CNTV, Timer::Virtual),
        ];
        let mailboxes = source.read(IRQ_SOURCE::MAILBOXES);
        if let Some(&(_, timer)) = timers.iter().find(|(field, _)| source.is_set(*field)) {
            Some(Source::Timer(timer))
        } else if mailboxes != 0 {
            Some(Source::Mailbox(mailboxes.trailing_zeros()))
        } else if source.is_set(IRQ_SOURCE::GPU) {
            Some(Source::Peripheral)
        } else if source.get() != 0 {
            Some(Source::Other(source.get()))
        } else {
            None
        }
    }
}
