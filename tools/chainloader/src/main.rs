//! ilusion's serial chainloader for the Raspberry Pi 3 and 4: put it on
//! the SD card as kernel8.img once, then send each new image over UART0
//! with the host tool (`tools/chainload`) instead of rewriting the card.
//!
//! `start.s` moves the loader out of the way (to 32 MiB, `link.ld`); this
//! file brings UART0 up with ilusion's own drivers (`src/drivers/`), runs
//! the protocol of [`protocol`] (its [`Receiver`] says what to do with each
//! byte and each silence, timed by the generic timer), writes the image to
//! 0x80000 and jumps to it with the device tree the firmware gave, at the
//! firmware's exception level: to the image it looks as if the firmware had
//! loaded it. A refused or abandoned transfer is reported on the line, and
//! the loader waits for the next one.
//! Build it with `tools/chainloader/build BOARD`.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod board;
mod protocol;

/// The trait ilusion's PL011 driver implements (from ilusion's `console`).
mod console {
    #[allow(dead_code)]
    pub trait SerialPort: Sync {
        fn write_byte(&self, byte: u8);
        /// Writes `text`, each line end as CR LF (the PL011 driver's own).
        fn write_text(&self, text: &[u8]);
        fn read_byte(&self) -> Option<u8>;
        /// A byte and whether input was lost after it (the loader's CRC catches it).
        fn read_with_overrun(&self) -> Option<(u8, bool)>;
        fn flush(&self);
        fn acknowledge_interrupt(&self);
    }
}

#[allow(dead_code)]
#[path = "../../../src/drivers/bcm_gpio.rs"]
mod bcm_gpio;
#[allow(dead_code)]
#[path = "../../../src/drivers/pl011.rs"]
mod pl011;

#[path = "../../../src/drivers/mmio.rs"]
mod mmio;

use console::SerialPort;
use core::fmt::Write;
use protocol::{Event, Receiver, LOAD_ADDRESS};

core::arch::global_asm!(include_str!("start.s"));

extern "C" {
    static __loader_start: u8;
    /// Enters `entry` with x0 = `device_tree` (start.s).
    fn chainload_jump(entry: u64, device_tree: u64) -> !;
}

/// The console as a [`core::fmt::Write`]: "\n" goes out as "\r\n".
struct Console(&'static dyn SerialPort);

impl core::fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for b in text.bytes() {
            if b == b'\n' {
                self.0.write_byte(b'\r');
            }
            self.0.write_byte(b);
        }
        Ok(())
    }
}

/// Runs the protocol until an image is accepted; returns its size.
fn receive(console: &mut Console, clock: &Clock) -> u32 {
    let below_loader = core::ptr::addr_of!(__loader_start) as u64 - LOAD_ADDRESS;
    let capacity = below_loader.min(u64::from(protocol::MAX_IMAGE_SIZE)) as u32;
    let mut receiver = Receiver::new(capacity);
    let mut store = |offset: u32, byte: u8| {
        // SAFETY: offset < capacity (the receiver checked the size), so this
        // is RAM between LOAD_ADDRESS and the loader, which nothing else uses
        // (the MMU is off: physical addresses).
        unsafe { core::ptr::write_volatile((LOAD_ADDRESS + u64::from(offset)) as *mut u8, byte) };
    };
    let _ = writeln!(console, "{} ({})", protocol::READY, board::NAME);
    let mut last_byte = clock.now();
    loop {
        let event = if let Some(byte) = console.0.read_byte() {
            last_byte = clock.now();
            receiver.byte(byte, &mut store)
        } else {
            match receiver.patience().millis() {
                Some(limit) if clock.millis_since(last_byte) >= limit => {
                    last_byte = clock.now();
                    receiver.silence()
                }
                _ => continue,
            }
        };
        let _ = match event {
            Event::Nothing => Ok(()),
            Event::Announce => writeln!(console, "{} ({})", protocol::READY, board::NAME),
            Event::Rejected(why) => writeln!(console, "{}: {why}", protocol::REJECTED),
            Event::Complete { size } => return size,
        };
    }
}

/// Time from the generic timer's counter, so that timeouts are real
/// seconds however fast the CPU (or QEMU on a busy host) runs.
struct Clock {
    ticks_per_milli: u64,
}

impl Clock {
    fn new() -> Self {
        use aarch64_cpu::registers::{Readable, CNTFRQ_EL0};
        // The firmware sets CNTFRQ_EL0; should it not have, the board's crystal.
        let hz = match CNTFRQ_EL0.get() {
            0 => board::COUNTER_HZ,
            hz => hz,
        };
        Self { ticks_per_milli: (hz / 1000).max(1) }
    }

    fn now(&self) -> u64 {
        use aarch64_cpu::registers::{Readable, CNTPCT_EL0};
        CNTPCT_EL0.get()
    }

    fn millis_since(&self, then: u64) -> u64 {
        self.now().wrapping_sub(then) / self.ticks_per_milli
    }
}

#[no_mangle]
extern "C" fn loader_main(device_tree: u64) -> ! {
    let mut console = Console(board::init_console());
    let size = receive(&mut console, &Clock::new());
    let _ = writeln!(console, "{} ({size} bytes)", protocol::ACCEPTED);
    console.0.flush();
    // SAFETY: a complete image (checked by CRC) is at LOAD_ADDRESS.
    unsafe { chainload_jump(LOAD_ADDRESS, device_tree) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
