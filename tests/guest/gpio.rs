//! QEMU test: `ilusion::gpio` on the Pis, read back from the GPIO block's
//! registers: function select, output levels (GPSET/GPCLR, then GPLEV),
//! pulls (GPIO_PUP_PDN_CNTRL on the Pi 4; the Pi 3's cannot be read), the
//! errors (the UART's pins, a pin out of range, a pin or the activity LED
//! taken twice), and an
//! edge interrupt reaching the pin's handler. On QEMU `virt`: the clear
//! "no GPIO" error. Prints `gpio: ... ok` per check; any failure exits 1.
//!
//! The edge: QEMU's GPIO models have no edge detection (GPEDS reads 0,
//! GPREN/GPFEN ignore writes) and nothing drives an input pin, so no real
//! edge can happen. `gpio::simulate_edge` stands in for the detector: it
//! records the pin's event beside GPEDS and makes the bank interrupt
//! pending at the GIC (GICD_ISPENDR) on the Pi 4, so the interrupt takes
//! the real path (GIC acknowledge, `irq` dispatch, the GPIO bank handler,
//! which reads GPEDS and adds the recorded event, the pin's handler). The
//! Pi 3's BCM2835 controller cannot make an interrupt pending from
//! software (its pending registers only follow the devices' lines, and
//! QEMU does not even connect the GPIO bank lines), so there the bank
//! handler is called directly, interrupts masked; the line says which.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use ilusion::gpio::{self, Delivery, Edge, Function, GpioError, Pin, Pull};
use ilusion::println;

ilusion::entry!(main);

static EDGES: AtomicU32 = AtomicU32::new(0);
static LAST_PIN: AtomicU32 = AtomicU32::new(u32::MAX);
/// Pins whose edge handler ran (`every_pin_edge`), a bit each.
static PINS_SEEN: AtomicU64 = AtomicU64::new(0);

fn on_any_edge(pin: u32) {
    PINS_SEEN.fetch_or(1 << pin, Ordering::Relaxed);
}

fn on_edge(pin: u32) {
    LAST_PIN.store(pin, Ordering::Relaxed);
    EDGES.fetch_add(1, Ordering::Relaxed);
}

fn check(ok: bool, what: &str) {
    if !ok {
        println!("gpio: FAILED: {what}");
        ilusion::exit(1);
    }
}

fn main() {
    match Pin::take(17) {
        Err(e @ GpioError::NoGpio { .. }) => {
            println!("gpio: no GPIO: {e}");
            return;
        }
        Err(e) => {
            println!("gpio: taking GPIO 17: {e}");
            check(false, "taking GPIO 17 failed");
        }
        Ok(pin) => drop(pin),
    }
    errors();
    output();
    pull();
    edge();
    every_pin_edge();
    println!("gpio: all ok");
}

fn errors() {
    for pin in [14, 15] {
        match Pin::take(pin) {
            Err(e @ GpioError::Reserved { .. }) => println!("gpio: GPIO {pin}: {e}"),
            _ => check(false, "a UART pin was not refused as reserved"),
        }
    }
    // The Pi 3's BCM2837 has GPIO 0 to 53, the Pi 4's BCM2711 0 to 57.
    for pin in [54, 58] {
        match Pin::take(pin) {
            Err(e @ GpioError::OutOfRange { .. }) => println!("gpio: GPIO {pin}: {e}"),
            Ok(_) => println!("gpio: GPIO {pin} taken"),
            Err(e) => {
                println!("gpio: GPIO {pin}: {e}");
                check(false, "a pin past the first 54 was refused for another reason")
            }
        }
    }
    let first = Pin::take(17);
    check(first.is_ok(), "GPIO 17 could not be taken");
    match Pin::take(17) {
        Err(e @ GpioError::Taken { .. }) => println!("gpio: GPIO 17 again: {e}"),
        _ => check(false, "GPIO 17 was taken twice"),
    }
    drop(first);
    check(Pin::take(17).is_ok(), "GPIO 17 was not given back when its Pin was dropped");
    // The activity LED too: one owner at a time (on its pin, or behind the firmware).
    let led = gpio::ActivityLed::take();
    check(led.is_ok(), "the activity LED could not be taken");
    match gpio::ActivityLed::take() {
        Err(e @ (GpioError::Taken { .. } | GpioError::LedTaken)) => println!("gpio: activity LED again: {e}"),
        _ => check(false, "the activity LED was taken twice"),
    }
    drop(led);
    check(gpio::ActivityLed::take().is_ok(), "the activity LED was not given back when dropped");
    println!("gpio: errors ok");
}

fn output() {
    let mut pin = Pin::take(21).unwrap_or_else(|_| panic!("GPIO 21"));
    pin.set_function(Function::Output);
    check(pin.function() == Function::Output, "function select does not read back Output");
    for round in 0..3 {
        pin.set_high();
        check(pin.is_high(), "GPLEV does not show the pin high after GPSET");
        pin.set_low();
        check(!pin.is_high(), "GPLEV does not show the pin low after GPCLR");
        if round == 0 {
            println!("gpio: GPIO 21 output: high after GPSET, low after GPCLR");
        }
    }
    drop(pin);
    let again = Pin::take(21).unwrap_or_else(|_| panic!("GPIO 21"));
    check(again.function() == Function::Input, "a dropped pin is not an input again");
    println!("gpio: output ok");
}

fn pull() {
    let mut pin = Pin::take(22).unwrap_or_else(|_| panic!("GPIO 22"));
    let mut readable = true;
    for pull in [Pull::Up, Pull::Down, Pull::None] {
        pin.set_pull(pull);
        match pin.pull() {
            Some(read) => check(read == pull, "the pull read back is not the one set"),
            None => readable = false,
        }
    }
    if readable {
        println!("gpio: pulls read back from GPIO_PUP_PDN_CNTRL: up, down, none");
    } else {
        // BCM2837: the GPPUD/GPPUDCLK handshake ran; the pad keeps the
        // setting where no register shows it.
        println!("gpio: pulls latched by the GPPUD/GPPUDCLK handshake (not readable on the BCM2837)");
    }
    println!("gpio: pull ok");
}

/// Waits (sleeping, interrupts on) for the edge count to reach `n`.
fn wait_for_edges(n: u32) -> bool {
    for _ in 0..100 {
        if EDGES.load(Ordering::Relaxed) >= n {
            return true;
        }
        ilusion::time::sleep(Duration::from_millis(1));
    }
    EDGES.load(Ordering::Relaxed) >= n
}

fn edge() {
    let mut button = Pin::take(17).unwrap_or_else(|_| panic!("GPIO 17"));
    button.set_function(Function::Input);
    button.set_pull(Pull::Up);
    if let Err(e) = button.on_edge(Edge::Falling, on_edge) {
        println!("gpio: on_edge: {e}");
        check(false, "registering the edge handler failed");
    }
    let (banks_before, _) = gpio::interrupt_counts();
    let delivery = gpio::simulate_edge(17);
    check(delivery.is_ok(), "simulate_edge failed");
    check(wait_for_edges(1), "the edge never reached the handler");
    check(LAST_PIN.load(Ordering::Relaxed) == 17, "the handler was called for another pin");
    let (banks_after, _) = gpio::interrupt_counts();
    check(banks_after > banks_before, "no GPIO bank interrupt was counted");
    match delivery {
        Ok(Delivery::Controller) => {
            println!("gpio: edge on GPIO 17 reached its handler through the interrupt controller")
        }
        _ => println!("gpio: edge on GPIO 17 reached its handler by a direct call of the bank handler"),
    }
    // A pin that stopped watching edges gets no more calls.
    button.stop_edges();
    let _ = gpio::simulate_edge(17);
    ilusion::time::sleep(Duration::from_millis(10));
    check(EDGES.load(Ordering::Relaxed) == 1, "a pin with its edges stopped still got its handler called");
    println!("gpio: edge interrupt ok");
}

/// Every pin an application may take can watch edges: each is in one of
/// the board's banks, whose interrupt reaches its handler. (The middle
/// bank, GPIO 28-45, covered only 28-41: `on_edge` on GPIO 42-45, the Pi
/// 4's activity LED among them, failed with "interrupt 42 cannot be
/// raised by software here".)
fn every_pin_edge() {
    let (mut last, mut failed) = (0, false);
    for number in 0..64 {
        let mut pin = match Pin::take(number) {
            Ok(pin) => pin,
            Err(GpioError::Reserved { .. } | GpioError::OutOfRange { .. }) => continue,
            Err(e) => {
                println!("gpio: GPIO {number}: {e}");
                check(false, "a pin could not be taken");
                continue;
            }
        };
        last = number;
        if let Err(e) = pin.on_edge(Edge::Rising, on_any_edge) {
            println!("gpio: on_edge on GPIO {number}: {e}");
            failed = true;
            continue;
        }
        let delivered = gpio::simulate_edge(number).is_ok();
        let reached = (0..100).any(|_| {
            let seen = PINS_SEEN.load(Ordering::Relaxed) & (1 << number) != 0;
            if !seen {
                ilusion::time::sleep(Duration::from_millis(1));
            }
            seen
        });
        if !delivered || !reached {
            println!("gpio: the edge on GPIO {number} did not reach its handler");
            failed = true;
        }
    }
    check(!failed, "a pin's edge did not reach its handler");
    println!("gpio: every pin's edge reached its handler (GPIO 0 to {last} but the reserved)");
}
