//! Blinks the board's activity LED and reports presses of a button, with
//! an interrupt: the `ilusion::gpio` API on a Raspberry Pi.
//!
//! Run it: `just run blink rpi4` (or `rpi3`), or on a real Pi (wiring and
//! first boot: docs/04-running-on-real-hardware.md).
//!
//! - The LED: Pi 4's green ACT LED is GPIO 42; the Pi 3's is behind the
//!   firmware's GPIO expander, switched through the mailbox. Each change
//!   is printed.
//! - The button: between GPIO 17 (header pin 11) and ground (pin 9). The
//!   pin's pull-up holds it high; pressing pulls it low, a falling edge,
//!   whose interrupt runs `pressed`. Presses are reported as they come.
//!   (A real button bounces: one press may count a few times.)
//!
//! It stops after [`BLINKS`] blinks, so it ends by itself in QEMU (where
//! nothing presses the button). On QEMU `virt`, which has no GPIO, it says
//! so and exits with status 0.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use ilusion::gpio::{ActivityLed, Edge, Function, GpioError, Pin, Pull};
use ilusion::println;

ilusion::entry!(main);

/// Blinks before the program ends.
const BLINKS: u32 = 5;
/// How long the LED stays on, then off.
const HALF_PERIOD: Duration = Duration::from_millis(250);
/// The button's pin (BCM numbering; header pin 11).
const BUTTON: u32 = 17;

/// Presses counted by the interrupt handler.
static PRESSES: AtomicU32 = AtomicU32::new(0);

/// Runs in interrupt context on each falling edge of the button's pin.
fn pressed(_pin: u32) {
    PRESSES.fetch_add(1, Ordering::Relaxed);
}

fn main() {
    if let Err(e) = blink() {
        match e {
            GpioError::NoGpio { .. } => println!("blink: {e}: nothing to blink (try `just run blink rpi4`)"),
            _ => {
                println!("blink: {e}");
                ilusion::exit(1);
            }
        }
    }
}

fn blink() -> Result<(), GpioError> {
    let mut led = ActivityLed::take()?;
    let mut button = Pin::take(BUTTON)?;
    button.set_function(Function::Input);
    button.set_pull(Pull::Up);
    button.on_edge(Edge::Falling, pressed)?;
    match led.pin() {
        Some(pin) => println!("blink: activity LED on GPIO {}, button on GPIO {BUTTON}", pin.number()),
        None => println!("blink: activity LED behind the firmware's GPIO expander, button on GPIO {BUTTON}"),
    }

    let mut reported = 0;
    for blink in 1..=BLINKS {
        for on in [true, false] {
            led.set(on)?;
            let state = if on { "on" } else { "off" };
            match led.pin() {
                Some(pin) => {
                    println!("blink {blink}/{BLINKS}: LED {state} (GPIO {} reads {})", pin.number(), level(pin))
                }
                None => println!("blink {blink}/{BLINKS}: LED {state}"),
            }
            ilusion::time::sleep(HALF_PERIOD);
            let presses = PRESSES.load(Ordering::Relaxed);
            if presses != reported {
                println!("button: pressed ({presses} so far)");
                reported = presses;
            }
        }
    }
    println!("blink: done, {BLINKS} blinks, {reported} button presses");
    Ok(())
}

fn level(pin: &Pin) -> &'static str {
    if pin.is_high() {
        "high"
    } else {
        "low"
    }
}
