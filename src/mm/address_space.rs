//! An isolated task's address space: its own lower half (TTBR0), tagged with
//! its own ASID, and the frames mapped there.
//!
//! Frames and translation tables come from the kernel heap (4 KiB aligned)
//! and are reached by the kernel through the linear map. Every frame is
//! zeroed before it is mapped, so a task never sees another's old data.
//! [`frames_in_use`] counts them all (tables included), so tests can check
//! that an ended task gave everything back.

use super::asid::{Asid, AsidAllocator};
use super::shared_region::SharedRegion;
use super::user_layout::PAGE_SIZE;
use crate::arch::mmu::descriptor::Attributes;
use crate::arch::mmu::table::{MapError, PageTable, Table, TableAllocator};
use crate::arch::mmu::{phys_to_virt, virt_to_phys};
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Mutex;

static FRAMES_IN_USE: AtomicUsize = AtomicUsize::new(0);
/// 8-bit ASIDs (TCR_EL1.AS = 0); ASID 0 is the kernel's empty lower half.
static ASIDS: Mutex<AsidAllocator> = Mutex::new(AsidAllocator::new(8));

/// Frames (pages and tables) held by isolated tasks' address spaces right now.
pub fn frames_in_use() -> usize {
    FRAMES_IN_USE.load(Ordering::Relaxed)
}

const FRAME: Layout = match Layout::from_size_align(PAGE_SIZE as usize, PAGE_SIZE as usize) {
    Ok(layout) => layout,
    Err(_) => panic!("bad frame layout"),
};

/// A zeroed frame: its kernel address, or `None` when memory is out.
pub(crate) fn allocate_frame() -> Option<NonNull<u8>> {
    // SAFETY: `FRAME` has a non-zero size.
    let frame = NonNull::new(unsafe { alloc::alloc::alloc_zeroed(FRAME) })?;
    FRAMES_IN_USE.fetch_add(1, Ordering::Relaxed);
    Some(frame)
}

/// # Safety
/// `frame` came from [`allocate_frame`] and nothing maps or uses it any more.
pub(crate) unsafe fn free_frame(frame: NonNull<u8>) {
    // SAFETY: promised by our caller.
    unsafe { alloc::alloc::dealloc(frame.as_ptr(), FRAME) };
    FRAMES_IN_USE.fetch_sub(1, Ordering::Relaxed);
}

/// Translation tables from counted frames.
struct FrameTables;

impl TableAllocator for FrameTables {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        let frame = allocate_frame()?;
        // Zeroed memory is a table of invalid descriptors.
        Some((frame.cast(), virt_to_phys(frame.as_ptr() as u64)))
    }

    fn table_at(&self, pa: u64) -> NonNull<Table> {
        NonNull::new(phys_to_virt(pa) as *mut Table).unwrap()
    }
}

/// One isolated task's lower half.
pub struct AddressSpace {
    /// Always `Some` until dropped.
    tables: Option<PageTable>,
    /// Mapped frames: (user address, kernel address of the frame).
    frames: Vec<(u64, NonNull<u8>)>,
    /// Shared regions mapped here (user address), kept alive while mapped.
    shared: Vec<(u64, SharedRegion)>,
    asid: Option<Asid>,
}

// SAFETY: the address space owns its tables and frames; the kernel touches
// them only through `&mut self` or with interrupts masked (activation).
unsafe impl Send for AddressSpace {}

impl AddressSpace {
    /// An empty address space (one root table).
    pub fn new() -> Result<Self, MapError> {
        Ok(Self { tables: Some(PageTable::new(&mut FrameTables)?), frames: Vec::new(), shared: Vec::new(), asid: None })
    }

    fn tables(&self) -> &PageTable {
        self.tables.as_ref().expect("address space in use after drop")
    }

    fn tables_mut(&mut self) -> &mut PageTable {
        self.tables.as_mut().expect("address space in use after drop")
    }

    /// Maps `pages` fresh zeroed frames at `va` with `attrs`.
    pub fn map_zeroed(&mut self, va: u64, pages: u64, attrs: Attributes) -> Result<(), MapError> {
        for k in 0..pages {
            let page = va + k * PAGE_SIZE;
            let frame = allocate_frame().ok_or(MapError::OutOfTables)?;
            if let Err(e) =
                self.tables_mut().map(page, virt_to_phys(frame.as_ptr() as u64), PAGE_SIZE, attrs, &mut FrameTables)
            {
                // SAFETY: just allocated, never mapped.
                unsafe { free_frame(frame) };
                return Err(e);
            }
            self.frames.push((page, frame));
        }
        Ok(())
    }

    /// Maps the frames of `region` at `va` with `attrs`; the region lives at least as long as this mapping.
    pub fn map_shared(&mut self, va: u64, region: &SharedRegion, attrs: Attributes) -> Result<(), MapError> {
        self.shared.push((va, region.clone()));
        for (k, pa) in region.frame_addresses().enumerate() {
            self.tables_mut().map(va + k as u64 * PAGE_SIZE, pa, PAGE_SIZE, attrs, &mut FrameTables)?;
        }
        Ok(())
    }

    /// Copies `bytes` to user address `va`, which must be mapped by [`Self::map_zeroed`].
    /// Writes through the kernel's view of the frames: no user access involved.
    pub fn write(&mut self, va: u64, bytes: &[u8]) -> Result<(), MapError> {
        for (i, byte) in bytes.iter().enumerate() {
            let addr = va + i as u64;
            let page = addr & !(PAGE_SIZE - 1);
            let (_, frame) =
                self.frames.iter().find(|(p, _)| *p == page).ok_or(MapError::AlreadyMapped { va: addr })?;
            // SAFETY: the frame is ours, one page long, and not in use by a running task yet.
            unsafe { frame.as_ptr().add((addr - page) as usize).write(*byte) };
        }
        Ok(())
    }

    /// Makes this address space the lower half of the CPU, with its ASID
    /// (a new one if its generation is over; then the whole TLB is flushed once).
    pub fn activate(&mut self) {
        let activation = ASIDS.lock().activate(self.asid);
        if activation.flush_tlb {
            crate::arch::mmu::invalidate_tlb();
        }
        self.asid = Some(activation.asid);
        crate::arch::mmu::set_lower_half(self.tables().root_address(), activation.asid.value);
    }

    /// The mapped pages, in mapping order: (user address, physical address).
    pub fn pages(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let own = self.frames.iter().map(|(va, frame)| (*va, virt_to_phys(frame.as_ptr() as u64)));
        let shared = self.shared.iter().flat_map(|(va, region)| {
            region.frame_addresses().enumerate().map(move |(k, pa)| (va + k as u64 * PAGE_SIZE, pa))
        });
        own.chain(shared)
    }

    /// The attributes `va` is mapped with, if it is.
    pub fn attributes_of(&self, va: u64) -> Option<Attributes> {
        self.tables().translate(va, &FrameTables).map(|(_, attrs, _)| attrs)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // Stale TLB entries must not outlive the frames they point to.
        if let Some(asid) = self.asid {
            if asid.generation == ASIDS.lock().generation() {
                crate::arch::mmu::invalidate_asid(asid.value);
            }
        }
        for (_, frame) in self.frames.drain(..) {
            // SAFETY: the task has ended and its TLB entries are gone.
            unsafe { free_frame(frame) };
        }
        if let Some(tables) = self.tables.take() {
            // SAFETY: each table came from `FrameTables` (counted frames) and is freed once.
            tables.free_tables(&FrameTables, |t| unsafe { free_frame(t.cast()) });
        }
        // Unmapped now: the shared regions may go (if this was their last holder).
        self.shared.clear();
    }
}
