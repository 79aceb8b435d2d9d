//! QEMU test: the schedule trace of a known scenario (built with the
//! `trace` feature). On core 0, a cooperative "director" task starts the
//! trace, then:
//! 1. spawns `yield-a` and `yield-b` (cooperative, equal priority, core 0),
//!    which yield to each other three times each, and joins them;
//! 2. spawns `sleeper`, which sleeps 2 ms (the timer's interrupt wakes it),
//!    and joins it;
//! 3. raises an interrupt on its own core: a software-generated interrupt
//!    with a handler registered here (GIC boards), or, on the Raspberry Pi
//!    3's controller, which has none, a reschedule IPI to itself;
//!
//! then stops the trace, and `main` dumps it. tests/qemu.rs checks the
//! events of core 0, in order, against the ones this must give.
//!
//! Then a second trace overflows core 0's ring: two tasks yield to each
//! other 3000 times each (6000 switches, more than the 4096 events a ring
//! keeps); its dump must keep the newest 4096 and count the rest as lost.
//!
//! A third trace follows an isolated task on core 0: its heap's pages
//! faulted in on first touch, a yield through a system call, its exit.
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::irq::{self, IntId};
use ilusion::task::{self, Priority};
use ilusion::time::Duration;

ilusion::entry!(main);

/// A software-generated interrupt no one else uses (0 to 15 on a GIC).
const SGI: IntId = 5;
const CORE: usize = 0;
const LEVEL: Priority = Priority::Cooperative(1);
/// Yields of each task in the second trace.
const OVERFLOW_YIELDS: usize = 3000;

/// `main` is about to join the director.
static MAIN_JOINS: AtomicBool = AtomicBool::new(false);

fn sgi_handler(_: IntId) {}

fn on_core(name: &str, f: impl FnOnce() + Send + 'static) -> task::JoinHandle<()> {
    task::Builder::new().name(name).priority(LEVEL).cpu(CORE).spawn(f).expect("spawn")
}

fn director() -> IntId {
    let sgi_ok = irq::register(SGI, sgi_handler).is_ok();
    // `main` (maybe preempted by us on this core) gets to its join and
    // blocks: from here on only the scenario runs on this core.
    while !MAIN_JOINS.load(Ordering::SeqCst) {
        ilusion::time::sleep(Duration::from_millis(1));
    }
    ilusion::time::sleep(Duration::from_millis(10));
    ilusion::trace::start();
    let yielder = || {
        for _ in 0..3 {
            task::yield_now();
        }
    };
    let a = on_core("yield-a", yielder);
    let b = on_core("yield-b", yielder);
    a.join().unwrap();
    b.join().unwrap();
    let sleeper = on_core("sleeper", || ilusion::time::sleep(Duration::from_millis(2)));
    sleeper.join().unwrap();
    let intid = match irq::send_software_interrupt(SGI) {
        Ok(()) if sgi_ok => SGI,
        _ => {
            let ipi = ilusion::irq::Ipi::Reschedule;
            ilusion::internals::send_ipi(CORE, ipi).expect("a reschedule IPI to this core");
            ilusion::internals::ipi_id(ipi).expect("the reschedule IPI's number")
        }
    };
    ilusion::trace::stop();
    intid
}

fn main() {
    let d = task::Builder::new().name("director").priority(LEVEL).cpu(CORE).spawn(director).expect("spawn");
    MAIN_JOINS.store(true, Ordering::SeqCst);
    let intid = d.join().unwrap();
    ilusion::println!("trace scenario: core {CORE} irq {intid} timer {}", ilusion::board::TIMER_INTID);
    ilusion::trace::dump();
    ilusion::println!("trace dumped");

    let overflow = task::Builder::new().name("overflow").priority(LEVEL).cpu(CORE).spawn(|| {
        ilusion::trace::start();
        let yielder = || {
            for _ in 0..OVERFLOW_YIELDS {
                task::yield_now();
            }
        };
        let (a, b) = (on_core("ping", yielder), on_core("pong", yielder));
        a.join().unwrap();
        b.join().unwrap();
        ilusion::trace::stop();
    });
    overflow.expect("spawn").join().unwrap();
    ilusion::trace::dump();
    ilusion::println!("overflow trace dumped");

    ilusion::trace::start();
    let iso = task::Builder::new().name("iso").cpu(CORE).spawn_isolated(|| {
        let squares: alloc::vec::Vec<u64> = (0..2000).map(|i| i * i).collect();
        task::yield_now();
        core::hint::black_box(squares)[1999]
    });
    let squares = iso.expect("spawn isolated").join();
    ilusion::trace::stop();
    ilusion::trace::dump();
    ilusion::println!("isolated trace dumped: {squares:?}");
}
