//! QEMU test: an undefined instruction is reported as such.
//! Expected: exit 102, "undefined instruction".
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("executing udf");
    // SAFETY: deliberately raises an undefined-instruction exception.
    unsafe { core::arch::asm!("udf #0") };
    ilusion::println!("udf returned!");
}
