//! The handlers of the system calls that belong to no other module:
//! `console_write`, `console_read`, `console_read_line`, `memory_info` and
//! `panic` (`dispatch.rs` calls them).

use super::abi::{MemoryFigure, SyscallError, MAX_PANIC_TEXT};
use crate::arch::user_access::{copy_from_user, copy_to_user, UserRange};
use crate::task::{is_allocation_failure, PanicMessage, TaskFailure};

/// The most bytes one `console_write` accepts.
pub const MAX_WRITE: u64 = 64 * 1024;

/// The most bytes one `console_write` writes: a line of the kernel's own
/// `print!` ([`LINE_BUFFER`](crate::line_writer::LINE_BUFFER)), so a whole
/// line still goes out in one call. A system call runs with interrupts
/// masked, and the console is written a byte at a time, waiting for room
/// in the UART's queue: the whole 64 KiB at 115,200 baud took 5.7 s, a
/// core's interrupts (its timer, more urgent tasks, other cores' requests)
/// stopped all that time by one call of untrusted code. Now no call holds
/// them longer than one line of the kernel's own does.
pub const WRITE_PER_CALL: u64 = crate::line_writer::LINE_BUFFER as u64;

/// One figure of the caller's memory, in bytes.
pub(super) fn memory_info(figure: u64) -> Result<u64, SyscallError> {
    let figure = MemoryFigure::ALL.get(figure as usize).ok_or(SyscallError::InvalidArgument)?;
    let usage = crate::task::current_memory_usage();
    Ok(match figure {
        MemoryFigure::Resident => usage.resident,
        MemoryFigure::Tables => usage.tables,
        MemoryFigure::Limit => usage.limit,
        MemoryFigure::HeapReserve => usage.heap_reserve,
        MemoryFigure::Free => usage.limit.saturating_sub(usage.resident + usage.tables),
    })
}

/// Writes the first bytes, at most [`WRITE_PER_CALL`], of the `len` at
/// user address `ptr` to the console, in one piece (other cores' output
/// does not cut into it); returns how many it wrote (the caller sends the
/// rest again, as for a short `write` in POSIX). When more is to come,
/// the piece ends at its last line end, if it has one: lines stay whole
/// across calls, as in one `print!` of the kernel's (only a line longer
/// than a piece is cut).
pub(super) fn console_write(ptr: u64, len: u64) -> Result<u64, SyscallError> {
    if len > MAX_WRITE {
        return Err(SyscallError::BadLength);
    }
    UserRange::new(ptr, len as usize)?;
    let mut piece = [0u8; WRITE_PER_CALL as usize];
    let n = len.min(WRITE_PER_CALL) as usize;
    let mut read = 0;
    while read < n {
        let k = (n - read).min(128);
        if let Err(e) = copy_from_user(&mut piece[read..read + k], ptr + read as u64) {
            // What came before a bad page is still written, as it was read.
            crate::console::write_bytes(&piece[..read]);
            return Err(e.into());
        }
        read += k;
    }
    let n = match (n as u64) < len {
        true => crate::line_writer::whole_lines(&piece[..n]),
        false => n,
    };
    crate::console::write_bytes(&piece[..n]);
    Ok(n as u64)
}

/// The most bytes one `console_read` or `console_read_line` hands over:
/// they are gathered on the kernel stack first.
pub const READ_PER_CALL: usize = WRITE_PER_CALL as usize;

/// Checks that the `len` bytes at user address `ptr` can be written, by
/// writing zeros there (which also backs heap pages on first touch): done
/// before input is taken, so a bad buffer loses none. The task's mappings
/// only grow while it waits, so the copy after the wait cannot fail.
fn probe_writable(ptr: u64, len: usize) -> Result<(), SyscallError> {
    UserRange::new(ptr, len)?;
    copy_to_user(ptr, &[0; READ_PER_CALL][..len])?;
    Ok(())
}

/// Waits up to `timeout` for console input, then writes what has come (at
/// most `capacity` bytes, and [`READ_PER_CALL`]) at user address `ptr`;
/// returns how many. The task blocks while it waits.
pub(super) fn console_read(ptr: u64, capacity: u64, timeout: core::time::Duration) -> Result<u64, SyscallError> {
    if capacity == 0 {
        return Err(SyscallError::InvalidArgument);
    }
    let n = capacity.min(READ_PER_CALL as u64) as usize;
    probe_writable(ptr, n)?;
    let mut bytes = [0u8; READ_PER_CALL];
    bytes[0] = crate::console::read_byte_timeout(Some(timeout)).ok_or(SyscallError::TimedOut)?;
    let mut len = 1;
    while len < n {
        let Some(b) = crate::console::read_byte() else { break };
        bytes[len] = b;
        len += 1;
    }
    copy_to_user(ptr, &bytes[..len])?;
    Ok(len as u64)
}

/// Reads a line as `console::read_line` does (echoed, edited, without its
/// end) and writes it at user address `ptr`: at most `capacity` bytes, and
/// [`READ_PER_CALL`]; returns its length. The task blocks while it waits.
pub(super) fn console_read_line(ptr: u64, capacity: u64) -> Result<u64, SyscallError> {
    let n = capacity.min(READ_PER_CALL as u64) as usize;
    probe_writable(ptr, n)?;
    let mut line = [0u8; READ_PER_CALL];
    let len = crate::console::read_line_blocking_task(&mut line[..n]);
    copy_to_user(ptr, &line[..len])?;
    Ok(len as u64)
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
/// a panic in a normal task does (and, as there, without allocating). The
/// allocation-failure panic of a heap that refused to grow at
/// `heap_refused_at` (nonzero) for the task's memory limit ends it with
/// `TaskFailure::OutOfMemory` instead, as a touch past the limit does.
pub(super) fn panic_isolated(location: UserText, message: UserText, heap_refused_at: u64) -> ! {
    let (mut location_buf, mut message_buf) = ([0u8; PANIC_TEXT], [0u8; PANIC_TEXT]);
    let location = Lossy(location.read(&mut location_buf));
    let message = PanicMessage::from_args(format_args!("{}", Lossy(message.read(&mut message_buf))));
    let task = crate::task::RunningTask;
    // Under the console lock, as `print!`: other cores' output must not cut into it.
    if heap_refused_at != 0 && is_allocation_failure(&message) {
        let usage = crate::task::current_memory_usage();
        let failure =
            TaskFailure::OutOfMemory { addr: heap_refused_at, held: usage.resident + usage.tables, limit: usage.limit };
        crate::console::write_fmt(format_args!(
            "\n*** {task} failed: {failure}\n  {message}: its heap cannot grow by that within its memory limit\n"
        ));
        crate::task::fail_current(failure)
    }
    crate::console::write_fmt(format_args!("\n*** {task} panicked at {location}:\n{message}\n"));
    crate::task::fail_current(TaskFailure::Panic { message })
}
