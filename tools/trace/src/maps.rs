//! The address-space dump (`@@ilusion-maps v1`), read back into regions.
//!
//! ```text
//! @@ilusion-maps v1 task=<id> name=<name>
//! r <start hex> <end hex> <kind> <perms> <resident pages> <reserved pages>
//! @@end regions=<n>
//! ```
//!
//! Ends are exclusive; the last region may end at 2^64 (`10000000000000000`).

use crate::frame::{decimal, field, fields, frames, InputError, Line};

/// The kinds of region the kernel writes.
pub const KINDS: [&str; 9] = ["code", "rodata", "data", "bss", "heap", "stack", "guard", "shared", "kernel"];

/// One `r` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: u128,
    pub end: u128,
    pub kind: String,
    /// `rwx` with `-`, as EL0 sees it.
    pub perms: String,
    pub resident: u64,
    pub reserved: u64,
}

/// One task's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpace {
    pub task: u64,
    pub name: String,
    /// In address order.
    pub regions: Vec<Region>,
}

/// Every address-space dump in a captured console log, in order.
pub fn parse_log(log: &str) -> Result<Vec<AddressSpace>, InputError> {
    let found = frames(log, "@@ilusion-maps")?;
    if found.is_empty() {
        return Err(InputError::at(
            0,
            "no address space in the log: no `@@ilusion-maps v1` line (does the program call mm::dump_maps?)",
        ));
    }
    let mut spaces = Vec::new();
    for frame in found {
        let n = frame.header.number;
        let version = frame.header.text.split_whitespace().nth(1).unwrap_or("");
        if version != "v1" {
            return Err(InputError::at(n, format!("unknown maps format version `{version}` (this tool reads v1)")));
        }
        let header = fields(frame.header, 2)?;
        let task = decimal(field(&header, "task", n)?, "task", n)?;
        let name = field(&header, "name", n)?.to_string();
        let mut regions: Vec<Region> = Vec::new();
        for &line in frame.body.iter().filter(|l| l.text.starts_with("r ")) {
            let region = parse_region(line)?;
            if regions.last().is_some_and(|last| region.start < last.end) {
                return Err(InputError::at(line.number, "region overlaps the one before or is out of address order"));
            }
            regions.push(region);
        }
        let e = frame.end.number;
        let end = fields(frame.end, 1)?;
        let expected = decimal(field(&end, "regions", e)?, "regions", e)?;
        if expected != regions.len() as u64 {
            return Err(InputError::at(e, format!("the frame says {expected} regions but holds {}", regions.len())));
        }
        spaces.push(AddressSpace { task, name, regions });
    }
    Ok(spaces)
}

fn address(text: &str, what: &str, line: usize) -> Result<u128, InputError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    u128::from_str_radix(digits, 16)
        .ok()
        .filter(|&a| a <= 1 << 64 && !digits.is_empty() && !digits.starts_with('+'))
        .ok_or_else(|| {
            InputError::at(line, format!("bad number for {what}: `{text}` (expected a hexadecimal address)"))
        })
}

fn parse_region(line: Line) -> Result<Region, InputError> {
    let n = line.number;
    let words: Vec<&str> = line.text.split_whitespace().collect();
    let [_, start, end, kind, perms, resident, reserved] = words.as_slice() else {
        return Err(InputError::at(n, "a region needs `r <start> <end> <kind> <perms> <resident> <reserved>`"));
    };
    let (start, end) = (address(start, "the start", n)?, address(end, "the end", n)?);
    if end <= start {
        return Err(InputError::at(n, format!("region ends ({end:x}) at or before its start ({start:x})")));
    }
    if !KINDS.contains(kind) {
        return Err(InputError::at(n, format!("unknown region kind `{kind}` (known: {})", KINDS.join(", "))));
    }
    let valid_perms = perms.len() == 3 && perms.chars().zip("rwx".chars()).all(|(c, want)| c == want || c == '-');
    if !valid_perms {
        return Err(InputError::at(n, format!("bad permissions `{perms}` (expected three of r, w, x or -)")));
    }
    Ok(Region {
        start,
        end,
        kind: kind.to_string(),
        perms: perms.to_string(),
        resident: decimal(resident, "the resident pages", n)?,
        reserved: decimal(reserved, "the reserved pages", n)?,
    })
}

/// A sample dump, as the isolation example prints it (for tests).
#[cfg(test)]
pub const SAMPLE: &str = "\
boot output
@@ilusion-maps v1 task=2 name=alpha
r ff000 100000 bss rw- 1 1
r 100000 101000 data rw- 1 1
r 100000000 140000000 heap rw- 2 262144
r 3000000000 3000002000 shared rw- 2 2
r 3ffffec000 3fffffc000 guard --- 0 0
r 3fffffc000 4000000000 stack rw- 4 4
r ffffff8000000000 ffffff8040200000 kernel --- 0 0
r ffffff8040200000 ffffff804021f000 code --x 31 31
r ffffff804021f000 ffffff804022a000 rodata r-- 11 11
r ffffff804022a000 10000000000000000 kernel --- 0 0
@@end regions=10
more output
@@ilusion-maps v1 task=3 name=beta two
r 3fffffc000 4000000000 stack rw- 4 4
@@end regions=1
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dump_is_read_back() {
        let spaces = parse_log(SAMPLE).unwrap();
        assert_eq!(spaces.len(), 2);
        assert_eq!((spaces[0].task, spaces[0].name.as_str(), spaces[0].regions.len()), (2, "alpha", 10));
        assert_eq!(spaces[1].name, "beta two");
        let heap = &spaces[0].regions[2];
        assert_eq!((heap.start, heap.end, heap.kind.as_str()), (0x1_0000_0000, 0x1_4000_0000, "heap"));
        assert_eq!((heap.resident, heap.reserved), (2, 262144));
        assert_eq!(spaces[0].regions[9].end, 1 << 64);
    }

    fn error(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from}");
        parse_log(&SAMPLE.replacen(from, to, 1)).unwrap_err().to_string()
    }

    #[test]
    fn bad_dumps_name_the_line_and_what_was_wrong() {
        assert!(parse_log("nothing here\n").unwrap_err().what.contains("no address space"));
        assert_eq!(
            error("heap rw-", "hoop rw-"),
            "line 5: unknown region kind `hoop` (known: code, rodata, data, bss, heap, stack, guard, shared, kernel)"
        );
        assert_eq!(error("heap rw-", "heap rwz"), "line 5: bad permissions `rwz` (expected three of r, w, x or -)");
        assert_eq!(
            error("r 100000000 140000000", "r 100000000 1400g0000"),
            "line 5: bad number for the end: `1400g0000` (expected a hexadecimal address)"
        );
        assert_eq!(
            error("rw- 2 262144", "rw- 2 lots"),
            "line 5: bad number for the reserved pages: `lots` (expected decimal)"
        );
        assert_eq!(
            error("r 100000000 140000000", "r 140000000 100000000"),
            "line 5: region ends (100000000) at or before its start (140000000)"
        );
        assert_eq!(error("@@end regions=10", "@@end regions=11"), "line 13: the frame says 11 regions but holds 10");
        assert_eq!(
            error("10000000000000000 kernel", "10000000000000001 kernel"),
            "line 12: bad number for the end: `10000000000000001` (expected a hexadecimal address)"
        );
        assert_eq!(
            error("@@end regions=1\n", ""),
            "line 15: frame never ends: no `@@end` line after it (the log was cut short?)"
        );
        assert_eq!(error("task=2", "task=two"), "line 2: bad number for task: `two` (expected decimal)");
        assert!(error("r ff000 100000 bss rw- 1 1", "r ff000 100000 bss rw- 1").contains("line 3: a region needs"));
        assert_eq!(
            error("r 100000 101000", "r fff00 101000"),
            "line 4: region overlaps the one before or is out of address order"
        );
    }
}
