//! QEMU test: data is never executable (W^X); jumping into a static buffer
//! is an instruction abort. Expected: exit 102, "instruction abort".
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

ilusion::entry!(main);

/// A `ret` instruction, in writable data.
static CODE_IN_DATA: AtomicU32 = AtomicU32::new(0xd65f_03c0);

fn main() {
    ilusion::println!("jumping into .data");
    let addr = core::hint::black_box(CODE_IN_DATA.as_ptr() as usize);
    CODE_IN_DATA.store(0xd65f_03c0, Ordering::SeqCst);
    // SAFETY: deliberately invalid: the target is data, the jump must fault.
    let f: extern "C" fn() = unsafe { core::mem::transmute(addr) };
    f();
    ilusion::println!("executed data: W^X is not enforced!");
}
