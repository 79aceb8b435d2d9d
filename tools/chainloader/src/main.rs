//! ilusion's serial chainloader for the Raspberry Pi 3 and 4: put it on
//! the SD card as kernel8.img once, then send each new image over UART0
//! with the host tool (`tools/chainload`) instead of rewriting the card.
//!
//! `start.s` moves the loader out of the way (to 32 MiB, `link.ld`); this
//! file brings UART0 up with ilusion's own drivers (`src/drivers/`), runs
//! the protocol of [`protocol`], writes the image to 0x80000 and jumps to
//! it with the device tree the firmware gave, at the firmware's exception
//! level: to the image it looks as if the firmware had loaded it.
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
        fn read_byte(&self) -> Option<u8>;
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

use console::SerialPort;
use protocol::Crc32;

core::arch::global_asm!(include_str!("start.s"));

/// Where the image goes: where the firmware would have put it.
const LOAD_ADDRESS: u64 = 0x80000;

extern "C" {
    static __loader_start: u8;
    /// Enters `entry` with x0 = `device_tree` (start.s).
    fn chainload_jump(entry: u64, device_tree: u64) -> !;
}

fn write(uart: &dyn SerialPort, text: &str) {
    for b in text.bytes() {
        if b == b'\n' {
            uart.write_byte(b'\r');
        }
        uart.write_byte(b);
    }
}

fn read(uart: &dyn SerialPort) -> u8 {
    loop {
        if let Some(b) = uart.read_byte() {
            return b;
        }
        core::hint::spin_loop();
    }
}

fn read_u32(uart: &dyn SerialPort) -> u32 {
    u32::from_le_bytes([read(uart), read(uart), read(uart), read(uart)])
}

fn announce(uart: &dyn SerialPort) {
    write(uart, protocol::READY);
    write(uart, " (");
    write(uart, board::NAME);
    write(uart, ")\n");
}

/// Waits for an image and stores it at [`LOAD_ADDRESS`]: its size, or why not.
fn receive(uart: &dyn SerialPort, capacity: u64) -> Result<u32, &'static str> {
    let mut window = [0u8; 4];
    while window != protocol::MAGIC {
        let b = read(uart);
        if b == protocol::ENQUIRY {
            announce(uart);
        }
        window = [window[1], window[2], window[3], b];
    }
    let size = read_u32(uart);
    let expected = read_u32(uart);
    if size == 0 || u64::from(size) > capacity {
        return Err("image size 0 or larger than the space below the loader");
    }
    let mut crc = Crc32::new();
    for i in 0..u64::from(size) {
        let b = read(uart);
        crc.update(b);
        // SAFETY: LOAD_ADDRESS..LOAD_ADDRESS + capacity is RAM below the
        // loader that nothing else uses (the MMU is off: physical addresses).
        unsafe { core::ptr::write_volatile((LOAD_ADDRESS + i) as *mut u8, b) };
    }
    if crc.finish() != expected {
        return Err("CRC-32 mismatch");
    }
    Ok(size)
}

#[no_mangle]
extern "C" fn loader_main(device_tree: u64) -> ! {
    let uart = board::init_console();
    let capacity = core::ptr::addr_of!(__loader_start) as u64 - LOAD_ADDRESS;
    announce(uart);
    loop {
        match receive(uart, capacity) {
            Ok(_) => {
                write(uart, protocol::ACCEPTED);
                write(uart, "\n");
                uart.flush();
                // SAFETY: a complete image (checked by CRC) is at LOAD_ADDRESS.
                unsafe { chainload_jump(LOAD_ADDRESS, device_tree) }
            }
            Err(why) => {
                write(uart, protocol::REJECTED);
                write(uart, ": ");
                write(uart, why);
                write(uart, "\n");
            }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
