//! The isolated tasks' system calls, reached through a pointer that the
//! first [`Builder::spawn_isolated`] installs.
//!
//! `arch::exception` hands a system call from EL0 to
//! `syscall::dispatch::handle`, which looks up the real dispatcher here:
//! the dispatcher and every call behind it (ipc, the user heap, exit and
//! panic of isolated tasks...) are then referenced from `spawn_isolated`
//! alone, so an application that never spawns an isolated task does not
//! link them (issue 14: the hello image). Until then no code runs at EL0,
//! and no system call can come; if one did, it is unexpected
//! (`crate::exception`). (Faults from EL0 stay direct calls: demand paging
//! is measured to the instruction, and the pointer's call would cost it 16.)
//!
//! [`Builder::spawn_isolated`]: super::Builder::spawn_isolated

use crate::arch::exception::Fault;
use spin::Once;

static SYSTEM_CALL: Once<fn(Fault)> = Once::new();

/// Installs the dispatcher (the first call; later ones return at once).
/// Called before any isolated task can run.
#[inline]
pub(crate) fn install() {
    crate::critical::call_once_unpreempted(&SYSTEM_CALL, || crate::syscall::dispatch::handle_call);
}

/// A system call from EL0.
#[inline]
pub(crate) fn system_call(call: Fault) {
    match SYSTEM_CALL.get() {
        Some(dispatch) => dispatch(call),
        None => crate::exception::unexpected(call),
    }
}
