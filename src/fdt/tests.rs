//! Host tests of the device-tree reader, on trees built here.

use super::*;
extern crate std;
use std::vec::Vec;

/// Builds a DTB token by token; property names go to the strings block.
struct Tree {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Tree {
    fn new() -> Self {
        let mut t = Self { structs: Vec::new(), strings: Vec::new() };
        t.begin("");
        t
    }

    fn word(&mut self, v: u32) -> &mut Self {
        self.structs.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn begin(&mut self, name: &str) -> &mut Self {
        self.word(BEGIN_NODE);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
        self
    }

    fn end(&mut self) -> &mut Self {
        self.word(END_NODE)
    }

    fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let offset = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.word(PROP).word(value.len() as u32).word(offset);
        self.structs.extend_from_slice(value);
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
        self
    }

    fn cells(&mut self, name: &str, cells: &[u32]) -> &mut Self {
        let bytes: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.prop(name, &bytes)
    }

    /// Closes the root node and lays out header, structure and strings.
    fn finish(&mut self) -> Vec<u8> {
        self.end().word(END);
        let total = 40 + self.structs.len() + self.strings.len();
        let header = [
            MAGIC,
            total as u32,
            40,
            (40 + self.structs.len()) as u32,
            0,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structs.len() as u32,
        ];
        let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_be_bytes()).collect();
        out.extend_from_slice(&self.structs);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// A tree like QEMU virt's: 2+2 cells, memory, /psci, `n` cores.
fn virt_like(n: u32, method: &str) -> Vec<u8> {
    let mut t = Tree::new();
    t.cells("#address-cells", &[2]).cells("#size-cells", &[2]);
    t.begin("chosen").end();
    t.begin("psci").prop("compatible", b"arm,psci-1.0\0").prop("method", format!("{method}\0").as_bytes()).end();
    t.begin("memory@40000000").prop("device_type", b"memory\0").cells("reg", &[0, 0x4000_0000, 0, 0x8000_0000]).end();
    t.begin("cpus").cells("#address-cells", &[1]).cells("#size-cells", &[0]);
    for i in 0..n {
        t.begin(&format!("cpu@{i}")).prop("device_type", b"cpu\0").cells("reg", &[i]);
        t.begin("l2-cache").cells("reg", &[0xdead]).end(); // not a core: deeper
        t.end();
    }
    t.begin("cpu-map").begin("cluster0").end().end(); // not a core
    t.end();
    t.finish()
}

#[test]
fn finds_memory_cores_and_psci() {
    let facts = boot_facts(&virt_like(4, "hvc"));
    assert_eq!(facts.memory, Some(PhysRange { base: 0x4000_0000, size: 0x8000_0000 }));
    assert_eq!(facts.cores.mpidrs(), &[0, 1, 2, 3]);
    assert_eq!(facts.cores.beyond_max, 0);
    assert_eq!(facts.psci, Some(PsciMethod::Hvc));
    assert_eq!(boot_facts(&virt_like(1, "smc")).psci, Some(PsciMethod::Smc));
}

#[test]
fn unknown_psci_method_is_none() {
    assert_eq!(boot_facts(&virt_like(2, "magic")).psci, None);
}

#[test]
fn cores_beyond_the_maximum_are_counted_not_kept() {
    let facts = boot_facts(&virt_like(MAX_CPUS as u32 + 3, "hvc"));
    assert_eq!(facts.cores.mpidrs().len(), MAX_CPUS);
    assert_eq!(facts.cores.beyond_max, 3);
}

#[test]
fn one_cell_memory_and_two_cell_cpus() {
    let mut t = Tree::new();
    t.cells("#address-cells", &[1]).cells("#size-cells", &[1]);
    t.begin("memory@0").cells("reg", &[0, 0x3b40_0000]).end();
    t.begin("cpus").cells("#address-cells", &[2]);
    t.begin("cpu@100").cells("reg", &[0, 0x100]).end();
    t.end();
    let facts = boot_facts(&t.finish());
    assert_eq!(facts.memory, Some(PhysRange { base: 0, size: 0x3b40_0000 }));
    assert_eq!(facts.cores.mpidrs(), &[0x100]);
    assert_eq!(facts.psci, None);
}

#[test]
fn a_node_merely_named_like_memory_is_not_memory() {
    let mut t = Tree::new();
    t.cells("#address-cells", &[1]).cells("#size-cells", &[1]);
    t.begin("memory-controller@1000").cells("reg", &[0x1000, 0x100]).end();
    assert_eq!(boot_facts(&t.finish()).memory, None);
}

#[test]
fn malformed_trees_give_nothing() {
    assert_eq!(boot_facts(&[0; 64]), BootFacts::NONE);
    assert_eq!(boot_facts(&[]), BootFacts::NONE);
    let good = virt_like(4, "hvc");
    // Cut anywhere, the tree is refused whole, never half-read, never a panic.
    for len in 0..good.len() {
        assert_eq!(boot_facts(&good[..len]), BootFacts::NONE, "truncated to {len}");
    }
    // A property longer than the tree.
    let mut t = Tree::new();
    t.word(PROP).word(0xffff_fff0).word(0);
    assert_eq!(boot_facts(&t.finish()), BootFacts::NONE);
    // More ends than begins.
    let mut t = Tree::new();
    t.end().end();
    assert_eq!(boot_facts(&t.finish()), BootFacts::NONE);
    // An unknown token.
    let mut t = Tree::new();
    t.word(77);
    assert_eq!(boot_facts(&t.finish()), BootFacts::NONE);
    // A property before the root node (outside every node).
    let mut t = Tree { structs: Vec::new(), strings: Vec::new() };
    t.prop("model", b"x\0").begin("");
    assert_eq!(boot_facts(&t.finish()), BootFacts::NONE);
    // The tree's end with a node still open (here the root: `finish` ends
    // the extra node instead), even after every fact was found.
    let mut t = Tree::new();
    t.begin("psci").prop("method", b"hvc\0").end();
    t.begin("unfinished");
    assert_eq!(boot_facts(&t.finish()), BootFacts::NONE);
}

#[test]
fn every_byte_flipped_never_panics() {
    let good = virt_like(2, "smc");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        let _ = boot_facts(&bad);
    }
}

/// A device boot does not ask about, with properties and children of its
/// own (one named like memory, one like the cores), between `/psci` and
/// the other facts.
fn with_device_first(device_body: impl Fn(&mut Tree)) -> Vec<u8> {
    let mut t = Tree::new();
    t.cells("#address-cells", &[1]).cells("#size-cells", &[1]);
    t.begin("psci").prop("method", b"smc\0").end();
    t.begin("soc@0").cells("ranges", &[0, 0, 0x1000]).prop("compatible", b"simple-bus\0");
    device_body(&mut t);
    t.end();
    t.begin("memory@0").cells("reg", &[0x4000_0000, 0x1000_0000]).end();
    t.begin("cpus").cells("#address-cells", &[1]).begin("cpu@0").cells("reg", &[0]).end().end();
    t.finish()
}

#[test]
fn a_skipped_node_is_stepped_over_whole_children_included() {
    let tree = with_device_first(|t| {
        t.begin("memory@80000000").cells("reg", &[0x8000_0000, 0x100]).end();
        t.begin("cpus").begin("cpu@7").cells("reg", &[7]).end().end();
        t.begin("bridge").begin("deeper").begin("deepest").prop("empty", b"").end().end().end();
    });
    let facts = boot_facts(&tree);
    // Only the root's own /memory and /cpus count, not the device's children.
    assert_eq!(facts.memory, Some(PhysRange { base: 0x4000_0000, size: 0x1000_0000 }));
    assert_eq!(facts.cores.mpidrs(), &[0]);
    assert_eq!(facts.psci, Some(PsciMethod::Smc));
}

#[test]
fn a_skipped_node_that_is_malformed_spoils_the_whole_tree() {
    /// What the device holds, after its first properties.
    type Body = fn(&mut Tree);
    let cases: [(&str, Body); 4] = [
        ("an unknown token", |t| {
            t.word(77);
        }),
        ("a property longer than the tree", |t| {
            t.word(PROP).word(0x7fff_fff0).word(0);
        }),
        ("the tree's end inside it", |t| {
            t.begin("child").word(END);
        }),
        ("a child never ended (its end taken as the device's)", |t| {
            t.begin("child").begin("grandchild").end();
        }),
    ];
    for (what, body) in cases {
        assert_eq!(boot_facts(&with_device_first(body)), BootFacts::NONE, "{what}");
    }
}

#[test]
fn a_skipped_node_cut_anywhere_spoils_the_whole_tree() {
    // The structure block ends (with its END token) at every point inside
    // the skipped device: the walk must fail, never read past it or panic.
    let full = with_device_first(|t| {
        t.begin("child@1").cells("reg", &[1, 2]).prop("name-with-a-long-tail", b"abcdefghijk\0").end();
    });
    let structs = u32::from_be_bytes(full[8..12].try_into().unwrap()) as usize;
    let device_start = structs + full[structs..].windows(6).position(|w| w == b"soc@0\0").unwrap();
    let device_end = device_start + full[device_start..].windows(6).position(|w| w == b"memory").unwrap() - 4;
    assert!(device_end > device_start + 40, "the device is where the test expects it");
    for cut in (device_start..device_end).step_by(4) {
        let mut t = full[..cut].to_vec();
        t.extend_from_slice(&END.to_be_bytes());
        // The header's sizes made to match the shorter tree (strings dropped).
        let total = t.len() as u32;
        t[4..8].copy_from_slice(&total.to_be_bytes());
        t[12..16].copy_from_slice(&total.to_be_bytes());
        // (Read whole, the tree before the cut would give /psci.)
        assert_eq!(boot_facts(&t), BootFacts::NONE, "cut at {cut}");
    }
}

#[test]
fn every_word_replaced_by_any_token_never_panics() {
    // Tokens where they do not belong (a property before the root, an end
    // too many or too few, a name cut short...) at every word of two trees.
    let trees = [
        virt_like(2, "hvc"),
        with_device_first(|t| {
            t.begin("child").prop("x", b"abc\0").end();
        }),
    ];
    for good in trees {
        for at in (0..good.len() - 3).step_by(4) {
            for token in [BEGIN_NODE, END_NODE, PROP, NOP, END, 0, 0xffff_ffff] {
                let mut bad = good.clone();
                bad[at..at + 4].copy_from_slice(&token.to_be_bytes());
                let _ = boot_facts(&bad);
            }
        }
    }
}

#[test]
fn names_of_every_length_are_stepped_over() {
    // A name ends in the first word whose last byte is zero (the NUL or the
    // padding): lengths 0 to 12 put the NUL at each place of a word, for
    // skipped nodes (root level and nested), and before each node boot reads.
    for len in 0..=12 {
        let name: String = "abcdefghijkl".chars().take(len).collect();
        let mut t = Tree::new();
        t.cells("#address-cells", &[1]).cells("#size-cells", &[1]);
        t.begin(&name).begin(&name).prop("x", b"1").end().end();
        t.begin("psci").prop("method", b"hvc\0").end();
        t.begin(&name).end();
        t.begin("memory@0").cells("reg", &[0x4000_0000, 0x1000_0000]).end();
        t.begin("cpus").cells("#address-cells", &[1]);
        t.begin(&name).end().begin("cpu@0").cells("reg", &[0]).end().end();
        let facts = boot_facts(&t.finish());
        assert_eq!(facts.memory, Some(PhysRange { base: 0x4000_0000, size: 0x1000_0000 }), "name length {len}");
        assert_eq!(facts.cores.mpidrs(), &[0], "name length {len}");
        assert_eq!(facts.psci, Some(PsciMethod::Hvc), "name length {len}");
    }
}

/// The header's structure-block size bounds the walk: a block whose size
/// leaves out its `END` token is malformed (the token after it is in the
/// strings block), and so is a block running past the tree.
#[test]
fn the_structure_block_ends_where_the_header_says() {
    let tree = virt_like(2, "hvc");
    assert_ne!(boot_facts(&tree), BootFacts::NONE);
    let set = |tree: &[u8], at: usize, value: u32| {
        let mut t = tree.to_vec();
        t[at..at + 4].copy_from_slice(&value.to_be_bytes());
        t
    };
    let struct_size = be32(&tree, 36).unwrap();
    let strings_size = be32(&tree, 32).unwrap();
    // The END token left out; then the strings block made to start with one
    // (so a walk that ignored the size would find a well-formed end there).
    let short = set(&tree, 36, struct_size - 4);
    assert_eq!(boot_facts(&short), BootFacts::NONE, "END token outside the structure block");
    let mut end_in_strings = set(&short, 12, be32(&tree, 12).unwrap() - 4);
    end_in_strings = set(&end_in_strings, 32, strings_size + 4);
    assert_eq!(boot_facts(&end_in_strings), BootFacts::NONE, "END token read from the strings block");
    // Sizes running past the tree, or wrapping.
    assert_eq!(boot_facts(&set(&tree, 36, struct_size + 4 + strings_size)), BootFacts::NONE);
    assert_eq!(boot_facts(&set(&tree, 36, u32::MAX)), BootFacts::NONE);
    // Before version 17 the sizes are not there: the blocks run to the end.
    let old = set(&set(&tree, 20, 16), 36, 0);
    assert_eq!(boot_facts(&old), boot_facts(&tree));
}

/// A name is stepped over four words at a time: it may end in any word
/// of a group of four, or in one of the last three words of the block; a
/// name the block cuts short gives `None`, whatever number of words is left.
#[test]
fn a_name_ends_in_any_word_or_the_block_first() {
    let letters = u32::from_ne_bytes(*b"abcd");
    let last = u32::from_ne_bytes(*b"ef\0\0");
    for before in 0..10 {
        for after in 0..5 {
            let mut words = vec![letters; before];
            words.push(last);
            words.extend(std::iter::repeat_n(letters, after));
            assert_eq!(skip_name(&words, 0), Some(before + 1), "{before} words before the end, {after} after");
            assert_eq!(skip_name(&words, 1.min(before)), Some(before + 1), "from word 1: {before}, {after}");
            assert_eq!(skip_name(&words, before), Some(before + 1), "from the last word: {before}, {after}");
        }
        let unended = vec![letters; before];
        for from in 0..=before {
            assert_eq!(skip_name(&unended, from), None, "{before} words, none ending the name, from {from}");
        }
    }
    assert_eq!(skip_name(&[letters, last], 3), None, "a start past the block");
}

/// A skipped node's tokens are read with the word after them, against one
/// bound: a node whose properties and end token fit the block is stepped
/// over to the word after its end, wherever its words fall; one cut
/// anywhere (a property's length, its value, or the end itself past the
/// block's last pair) gives `None`.
#[test]
fn a_skipped_node_ends_where_its_end_token_is_or_nowhere() {
    let be = |v: u32| v.to_be();
    for value_len in 0..9u32 {
        // A property, a child with a property, the node's end, its parent's end.
        let mut words = vec![be(PROP), be(value_len), 0];
        words.extend(std::iter::repeat_n(0x6161_6161, value_len.div_ceil(4) as usize));
        words.extend([be(BEGIN_NODE), u32::from_ne_bytes(*b"c\0\0\0"), be(PROP), 0, 0, be(END_NODE)]);
        words.push(be(END_NODE));
        let node_end = words.len();
        words.push(be(END_NODE));
        assert_eq!(skip_node(&words, 0), Some((node_end, be(END_NODE))), "value of {value_len} bytes");
        for cut in 0..=node_end {
            assert_eq!(skip_node(&words[..cut], 0), None, "value of {value_len} bytes, cut at {cut}");
        }
        // A length running past the block, or wrapping when rounded up.
        for len in [u32::MAX, u32::MAX - 3, 0x7fff_fff0] {
            let mut long = words.clone();
            long[1] = be(len);
            assert_eq!(skip_node(&long, 0), None, "a length of {len:#x}");
        }
    }
}

/// Devices side by side are stepped over in one run, each next one asked
/// about at once: the run ends at an accepted sibling, at a `NOP` between
/// siblings, or at the parent's end, and each of those is then read as
/// usual; the same siblings with a `NOP` anywhere between them give the
/// same facts.
#[test]
fn a_run_of_skipped_siblings_ends_at_any_token() {
    let device = |t: &mut Tree, name: &str| {
        t.begin(name).cells("reg", &[1, 2]).begin("child").prop("x", b"abc\0").end().end();
    };
    for nop_after in [None, Some(0), Some(1), Some(2)] {
        let mut t = Tree::new();
        t.cells("#address-cells", &[1]).cells("#size-cells", &[1]);
        for (k, name) in ["virtio@1", "virtio@2", "virtio@3"].into_iter().enumerate() {
            device(&mut t, name);
            if nop_after == Some(k) {
                t.word(NOP);
            }
        }
        t.begin("memory@0").cells("reg", &[0x4000_0000, 0x1000_0000]).end();
        device(&mut t, "virtio@4");
        t.begin("psci").prop("method", b"hvc\0").end();
        t.begin("cpus").cells("#address-cells", &[1]);
        t.begin("cpu@0").cells("reg", &[0]).end();
        device(&mut t, "cache@0");
        t.end();
        device(&mut t, "virtio@5");
        device(&mut t, "virtio@6");
        let facts = boot_facts(&t.finish());
        let what = format!("a NOP after device {nop_after:?}");
        assert_eq!(facts.memory, Some(PhysRange { base: 0x4000_0000, size: 0x1000_0000 }), "{what}");
        assert_eq!(facts.cores.mpidrs(), &[0], "{what}");
        assert_eq!(facts.psci, Some(PsciMethod::Hvc), "{what}");
    }
}
