//! AArch64: boot, exception levels, vectors, MMU, and CPU primitives.
//!
//! - `boot.s`: reset to Rust (EL3/EL2 to EL1, boot MMU mapping, stacks);
//! - `start.rs`: the first Rust code; builds the kernel's tables, enters the portable OS;
//! - `vectors.s` + [`exception`]: saving contexts and dispatching exceptions;
//! - [`esr`]: decoding why a synchronous exception happened, and
//!   [`privileged`]: what a privileged instruction at EL0 tried to do;
//! - [`mmu`]: translation-table descriptors and tables;
//! - `switch.s` + [`context`]: switching from one task to another;
//! - [`cpu`]: interrupt masking, waiting, the timer, and other registers and instructions of this core;
//! - [`semihosting`]: how a test image tells QEMU its exit status;
//! - [`user_access`]: checked copies to and from user memory, and PAN.
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
pub mod semihosting;
#[cfg(target_os = "none")]
pub mod start;
#[cfg(target_os = "none")]
pub mod user_access;
#[cfg(target_os = "none")]
pub mod user_mode;

#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("boot.s"), options(raw));
#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("vectors.s"), options(raw));
#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("switch.s"), options(raw));
