//! The Pis' GPIO block ([`super::bcm_gpio`]) as `crate::gpio` drives it:
//! [`GpioController`] for [`Gpio`], translating the portable names
//! (`gpio::Function`, `gpio::Pull`, `gpio::Edge`) into the chip's. A file
//! of its own because `bcm_gpio.rs` is also built into the serial
//! chainloader, which has no `crate::gpio`.

use super::bcm_gpio::{self, Gpio};
use crate::gpio::{Edge, Function, GpioController, Pull};

fn chip_function(function: Function) -> bcm_gpio::Function {
    match function {
        Function::Input => bcm_gpio::Function::Input,
        Function::Output => bcm_gpio::Function::Output,
        Function::Alt0 => bcm_gpio::Function::Alt0,
        Function::Alt1 => bcm_gpio::Function::Alt1,
        Function::Alt2 => bcm_gpio::Function::Alt2,
        Function::Alt3 => bcm_gpio::Function::Alt3,
        Function::Alt4 => bcm_gpio::Function::Alt4,
        Function::Alt5 => bcm_gpio::Function::Alt5,
    }
}

fn portable_function(function: bcm_gpio::Function) -> Function {
    match function {
        bcm_gpio::Function::Input => Function::Input,
        bcm_gpio::Function::Output => Function::Output,
        bcm_gpio::Function::Alt0 => Function::Alt0,
        bcm_gpio::Function::Alt1 => Function::Alt1,
        bcm_gpio::Function::Alt2 => Function::Alt2,
        bcm_gpio::Function::Alt3 => Function::Alt3,
        bcm_gpio::Function::Alt4 => Function::Alt4,
        bcm_gpio::Function::Alt5 => Function::Alt5,
    }
}

impl GpioController for Gpio {
    fn pin_count(&self) -> u32 {
        Gpio::pin_count(self)
    }

    fn set_function(&self, pin: u32, function: Function) {
        Gpio::set_function(self, pin, chip_function(function));
    }

    fn function(&self, pin: u32) -> Function {
        portable_function(Gpio::function(self, pin))
    }

    fn set_pull(&self, pin: u32, pull: Pull) {
        let pull = match pull {
            Pull::None => bcm_gpio::Pull::None,
            Pull::Up => bcm_gpio::Pull::Up,
            Pull::Down => bcm_gpio::Pull::Down,
        };
        Gpio::set_pull(self, pin, pull);
    }

    fn pull(&self, pin: u32) -> Option<Pull> {
        Gpio::pull(self, pin).map(|pull| match pull {
            bcm_gpio::Pull::None => Pull::None,
            bcm_gpio::Pull::Up => Pull::Up,
            bcm_gpio::Pull::Down => Pull::Down,
        })
    }

    fn write(&self, pin: u32, high: bool) {
        Gpio::write(self, pin, high);
    }

    fn read(&self, pin: u32) -> bool {
        Gpio::read(self, pin)
    }

    fn set_edges(&self, pin: u32, edges: Option<Edge>) {
        let rising = matches!(edges, Some(Edge::Rising | Edge::Both));
        let falling = matches!(edges, Some(Edge::Falling | Edge::Both));
        self.set_edge_detect(pin, rising, falling);
    }

    fn take_events(&self, pins: u64) -> u64 {
        Gpio::take_events(self, pins)
    }
}
