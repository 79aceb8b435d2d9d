//! The ARM PrimeCell PL011 UART (QEMU virt, and UART0 on the Raspberry Pis).
//!
//! Transmit polls the FIFO (text goes in a FIFO's worth at a time: one
//! check per 8 bytes, not per byte); receive is interrupt-driven: the board routes the
//! UART's interrupt to [`crate::console`], which drains [`Pl011::read_byte`]
//! into its buffer. A byte read with the overrun bit set (more came while
//! the receive FIFO was full, and was lost) is reported through
//! [`SerialPort::read_with_overrun`], so the reader is told input was lost
//! rather than handed a line with a hole in it.

use super::mmio::Mmio;
use crate::console::SerialPort;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    DR [
        DATA OFFSET(0) NUMBITS(8) [],
        /// Overrun: input came while the receive FIFO was full, and was lost.
        OE OFFSET(11) NUMBITS(1) []
    ],
    FR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    IBRD [ DIVINT OFFSET(0) NUMBITS(16) [] ],
    FBRD [ DIVFRAC OFFSET(0) NUMBITS(6) [] ],
    LCR_H [
        WLEN OFFSET(5) NUMBITS(2) [ EightBit = 0b11 ],
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    IFLS [ RXIFLSEL OFFSET(3) NUMBITS(3) [ OneEighth = 0 ] ],
    IMSC [
        /// Receive timeout interrupt: data waiting, FIFO below its level.
        RTIM OFFSET(6) NUMBITS(1) [],
        /// Receive interrupt.
        RXIM OFFSET(4) NUMBITS(1) []
    ],
    ICR [ ALL OFFSET(0) NUMBITS(11) [] ]
}

register_structs! {
    #[allow(non_snake_case)]
    pub Registers {
        (0x00 => DR: ReadWrite<u32, DR::Register>),
        (0x04 => _reserved0),
        (0x18 => FR: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => IBRD: WriteOnly<u32, IBRD::Register>),
        (0x28 => FBRD: WriteOnly<u32, FBRD::Register>),
        (0x2c => LCR_H: WriteOnly<u32, LCR_H::Register>),
        (0x30 => CR: WriteOnly<u32, CR::Register>),
        (0x34 => IFLS: ReadWrite<u32, IFLS::Register>),
        (0x38 => IMSC: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved2),
        (0x44 => ICR: WriteOnly<u32, ICR::Register>),
        (0x48 => @END),
    }
}

/// The integer and fractional baud-rate divisors for `baud` from a UART
/// clock of `clock_hz`: divisor = clock / (16 * baud), the fraction in 64ths.
pub const fn baud_divisors(clock_hz: u32, baud: u32) -> (u32, u32) {
    // 64 * clock / (16 * baud) = 4 * clock / baud, rounded to nearest.
    let div64 = (4 * clock_hz as u64 + baud as u64 / 2) / baud as u64;
    ((div64 >> 6) as u32, (div64 & 0x3f) as u32)
}

/// One PL011. The console serialises writers; receiving and acknowledging
/// happen in its interrupt handler.
pub struct Pl011 {
    regs: Mmio<Registers>,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the mapped address of a PL011's registers, used by nobody else.
    pub const unsafe fn new(base: u64) -> Self {
        // SAFETY: promised by our caller.
        Self { regs: unsafe { Mmio::new(base) } }
    }

    /// 8N1 at `baud` from a `clock_hz` reference clock, FIFOs on, receive interrupts on.
    pub fn init(&self, clock_hz: u32, baud: u32) {
        let r = &self.regs;
        self.flush();
        r.CR.set(0);
        r.ICR.write(ICR::ALL::SET);
        let (int, frac) = baud_divisors(clock_hz, baud);
        r.IBRD.write(IBRD::DIVINT.val(int));
        r.FBRD.write(FBRD::DIVFRAC.val(frac));
        r.LCR_H.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        r.IFLS.write(IFLS::RXIFLSEL::OneEighth);
        r.IMSC.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
        r.CR.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }
}

/// Places in the transmit FIFO: 16 (32 from revision r1p5 on; the Pis'
/// UART0 and QEMU's have at least 16).
const TX_FIFO_DEPTH: usize = 16;

impl SerialPort for Pl011 {
    /// Once the transmit FIFO is empty, its places take the next
    /// `TX_FIFO_DEPTH / 2` bytes of text (each may be a CR LF pair) without
    /// a check each.
    fn write_text(&self, text: &[u8]) {
        let r = &self.regs;
        for piece in text.chunks(TX_FIFO_DEPTH / 2) {
            while !r.FR.is_set(FR::TXFE) {
                core::hint::spin_loop();
            }
            for &b in piece {
                if b == b'\n' {
                    r.DR.write(DR::DATA.val(b'\r'.into()));
                }
                r.DR.write(DR::DATA.val(b.into()));
            }
        }
    }

    fn write_byte(&self, byte: u8) {
        let r = &self.regs;
        while r.FR.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        r.DR.write(DR::DATA.val(byte.into()));
    }

    fn read_byte(&self) -> Option<u8> {
        self.read_with_overrun().map(|(b, _)| b)
    }

    /// The byte, and its overrun bit: input came while the FIFO was full,
    /// after this byte, and was lost.
    fn read_with_overrun(&self) -> Option<(u8, bool)> {
        let r = &self.regs;
        if r.FR.is_set(FR::RXFE) {
            return None;
        }
        let received = r.DR.extract();
        Some((received.read(DR::DATA) as u8, received.is_set(DR::OE)))
    }

    fn flush(&self) {
        while self.regs.FR.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }

    fn acknowledge_interrupt(&self) {
        self.regs.ICR.write(ICR::ALL::SET);
    }
}

#[cfg(test)]
mod tests {
    use super::baud_divisors;

    #[test]
    fn divisors_for_common_clocks() {
        // 48 MHz (Raspberry Pi 4 UART clock): 26.0417 -> 26 + 3/64.
        assert_eq!(baud_divisors(48_000_000, 115_200), (26, 3));
        // 24 MHz (QEMU virt's declared clock): 13.0208 -> 13 + 1/64.
        assert_eq!(baud_divisors(24_000_000, 115_200), (13, 1));
        // 3 MHz (older Pi firmware default): 1.6276 -> 1 + 40/64.
        assert_eq!(baud_divisors(3_000_000, 115_200), (1, 40));
    }
}
