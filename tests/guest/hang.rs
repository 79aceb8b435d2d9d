//! QEMU harness self-test: a guest that never ends. The harness must kill it
//! at its timeout and report the output seen so far.
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("hanging on purpose");
    loop {
        ilusion::internals::wait_for_interrupt();
    }
}
