//! QEMU test: reading through a null pointer faults (page 0 is unmapped) and
//! the report decodes it. Expected: exit 102, "translation fault", "null pointer".
#![no_std]
#![no_main]

ilusion::entry!(main);

#[inline(never)]
fn read_null() -> u64 {
    let p = core::hint::black_box(core::ptr::null::<u64>());
    // SAFETY: deliberately invalid: this read must fault.
    unsafe { p.read_volatile() }
}

fn main() {
    ilusion::println!("reading address 0");
    let v = read_null();
    ilusion::println!("read {v}: the null page is mapped!");
}
