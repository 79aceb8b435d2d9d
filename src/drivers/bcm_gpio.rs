//! The GPIO block of the Broadcom BCM2837 (Raspberry Pi 3) and BCM2711
//! (Raspberry Pi 4): choosing what each pin does (its *function*: input,
//! output or one of six alternate peripherals) and its pull resistor.
//!
//! Boards use it to hand pins to a peripheral, e.g. GPIO 14/15 to UART0
//! (ALT0); applications reach it through `crate::gpio`
//! ([`super::bcm_gpio_port`] adapts it): levels (write a 1 to GPSET or GPCLR to
//! drive an output pin high or low, read GPLEV for every pin's level) and
//! edge detection (GPREN/GPFEN choose the edges a pin watches; a detected
//! edge sets the pin's bit in GPEDS, which holds the bank's interrupt line
//! up until software writes the bit back as 1).
//!
//! Function select is the same on both chips; the pulls differ: the BCM2837
//! latches one pull setting into the pins named by a clock register (the
//! GPPUD/GPPUDCLK handshake; what a pin has cannot be read back), the
//! BCM2711 has two bits per pin in GPIO_PUP_PDN_CNTRL (read back as
//! written). See the BCM2835 and BCM2711 ARM Peripherals manuals, chapter
//! "General Purpose I/O".
//!
//! The Pis' serial chainloader (`tools/chainloader`) includes this file as
//! it is, so it depends on nothing but [`super::mmio`].

use super::mmio::Mmio;
use tock_registers::fields::Field;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Function select: three bits for each of ten pins.
    GPFSEL [
        FSEL0 OFFSET(0) NUMBITS(3) [],
        FSEL1 OFFSET(3) NUMBITS(3) [],
        FSEL2 OFFSET(6) NUMBITS(3) [],
        FSEL3 OFFSET(9) NUMBITS(3) [],
        FSEL4 OFFSET(12) NUMBITS(3) [],
        FSEL5 OFFSET(15) NUMBITS(3) [],
        FSEL6 OFFSET(18) NUMBITS(3) [],
        FSEL7 OFFSET(21) NUMBITS(3) [],
        FSEL8 OFFSET(24) NUMBITS(3) [],
        FSEL9 OFFSET(27) NUMBITS(3) []
    ],
    /// One bit per pin of a bank of 32 (GPSET, GPCLR, GPLEV, GPEDS, GPREN, GPFEN).
    BANK [
        PINS OFFSET(0) NUMBITS(32) []
    ],
    /// BCM2837: the pull to latch into the pins selected by GPPUDCLK.
    GPPUD [
        PUD OFFSET(0) NUMBITS(2) [Off = 0, Down = 1, Up = 2]
    ],
    /// BCM2837: one bit per pin; a 1 clocks GPPUD's setting into that pin.
    GPPUDCLK [
        PINS OFFSET(0) NUMBITS(32) []
    ],
    /// BCM2711: two bits of pull per pin, sixteen pins per register.
    GPIO_PUP_PDN [
        PULL0 OFFSET(0) NUMBITS(2) [],
        PULL1 OFFSET(2) NUMBITS(2) [],
        PULL2 OFFSET(4) NUMBITS(2) [],
        PULL3 OFFSET(6) NUMBITS(2) [],
        PULL4 OFFSET(8) NUMBITS(2) [],
        PULL5 OFFSET(10) NUMBITS(2) [],
        PULL6 OFFSET(12) NUMBITS(2) [],
        PULL7 OFFSET(14) NUMBITS(2) [],
        PULL8 OFFSET(16) NUMBITS(2) [],
        PULL9 OFFSET(18) NUMBITS(2) [],
        PULL10 OFFSET(20) NUMBITS(2) [],
        PULL11 OFFSET(22) NUMBITS(2) [],
        PULL12 OFFSET(24) NUMBITS(2) [],
        PULL13 OFFSET(26) NUMBITS(2) [],
        PULL14 OFFSET(28) NUMBITS(2) [],
        PULL15 OFFSET(30) NUMBITS(2) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        (0x00 => GPFSEL: [ReadWrite<u32, GPFSEL::Register>; 6]),
        (0x18 => _reserved0),
        /// Write 1s: those output pins go high.
        (0x1c => GPSET: [ReadWrite<u32, BANK::Register>; 2]),
        (0x24 => _reserved1),
        /// Write 1s: those output pins go low.
        (0x28 => GPCLR: [ReadWrite<u32, BANK::Register>; 2]),
        (0x30 => _reserved2),
        /// Every pin's level.
        (0x34 => GPLEV: [ReadWrite<u32, BANK::Register>; 2]),
        (0x3c => _reserved3),
        /// Event detect status: an edge the pin watches happened; write 1 to clear.
        (0x40 => GPEDS: [ReadWrite<u32, BANK::Register>; 2]),
        (0x48 => _reserved4),
        /// Rising-edge detect enable.
        (0x4c => GPREN: [ReadWrite<u32, BANK::Register>; 2]),
        (0x54 => _reserved5),
        /// Falling-edge detect enable.
        (0x58 => GPFEN: [ReadWrite<u32, BANK::Register>; 2]),
        (0x60 => _reserved6),
        (0x94 => GPPUD: ReadWrite<u32, GPPUD::Register>),
        (0x98 => GPPUDCLK: [ReadWrite<u32, GPPUDCLK::Register>; 2]),
        (0xa0 => _reserved7),
        (0xe4 => GPIO_PUP_PDN_CNTRL: [ReadWrite<u32, GPIO_PUP_PDN::Register>; 4]),
        (0xf4 => @END),
    }
}

const FSEL: [Field<u32, GPFSEL::Register>; 10] = [
    GPFSEL::FSEL0,
    GPFSEL::FSEL1,
    GPFSEL::FSEL2,
    GPFSEL::FSEL3,
    GPFSEL::FSEL4,
    GPFSEL::FSEL5,
    GPFSEL::FSEL6,
    GPFSEL::FSEL7,
    GPFSEL::FSEL8,
    GPFSEL::FSEL9,
];

const PULL: [Field<u32, GPIO_PUP_PDN::Register>; 16] = [
    GPIO_PUP_PDN::PULL0,
    GPIO_PUP_PDN::PULL1,
    GPIO_PUP_PDN::PULL2,
    GPIO_PUP_PDN::PULL3,
    GPIO_PUP_PDN::PULL4,
    GPIO_PUP_PDN::PULL5,
    GPIO_PUP_PDN::PULL6,
    GPIO_PUP_PDN::PULL7,
    GPIO_PUP_PDN::PULL8,
    GPIO_PUP_PDN::PULL9,
    GPIO_PUP_PDN::PULL10,
    GPIO_PUP_PDN::PULL11,
    GPIO_PUP_PDN::PULL12,
    GPIO_PUP_PDN::PULL13,
    GPIO_PUP_PDN::PULL14,
    GPIO_PUP_PDN::PULL15,
];

/// The most pins a chip of this family has (the BCM2711's GPIO 0 to 57):
/// the registers' size. [`Chip::pin_count`] says how many one chip has.
pub const MAX_PIN_COUNT: u32 = 58;

/// What a pin does; the values are the function-select encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Function {
    Input = 0b000,
    Output = 0b001,
    Alt0 = 0b100,
    Alt1 = 0b101,
    Alt2 = 0b110,
    Alt3 = 0b111,
    Alt4 = 0b011,
    Alt5 = 0b010,
}

impl Function {
    /// The function whose encoding is `value` (three bits).
    const fn from_bits(value: u32) -> Function {
        match value & 0b111 {
            0b000 => Function::Input,
            0b001 => Function::Output,
            0b100 => Function::Alt0,
            0b101 => Function::Alt1,
            0b110 => Function::Alt2,
            0b111 => Function::Alt3,
            0b011 => Function::Alt4,
            _ => Function::Alt5,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    None,
    Up,
    Down,
}

/// Which of the two pull-control schemes the chip has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chip {
    /// BCM2835/6/7 (Pi 1 to 3): the GPPUD/GPPUDCLK handshake.
    Bcm2837,
    /// BCM2711 (Pi 4): GPIO_PUP_PDN_CNTRL_REG0..3.
    Bcm2711,
}

impl Chip {
    /// How many GPIOs the chip has: the BCM2837's GPIO 0 to 53, the
    /// BCM2711's 0 to 57.
    pub const fn pin_count(self) -> u32 {
        match self {
            Chip::Bcm2837 => 54,
            Chip::Bcm2711 => MAX_PIN_COUNT,
        }
    }
}

/// The GPIO block. Function select, pulls and edge enables are
/// read-modify-writes of registers several pins share: the board calls
/// this driver at boot from one core, and `crate::gpio` serialises
/// applications' calls with its lock. GPSET/GPCLR and GPEDS are write-one
/// registers that need no lock.
pub struct Gpio {
    regs: Mmio<Registers>,
    chip: Chip,
}

impl Gpio {
    /// # Safety
    /// `base` must be the mapped address of the GPIO block of `chip`, used by nobody else.
    pub const unsafe fn new(base: u64, chip: Chip) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(base) }, chip }
    }

    /// How many GPIOs this block has ([`Chip::pin_count`]).
    pub const fn pin_count(&self) -> u32 {
        self.chip.pin_count()
    }

    pub fn set_function(&self, pin: u32, function: Function) {
        assert!(pin < self.pin_count(), "GPIO {pin} does not exist");
        let field = FSEL[(pin % 10) as usize];
        self.regs.GPFSEL[(pin / 10) as usize].modify(field.val(function as u32));
    }

    /// What `pin` does now, as function select says.
    pub fn function(&self, pin: u32) -> Function {
        assert!(pin < self.pin_count(), "GPIO {pin} does not exist");
        Function::from_bits(self.regs.GPFSEL[(pin / 10) as usize].read(FSEL[(pin % 10) as usize]))
    }

    /// The pull `pin` has (BCM2711), or `None` where it cannot be read
    /// back (BCM2837: the handshake latches it inside the pad).
    pub fn pull(&self, pin: u32) -> Option<Pull> {
        assert!(pin < self.pin_count(), "GPIO {pin} does not exist");
        match self.chip {
            Chip::Bcm2837 => None,
            Chip::Bcm2711 => {
                let value = self.regs.GPIO_PUP_PDN_CNTRL[(pin / 16) as usize].read(PULL[(pin % 16) as usize]);
                Some(match value {
                    1 => Pull::Up,
                    2 => Pull::Down,
                    _ => Pull::None,
                })
            }
        }
    }

    pub fn set_pull(&self, pin: u32, pull: Pull) {
        assert!(pin < self.pin_count(), "GPIO {pin} does not exist");
        match self.chip {
            Chip::Bcm2837 => self.latch_pull(pin, pull),
            Chip::Bcm2711 => {
                // BCM2711 encoding: 0 none, 1 up, 2 down.
                let value = match pull {
                    Pull::None => 0,
                    Pull::Up => 1,
                    Pull::Down => 2,
                };
                let field = PULL[(pin % 16) as usize];
                self.regs.GPIO_PUP_PDN_CNTRL[(pin / 16) as usize].modify(field.val(value));
            }
        }
    }

    /// The BCM2837 handshake: set the control signal, wait 150 cycles, clock
    /// it into the pin, wait 150 cycles, then remove signal and clock.
    fn latch_pull(&self, pin: u32, pull: Pull) {
        let r = &self.regs;
        let clock = &r.GPPUDCLK[(pin / 32) as usize];
        r.GPPUD.write(match pull {
            Pull::None => GPPUD::PUD::Off,
            Pull::Up => GPPUD::PUD::Up,
            Pull::Down => GPPUD::PUD::Down,
        });
        wait_cycles(150);
        clock.write(GPPUDCLK::PINS.val(1 << (pin % 32)));
        wait_cycles(150);
        r.GPPUD.write(GPPUD::PUD::Off);
        clock.write(GPPUDCLK::PINS.val(0));
    }

    /// Puts UART0 (the PL011) on the header's GPIO 14 (TXD) and 15 (RXD),
    /// ALT0 on both chips, and detaches it from GPIO 32/33 (ALT3), where the
    /// firmware may have wired it to the Bluetooth chip.
    pub fn route_uart0_to_header(&self) {
        const TXD: u32 = 14;
        const RXD: u32 = 15;
        const BLUETOOTH_PINS: [u32; 2] = [32, 33];
        for pin in BLUETOOTH_PINS {
            self.set_function(pin, Function::Input);
        }
        self.set_function(TXD, Function::Alt0);
        self.set_function(RXD, Function::Alt0);
        self.set_pull(TXD, Pull::None);
        self.set_pull(RXD, Pull::Up);
    }
}

/// The register of `pin`'s bank in `bank` (GPSET, GPLEV, ...) and the
/// pin's bit in it, on a chip with `count` pins.
fn bank_bit(
    bank: &[ReadWrite<u32, BANK::Register>; 2],
    pin: u32,
    count: u32,
) -> (&ReadWrite<u32, BANK::Register>, u32) {
    assert!(pin < count, "GPIO {pin} does not exist");
    (&bank[(pin / 32) as usize], 1 << (pin % 32))
}

impl Gpio {
    /// Drives output pin `pin` high (GPSET) or low (GPCLR).
    pub fn write(&self, pin: u32, high: bool) {
        let (register, bit) = bank_bit(if high { &self.regs.GPSET } else { &self.regs.GPCLR }, pin, self.pin_count());
        register.set(bit);
    }

    /// `pin`'s level (GPLEV).
    pub fn read(&self, pin: u32) -> bool {
        let (register, bit) = bank_bit(&self.regs.GPLEV, pin, self.pin_count());
        register.get() & bit != 0
    }

    /// Which edges `pin` watches (GPREN, GPFEN); forgets an event seen before (GPEDS).
    pub fn set_edge_detect(&self, pin: u32, rising: bool, falling: bool) {
        for (enables, on) in [(&self.regs.GPREN, rising), (&self.regs.GPFEN, falling)] {
            let (register, bit) = bank_bit(enables, pin, self.pin_count());
            let value = register.get();
            register.set(if on { value | bit } else { value & !bit });
        }
        let (status, bit) = bank_bit(&self.regs.GPEDS, pin, self.pin_count());
        status.set(bit);
    }

    /// The pins among `pins` (a bit each, GPIO 0 = bit 0) whose edge was
    /// detected, cleared in GPEDS (write-one-to-clear), which lowers the
    /// bank's interrupt line.
    pub fn take_events(&self, pins: u64) -> u64 {
        let mut taken = 0;
        for (index, status) in self.regs.GPEDS.iter().enumerate() {
            let mine = status.get() & (pins >> (32 * index)) as u32;
            if mine != 0 {
                status.set(mine);
                taken |= u64::from(mine) << (32 * index);
            }
        }
        taken
    }
}

fn wait_cycles(n: u32) {
    for _ in 0..n {
        aarch64_cpu::asm::nop();
    }
}
