//! Just enough of a flattened device tree (DTB) reader for boot: how much
//! RAM there is (the first `/memory` node's `reg`), which cores there are
//! (the `reg` of each `/cpus/cpu@…` node: its MPIDR affinity) and how to
//! start them (`/psci`'s `method`: `hvc` or `smc`).
//!
//! A DTB is a header, a structure block of tokens (begin node, property, end
//! node) and a strings block holding property names. All numbers are big
//! endian. See the Devicetree Specification, chapter 5. [`boot_facts`]
//! walks the structure block once and keeps what boot needs; a tree that is
//! malformed anywhere gives nothing at all (never a panic), and the board's
//! defaults apply.
//!
//! Why not a crate: the well-known `fdt` crate panics on some malformed
//! trees (it indexes slices unchecked), and a loader's tree is input that
//! must never crash the machine; the three facts need one small loop.

use crate::mm::layout::PhysRange;
use crate::percpu::MAX_CPUS;

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// Which instruction the device tree says reaches PSCI (`/psci`'s `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciMethod {
    Hvc,
    Smc,
}

/// The cores a device tree lists: the MPIDR affinity of each, in tree order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cores {
    mpidrs: [u64; MAX_CPUS],
    len: usize,
    /// Cores listed beyond the first [`MAX_CPUS`] (ilusion leaves them parked).
    pub beyond_max: usize,
}

impl Cores {
    pub const NONE: Self = Self { mpidrs: [0; MAX_CPUS], len: 0, beyond_max: 0 };

    /// Cores 0 to `n - 1` of one cluster (MPIDR Aff0 = core number), for
    /// a board whose device tree is missing.
    pub fn first(n: usize) -> Self {
        let mut cores = Self::NONE;
        (0..n as u64).for_each(|mpidr| cores.push(mpidr));
        cores
    }

    /// The MPIDR affinity of each core listed (at most [`MAX_CPUS`]).
    pub fn mpidrs(&self) -> &[u64] {
        &self.mpidrs[..self.len]
    }

    fn push(&mut self, mpidr: u64) {
        match self.mpidrs.get_mut(self.len) {
            Some(slot) => {
                *slot = mpidr;
                self.len += 1;
            }
            None => self.beyond_max += 1,
        }
    }
}

/// What boot learns from a device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootFacts {
    /// The first RAM range of `/memory`.
    pub memory: Option<PhysRange>,
    /// The cores under `/cpus`.
    pub cores: Cores,
    /// How to call PSCI, if the tree has a `/psci` node.
    pub psci: Option<PsciMethod>,
}

impl BootFacts {
    /// Nothing known (no device tree, or a malformed one).
    pub const NONE: Self = Self { memory: None, cores: Cores::NONE, psci: None };
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

/// Does `header` start with the DTB magic? Returns the total size if so.
pub fn total_size(header: &[u8]) -> Option<usize> {
    (be32(header, 0)? == MAGIC).then(|| be32(header, 4).map(|s| s as usize))?
}

fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let rest = b.get(at..)?;
    Some(&rest[..rest.iter().position(|&c| c == 0)?])
}

/// A number of `cells` 32-bit cells (1 or 2) at the start of `value`.
fn read_cells(value: &[u8], cells: u32) -> Option<u64> {
    match cells {
        1 => be32(value, 0).map(u64::from),
        2 => Some((u64::from(be32(value, 0)?) << 32) | u64::from(be32(value, 4)?)),
        _ => None,
    }
}

/// Where a property is: its node's depth (the root is 1), the node's name
/// and its parent's name.
struct Place<'a> {
    depth: usize,
    node: &'a [u8],
    parent: &'a [u8],
}

/// Calls `visit` for every property of the nodes `wanted` accepts, in
/// order; `None` if the tree is malformed anywhere (then what `visit` saw
/// must be thrown away). The properties of other nodes are stepped over
/// without reading their names: most of a tree is devices boot does not
/// ask about.
fn for_each_property<'a>(
    dtb: &'a [u8],
    wanted: impl Fn(&Place<'a>) -> bool,
    mut visit: impl FnMut(&Place<'a>, &[u8], &'a [u8]),
) -> Option<()> {
    let dtb = dtb.get(..total_size(dtb)?)?;
    let structs = be32(dtb, 8)? as usize;
    let strings = be32(dtb, 12)? as usize;
    // The structure block as 32-bit words (its tokens are aligned on 4
    // bytes, and so is the block in a tree placed on 4 bytes or more, as
    // the specification asks): one load per token, not four.
    let block = dtb.get(structs..)?;
    // SAFETY: every bit pattern is a valid `u32`.
    let (unaligned, words, _) = unsafe { block.align_to::<u32>() };
    if !unaligned.is_empty() {
        return None;
    }
    let word = |i: usize| words.get(i).map(|&w| u32::from_be(w));
    // The names of the nodes enclosing the current one (deeper ones are not kept).
    let mut names: [&[u8]; 4] = [b""; 4];
    let mut depth = 0usize;
    let mut in_wanted_node = false;
    let mut i = 0;
    let known = |names: &[&'a [u8]; 4], d: usize| if d < names.len() { names[d] } else { b"" as &[u8] };
    loop {
        let token = word(i)?;
        i += 1;
        match token {
            BEGIN_NODE => {
                // The name, NUL-terminated and padded to a word: look for
                // the NUL a word at a time.
                let start = i;
                let len = loop {
                    let w = u32::from_le(*words.get(i)?);
                    i += 1;
                    // The lowest zero byte sets the lowest bit here (a byte
                    // above a zero one may set its bit too: not used).
                    let zero_bytes = w.wrapping_sub(0x0101_0101) & !w & 0x8080_8080;
                    if zero_bytes != 0 {
                        break 4 * (i - 1 - start) + (zero_bytes.trailing_zeros() / 8) as usize;
                    }
                };
                let name = block.get(4 * start..4 * start + len)?;
                depth += 1;
                if let Some(slot) = names.get_mut(depth) {
                    *slot = name;
                }
                in_wanted_node = wanted(&Place { depth, node: name, parent: known(&names, depth - 1) });
            }
            END_NODE => {
                depth = depth.checked_sub(1)?;
                // Back in the parent, after a child: its properties came
                // before its children, so none is left to visit.
                in_wanted_node = false;
            }
            PROP => {
                // A value running past the block leaves the next token
                // outside it too: the walk ends with `None` there.
                let len = word(i)? as usize;
                let name_at = word(i + 1)? as usize;
                let value_at = 4 * (i + 2);
                i += 2 + len.div_ceil(4);
                if in_wanted_node {
                    let value = block.get(value_at..value_at + len)?;
                    let name = cstr(dtb, strings.checked_add(name_at)?)?;
                    let place = Place { depth, node: known(&names, depth), parent: known(&names, depth - 1) };
                    visit(&place, name, value);
                }
            }
            NOP => {}
            END => return Some(()),
            _ => return None,
        }
    }
}

/// Is `name` the node `base` or `base@unit-address`?
fn is_node(name: &[u8], base: &[u8]) -> bool {
    name.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest[0] == b'@')
}

/// What boot needs from `dtb`, in one walk; [`BootFacts::NONE`] if it is
/// not a well-formed device tree.
pub fn boot_facts(dtb: &[u8]) -> BootFacts {
    let mut facts = BootFacts::NONE;
    // The defaults the specification gives when a node does not say.
    let (mut root_address_cells, mut root_size_cells, mut cpu_address_cells) = (2, 1, 2);
    let wanted = |place: &Place| match place.depth {
        1 => true,
        2 => is_node(place.node, b"memory") || is_node(place.node, b"psci") || place.node == b"cpus",
        3 => place.parent == b"cpus" && is_node(place.node, b"cpu"),
        _ => false,
    };
    let walked = for_each_property(dtb, wanted, |place, name, value| match (place.depth, name) {
        (1, b"#address-cells") => root_address_cells = read_cells(value, 1).unwrap_or(2) as u32,
        (1, b"#size-cells") => root_size_cells = read_cells(value, 1).unwrap_or(1) as u32,
        (2, b"#address-cells") if place.node == b"cpus" => cpu_address_cells = read_cells(value, 1).unwrap_or(2) as u32,
        (2, b"reg") if is_node(place.node, b"memory") && facts.memory.is_none() => {
            let base = read_cells(value, root_address_cells);
            let size = value.get(4 * root_address_cells as usize..).and_then(|v| read_cells(v, root_size_cells));
            if let (Some(base), Some(size)) = (base, size) {
                facts.memory = Some(PhysRange { base, size });
            }
        }
        (2, b"method") if is_node(place.node, b"psci") => {
            facts.psci = match value.strip_suffix(b"\0").unwrap_or(value) {
                b"hvc" => Some(PsciMethod::Hvc),
                b"smc" => Some(PsciMethod::Smc),
                _ => None,
            }
        }
        (3, b"reg") if place.parent == b"cpus" && is_node(place.node, b"cpu") => {
            if let Some(mpidr) = read_cells(value, cpu_address_cells) {
                facts.cores.push(mpidr);
            }
        }
        _ => {}
    });
    walked.map_or(BootFacts::NONE, |()| facts)
}

#[cfg(test)]
mod tests;
