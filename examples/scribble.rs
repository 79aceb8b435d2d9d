//! A bug to find by reverse debugging (docs/05-debugging.md): one task
//! scribbles over another's data in the memory they share.
//!
//! `main` keeps a ledger: eight sample slots, filled by a "logger" task,
//! followed by a checksum that `main` alone owns. The logger writes its
//! samples through a raw pointer (as a DMA engine or a C library would)
//! and, off by one, writes a ninth sample: over the checksum. `main`
//! notices only later, when it checks the ledger, and panics. The panic
//! says *that* the checksum is wrong, not *who* wrote it; `just replay
//! scribble` records the run, replays it under GDB, and a watchpoint plus
//! `reverse-continue` goes back to the store that did it.
//!
//! `just run scribble` (exits with status 101: main panicked).

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

ilusion::entry!(main);

const SAMPLES: usize = 8;
const CHECKSUM: u32 = 0xC0FF_EE00;

/// The memory both tasks use: the logger's samples, then main's checksum.
#[repr(C)]
struct Ledger {
    samples: [AtomicU32; SAMPLES],
    checksum: AtomicU32,
}

static LEDGER: Ledger = Ledger { samples: [const { AtomicU32::new(0) }; SAMPLES], checksum: AtomicU32::new(0) };

fn main() {
    LEDGER.checksum.store(CHECKSUM, Ordering::Relaxed);
    let logger = ilusion::task::spawn(log_samples);
    logger.join().expect("logger");
    check_ledger();
}

/// The logger task: one sample per slot, written through a raw pointer.
fn log_samples() {
    let slots = LEDGER.samples[0].as_ptr();
    for i in 0..=SAMPLES {
        // The bug: `0..=SAMPLES` is one slot too many; the last store lands on the checksum.
        // SAFETY: (not quite) slots 0..SAMPLES are the ledger's samples.
        unsafe { slots.add(i).write_volatile(100 + i as u32) };
    }
    ilusion::println!("logger: {} samples written", SAMPLES);
}

/// Main's check, long after the damage was done.
#[inline(never)]
fn check_ledger() {
    let checksum = LEDGER.checksum.load(Ordering::Relaxed);
    if checksum != CHECKSUM {
        ledger_corrupted(checksum);
    }
    ilusion::println!("ledger ok");
}

/// Where the symptom shows: a breakpoint here is the starting point for `reverse-continue`.
#[inline(never)]
fn ledger_corrupted(found: u32) -> ! {
    panic!("ledger checksum corrupted: {found:#x}, expected {CHECKSUM:#x}");
}
