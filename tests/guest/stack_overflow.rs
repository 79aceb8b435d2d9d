//! QEMU test: unbounded recursion on the boot stack runs into the unmapped
//! guard page below it; the fault is reported from the separate exception
//! stack. Expected: exit 102, "stack guard page: stack overflow".
#![no_std]
#![no_main]

ilusion::entry!(main);

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buf = core::hint::black_box([depth; 64]);
    recurse(depth + 1) + buf[3]
}

fn main() {
    ilusion::println!("recursing forever");
    let n = recurse(0);
    ilusion::println!("recursion ended at {n}!");
}
