//! QEMU test: `.text` is read-only; writing to it is a permission fault.
//! Expected: exit 102, "data abort (write) from EL1: permission fault".
#![no_std]
#![no_main]

ilusion::entry!(main);

#[inline(never)]
fn write_to_code() {
    let p = core::hint::black_box(main as *const () as *mut u32);
    // SAFETY: deliberately invalid: code is mapped read-only, this must fault.
    unsafe { p.write_volatile(0xd503_201f) };
}

fn main() {
    ilusion::println!("writing to .text");
    write_to_code();
    ilusion::println!("wrote to .text: code is writable!");
}
