//! QEMU test: an interrupt handler that calls a task's waiting API about
//! the task it interrupted stops the machine with the report every
//! handler that blocks gets ("an interrupt handler tried to block"),
//! whatever state that task is in. Which misuse runs is read from the
//! console (one line), one case each:
//!
//! - `park`: the interrupted task holds an unpark token. The handler's
//!   `park` took that token and returned: the task's own `park` later
//!   waited for ever (its unpark was lost), and nothing said why;
//! - `join`: the handler joins the interrupted task's handle. It was
//!   reported as that task joining itself, naming the wrong culprit.
//!
//! The task raises the software interrupt itself, so that the handler
//! interrupts it (a software interrupt goes to the core that raises it).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use ilusion::irq::{self, IntId};
use ilusion::task::{self, Builder, JoinHandle};
use ilusion::time::Duration;

ilusion::entry!(main);

/// The software interrupt the handlers come through.
const SGI: IntId = 5;

/// The task's unpark token is in place: it may raise the interrupt.
static GO: AtomicBool = AtomicBool::new(false);
/// The interrupted task's own handle, for the `join` handler.
static HANDLE: AtomicPtr<JoinHandle<()>> = AtomicPtr::new(ptr::null_mut());

fn parking_handler(_: IntId) {
    task::park();
    ilusion::println!("the handler's park returned");
}

fn joining_handler(_: IntId) {
    let handle = HANDLE.swap(ptr::null_mut(), Ordering::AcqRel);
    if !handle.is_null() {
        // SAFETY: put there by `main` from `Box::into_raw`, taken once.
        let _ = unsafe { Box::from_raw(handle) }.join();
    }
    ilusion::println!("the handler's join returned");
}

fn main() {
    ilusion::println!("which misuse (park, join)?");
    let mut line = [0u8; 16];
    let n = ilusion::console::read_line(&mut line);
    let which = core::str::from_utf8(&line[..n]).unwrap_or("").trim();
    let handler = match which {
        "park" => parking_handler as fn(IntId),
        "join" => joining_handler,
        _ => {
            ilusion::println!("unknown misuse {which:?}");
            ilusion::exit(2)
        }
    };
    irq::register(SGI, handler).expect("a software interrupt's handler");
    let victim = Builder::new()
        .name("interrupted")
        .spawn(|| {
            while !GO.load(Ordering::Acquire) {
                core::hint::spin_loop();
            }
            ilusion::println!(
                "raising the interrupt ({} handler)",
                if HANDLE.load(Ordering::Acquire).is_null() { "park" } else { "join" }
            );
            irq::send_software_interrupt(SGI).expect("a software interrupt");
            // Its own park: its unpark token is still there, unless the handler took it.
            task::park();
        })
        .expect("the task");
    victim.unpark();
    let watch = victim.task();
    if which == "join" {
        HANDLE.store(Box::into_raw(Box::new(victim)), Ordering::Release);
        GO.store(true, Ordering::Release);
        ilusion::time::sleep(Duration::from_millis(200));
    } else {
        GO.store(true, Ordering::Release);
        if victim.join_timeout(Duration::from_millis(200)).is_err() {
            ilusion::println!("FAILED: the handler's park took the unpark token of {watch}, which now parks for ever");
            ilusion::exit(1);
        }
    }
    ilusion::println!("FAILED: the handler's {which} was not refused");
    ilusion::exit(1)
}
