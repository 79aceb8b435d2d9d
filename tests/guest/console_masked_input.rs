//! QEMU test: console input read where the serial port's interrupt cannot
//! come, on core 0 (where that interrupt is routed): holding a spin lock,
//! and in an interrupt handler (the periodic timer's).
//!
//! `console::read_line` waits for bytes the port's interrupt moves into a
//! buffer. With the reader's interrupts masked on core 0, that interrupt
//! never came, and the core waited for ever, saying nothing: the machine
//! hung. With interrupts masked, the reader now drains the port itself.
//!
//! The harness types a line at each prompt (a script, so that it arrives
//! while the reader waits): the lines must come back.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use ilusion::console;
use ilusion::critical::SpinLock;
use ilusion::time::{self, Duration};

ilusion::entry!(main);

/// Core 0 takes the serial port's interrupt.
const CORE: usize = 0;

/// A lock an application shares with an interrupt handler (it masks interrupts while held).
static SHARED: SpinLock<u32> = SpinLock::new("shared with a handler", 0);

/// The line the handler read, and its length (`usize::MAX`: not yet).
static HANDLER_LINE: SpinLock<[u8; 32]> = SpinLock::new("handler's line", [0; 32]);
static HANDLER_LEN: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The periodic handler reads once.
static HANDLER_CALLED: AtomicBool = AtomicBool::new(false);

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn run() {
    // Holding a spin lock: interrupts masked.
    let mut buf = [0u8; 32];
    let n = {
        let mut count = SHARED.lock();
        *count += 1;
        ilusion::println!("holding a spin lock, type a line:");
        console::read_line(&mut buf)
    };
    let line = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
    ilusion::println!("read holding a spin lock: [{line}]");
    check(line == "masked", "line_read_holding_a_spin_lock", format_args!("read [{line}]"));

    // In an interrupt handler: the timer's (every board has it; the Pi 3 has
    // no software interrupts), on this core, called once.
    time::set_periodic(Duration::from_millis(1), read_in_handler).expect("periodic handler");
    while HANDLER_LEN.load(Ordering::Acquire) == usize::MAX {
        ilusion::task::yield_now();
    }
    time::stop_periodic();
    let n = HANDLER_LEN.load(Ordering::Acquire);
    let buf = *HANDLER_LINE.lock();
    let line = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
    ilusion::println!("read in a handler: [{line}]");
    check(line == "handler", "line_read_in_an_interrupt_handler", format_args!("read [{line}]"));
}

fn read_in_handler() {
    if HANDLER_CALLED.swap(true, Ordering::Relaxed) {
        return;
    }
    ilusion::println!("in an interrupt handler, type a line:");
    let mut buf = [0u8; 32];
    let n = console::read_line(&mut buf);
    *HANDLER_LINE.lock() = buf;
    HANDLER_LEN.store(n, Ordering::Release);
}
