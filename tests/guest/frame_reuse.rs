//! QEMU test: a frame an ended isolated task gave back reaches the next one
//! zeroed. Freed frames wait in a pool and are handed out again at once
//! (last in, first out), so the second task gets the first one's stack: it
//! must read only zeros where the first one left a pattern.
#![no_std]
#![no_main]

use ilusion::mm::user_layout::STACK_TOP;
use ilusion::task::Builder;

ilusion::entry!(main);

const PATTERN: u64 = 0xdead_beef_0bad_f00d;
/// The part of the default 16 KiB stack each task looks at: well below its
/// own frames, above the bottom.
const SPAN: core::ops::Range<u64> = STACK_TOP - 14 * 1024..STACK_TOP - 4 * 1024;

fn main() {
    let frames = ilusion::mm::frames_in_use();
    let writer = Builder::new().spawn_isolated(|| {
        for addr in SPAN.step_by(8) {
            // SAFETY: mapped stack memory below this function's frame, used by nothing.
            unsafe { (addr as *mut u64).write_volatile(PATTERN) };
        }
    });
    ilusion::println!("writer: {:?}", writer.expect("spawn").join());
    let reader = Builder::new().spawn_isolated(|| {
        let left = SPAN.step_by(8).filter(|&addr| {
            // SAFETY: mapped stack memory below this function's frame.
            unsafe { (addr as *const u64).read_volatile() != 0 }
        });
        let nonzero = left.count();
        ilusion::println!("reader: {nonzero} non-zero words of the stack");
        if nonzero != 0 {
            ilusion::syscall::user::exit(1);
        }
    });
    let read = reader.expect("spawn").join();
    ilusion::println!("reader: {read:?}");
    let freed = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("frames back to start: {freed}");
    if read.is_ok() && freed {
        ilusion::println!("frame reuse ok");
    } else {
        ilusion::exit(1);
    }
}
