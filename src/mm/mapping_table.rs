//! The table `mm::dump` prints: an isolated task's mappings, readable.
//!
//! One row per run of pages with the same permissions, then the image's
//! code and constants as the task sees them in the upper half.

use super::user_layout::segment_of;
use super::PAGE_SIZE;
use crate::arch::mmu::descriptor::{Attributes, MemoryType};
use core::fmt;

/// The permissions of `attrs` as EL0 sees them, `ls`-style: `rwx` or `-`.
pub fn user_permissions(attrs: Attributes) -> [u8; 3] {
    let readable = attrs.user;
    [
        if readable { b'r' } else { b'-' },
        if readable && attrs.writable { b'w' } else { b'-' },
        if attrs.user_exec { b'x' } else { b'-' },
    ]
}

fn memory_type(attrs: Attributes) -> &'static str {
    match attrs.memory {
        MemoryType::Normal => "normal",
        _ => "device",
    }
}

/// Writes the table for the pages `(user address, attributes)` (in address order)
/// of a task with a stack of `stack_size` bytes.
pub fn write_table(
    out: &mut dyn fmt::Write,
    pages: impl Iterator<Item = (u64, Attributes)>,
    stack_size: u64,
    shared: &[(&str, u64, u64, Attributes)],
) -> fmt::Result {
    writeln!(out, "  {:<37} {:>9}  {:<4} {:<7} segment", "range", "size", "EL0", "memory")?;
    let mut row = |start: u64, end: u64, attrs: Attributes, what: &dyn fmt::Debug| {
        let perms = user_permissions(attrs);
        let perms = core::str::from_utf8(&perms).unwrap_or("???");
        let kib = (end - start) / 1024;
        writeln!(out, "  {start:#018x}-{end:#018x} {kib:>6} KiB  {perms:<4} {:<7} {what:?}", memory_type(attrs))
    };
    let mut run: Option<(u64, u64, Attributes)> = None;
    for (va, attrs) in pages {
        match run {
            Some((start, end, a)) if end == va && a == attrs => run = Some((start, end + PAGE_SIZE, a)),
            _ => {
                if let Some((start, end, a)) = run {
                    row(start, end, a, &segment_of(start, stack_size))?;
                }
                run = Some((va, va + PAGE_SIZE, attrs));
            }
        }
    }
    if let Some((start, end, a)) = run {
        row(start, end, a, &segment_of(start, stack_size))?;
    }
    for &(name, start, end, attrs) in shared {
        row(start, end, attrs, &name)?;
    }
    Ok(())
}
