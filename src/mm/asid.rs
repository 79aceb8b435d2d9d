//! Address-space identifiers (ASIDs): tags that let TLB entries of several
//! address spaces live side by side, so switching TTBR0 needs no TLB flush.
//!
//! The hardware has few ASIDs (256 with 8-bit ASIDs), so they are handed out
//! in *generations*. An address space remembers the (generation, ASID) it
//! got; while the generation is current, the ASID is still its own. When all
//! ASIDs of a generation are used up, the allocator starts a new generation
//! and the caller must flush the whole TLB once: every old tag is then stale,
//! and each address space gets a fresh ASID the next time it runs. ASID 0 is
//! kept for the kernel's empty lower half.

/// An ASID together with the generation it was handed out in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asid {
    pub generation: u64,
    pub value: u16,
}

/// What [`AsidAllocator::activate`] tells the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    pub asid: Asid,
    /// A new generation began: flush all TLB entries before using the ASID.
    pub flush_tlb: bool,
}

pub struct AsidAllocator {
    generation: u64,
    /// The next never-used ASID of this generation.
    next: u32,
    count: u32,
}

impl AsidAllocator {
    /// An allocator for `bits`-bit ASIDs (8 or 16).
    pub const fn new(bits: u32) -> Self {
        Self { generation: 1, next: 1, count: 1 << bits }
    }

    /// The ASID an address space should run with, given the one it had.
    pub fn activate(&mut self, previous: Option<Asid>) -> Activation {
        if let Some(asid) = previous {
            if asid.generation == self.generation {
                return Activation { asid, flush_tlb: false };
            }
        }
        let mut flush_tlb = false;
        if self.next == self.count {
            self.generation += 1;
            self.next = 1;
            flush_tlb = true;
        }
        let asid = Asid { generation: self.generation, value: self.next as u16 };
        self.next += 1;
        Activation { asid, flush_tlb }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn an_asid_is_kept_while_its_generation_lasts() {
        let mut a = AsidAllocator::new(8);
        let first = a.activate(None);
        assert_eq!(first.asid, Asid { generation: 1, value: 1 });
        assert!(!first.flush_tlb);
        assert_eq!(a.activate(Some(first.asid)), Activation { asid: first.asid, flush_tlb: false });
    }

    #[test]
    fn exhaustion_starts_a_new_generation_and_flushes() {
        let mut a = AsidAllocator::new(8);
        let spaces: std::vec::Vec<Asid> = (0..255).map(|_| a.activate(None).asid).collect();
        assert_eq!(spaces.last().unwrap().value, 255);
        assert!(spaces.iter().all(|s| s.value != 0), "ASID 0 is the kernel's");
        let next = a.activate(None);
        assert!(next.flush_tlb);
        assert_eq!(next.asid, Asid { generation: 2, value: 1 });
        // An old address space gets a new ASID in the new generation, no second flush.
        let old = a.activate(Some(spaces[7]));
        assert_eq!(old, Activation { asid: Asid { generation: 2, value: 2 }, flush_tlb: false });
    }

    #[test]
    fn values_are_unique_within_a_generation() {
        let mut a = AsidAllocator::new(8);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..255 {
            let act = a.activate(None);
            assert!(seen.insert(act.asid.value));
        }
    }
}
