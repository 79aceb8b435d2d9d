//! QEMU test: the interrupt registration API refuses bad requests with a
//! clear error and a registered handler runs (the timer, driven directly).
#![no_std]
#![no_main]

use ilusion::irq::{self, IrqError};

ilusion::entry!(main);

fn nothing(_: irq::IntId) {}

fn main() {
    let out_of_range = irq::register(5000, nothing);
    ilusion::println!("register(5000): {}", out_of_range.unwrap_err());
    let taken = irq::register(ilusion::board::TIMER_INTID, nothing);
    ilusion::println!("register(timer): {}", taken.unwrap_err());
    if out_of_range != Err(IrqError::OutOfRange(5000))
        || taken != Err(IrqError::AlreadyRegistered(ilusion::board::TIMER_INTID))
    {
        ilusion::exit(1);
    }
    ilusion::println!("spurious so far: {}", irq::spurious_count());
    ilusion::println!("irq api ok");
}
