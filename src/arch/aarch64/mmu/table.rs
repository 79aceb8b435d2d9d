//! Building translation tables: a 39-bit address space, 4 KiB granule, three
//! levels (level 1: 1 GiB per entry, level 2: 2 MiB, level 3: 4 KiB).
//!
//! [`PageTable::map`] maps a range with the largest blocks that fit (1 GiB,
//! then 2 MiB, then 4 KiB pages), allocating next-level tables from a
//! [`TableAllocator`] as it needs them. Nothing here touches a system
//! register, so it is tested on the host (see `table/tests.rs`).

use super::descriptor::{Attributes, Descriptor};
pub use super::map_error::MapError;
use core::ptr::NonNull;

/// The translation granule: the size of a page and of a frame, for the
/// whole crate (`mm::PAGE_SIZE` is this one).
pub const PAGE_SIZE: u64 = 4096;
pub const ENTRIES: usize = 512;
/// Bytes mapped by one entry at level 1, 2 and 3.
const LEVEL_SIZE: [u64; 4] = [0, 1 << 30, 1 << 21, PAGE_SIZE];

/// One translation table: 512 descriptors, one page, page aligned
/// (`align` takes only a literal: 4096 is [`PAGE_SIZE`]).
#[repr(C, align(4096))]
pub struct Table {
    pub entries: [Descriptor; ENTRIES],
}

impl Table {
    /// All entries invalid. (On the target a table is zeroed in place, with
    /// `arch::cpu::zero_page`: an invalid descriptor is all zero.)
    #[cfg(test)]
    pub const EMPTY: Self = Self { entries: [Descriptor::INVALID; ENTRIES] };
}

/// Where new tables come from, and how the builder reaches a table it only
/// knows by physical address (descriptors hold physical addresses).
pub trait TableAllocator {
    /// A zeroed table and its physical address, or `None` when out of tables.
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)>;
    /// The pointer through which the table at physical address `pa` is reached.
    fn table_at(&self, pa: u64) -> NonNull<Table>;
}

/// A translation table root and the operations on the address space it
/// describes. Dropping it frees nothing: its tables are given back by
/// whoever allocated them (an address space records each as it is made).
pub struct PageTable {
    root: NonNull<Table>,
    root_pa: u64,
}

// SAFETY: a `PageTable` owns its tables; moving it between cores is fine, and
// all mutation goes through `&mut self`.
unsafe impl Send for PageTable {}

fn index(va: u64, level: usize) -> usize {
    let shift = 12 + 9 * (3 - level);
    ((va >> shift) & (ENTRIES as u64 - 1)) as usize
}

/// Writes `leaf`, `leaf + step`, `leaf + 2 * step`, … into the free
/// entries at the start of `slots`, up to the first one in use; returns
/// how many it wrote. Eight at a time, as a new table's 512 entries are at
/// boot: eight all-zero entries (an invalid descriptor is zero, see
/// `Descriptor::INVALID`) are free, found with paired loads and the
/// whole words or-ed (testing only the valid bits narrows each load to
/// 32 bits, which do not pair); any other eight go one by one. With
/// `KNOWN_FREE`, the caller knows every entry of `slots` is free
/// ([`map_range`]'s `free_above`: a table made for this mapping, or a tree
/// mapped in ascending order): nothing is read, and [`fill_known_free`]
/// writes them all.
#[inline(never)]
fn fill_free_run<const KNOWN_FREE: bool>(slots: &mut [Descriptor], mut leaf: u64, step: u64) -> usize {
    if KNOWN_FREE {
        fill_known_free(slots, leaf, step);
        return slots.len();
    }
    let (octets, rest) = slots.as_chunks_mut::<8>();
    let mut run = 0;
    for octet in octets {
        let [a, b, c, d, e, f, g, h] = octet.map(|d| d.0);
        if a | b | c | d | e | f | g | h == 0 {
            let (l2, l4) = (leaf + 2 * step, leaf + 4 * step);
            let l6 = l4 + 2 * step;
            *octet = [leaf, leaf + step, l2, l2 + step, l4, l4 + step, l6, l6 + step].map(Descriptor);
        } else {
            let filled = fill_one_by_one(octet, leaf, step);
            if filled < 8 {
                return run + filled;
            }
        }
        leaf += 8 * step;
        run += 8;
    }
    run + fill_one_by_one(rest, leaf, step)
}

/// Writes `leaf`, `leaf + step`, … into every entry of `slots`, all free:
/// two entries a vector register (on the target; [`lanes`](super::lanes)), eight a loop
/// turn, four vector adds and one 64-byte store (a `st1` of four
/// registers, [`lanes::store4`](super::lanes::store4)): seven instructions with the loop's. With general
/// registers each entry took its own add, and every two a store. The kernel
/// may use the vector registers (see `arch::aarch64::fp`: they are lent or
/// loaded on first use, and nothing is kept in them across a switch).
#[inline(always)]
fn fill_known_free(slots: &mut [Descriptor], mut leaf: u64, step: u64) {
    use super::lanes::{self, add, pair, Pair};
    // SAFETY: a `Pair` is two `u64`s, and a `Descriptor` one
    // (`repr(transparent)`): any bits are a valid value of either.
    let (head, pairs, tail) = unsafe { slots.align_to_mut::<Pair>() };
    for slot in head {
        *slot = Descriptor(leaf);
        leaf += step;
    }
    let (quads, rest) = pairs.as_chunks_mut::<4>();
    let done = quads.len() as u64 * 8 + rest.len() as u64 * 2;
    // Four registers, not an array: the compiler keeps an array on the stack.
    let at = |i: u64| pair(leaf + i * step, leaf + (i + 1) * step);
    let (mut a, mut b, mut c, mut d) = (at(0), at(2), at(4), at(6));
    let eight = pair(8 * step, 8 * step);
    for quad in quads {
        lanes::store4(quad, [a, b, c, d]);
        (a, b, c, d) = (add(a, eight), add(b, eight), add(c, eight), add(d, eight));
    }
    match rest {
        [] => {}
        [x] => *x = a,
        [x, y] => [*x, *y] = [a, b],
        [x, y, z] => [*x, *y, *z] = [a, b, c],
        _ => unreachable!("fewer than four pairs are left"),
    }
    let mut leaf = leaf + done * step;
    for slot in tail {
        *slot = Descriptor(leaf);
        leaf += step;
    }
}

/// [`fill_free_run`] an entry at a time: for a few entries.
#[inline(always)]
fn fill_one_by_one(slots: &mut [Descriptor], mut leaf: u64, step: u64) -> usize {
    let mut run = 0;
    while run < slots.len() && !slots[run].is_valid() {
        slots[run] = Descriptor(leaf);
        leaf += step;
        run += 1;
    }
    run
}

/// Writes a run of leaves into `entries`, a table at `level` (pages at
/// level 3, blocks above) mapping `[va, end)` to `pa..`: every whole entry
/// from `va`'s to the end of the range or of the table, up to the first
/// one in use. Returns how many bytes it mapped (`AlreadyMapped` if `va`'s
/// entry is in use). `free_above` as for [`map_range`].
#[inline(always)]
fn map_leaves(
    entries: &mut [Descriptor; ENTRIES],
    free_above: bool,
    level: usize,
    va: u64,
    pa: u64,
    end: u64,
    attr_bits: u64,
) -> Result<u64, MapError> {
    let size = LEVEL_SIZE[level];
    let first = index(va, level);
    if entries[first].is_valid() {
        return Err(MapError::AlreadyMapped { va });
    }
    let wanted = ((end - va) / size).min((ENTRIES - first) as u64) as usize;
    // The leaves differ only in their address: encode the first one,
    // then add `size` per entry (a physical address stays below the
    // attribute bits above it).
    let leaf = if level == 3 { Descriptor::page_bits(pa, attr_bits) } else { Descriptor::block_bits(pa, attr_bits) };
    // A few entries (a task's stack) in a plain loop, inline; a long
    // run (the kernel's map at boot) eight at a time.
    let slots = &mut entries[first..first + wanted];
    let run = if slots.len() < 8 {
        fill_one_by_one(slots, leaf.0, size)
    } else if free_above {
        fill_free_run::<true>(slots, leaf.0, size)
    } else {
        fill_free_run::<false>(slots, leaf.0, size)
    };
    Ok(run as u64 * size)
}

/// Maps `[va, end)` to `pa..` within `table`, a table at `level`: one pass
/// over the table's entries, using a block where one fits and descending
/// into (or creating) a next-level table where it does not. `free_above`:
/// nothing is mapped in `table` at or above `va` (a table made for this
/// mapping, or every table of a tree mapped in ascending order, as the
/// kernel's map at boot is: [`PageTable::map_ascending`]). This pass writes
/// the entries in order, so it stays true as it goes; runs of leaves are
/// then written without being read first.
#[allow(clippy::too_many_arguments)]
fn map_range(
    mut table: NonNull<Table>,
    free_above: bool,
    level: usize,
    mut va: u64,
    mut pa: u64,
    end: u64,
    attr_bits: u64,
    alloc: &mut impl TableAllocator,
) -> Result<(), MapError> {
    let size = LEVEL_SIZE[level];
    while va < end {
        // This entry covers up to the next `size` boundary (or the end of the range).
        let entry_end = (va | (size - 1)).saturating_add(1).min(end);
        let whole_entry = entry_end - va == size && pa.is_multiple_of(size);
        let first = index(va, level);
        // SAFETY: `table` is a live table of this address space (the root,
        // or reached through a table descriptor).
        let entries = unsafe { &mut table.as_mut().entries };
        if level == 3 || (whole_entry && !entries[first].is_table()) {
            let mapped = map_leaves(entries, free_above, level, va, pa, end, attr_bits)?;
            va += mapped;
            pa += mapped;
            continue;
        }
        let entry = &mut entries[first];
        let made = !entry.is_valid();
        if made {
            let (_, next) = alloc.allocate().ok_or(MapError::OutOfTables)?;
            *entry = Descriptor::table(next);
        } else if !entry.is_table() {
            return Err(MapError::AlreadyMapped { va });
        }
        let mut next = alloc.table_at(entry.address());
        if level == 2 {
            // The level-3 table's part is one run of pages (here, not in a
            // call of this function for it), which stops short only at a
            // page in use.
            // SAFETY: `next` is a live table of this address space, reached
            // through a table descriptor.
            let pages = unsafe { &mut next.as_mut().entries };
            let mapped = map_leaves(pages, made || free_above, 3, va, pa, entry_end, attr_bits)?;
            if va + mapped < entry_end {
                return Err(MapError::AlreadyMapped { va: va + mapped });
            }
        } else {
            map_range(next, made || free_above, level + 1, va, pa, entry_end, attr_bits, alloc)?;
        }
        pa += entry_end - va;
        va = entry_end;
    }
    Ok(())
}

impl PageTable {
    /// A new, empty address space with a root table from `alloc`.
    pub fn new(alloc: &mut impl TableAllocator) -> Result<Self, MapError> {
        let (root, root_pa) = alloc.allocate().ok_or(MapError::OutOfTables)?;
        Ok(Self { root, root_pa })
    }

    /// The physical address of the root table: the value for TTBRn_EL1.
    pub fn root_address(&self) -> u64 {
        self.root_pa
    }

    /// Maps `size` bytes at virtual `va` to physical `pa` with `attrs`.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        size: u64,
        attrs: Attributes,
        alloc: &mut impl TableAllocator,
    ) -> Result<(), MapError> {
        self.map_checked(false, va, pa, size, attrs, alloc)
    }

    /// [`Self::map`], for a caller that maps into a new tree in ascending
    /// order, each range above the ones before (the kernel's regions at
    /// boot, sorted): nothing is mapped at or above `va` yet, so the
    /// entries are written without being read first (a range that breaks
    /// the order overwrites what it overlaps: the caller checks it).
    pub fn map_ascending(
        &mut self,
        va: u64,
        pa: u64,
        size: u64,
        attrs: Attributes,
        alloc: &mut impl TableAllocator,
    ) -> Result<(), MapError> {
        self.map_checked(true, va, pa, size, attrs, alloc)
    }

    /// [`Self::map`] and [`Self::map_ascending`]: the range checked, then
    /// mapped (`free_above` as for [`map_range`]).
    fn map_checked(
        &mut self,
        free_above: bool,
        va: u64,
        pa: u64,
        size: u64,
        attrs: Attributes,
        alloc: &mut impl TableAllocator,
    ) -> Result<(), MapError> {
        if !(va | pa | size).is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned { va, pa, size });
        }
        let end = va.checked_add(size).ok_or(MapError::Misaligned { va, pa, size })?;
        // The attribute bits are the same for every entry: encode them once.
        map_range(self.root, free_above, 1, va, pa, end, attrs.to_bits(), alloc)
    }

    /// Maps the one 4 KiB page at `va` to `pa`: the short path for demand
    /// paging (a walk down the levels, creating tables where missing).
    /// Inlined, so that attributes known when the image is built become
    /// their descriptor bits then too.
    #[inline]
    pub fn map_page(
        &mut self,
        va: u64,
        pa: u64,
        attrs: Attributes,
        alloc: &mut impl TableAllocator,
    ) -> Result<(), MapError> {
        self.map_page_bits(va, pa, attrs.to_bits(), alloc)
    }

    /// [`Self::map_page`], with the attributes as descriptor bits.
    fn map_page_bits(
        &mut self,
        va: u64,
        pa: u64,
        attr_bits: u64,
        alloc: &mut impl TableAllocator,
    ) -> Result<(), MapError> {
        if !(va | pa).is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned { va, pa, size: PAGE_SIZE });
        }
        let mut table = self.root;
        for level in 1..3 {
            // SAFETY: `table` is a live table of this address space, and
            // `&mut self` makes us its only user.
            let entry = unsafe { &mut table.as_mut().entries[index(va, level)] };
            if !entry.is_valid() {
                let (_, next) = alloc.allocate().ok_or(MapError::OutOfTables)?;
                *entry = Descriptor::table(next);
            } else if !entry.is_table() {
                return Err(MapError::AlreadyMapped { va });
            }
            table = alloc.table_at(entry.address());
        }
        // SAFETY: as above, a level 3 table.
        let entry = unsafe { &mut table.as_mut().entries[index(va, 3)] };
        if entry.is_valid() {
            return Err(MapError::AlreadyMapped { va });
        }
        *entry = Descriptor::page_bits(pa, attr_bits);
        Ok(())
    }

    /// Unmaps the 4 KiB pages of `[va, va + size)` and returns how many were
    /// mapped. Blocks are not split: a range that hits one is refused. Tables
    /// emptied this way stay in place for the next mapping (the caller must
    /// invalidate the TLB entries of the pages).
    pub fn unmap(&mut self, va: u64, size: u64, alloc: &impl TableAllocator) -> Result<usize, MapError> {
        if !(va | size).is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned { va, pa: 0, size });
        }
        let mut unmapped = 0;
        let end = va.wrapping_add(size);
        let mut page = va;
        while page != end {
            if let Some(entry) = self.leaf_entry(page, alloc)? {
                *entry = Descriptor::INVALID;
                unmapped += 1;
            }
            page = page.wrapping_add(PAGE_SIZE);
        }
        Ok(unmapped)
    }

    /// The level 3 entry for `va` if its tables exist and it is mapped.
    fn leaf_entry(&mut self, va: u64, alloc: &impl TableAllocator) -> Result<Option<&mut Descriptor>, MapError> {
        let mut table = self.root;
        for level in 1..3 {
            // SAFETY: `table` is a live table of this address space.
            let entry = unsafe { table.as_ref().entries[index(va, level)] };
            if !entry.is_valid() {
                return Ok(None);
            }
            if !entry.is_table() {
                return Err(MapError::BlockInRange { va });
            }
            table = alloc.table_at(entry.address());
        }
        // SAFETY: `table` is a live level 3 table of this address space, and
        // `&mut self` makes us its only user.
        let entry = unsafe { &mut table.as_mut().entries[index(va, 3)] };
        Ok(entry.is_valid().then_some(entry))
    }

    /// Walks the tables: the physical address and attributes `va` maps to,
    /// and the size of the block or page that maps it.
    pub fn translate(&self, va: u64, alloc: &impl TableAllocator) -> Option<(u64, Attributes, u64)> {
        let mut table = self.root;
        for (level, &size) in LEVEL_SIZE.iter().enumerate().skip(1) {
            // SAFETY: `table` is a live table of this address space.
            let entry = unsafe { table.as_ref().entries[index(va, level)] };
            if !entry.is_valid() {
                return None;
            }
            if level < 3 && entry.is_table() {
                table = alloc.table_at(entry.address());
                continue;
            }
            return Some((entry.address() + (va & (size - 1)), entry.attributes(), size));
        }
        None
    }
}

#[cfg(test)]
mod tests;
