//! Frame-pointer backtraces for panic and fault reports.
//!
//! Every function compiled with frame pointers (ilusion's targets force them)
//! pushes a frame record `[previous fp, return address]` and points x29 at
//! it. Walking the chain gives the return addresses; each record is checked
//! with the MMU before it is read, so a corrupt chain ends the walk instead
//! of faulting. Each frame is printed as `#N 0x... name+0xoff`, the name
//! from the image's own symbol table ([`crate::symbols`]), so a board's
//! serial console shows it; the runner (`boards/run`) appends only the
//! source file and line from the ELF's debug information.

const MAX_FRAMES: usize = 32;

/// Prints `pc` (if known), then the return addresses up the frame chain from `fp`.
/// Runs of the same return address (deep recursion) are printed once, with a count.
pub fn print(pc: Option<u64>, mut fp: u64) {
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
    let table = match crate::symbols::table() {
        Ok(table) => Some(table),
        Err(why) => {
            p(format_args!("(symbol table unreadable: {why}; addresses only)\n"));
            None
        }
    };
    let frame = |n: usize, addr: u64| match table.and_then(|t| t.lookup(addr)) {
        Some(symbol) => p(format_args!("  #{n:<2} {addr:#018x} {symbol}\n")),
        None => p(format_args!("  #{n:<2} {addr:#018x}\n")),
    };
    p(format_args!("backtrace:\n"));
    let mut n = 0;
    if let Some(pc) = pc {
        frame(0, pc);
        n = 1;
    }
    let (mut last, mut repeats) = (0, 0u64);
    while n < MAX_FRAMES {
        if fp == 0 || !fp.is_multiple_of(16) || !crate::arch::cpu::is_kernel_readable(fp) {
            break;
        }
        // SAFETY: the MMU says the 16-byte frame record at `fp` is readable
        // (records are 16-byte aligned, so both words are on that page).
        let (next, ret) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if ret == 0 || next <= fp {
            break;
        }
        fp = next;
        if ret == last {
            repeats += 1;
            continue;
        }
        if repeats > 0 {
            p(format_args!("      ... the frame above {repeats} more times\n"));
            repeats = 0;
        }
        last = ret;
        // The return address is after the call; show the call itself.
        frame(n, ret - 4);
        n += 1;
    }
    if repeats > 0 {
        p(format_args!("      ... the frame above {repeats} more times\n"));
    }
}
