//! QEMU test (under icount: one instruction, one nanosecond): writing a
//! long buffer to the console never keeps interrupts waiting long.
//!
//! `console::write_bytes` writes under the console's spin lock, which masks
//! interrupts; so does the shell's echo of what was typed (a paste, or the
//! up and down arrows over a long line of the history: a few bytes typed,
//! hundreds echoed). The whole buffer used to go out in one hold of the
//! lock: 48 KiB kept the core's interrupts waiting about 0.4 ms under
//! icount, and over 4 s on a Pi at 115,200 baud. It goes out a piece at a
//! time now, as `print!`'s output does ([`console::LINE_BUFFER`] bytes,
//! cut at a line end where there is one), the lock let go between pieces.
//!
//! A watcher, more urgent than the writer and on its core, wakes every
//! 200 µs and records how late it woke. While the writer writes 48 KiB
//! (lines of 64 bytes, then one long line), the latest wake-up must stay
//! under 100 µs; every byte still goes out, in order.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::console;
use ilusion::task::{Builder, Priority};
use ilusion::time::{sleep, Duration, Instant};

ilusion::entry!(main);

const CORE: usize = 0;
const PERIOD: Duration = Duration::from_micros(200);
/// The latest a wake-up may be while the buffer is written.
const AT_MOST_LATE: Duration = Duration::from_micros(100);
/// How much one `write_bytes` writes.
const BYTES: usize = 48 * 1024;

static STOP: AtomicBool = AtomicBool::new(false);
static LATEST_NS: AtomicU64 = AtomicU64::new(0);
static WAKES: AtomicU64 = AtomicU64::new(0);

/// Sleeps `PERIOD` at a time and records the latest wake-up.
fn watch() {
    while !STOP.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        sleep(PERIOD);
        let late = asleep.elapsed().saturating_sub(PERIOD);
        LATEST_NS.fetch_max(late.as_nanos() as u64, Ordering::Relaxed);
        WAKES.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    common::on_core(CORE, run);
    finish()
}

/// Writes `text` in one `write_bytes` while the watcher watches: how many
/// times it woke meanwhile, and the latest it woke.
fn write_watched(text: &[u8]) -> (u64, Duration) {
    LATEST_NS.store(0, Ordering::Relaxed);
    let before = WAKES.load(Ordering::Relaxed);
    console::write_bytes(text);
    console::write_bytes(b"\n");
    (WAKES.load(Ordering::Relaxed) - before, Duration::from_nanos(LATEST_NS.load(Ordering::Relaxed)))
}

fn run() {
    let watcher = Builder::new().name("watcher").cpu(CORE).priority(Priority::Preemptive(5)).spawn(watch).unwrap();
    sleep(Duration::from_millis(2)); // its first wakes: how late it is at rest
    let at_rest = LATEST_NS.load(Ordering::Relaxed);
    // Lines of 64 bytes: "line 0000 ....\n".
    let mut lines = Vec::with_capacity(BYTES);
    let mut n = 0;
    while lines.len() + 64 <= BYTES {
        let start = lines.len();
        lines.extend_from_slice(alloc::format!("line {n:04} ").as_bytes());
        lines.resize(start + 63, b'.');
        lines.push(b'\n');
        n += 1;
    }
    let (line_wakes, line_latest) = write_watched(&lines);
    // One long line, no line end in it.
    let long = [b'-'; BYTES];
    let (long_wakes, long_latest) = write_watched(&long);
    STOP.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    ilusion::println!(
        "{BYTES} bytes as {n} lines: the watcher woke {line_wakes} times meanwhile, at most {line_latest:?} late; \
         as one line: {long_wakes} times, at most {long_latest:?} late ({at_rest} ns at rest)"
    );
    check(
        line_wakes > 0 && line_latest <= AT_MOST_LATE,
        "lines_written_with_interrupts_taken",
        format_args!(
            "woken {line_wakes} times while {BYTES} bytes of lines were written, at most {line_latest:?} late"
        ),
    );
    check(
        long_wakes > 0 && long_latest <= AT_MOST_LATE,
        "long_line_written_with_interrupts_taken",
        format_args!("woken {long_wakes} times while a {BYTES}-byte line was written, at most {long_latest:?} late"),
    );
}
