//! QEMU test (several cores at once, MTTCG): every core calls
//! `ilusion::exit` at the same moment; the program must end with that
//! status, once, never hang.
//!
//! `exit` stops the other cores (a `Stop` interrupt each) before it hands
//! the status to the host. Two cores that exit together each stopped the
//! other: if both interrupts arrived before either core reached the host,
//! both halted, and nothing ever ended the program. Now the first core to
//! end the program (an exit, or a fatal report) masks its interrupts and
//! claims the end; a core that comes later halts, leaving it to the first.
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use core::sync::atomic::{AtomicUsize, Ordering};
use ilusion::task::Builder;

ilusion::entry!(main);

static READY: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let cores = common::require_cores(2);
    for cpu in 1..cores {
        let racer = Builder::new().name("exiter").cpu(cpu).spawn(move || race(cores));
        core::mem::forget(racer.unwrap());
    }
    race(cores)
}

/// Waits until every core is here, then exits with the same status.
fn race(cores: usize) -> ! {
    READY.fetch_add(1, Ordering::SeqCst);
    while READY.load(Ordering::SeqCst) < cores {
        core::hint::spin_loop();
    }
    ilusion::exit(7)
}
