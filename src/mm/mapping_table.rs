//! The tables `mm::dump` and `mm::dump_maps` print: an isolated task's
//! mappings, for a person and for a program.
//!
//! [`write_table`] is for reading: one row per run of pages with the same
//! permissions, then the image's code and constants as the task sees them
//! in the upper half. [`write_maps`] is the same address space as the
//! framed `@@ilusion-maps v1` text the host tool `tools/trace` draws
//! (`just maps`): one row per region of the course's figure (code,
//! constants, globals, heap, shared regions, guard, stack, the kernel
//! half), with how many pages are resident now and how many the region
//! may grow to.

use super::user_layout::{segment_of, stack_bottom, Segment, ARGS_BASE, HEAP_BASE, HEAP_STATE, STACK_GUARD, STACK_TOP};
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
    // A run of pages becomes one row while they are contiguous, alike and
    // of one segment (the heap state's page and the closure's are
    // neighbours, and made one row named only for the first).
    let mut run: Option<(u64, u64, Attributes)> = None;
    for (va, attrs) in pages {
        match run {
            Some((start, end, a))
                if end == va && a == attrs && segment_of(va, stack_size) == segment_of(start, stack_size) =>
            {
                run = Some((start, end + PAGE_SIZE, a))
            }
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

/// What an isolated task sees of the kernel image in the upper half: its
/// code and constants, with their attributes, and where the half begins.
#[derive(Clone, Copy, Debug)]
pub struct UpperHalf {
    /// The first address of the upper (kernel) half.
    pub start: u64,
    /// The image's code: start, end (exclusive), attributes.
    pub code: (u64, u64, Attributes),
    /// The image's constants: start, end (exclusive), attributes.
    pub rodata: (u64, u64, Attributes),
}

/// One row of the `@@ilusion-maps v1` form.
struct Region {
    start: u64,
    /// Exclusive; `None` is the top of the address space (2^64, which does not fit a `u64`).
    end: Option<u64>,
    kind: &'static str,
    perms: [u8; 3],
    resident: u64,
    reserved: u64,
}

const NO_ACCESS: [u8; 3] = *b"---";
const READ_WRITE: [u8; 3] = *b"rw-";

/// Writes the `@@ilusion-maps v1` frame of task `id` called `name`, whose
/// mapped pages are `pages` (`(user address, attributes)`, any order), with
/// a stack of `stack_size` bytes and a heap reserve of `heap_reserve`
/// bytes, under the kernel half `upper`. The name's control characters
/// are escaped (as reports print it, `task::Printable`): one line each.
///
/// Regions, in address order: `bss` (the heap allocator's state page,
/// zero until touched), `data` (the closure's captured state, copied at
/// spawn: the task's initialised globals), `heap`, each run of `shared`
/// pages, the stack's `guard`, the `stack`, then the upper half: `kernel`,
/// `code`, `rodata`, `kernel`. Permissions are EL0's; a region with no page
/// mapped yet shows the permissions its pages will get.
pub fn write_maps(
    out: &mut dyn fmt::Write,
    id: u64,
    name: &str,
    pages: &[(u64, Attributes)],
    stack_size: u64,
    heap_reserve: u64,
    upper: &UpperHalf,
) -> fmt::Result {
    let in_segment = |segment: Segment| pages.iter().filter(move |(va, _)| segment_of(*va, stack_size) == segment);
    let count = |segment: Segment| in_segment(segment).count() as u64;
    let perms_or = |segment: Segment, default: [u8; 3]| {
        in_segment(segment).next().map_or(default, |(_, attrs)| user_permissions(*attrs))
    };
    let mut regions: alloc::vec::Vec<Region> = alloc::vec::Vec::new();
    let mut push = |start, end, kind, perms, resident, reserved| {
        regions.push(Region { start, end, kind, perms, resident, reserved });
    };
    push(HEAP_STATE, Some(ARGS_BASE), "bss", perms_or(Segment::HeapState, READ_WRITE), count(Segment::HeapState), 1);
    let args = count(Segment::Args);
    if args > 0 {
        let perms = perms_or(Segment::Args, READ_WRITE);
        push(ARGS_BASE, Some(ARGS_BASE + args * PAGE_SIZE), "data", perms, args, args);
    }
    let heap_pages = heap_reserve / PAGE_SIZE;
    let heap_perms = perms_or(Segment::Heap, READ_WRITE);
    push(HEAP_BASE, Some(HEAP_BASE + heap_reserve), "heap", heap_perms, count(Segment::Heap), heap_pages);
    // Shared regions: runs of contiguous pages with the same attributes.
    let mut shared: alloc::vec::Vec<(u64, Attributes)> = in_segment(Segment::Shared).copied().collect();
    shared.sort_by_key(|(va, _)| *va);
    let mut run: Option<(u64, u64, Attributes)> = None;
    for (va, attrs) in shared {
        match run {
            Some((start, end, a)) if end == va && a == attrs => run = Some((start, end + PAGE_SIZE, a)),
            _ => {
                if let Some((start, end, a)) = run {
                    let n = (end - start) / PAGE_SIZE;
                    push(start, Some(end), "shared", user_permissions(a), n, n);
                }
                run = Some((va, va + PAGE_SIZE, attrs));
            }
        }
    }
    if let Some((start, end, a)) = run {
        let n = (end - start) / PAGE_SIZE;
        push(start, Some(end), "shared", user_permissions(a), n, n);
    }
    let bottom = stack_bottom(stack_size);
    push(bottom - STACK_GUARD, Some(bottom), "guard", NO_ACCESS, 0, 0);
    let stack_perms = perms_or(Segment::Stack, READ_WRITE);
    push(bottom, Some(STACK_TOP), "stack", stack_perms, count(Segment::Stack), (STACK_TOP - bottom) / PAGE_SIZE);
    let (code_start, code_end, code_attrs) = upper.code;
    let (rodata_start, rodata_end, rodata_attrs) = upper.rodata;
    let pages_of = |start: u64, end: u64| (end - start).div_ceil(PAGE_SIZE);
    push(upper.start, Some(code_start), "kernel", NO_ACCESS, 0, 0);
    let code_pages = pages_of(code_start, code_end);
    push(code_start, Some(code_end), "code", user_permissions(code_attrs), code_pages, code_pages);
    let rodata_pages = pages_of(rodata_start, rodata_end);
    push(rodata_start, Some(rodata_end), "rodata", user_permissions(rodata_attrs), rodata_pages, rodata_pages);
    push(rodata_end, None, "kernel", NO_ACCESS, 0, 0);

    // The name is the application's: escaped, so that a line end in it
    // cannot end the header and forge rows, an end or another task's frame.
    writeln!(out, "@@ilusion-maps v1 task={id} name={}", crate::task::Printable(name))?;
    for r in &regions {
        let perms = core::str::from_utf8(&r.perms).unwrap_or("???");
        let end = r.end.map_or(1u128 << 64, u128::from);
        writeln!(out, "r {:x} {end:x} {} {perms} {} {}", r.start, r.kind, r.resident, r.reserved)?;
    }
    writeln!(out, "@@end regions={}", regions.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::user_layout::{HEAP_RESERVE, SHARED_BASE};
    use alloc::string::String;
    use alloc::vec::Vec;

    fn upper() -> UpperHalf {
        UpperHalf {
            start: 0xffff_ff80_0000_0000,
            code: (0xffff_ff80_4008_0000, 0xffff_ff80_400a_0000, Attributes::SHARED_CODE),
            rodata: (0xffff_ff80_400a_0000, 0xffff_ff80_400b_1000, Attributes::SHARED_RODATA),
        }
    }

    fn maps(pages: &[(u64, Attributes)]) -> Vec<String> {
        let mut out = String::new();
        write_maps(&mut out, 2, "alpha worker", pages, 16 * 1024, HEAP_RESERVE, &upper()).unwrap();
        out.lines().map(String::from).collect()
    }

    #[test]
    fn a_fresh_task_has_every_region_in_address_order_and_a_closing_count() {
        let data = Attributes::USER_DATA;
        let stack: Vec<_> = (0..4).map(|k| (STACK_TOP - (k + 1) * PAGE_SIZE, data)).collect();
        let mut pages = alloc::vec![(ARGS_BASE, data)];
        pages.extend(stack);
        let lines = maps(&pages);
        assert_eq!(lines[0], "@@ilusion-maps v1 task=2 name=alpha worker");
        assert_eq!(lines[1], "r ff000 100000 bss rw- 0 1");
        assert_eq!(lines[2], "r 100000 101000 data rw- 1 1");
        assert_eq!(lines[3], "r 100000000 140000000 heap rw- 0 262144");
        assert_eq!(lines[4], "r 3ffffec000 3fffffc000 guard --- 0 0");
        assert_eq!(lines[5], "r 3fffffc000 4000000000 stack rw- 4 4");
        assert_eq!(lines[6], "r ffffff8000000000 ffffff8040080000 kernel --- 0 0");
        assert_eq!(lines[7], "r ffffff8040080000 ffffff80400a0000 code --x 32 32");
        assert_eq!(lines[8], "r ffffff80400a0000 ffffff80400b1000 rodata r-- 17 17");
        assert_eq!(lines[9], "r ffffff80400b1000 10000000000000000 kernel --- 0 0");
        assert_eq!(lines[10], "@@end regions=9");
        assert_eq!(lines.len(), 11);
    }

    #[test]
    fn heap_pages_count_as_resident_and_shared_runs_become_regions() {
        let data = Attributes::USER_DATA;
        let pages = [
            (HEAP_BASE + 2 * PAGE_SIZE, data),
            (HEAP_STATE, data),
            (HEAP_BASE, data),
            (SHARED_BASE + PAGE_SIZE, data),
            (SHARED_BASE, data),
            (SHARED_BASE + 5 * PAGE_SIZE, data),
        ];
        let lines = maps(&pages);
        assert_eq!(lines[1], "r ff000 100000 bss rw- 1 1");
        assert_eq!(lines[2], "r 100000000 140000000 heap rw- 2 262144", "no data row: no closure state");
        assert_eq!(lines[3], "r 3000000000 3000002000 shared rw- 2 2");
        assert_eq!(lines[4], "r 3000005000 3000006000 shared rw- 1 1");
        assert_eq!(lines.last().unwrap(), &alloc::format!("@@end regions={}", lines.len() - 2));
    }

    #[test]
    fn a_table_row_never_spans_two_segments() {
        // The heap state's page and the closure's page are neighbours with
        // the same attributes: they were one row, "8 KiB ... HeapState",
        // and the closure's page was never named.
        let data = Attributes::USER_DATA;
        let pages = [(HEAP_STATE, data), (ARGS_BASE, data), (HEAP_BASE, data)];
        let mut out = String::new();
        write_table(&mut out, pages.into_iter(), 16 * 1024, &[]).unwrap();
        let rows: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert!(
            rows[0].starts_with("  0x00000000000ff000-0x0000000000100000      4 KiB  rw-  normal  HeapState"),
            "{out}"
        );
        assert!(rows[1].starts_with("  0x0000000000100000-0x0000000000101000      4 KiB  rw-  normal  Args"), "{out}");
        assert!(rows[2].ends_with("Heap"), "{out}");
    }

    #[test]
    fn a_name_cannot_break_the_frame() {
        // A task's name is the application's: a newline in it would end the
        // header line and forge rows, an end, or a whole frame for another task.
        let evil = "x\n@@end regions=0\n@@ilusion-maps v1 task=1 name=main\r\nr 0 1000 heap rwx 1 1\x1b[2J";
        let mut out = String::new();
        write_maps(&mut out, 2, evil, &[], 16 * 1024, HEAP_RESERVE, &upper()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "@@ilusion-maps v1 task=2 name=x\\x0a@@end regions=0\\x0a@@ilusion-maps v1 task=1 name=main\\x0d\\x0ar 0 1000 heap rwx 1 1\\x1b[2J"
        );
        assert_eq!(lines.iter().filter(|l| l.starts_with("@@")).count(), 2, "one header, one end: {lines:#?}");
        assert_eq!(lines.last().unwrap(), &alloc::format!("@@end regions={}", lines.len() - 2));
    }
}
