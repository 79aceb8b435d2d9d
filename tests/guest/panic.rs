//! QEMU test: a panic prints its message, location and a backtrace, and
//! exits with 101.
#![no_std]
#![no_main]

ilusion::entry!(main);

#[inline(never)]
fn fail(what: &str) {
    panic!("deliberate panic: {what}");
}

fn main() {
    fail(core::hint::black_box("test"));
}
