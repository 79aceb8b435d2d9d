//! The memory routines the compiler calls (`memcpy`, `memmove`, `memset`),
//! in assembly (`mem.s`): general registers only, 16 bytes per load or
//! store at any alignment. Rust's portable ones, which they replace (theirs
//! are weak symbols), copy byte by byte whenever the source and the
//! destination are not equally aligned, and the portable `memset` uses a
//! vector register.

core::arch::global_asm!(include_str!("mem.s"));
