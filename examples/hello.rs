//! The smallest ilusion application: print a line, return, power off.
//!
//! Run it: `just run hello` (or `cargo run --example hello`).

#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("hello from {}", ilusion::board::NAME);
}
