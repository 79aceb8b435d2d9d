//! Address-space identifiers (ASIDs): tags that let TLB entries of several
//! address spaces live side by side, so switching TTBR0 needs no TLB flush.
//!
//! The hardware has few ASIDs (ilusion uses 8-bit ASIDs, in pairs: 128 for
//! address spaces, see `arch::mmu`), so they are handed out in
//! *generations*. An address space remembers the (generation, ASID) it got;
//! while the generation is current, the ASID is still its own. When every
//! ASID of a generation is taken, a *rollover* starts the next generation:
//! all values become free again, and each address space takes a fresh one
//! the next time it runs. ASID 0 is kept for the kernel's empty lower half.
//!
//! # On many cores
//!
//! This is Linux's scheme (`arch/arm64/mm/context.c`), kept as plain data so
//! it is tested on the host; `address_space` keeps it behind one spin lock.
//!
//! - **Deferred flushes.** After a rollover, old tags may sit in the TLB of
//!   every core, and their values now belong to other address spaces. The
//!   rollover does not stop the other cores to flush them: it marks every
//!   core in `flush_pending`, and each core flushes its own TLB (a local
//!   `tlbi vmalle1`) at its next activation, before it uses any ASID of the
//!   new generation ([`Activation::flush_tlb`]).
//! - **Active and reserved ASIDs.** A core keeps running its current
//!   address space across someone else's rollover, without flushing, with
//!   the old tag. That value must stay that address space's in the new
//!   generation (or two address spaces would share a tag on that core, and
//!   the one coming back later would find the other's entries). So the
//!   rollover *reserves* the ASID each core runs (`active`; for a core that
//!   has not activated anything since the last rollover, the one it had
//!   reserved then), and an address space whose old ASID is reserved keeps
//!   its value in the new generation instead of taking a fresh one.
//! - A core running a kernel task keeps its last address space as `active`
//!   (its old tags are still in its TLB): harmless, one value stays taken.
//!
//! Freed values are not reused within a generation, so a stale tag of an
//! ended address space is never matched before the next flush.

use crate::percpu::{CpuMask, ALL_CPUS, MAX_CPUS};

/// The most ASID bits this allocator handles (its bitmap has one bit per value).
pub const MAX_BITS: u32 = 8;
const WORDS: usize = (1 << MAX_BITS) / 64;

/// An ASID together with the generation it was handed out in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asid {
    pub generation: u64,
    pub value: u16,
}

/// What [`AsidAllocator::activate`] tells the switching core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    pub asid: Asid,
    /// A rollover happened since this core last flushed: flush this core's
    /// whole TLB (locally) before using the ASID.
    pub flush_tlb: bool,
}

pub struct AsidAllocator {
    generation: u64,
    /// Values taken in this generation (bit `n`: ASID `n`); 0 always is.
    used: [u64; WORDS],
    /// How many values there are (`1 << bits`).
    count: u32,
    /// Where the search for a free value starts (the last one handed out).
    cursor: u32,
    /// The ASID each core activated last, `None` since a rollover until the
    /// core activates again.
    active: [Option<Asid>; MAX_CPUS],
    /// The ASID each core held at the last rollover: kept by its address space.
    reserved: [Option<Asid>; MAX_CPUS],
    /// Cores that must flush their TLB at their next activation.
    flush_pending: CpuMask,
}

impl AsidAllocator {
    /// An allocator for `bits`-bit ASIDs (at most [`MAX_BITS`]).
    pub const fn new(bits: u32) -> Self {
        assert!(bits >= 1 && bits <= MAX_BITS, "ASID bits out of range");
        let mut used = [0; WORDS];
        used[0] = 1; // ASID 0: the kernel's
        Self {
            generation: 1,
            used,
            count: 1 << bits,
            cursor: 1,
            active: [None; MAX_CPUS],
            reserved: [None; MAX_CPUS],
            flush_pending: 0,
        }
    }

    /// Core `cpu` switches to an address space that had ASID `previous`
    /// (`None`: it never ran): the ASID to run it with, and whether this
    /// core must flush its TLB first.
    pub fn activate(&mut self, cpu: usize, previous: Option<Asid>) -> Activation {
        let asid = match previous {
            Some(asid) if asid.generation == self.generation => asid,
            _ => self.new_asid(previous),
        };
        self.active[cpu] = Some(asid);
        let flush_tlb = self.flush_pending & (1 << cpu) != 0;
        self.flush_pending &= !(1 << cpu);
        Activation { asid, flush_tlb }
    }

    /// The current generation (it grows at each rollover).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Cores that have not flushed their TLB since the last rollover.
    pub fn flush_pending(&self) -> CpuMask {
        self.flush_pending
    }

    /// An ASID of the current generation for an address space that had
    /// `previous` (of an older one, or none).
    fn new_asid(&mut self, previous: Option<Asid>) -> Asid {
        if let Some(old) = previous {
            let same_value = Asid { generation: self.generation, value: old.value };
            // Running (or last run) on some core at the rollover: keep it.
            if self.update_reserved(old, same_value) {
                return same_value;
            }
            // Nobody took its value in this generation yet: keep that too
            // (fewer rollovers, and its TLB entries are its own again).
            if !self.is_used(old.value) {
                self.mark_used(old.value);
                return same_value;
            }
        }
        let value = match self.free_value_from(self.cursor) {
            Some(value) => value,
            None => {
                self.roll_over();
                self.free_value_from(1).expect("a rollover frees all but the reserved ASIDs")
            }
        };
        self.mark_used(value);
        self.cursor = u32::from(value);
        Asid { generation: self.generation, value }
    }

    /// Replaces every reserved copy of `old` by `new`: true if there was one.
    /// Every copy, so none is left in the old generation to be missed later.
    fn update_reserved(&mut self, old: Asid, new: Asid) -> bool {
        let mut found = false;
        for reserved in self.reserved.iter_mut().filter(|r| **r == Some(old)) {
            *reserved = Some(new);
            found = true;
        }
        found
    }

    /// Starts a new generation: every value is free again but those the
    /// cores hold (now reserved), and every core must flush before its next
    /// activation.
    fn roll_over(&mut self) {
        self.generation += 1;
        self.used = [0; WORDS];
        self.used[0] = 1;
        for cpu in 0..MAX_CPUS {
            let held = self.active[cpu].take().or(self.reserved[cpu]);
            if let Some(asid) = held {
                self.mark_used(asid.value);
            }
            self.reserved[cpu] = held;
        }
        self.flush_pending = ALL_CPUS;
    }

    fn is_used(&self, value: u16) -> bool {
        self.used[value as usize / 64] & (1 << (value % 64)) != 0
    }

    fn mark_used(&mut self, value: u16) {
        self.used[value as usize / 64] |= 1 << (value % 64);
    }

    /// The first free value at or after `start` (values below `start` are
    /// all taken, or were when the cursor passed them).
    fn free_value_from(&self, start: u32) -> Option<u16> {
        (start..self.count).map(|v| v as u16).find(|v| !self.is_used(*v))
    }
}

#[cfg(test)]
mod tests;
