//! The kernel side of system calls: `SVC #0` from EL0, as `arch::exception`
//! hands it over.
//!
//! The task's registers are in the [`ExceptionFrame`]: the number in `x8`,
//! arguments in `x0`–`x5`, the result goes back in `x0` (see
//! [`super::abi`]). [`handle`] picks the handler by number: here for the
//! calls of other modules (`ipc`, `task`, `sched`, `time`), `calls.rs` for
//! the rest. Arguments are distrusted: pointers are checked and copied with
//! `arch::user_access`, so a bad one is an error code.
//!
//! What a call comes to is decided in one place, [`finish`] (as Hubris's
//! `err.rs` does): a handler never reports, nor ends the task, when a call
//! goes wrong; it returns an error, and `finish` writes the result or the
//! negative error code into the task's `x0` (the task goes on), or ends the
//! task (an unknown call number), reported with its registers. A refused
//! user pointer ([`UserAccessError`]) becomes its error code by `?`. The
//! calls that end the task by their meaning (`exit`, `panic`) do so
//! themselves. The calls in [`super::abi::FAST_SYSCALLS`] come here only in
//! name: `vectors.s` sends them to [`super::fast`], whose handlers the arms
//! here share.

use super::abi::{encode, Syscall, SyscallError, ABI_VERSION};
use super::calls::{console_read, console_read_line, console_write, memory_info, panic_isolated, UserText};
use super::fast;
use crate::arch::exception::{ExceptionFrame, Fault};
use crate::arch::user_access::UserAccessError;
use crate::task::TaskFailure;

/// A system call: `call` is the `SVC` from EL0. `yield` is handled here
/// (the one call on a switch's path), the others by [`handle_call`].
/// `vectors.s` reaches this through the pointer the first `spawn_isolated`
/// installs (`arch::exception`, `task::isolation_paths`), so that this
/// dispatcher and every call are linked only into applications that spawn
/// isolated tasks.
pub(crate) fn handle(call: Fault) {
    if call.frame.x[8] == Syscall::Yield as u64 {
        crate::trace::syscall_enter(Syscall::Yield as u64);
        crate::sched::scheduler::yield_now();
        call.frame.x[0] = encode(Ok(0));
        crate::trace::syscall_exit(Syscall::Yield as u64);
        return;
    }
    handle_call(call)
}

/// Handles a system call (see [`handle`]). Not inlined: `yield`'s path
/// would save the registers this one needs.
#[inline(never)]
pub(crate) fn handle_call(call: Fault) {
    let number = call.frame.x[8];
    crate::trace::syscall_enter(number);
    let outcome = match Syscall::try_from(number) {
        Ok(syscall) => run(syscall, call.frame).map_err(CallError::Refused),
        // ELR is past the SVC: report the call itself.
        Err(_) => Err(CallError::EndTask(TaskFailure::BadSyscall { number, pc: call.frame.elr - 4 })),
    };
    finish(call, outcome);
    crate::trace::syscall_exit(number);
}

fn run(call: Syscall, frame: &mut ExceptionFrame) -> Result<u64, SyscallError> {
    let [a0, a1, a2, a3, ..] = frame.x;
    let forever = core::time::Duration::MAX;
    match call {
        Syscall::Yield => {
            crate::sched::scheduler::yield_now();
            Ok(0)
        }
        Syscall::Sleep => {
            crate::time::sleep(super::abi::timeout_from_nanos(a0));
            Ok(0)
        }
        Syscall::Exit => crate::task::exit_isolated(a0, a1, a2),
        Syscall::ConsoleWrite => console_write(a0, a1),
        Syscall::ConsoleRead => console_read(a0, a1, super::abi::timeout_from_nanos(a2)),
        Syscall::ConsoleReadLine => console_read_line(a0, a1),
        Syscall::Panic => panic_isolated(UserText { ptr: a0, len: a1 }, UserText { ptr: a2, len: a3 }, frame.x[4]),
        Syscall::MemoryInfo => memory_info(a0),
        Syscall::ChannelSend => crate::ipc::syscalls::channel_send(a0, a1, a2),
        Syscall::ChannelReceive => crate::ipc::syscalls::channel_receive(a0, a1, a2, forever),
        Syscall::ChannelReceiveTimeout => {
            crate::ipc::syscalls::channel_receive(a0, a1, a2, super::abi::timeout_from_nanos(a3))
        }
        Syscall::Close => crate::ipc::syscalls::close(a0),
        Syscall::MapShared => crate::task::map_granted_region(a0),
        // The fast path answers these before they get here, with the same handlers.
        Syscall::Time => Ok(fast::nanos_since_boot()),
        Syscall::TaskId => Ok(fast::current_task_id()),
        Syscall::AbiVersion => Ok(ABI_VERSION),
    }
}

/// Why a call gave no result.
enum CallError {
    /// Refused: the task gets the code in `x0` and goes on.
    Refused(SyscallError),
    /// The task broke the ABI (an unknown call number): it ends with this failure.
    EndTask(TaskFailure),
}

/// The error code for a refused user pointer.
impl From<UserAccessError> for SyscallError {
    fn from(e: UserAccessError) -> Self {
        match e {
            UserAccessError::NotUserAddress | UserAccessError::Fault => SyscallError::BadAddress,
            UserAccessError::Overflow => SyscallError::BadLength,
            UserAccessError::Misaligned => SyscallError::Misaligned,
        }
    }
}

/// Completes `call` (an `SVC` from EL0) with `outcome`.
#[inline]
fn finish(call: Fault, outcome: Result<u64, CallError>) {
    match outcome {
        Ok(value) => call.frame.x[0] = encode(Ok(value)),
        Err(CallError::Refused(e)) => call.frame.x[0] = encode(Err(e)),
        Err(CallError::EndTask(failure)) => crate::task::fail_isolated(&call, failure),
    }
}
