//! Everything specific to the processor architecture. ilusion runs on
//! 64-bit ARM (ARMv8-A, AArch64) only; the rest of the OS reaches the
//! hardware through the functions this module re-exports.

pub mod aarch64;
pub use aarch64::*;
