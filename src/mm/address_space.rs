//! An isolated task's address space: its own lower half (TTBR0), tagged with
//! its own ASID, and the frames mapped there.
//!
//! Its pages and translation tables are frames from [`super::frames`]
//! (zeroed, counted, reached by the kernel through the linear map).
//!
//! Some ranges are *demand-zero* (the heap, see
//! [`user_layout::is_demand_zero`]): nothing is mapped there at spawn, and
//! the first touch of a page, a translation fault, maps a zeroed frame
//! ([`AddressSpace::fault_in`]). Each address space counts the frames it
//! holds, pages and tables, and refuses to grow past its limit.

use super::asid::{Asid, AsidAllocator};
use super::frames::{allocate_frame, free_frame};
use super::shared_region::SharedRegion;
use super::user_layout;
use super::PAGE_SIZE;
use crate::arch::mmu::descriptor::Attributes;
use crate::arch::mmu::table::{MapError, PageTable, Table, TableAllocator};
use crate::arch::mmu::{phys_to_virt, virt_to_phys};
use crate::critical::SpinLock;
use alloc::vec::Vec;
use core::ptr::NonNull;

/// What the layers above do to address spaces without naming the code:
/// installed by the first [`AddressSpace::new`], so that freeing address
/// spaces (frames, tables, the ASID) and switching between them (the ASID
/// allocator) are linked only into applications that make one (issue 14:
/// a hello image has none of it). Until then no address space exists.
struct SpaceOps {
    drop: fn(&mut Option<AddressSpace>),
    switch: fn(Option<&mut AddressSpace>, Option<&mut AddressSpace>),
}

static OPS: spin::Once<SpaceOps> = spin::Once::new();

/// Drops the address space a task's control block holds (`sched::tcb`
/// keeps it out of the block's own drop), through [`SpaceOps`]. Without
/// one ever made, `space` is `None` and nothing is done.
pub fn drop_task_space(space: &mut Option<AddressSpace>) {
    if let Some(ops) = OPS.get() {
        (ops.drop)(space)
    }
}

/// At a switch between two tasks, one of them isolated: saves `prev`'s
/// user state, then installs `next`'s lower half (or the empty one), through
/// [`SpaceOps`].
#[inline(always)]
pub fn switch_spaces(prev: Option<&mut AddressSpace>, next: Option<&mut AddressSpace>) {
    match OPS.get() {
        Some(ops) => (ops.switch)(prev, next),
        None => crate::arch::mmu::clear_lower_half(),
    }
}

fn switch_between(prev: Option<&mut AddressSpace>, next: Option<&mut AddressSpace>) {
    if let Some(space) = prev {
        space.save_user_state();
    }
    match next {
        Some(space) => space.activate(),
        None => crate::arch::mmu::clear_lower_half(),
    }
}

/// ASIDs of address spaces (each is a pair of hardware ASIDs, see
/// `arch::mmu`); 0 is the kernel tasks' empty lower half. One allocator for
/// every core (Linux's per-core active/reserved scheme, see [`super::asid`]),
/// taken once per switch into an isolated task, briefly.
static ASIDS: SpinLock<AsidAllocator> =
    SpinLock::new("ASID allocator", AsidAllocator::new(crate::arch::mmu::ADDRESS_SPACE_ASID_BITS));

/// The current ASID generation: it grows each time the ASIDs run out and
/// every address space must take a fresh one (see [`super::asid`]).
pub fn asid_generation() -> u64 {
    ASIDS.lock().generation()
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

/// [`FrameTables`] that also record the tables of one address space, so
/// that dropping it frees them from the record instead of walking the
/// tables for them (most of a user address space's 1,536 upper-level
/// entries are empty: the walk cost more than the rest of the drop).
struct RecordedTables<'a>(&'a mut Vec<NonNull<Table>>);

impl TableAllocator for RecordedTables<'_> {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        // Room to record it first: no table goes unrecorded (and so unfreed).
        self.0.try_reserve(1).ok()?;
        let table = FrameTables.allocate()?;
        self.0.push(table.0);
        Some(table)
    }

    fn table_at(&self, pa: u64) -> NonNull<Table> {
        FrameTables.table_at(pa)
    }
}

/// The most tables mapping one more page can add (levels 2 and 3; the root is there).
const MAX_NEW_TABLES_PER_PAGE: usize = 2;

/// Tables and frames an address space has room to record from the start:
/// a small task's (the root, two tables at each of levels 2 and 3; its
/// stack and argument pages, and at the drop its tables too) without
/// growing either record.
const INITIAL_TABLES: usize = 8;
const INITIAL_FRAMES: usize = 16;

/// Why [`AddressSpace::fault_in`] did not map a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultInError {
    /// The address is not in demand-zero memory: a real fault.
    NotDemandZero,
    /// The task holds `held` bytes; one more page could pass its `limit`.
    LimitReached { held: u64, limit: u64 },
    /// The kernel has no frame left.
    OutOfFrames { held: u64, limit: u64 },
}

/// The memory an address space holds, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpaceUsage {
    /// Mapped pages.
    pub resident: u64,
    /// Translation tables.
    pub tables: u64,
    /// The most pages and tables together may reach.
    pub limit: u64,
    /// The heap's virtual reserve.
    pub heap_reserve: u64,
}

/// A shared region granted to an address space at spawn.
struct SharedGrant {
    /// Where it goes in the task's shared segment.
    va: u64,
    region: SharedRegion,
    attrs: Attributes,
    /// Mapped yet (by the task's `map_shared` call)?
    mapped: bool,
}

/// One isolated task's lower half.
pub struct AddressSpace {
    tables: PageTable,
    /// Mapped frames: (user address, kernel address of the frame).
    frames: Vec<(u64, NonNull<u8>)>,
    /// Every translation table of `tables` (the root included), as made.
    table_frames: Vec<NonNull<Table>>,
    /// The most frames (pages and tables) this address space may hold.
    frame_limit: usize,
    /// The size of the heap reserve (demand-zero, from `HEAP_BASE`).
    heap_reserve: u64,
    /// Shared regions mapped here (user address), kept alive while mapped.
    shared: Vec<SharedGrant>,
    asid: Option<Asid>,
    /// The task's `TPIDR_EL0` while it is switched out (EL0 may write it, so
    /// it must not carry one task's value into another).
    user_thread_register: u64,
    /// Pages mapped on demand (first touches of the heap), for `task::stats`.
    demand_faults: u64,
    /// The task's stack ([`Self::map_stack`]): its pages, bottom first, are
    /// `frames[stack_first..stack_first + stack_pages]` (`frames` only grows).
    stack_first: usize,
    stack_pages: usize,
}

// SAFETY: the address space owns its tables and frames; the kernel touches
// them only through `&mut self` or with interrupts masked (activation).
unsafe impl Send for AddressSpace {}

impl AddressSpace {
    /// An empty address space (one root table), with the default heap
    /// reserve and memory limit (see [`Self::set_limits`]).
    pub fn new() -> Result<Self, MapError> {
        // What its tasks will see of the upper half (built at the first).
        crate::arch::mmu::ensure_user_view()?;
        crate::critical::call_once_unpreempted(&OPS, || SpaceOps {
            drop: |space| *space = None,
            switch: switch_between,
        });
        // Room from the start for what a small task holds (a few stack
        // pages; a table per level, two at levels 2 and 3), so that the
        // records are not grown and copied one push at a time.
        let (mut table_frames, mut frames) = (Vec::new(), Vec::new());
        table_frames.try_reserve_exact(INITIAL_TABLES).map_err(|_| MapError::NoRoomToRecord)?;
        frames.try_reserve_exact(INITIAL_FRAMES).map_err(|_| MapError::NoRoomToRecord)?;
        let tables = PageTable::new(&mut RecordedTables(&mut table_frames))?;
        Ok(Self {
            tables,
            frames,
            table_frames,
            frame_limit: (user_layout::DEFAULT_MEMORY_LIMIT / PAGE_SIZE) as usize,
            heap_reserve: user_layout::HEAP_RESERVE,
            shared: Vec::new(),
            asid: None,
            user_thread_register: 0,
            demand_faults: 0,
            stack_first: 0,
            stack_pages: 0,
        })
    }

    /// Sets the heap reserve and the memory limit (pages and tables), in bytes.
    pub fn set_limits(&mut self, heap_reserve: u64, memory_limit: u64) {
        self.heap_reserve = heap_reserve;
        self.frame_limit = (memory_limit / PAGE_SIZE) as usize;
    }

    /// The memory this address space holds now.
    pub fn usage(&self) -> SpaceUsage {
        SpaceUsage {
            resident: self.frames.len() as u64 * PAGE_SIZE,
            tables: self.table_frames.len() as u64 * PAGE_SIZE,
            limit: self.frame_limit as u64 * PAGE_SIZE,
            heap_reserve: self.heap_reserve,
        }
    }

    /// How many pages were mapped on demand (page faults served).
    pub fn demand_faults(&self) -> u64 {
        self.demand_faults
    }

    /// Maps the task's stack: `stack_size` bytes (whole pages) of zeroed
    /// frames below `STACK_TOP`, remembered for [`Self::stack_depth_in_page`].
    pub fn map_stack(&mut self, stack_size: u64) -> Result<(), MapError> {
        let (first, pages) = (self.frames.len(), stack_size / PAGE_SIZE);
        self.map_zeroed(user_layout::STACK_TOP - stack_size, pages, Attributes::USER_DATA)?;
        (self.stack_first, self.stack_pages) = (first, pages as usize);
        Ok(())
    }

    /// The number of pages of the task's stack.
    pub fn stack_pages(&self) -> usize {
        self.stack_pages
    }

    /// How deep the task's stack has been, in bytes from its top, if its
    /// page `k` (counted from the bottom) holds the deepest word written
    /// (see [`super::first_used_word`]); `None`: the page is all zeros (or
    /// there is no such page).
    pub fn stack_depth_in_page(&self, k: usize) -> Option<u64> {
        let (va, frame) = *self.frames[self.stack_first..][..self.stack_pages].get(k)?;
        // SAFETY: a frame of ours: a page, mapped in the kernel's view.
        let offset = unsafe { super::first_used_word(frame.as_ptr()) }?;
        Some(user_layout::STACK_TOP - (va + offset as u64))
    }

    fn held_bytes(&self) -> u64 {
        (self.frames.len() + self.table_frames.len()) as u64 * PAGE_SIZE
    }

    /// After a translation fault at `va`: if `va` is demand-zero memory,
    /// maps a zeroed frame there (user data, never executable) and makes
    /// the mapping visible, so the access can be retried. A page is mapped
    /// only if it and the tables it may need fit within the limit.
    pub fn fault_in(&mut self, va: u64) -> Result<(), FaultInError> {
        // A shared region granted at spawn and not mapped yet: map it whole.
        let granted = self.shared.iter().find(|g| !g.mapped && (g.va..g.va + g.region.mapped_size()).contains(&va));
        if let Some(start) = granted.map(|g| g.va) {
            let (held, limit) = (self.held_bytes(), self.frame_limit as u64 * PAGE_SIZE);
            return match self.map_granted(start) {
                Some(Ok(())) => Ok(()),
                _ => Err(FaultInError::OutOfFrames { held, limit }),
            };
        }
        if !user_layout::is_demand_zero(va, self.heap_reserve) {
            return Err(FaultInError::NotDemandZero);
        }
        let (held, limit) = (self.held_bytes(), self.frame_limit as u64 * PAGE_SIZE);
        if self.frames.len() + self.table_frames.len() + 1 + MAX_NEW_TABLES_PER_PAGE > self.frame_limit {
            return Err(FaultInError::LimitReached { held, limit });
        }
        match self.map_zeroed(va & !(PAGE_SIZE - 1), 1, Attributes::USER_DATA) {
            Ok(()) => {
                crate::arch::mmu::publish_new_mappings();
                self.demand_faults += 1;
                Ok(())
            }
            // Already mapped: not a translation fault of ours after all.
            Err(MapError::AlreadyMapped { .. }) => Err(FaultInError::NotDemandZero),
            Err(_) => Err(FaultInError::OutOfFrames { held, limit }),
        }
    }

    /// Maps `pages` fresh zeroed frames at `va` with `attrs`. (Inlined: with
    /// the attributes its callers name, the descriptor bits are constants.)
    #[inline]
    pub fn map_zeroed(&mut self, va: u64, pages: u64, attrs: Attributes) -> Result<(), MapError> {
        // Room to record them first: a growing `Vec` must not end the kernel
        // (this runs in the fault handler) when the heap is exhausted.
        self.frames.try_reserve(pages as usize).map_err(|_| MapError::NoRoomToRecord)?;
        for k in 0..pages {
            let page = va + k * PAGE_SIZE;
            let frame = allocate_frame().ok_or(MapError::OutOfFrames)?;
            let pa = virt_to_phys(frame.as_ptr() as u64);
            if let Err(e) = self.tables.map_page(page, pa, attrs, &mut RecordedTables(&mut self.table_frames)) {
                // SAFETY: just allocated, never mapped.
                unsafe { free_frame(frame) };
                return Err(e);
            }
            self.frames.push((page, frame));
        }
        Ok(())
    }

    /// Grants `region` to this address space, to be mapped at `va` with
    /// `attrs` when the task asks ([`Self::map_granted`]); the region lives
    /// at least as long as the grant. `Err` if the heap has no room to record it.
    pub fn grant_shared(&mut self, va: u64, region: &SharedRegion, attrs: Attributes) -> Result<(), MapError> {
        self.shared.try_reserve(1).map_err(|_| MapError::NoRoomToRecord)?;
        self.shared.push(SharedGrant { va, region: region.clone(), attrs, mapped: false });
        Ok(())
    }

    /// Maps the region granted at `va` (the `map_shared` system call, or the
    /// first touch: see [`Self::fault_in`]); mapping it again is harmless.
    /// `None`: nothing was granted there.
    /// The tables the mapping may add count against the task's limit, as
    /// a demand-zero page's do (the region's frames are the region's):
    /// `OutOfFrames` if they may not fit.
    pub fn map_granted(&mut self, va: u64) -> Option<Result<(), MapError>> {
        let held = self.frames.len() + self.table_frames.len();
        let grant = self.shared.iter_mut().find(|g| g.va == va)?;
        if grant.mapped {
            return Some(Ok(()));
        }
        // Level-3 tables: one per 512 pages, and up to two more where the
        // range straddles boundaries; and a level-2 table. (Not
        // `div_ceil`: with it here, LTO compiled the device-tree walk's
        // `div_ceil` into slower code, 442 instructions more at boot.)
        let pages = (grant.region.mapped_size() / PAGE_SIZE) as usize;
        if held + pages / 512 + 2 + 1 > self.frame_limit {
            return Some(Err(MapError::OutOfFrames));
        }
        let tables = &mut self.tables;
        for (k, pa) in grant.region.frame_addresses().enumerate() {
            let page = va + k as u64 * PAGE_SIZE;
            match tables.map_page(page, pa, grant.attrs, &mut RecordedTables(&mut self.table_frames)) {
                // Mapped by an earlier attempt that ran out of frames halfway.
                Ok(()) | Err(MapError::AlreadyMapped { .. }) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        grant.mapped = true;
        crate::arch::mmu::publish_new_mappings();
        Some(Ok(()))
    }

    /// Copies `bytes` to user address `va`, which must be mapped by
    /// [`Self::map_zeroed`] (`NotMapped` names the first page that is not).
    /// Writes through the kernel's view of the frames: no user access involved.
    pub fn write(&mut self, va: u64, bytes: &[u8]) -> Result<(), MapError> {
        let mut done = 0;
        while done < bytes.len() {
            let addr = va + done as u64;
            let page = addr & !(PAGE_SIZE - 1);
            let offset = (addr - page) as usize;
            let n = (bytes.len() - done).min(PAGE_SIZE as usize - offset);
            let (_, frame) = self.frames.iter().find(|(p, _)| *p == page).ok_or(MapError::NotMapped { va: page })?;
            // SAFETY: the frame is ours, one page long (`offset + n` stays in
            // it), and not in use by a running task yet.
            unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), frame.as_ptr().add(offset), n) };
            done += n;
        }
        Ok(())
    }

    /// Keeps the user state that is not in any frame (the EL0 thread
    /// register) while the task is switched out.
    pub fn save_user_state(&mut self) {
        self.user_thread_register = crate::arch::cpu::user_thread_register();
    }

    /// Makes this address space the lower half of this core, with its ASID
    /// (a new one if its generation is over), and gives back the task's EL0
    /// thread register. After a rollover (on any core) this core first
    /// flushes its own TLB, once (see [`super::asid`]). Called by the
    /// scheduler with interrupts masked, so the core cannot change meanwhile.
    pub fn activate(&mut self) {
        crate::arch::cpu::set_user_thread_register(self.user_thread_register);
        let activation = ASIDS.lock().activate(crate::percpu::cpu_index(), self.asid);
        if activation.flush_tlb {
            crate::arch::mmu::flush_local_tlb();
        }
        self.asid = Some(activation.asid);
        crate::arch::mmu::set_lower_half(self.tables.root_address(), activation.asid.value);
    }

    /// The mapped pages, in mapping order: (user address, physical address).
    pub fn pages(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pages_from(0)
    }

    /// [`Self::pages`] from the `from`th on, got to without stepping through
    /// the ones before it (a region at a time): `mapped_pages_of` reads a
    /// few pages per critical section, each time from where it left off.
    pub fn pages_from(&self, from: usize) -> impl Iterator<Item = (u64, u64)> + '_ {
        let own = self.frames.get(from..).unwrap_or_default();
        let own = own.iter().map(|(va, frame)| (*va, virt_to_phys(frame.as_ptr() as u64)));
        let mut skip = from.saturating_sub(self.frames.len());
        let shared = self.shared.iter().filter(|g| g.mapped).flat_map(move |g| {
            let first = skip.min(g.region.frame_count());
            skip -= first;
            g.region.frame_addresses_from(first).map(move |(k, pa)| (g.va + k as u64 * PAGE_SIZE, pa))
        });
        own.chain(shared)
    }

    /// The attributes `va` is mapped with, if it is.
    pub fn attributes_of(&self, va: u64) -> Option<Attributes> {
        self.tables.translate(va, &FrameTables).map(|(_, attrs, _)| attrs)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // Stale TLB entries should not outlive the frames they point to, on
        // any core the task ran on: broadcast. (Tags of an older generation
        // need nothing: every core flushes before it uses that generation's
        // values again, and values are not reused within a generation.)
        if let Some(asid) = self.asid {
            let current = asid.generation == ASIDS.lock().generation();
            if current {
                crate::arch::mmu::invalidate_asid_everywhere(asid.value);
            }
        }
        // Pages and tables together, in address order: each frame's buddy
        // (if it is ours) is freed just before it, so the heap merges them at
        // once. In any other order its free lists grow long and each free
        // searches them: freeing a big address space took quadratic time.
        let _ = self.frames.try_reserve(self.table_frames.len());
        for table in self.table_frames.drain(..) {
            if self.frames.len() < self.frames.capacity() {
                self.frames.push((0, table.cast())); // never allocates: there is room
            } else {
                // SAFETY: each table came from `FrameTables` (counted frames) and is recorded once.
                unsafe { free_frame(table.cast()) }
            }
        }
        // Sorted on a small stack: this may run on an 8 KiB kernel stack,
        // where a recursive sort of thousands of frames overflowed it.
        super::heapsort::sort_by_key_small_stack(&mut self.frames, |(_, frame)| frame.as_ptr() as usize);
        for (_, frame) in self.frames.drain(..) {
            // SAFETY: the task has ended and its TLB entries are gone.
            unsafe { free_frame(frame) };
        }
        // Unmapped now: the shared regions may go (if this was their last holder).
        self.shared.clear();
    }
}
