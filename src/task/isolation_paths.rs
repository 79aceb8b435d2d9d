//! The isolated tasks' side of the exception path, reached through
//! pointers that the first [`Builder::spawn_isolated`] installs.
//!
//! `arch::exception` hands a system call from EL0 to
//! `syscall::dispatch::handle`, any other exception from EL0 to
//! [`super::isolated_fault`] and a fault of a checked copy to or from a
//! task's memory to [`super::user_copy_fault`]. Those three only look up
//! the real handlers here: the system-call dispatcher (and with it every
//! call, ipc, the user heap), demand paging and the isolated failure path
//! are then referenced from `spawn_isolated` alone, so an application that
//! never spawns an isolated task does not link them (issue 14: the hello
//! image). Until then no code runs at EL0, and no such exception can come;
//! if one did, it is unexpected (`crate::exception`).
//!
//! [`Builder::spawn_isolated`]: super::Builder::spawn_isolated

use crate::arch::exception::Fault;
use spin::Once;

/// The handlers, installed once.
struct Paths {
    system_call: fn(Fault),
    fault: fn(Fault),
    user_copy_fault: fn(Fault),
}

static PATHS: Once<Paths> = Once::new();

/// Installs the handlers (the first call; later ones return at once).
/// Called before any isolated task can run.
#[inline]
pub(crate) fn install() {
    PATHS.call_once(|| Paths {
        system_call: crate::syscall::dispatch::handle_call,
        fault: super::isolated_fault::handle_fault,
        user_copy_fault: super::isolated_fault::handle_user_copy_fault,
    });
}

/// A system call from EL0.
#[inline]
pub(crate) fn system_call(call: Fault) {
    match PATHS.get() {
        Some(paths) => (paths.system_call)(call),
        None => crate::exception::unexpected(call),
    }
}

/// Another synchronous exception from EL0.
#[inline]
pub(crate) fn fault(fault: Fault) {
    match PATHS.get() {
        Some(paths) => (paths.fault)(fault),
        None => crate::exception::unexpected(fault),
    }
}

/// A fault of a checked copy to or from a task's memory.
#[inline]
pub(crate) fn user_copy_fault(fault: Fault) {
    match PATHS.get() {
        Some(paths) => (paths.user_copy_fault)(fault),
        None => crate::exception::unexpected(fault),
    }
}
