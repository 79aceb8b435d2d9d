//! The handlers of the system calls that belong to no other module:
//! `console_write`, `memory_info` and `panic` (`dispatch.rs` calls them).

use super::abi::{MemoryFigure, SyscallError, MAX_PANIC_TEXT};
use crate::arch::user_access::{copy_from_user, UserRange};
use crate::line_writer::LineWriter;
use crate::task::{PanicMessage, TaskFailure};

/// The most bytes one `console_write` accepts.
pub const MAX_WRITE: u64 = 64 * 1024;

/// One figure of the caller's memory, in bytes.
pub(super) fn memory_info(figure: u64) -> Result<u64, SyscallError> {
    let figure = MemoryFigure::ALL.get(figure as usize).ok_or(SyscallError::InvalidArgument)?;
    let usage = crate::task::current_memory_usage();
    Ok(match figure {
        MemoryFigure::Resident => usage.resident,
        MemoryFigure::Tables => usage.tables,
        MemoryFigure::Limit => usage.limit,
        MemoryFigure::HeapReserve => usage.heap_reserve,
    })
}

/// Writes `len` bytes at user address `ptr` to the console, copied in
/// chunks and written out in whole lines (as the kernel's `print!` does).
pub(super) fn console_write(ptr: u64, len: u64) -> Result<u64, SyscallError> {
    if len > MAX_WRITE {
        return Err(SyscallError::BadLength);
    }
    UserRange::new(ptr, len as usize)?;
    let mut sink = crate::console::write_bytes;
    let mut out = LineWriter::<{ crate::line_writer::LINE_BUFFER }>::new(&mut sink);
    let mut chunk = [0u8; 128];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        // What came before a bad page is still written, as it was read.
        copy_from_user(&mut chunk[..n], ptr + done).inspect_err(|_| out.flush())?;
        out.write_bytes(&chunk[..n]);
        done += n as u64;
    }
    out.flush();
    Ok(len)
}

/// A string in user memory, as a pointer and a length.
pub(super) struct UserText {
    pub ptr: u64,
    pub len: u64,
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
pub(super) fn panic_isolated(location: UserText, message: UserText) -> ! {
    let (mut location_buf, mut message_buf) = ([0u8; PANIC_TEXT], [0u8; PANIC_TEXT]);
    let location = Lossy(location.read(&mut location_buf));
    let message = PanicMessage::from_args(format_args!("{}", Lossy(message.read(&mut message_buf))));
    let task = crate::task::RunningTask;
    // Under the console lock, as `print!`: other cores' output must not cut into it.
    crate::console::write_fmt(format_args!("\n*** {task} panicked at {location}:\n{message}\n"));
    crate::task::fail_current(TaskFailure::Panic { message })
}
