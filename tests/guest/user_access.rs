//! QEMU test: checked copies from "user" pointers never fault the kernel.
//! A null pointer, an unmapped user address, a kernel address, a huge length
//! and a range that wraps around all come back as errors; PAN is reported where the
//! CPU has it (`-cpu max`).
#![no_std]
#![no_main]

use ilusion::internals::user_access::{self, UserAccessError};

ilusion::entry!(main);

static KERNEL_SECRET: [u8; 8] = *b"secret!!";

fn main() {
    let mut buf = [0u8; 8];
    let cases: [(&str, Result<(), UserAccessError>, UserAccessError); 5] = [
        ("null", user_access::copy_from_user(&mut buf, 0), UserAccessError::Fault),
        ("unmapped", user_access::copy_from_user(&mut buf, 0x1234_5000), UserAccessError::Fault),
        (
            "kernel address",
            user_access::copy_from_user(&mut buf, KERNEL_SECRET.as_ptr() as u64),
            UserAccessError::NotUserAddress,
        ),
        ("huge length", user_access::copy_to_user(0x1000, unsafe_huge_slice()), UserAccessError::NotUserAddress),
        ("wrapping range", user_access::copy_to_user(u64::MAX - 3, &[0; 8]), UserAccessError::Overflow),
    ];
    let mut ok = true;
    for (what, got, want) in cases {
        ilusion::println!("{what}: {got:?}");
        ok &= got == Err(want);
    }
    ok &= user_access::read_user_u64(0x1001) == Err(UserAccessError::Misaligned);
    ilusion::println!("PAN: {}", if user_access::has_pan() { "on" } else { "not supported by this CPU" });
    if !ok || buf != [0; 8] {
        ilusion::println!("FAILED");
        ilusion::exit(1);
    }
    ilusion::println!("user access ok");
}

/// A slice whose length reaches past the end of the address space, to test
/// the overflow check (never read: the check refuses it first).
fn unsafe_huge_slice() -> &'static [u8] {
    // SAFETY: not dereferenced: `copy_to_user` refuses the length before any access.
    unsafe { core::slice::from_raw_parts(KERNEL_SECRET.as_ptr(), usize::MAX / 2) }
}
