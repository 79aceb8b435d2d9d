//! This core's registers and instructions, each behind a function named for
//! what it does: masking interrupts and waiting for them, the generic
//! timer's counter and deadline, the EL0 thread register, this core's
//! affinity and features, the frame pointer, and two short routines that
//! need a special instruction: asking the MMU whether an address is
//! readable (`AT`), and zeroing a page (`DC ZVA`).

use aarch64_cpu::asm;
use aarch64_cpu::registers::*;
use core::arch::asm;

/// This core's affinity fields (Aff3, Aff2, Aff1, Aff0) from MPIDR_EL1.
#[inline]
pub fn affinity() -> (u8, u8, u8, u8) {
    let m = MPIDR_EL1.get();
    ((m >> 32) as u8, (m >> 16) as u8, (m >> 8) as u8, m as u8)
}

/// This core's number: Aff0 of MPIDR_EL1 (the boards ilusion runs on
/// number their cores 0 to 7 there, in one cluster).
#[inline(always)]
pub fn core_index() -> usize {
    (MPIDR_EL1.get() & 0xff) as usize
}

/// This core's identity, MPIDR_EL1 whole: unique on the machine, and never
/// 0 (bit 31 is RES1). What a spin lock's word records of its holder.
#[inline(always)]
pub fn core_id() -> usize {
    MPIDR_EL1.get() as usize
}

/// Masks IRQs on this core and returns whether they were unmasked before.
#[inline]
pub fn disable_interrupts() -> bool {
    let was_enabled = !DAIF.is_set(DAIF::I);
    // SAFETY: `DAIFSet` sets the I mask bit in one instruction (no read-modify-write);
    // without `nomem` the asm is also a compiler barrier, as a critical section needs.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
    was_enabled
}

/// Are IRQs unmasked on this core?
#[inline]
pub fn interrupts_enabled() -> bool {
    !DAIF.is_set(DAIF::I)
}

/// Unmasks IRQs (and FIQs, which the GIC uses in some security setups).
#[inline]
pub fn enable_interrupts() {
    // SAFETY: `DAIFClr` clears the I and F mask bits in one instruction.
    unsafe { asm!("msr daifclr, #3", options(nostack)) };
}

/// Restores the IRQ mask saved by [`disable_interrupts`].
#[inline]
pub fn restore_interrupts(was_enabled: bool) {
    if was_enabled {
        enable_interrupts();
    }
}

/// This core's interrupt masks (DAIF) as they were before
/// [`mask_interrupts_saving`] masked IRQs: [`restore_masks`] puts them back.
#[derive(Clone, Copy)]
pub struct SavedMasks(u64);

impl SavedMasks {
    /// Were IRQs masked (DAIF.I) when these were saved?
    #[inline(always)]
    pub fn irqs_masked(self) -> bool {
        self.0 & (1 << 7) != 0
    }
}

/// Masks IRQs on this core and returns all its masks as they were: for a
/// short section that puts them back with one write ([`restore_masks`])
/// instead of a test and a branch around an unmask.
#[inline(always)]
pub fn mask_interrupts_saving() -> SavedMasks {
    let saved = DAIF.get();
    // SAFETY: as in `disable_interrupts`: one instruction, a compiler barrier.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
    SavedMasks(saved)
}

/// This core's interrupt masks as they are, for a section entered with
/// IRQs masked already that puts them back as it found them.
#[inline(always)]
pub fn current_masks() -> SavedMasks {
    SavedMasks(DAIF.get())
}

/// Puts back the masks [`mask_interrupts_saving`] saved (IRQs unmasked
/// again if and only if they were then).
#[inline(always)]
pub fn restore_masks(saved: SavedMasks) {
    // SAFETY: the value read from DAIF on this core, written back whole; a
    // compiler barrier (no `nomem`), so nothing in the section moves after it.
    unsafe { asm!("msr daif, {}", in(reg) saved.0, options(nostack)) };
}

/// Runs `f` with IRQs masked on this core.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let was = disable_interrupts();
    let r = f();
    restore_interrupts(was);
    r
}

/// Sleeps until an interrupt (or event) arrives.
#[inline]
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// Writes back the data-cache line holding `addr` to main memory (`DC CVAC`),
/// and waits for it: for a core that reads it with its MMU and caches off.
pub fn clean_to_point_of_coherency(addr: u64) {
    // SAFETY: cleaning a line changes no data, only where it is held.
    unsafe { asm!("dc cvac, {0}", "dsb sy", in(reg) addr, options(nostack, preserves_flags)) };
}

/// Sleeps until an event (another core's [`wake_waiters`]) or an
/// interrupt, masked or not, arrives (`WFE`); at once if an event came
/// since the last wait.
#[inline]
pub fn wait_for_event() {
    asm::wfe();
}

/// Wakes every core waiting in `wfe` (`SEV`), once this core's earlier
/// writes are complete.
pub fn wake_waiters() {
    // SAFETY: a barrier and an event: no memory or register effect.
    unsafe { asm!("dsb sy", "sev", options(nostack, preserves_flags)) };
}

/// In a busy-wait loop: tells the core (and an emulator running every
/// core on one host thread, which then moves on to the next) that this one
/// only waits (`YIELD`).
#[inline]
pub fn spin_hint() {
    // SAFETY: a hint with no effect on memory or registers.
    unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Parks this core for good.
pub fn halt() -> ! {
    disable_interrupts();
    loop {
        asm::wfe();
    }
}

/// Does a kernel read of `addr` succeed? Asks the MMU (`AT S1E1R`) instead of
/// trying, so it never faults: used to walk frame pointers in a fault report.
pub fn is_kernel_readable(addr: u64) -> bool {
    let was = disable_interrupts();
    // SAFETY: AT only queries the translation and writes PAR_EL1.
    unsafe { asm!("at s1e1r, {0}", "isb", in(reg) addr, options(nostack)) };
    let ok = !PAR_EL1.is_set(PAR_EL1::F);
    restore_interrupts(was);
    ok
}

/// The generic timer's counter (virtual count) and its frequency in Hz.
/// The virtual count is the one EL0 may read too (see
/// [`let_el0_read_virtual_counter`]), so `Instant`s taken in the kernel and
/// in isolated tasks compare.
#[inline]
pub fn counter() -> u64 {
    CNTVCT_EL0.get()
}

#[inline]
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// Lets EL0 read the virtual counter and its frequency (CNTVCT_EL0,
/// CNTFRQ_EL0), as a vDSO would, so `Instant::now` in an isolated task
/// needs no system call. Everything else of the timer stays the kernel's:
/// the physical counter and both timers trap (CNTKCTL_EL1 is written whole,
/// as its reset value is unknown).
pub fn let_el0_read_virtual_counter() {
    CNTKCTL_EL1.write(CNTKCTL_EL1::EL0VCTEN::SET);
}

/// Closes to EL0 the debug and performance-monitor registers that EL0 may
/// use when their gates allow it. Both gates reset to UNKNOWN values on a
/// real core (QEMU resets them to 0), so each is written whole, on every
/// core: MDSCR_EL1 with only TDCC set, so the debug communications channel
/// (`mdccsr_el0`, `dbgdtrtx_el0`: a line to an external debugger, and a
/// flag one task could set for another to see) traps, and nothing enables
/// debug exceptions or single-stepping; PMUSERENR_EL0 with 0, so every PMU
/// register traps (the counters, and PMCR_EL0, which would reset them),
/// where the core has a PMU (the register is undefined without one).
pub fn close_el0_debug_and_monitors() {
    MDSCR_EL1.write(MDSCR_EL1::TDCC::SET);
    let pmu = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer);
    if pmu != 0 && pmu != 0xf {
        // SAFETY: PMUSERENR_EL0 (not in aarch64-cpu) exists where PMUVer
        // says a PMUv3 is there; 0 only takes EL0's access away.
        unsafe { asm!("msr pmuserenr_el0, xzr", options(nomem, nostack)) };
    }
}

/// Programs the virtual timer to interrupt when the counter reaches `deadline`.
pub fn set_timer_deadline(deadline: u64) {
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Stops the virtual timer (its interrupt line drops).
pub fn stop_timer() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
}

/// Does this core implement the GICv3 system-register CPU interface?
/// (Asked only by boards whose GIC version is not fixed: QEMU virt.)
#[cfg_attr(not(feature = "board-qemu-virt"), allow(dead_code))]
pub fn has_gicv3_sysregs() -> bool {
    (ID_AA64PFR0_EL1.get() >> 24) & 0xf != 0
}

/// The current frame pointer (x29), where a backtrace starts.
#[inline(always)]
pub fn frame_pointer() -> u64 {
    let fp: u64;
    // SAFETY: reads a register.
    unsafe { asm!("mov {0}, x29", out(reg) fp, options(nomem, nostack)) };
    fp
}

/// Is the CPU in an exception handler (on SP_EL1) rather than in task code (on SP_EL0)?
#[inline]
pub fn in_exception_handler() -> bool {
    SPSel.matches_all(SPSel::SP::ELx)
}

/// Were IRQs masked in the interrupted context with saved PSTATE `spsr`?
pub fn spsr_irqs_masked(spsr: u64) -> bool {
    spsr & (1 << 7) != 0
}

/// Zeroes the page at `page` with `DC ZVA` (one instruction per block
/// of DCZID_EL0's size, typically 64 bytes; eight per loop), or with ordinary
/// stores where the CPU forbids it or its blocks are too large for eight
/// to fit a page (more than 512 bytes: no CPU we run on).
///
/// # Safety
/// `page` is page aligned, mapped as Normal memory, and writable by the kernel.
pub unsafe fn zero_page(page: *mut u8) {
    const PAGE: usize = super::mmu::table::PAGE_SIZE as usize;
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no side effect.
    unsafe { asm!("mrs {0}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    let block = 4usize << (dczid & 0xf);
    if dczid & (1 << 4) != 0 || 8 * block > PAGE {
        // SAFETY: promised by our caller.
        unsafe { core::ptr::write_bytes(page, 0, PAGE) };
        return;
    }
    let mut at = page as usize;
    let end = at + PAGE;
    while at < end {
        // SAFETY: `at` is block aligned (the page is, and the block size
        // divides it), and the eight blocks are inside the page our caller
        // handed us (eight blocks divide it too). `DC ZVA` takes no offset:
        // each block costs the instruction and an add, the loop's test is
        // shared by eight.
        unsafe {
            asm!(
                ".rept 8",
                "dc zva, {0}",
                "add {0}, {0}, {1}",
                ".endr",
                inout(reg) at,
                in(reg) block,
                options(nostack, preserves_flags)
            )
        };
    }
}

/// Zeroes the page at `page` 64 bytes an instruction (a `st1` of four
/// zeroed vector registers, eight a loop: about 90 instructions, where
/// [`zero_page`]'s `DC ZVA`, which takes no offset, needs an add per block
/// too, about 160). For the kernel's tables at boot, which run with FP/SIMD
/// on; anywhere else the vector registers trap first (`fp.rs`: lent or
/// loaded), so the hot paths (a page fault's zeroed frame) use [`zero_page`].
///
/// # Safety
/// `page` is page aligned, mapped as Normal memory, and writable by the kernel.
pub unsafe fn zero_page_by_vectors(page: *mut u8) {
    let end = page as usize + super::mmu::table::PAGE_SIZE as usize;
    // SAFETY: the stores cover the page our caller handed us, 512 bytes a
    // loop (which divides a page), and nothing else; v0-v3 are declared
    // clobbered.
    unsafe {
        asm!(
            "movi v0.2d, #0",
            "movi v1.2d, #0",
            "movi v2.2d, #0",
            "movi v3.2d, #0",
            "2:",
            ".rept 8",
            "st1 {{v0.2d-v3.2d}}, [{at}], #64",
            ".endr",
            "cmp {at}, {end}",
            "b.lo 2b",
            at = inout(reg) page as usize => _,
            end = in(reg) end,
            out("v0") _,
            out("v1") _,
            out("v2") _,
            out("v3") _,
            options(nostack)
        )
    };
}

/// The EL0 thread register (`TPIDR_EL0`), which EL0 may read and write: part
/// of an isolated task's user state, saved and restored with its address space.
pub fn user_thread_register() -> u64 {
    TPIDR_EL0.get()
}

/// Sets the EL0 thread register (see [`user_thread_register`]).
pub fn set_user_thread_register(value: u64) {
    TPIDR_EL0.set(value)
}
