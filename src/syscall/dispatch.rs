//! The kernel side of system calls: `SVC #0` from EL0, as `arch::exception`
//! hands it over.
//!
//! The task's registers are in the [`ExceptionFrame`]: the number in `x8`,
//! arguments in `x0`–`x5`, the result goes back in `x0` (see
//! [`super::abi`]). [`handle`] picks the handler by number; what the call
//! comes to (a result, an error code, or, for an unknown number, the end of
//! the task) is decided in one place, [`super::error::finish`]. Arguments are
//! distrusted: pointers are checked with [`UserRange`] and copied with the
//! unprivileged routines of `arch::user_access`, so a bad one is an error
//! code. The calls in [`super::abi::FAST_SYSCALLS`] come here only in
//! name: `vectors.s` sends them to [`super::fast`], whose handlers the arms
//! here share.

use super::abi::{MemoryFigure, Syscall, SyscallError, ABI_VERSION, MAX_PANIC_TEXT};
use super::error::{finish, CallError};
use super::fast;
use crate::arch::exception::{ExceptionFrame, Fault};
use crate::arch::user_access::{copy_from_user, UserRange};
use crate::task::{PanicMessage, TaskFailure};

/// The most bytes one `console_write` accepts.
pub const MAX_WRITE: u64 = 64 * 1024;

/// Handles a system call: `call` is the `SVC` from EL0.
pub(crate) fn handle(call: Fault) {
    let number = call.frame.x[8];
    let outcome = match Syscall::try_from(number) {
        Ok(syscall) => run(syscall, call.frame).map_err(CallError::Refused),
        // ELR is past the SVC: report the call itself.
        Err(_) => Err(CallError::EndTask(TaskFailure::BadSyscall { number, pc: call.frame.elr - 4 })),
    };
    finish(call, outcome)
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
        Syscall::Panic => panic_isolated(UserText { ptr: a0, len: a1 }, UserText { ptr: a2, len: a3 }),
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

/// One figure of the caller's memory, in bytes.
fn memory_info(figure: u64) -> Result<u64, SyscallError> {
    let figure = MemoryFigure::ALL.get(figure as usize).ok_or(SyscallError::InvalidArgument)?;
    let usage = crate::task::current_memory_usage();
    Ok(match figure {
        MemoryFigure::Resident => usage.resident,
        MemoryFigure::Tables => usage.tables,
        MemoryFigure::Limit => usage.limit,
        MemoryFigure::HeapReserve => usage.heap_reserve,
    })
}

/// Writes `len` bytes at user address `ptr` to the console, in chunks.
fn console_write(ptr: u64, len: u64) -> Result<u64, SyscallError> {
    if len > MAX_WRITE {
        return Err(SyscallError::BadLength);
    }
    UserRange::new(ptr, len as usize)?;
    let mut chunk = [0u8; 128];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        copy_from_user(&mut chunk[..n], ptr + done)?;
        crate::console::write_bytes(&chunk[..n]);
        done += n as u64;
    }
    Ok(len)
}

/// A string in user memory, as a pointer and a length.
struct UserText {
    ptr: u64,
    len: u64,
}

/// The most bytes of user text the kernel reads for a panic report.
const PANIC_TEXT: usize = MAX_PANIC_TEXT as usize;

impl UserText {
    /// Copies the text (at most [`MAX_PANIC_TEXT`] bytes) into `buf`, on the
    /// kernel stack: nothing is allocated, the heap may be exhausted.
    fn read<'b>(&self, buf: &'b mut [u8; PANIC_TEXT]) -> Result<&'b [u8], SyscallError> {
        let n = self.len.min(MAX_PANIC_TEXT) as usize;
        UserRange::new(self.ptr, n).and_then(|_| copy_from_user(&mut buf[..n], self.ptr))?;
        Ok(&buf[..n])
    }
}

/// User text as read: valid UTF-8 shown as is, other bytes as U+FFFD, a bad
/// pointer as a placeholder.
struct Lossy<'a>(Result<&'a [u8], SyscallError>);

impl core::fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let bytes = match self.0 {
            Ok(bytes) => bytes,
            Err(e) => return write!(f, "<unreadable: {e:?}>"),
        };
        for chunk in bytes.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

/// The `panic` system call: the isolated task's panic handler reports its
/// location and message; the task ends with `TaskFailure::Panic`, exactly as
/// a panic in a normal task does (and, as there, without allocating).
fn panic_isolated(location: UserText, message: UserText) -> ! {
    let (mut location_buf, mut message_buf) = ([0u8; PANIC_TEXT], [0u8; PANIC_TEXT]);
    let location = Lossy(location.read(&mut location_buf));
    let message = PanicMessage::from_args(format_args!("{}", Lossy(message.read(&mut message_buf))));
    let task = crate::task::RunningTask;
    crate::console::write_fmt_emergency(format_args!("\n*** {task} panicked at {location}:\n{message}\n"));
    crate::task::fail_current(TaskFailure::Panic { message })
}
