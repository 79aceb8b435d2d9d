//! AArch64: boot, exception levels, vectors, MMU, and CPU primitives.
//!
//! - `boot.s` + [`start`]: reset to Rust (EL3/EL2 to EL1, boot MMU mapping,
//!   stacks), then the first Rust code, which enters the portable OS;
//! - `higher_el.s` + [`higher_el`]: what stays at EL2/EL3 below ilusion's
//!   EL1 (hvc and smc answered NOT_SUPPORTED, anything else reported);
//! - `vectors.s` + [`exception`]: saving contexts, and sorting each exception
//!   once (interrupt, system call, task fault, kernel fault) for its owner;
//! - [`esr`]: decoding why a synchronous exception happened, and
//!   [`privileged`]: what a privileged instruction at EL0 tried to do;
//! - [`mmu`]: translation-table descriptors and tables;
//! - `switch.s` + [`context`]: switching from one task to another;
//! - `fp.s` + [`fp`]: switching the FP/SIMD registers lazily, on first use;
//! - `mem.s` + [`mem`]: `memcpy`, `memmove` and `memset`;
//! - [`cpu`]: interrupt masking, waiting, the timer, and other registers and instructions of this core;
//! - [`semihosting`]: how a test image tells QEMU its exit status;
//! - [`psci`]: asking the firmware (or QEMU) to start a core or reset the machine;
//! - [`smp`] (with `boot.s`): starting the other cores;
//! - [`user_access`]: checked copies to and from user memory, and PAN;
//! - [`user_mode`]: entering EL0; [`svc`]: the instruction EL0 calls the kernel with.
//!
//! Each assembly file is included by the Rust module it belongs to, which
//! gives it its constants (structure offsets, bit masks) from Rust.
//!
//! The pure-logic parts (`esr`, `privileged`, `mmu::descriptor`, `mmu::table`) build on
//! any host so that `cargo test` checks them.

pub mod esr;
pub mod mmu;
pub mod privileged;

#[cfg(target_os = "none")]
pub mod context;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod exception;
#[cfg(target_os = "none")]
pub mod fp;
#[cfg(target_os = "none")]
pub mod higher_el;
#[cfg(target_os = "none")]
pub mod mem;
// Boards without PSCI (the Raspberry Pis) leave it unused.
#[cfg(target_os = "none")]
#[allow(dead_code)]
pub mod psci;
#[cfg(target_os = "none")]
pub mod semihosting;
#[cfg(target_os = "none")]
pub mod smp;
#[cfg(target_os = "none")]
pub mod start;
#[cfg(target_os = "none")]
pub mod svc;
#[cfg(target_os = "none")]
pub mod user_access;
#[cfg(target_os = "none")]
pub mod user_mode;
