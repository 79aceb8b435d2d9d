//! Typed channels between any tasks, isolated or not.
//!
//! The queue is a bounded [`crate::sync::mpsc`] channel: a kernel task
//! uses it directly; an isolated task holds a handle instead and reaches it
//! through the `channel_send` / `channel_receive` system calls, which copy
//! the message's bytes from or into its memory (`super::syscalls`). Both
//! forms have the same type and methods, so code reads the same on either
//! side of the boundary. Receiving comes in std's three shapes: `recv`
//! (waits), `try_recv` (does not) and `recv_timeout`. Dropping a granted
//! endpoint inside its task closes its handle (the `close` system call), so
//! the peer sees `Disconnected` then, not only when the task ends; a clone
//! made inside the task shares the handle and leaves it open.

use super::handles::{ChannelEnd, Grant, Handle, HandleTable};
use super::message::{Message, MAX_MESSAGE_SIZE};
use crate::arch::user_mode::running_at_el0;
use crate::sync::mpsc;
use crate::syscall::abi::SyscallError;
use alloc::boxed::Box;
use core::mem::ManuallyDrop;
use core::time::Duration;

/// Why a channel operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The other end is gone: the receiver, or every sender (and the
    /// channel is empty).
    Disconnected,
    /// This endpoint cannot be used here: a kernel endpoint inside an
    /// isolated task (hand it over with `task::Builder::grant` instead), or
    /// a granted one outside the task it was granted to.
    NotGranted,
    /// The endpoint's handle was closed (the endpoint it was granted as was dropped).
    Closed,
    /// The kernel heap had no room to queue the message; it was not sent.
    OutOfMemory,
    /// The kernel refused the system call (bad arguments made by hand).
    Refused(SyscallError),
}

impl From<SyscallError> for ChannelError {
    fn from(e: SyscallError) -> Self {
        match e {
            SyscallError::Disconnected => Self::Disconnected,
            SyscallError::NoSuchObject => Self::NotGranted,
            SyscallError::Closed => Self::Closed,
            SyscallError::OutOfMemory => Self::OutOfMemory,
            other => Self::Refused(other),
        }
    }
}

/// Why `try_recv` gave no message (std's shape, plus the ways an endpoint
/// can be unusable, as in [`ChannelError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// No message is waiting.
    Empty,
    Disconnected,
    NotGranted,
    Closed,
    Refused(SyscallError),
}

/// Why `recv_timeout` gave no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// None came in time.
    Timeout,
    Disconnected,
    NotGranted,
    Closed,
    Refused(SyscallError),
}

impl From<ChannelError> for RecvTimeoutError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Disconnected => Self::Disconnected,
            ChannelError::NotGranted => Self::NotGranted,
            ChannelError::Closed => Self::Closed,
            // Only a send can run out of memory; as a receive's error, it is the kernel's code.
            ChannelError::OutOfMemory => Self::Refused(SyscallError::OutOfMemory),
            ChannelError::Refused(e) => Self::Refused(e),
        }
    }
}

impl From<SyscallError> for RecvTimeoutError {
    fn from(e: SyscallError) -> Self {
        match e {
            SyscallError::TimedOut => Self::Timeout,
            other => ChannelError::from(other).into(),
        }
    }
}

impl From<RecvTimeoutError> for TryRecvError {
    fn from(e: RecvTimeoutError) -> Self {
        match e {
            RecvTimeoutError::Timeout => Self::Empty,
            RecvTimeoutError::Disconnected => Self::Disconnected,
            RecvTimeoutError::NotGranted => Self::NotGranted,
            RecvTimeoutError::Closed => Self::Closed,
            RecvTimeoutError::Refused(e) => Self::Refused(e),
        }
    }
}

/// The forms of an endpoint.
enum Endpoint<K> {
    /// The kernel object itself, for kernel tasks. Never dropped at EL0,
    /// where it is out of reach (it is leaked there, see `Drop`).
    Kernel(ManuallyDrop<K>),
    /// A handle in the table of the isolated task it was granted to; this
    /// endpoint owns it (dropped in the task, it closes it).
    Granted(Handle),
    /// A clone of a granted endpoint: the same handle, not owned.
    Shared(Handle),
}

impl<K> Endpoint<K> {
    /// The kernel object, if this is the kernel form and we are in the kernel.
    fn kernel(&self) -> Option<&K> {
        match self {
            Self::Kernel(k) if !running_at_el0() => Some(k),
            _ => None,
        }
    }

    /// The handle, if this is a granted form and we are in an isolated task.
    fn granted(&self) -> Option<Handle> {
        match self {
            Self::Granted(h) | Self::Shared(h) if running_at_el0() => Some(*h),
            _ => None,
        }
    }

    fn handle(&self) -> Option<Handle> {
        match self {
            Self::Granted(h) | Self::Shared(h) => Some(*h),
            Self::Kernel(_) => None,
        }
    }

    /// Grants the kernel object into `table`; a granted endpoint stays as it is.
    fn grant_into(self, table: &mut HandleTable, erase: impl FnOnce(K) -> Box<dyn ChannelEnd>) -> Self {
        let mut this = ManuallyDrop::new(self);
        match &mut *this {
            // SAFETY: `this` is never dropped, so the object is taken exactly once.
            Self::Kernel(k) => Self::Granted(table.insert(erase(unsafe { ManuallyDrop::take(k) }))),
            Self::Granted(h) => Self::Granted(*h),
            Self::Shared(h) => Self::Shared(*h),
        }
    }
}

impl<K> Drop for Endpoint<K> {
    fn drop(&mut self) {
        // A granted handle is closed when its endpoint is dropped inside its
        // task (in the kernel, before the task runs, it stays: the task has
        // it; whatever the task still holds is released as it ends). A
        // kernel object moved into an isolated task by mistake cannot be
        // reached from EL0: the task's copy is never dropped there, the
        // spawner's copy is (see `Builder::spawn_isolated`).
        match self {
            Self::Kernel(k) if !running_at_el0() => {
                // SAFETY: dropped once, here.
                unsafe { ManuallyDrop::drop(k) }
            }
            Self::Granted(h) if running_at_el0() => {
                // Another task's handle (moved here by mistake) is not ours to close: refused, harmless.
                let _ = crate::syscall::user::close(h.number());
            }
            _ => {}
        }
    }
}

/// The sending half of a channel of `T`; clone it for more senders.
pub struct Sender<T: Message>(Endpoint<mpsc::SyncSender<T>>);
/// The receiving half of a channel of `T`.
pub struct Receiver<T: Message>(Endpoint<mpsc::Receiver<T>>);

/// A channel holding at most `bound` messages of type `T` (0: each `send`
/// waits until its message is received). Bounded on purpose: a task that
/// sends faster than its peer receives waits, rather than filling the
/// kernel's heap. `T` is at most [`MAX_MESSAGE_SIZE`] bytes, checked when
/// the program is built.
pub fn channel<T: Message>(bound: usize) -> (Sender<T>, Receiver<T>) {
    const {
        assert!(
            core::mem::size_of::<T>() <= MAX_MESSAGE_SIZE,
            "an ipc message is at most ipc::MAX_MESSAGE_SIZE (1024) bytes: send a larger one in pieces, or through a shared region"
        )
    };
    let (tx, rx) = mpsc::sync_channel(bound);
    (Sender(Endpoint::Kernel(ManuallyDrop::new(tx))), Receiver(Endpoint::Kernel(ManuallyDrop::new(rx))))
}

impl<T: Message> Sender<T> {
    /// Sends `message`, waiting for room in the channel. `OutOfMemory`
    /// if the kernel heap has no room to queue it (in either world).
    pub fn send(&self, message: T) -> Result<(), ChannelError> {
        if let Some(handle) = self.0.granted() {
            let bytes = super::message::bytes_of(&message);
            return crate::syscall::user::channel_send(handle.number(), bytes).map(|_| ()).map_err(Into::into);
        }
        let tx = self.0.kernel().ok_or(ChannelError::NotGranted)?;
        tx.send_fallible(message).map_err(|e| match e {
            mpsc::SendFailure::OutOfMemory(_) => ChannelError::OutOfMemory,
            mpsc::SendFailure::Refused(_) => ChannelError::Disconnected,
        })
    }

    /// The handle of a granted sender (for raw system calls), else `None`.
    pub fn handle(&self) -> Option<Handle> {
        self.0.handle()
    }
}

impl<T: Message> Receiver<T> {
    /// Waits for a message.
    pub fn recv(&self) -> Result<T, ChannelError> {
        if let Some(handle) = self.0.granted() {
            let mut message = core::mem::MaybeUninit::<T>::zeroed();
            let size = core::mem::size_of::<T>();
            let ptr = message.as_mut_ptr() as u64;
            crate::syscall::user::channel_receive(handle.number(), ptr, size as u64)?;
            // SAFETY: zeroed, then (maybe) overwritten by the kernel; every bit pattern is a valid `T`.
            return Ok(unsafe { message.assume_init() });
        }
        let rx = self.0.kernel().ok_or(ChannelError::NotGranted)?;
        rx.recv().map_err(|_| ChannelError::Disconnected)
    }

    /// A message if one is waiting, without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.recv_timeout(Duration::ZERO).map_err(Into::into)
    }

    /// Waits at most `timeout` for a message (`Duration::MAX`: forever).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        if let Some(handle) = self.0.granted() {
            let mut message = core::mem::MaybeUninit::<T>::zeroed();
            let (size, ptr) = (core::mem::size_of::<T>() as u64, message.as_mut_ptr() as u64);
            let nanos = crate::syscall::abi::timeout_to_nanos(timeout);
            crate::syscall::user::channel_receive_timeout(handle.number(), ptr, size, nanos)?;
            // SAFETY: zeroed, then (maybe) overwritten by the kernel; every bit pattern is a valid `T`.
            return Ok(unsafe { message.assume_init() });
        }
        let rx = self.0.kernel().ok_or(RecvTimeoutError::NotGranted)?;
        rx.recv_timeout(timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            mpsc::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
        })
    }

    /// The messages until every sender is gone (or an error).
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        core::iter::from_fn(move || self.recv().ok())
    }

    /// The handle of a granted receiver (for raw system calls), else `None`.
    pub fn handle(&self) -> Option<Handle> {
        self.0.handle()
    }
}

impl<T: Message> Clone for Sender<T> {
    /// Another sender on the same channel. A granted sender's clone shares
    /// its handle (and does not keep it open: dropping the original closes
    /// it, and the clone then gets `Closed`); a kernel sender cloned at EL0
    /// (where it is out of reach) gives an unusable one.
    fn clone(&self) -> Self {
        match (&self.0, self.0.kernel()) {
            (_, Some(tx)) => Self(Endpoint::Kernel(ManuallyDrop::new(tx.clone()))),
            (Endpoint::Granted(h) | Endpoint::Shared(h), None) => Self(Endpoint::Shared(*h)),
            (Endpoint::Kernel(_), None) => Self(Endpoint::Shared(Handle::NONE)),
        }
    }
}

impl<T: Message> Grant for Sender<T> {
    fn grant_into(self, table: &mut HandleTable) -> Self {
        let Sender(endpoint) = self;
        Sender(endpoint.grant_into(table, |tx| Box::new(tx)))
    }
}

impl<T: Message> Grant for Receiver<T> {
    fn grant_into(self, table: &mut HandleTable) -> Self {
        let Receiver(endpoint) = self;
        Receiver(endpoint.grant_into(table, |rx| Box::new(rx)))
    }
}
