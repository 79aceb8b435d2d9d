//! QEMU test: running out of memory names the failed size and alignment and
//! the heap's state, then exits non-zero (101, as a panic).
#![no_std]
#![no_main]

extern crate alloc;

ilusion::entry!(main);

fn main() {
    let total = ilusion::mm::heap::stats().total;
    ilusion::println!("asking for 2x the heap ({} bytes)", 2 * total);
    let mut v: alloc::vec::Vec<u8> = alloc::vec::Vec::with_capacity(core::hint::black_box(2 * total));
    v.push(1);
    let v = core::hint::black_box(v);
    ilusion::println!("got {} bytes!", v.capacity());
}
