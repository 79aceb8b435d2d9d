//! The system-call ABI, version [`ABI_VERSION`].
//!
//! A task puts the call number in `x8` and up to six arguments in `x0`–`x5`,
//! then executes `SVC #0`. The kernel returns one value in `x0`: a
//! non-negative result, or a negative [`SyscallError`] code. Every pointer
//! argument is a user address, checked against the caller's address space
//! before use; a bad one is an error, never a kernel fault.
//!
//! **Registers.** Every register but `x0` is preserved across a call: `x1`–`x30`,
//! `SP`, the condition flags, `q0`–`q31`, `FPSR` and `FPCR`; and `TPIDR_EL0`,
//! which EL0 may write, is each task's own (it moves with the address space).
//! So the task finds its own values again, and never a value of the kernel's
//! or of another task (a call that blocks or yields runs other tasks before it
//! returns). The calls in [`FAST_SYSCALLS`] (`time`, `task_id`,
//! `abi_version`) never block: the kernel answers them on a short path that
//! saves and restores only the registers its handler can touch (see
//! `src/syscall/fast.rs`); the others save the whole context.
//!
//! The channel calls take a handle the task was granted at spawn
//! (`task::Builder::grant`; see [`crate::ipc`]): an unknown handle, one of
//! another task, or a sender given to `channel_receive` (and the reverse)
//! is `NoSuchObject`. The buffer holds one message: its length must be the
//! channel's message size (`BadLength`; for `channel_receive` a smaller
//! capacity is `BufferTooSmall`, a larger one is fine), its address aligned
//! for the message type (`Misaligned`) and mapped, writable for a receive
//! (`BadAddress`). When the other end is gone: `Disconnected`. When the
//! kernel heap has no room to queue a message: `OutOfMemory`. Shared
//! regions are granted at spawn (`task::Builder::share`, which decides the
//! address) and mapped by the task with `map_shared`, or by its first touch
//! of the region (like a heap page): an address that is not page-aligned is
//! `Misaligned`, one where nothing was granted `NoSuchObject`.
//!
//! **Timeouts and closing** (calls 12 and 13, added in version 2; calls 0-11
//! are unchanged). `channel_receive_timeout` is `channel_receive` with a
//! fourth argument, in nanoseconds: 0 takes a message only if one is
//! waiting, [`TIMEOUT_FOREVER`] waits as long as it takes (as
//! `channel_receive`); no message in time is `TimedOut`. `close` gives a
//! handle back before the task ends: its object is released at once (the
//! peer of a closed receiver, or of a channel's last sender, sees
//! `Disconnected`), and every later call naming that handle, `close`
//! included, is `Closed`. Time arguments saturate: any number of
//! nanoseconds is valid, and none makes the kernel's arithmetic overflow.
//!
//! **Console input** (calls 14 and 15, added in version 3): the receive
//! buffer is kernel data, so an isolated task reads the console through
//! these (`console::read_byte`, `read_byte_timeout` and `read_line` call
//! them at EL0). `console_read` waits as long as its nanoseconds say (0:
//! only what has come already, [`TIMEOUT_FOREVER`]: until something
//! comes; nothing in time is `TimedOut`), then hands over what has come,
//! at most the capacity and 256 bytes; a capacity of 0 is
//! `InvalidArgument`. `console_read_line` waits for a whole line, echoing
//! it and editing it as `console::read_line` does, and writes it without
//! its end: at most 256 bytes of it, the rest dropped as past the end of a
//! smaller buffer. Both check the buffer (by writing it) before they take
//! any input, so a bad one (`BadAddress`) loses none. The task blocks while
//! it waits; the core runs others.
//!
//! **Out of memory** (version 4: `panic`'s `x4`, `memory_info`'s
//! [`MemoryFigure::Free`]). An isolated task's heap grows only as far as
//! the task's memory limit can back (`mm::user_heap`: it asks for `Free`,
//! one call, before it grows). When it refuses, the allocation-failure panic passes
//! where the heap would have grown in `x4`, and the task ends with
//! `OutOfMemory` (at that address, with what it holds and its limit), as
//! a touch past the limit ends it, instead of `Panic`. Any other panic, or
//! a zero `x4`, is a `Panic`.
//!
//! | nr | call | arguments | result |
//! |---:|---|---|---|
//! | 0 | `yield` | — | 0 |
//! | 1 | `sleep` | nanoseconds ([`TIMEOUT_FOREVER`]: forever) | 0 |
//! | 2 | `exit` | status, value pointer, value length | does not return (but a value of the wrong size is `BadLength`, an unreadable one `BadAddress`) |
//! | 3 | `console_write` | pointer, length (at most 64 KiB) | bytes written: at most 256 a call (the caller sends the rest again) |
//! | 4 | `time` | — | nanoseconds since boot |
//! | 5 | `channel_send` | handle, pointer, length | 0 (may wait for room) |
//! | 6 | `channel_receive` | handle, pointer, capacity | message length (waits for one) |
//! | 7 | `map_shared` | address of a region granted at spawn | 0 (mapped; again is harmless) |
//! | 8 | `task_id` | — | the caller's task id |
//! | 9 | `abi_version` | — | [`ABI_VERSION`] |
//! | 10 | `panic` | location pointer, length, message pointer, length; `x4`: where its heap refused to grow for its memory limit (0: it did not) | does not return (the task fails with `Panic`; with a nonzero `x4` and the allocation-failure message, `OutOfMemory`) |
//! | 11 | `memory_info` | [`MemoryFigure`] | that figure, in bytes |
//! | 12 | `channel_receive_timeout` | handle, pointer, capacity, nanoseconds | message length, or `TimedOut` |
//! | 13 | `close` | handle | 0 (the handle is `Closed` from then on) |
//! | 14 | `console_read` | pointer, capacity (at least 1), nanoseconds | bytes read: at most 256 a call, or `TimedOut` |
//! | 15 | `console_read_line` | pointer, capacity | the line's length (waits for a whole line) |

/// A time argument (nanoseconds) meaning "forever": `sleep` never returns,
/// a receive never times out. Every duration of `u64::MAX` nanoseconds or
/// more (`Duration::MAX`) is passed as this.
pub const TIMEOUT_FOREVER: u64 = u64::MAX;

/// A duration as a system call's nanoseconds argument (saturating at [`TIMEOUT_FOREVER`]).
pub fn timeout_to_nanos(d: core::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(TIMEOUT_FOREVER)
}

/// A system call's nanoseconds argument as a duration ([`TIMEOUT_FOREVER`]: `Duration::MAX`).
pub fn timeout_from_nanos(nanos: u64) -> core::time::Duration {
    match nanos {
        TIMEOUT_FOREVER => core::time::Duration::MAX,
        n => core::time::Duration::from_nanos(n),
    }
}

/// The most bytes of a panic message (and of its location) the kernel keeps.
pub const MAX_PANIC_TEXT: u64 = 512;

/// Incremented whenever calls are added or extended (2: `channel_receive_timeout`,
/// `close`; 3: `console_read`, `console_read_line`; 4: `panic`'s `x4`, `memory_info`'s `Free`); a call never changes meaning, so a task built for version
/// `n` runs on any kernel of version `n` or later.
pub const ABI_VERSION: u64 = 4;

/// The system calls, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Syscall {
    Yield = 0,
    Sleep = 1,
    Exit = 2,
    ConsoleWrite = 3,
    Time = 4,
    ChannelSend = 5,
    ChannelReceive = 6,
    MapShared = 7,
    TaskId = 8,
    AbiVersion = 9,
    Panic = 10,
    MemoryInfo = 11,
    ChannelReceiveTimeout = 12,
    Close = 13,
    ConsoleRead = 14,
    ConsoleReadLine = 15,
}

impl Syscall {
    pub const ALL: [Syscall; 16] = [
        Self::Yield,
        Self::Sleep,
        Self::Exit,
        Self::ConsoleWrite,
        Self::Time,
        Self::ChannelSend,
        Self::ChannelReceive,
        Self::MapShared,
        Self::TaskId,
        Self::AbiVersion,
        Self::Panic,
        Self::MemoryInfo,
        Self::ChannelReceiveTimeout,
        Self::Close,
        Self::ConsoleRead,
        Self::ConsoleReadLine,
    ];
}

/// The calls that never block, switch tasks or touch user memory, answered on
/// the fast path: bit `n` (below 32) stands for call number `n`. `vectors.s`
/// takes this mask from here (`arch::exception` passes it in).
pub const FAST_SYSCALLS: u64 =
    (1 << Syscall::Time as u64) | (1 << Syscall::TaskId as u64) | (1 << Syscall::AbiVersion as u64);

const _: () = assert!(FAST_SYSCALLS < 1 << 32, "vectors.s tests numbers below 32 only");

impl Syscall {
    /// Is this call answered on the fast path?
    pub const fn is_fast(self) -> bool {
        FAST_SYSCALLS & (1 << self as u64) != 0
    }
}

/// What `memory_info` reports about the caller's memory, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum MemoryFigure {
    /// Its resident pages: stack, closure state, heap pages touched so far.
    Resident = 0,
    /// Its translation tables.
    Tables = 1,
    /// The most it may hold, pages and tables together.
    Limit = 2,
    /// Its heap's virtual reserve.
    HeapReserve = 3,
    /// What is left of its limit: the limit less its pages and tables (what
    /// its heap may still grow by; added in version 4).
    Free = 4,
}

impl MemoryFigure {
    pub const ALL: [MemoryFigure; 5] = [Self::Resident, Self::Tables, Self::Limit, Self::HeapReserve, Self::Free];
}

impl TryFrom<u64> for Syscall {
    type Error = SyscallError;
    fn try_from(nr: u64) -> Result<Self, SyscallError> {
        Ok(match nr {
            0 => Self::Yield,
            1 => Self::Sleep,
            2 => Self::Exit,
            3 => Self::ConsoleWrite,
            4 => Self::Time,
            5 => Self::ChannelSend,
            6 => Self::ChannelReceive,
            7 => Self::MapShared,
            8 => Self::TaskId,
            9 => Self::AbiVersion,
            10 => Self::Panic,
            11 => Self::MemoryInfo,
            12 => Self::ChannelReceiveTimeout,
            13 => Self::Close,
            14 => Self::ConsoleRead,
            15 => Self::ConsoleReadLine,
            _ => return Err(SyscallError::NoSuchCall),
        })
    }
}

/// Why a system call failed; returned in `x0` as the negative code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum SyscallError {
    /// Unknown call number.
    NoSuchCall = -1,
    /// A pointer outside the caller's address space, unmapped, or a kernel address.
    BadAddress = -2,
    /// A length that overflows or exceeds the call's limit.
    BadLength = -3,
    /// A pointer not aligned for its type.
    Misaligned = -4,
    /// An unknown channel or shared region.
    NoSuchObject = -5,
    /// The other end of the channel is gone.
    Disconnected = -6,
    /// The buffer is too small for the message.
    BufferTooSmall = -7,
    /// An argument out of range.
    InvalidArgument = -8,
    /// Nothing came before the timeout (`channel_receive_timeout`).
    TimedOut = -9,
    /// The handle was closed by this task (`close`).
    Closed = -10,
    /// The kernel heap has no room for what the call needs (a queued
    /// message); nothing was done, the caller may try again later.
    OutOfMemory = -11,
}

impl SyscallError {
    const ALL: [SyscallError; 11] = [
        Self::NoSuchCall,
        Self::BadAddress,
        Self::BadLength,
        Self::Misaligned,
        Self::NoSuchObject,
        Self::Disconnected,
        Self::BufferTooSmall,
        Self::InvalidArgument,
        Self::TimedOut,
        Self::Closed,
        Self::OutOfMemory,
    ];
}

/// Packs a result into the `x0` value returned to the task.
pub fn encode(result: Result<u64, SyscallError>) -> u64 {
    match result {
        Ok(v) => v & (i64::MAX as u64),
        Err(e) => e as i64 as u64,
    }
}

/// Unpacks the `x0` value a system call returned.
pub fn decode(x0: u64) -> Result<u64, SyscallError> {
    let v = x0 as i64;
    if v >= 0 {
        Ok(x0)
    } else {
        Err(SyscallError::ALL.iter().copied().find(|e| *e as i64 == v).unwrap_or(SyscallError::InvalidArgument))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_is_refused() {
        for s in Syscall::ALL {
            assert_eq!(Syscall::try_from(s as u64), Ok(s));
        }
        assert_eq!(Syscall::try_from(Syscall::ALL.len() as u64), Err(SyscallError::NoSuchCall));
        assert_eq!(Syscall::try_from(u64::MAX), Err(SyscallError::NoSuchCall));
    }

    #[test]
    fn fast_calls_are_the_non_blocking_ones() {
        let fast: Vec<Syscall> = Syscall::ALL.into_iter().filter(|s| s.is_fast()).collect();
        assert_eq!(fast, [Syscall::Time, Syscall::TaskId, Syscall::AbiVersion]);
    }

    #[test]
    fn timeouts_saturate_at_forever() {
        use core::time::Duration;
        assert_eq!(timeout_to_nanos(Duration::MAX), TIMEOUT_FOREVER);
        assert_eq!(timeout_to_nanos(Duration::from_secs(u64::MAX / 1_000_000_000 + 1)), TIMEOUT_FOREVER);
        assert_eq!(timeout_to_nanos(Duration::from_millis(3)), 3_000_000);
        assert_eq!(timeout_to_nanos(Duration::ZERO), 0);
        assert_eq!(timeout_from_nanos(TIMEOUT_FOREVER), Duration::MAX);
        assert_eq!(timeout_from_nanos(TIMEOUT_FOREVER - 1), Duration::from_nanos(u64::MAX - 1));
        assert_eq!(timeout_from_nanos(timeout_to_nanos(Duration::from_micros(7))), Duration::from_micros(7));
    }

    #[test]
    fn results_round_trip() {
        for r in [Ok(0), Ok(42), Ok(i64::MAX as u64)] {
            assert_eq!(decode(encode(r)), r);
        }
        for e in SyscallError::ALL {
            assert_eq!(decode(encode(Err(e))), Err(e));
        }
        assert_eq!(decode(-1000i64 as u64), Err(SyscallError::InvalidArgument));
    }
}
