//! Just enough of a flattened device tree (DTB) reader to learn how much RAM
//! there is: the `reg` of the first `/memory` node.
//!
//! A DTB is a header, a structure block of tokens (begin node, property, end
//! node) and a strings block holding property names. All numbers are big
//! endian. See the Devicetree Specification, chapter 5.

use crate::mm::layout::PhysRange;

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Does `header` start with the DTB magic? Returns the total size if so.
pub fn total_size(header: &[u8]) -> Option<usize> {
    (be32(header, 0)? == MAGIC).then(|| be32(header, 4).map(|s| s as usize))?
}

fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let rest = b.get(at..)?;
    Some(&rest[..rest.iter().position(|&c| c == 0)?])
}

fn read_cells(b: &[u8], at: usize, cells: u32) -> Option<u64> {
    match cells {
        1 => be32(b, at).map(u64::from),
        2 => Some((u64::from(be32(b, at)?) << 32) | u64::from(be32(b, at + 4)?)),
        _ => None,
    }
}

/// The first RAM range of the `/memory` node, or `None` if `dtb` is not a
/// well-formed tree with one.
pub fn memory(dtb: &[u8]) -> Option<PhysRange> {
    let size = total_size(dtb)?;
    let dtb = dtb.get(..size)?;
    let structs = be32(dtb, 8)? as usize;
    let strings = be32(dtb, 12)? as usize;
    let (mut address_cells, mut size_cells) = (2, 1);
    let (mut depth, mut in_memory) = (0, false);
    let mut at = structs;
    loop {
        let token = be32(dtb, at)?;
        at += 4;
        match token {
            BEGIN_NODE => {
                let name = cstr(dtb, at)?;
                at += (name.len() + 4) & !3;
                depth += 1;
                in_memory = depth == 2 && (name == b"memory" || name.starts_with(b"memory@"));
            }
            END_NODE => {
                depth -= 1;
                in_memory = false;
            }
            PROP => {
                let len = be32(dtb, at)? as usize;
                let name = cstr(dtb, strings + be32(dtb, at + 4)? as usize)?;
                let value = at + 8;
                at = value + ((len + 3) & !3);
                if depth == 1 && name == b"#address-cells" {
                    address_cells = be32(dtb, value)?;
                } else if depth == 1 && name == b"#size-cells" {
                    size_cells = be32(dtb, value)?;
                } else if in_memory && name == b"reg" {
                    let base = read_cells(dtb, value, address_cells)?;
                    let size = read_cells(dtb, value + 4 * address_cells as usize, size_cells)?;
                    return Some(PhysRange { base, size });
                }
            }
            NOP => {}
            END => return None,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// Builds a small DTB: / { #address-cells; #size-cells; chosen {}; memory@.. { reg } }.
    fn dtb(address_cells: u32, size_cells: u32, reg: &[u32]) -> Vec<u8> {
        let strings = b"#address-cells\0#size-cells\0reg\0";
        let mut s = Vec::new();
        let w = |s: &mut Vec<u8>, v: u32| s.extend_from_slice(&v.to_be_bytes());
        let node = |s: &mut Vec<u8>, name: &[u8]| {
            w(s, BEGIN_NODE);
            s.extend_from_slice(name);
            s.push(0);
            while !s.len().is_multiple_of(4) {
                s.push(0);
            }
        };
        node(&mut s, b"");
        for (off, v) in [(0, address_cells), (15, size_cells)] {
            w(&mut s, PROP);
            w(&mut s, 4);
            w(&mut s, off);
            w(&mut s, v);
        }
        node(&mut s, b"chosen");
        w(&mut s, END_NODE);
        node(&mut s, b"memory@40000000");
        w(&mut s, PROP);
        w(&mut s, 4 * reg.len() as u32);
        w(&mut s, 27);
        for &r in reg {
            w(&mut s, r);
        }
        w(&mut s, END_NODE);
        w(&mut s, END_NODE);
        w(&mut s, END);
        let mut out = Vec::new();
        let total = 40 + s.len() + strings.len();
        for v in [MAGIC, total as u32, 40, (40 + s.len()) as u32, 0, 17, 16, 0, strings.len() as u32, s.len() as u32] {
            w(&mut out, v);
        }
        out.extend_from_slice(&s);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn finds_memory_with_two_cells() {
        let b = dtb(2, 2, &[0, 0x4000_0000, 0, 0x8000_0000]);
        assert_eq!(memory(&b), Some(PhysRange { base: 0x4000_0000, size: 0x8000_0000 }));
    }

    #[test]
    fn finds_memory_with_one_cell() {
        let b = dtb(1, 1, &[0, 0x3b40_0000]);
        assert_eq!(memory(&b), Some(PhysRange { base: 0, size: 0x3b40_0000 }));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(memory(&[0; 64]), None);
        let mut b = dtb(2, 2, &[0, 0x4000_0000, 0, 0x8000_0000]);
        b.truncate(60);
        assert_eq!(memory(&b), None, "truncated tree");
    }
}
