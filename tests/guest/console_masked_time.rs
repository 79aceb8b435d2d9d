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
use common::watcher::{Watched, Watcher};
use common::{check, finish};
use ilusion::console;

ilusion::entry!(main);

const CORE: usize = 0;
/// How much one `write_bytes` writes.
const BYTES: usize = 48 * 1024;

fn main() {
    common::on_core(CORE, run);
    finish()
}

/// Writes `text` in one `write_bytes` (and a line end) while `watcher` watches.
fn write_watched(watcher: &Watcher, text: &[u8]) -> Watched {
    let ((), seen) = watcher.watch(|| {
        console::write_bytes(text);
        console::write_bytes(b"\n");
    });
    seen
}

fn run() {
    let watcher = Watcher::start(CORE);
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
    let line = write_watched(&watcher, &lines);
    // One long line, no line end in it.
    let long = write_watched(&watcher, &[b'-'; BYTES]);
    let at_rest = watcher.at_rest;
    watcher.stop();
    ilusion::println!(
        "{BYTES} bytes as {n} lines: the watcher woke {} times meanwhile, at most {:?} late; \
         as one line: {} times, at most {:?} late ({at_rest:?} at rest)",
        line.wakes,
        line.latest,
        long.wakes,
        long.latest
    );
    check(
        line.interrupts_taken(),
        "lines_written_with_interrupts_taken",
        format_args!(
            "woken {} times while {BYTES} bytes of lines were written, at most {:?} late",
            line.wakes, line.latest
        ),
    );
    check(
        long.interrupts_taken(),
        "long_line_written_with_interrupts_taken",
        format_args!(
            "woken {} times while a {BYTES}-byte line was written, at most {:?} late",
            long.wakes, long.latest
        ),
    );
}
