//! Frame-pointer backtraces for panic and fault reports.
//!
//! Every function compiled with frame pointers (ilusion's targets force them)
//! pushes a frame record `[previous fp, return address]` and points x29 at
//! it. Walking the chain gives the return addresses; each record is checked
//! with the MMU before it is read, so a corrupt chain ends the walk instead
//! of faulting. Addresses are printed as `#N 0x...`: the runner (`boards/run`)
//! appends the function name from the ELF's symbols.

const MAX_FRAMES: usize = 32;

/// Prints `pc`, then the return addresses up the frame chain from `fp`.
pub fn print(pc: u64, mut fp: u64) {
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
    p(format_args!("backtrace:\n  #0  {pc:#018x}\n"));
    for n in 1..MAX_FRAMES {
        if fp == 0 || fp % 16 != 0 || !crate::arch::cpu::is_kernel_readable(fp) {
            break;
        }
        // SAFETY: the MMU says the 16-byte frame record at `fp` is readable
        // (records are 16-byte aligned, so both words are on that page).
        let (next, ret) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        // The return address is after the call; show the call itself.
        p(format_args!("  #{n:<2} {:#018x}\n", ret - 4));
        if next <= fp {
            break;
        }
        fp = next;
    }
}
