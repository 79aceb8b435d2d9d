//! The system-call ABI, version [`ABI_VERSION`].
//!
//! A task puts the call number in `x8` and up to six arguments in `x0`–`x5`,
//! then executes `SVC #0`. The kernel returns one value in `x0`: a
//! non-negative result, or a negative [`SyscallError`] code. Every pointer
//! argument is a user address, checked against the caller's address space
//! before use; a bad one is an error, never a kernel fault.
//!
//! The channel calls take a handle the task was granted at spawn
//! (`task::Builder::grant`; see [`crate::ipc`]): an unknown handle, one of
//! another task, or a sender given to `channel_receive` (and the reverse)
//! is `NoSuchObject`. The buffer holds one message: its length must be the
//! channel's message size (`BadLength`; for `channel_receive` a smaller
//! capacity is `BufferTooSmall`, a larger one is fine), its address aligned
//! for the message type (`Misaligned`) and mapped, writable for a receive
//! (`BadAddress`). When the other end is gone: `Disconnected`. Shared
//! regions need no call: `task::Builder::share` maps them before the task
//! starts.
//!
//! | nr | call | arguments | result |
//! |---:|---|---|---|
//! | 0 | `yield` | — | 0 |
//! | 1 | `sleep` | nanoseconds | 0 |
//! | 2 | `exit` | status | does not return |
//! | 3 | `console_write` | pointer, length | bytes written |
//! | 4 | `time` | — | nanoseconds since boot |
//! | 5 | `channel_send` | handle, pointer, length | 0 (may wait for room) |
//! | 6 | `channel_receive` | handle, pointer, capacity | message length (waits for one) |
//! | 7 | `map_shared` | region, address | always `NoSuchObject`: regions are mapped at spawn |
//! | 8 | `task_id` | — | the caller's task id |
//! | 9 | `abi_version` | — | [`ABI_VERSION`] |

/// Incremented whenever a call changes meaning; calls are only ever added.
pub const ABI_VERSION: u64 = 1;

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
}

impl Syscall {
    pub const ALL: [Syscall; 10] = [
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
    ];
}

impl TryFrom<u64> for Syscall {
    type Error = SyscallError;
    fn try_from(nr: u64) -> Result<Self, SyscallError> {
        Self::ALL.get(nr as usize).copied().filter(|s| *s as u64 == nr).ok_or(SyscallError::NoSuchCall)
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
}

impl SyscallError {
    const ALL: [SyscallError; 8] = [
        Self::NoSuchCall,
        Self::BadAddress,
        Self::BadLength,
        Self::Misaligned,
        Self::NoSuchObject,
        Self::Disconnected,
        Self::BufferTooSmall,
        Self::InvalidArgument,
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
        assert_eq!(Syscall::try_from(10), Err(SyscallError::NoSuchCall));
        assert_eq!(Syscall::try_from(u64::MAX), Err(SyscallError::NoSuchCall));
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
