//! Communication between tasks that do not share memory: typed channels
//! whose endpoints can be handed to isolated tasks, and (in [`crate::mm`])
//! shared regions.
//!
//! ```ignore
//! let (tx, rx) = ilusion::ipc::channel::<u64>(4);
//! let mut producer = task::Builder::new().name("producer");
//! let tx = producer.grant(tx);            // now a handle of the new task
//! producer.spawn_isolated(move || { tx.send(42).unwrap(); })?;
//! assert_eq!(rx.recv(), Ok(42));          // a kernel task, directly
//! ```
//!
//! An isolated task's memory holds nothing that points into the kernel, so
//! what it captured cannot be a kernel object. A [`Sender`] or [`Receiver`]
//! therefore comes in two forms with the same methods: the *kernel* form
//! (the channel itself, used by kernel tasks directly) and the *granted*
//! form, a handle number that only means something in the isolated task it
//! was granted to (`task::Builder::grant`), and goes through the
//! `channel_send` / `channel_receive` system calls. Messages are plain data
//! ([`Message`]): the kernel copies their bytes from one address space into
//! the other, so a pointer inside one would mean nothing on arrival.

mod handles;
mod message;

pub use handles::{Grant, Handle, HandleTable};
pub use message::{Message, MAX_MESSAGE_SIZE};

#[cfg(target_os = "none")]
mod channel;
#[cfg(target_os = "none")]
pub(crate) mod syscalls;

#[cfg(target_os = "none")]
pub use channel::{channel, ChannelError, Receiver, RecvTimeoutError, Sender, TryRecvError};
