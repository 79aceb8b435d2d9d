//! The task side of system calls: what code running at EL0 calls.
//!
//! Everything here runs in an isolated task, so it touches nothing but its
//! arguments, its stack and the registers: kernel data is not reachable
//! from EL0. `println!`, `task::yield_now`, `time::sleep` and console input
//! come here when [`crate::arch::user_mode::running_at_el0`] says so. The
//! `SVC` instruction itself is [`crate::arch::svc`]'s; here are the typed
//! calls. A kernel task that calls them ends with `TaskFailure::Exception`
//! (an SVC no exception handler took), its report saying it made a system call.

use super::abi::{decode, MemoryFigure, Syscall, SyscallError};
use crate::arch::svc;
use core::fmt;

/// Makes system call `number` with up to three arguments; returns the raw `x0`.
#[inline]
pub fn raw_syscall(number: u64, a0: u64, a1: u64, a2: u64) -> u64 {
    svc::call3(number, a0, a1, a2)
}

/// Makes system call `number` with up to four arguments; returns the raw `x0`.
#[inline]
pub fn raw_syscall4(number: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    svc::call4(number, a0, a1, a2, a3)
}

fn call(call: Syscall, a0: u64, a1: u64) -> Result<u64, SyscallError> {
    decode(raw_syscall(call as u64, a0, a1, 0))
}

/// Lets other tasks run.
pub fn yield_now() {
    let _ = call(Syscall::Yield, 0, 0);
}

/// Sleeps for `nanoseconds` ([`super::abi::TIMEOUT_FOREVER`]: forever).
pub fn sleep_nanos(nanoseconds: u64) {
    let _ = call(Syscall::Sleep, nanoseconds, 0);
}

/// Ends the task: status 0 is success, anything else a failure its joiner
/// sees (`TaskFailure::Exited`). A task whose closure returns a value (not
/// `()`) that exits with 0 this way has no value to give: `Exited { status: 0 }`.
pub fn exit(status: u64) -> ! {
    raw_syscall(Syscall::Exit as u64, status, 0, 0);
    unreachable!("exit returned")
}

/// Ends the task successfully with the value of its closure: the `len`
/// bytes at `ptr`, which the kernel copies out for `JoinHandle::join`.
pub fn exit_with_value(ptr: u64, len: u64) -> ! {
    let result = raw_syscall(Syscall::Exit as u64, 0, ptr, len);
    // Only a value of the wrong size or at a bad address comes back here.
    exit(result)
}

/// Writes raw bytes to the console: all of them, in as many calls as it
/// takes (each writes at most a line's worth, `WRITE_PER_CALL`, and is
/// handed at most `MAX_WRITE` bytes, the most one call accepts: more was
/// refused whole, `BadLength`, and nothing written); returns how many
/// (all), or the error of the call that failed (what came before it was
/// written).
pub fn console_write(bytes: &[u8]) -> Result<u64, SyscallError> {
    let mut done = 0;
    loop {
        let rest = &bytes[done..];
        let len = rest.len().min(super::calls::MAX_WRITE as usize);
        let n = call(Syscall::ConsoleWrite, rest.as_ptr() as u64, len as u64)? as usize;
        done += n;
        if n == 0 || done >= bytes.len() {
            return Ok(done as u64);
        }
    }
}

/// Reads console input into `buf` (not empty): waits at most
/// `nanoseconds` for some (0: only what has come;
/// [`super::abi::TIMEOUT_FOREVER`]: until some comes), then takes what has
/// come, at most `buf.len()` bytes and 256; returns how many, or
/// `Err(TimedOut)`.
pub fn console_read(buf: &mut [u8], nanoseconds: u64) -> Result<u64, SyscallError> {
    decode(raw_syscall(Syscall::ConsoleRead as u64, buf.as_mut_ptr() as u64, buf.len() as u64, nanoseconds))
}

/// Reads a line of console input into `buf`, as `console::read_line`
/// does (at most 256 bytes of it are kept); returns its length.
pub fn console_read_line(buf: &mut [u8]) -> Result<u64, SyscallError> {
    call(Syscall::ConsoleReadLine, buf.as_mut_ptr() as u64, buf.len() as u64)
}

/// Sends the message `bytes` on the granted channel `handle`.
pub fn channel_send(handle: u64, bytes: &[u8]) -> Result<u64, SyscallError> {
    decode(raw_syscall(Syscall::ChannelSend as u64, handle, bytes.as_ptr() as u64, bytes.len() as u64))
}

/// Waits for a message on the granted channel `handle` and writes it at
/// `ptr` (`capacity` bytes there); returns its length.
pub fn channel_receive(handle: u64, ptr: u64, capacity: u64) -> Result<u64, SyscallError> {
    decode(raw_syscall(Syscall::ChannelReceive as u64, handle, ptr, capacity))
}

/// As [`channel_receive`], waiting at most `nanoseconds` (0: only a
/// message already there; [`super::abi::TIMEOUT_FOREVER`]: forever);
/// `Err(TimedOut)` if none came.
pub fn channel_receive_timeout(handle: u64, ptr: u64, capacity: u64, nanoseconds: u64) -> Result<u64, SyscallError> {
    decode(raw_syscall4(Syscall::ChannelReceiveTimeout as u64, handle, ptr, capacity, nanoseconds))
}

/// Gives the granted `handle` back: its object is released now (the other
/// end of the channel sees it go), and the number is `Closed` from then on.
pub fn close(handle: u64) -> Result<u64, SyscallError> {
    call(Syscall::Close, handle, 0)
}

/// Maps the shared region granted to this task at `address` (see
/// `task::Builder::share`). Optional: the first touch of the region maps it too.
pub fn map_shared(address: u64) -> Result<u64, SyscallError> {
    call(Syscall::MapShared, address, 0)
}

/// Nanoseconds since boot (the `time` call).
pub fn nanos_since_boot() -> u64 {
    call(Syscall::Time, 0, 0).unwrap_or(0)
}

/// The caller's task id.
pub fn task_id() -> u64 {
    call(Syscall::TaskId, 0, 0).unwrap_or(0)
}

/// The running isolated task's memory, in bytes (see [`MemoryFigure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Pages it holds: stack, closure state, heap pages touched so far.
    pub resident: u64,
    /// Its translation tables.
    pub tables: u64,
    /// The most it may hold, pages and tables together.
    pub limit: u64,
    /// Its heap's virtual reserve.
    pub heap_reserve: u64,
}

/// One figure of the caller's memory use, in bytes.
pub fn memory_figure(figure: MemoryFigure) -> u64 {
    call(Syscall::MemoryInfo, figure as u64, 0).unwrap_or(0)
}

/// The caller's resident memory: the pages it holds, in bytes.
pub fn resident_bytes() -> u64 {
    memory_figure(MemoryFigure::Resident)
}

/// What is left of the caller's memory limit: the limit less the pages
/// and tables it holds, in bytes (what its heap may still grow by).
pub fn free_under_limit() -> u64 {
    memory_figure(MemoryFigure::Free)
}

/// The caller's memory use, all figures.
pub fn memory_usage() -> MemoryUsage {
    MemoryUsage {
        resident: memory_figure(MemoryFigure::Resident),
        tables: memory_figure(MemoryFigure::Tables),
        limit: memory_figure(MemoryFigure::Limit),
        heap_reserve: memory_figure(MemoryFigure::HeapReserve),
    }
}

/// What `print!` does at EL0.
pub fn write_fmt(args: fmt::Arguments) {
    // Formatted on the task's stack; long output goes out in whole lines.
    let mut sink = |piece: &[u8]| {
        let _ = console_write(piece);
    };
    let mut out = crate::line_writer::LineWriter::<{ crate::line_writer::LINE_BUFFER }>::new(&mut sink);
    let _ = fmt::Write::write_fmt(&mut out, args);
    out.flush();
}

/// A formatter into a fixed buffer that drops what does not fit.
struct Truncating<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Truncating<N> {
    fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> fmt::Write for Truncating<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// What the panic handler does at EL0: format the location and the message
/// on the stack (kernel memory, the heap included, is out of reach) and hand
/// them to the kernel, which ends the task with `TaskFailure::Panic` (or,
/// for an allocation the task's memory limit could not back,
/// `TaskFailure::OutOfMemory`: see [`heap_refused_at`]).
pub fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut location = Truncating::<128>::new();
    let mut message = Truncating::<{ super::abi::MAX_PANIC_TEXT as usize }>::new();
    if let Some(l) = info.location() {
        let _ = fmt::Write::write_fmt(&mut location, format_args!("{}:{}:{}", l.file(), l.line(), l.column()));
    }
    let _ = fmt::Write::write_fmt(&mut message, format_args!("{}", info.message()));
    let (l, m) = (location.bytes(), message.bytes());
    // The kernel checks both ranges, reports the panic and ends the task.
    let (l_at, l_len, m_at, m_len) = (l.as_ptr() as u64, l.len() as u64, m.as_ptr() as u64, m.len() as u64);
    svc::call5_no_return(Syscall::Panic as u64, l_at, l_len, m_at, m_len, heap_refused_at(m))
}

/// For the allocation-failure panic ("memory allocation of N bytes
/// failed"), where the task's heap refused to grow because its memory
/// limit could not back the request; 0 for any other panic. (The heap's
/// state is read only for that panic: the heap has been used, so its
/// state page is resident, and reading it takes no memory the limit may
/// not have left.)
fn heap_refused_at(message: &[u8]) -> u64 {
    if !core::str::from_utf8(message).is_ok_and(crate::task::is_allocation_failure) {
        return 0;
    }
    // SAFETY: at EL0, in the task's only thread; the allocation that failed
    // has returned, so no other reference to the heap is live.
    unsafe { crate::mm::user_heap::UserHeap::get() }.take_refusal().unwrap_or(0)
}
