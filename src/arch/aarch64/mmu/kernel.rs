//! The kernel's own address space: the upper half (TTBR1_EL1).
//!
//! All of RAM and the board's devices are mapped at `KERNEL_OFFSET + physical
//! address`, each region with the permissions its contents need (see
//! [`crate::mm::layout`]). The lower half (TTBR0_EL1) is left empty, so a null
//! pointer faults; isolated tasks put their own tables there.
//!
//! # Two views of the upper half
//!
//! Code running at EL0 (an isolated task) runs the image's code in place, so
//! it must read the image's constants (`.rodata`: string literals, `fmt`
//! vtables) at their upper-half addresses. The kernel must read them too, and
//! on a CPU with PAN it cannot read a page EL0 may read. So the upper half
//! has two roots, one page apart, swapped by the exception vectors on every
//! entry from and return to EL0 (as Linux's KPTI does):
//!
//! - the *kernel view*: everything, `.rodata` EL1-only;
//! - the *user view*: only the image's code (execute-only for EL0) and
//!   `.rodata` (EL0-readable). The OS's data is not even mapped while a task
//!   runs at EL0. Built when the first isolated task's address space is
//!   ([`ensure_user_view`]); boot only reserves its root.
//!
//! `TCR_EL1.A1 = 1` takes the ASID from TTBR1, and every address space has a
//! pair of ASIDs, `2n` for the kernel view and `2n + 1` for the user view, so
//! the views' non-global `.rodata` entries never mix in the TLB and the swap
//! needs no flush: setting [`USER_VIEW_TABLE_BIT`] and [`USER_VIEW_ASID_BIT`]
//! turns one TTBR1 value into the other (the exception vectors and
//! `user_mode.rs` take both bits from here).
//!
//! # Many cores
//!
//! Every core runs on the same upper-half tables (one kernel view, one user
//! view, one empty lower half, built once: by [`init`], the user view by
//! [`ensure_user_view`]; installed on each other core by
//! [`init_secondary_core`]); only the translation registers
//! are per core (TTBR0/TTBR1, set by [`set_lower_half`] on the switching
//! core). Changes to the shared tables happen under the `kernel tables` lock
//! and follow two rules, so that every core sees them:
//!
//! - a new entry where there was none (`extend_linear_map`,
//!   `map_kernel_data`) needs no TLB maintenance, as invalid entries are
//!   never cached; a `dsb ish` makes it visible to every core's table
//!   walker before the caller hands the memory to another core;
//! - a removed entry (`unmap_kernel_pages`) or a dropped address space
//!   (`invalidate_asid_everywhere`) is invalidated with the broadcast forms
//!   (`tlbi vaae1is`, `tlbi aside1is`), completed by a `dsb ish`: when it
//!   returns, no core holds the entry.
//!
//! The one local flush is [`flush_local_tlb`]: after an ASID rollover each
//! core flushes its own TLB at its next switch (see `mm::asid`). No code is
//! written at run time (isolated tasks run the image's code in place), so
//! no instruction-cache maintenance (`ic ialluis`) is needed.

use super::descriptor::{Attributes, MAIR_VALUE};
use super::table::{MapError, PageTable, Table, TableAllocator, PAGE_SIZE};
use crate::critical::SpinLock;
use crate::mm::layout::{Region, RegionKind};
use aarch64_cpu::registers::*;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// Where physical memory appears in the kernel's address space.
pub const KERNEL_OFFSET: u64 = 0xffff_ff80_0000_0000;

/// The kernel address of physical address `pa`.
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa + KERNEL_OFFSET
}

/// The physical address of kernel address `va` (in the linear map).
pub const fn virt_to_phys(va: u64) -> u64 {
    va - KERNEL_OFFSET
}

/// Translation tables for the kernel, from the `.page_tables` section the
/// linker script reserves (nothing else exists before the heap).
struct BootTablePool {
    next: u64,
    end: u64,
}

impl BootTablePool {
    /// The kernel address of the next page of the pool, not yet written.
    fn reserve(&mut self) -> Option<u64> {
        if self.next >= self.end {
            return None;
        }
        let va = self.next;
        self.next += PAGE_SIZE;
        Some(va)
    }
}

/// The pool's page at kernel address `va` as an empty table, and its
/// physical address.
///
/// # Safety
/// `va` came from [`BootTablePool::reserve`], and this is the one table made
/// of it.
unsafe fn empty_table(va: u64) -> Option<(NonNull<Table>, u64)> {
    let table = NonNull::new(va as *mut Table)?;
    // SAFETY: the page is part of `.page_tables` (page aligned, Normal
    // memory, kernel data), reserved for this table alone (our caller's
    // promise). An empty table is all invalid (zero) descriptors; the
    // pool's tables are made at boot (and for the user view, once), so
    // with the vector registers.
    unsafe { crate::arch::cpu::zero_page_by_vectors(table.as_ptr().cast()) };
    Some((table, virt_to_phys(va)))
}

impl TableAllocator for BootTablePool {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        let va = self.reserve()?;
        // SAFETY: just reserved, and made into this table only.
        unsafe { empty_table(va) }
    }

    fn table_at(&self, pa: u64) -> NonNull<Table> {
        NonNull::new(phys_to_virt(pa) as *mut Table).unwrap()
    }
}

static POOL: SpinLock<BootTablePool> = SpinLock::new("boot table pool", BootTablePool { next: 0, end: 0 });
static KERNEL_TABLES: SpinLock<Option<PageTable>> = SpinLock::new("kernel tables", None);
static USER_VIEW_TABLES: SpinLock<Option<PageTable>> = SpinLock::new("user view tables", None);
/// What [`init`] leaves for [`build_user_view`]: the user view's root page,
/// reserved beside the kernel view's but not yet written, and the regions
/// the view maps (the image's code and constants).
static USER_VIEW_PLAN: SpinLock<UserViewPlan> = SpinLock::new("user view plan", UserViewPlan::NONE);
/// Whether the user view was built, and how that went: at the first
/// isolated task's address space, not at boot ([`ensure_user_view`]).
static USER_VIEW_BUILT: spin::Once<Result<(), MapError>> = spin::Once::new();
// Shared by every core, safely: the tables are written only under their
// locks (the views are never changed once built); the roots are written
// once by `init` (Release), before any other core starts, and only read after.
/// The root of the empty lower half that kernel tasks run with (on every
/// core: it holds no entry, so no core caches anything from it).
static EMPTY_LOWER_HALF: AtomicU64 = AtomicU64::new(0);
/// The root of the kernel view of the upper half (the user view's is one page up).
static KERNEL_VIEW_ROOT: AtomicU64 = AtomicU64::new(0);

/// Set in the kernel view's TTBR1 value, this bit gives the user view's root,
/// one page up (the two roots are allocated adjacent and 8 KiB-aligned).
pub const USER_VIEW_TABLE_BIT: u64 = 1 << 12;
/// Set in the kernel view's TTBR1 value, this bit (the lowest of the ASID)
/// gives the user view's ASID, the odd one of the pair.
pub const USER_VIEW_ASID_BIT: u64 = 1 << 48;

/// How many address spaces can hold ASIDs at once: hardware ASIDs come in
/// pairs (kernel view, user view), 8-bit ASIDs (`TCR_EL1.AS = 0`, set by
/// `boot.s` on every core). The CPUs of every board (QEMU `virt`, `raspi3b`,
/// `raspi4b`; the Pis' Cortex-A53/A72) also offer 16-bit ASIDs; ilusion
/// stays with 8 on all of them, so one small bitmap serves (`mm::asid`) and
/// rollovers, exercised by the tests, behave the same everywhere.
pub const ADDRESS_SPACE_ASID_BITS: u32 = 7;

/// The kernel view's TTBR1 value for address-space ASID `asid` (0: kernel tasks).
fn kernel_view_ttbr1(asid: u16) -> u64 {
    KERNEL_VIEW_ROOT.load(Ordering::Acquire) | (u64::from(asid) << 49)
}

/// Installs the lower half of an isolated task: translation root `root_pa`;
/// `asid` (below 2^[`ADDRESS_SPACE_ASID_BITS`]) picks the pair of hardware
/// ASIDs its TLB entries are tagged with (no TLB flush needed). This core's
/// registers only: each core has its own TTBR0/TTBR1.
///
/// The tables (TTBR0) and the ASID (in TTBR1) are two registers, and the
/// table walker may walk at any time, speculatively: between two writes it
/// could cache one address space's entries under the other's ASID, where
/// they would later translate for the wrong task. So the change goes in
/// three steps, each completed by an ISB, as Linux does it: no tables (the
/// empty lower half, which caches nothing: invalid entries are never
/// cached), then the new ASID, then the new tables.
pub fn set_lower_half(root_pa: u64, asid: u16) {
    clear_lower_half_to(asid);
    TTBR0_EL1.set(root_pa);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Installs the empty lower half (for kernel tasks: null pointers fault).
pub fn clear_lower_half() {
    clear_lower_half_to(0);
}

/// The empty lower half, then ASID `asid` (in that order: see
/// [`set_lower_half`]).
#[inline(always)]
fn clear_lower_half_to(asid: u16) {
    use aarch64_cpu::asm::barrier;
    TTBR0_EL1.set(EMPTY_LOWER_HALF.load(Ordering::Acquire));
    barrier::isb(barrier::SY);
    TTBR1_EL1.set(kernel_view_ttbr1(asid));
    barrier::isb(barrier::SY);
}

/// Makes table entries just written (new mappings where there were none)
/// visible to every core's table walker (`dsb ish`). Invalid entries are
/// never cached in the TLB, so no invalidation is needed.
pub fn publish_new_mappings() {
    use aarch64_cpu::asm::barrier;
    barrier::dsb(barrier::ISHST);
    barrier::isb(barrier::SY);
}

/// Drops every TLB entry tagged with `asid`'s pair (an address space that
/// ended), on every core: the task may have run on any of them.
pub fn invalidate_asid_everywhere(asid: u16) {
    use aarch64_cpu::asm::barrier;
    barrier::dsb(barrier::ISHST);
    for hardware_asid in [2 * u64::from(asid), 2 * u64::from(asid) + 1] {
        // SAFETY: TLB maintenance has no memory-safety effect; the operand is the ASID in bits 63:48.
        unsafe { core::arch::asm!("tlbi aside1is, {0}", in(reg) hardware_asid << 48, options(nostack)) };
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// The permissions of a region in the kernel view. The image's code is
/// execute-only for EL0, so isolated tasks run it in place.
fn kernel_view_attributes(region: &Region) -> Attributes {
    match region.kind {
        RegionKind::Code => Attributes::SHARED_CODE,
        RegionKind::Constants => Attributes::KERNEL_VIEW_RODATA,
        RegionKind::ReadOnly => Attributes::KERNEL_RODATA,
        RegionKind::Data => Attributes::KERNEL_DATA,
        RegionKind::Device => Attributes::DEVICE,
    }
}

/// The permissions of a region in the user view: only the image's code and
/// constants are there.
fn user_view_attributes(region: &Region) -> Option<Attributes> {
    match region.kind {
        RegionKind::Code => Some(Attributes::SHARED_CODE),
        RegionKind::Constants => Some(Attributes::SHARED_RODATA),
        _ => None,
    }
}

/// Builds the kernel's tables for `regions` (in address order, none
/// overlapping: `MemoryMap` keeps them so) and switches to them: TTBR1 gets
/// the kernel map, TTBR0 an empty table, and WXN is turned on.
pub fn init<'a>(regions: impl Iterator<Item = &'a Region>) -> Result<(), MapError> {
    extern "C" {
        static __page_tables_start: u8;
        static __page_tables_end: u8;
    }
    let mut pool = POOL.lock();
    pool.next = core::ptr::addr_of!(__page_tables_start) as u64;
    pool.end = core::ptr::addr_of!(__page_tables_end) as u64;

    // The two roots, one page apart, at an 8 KiB boundary: the vectors swap
    // them by setting or clearing bit 12 ([`USER_VIEW_TABLE_BIT`]).
    pool.next = pool.next.next_multiple_of(2 * PAGE_SIZE);
    let mut kernel = PageTable::new(&mut *pool)?;
    // The user view's root: the next page, kept for `build_user_view`.
    let mut plan = USER_VIEW_PLAN.lock();
    plan.root = pool.reserve().ok_or(MapError::OutOfTables)?;
    // `assert!`, not `assert_eq!`: this file's asserts name their values
    // themselves (`assert_eq!` links the integers' `Debug` into every image).
    let (user_root, kernel_root) = (virt_to_phys(plan.root), kernel.root_address());
    assert!(
        user_root == kernel_root | USER_VIEW_TABLE_BIT,
        "the views' roots must be adjacent: the kernel's at {kernel_root:#x}, the user view's at {user_root:#x}"
    );
    // In address order, each region above the last (checked): the entries
    // are written without being read first (`PageTable::map_ascending`).
    let mut mapped_to = 0;
    for r in regions {
        if r.virt < mapped_to {
            return Err(MapError::AlreadyMapped { va: r.virt });
        }
        mapped_to = r.virt + r.size;
        kernel.map_ascending(r.virt, r.phys, r.size, kernel_view_attributes(r), &mut *pool)?;
        if let Some(attributes) = user_view_attributes(r) {
            plan.push(r, attributes);
        }
    }
    drop(plan);
    let empty = PageTable::new(&mut *pool)?;
    EMPTY_LOWER_HALF.store(empty.root_address(), Ordering::Release);
    KERNEL_VIEW_ROOT.store(kernel.root_address(), Ordering::Release);
    *KERNEL_TABLES.lock() = Some(kernel);
    drop(pool);
    // Only this core runs yet: a local flush is enough here.
    install_kernel_tables();
    Ok(())
}

/// Switches a secondary core onto the kernel's tables built by [`init`] (the
/// boot core's), as `init` did on the boot core: call once on each other
/// core, after `boot.s` turned its MMU on with the boot table, before it
/// runs anything else. Its TLB is flushed locally (it never ran a task).
pub fn init_secondary_core() {
    install_kernel_tables();
}

/// The TTBR1 and TTBR0 values of a core running kernel code: the kernel
/// view (ASID 0) and the empty lower half. For `boot.s`, which switches a
/// starting core onto them before it touches its stacks (see `arch::smp`).
pub fn kernel_table_roots() -> (u64, u64) {
    (kernel_view_ttbr1(0), EMPTY_LOWER_HALF.load(Ordering::Acquire))
}

/// Where [`write_physical_word`] maps the page it writes (outside the linear
/// map and the task-stack window, `sched::stack::WINDOW_BASE`).
const FIRMWARE_WINDOW: u64 = 0xffff_ffe0_0000_0000;

/// Writes `value` at physical address `pa` (8-byte aligned) for a core that
/// reads it with its MMU off, the firmware's spin table: maps the page
/// writable for the moment (RAM below the image is read-only in the linear
/// map, and may not be in it at all), writes, cleans the line to main
/// memory, unmaps.
pub fn write_physical_word(pa: u64, value: u64) -> Result<(), MapError> {
    let page = pa & !(PAGE_SIZE - 1);
    map_kernel_data(FIRMWARE_WINDOW, page, PAGE_SIZE)?;
    let va = FIRMWARE_WINDOW + (pa - page);
    // SAFETY: `va` is in the page just mapped as kernel data, 8-byte aligned
    // (our caller's promise); nothing else uses the window.
    unsafe { core::ptr::write_volatile(va as *mut u64, value) };
    crate::arch::cpu::clean_to_point_of_coherency(va);
    unmap_kernel_pages(FIRMWARE_WINDOW, PAGE_SIZE)
}

/// Points this core's translation registers at the kernel's tables (kernel
/// view, empty lower half), and turns WXN on.
fn install_kernel_tables() {
    MAIR_EL1.set(MAIR_VALUE);
    // Not at EL0 (see arch::user_mode): its reset value is unknown.
    TPIDRRO_EL0.set(0);
    TTBR1_EL1.set_baddr(KERNEL_VIEW_ROOT.load(Ordering::Acquire));
    TTBR0_EL1.set_baddr(EMPTY_LOWER_HALF.load(Ordering::Acquire));
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    flush_local_tlb();
    SCTLR_EL1.modify(SCTLR_EL1::WXN::Enable);
    flush_local_tlb();
}

/// Drops every cached translation on this core only (`tlbi vmalle1`): at
/// boot, and at a core's first switch after an ASID rollover (each core
/// flushes its own, see `mm::asid`; no other core waits for it).
pub fn flush_local_tlb() {
    use aarch64_cpu::asm::barrier;
    // Table writes by this core are done before the flush (walks may read them).
    barrier::dsb(barrier::NSHST);
    // SAFETY: TLB maintenance has no memory-safety effect.
    unsafe { core::arch::asm!("tlbi vmalle1", options(nostack)) };
    barrier::dsb(barrier::NSH);
    barrier::isb(barrier::SY);
}

/// Looks up a kernel address in the user view (what isolated tasks see of
/// the upper half), building the view first if no isolated task did.
pub fn translate_user_view(va: u64) -> Option<(u64, Attributes, u64)> {
    ensure_user_view().ok()?;
    translate_in(&USER_VIEW_TABLES, va)
}

/// The regions of the user view, kept by [`init`] for [`build_user_view`].
struct UserViewPlan {
    /// The kernel address of the reserved root page.
    root: u64,
    regions: [Option<(Region, Attributes)>; 4],
}

impl UserViewPlan {
    const NONE: Self = Self { root: 0, regions: [None; 4] };

    /// Keeps `region` (the view maps the image's code and its constants:
    /// two regions, from the image's layout).
    fn push(&mut self, region: &Region, attributes: Attributes) {
        let slot = self.regions.iter_mut().find(|slot| slot.is_none());
        *slot.expect("at most four regions in the user view") = Some((*region, attributes));
    }
}

/// Builds the user view (once; later calls return the first result): call
/// before an isolated task can run, as `AddressSpace::new` does. A system
/// without isolated tasks never needs it, so boot does not build it.
pub fn ensure_user_view() -> Result<(), MapError> {
    // Not preemptible while it builds: a more urgent task spawning its own
    // first isolated task would spin on the `Once` for ever on this core.
    *crate::critical::call_once_unpreempted(&USER_VIEW_BUILT, build_user_view)
}

/// Maps the image's code and constants into the user view's root, which
/// [`init`] reserved beside the kernel view's, with tables from the boot
/// pool. No core has used the root yet (the vectors switch to it only for
/// an isolated task, and none exists before this returns), so no TLB can
/// hold anything of it: making the entries visible is enough.
fn build_user_view() -> Result<(), MapError> {
    crate::critical::assert_unpreemptible("the user view built");
    // The same order as `init`: the pool, then the tables.
    let mut pool = POOL.lock();
    let plan = USER_VIEW_PLAN.lock();
    let mut reserved = ReservedRoot { root: Some(plan.root), pool: &mut pool };
    let mut user_view = PageTable::new(&mut reserved)?;
    for (r, attributes) in plan.regions.iter().flatten() {
        user_view.map_ascending(r.virt, r.phys, r.size, *attributes, &mut reserved)?;
    }
    *USER_VIEW_TABLES.lock() = Some(user_view);
    publish_new_mappings();
    Ok(())
}

/// The boot pool, handing out a page it reserved earlier first (the user
/// view's root: it must sit beside the kernel view's).
struct ReservedRoot<'a> {
    root: Option<u64>,
    pool: &'a mut BootTablePool,
}

impl TableAllocator for ReservedRoot<'_> {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        match self.root.take() {
            // SAFETY: `init` reserved the page for this root alone.
            Some(va) => unsafe { empty_table(va) },
            None => self.pool.allocate(),
        }
    }

    fn table_at(&self, pa: u64) -> NonNull<Table> {
        self.pool.table_at(pa)
    }
}

/// Looks `va` up in `tables`, whose tables came from the boot pool.
fn translate_in(tables: &SpinLock<Option<PageTable>>, va: u64) -> Option<(u64, Attributes, u64)> {
    // The same order as everywhere here: the pool, then the tables (taken
    // the other way round, a lookup and a build on two cores could each
    // hold the lock the other waits for). Both guards are locals, released
    // in the reverse order of taking them (the outer one restores the
    // interrupt mask last).
    let pool = POOL.lock();
    let tables = tables.lock();
    tables.as_ref()?.translate(va, &*pool)
}

/// Tables for mappings made after boot, from the heap (the boot pool is small
/// and only meant for the kernel map).
struct HeapTables;

impl TableAllocator for HeapTables {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        let layout = core::alloc::Layout::new::<Table>();
        // SAFETY: `Table` has a non-zero size.
        let table = NonNull::new(unsafe { alloc::alloc::alloc(layout) } as *mut Table)?;
        // SAFETY: freshly allocated, the size and alignment of a `Table`
        // (a page), kernel data. All zero is an empty table.
        unsafe { crate::arch::cpu::zero_page(table.as_ptr().cast()) };
        Some((table, virt_to_phys(table.as_ptr() as u64)))
    }

    fn table_at(&self, pa: u64) -> NonNull<Table> {
        NonNull::new(phys_to_virt(pa) as *mut Table).unwrap()
    }
}

/// Adds `size` bytes of RAM at physical `pa` to the kernel's linear map, as
/// data, with tables from the boot pool (before the heap exists): for RAM
/// learnt after [`init`], e.g. from the Raspberry Pi firmware. Only new
/// entries are written (no live one changes), so no TLB entry goes stale.
pub fn extend_linear_map(pa: u64, size: u64) -> Result<(), MapError> {
    // The same order as `init`: the pool, then the tables.
    let mut pool = POOL.lock();
    let mut tables = KERNEL_TABLES.lock();
    let tables = tables.as_mut().ok_or(MapError::NoKernelTables)?;
    tables.map(phys_to_virt(pa), pa, size, Attributes::KERNEL_DATA, &mut *pool)?;
    // Make the new entries visible to every core's table walker before they are used.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    Ok(())
}

/// Maps `size` bytes of RAM at physical `pa` to kernel address `va` as data
/// (used for task stacks, outside the linear map). Tables come from the heap
/// and stay, to be reused by later mappings of the same range.
pub fn map_kernel_data(va: u64, pa: u64, size: u64) -> Result<(), MapError> {
    let mut tables = KERNEL_TABLES.lock();
    let tables = tables.as_mut().ok_or(MapError::NoKernelTables)?;
    tables.map(va, pa, size, Attributes::KERNEL_DATA, &mut HeapTables)?;
    // Make the new entries visible to every core's table walker before they
    // are used (a stack mapped here may first be used on another core).
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    Ok(())
}

/// Unmaps the pages of `[va, va + size)` mapped by [`map_kernel_data`] and
/// drops their TLB entries, page by page, on every core (a task's stack may
/// be cached by any core it ran on, or that touched it): when this returns,
/// no core can reach the pages through the old mapping.
pub fn unmap_kernel_pages(va: u64, size: u64) -> Result<(), MapError> {
    use aarch64_cpu::asm::barrier;
    let mut tables = KERNEL_TABLES.lock();
    let tables = tables.as_mut().ok_or(MapError::NoKernelTables)?;
    tables.unmap(va, size, &HeapTables)?;
    // The cleared entries reach every core's walker before the invalidation.
    barrier::dsb(barrier::ISHST);
    let mut page = va;
    while page < va + size {
        // SAFETY: TLB maintenance has no memory-safety effect. The operand is
        // VA[55:12], for any ASID (the mapping is global), on every core.
        unsafe { core::arch::asm!("tlbi vaae1is, {0}", in(reg) (page >> 12) & ((1 << 44) - 1), options(nostack)) };
        page += PAGE_SIZE;
    }
    // Waits until every core has dropped the entries.
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
    Ok(())
}
