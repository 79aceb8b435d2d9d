//! {{project-name}}: an application on ilusion. `main` runs as the first
//! task; when it returns the machine powers off with exit status 0.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

ilusion::entry!(main);

fn main() {
    let numbers: Vec<u32> = (1..=10).collect();
    let sum: u32 = numbers.iter().sum();
    ilusion::println!("hello from {} on {}: sum {}", env!("CARGO_PKG_NAME"), ilusion::board::NAME, sum);
}
