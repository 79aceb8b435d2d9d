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
//! defaults apply. (One malformation is not looked for: a node name padded
//! with bytes that are not zero, against the specification. Names are
//! stepped over a word at a time by their last byte, see [`skip_name`]: such
//! a tree is read wrongly, never outside its blocks.)
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

/// The structure block: from the header's offset, as long as its size
/// says (version 17 and later; before, to the tree's end). Bounding the
/// walk by it costs about 160 instructions at boot.
#[inline(always)]
fn struct_block(dtb: &[u8]) -> Option<&[u8]> {
    let start = be32(dtb, 8)? as usize;
    let end = match be32(dtb, 20)? {
        17.. => start + be32(dtb, 36)? as usize, // no overflow: two 32-bit numbers
        _ => dtb.len(),
    };
    dtb.get(start..end)
}

/// Is the NUL-terminated string at the start of `text` exactly `name`?
/// (`name` is a constant: the compare is a few loads, no search for the NUL.)
fn is_name<const N: usize>(text: &[u8], name: &[u8; N]) -> bool {
    text.first_chunk::<N>() == Some(name) && text.get(N) == Some(&0)
}

/// A number of `cells` 32-bit cells (1 or 2) at the start of `value`.
fn read_cells(value: &[u8], cells: u32) -> Option<u64> {
    match cells {
        1 => be32(value, 0).map(u64::from),
        2 => Some((u64::from(be32(value, 0)?) << 32) | u64::from(be32(value, 4)?)),
        _ => None,
    }
}

/// How deep [`for_each_property`] looks: nodes below this depth are
/// stepped over whole (boot reads nothing deeper than `/cpus/cpu@…`).
const MAX_DEPTH: usize = 4;

/// Calls `visit` for every property of the nodes `wanted` accepts, in
/// order, with the kind `wanted` gave the node, the property's name (the
/// strings block from the name on: compare it with [`is_name`]) and its
/// value; `None` if the tree is malformed anywhere (then what `visit` saw
/// must be thrown away). `wanted` is asked about the root (with no parent)
/// and about the children of the nodes it accepted (with the parent's
/// kind), given the node's name (NUL-terminated, followed by the rest of
/// the block: compare it with [`is_name`] and [`is_node`]). A node it
/// refuses is stepped over whole, children included, without looking at
/// their names ([`skip_node`]): most of a tree is devices boot does not
/// ask about, side by side, so the sibling that follows one is asked
/// about at once.
fn for_each_property<'a, K: Copy>(
    dtb: &'a [u8],
    wanted: impl Fn(Option<K>, &'a [u8]) -> Option<K>,
    mut visit: impl FnMut(K, &'a [u8], &'a [u8]),
) -> Option<()> {
    let dtb = dtb.get(..total_size(dtb)?)?;
    // The structure block, cut to its size in the header (version 17 on;
    // an older tree's runs to the tree's end): a token is never read from
    // the strings block. (A property's name may run on past the strings
    // block: it is compared with a constant and a NUL, inside the tree.)
    let block = struct_block(dtb)?;
    let strings = dtb.get(be32(dtb, 12)? as usize..)?;
    // The structure block as 32-bit words (its tokens are aligned on 4
    // bytes, and so is the block in a tree placed on 4 bytes or more, as
    // the specification asks): one load per token, not four.
    // SAFETY: every bit pattern is a valid `u32`.
    let (unaligned, words, _) = unsafe { block.align_to::<u32>() };
    if !unaligned.is_empty() {
        return None;
    }
    // The kinds of the open nodes, the root first: every open node was
    // accepted (a refused one is stepped over whole). `inner` is the last
    // of them (`None` before the root), kept apart: read for every
    // property and node, where `path` is read only when a node ends.
    let mut path: [Option<K>; MAX_DEPTH] = [None; MAX_DEPTH];
    let mut depth = 0usize;
    let mut inner: Option<K> = None;
    let mut i = 0; // the next word to read
    loop {
        let token = *words.get(i)?;
        i += 1;
        if token == PROP.to_be() {
            // A property belongs to a node (none is open before the root).
            let node = inner?;
            // Length and name offset, then the value padded to a word.
            let &[len, name_at] = words.get(i..)?.first_chunk::<2>()?;
            let len = u32::from_be(len) as usize;
            let value_at = 4 * (i + 2);
            i += 2 + ((len + 3) >> 2); // the value in words, rounded up
            let value = block.get(value_at..value_at + len)?;
            let name = strings.get(u32::from_be(name_at) as usize..)?;
            visit(node, name, value);
        } else if token == BEGIN_NODE.to_be() {
            // A run of sibling nodes, up to one that is accepted: most of a
            // tree is devices side by side that boot does not ask about,
            // each stepped over whole and the next one asked about at once.
            loop {
                // The name as a NUL-terminated string (its length is not needed).
                let name = block.get(4 * i..)?;
                i = skip_name(words, i)?;
                match (wanted(inner, name), path.get_mut(depth)) {
                    (Some(kind), Some(slot)) => {
                        *slot = Some(kind);
                        inner = Some(kind);
                        depth += 1;
                        break;
                    }
                    _ => {
                        let next;
                        (i, next) = skip_node(words, i)?;
                        if next != BEGIN_NODE.to_be() {
                            break;
                        }
                        i += 1;
                    }
                }
            }
        } else if token == END_NODE.to_be() {
            depth = depth.checked_sub(1)?;
            inner = match depth {
                0 => None,
                d => path[d - 1],
            };
        } else if token == END.to_be() {
            // The tree's end, with every node ended (the root included).
            return (depth == 0).then_some(());
        } else if token != NOP.to_be() {
            return None;
        }
    }
}

/// Steps over a node's name, which starts at word `i`: NUL-terminated and
/// padded with zeros to a word. Returns the word after it (`None` if the
/// block ends first). The name's last word is the first whose last byte
/// is zero: the NUL or the padding is there, and a word before it holds
/// four of the name's letters. So one byte is tested per word, not four
/// (a load and a branch), and words are taken four at a time: one bound
/// check per four. (A tree with padding that is not zero, against the
/// specification, is read wrongly but safely: the walk stays inside the
/// block.)
#[inline(always)]
fn skip_name(words: &[u32], i: usize) -> Option<usize> {
    let ends_name = |w: u32| w.to_ne_bytes()[3] == 0;
    // Four words from `at` are in the block while `at < fours`.
    let fours = words.len().saturating_sub(3);
    let mut at = i;
    while at < fours {
        // SAFETY: `at + 3 < words.len()` (`at < words.len() - 3`).
        let &[a, b, c, d] = unsafe { &*words.as_ptr().add(at).cast::<[u32; 4]>() };
        if ends_name(a) {
            return Some(at + 1);
        }
        if ends_name(b) {
            return Some(at + 2);
        }
        if ends_name(c) {
            return Some(at + 3);
        }
        if ends_name(d) {
            return Some(at + 4);
        }
        at += 4;
    }
    // Three words left in the block at most.
    while !ends_name(*words.get(at)?) {
        at += 1;
    }
    Some(at + 1)
}

/// Steps over the rest of a node whose name has been read, from word `i`:
/// its properties and its children, to its end. Returns the word after
/// its end token, and that word (the next token: read with the end, see
/// below); `None` if the tree is malformed there. Only lengths are
/// read (no names, no values): a property costs ten instructions.
#[inline(always)]
fn skip_node(words: &[u32], mut i: usize) -> Option<(usize, u32)> {
    // A token is read with the word after it (see below): a pair starts
    // in the block while it starts before `pairs`. One compare per token,
    // against a bound computed once.
    let pairs = words.len().saturating_sub(1);
    let mut open = 1usize; // nodes begun and not yet ended, this one included
    loop {
        // A token and the word after it in one paired load: a property's
        // length, when the token is one; the next token, after the node's
        // end. (A well-formed tree has a word after any token inside a
        // node: its parent's end, at least.) Tokens compared as they are
        // stored (big endian): no byte swap.
        if i >= pairs {
            return None;
        }
        // SAFETY: `i + 1 < words.len()` (`i < words.len() - 1`).
        let &[token, after] = unsafe { &*words.as_ptr().add(i).cast::<[u32; 2]>() };
        if token == PROP.to_be() {
            // The token, the length, the name offset, the value padded to a
            // word. A value running past the block leaves the next token
            // outside it too, and the walk ends with `None` there.
            // (`3 + ceil(len / 4)`, folded into one shift: one add fewer.)
            i += (u32::from_be(after) as usize + 15) >> 2;
            continue;
        }
        i += 1;
        if token == BEGIN_NODE.to_be() {
            i = skip_name(words, i)?;
            open += 1;
        } else if token == END_NODE.to_be() {
            open -= 1;
            if open == 0 {
                return Some((i, after));
            }
        } else if token != NOP.to_be() {
            return None; // the tree's end inside a node, or no token at all
        }
    }
}

/// Is the NUL-terminated `name` the node `base` or `base@unit-address`?
fn is_node<const N: usize>(name: &[u8], base: &[u8; N]) -> bool {
    name.first_chunk::<N>() == Some(base) && matches!(name.get(N), Some(0 | b'@'))
}

/// The nodes whose properties boot reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BootNode {
    Root,
    Memory,
    Psci,
    Cpus,
    Cpu,
}

/// Which boot node `name` is, under `parent` (`None`: the root): the root,
/// `/memory`, `/psci`, `/cpus` and each `/cpus/cpu@…`. (The first letter
/// picks the one name to compare: asked of every node near the root.)
#[inline(always)]
fn boot_node(parent: Option<BootNode>, name: &[u8]) -> Option<BootNode> {
    use BootNode::*;
    // The root's children first: nearly every node asked about is one.
    if parent == Some(Root) {
        return match name.first() {
            Some(b'm') if is_node(name, b"memory") => Some(Memory),
            Some(b'p') if is_node(name, b"psci") => Some(Psci),
            Some(b'c') if is_name(name, b"cpus") => Some(Cpus),
            _ => None,
        };
    }
    match (parent, name.first()) {
        (None, _) => Some(Root),
        (Some(Cpus), Some(b'c')) if is_node(name, b"cpu") => Some(Cpu),
        _ => None,
    }
}

/// What boot needs from `dtb`, in one walk; [`BootFacts::NONE`] if it is
/// not a well-formed device tree.
#[inline(never)] // its own registers: the walk is a tight loop
pub fn boot_facts(dtb: &[u8]) -> BootFacts {
    use BootNode::*;
    let mut facts = BootFacts::NONE;
    // The defaults the specification gives when a node does not say.
    let (mut root_address_cells, mut root_size_cells, mut cpu_address_cells) = (2, 1, 2);
    // The first letter of the property's name picks the one name to compare.
    let walked = for_each_property(dtb, boot_node, |node, name, value| match (node, name.first()) {
        (Root, Some(b'#')) => {
            if is_name(name, b"#address-cells") {
                root_address_cells = read_cells(value, 1).unwrap_or(2) as u32
            } else if is_name(name, b"#size-cells") {
                root_size_cells = read_cells(value, 1).unwrap_or(1) as u32
            }
        }
        (Cpus, Some(b'#')) if is_name(name, b"#address-cells") => {
            cpu_address_cells = read_cells(value, 1).unwrap_or(2) as u32
        }
        (Memory, Some(b'r')) if is_name(name, b"reg") && facts.memory.is_none() => {
            let base = read_cells(value, root_address_cells);
            let size = value.get(4 * root_address_cells as usize..).and_then(|v| read_cells(v, root_size_cells));
            if let (Some(base), Some(size)) = (base, size) {
                facts.memory = Some(PhysRange { base, size });
            }
        }
        (Psci, Some(b'm')) if is_name(name, b"method") => {
            facts.psci = match value.strip_suffix(b"\0").unwrap_or(value) {
                b"hvc" => Some(PsciMethod::Hvc),
                b"smc" => Some(PsciMethod::Smc),
                _ => None,
            }
        }
        (Cpu, Some(b'r')) if is_name(name, b"reg") => {
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
