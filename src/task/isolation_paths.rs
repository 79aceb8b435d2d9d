//! The isolated tasks' ways into the kernel (system calls, faults from EL0,
//! faults of the checked copies to and from their memory), reached through
//! pointers that the first [`Builder::spawn_isolated`] installs.
//!
//! `arch::exception` hands a fault from EL0 to [`user_fault`] and an abort
//! in a checked copy to [`copy_fault`], which look up the real path here;
//! `vectors.s` reaches the system calls (`ilusion_syscall`, then
//! `syscall::dispatch::handle`) through a pointer of its own, which
//! [`install`] sets too (`arch::exception`). The dispatcher and every call
//! behind it (ipc, the user heap, exit and panic of isolated tasks...),
//! demand paging, the frame pool and the failure reports of isolated tasks
//! are then referenced from `spawn_isolated` alone, so an application that
//! never spawns an isolated task does not link them (issue 14: the hello
//! image). Until then no code runs at EL0: an exception from there is
//! unexpected (`crate::exception`), and a checked copy that faults was
//! given a bad pointer. The pointer's call costs a demand-zero page fault
//! about 16 instructions (BENCHMARKS.md).
//!
//! [`Builder::spawn_isolated`]: super::Builder::spawn_isolated

use crate::arch::exception::Fault;
use spin::Once;

/// Where each way in goes once isolated tasks exist (the system calls'
/// pointer is `vectors.s`'s own, in `arch::exception`).
struct Paths {
    user_fault: fn(Fault),
    copy_fault: fn(Fault),
}

static PATHS: Once<Paths> = Once::new();

/// Installs the paths (the first call; later ones return at once).
/// Called before any isolated task can run.
#[inline]
pub(crate) fn install() {
    crate::critical::call_once_unpreempted(&PATHS, || {
        crate::arch::exception::route_system_calls();
        Paths { user_fault: super::isolated_fault::isolated_fault, copy_fault: super::isolated_fault::user_copy_fault }
    });
}

/// A synchronous exception from EL0 other than `SVC`.
#[inline]
pub(crate) fn user_fault(fault: Fault) {
    match PATHS.get() {
        Some(paths) => (paths.user_fault)(fault),
        None => crate::exception::unexpected(fault),
    }
}

/// An abort inside `arch::user_access`'s copy routines. Before any
/// isolated task there is no heap to page in: the pointer was bad, and the
/// copy returns its error.
#[inline]
pub(crate) fn copy_fault(fault: Fault) {
    match PATHS.get() {
        Some(paths) => (paths.copy_fault)(fault),
        None => crate::arch::user_access::recover(&mut fault.frame.elr),
    }
}
