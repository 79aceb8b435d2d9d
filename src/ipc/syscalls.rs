//! The kernel side of `channel_send` (5), `channel_receive` (6),
//! `channel_receive_timeout` (12) and `close` (13).
//!
//! The handle is looked up in the calling task's own table; then the user
//! buffer is checked before anything is copied: its length must be the
//! channel's message size exactly (`BadLength`; for a receive, a smaller
//! buffer is `BufferTooSmall`), its address aligned for the message type
//! (`Misaligned`) and inside the task's half (`BadAddress`). The copy goes
//! through `copy_from_user` / `copy_to_user` only, so an unmapped or
//! read-only buffer is `BadAddress`, never a kernel fault. Both calls may
//! block (a full channel, an empty one) like any kernel wait; a receive
//! with a timeout waits at most that long (`TimedOut`). A closed handle is
//! `Closed`. A send the kernel heap has no room to queue is `OutOfMemory`:
//! the task goes on.

use super::handles::ChannelEnd;
use super::message::{bytes_of, Message};
use crate::arch::user_access::{copy_from_user, copy_to_user, UserRange};
use crate::sync::mpsc;
use crate::syscall::abi::SyscallError;
use core::time::Duration;

/// `channel_send(handle, pointer, length)`.
pub(crate) fn channel_send(handle: u64, ptr: u64, len: u64) -> Result<u64, SyscallError> {
    crate::task::with_current_handles(|table| table.get(handle)?.send_from_user(ptr, len))
        .unwrap_or(Err(SyscallError::NoSuchObject))
}

/// `channel_receive(handle, pointer, capacity)` and, with `timeout`,
/// `channel_receive_timeout(handle, pointer, capacity, nanoseconds)`.
pub(crate) fn channel_receive(handle: u64, ptr: u64, capacity: u64, timeout: Duration) -> Result<u64, SyscallError> {
    crate::task::with_current_handles(|table| table.get(handle)?.receive_to_user(ptr, capacity, timeout))
        .unwrap_or(Err(SyscallError::NoSuchObject))
}

/// `close(handle)`: releases the object now, outside the table's borrow
/// (dropping an endpoint wakes its peer, which may switch tasks).
pub(crate) fn close(handle: u64) -> Result<u64, SyscallError> {
    let object = crate::task::with_current_handles_mut(|table| table.close(handle))
        .unwrap_or(Err(SyscallError::NoSuchObject))?;
    drop(object);
    Ok(0)
}

/// Checks a user buffer of `len` bytes at `ptr` for a `T`.
fn check_buffer<T>(ptr: u64, len: u64) -> Result<(), SyscallError> {
    if !ptr.is_multiple_of(core::mem::align_of::<T>() as u64) {
        return Err(SyscallError::Misaligned);
    }
    let len = usize::try_from(len).map_err(|_| SyscallError::BadLength)?;
    UserRange::new(ptr, len)?;
    Ok(())
}

/// Writes `len` zero bytes at user address `ptr`.
fn zero_user(ptr: u64, len: usize) -> Result<(), SyscallError> {
    const ZEROS: [u8; 64] = [0; 64];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(ZEROS.len());
        copy_to_user(ptr + done as u64, &ZEROS[..n])?;
        done += n;
    }
    Ok(())
}

impl<T: Message> ChannelEnd for mpsc::SyncSender<T> {
    fn send_from_user(&self, ptr: u64, len: u64) -> Result<u64, SyscallError> {
        if len != core::mem::size_of::<T>() as u64 {
            return Err(SyscallError::BadLength);
        }
        check_buffer::<T>(ptr, len)?;
        let mut message = core::mem::MaybeUninit::<T>::zeroed();
        // SAFETY: `size_of::<T>()` zeroed (so initialized) bytes of our own.
        let bytes = unsafe { core::slice::from_raw_parts_mut(message.as_mut_ptr() as *mut u8, len as usize) };
        copy_from_user(bytes, ptr)?;
        // SAFETY: every bit pattern is a valid `T` (`Message`'s contract).
        let message = unsafe { message.assume_init() };
        self.send_fallible(message).map_err(|e| match e {
            mpsc::SendFailure::OutOfMemory(_) => SyscallError::OutOfMemory,
            mpsc::SendFailure::Refused(_) => SyscallError::Disconnected,
        })?;
        Ok(0)
    }

    fn receive_to_user(&self, _: u64, _: u64, _: Duration) -> Result<u64, SyscallError> {
        Err(SyscallError::NoSuchObject) // a sender, not a receiver
    }
}

impl<T: Message> ChannelEnd for mpsc::Receiver<T> {
    fn send_from_user(&self, _: u64, _: u64) -> Result<u64, SyscallError> {
        Err(SyscallError::NoSuchObject) // a receiver, not a sender
    }

    fn receive_to_user(&self, ptr: u64, capacity: u64, timeout: Duration) -> Result<u64, SyscallError> {
        let size = core::mem::size_of::<T>();
        if capacity < size as u64 {
            return Err(SyscallError::BufferTooSmall);
        }
        check_buffer::<T>(ptr, capacity)?;
        // Prove the buffer writable before taking a message off the queue,
        // so a bad buffer never loses one.
        zero_user(ptr, size)?;
        let message = self.recv_timeout(timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => SyscallError::TimedOut,
            mpsc::RecvTimeoutError::Disconnected => SyscallError::Disconnected,
        })?;
        // The task's mappings only grow while it waits, so this cannot fail
        // after the probe above; if it did, the message would be lost.
        copy_to_user(ptr, bytes_of(&message))?;
        Ok(size as u64)
    }
}
