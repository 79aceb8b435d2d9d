//! # ilusion
//!
//! A unikernel-style library OS for 64-bit ARM. An application links with
//! ilusion into one kernel image and gets what an OS promises: the illusion
//! of a processor and memory of its own.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! ilusion::entry!(main);
//! fn main() { ilusion::println!("hello from {}", ilusion::board::NAME); }
//! ```
//!
//! Where things are (each module's own documentation says more):
//! - `arch`: everything ARMv8-specific: boot, exception vectors, MMU, CPU
//!   (private to the OS; what applications see of it is re-exported where
//!   they use it: [`exception::ExceptionFrame`], the fault details in [`task`]);
//! - `boards/<name>` (as [`board`]): what is at which address on one board;
//! - [`drivers`]: the devices boards wire up (PL011 UART, GIC);
//! - [`gpio`]: pins for applications (the Pis' GPIO block);
//! - [`critical`]: masking interrupts, and the kernel's one spin lock built on it;
//! - portable OS: [`mm`] (the heap; [`mm::BlockPool`], pools of fixed-size
//!   blocks), [`irq`], [`time`], [`console`], [`exception`] (exceptions the
//!   OS does not expect), and the boot sequence in `kernel.rs`;
//! - [`syscall`]: the system-call ABI, its kernel side and its task side;
//! - tasks: [`task`] (spawn, join, priorities), [`sync`] (mutexes,
//!   semaphores, condition variables, channels), and the scheduler behind
//!   them in [`sched`];
//! - between address spaces: [`ipc`] (channels isolated tasks can use) and
//!   `mm::SharedRegion`;
//! - looking inside: `shell` (feature `shell`), a command line on the console.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// On the host only the hardware-free logic is built, for unit tests; the
// kernel paths that would use the rest are target-only.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;

pub(crate) mod arch;
mod banner;
pub mod console;
/// Each core's statistics: busy and idle time, interrupts, switches.
pub mod cpu {
    pub use crate::task::CpuStats;

    /// Every online core's statistics, since it came online.
    #[cfg(target_os = "none")]
    pub fn stats() -> alloc::vec::Vec<CpuStats> {
        crate::task::cpu_stats()
    }
}
pub mod critical;
pub mod fdt;
pub mod gpio;
pub mod ipc;
pub mod irq;
pub mod line_writer;
/// Lock contention counts: spin iterations per core, and per lock name with
/// the `lock-stats` feature; read them through
/// [`internals::lock_stats`](crate::lock_stats::lock_stats).
#[doc(hidden)]
pub mod lock_stats;
pub mod logger;
pub mod mm;
pub mod percpu;
pub mod sched;
/// The serial shell (cargo feature `shell`; its portable parts are always unit-tested).
#[cfg(any(feature = "shell", test))]
pub mod shell;
pub mod symbols;
pub mod sync;
pub mod syscall;
pub mod task;
pub mod time;
pub mod trace;

#[cfg(target_os = "none")]
pub mod backtrace;
#[cfg(target_os = "none")]
pub mod board;
#[cfg(target_os = "none")]
mod board_note;
#[cfg(target_os = "none")]
mod cores;
#[cfg(target_os = "none")]
pub mod drivers;
#[cfg(target_os = "none")]
pub mod exception;
#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
pub mod power;

#[cfg(target_os = "none")]
pub use kernel::boot_exception_level;
#[cfg(target_os = "none")]
pub use power::{exit, reboot};

/// For ilusion's own QEMU tests and benchmarks: processor primitives an
/// application has no reason to call, some of which bypass the OS's rules
/// on purpose (the tests check that the OS catches that). Not part of the API.
#[doc(hidden)]
#[cfg(target_os = "none")]
pub mod internals {
    pub use crate::arch::cpu::{
        enable_interrupts, in_exception_handler, interrupts_enabled, spin_hint, wait_for_interrupt, without_interrupts,
        zero_page,
    };
    pub use crate::arch::mmu::translate_user_view;
    pub use crate::arch::user_access;
    /// Lock contention so far: spin iterations spent waiting, per core
    /// (always counted); with the `lock-stats` feature also per spin lock
    /// name, acquisitions that found it held and spin iterations spent.
    pub use crate::lock_stats::{
        lock_stats, reset_lock_stats, spin_iterations, spin_iterations_on, LockStat, LockStats,
    };

    /// Interrupts core `cpu` with `ipi` (`irq::try_send_ipi`), saying why not if it cannot.
    pub fn send_ipi(cpu: usize, ipi: crate::irq::Ipi) -> Result<(), crate::irq::IrqError> {
        crate::irq::try_send_ipi(cpu, ipi)
    }

    /// How many `ipi`s core `cpu` has taken since boot.
    pub fn ipis_received(cpu: usize, ipi: crate::irq::Ipi) -> u64 {
        crate::irq::ipis_received(cpu, ipi)
    }

    /// The interrupt `ipi` arrives as (`None`: this board cannot send it).
    pub fn ipi_id(ipi: crate::irq::Ipi) -> Option<crate::irq::IntId> {
        crate::irq::ipi_id(ipi)
    }
}

/// Names the application's `main` function: `ilusion::entry!(main);`.
///
/// ilusion boots the machine, then runs `main` as the first task (named
/// "main", at the default priority, so it can spawn, join and block); when
/// it returns, the machine powers off with exit status 0. If `main` panics
/// or faults, the machine stops as without tasks (status 101 or 102), even
/// if other tasks still run; other tasks' failures end only them.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[export_name = "ilusion_main"]
        fn __ilusion_main() {
            let main: fn() = $main;
            main()
        }
    };
}
