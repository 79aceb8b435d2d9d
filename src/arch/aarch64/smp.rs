//! Starting the other cores: the three ways a loader can leave them, and
//! what core 0 hands each one so it can run Rust.
//!
//! At reset only core 0 runs ilusion; the others wait, and how they wait
//! depends on the loader ([`StartMethod`]):
//! - **PSCI** (QEMU `virt` at EL1 or EL2): they are powered off, and the
//!   firmware's `CPU_ON` call starts one at an address we give;
//! - **spin table** (a Raspberry Pi's firmware, raw `kernel8.img`): each
//!   waits in the firmware's loop, in `wfe`, reading its *release address*
//!   (0xd8, 0xe0, 0xe8, 0xf0 for cores 0 to 3) with its MMU off; writing an
//!   entry address there, and an event (`sev`), sends it on its way;
//! - **holding pen** (the Pis' ELF path, QEMU `virt` at EL3): the loader
//!   started every core at `_start`; `boot.s` keeps the others in its own
//!   spin table, `holding_pen`, which works the same way.
//!
//! Every way leads to `secondary_entry` in `boot.s`, which takes the core
//! to EL1 and turns its MMU on like core 0's, then reads the core's
//! [`SecondaryBoot`] record: its stacks and the kernel's translation roots.

use super::mmu::{self, table::MapError};
use super::psci::{self, Conduit};
use crate::percpu::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};

/// What a starting core needs before it can run Rust, left by core 0 in
/// `SECONDARY_BOOT[core]` and read by `boot.s` (which takes the record's
/// size from here; the field order is fixed there).
#[repr(C)]
pub struct SecondaryBoot {
    exception_stack_top: AtomicU64,
    idle_stack_top: AtomicU64,
    ttbr1: AtomicU64,
    ttbr0: AtomicU64,
}

/// One record per core, read by `boot.s` with the MMU on (so through the
/// caches, coherently with core 0's writes).
#[no_mangle]
static SECONDARY_BOOT: [SecondaryBoot; MAX_CPUS] = [const {
    SecondaryBoot {
        exception_stack_top: AtomicU64::new(0),
        idle_stack_top: AtomicU64::new(0),
        ttbr1: AtomicU64::new(0),
        ttbr0: AtomicU64::new(0),
    }
}; MAX_CPUS];

extern "C" {
    /// Where every started core begins (`boot.s`), MMU off.
    fn secondary_entry();
    /// `boot.s`'s own spin table: one entry address per core, 0 = wait.
    static holding_pen: [u64; MAX_CPUS];
}

/// How the other cores of this machine can be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMethod {
    /// PSCI `CPU_ON` through this conduit.
    Psci(Conduit),
    /// The firmware's spin table: core `n`'s release address is `base + 8n`.
    SpinTable { base: u64 },
    /// `boot.s`'s holding pen: the loader started every core at `_start`.
    HoldingPen,
    /// No way to start them, and why (for the boot log).
    Unavailable(&'static str),
}

/// Why a core could not be started.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// The firmware refused `CPU_ON`.
    Psci(smccc::psci::Error),
    /// The spin table's page could not be mapped to write it.
    Map(MapError),
    /// The boot path offers no way to start cores.
    Unavailable(&'static str),
    /// No memory for the core's stacks.
    NoStacks,
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::Psci(e) => write!(f, "PSCI CPU_ON refused: {e}"),
            Self::Map(e) => write!(f, "cannot map the spin table: {e}"),
            Self::Unavailable(why) => f.write_str(why),
            Self::NoStacks => f.write_str("no memory for its stacks"),
        }
    }
}

/// The stacks a starting core runs on: exceptions (SP_EL1) and its idle loop (SP_EL0).
#[derive(Clone, Copy, Debug)]
pub struct CoreStacks {
    pub exception_stack_top: u64,
    pub idle_stack_top: u64,
}

/// The top of core `cpu`'s exception stack, as [`start_core`] gave it (for
/// the core's idle task, which reloads it when it resumes).
pub fn exception_stack_top(cpu: usize) -> u64 {
    SECONDARY_BOOT[cpu].exception_stack_top.load(Ordering::Relaxed)
}

/// Sends core `cpu` (MPIDR affinity `mpidr`) to `secondary_entry`, to come
/// up on `stacks`. Returns once it is on its way, not once it is up.
pub fn start_core(method: StartMethod, cpu: usize, mpidr: u64, stacks: CoreStacks) -> Result<(), StartError> {
    let record = &SECONDARY_BOOT[cpu];
    let (ttbr1, ttbr0) = mmu::kernel_table_roots();
    record.exception_stack_top.store(stacks.exception_stack_top, Ordering::Relaxed);
    record.idle_stack_top.store(stacks.idle_stack_top, Ordering::Relaxed);
    record.ttbr1.store(ttbr1, Ordering::Relaxed);
    record.ttbr0.store(ttbr0, Ordering::Relaxed);
    // The record (and everything core 0 set up) before the core can start.
    super::cpu::wake_waiters();
    let entry = mmu::virt_to_phys(secondary_entry as *const () as u64);
    match method {
        StartMethod::Psci(conduit) => psci::cpu_on(conduit, mpidr, entry).map_err(StartError::Psci),
        StartMethod::SpinTable { base } => {
            mmu::write_physical_word(base + 8 * cpu as u64, entry).map_err(StartError::Map)?;
            super::cpu::wake_waiters();
            Ok(())
        }
        StartMethod::HoldingPen => {
            // SAFETY: `holding_pen` is boot.s's array of MAX_CPUS words, in
            // .data (mapped writable); only core 0 writes it, the waiting
            // core only reads its own word.
            let slot = unsafe { core::ptr::addr_of!(holding_pen[cpu]) } as *mut u64;
            // SAFETY: as above: an aligned word of the image's data.
            unsafe { core::ptr::write_volatile(slot, entry) };
            super::cpu::clean_to_point_of_coherency(slot as u64);
            super::cpu::wake_waiters();
            Ok(())
        }
        StartMethod::Unavailable(why) => Err(StartError::Unavailable(why)),
    }
}
