//! QEMU test: the interrupt registration API refuses bad requests with a
//! clear error, and leaves the kernel's own interrupts alone: the timer's
//! and the console's handlers cannot be unregistered, the IPIs cannot be
//! raised as software interrupts (the stop IPI would halt the core), and a
//! number with no handler is refused too, and so is one the board's
//! controller has not (the Pi 3's gaps, a GIC's numbers past its count). Time still runs afterwards (the
//! timer was not taken away), and an application's own handler can be
//! registered and unregistered.
#![no_std]
#![no_main]

use core::time::Duration;
use ilusion::irq::{self, IrqError};

ilusion::entry!(main);

fn nothing(_: irq::IntId) {}

fn main() {
    let (timer, uart) = (ilusion::board::TIMER_INTID, ilusion::board::UART_INTID);
    let out_of_range = irq::register(5000, nothing);
    ilusion::println!("register(5000): {}", out_of_range.unwrap_err());
    // Numbers below the architecture's 1020 that the board's controller
    // lacks: the Pi 3's numbering has gaps (8-31) and ends at 95; a GIC's
    // ends where its GICD_TYPER says (288 on QEMU virt, 224 on the Pi 4).
    let missing: &[irq::IntId] = if ilusion::board::NAME == "rpi3" { &[8, 20, 31, 96, 200] } else { &[500, 1019] };
    let missing_refused = missing.iter().all(|&id| {
        let r = irq::register(id, nothing);
        ilusion::println!("register({id}): {r:?}");
        r == Err(IrqError::NoSuchInterrupt(id))
    });
    ilusion::println!("numbers the controller lacks {missing:?} refused: {missing_refused}");
    let taken = irq::register(timer, nothing);
    ilusion::println!("register(timer): {}", taken.unwrap_err());
    let timer_gone = irq::unregister(timer);
    let uart_gone = irq::unregister(uart);
    ilusion::println!("unregister(timer): {}", timer_gone.unwrap_err());
    ilusion::println!("unregister(console): {}", uart_gone.unwrap_err());
    // An application's own: in and out (a line the board has and QEMU never raises).
    let spare = if ilusion::board::NAME == "rpi3" { 32 + 10 } else { 100 };
    let never = irq::unregister(spare);
    ilusion::println!("unregister({spare}): {}", never.unwrap_err());
    // Past the board's last number (and its tables): the board has no such interrupt.
    let past = ilusion::board::INTERRUPTS as irq::IntId;
    let unregister_past = irq::unregister(past);
    ilusion::println!("unregister({past}): {:?}", unregister_past);
    // 14 and 15: the GIC's IPIs (on the Pi 3, no software interrupts at all).
    let ipis = [14, 15].map(irq::send_software_interrupt);
    let ipis_refused = ipis.iter().all(|r| matches!(r, Err(IrqError::KernelOwned(_) | IrqError::Unsupported(_))));
    ilusion::println!("raising the IPIs as software interrupts refused: {ipis_refused}");
    let own = irq::register(spare, nothing).and_then(|()| irq::unregister(spare));
    ilusion::println!("own handler registered and unregistered: {own:?}");
    let before = ilusion::time::Instant::now();
    ilusion::time::sleep(Duration::from_millis(2));
    let timer_runs = before.elapsed() >= Duration::from_millis(2);
    ilusion::println!("a sleep still ends: {timer_runs}");
    if out_of_range != Err(IrqError::OutOfRange(5000))
        || taken != Err(IrqError::AlreadyRegistered(timer))
        || timer_gone != Err(IrqError::KernelOwned(timer))
        || uart_gone != Err(IrqError::KernelOwned(uart))
        || never != Err(IrqError::NotRegistered(spare))
        || unregister_past != Err(IrqError::NoSuchInterrupt(past))
        || !ipis_refused
        || !missing_refused
        || own != Ok(())
        || !timer_runs
    {
        ilusion::exit(1);
    }
    ilusion::println!("spurious so far: {}", irq::spurious_count());
    ilusion::println!("irq api ok");
}
