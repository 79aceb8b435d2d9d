//! Where UART0 and the GPIO block are on the Pi the loader is built for
//! (feature `rpi3` or `rpi4`), its timer frequency, and bringing UART0 up on GPIO 14/15. The
//! addresses are those of `boards/rpi3/mod.rs` and `boards/rpi4/mod.rs`.

use crate::bcm_gpio::Gpio;
use crate::console::SerialPort;
use crate::pl011::Pl011;

#[cfg(all(feature = "rpi3", not(feature = "rpi4")))]
mod addresses {
    pub const NAME: &str = "rpi3";
    pub const GPIO: u64 = 0x3f20_0000;
    pub const UART: u64 = 0x3f20_1000;
    pub const CHIP: crate::bcm_gpio::Chip = crate::bcm_gpio::Chip::Bcm2837;
    pub const COUNTER_HZ: u64 = 19_200_000;
}

#[cfg(all(feature = "rpi4", not(feature = "rpi3")))]
mod addresses {
    pub const NAME: &str = "rpi4";
    pub const GPIO: u64 = 0xfe20_0000;
    pub const UART: u64 = 0xfe20_1000;
    pub const CHIP: crate::bcm_gpio::Chip = crate::bcm_gpio::Chip::Bcm2711;
    pub const COUNTER_HZ: u64 = 54_000_000;
}

#[cfg(not(any(all(feature = "rpi3", not(feature = "rpi4")), all(feature = "rpi4", not(feature = "rpi3")))))]
compile_error!("ilusion-chainloader: enable exactly one of the features `rpi3`, `rpi4`");

/// The generic timer's frequency, should the firmware not have set CNTFRQ_EL0.
pub use addresses::COUNTER_HZ;
pub use addresses::NAME;

// SAFETY: with the MMU off these are the physical GPIO and UART0 registers,
// and the loader is their only user.
static GPIO_DEVICE: Gpio = unsafe { Gpio::new(addresses::GPIO, addresses::CHIP) };
// SAFETY: as above.
static UART_DEVICE: Pl011 = unsafe { Pl011::new(addresses::UART) };

/// UART0 on GPIO 14/15 (ALT0), 115200 baud from the 48 MHz clock config.txt sets.
pub fn init_console() -> &'static dyn SerialPort {
    GPIO_DEVICE.route_uart0_to_header();
    UART_DEVICE.init(48_000_000, 115_200);
    &UART_DEVICE
}
