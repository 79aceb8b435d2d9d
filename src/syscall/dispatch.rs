//! The kernel side of system calls, and of every other synchronous
//! exception an isolated task (EL0) causes.
//!
//! `SVC #0` from EL0 arrives here with the task's registers in an
//! [`ExceptionFrame`]: the number in `x8`, arguments in `x0`–`x5`, the
//! result goes back in `x0` (see [`super::abi`]). Arguments are distrusted:
//! pointers are checked with [`UserRange`] and copied with the unprivileged
//! routines of `arch::user_access`, so a bad one is an error code. A first
//! touch of the task's heap gets a frame and the task goes on
//! ([`crate::task::demand_page`]). Any other exception from EL0 (a fault, an
//! undefined instruction) and an unknown call number end the task alone,
//! with a precise [`TaskFailure`].

use super::abi::{encode, MemoryFigure, Syscall, SyscallError, ABI_VERSION, MAX_PANIC_TEXT};
use crate::arch::esr::Syndrome;
use crate::arch::exception::{ExceptionFrame, Fault};
use crate::arch::user_access::{copy_from_user, UserAccessError, UserRange};
use crate::task::{DemandPaging, PanicMessage, TaskFailure};

/// The most bytes one `console_write` accepts.
pub const MAX_WRITE: u64 = 64 * 1024;

/// Handles a synchronous exception taken from EL0.
pub(crate) fn user_exception(fault: Fault) {
    let Fault { frame, esr, far, syndrome, .. } = fault;
    if let Syndrome::Svc { .. } = syndrome {
        let number = frame.x[8];
        match Syscall::try_from(number) {
            Ok(call) => frame.x[0] = encode(run(call, frame)),
            // ELR is past the SVC: report the call itself.
            Err(_) => fail(frame, esr, far, syndrome, TaskFailure::BadSyscall { number, pc: frame.elr - 4 }),
        }
        return;
    }
    let failure = match crate::task::demand_page(syndrome, far) {
        DemandPaging::Mapped => return, // retry the access
        DemandPaging::Refused(failure) => failure,
        DemandPaging::NotDemandZero => crate::task::isolated_failure(syndrome, esr, far, frame.elr),
    };
    fail(frame, esr, far, syndrome, failure);
}

/// Ends the running isolated task with `failure`, after a report naming it,
/// the reason, the PC and the faulting address. No backtrace: the task's
/// frame chain is user memory, which the kernel does not walk.
fn fail(frame: &ExceptionFrame, esr: u64, far: u64, syndrome: Syndrome, failure: TaskFailure) -> ! {
    let task = crate::task::RunningTask;
    crate::console::write_fmt_emergency(format_args!(
        "\n*** {task} failed: {failure}\n  {syndrome}, ESR {esr:#010x}, FAR {far:#018x}, PC {:#018x}, SP {:#018x}\n",
        frame.elr, frame.sp
    ));
    crate::task::fail_current(failure)
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
        Syscall::Time => Ok(crate::time::Instant::now().since_boot().as_nanos() as u64),
        Syscall::TaskId => Ok(crate::task::current().id()),
        Syscall::AbiVersion => Ok(ABI_VERSION),
        Syscall::Panic => panic_isolated(UserText { ptr: a0, len: a1 }, UserText { ptr: a2, len: a3 }),
        Syscall::MemoryInfo => memory_info(a0),
        Syscall::ChannelSend => crate::ipc::syscalls::channel_send(a0, a1, a2),
        Syscall::ChannelReceive => crate::ipc::syscalls::channel_receive(a0, a1, a2, forever),
        Syscall::ChannelReceiveTimeout => {
            crate::ipc::syscalls::channel_receive(a0, a1, a2, super::abi::timeout_from_nanos(a3))
        }
        Syscall::Close => crate::ipc::syscalls::close(a0),
        Syscall::MapShared => crate::task::map_granted_region(a0),
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

/// The error code for a refused user pointer.
pub(crate) fn user_error(e: UserAccessError) -> SyscallError {
    match e {
        UserAccessError::NotUserAddress | UserAccessError::Fault => SyscallError::BadAddress,
        UserAccessError::Overflow => SyscallError::BadLength,
        UserAccessError::Misaligned => SyscallError::Misaligned,
    }
}

/// Writes `len` bytes at user address `ptr` to the console, in chunks.
fn console_write(ptr: u64, len: u64) -> Result<u64, SyscallError> {
    if len > MAX_WRITE {
        return Err(SyscallError::BadLength);
    }
    UserRange::new(ptr, len as usize).map_err(user_error)?;
    let mut chunk = [0u8; 128];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        copy_from_user(&mut chunk[..n], ptr + done).map_err(user_error)?;
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
        UserRange::new(self.ptr, n).and_then(|_| copy_from_user(&mut buf[..n], self.ptr)).map_err(user_error)?;
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
