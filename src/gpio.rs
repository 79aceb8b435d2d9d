//! General-purpose I/O pins for applications: a [`Pin`] owns one pin of
//! the board's GPIO block, for as long as it lives.
//!
//! ```ignore
//! let mut led = gpio::Pin::take(42)?;          // an error if taken, reserved or absent
//! led.set_function(gpio::Function::Output);
//! led.set_high();
//! let mut button = gpio::Pin::take(17)?;
//! button.set_pull(gpio::Pull::Up);              // idle high; the button pulls it to ground
//! button.on_edge(gpio::Edge::Falling, pressed)?; // `pressed(17)` runs in interrupt context
//! ```
//!
//! Owning: [`Pin::take`] fails with [`GpioError::Taken`] while another
//! `Pin` has the same number; dropping a `Pin` stops its edge interrupts,
//! makes it an input again and gives it back. Pins the board uses itself
//! (the console UART's GPIO 14 and 15 on the Pis) are
//! [`GpioError::Reserved`]; a board without a GPIO block (QEMU `virt`)
//! answers [`GpioError::NoGpio`].
//!
//! Edge interrupts: the GPIO block watches the edges a pin asks for and
//! raises its *bank's* interrupt (on the Pis GPIO 0-27, 28-45 and 46-53
//! on the Pi 3, 46-57 on the Pi 4, have one each) while any detected edge is unacknowledged. The first
//! [`Pin::on_edge`] in a bank registers this module's bank handler through
//! [`crate::irq::register`]; the handler takes the bank's events from the
//! block (which acknowledges them) and calls each pin's handler.
//!
//! How the pieces fit: the register-level driver implements
//! [`GpioController`] (`drivers::bcm_gpio`), and the board describes its
//! block in a [`GpioBlock`] (which driver, reserved pins, bank interrupts,
//! the activity LED) through `Board::gpio`. This module knows no board.

use crate::irq::{IntId, IrqError};
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What a pin does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Input,
    Output,
    /// The pin belongs to one of six peripherals wired to it (the chip's
    /// "alternate function" table says which: UART0 TXD is GPIO 14 ALT0).
    Alt0,
    Alt1,
    Alt2,
    Alt3,
    Alt4,
    Alt5,
}

/// The resistor inside the pad that holds an unconnected input at a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    None,
    Up,
    Down,
}

/// Which input changes raise a pin's interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Low to high.
    Rising,
    /// High to low (a button that connects the pin to ground).
    Falling,
    Both,
}

/// Why a pin could not be had or set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpioError {
    /// This board has no GPIO block ilusion drives (QEMU `virt`).
    NoGpio { board: &'static str },
    /// There is no such pin.
    OutOfRange { pin: u32, count: u32 },
    /// The board keeps this pin for itself.
    Reserved { pin: u32, by: &'static str },
    /// Another [`Pin`] owns it.
    Taken { pin: u32 },
    /// Another [`ActivityLed`] owns the LED (one behind the firmware's
    /// expander; a LED on a GPIO is [`GpioError::Taken`] like its pin).
    LedTaken,
    /// The bank's interrupt could not be registered.
    Interrupt(IrqError),
    /// The firmware did not answer a request for its GPIO expander.
    Firmware,
}

impl fmt::Display for GpioError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::NoGpio { board } => write!(f, "this board ({board}) has no GPIO"),
            Self::OutOfRange { pin, count } => {
                write!(f, "GPIO {pin} does not exist (this board has GPIO 0 to {})", count - 1)
            }
            Self::Reserved { pin, by } => write!(f, "GPIO {pin} is reserved for {by}"),
            Self::Taken { pin } => write!(f, "GPIO {pin} is taken (another Pin owns it; drop that one first)"),
            Self::LedTaken => {
                f.write_str("the activity LED is taken (another ActivityLed owns it; drop that one first)")
            }
            Self::Interrupt(e) => write!(f, "GPIO interrupt: {e}"),
            Self::Firmware => f.write_str("the firmware did not answer the GPIO expander request"),
        }
    }
}

/// A register-level GPIO driver, as this module uses it. Pin numbers are
/// below [`GpioController::pin_count`] (callers check).
pub trait GpioController: Sync {
    fn pin_count(&self) -> u32;
    fn set_function(&self, pin: u32, function: Function);
    fn function(&self, pin: u32) -> Function;
    fn set_pull(&self, pin: u32, pull: Pull);
    /// The pull as the hardware reports it; `None` if it cannot be read back.
    fn pull(&self, pin: u32) -> Option<Pull>;
    /// Drives an output pin high or low.
    fn write(&self, pin: u32, high: bool);
    /// The pin's level (an output's too: what it drives).
    fn read(&self, pin: u32) -> bool;
    /// Which edges the pin watches (`None`: none), and forgets any edge seen before.
    fn set_edges(&self, pin: u32, edges: Option<Edge>);
    /// The pins among `pins` (a bit each) that saw an edge, acknowledged.
    fn take_events(&self, pins: u64) -> u64;
}

/// Where the board's activity LED is.
#[derive(Clone, Copy)]
pub enum ActivityLedWiring {
    /// On a GPIO pin, lit when high (Pi 4: GPIO 42).
    Pin(u32),
    /// Behind the firmware's GPIO expander (Pi 3): `set(on)` asks the
    /// firmware, and says whether it answered.
    Firmware { set: fn(bool) -> bool },
}

/// A board's GPIO block, as the board describes it.
pub struct GpioBlock {
    pub controller: &'static dyn GpioController,
    /// Pins the board uses itself, and what for.
    pub reserved: &'static [(u32, &'static str)],
    /// The interrupt of each bank and the pins (a bit each) it covers.
    pub banks: &'static [(IntId, u64)],
    pub activity_led: ActivityLedWiring,
}

/// Whether `banks` give each of the pins `0..count` exactly one bank (and
/// no pin past them any): each board checks its table with this when it is
/// built. (The Pis' middle bank, GPIO 28-45, was written as 14 pins
/// instead of 18: `Pin::on_edge` on GPIO 42-45 failed.)
pub const fn banks_cover(banks: &[(IntId, u64)], count: u32) -> bool {
    let all = if count >= 64 { u64::MAX } else { (1 << count) - 1 };
    let mut seen = 0u64;
    let mut i = 0;
    while i < banks.len() {
        let pins = banks[i].1;
        if seen & pins != 0 {
            return false;
        }
        seen |= pins;
        i += 1;
    }
    seen == all
}

/// Pins taken, a bit each (the Pi 3 has 54, the Pi 4 58).
static TAKEN: PinSet = PinSet::new();
/// A LED behind the firmware's expander is owned (a LED on a GPIO is
/// claimed as its pin, in [`TAKEN`]).
static FIRMWARE_LED_TAKEN: AtomicBool = AtomicBool::new(false);
/// Each pin's edge handler (a `fn(u32)`), 0 if none.
static EDGE_HANDLERS: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];
/// Banks whose interrupt this module registered, a bit each.
static BANKS_REGISTERED: AtomicU64 = AtomicU64::new(0);
/// Bank interrupts taken, and pin handlers they ran.
static BANK_INTERRUPTS: AtomicU64 = AtomicU64::new(0);
static EDGES_DELIVERED: AtomicU64 = AtomicU64::new(0);
/// Edges a test stands in for (see `simulate_edge`), a bit per pin.
static SIMULATED: AtomicU64 = AtomicU64::new(0);
/// Serialises the read-modify-writes of registers pins share (function
/// select, pulls, edge enables): a spin lock with interrupts masked.
static CONFIG: crate::critical::SpinLock<()> = crate::critical::SpinLock::new("gpio config", ());

/// A set of pin numbers (0 to 63), claimed and released atomically.
struct PinSet(AtomicU64);

impl PinSet {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Claims `pin`; `false` if it was claimed already.
    fn claim(&self, pin: u32) -> bool {
        self.0.fetch_or(1 << pin, Ordering::AcqRel) & (1 << pin) == 0
    }

    fn release(&self, pin: u32) {
        self.0.fetch_and(!(1 << pin), Ordering::AcqRel);
    }
}

/// Whether `pin` may be taken on `block`, before anyone claims it.
fn check(block: &GpioBlock, pin: u32) -> Result<(), GpioError> {
    let count = block.controller.pin_count();
    if pin >= count {
        return Err(GpioError::OutOfRange { pin, count });
    }
    if let Some(&(_, by)) = block.reserved.iter().find(|(p, _)| *p == pin) {
        return Err(GpioError::Reserved { pin, by });
    }
    Ok(())
}

/// Calls the handler of each pin in `events`; how many ran.
fn deliver(events: u64) -> u64 {
    let mut ran = 0;
    for pin in (0..64).filter(|p| events & (1 << p) != 0) {
        let handler = EDGE_HANDLERS[pin as usize].load(Ordering::Acquire);
        if handler != 0 {
            // SAFETY: non-zero entries are only ever stored from a `fn(u32)`.
            let handler: fn(u32) = unsafe { core::mem::transmute::<usize, fn(u32)>(handler) };
            handler(pin);
            ran += 1;
        }
    }
    ran
}

/// The bank interrupt's handler: the bank's events, acknowledged at the
/// block, to the pins' handlers.
fn bank_interrupt_on(block: &GpioBlock, id: IntId) {
    BANK_INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    let pins = block.banks.iter().filter(|(bank, _)| *bank == id).fold(0, |all, (_, pins)| all | pins);
    let events = block.controller.take_events(pins) | (SIMULATED.fetch_and(!pins, Ordering::AcqRel) & pins);
    EDGES_DELIVERED.fetch_add(deliver(events), Ordering::Relaxed);
}

/// How many GPIO bank interrupts were taken, and how many pin handlers they ran.
pub fn interrupt_counts() -> (u64, u64) {
    (BANK_INTERRUPTS.load(Ordering::Relaxed), EDGES_DELIVERED.load(Ordering::Relaxed))
}

#[cfg(target_os = "none")]
pub use on_target::*;

#[cfg(target_os = "none")]
mod on_target {
    use super::*;
    use crate::board::{Board, Selected};

    fn block() -> Result<&'static GpioBlock, GpioError> {
        Selected::gpio().ok_or(GpioError::NoGpio { board: Selected::NAME })
    }

    fn bank_interrupt(id: IntId) {
        if let Ok(block) = block() {
            bank_interrupt_on(block, id);
        }
    }

    /// One GPIO pin, owned: see the module documentation.
    pub struct Pin {
        number: u32,
        block: &'static GpioBlock,
    }

    impl Pin {
        /// Takes pin `number` (BCM numbering, as in `GPIO 17`), leaving
        /// its function and level as they are.
        pub fn take(number: u32) -> Result<Pin, GpioError> {
            let block = block()?;
            check(block, number)?;
            if !TAKEN.claim(number) {
                return Err(GpioError::Taken { pin: number });
            }
            Ok(Pin { number, block })
        }

        pub fn number(&self) -> u32 {
            self.number
        }

        pub fn set_function(&mut self, function: Function) {
            let _config = CONFIG.lock();
            self.block.controller.set_function(self.number, function);
        }

        /// What the pin does, read from the hardware.
        pub fn function(&self) -> Function {
            self.block.controller.function(self.number)
        }

        pub fn set_pull(&mut self, pull: Pull) {
            let _config = CONFIG.lock();
            self.block.controller.set_pull(self.number, pull);
        }

        /// The pull, read from the hardware; `None` where the chip cannot
        /// say (the Pi 3's BCM2837).
        pub fn pull(&self) -> Option<Pull> {
            self.block.controller.pull(self.number)
        }

        /// Drives the pin high (set it to [`Function::Output`] first).
        pub fn set_high(&mut self) {
            self.block.controller.write(self.number, true);
        }

        pub fn set_low(&mut self) {
            self.block.controller.write(self.number, false);
        }

        /// The pin's level, read from the hardware.
        pub fn is_high(&self) -> bool {
            self.block.controller.read(self.number)
        }

        /// Runs `handler(pin)` in interrupt context (keep it short) each
        /// time the pin sees `edge`; replaces an earlier handler.
        pub fn on_edge(&mut self, edge: Edge, handler: fn(u32)) -> Result<(), GpioError> {
            let (id, _) = *self
                .block
                .banks
                .iter()
                .find(|(_, pins)| pins & (1 << self.number) != 0)
                .ok_or(GpioError::Interrupt(IrqError::Unsupported(self.number)))?;
            let bank = 1 << self.block.banks.iter().position(|(i, _)| *i == id).unwrap_or(0);
            EDGE_HANDLERS[self.number as usize].store(handler as *const () as usize, Ordering::Release);
            // Edges first (which also forgets a stale event), then the bank's interrupt.
            {
                let _config = CONFIG.lock();
                self.block.controller.set_edges(self.number, Some(edge));
            }
            if BANKS_REGISTERED.fetch_or(bank, Ordering::AcqRel) & bank == 0 {
                if let Err(e) = crate::irq::register_for_kernel(id, bank_interrupt) {
                    BANKS_REGISTERED.fetch_and(!bank, Ordering::AcqRel);
                    self.stop_edges();
                    return Err(GpioError::Interrupt(e));
                }
            }
            Ok(())
        }

        /// Stops the pin's edge interrupts. As with [`crate::irq::unregister`],
        /// another core that took the bank's interrupt just before may still
        /// be running the pin's handler as this returns; an edge after it
        /// calls none. The handler is a plain `fn`: nothing it uses is freed here.
        pub fn stop_edges(&mut self) {
            {
                let _config = CONFIG.lock();
                self.block.controller.set_edges(self.number, None);
            }
            EDGE_HANDLERS[self.number as usize].store(0, Ordering::Release);
        }
    }

    impl Drop for Pin {
        /// Edge interrupts off, back to an input, given back.
        fn drop(&mut self) {
            self.stop_edges();
            self.set_function(Function::Input);
            TAKEN.release(self.number);
        }
    }

    /// The board's activity LED ("ACT", green), owned like a [`Pin`]: one
    /// `ActivityLed` at a time, given back when dropped.
    pub struct ActivityLed {
        wiring: LedOwner,
    }

    enum LedOwner {
        Pin(Pin),
        Firmware(fn(bool) -> bool),
    }

    impl ActivityLed {
        /// The LED, switched off; [`GpioError::NoGpio`] on a board without
        /// one, [`GpioError::Taken`] (its pin) or [`GpioError::LedTaken`]
        /// (behind the firmware) while another `ActivityLed` owns it.
        pub fn take() -> Result<ActivityLed, GpioError> {
            let wiring = match block()?.activity_led {
                ActivityLedWiring::Pin(number) => {
                    let mut pin = Pin::take(number)?;
                    pin.set_function(Function::Output);
                    LedOwner::Pin(pin)
                }
                ActivityLedWiring::Firmware { set } => {
                    if FIRMWARE_LED_TAKEN.swap(true, Ordering::AcqRel) {
                        return Err(GpioError::LedTaken);
                    }
                    LedOwner::Firmware(set) // given back by `drop`, also if switching it off fails
                }
            };
            let mut led = ActivityLed { wiring };
            led.set(false)?;
            Ok(led)
        }

        /// Switches the LED on or off.
        pub fn set(&mut self, on: bool) -> Result<(), GpioError> {
            match &mut self.wiring {
                LedOwner::Pin(pin) if on => pin.set_high(),
                LedOwner::Pin(pin) => pin.set_low(),
                LedOwner::Firmware(set) => {
                    if !set(on) {
                        return Err(GpioError::Firmware);
                    }
                }
            }
            Ok(())
        }

        /// The GPIO pin it is on; `None` behind the firmware's expander.
        pub fn pin(&self) -> Option<&Pin> {
            match &self.wiring {
                LedOwner::Pin(pin) => Some(pin),
                LedOwner::Firmware(_) => None,
            }
        }
    }

    impl Drop for ActivityLed {
        /// Gives the LED back (one on a pin, as its `Pin` is dropped next).
        fn drop(&mut self) {
            if let LedOwner::Firmware(_) = self.wiring {
                FIRMWARE_LED_TAKEN.store(false, Ordering::Release);
            }
        }
    }

    /// How a simulated edge reached the bank handler.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Delivery {
        /// Through the interrupt controller: its bank interrupt was made pending.
        Controller,
        /// By a direct call of the bank handler (interrupts masked): the
        /// controller cannot make a device's interrupt pending.
        DirectCall,
    }

    /// For tests: stands in for the edge detector, which QEMU's GPIO models
    /// lack (GPEDS reads as 0). Records an event for `pin` beside what
    /// GPEDS reports, then makes the pin's bank interrupt pending at the
    /// interrupt controller (GIC GICD_ISPENDR), so it arrives as a real one
    /// would; where the controller cannot (the Pi 3's BCM2835 controller
    /// has no software-pending register), calls the bank handler directly.
    #[doc(hidden)]
    pub fn simulate_edge(pin: u32) -> Result<Delivery, GpioError> {
        let block = block()?;
        check(block, pin)?;
        let &(id, _) = block
            .banks
            .iter()
            .find(|(_, pins)| pins & (1 << pin) != 0)
            .ok_or(GpioError::OutOfRange { pin, count: 0 })?;
        SIMULATED.fetch_or(1 << pin, Ordering::AcqRel);
        match crate::irq::set_pending(id) {
            Ok(()) => Ok(Delivery::Controller),
            Err(IrqError::Unsupported(_)) => {
                crate::arch::cpu::without_interrupts(|| bank_interrupt(id));
                Ok(Delivery::DirectCall)
            }
            Err(e) => Err(GpioError::Interrupt(e)),
        }
    }

    /// The bank interrupts of this board's GPIO block (empty without one).
    pub fn bank_interrupts() -> &'static [(IntId, u64)] {
        block().map_or(&[], |b| b.banks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Fake;
    impl GpioController for Fake {
        fn pin_count(&self) -> u32 {
            58
        }
        fn set_function(&self, _: u32, _: Function) {}
        fn function(&self, _: u32) -> Function {
            Function::Input
        }
        fn set_pull(&self, _: u32, _: Pull) {}
        fn pull(&self, _: u32) -> Option<Pull> {
            None
        }
        fn write(&self, _: u32, _: bool) {}
        fn read(&self, _: u32) -> bool {
            false
        }
        fn set_edges(&self, _: u32, _: Option<Edge>) {}
        /// GPIO 20 and 40 saw an edge.
        fn take_events(&self, pins: u64) -> u64 {
            pins & ((1 << 20) | (1 << 40))
        }
    }

    static FAKE: Fake = Fake;
    static BLOCK: GpioBlock = GpioBlock {
        controller: &FAKE,
        reserved: &[(14, "the console UART")],
        banks: &[(81, 0x0fff_ffff), (82, 0x3_ffff << 28)],
        activity_led: ActivityLedWiring::Pin(42),
    };

    #[test]
    fn reserved_and_missing_pins_are_refused() {
        assert_eq!(check(&BLOCK, 14), Err(GpioError::Reserved { pin: 14, by: "the console UART" }));
        assert_eq!(check(&BLOCK, 58), Err(GpioError::OutOfRange { pin: 58, count: 58 }));
        assert_eq!(check(&BLOCK, 17), Ok(()));
        assert_eq!(
            GpioError::OutOfRange { pin: 58, count: 58 }.to_string(),
            "GPIO 58 does not exist (this board has GPIO 0 to 57)"
        );
        assert_eq!(GpioError::NoGpio { board: "qemu-virt" }.to_string(), "this board (qemu-virt) has no GPIO");
        assert_eq!(
            GpioError::LedTaken.to_string(),
            "the activity LED is taken (another ActivityLed owns it; drop that one first)"
        );
    }

    #[test]
    fn banks_must_cover_every_pin_once() {
        let pi3 = [(81, 0x0fff_ffff), (82, 0x3_ffff << 28), (83, 0xff << 46)];
        let pi4 = [(145, 0x0fff_ffff), (146, 0x3_ffff << 28), (147, 0xfff << 46)];
        assert!(banks_cover(&pi3, 54));
        assert!(banks_cover(&pi4, 58));
        // The tables as they were: GPIO 42-45 in no bank.
        assert!(!banks_cover(&[(81, 0x0fff_ffff), (82, 0x3fff << 28), (83, 0xff << 46)], 54));
        // A pin in two banks, a bank past the last pin.
        assert!(!banks_cover(&[(81, 0x0fff_ffff), (82, 0x3f_ffff << 26)], 48));
        assert!(!banks_cover(&pi4, 54));
    }

    #[test]
    fn a_pin_is_claimed_once_until_released() {
        let set = PinSet::new();
        assert!(set.claim(17));
        assert!(!set.claim(17));
        assert!(set.claim(18));
        set.release(17);
        assert!(set.claim(17));
    }

    static SEEN: AtomicU32 = AtomicU32::new(0);
    fn record(pin: u32) {
        SEEN.fetch_add(pin, Ordering::Relaxed);
    }

    #[test]
    fn a_bank_interrupt_runs_the_handlers_of_its_own_pins_only() {
        EDGE_HANDLERS[20].store(record as *const () as usize, Ordering::Release);
        EDGE_HANDLERS[40].store(record as *const () as usize, Ordering::Release);
        SIMULATED.fetch_or(1 << 3, Ordering::AcqRel); // no handler for GPIO 3: nothing runs for it
        bank_interrupt_on(&BLOCK, 81); // bank 0: GPIO 20 (and the simulated 3)
        assert_eq!(SEEN.load(Ordering::Relaxed), 20);
        bank_interrupt_on(&BLOCK, 82); // bank 1: GPIO 40
        assert_eq!(SEEN.load(Ordering::Relaxed), 60);
        assert_eq!(SIMULATED.load(Ordering::Relaxed), 0);
    }
}
