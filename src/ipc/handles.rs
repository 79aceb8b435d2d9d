//! Handles: how an isolated task names the kernel objects it was granted.
//!
//! Each isolated task has its own [`HandleTable`], filled at spawn by
//! `task::Builder::grant` and emptied when the task ends (so the other end
//! of each channel sees the disconnection at once, not when the task is
//! joined). A handle number is drawn from one counter for the whole
//! system and never reused: a number taken from another task is never a
//! valid handle here, it is `NoSuchObject`, not someone else's channel.
//! The task may give a handle back early (the `close` system call): its
//! object is released then, and its entry stays behind, empty, so that
//! the number is `Closed` from then on (the table never grows after spawn).

use crate::syscall::abi::SyscallError;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// The name of a granted object inside the task it was granted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(u64);

impl Handle {
    /// A number no object ever has.
    pub const NONE: Handle = Handle(0);

    /// The number the system calls take.
    pub fn number(self) -> u64 {
        self.0
    }
}

static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// A channel endpoint as the system calls see it: the message type is
/// erased, and each call copies the message from or to user memory.
pub(crate) trait ChannelEnd {
    /// `channel_send`: the message at user address `ptr`, `len` bytes.
    fn send_from_user(&self, ptr: u64, len: u64) -> Result<u64, SyscallError>;
    /// `channel_receive(_timeout)`: waits at most `timeout` for a message
    /// (`Duration::MAX`: forever) and writes it at `ptr` (`capacity` bytes
    /// there); returns its length.
    fn receive_to_user(&self, ptr: u64, capacity: u64, timeout: core::time::Duration) -> Result<u64, SyscallError>;
}

/// One isolated task's granted objects, by handle (opaque outside
/// ilusion). An entry without its object is a handle the task closed.
#[derive(Default)]
pub struct HandleTable {
    entries: Vec<(Handle, Option<Box<dyn ChannelEnd>>)>,
}

impl HandleTable {
    /// Records `object`; returns its new handle.
    pub(crate) fn insert(&mut self, object: Box<dyn ChannelEnd>) -> Handle {
        let handle = Handle(NEXT_HANDLE.fetch_add(1, Ordering::Relaxed));
        self.entries.push((handle, Some(object)));
        handle
    }

    /// The object named `number`: `NoSuchObject` if this table never had
    /// it, `Closed` if the task closed it.
    pub(crate) fn get(&self, number: u64) -> Result<&dyn ChannelEnd, SyscallError> {
        match self.entries.iter().find(|(h, _)| h.0 == number) {
            None => Err(SyscallError::NoSuchObject),
            Some((_, None)) => Err(SyscallError::Closed),
            Some((_, Some(object))) => Ok(&**object),
        }
    }

    /// Takes the object named `number` out (for the caller to release);
    /// the number is `Closed` from now on.
    pub(crate) fn close(&mut self, number: u64) -> Result<Box<dyn ChannelEnd>, SyscallError> {
        match self.entries.iter_mut().find(|(h, _)| h.0 == number) {
            None => Err(SyscallError::NoSuchObject),
            Some((_, object)) => object.take().ok_or(SyscallError::Closed),
        }
    }
}

impl core::fmt::Debug for HandleTable {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(h, _)| h.0)).finish()
    }
}

/// Something a `task::Builder` can hand to the isolated task it spawns:
/// granting returns the same kind of value, in the form that task can use.
pub trait Grant: Sized {
    /// Records the kernel object in `table`; returns its granted form.
    #[doc(hidden)]
    fn grant_into(self, table: &mut HandleTable) -> Self;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy;
    impl ChannelEnd for Dummy {
        fn send_from_user(&self, _: u64, _: u64) -> Result<u64, SyscallError> {
            Ok(1)
        }
        fn receive_to_user(&self, _: u64, _: u64, _: core::time::Duration) -> Result<u64, SyscallError> {
            Ok(2)
        }
    }

    #[test]
    fn a_handle_means_something_only_in_its_own_table() {
        let (mut a, mut b) = (HandleTable::default(), HandleTable::default());
        let in_a = a.insert(Box::new(Dummy));
        let in_b = b.insert(Box::new(Dummy));
        assert_ne!(in_a, in_b);
        assert!(a.get(in_a.number()).is_ok() && b.get(in_b.number()).is_ok());
        assert_eq!(a.get(in_b.number()).err(), Some(SyscallError::NoSuchObject));
        assert_eq!(b.get(in_a.number()).err(), Some(SyscallError::NoSuchObject));
        assert_eq!(a.get(Handle::NONE.number()).err(), Some(SyscallError::NoSuchObject));
        assert_eq!(a.get(in_a.number()).map(|o| o.send_from_user(0, 0)).ok(), Some(Ok(1)));
    }

    #[test]
    fn a_closed_handle_is_closed_for_good() {
        let mut table = HandleTable::default();
        let (first, second) = (table.insert(Box::new(Dummy)), table.insert(Box::new(Dummy)));
        assert!(table.close(first.number()).is_ok());
        assert_eq!(table.get(first.number()).err(), Some(SyscallError::Closed));
        assert_eq!(table.close(first.number()).err(), Some(SyscallError::Closed), "closing twice");
        assert_eq!(table.close(999_999).err(), Some(SyscallError::NoSuchObject));
        let other = table.get(second.number()).map(|o| o.receive_to_user(0, 0, core::time::Duration::ZERO));
        assert_eq!(other.ok(), Some(Ok(2)), "the other handle is untouched");
        assert_eq!(table.entries.len(), 2, "closing leaves the entry, the table does not grow");
    }
}
