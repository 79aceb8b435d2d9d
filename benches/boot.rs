//! Benchmark: instructions from reset to the first line of `main`.
//!
//! Under QEMU's `-icount shift=0` one guest instruction advances virtual
//! time by 1 ns, and the generic timer counts that time, so the counter read
//! here converts to instructions executed since reset (at a resolution of
//! one timer tick: 16 instructions at QEMU's 62.5 MHz).
#![no_std]
#![no_main]

use ilusion::time::{self, Instant};

ilusion::entry!(main);

fn main() {
    let ticks = Instant::now().ticks();
    let instructions = ticks as u128 * 1_000_000_000 / time::frequency() as u128;
    ilusion::println!("bench reset_to_main {instructions}");
}
