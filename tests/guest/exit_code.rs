//! QEMU test: `ilusion::exit(n)` ends the program with status n (here 42).
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("exiting with 42");
    ilusion::exit(42);
}
