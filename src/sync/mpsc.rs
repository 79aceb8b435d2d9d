//! Multi-producer, single-consumer channels, as `std::sync::mpsc`.
//!
//! [`channel`] is unbounded: `send` never blocks. [`sync_channel`]`(n)`
//! holds at most `n` messages: `send` waits for room; with `n = 0` every
//! `send` waits until the receiver has taken its message (a rendezvous).
//! Messages from one sender arrive in the order sent. When every sender is
//! gone, `recv` drains what is left and then reports disconnection; when the
//! receiver is gone, `send` gives the message back in a `SendError` (a
//! rendezvous `send` waiting when the receiver goes without taking its
//! message too: it was never received). A rendezvous `send` that times out
//! or whose task is killed while it waits takes its message back: the
//! receiver never gets a message whose `send` did not return `Ok` (a
//! receiver that took it between the kill and the sender's next run makes
//! that `send` return `Ok`; the kill ends the task at its next block).
//! Queued messages live on the kernel heap; when it has no room for one
//! more, `send` ends the calling task with `TaskFailure::OutOfKernelMemory`
//! (as any failed allocation), decided outside the critical section; the
//! system-call path gets an error instead (`send_fallible`).

use crate::critical::{CriticalSection, KernelCell};
use crate::sched::tcb::WakeReason;
use crate::sched::{scheduler, wait_queue::WaitQueue};
use crate::time::{deadline_from_now, Duration, Instant};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::fmt;

struct State<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    capacity: Option<usize>,
    senders: usize,
    receiver_alive: bool,
    /// Messages taken by the receiver so far (for rendezvous senders).
    taken: u64,
    sent: u64,
}

struct Shared<T> {
    state: KernelCell<State<T>>,
    /// The receiver, waiting for a message.
    receiver_waits: WaitQueue,
    /// Senders waiting for room, or for their message to be taken.
    senders_wait: WaitQueue,
}

/// The sending half of an unbounded channel.
pub struct Sender<T>(Arc<Shared<T>>);
/// The sending half of a bounded channel.
pub struct SyncSender<T>(Arc<Shared<T>>);
/// The receiving half.
pub struct Receiver<T>(Arc<Shared<T>>);

// SAFETY: the shared state is only touched with interrupts masked on one
// core; messages of a `Send` type may move between tasks.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SyncSender<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SyncSender<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Receiver<T> {}

/// The receiver is gone; here is your message back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);
/// Every sender is gone and the channel is empty.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    Empty,
    Disconnected,
}
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    Timeout,
    Disconnected,
}
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    Full(T),
    Disconnected(T),
}
/// Why `send_timeout` gave the message back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// No room (or, on a rendezvous channel, no receiver took it) in time.
    Timeout(T),
    Disconnected(T),
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}
impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "Timeout(..)",
            Self::Disconnected(_) => "Disconnected(..)",
        })
    }
}
impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Disconnected(_) => "Disconnected(..)",
        })
    }
}

fn new_channel<T>(capacity: Option<usize>) -> Arc<Shared<T>> {
    Arc::new(Shared {
        state: KernelCell::new(State {
            queue: VecDeque::new(),
            capacity,
            senders: 1,
            receiver_alive: true,
            taken: 0,
            sent: 0,
        }),
        receiver_waits: WaitQueue::new(),
        senders_wait: WaitQueue::new(),
    })
}

/// An unbounded channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = new_channel(None);
    (Sender(shared.clone()), Receiver(shared))
}

/// A channel holding at most `bound` messages (0: rendezvous).
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let shared = new_channel(Some(bound));
    (SyncSender(shared.clone()), Receiver(shared))
}

/// Why [`Shared::send`] failed: as [`SendTimeoutError`], or the kernel heap
/// had no room for the message (the queue could not grow).
pub(crate) enum SendFailure<T> {
    Refused(SendTimeoutError<T>),
    OutOfMemory(T),
}

impl<T> From<SendTimeoutError<T>> for SendFailure<T> {
    fn from(e: SendTimeoutError<T>) -> Self {
        Self::Refused(e)
    }
}

/// For the public `send`s: an out-of-memory failure ends the calling task
/// (as any failed allocation does), here, outside the critical section.
fn refused_or_out_of_memory<T>(result: Result<(), SendFailure<T>>) -> Result<(), SendTimeoutError<T>> {
    match result {
        Ok(()) => Ok(()),
        Err(SendFailure::Refused(e)) => Err(e),
        Err(SendFailure::OutOfMemory(_)) => {
            let (size, align) = crate::mm::heap::last_failure().unwrap_or((core::mem::size_of::<T>(), 1));
            alloc::alloc::handle_alloc_error(core::alloc::Layout::from_size_align(size, align).unwrap())
        }
    }
}

impl<T> Shared<T> {
    /// Sends, waiting for room (bounded) until `deadline` if `block`
    /// (`None`: forever); gives the message back on failure. A rendezvous
    /// message not taken by the deadline is taken back out of the channel.
    /// The queue grows only if the heap has room (checked, never a panic
    /// inside the critical section).
    fn send(&self, value: T, block: bool, deadline: Option<Instant>) -> Result<(), SendFailure<T>> {
        let masked = CriticalSection::new();
        let deadline = deadline.map(Instant::ticks);
        let mut value = Some(value);
        let seq = loop {
            let pushed = self.state.with(&masked, |s| {
                if !s.receiver_alive {
                    return Err(SendTimeoutError::Disconnected(value.take().unwrap()).into());
                }
                let room = match s.capacity {
                    None => true,
                    // A rendezvous holds one message, and a `try_send` hands
                    // it only to a receiver waiting in `recv` (as std's:
                    // `Ok` means it was taken).
                    Some(0) => s.queue.is_empty() && (block || self.receiver_waits.has_waiters(&masked)),
                    Some(bound) => s.queue.len() < bound,
                };
                if room {
                    if s.queue.try_reserve(1).is_err() {
                        return Err(SendFailure::OutOfMemory(value.take().unwrap()));
                    }
                    s.queue.push_back(value.take().unwrap());
                    s.sent += 1;
                    return Ok(Some(s.sent));
                }
                Ok(None)
            })?;
            if let Some(seq) = pushed {
                break seq;
            }
            if !block || self.senders_wait.wait(&masked, deadline, crate::trace::On::CHANNEL) == WakeReason::TimedOut {
                // One last look: room may have come with the deadline.
                if !block || self.state.with(&masked, |s| s.capacity.is_some_and(|c| s.queue.len() >= c.max(1))) {
                    return Err(SendTimeoutError::Timeout(value.take().unwrap()).into());
                }
            }
        };
        if !(block && self.state.with(&masked, |s| s.capacity == Some(0))) {
            // Done: the receiver, if it waits, takes the message (and runs
            // now if it is more urgent).
            self.receiver_waits.wake_one_and_reschedule(&masked);
            return Ok(());
        }
        self.receiver_waits.wake_one(&masked);
        self.wait_until_taken(masked, seq, deadline)
    }

    /// A rendezvous `send` whose message (number `seq`) is in the channel:
    /// waits until the receiver has taken it, until `deadline`, or until
    /// the receiver goes, and takes it back in the last two cases. Out of
    /// line: the other channels' `send` stays short.
    #[inline(never)]
    fn wait_until_taken(&self, masked: CriticalSection, seq: u64, deadline: Option<u64>) -> Result<(), SendFailure<T>> {
        // Killed while it waits, the task takes its message back as a timed
        // out one does (the receiver never gets a message whose `send` never
        // returned), then ends, the message dropped outside the section.
        while self.state.with(&masked, |s| s.taken < seq && s.receiver_alive) {
            let why = self.senders_wait.wait_unless_killed(&masked, deadline, crate::trace::On::CHANNEL);
            if why == WakeReason::TimedOut || why == WakeReason::Cancelled {
                // Not taken in time: ours is the one message in the channel (capacity 1).
                let back = self
                    .state
                    .with(&masked, |s| (s.taken < seq && s.sent == seq).then(|| s.queue.pop_back()).flatten());
                if let Some(message) = back {
                    self.state.with(&masked, |s| s.sent -= 1);
                    self.senders_wait.wake_all(&masked); // the slot is free again
                    if why == WakeReason::Cancelled {
                        drop(masked);
                        drop(message);
                        scheduler::end_killed();
                    }
                    scheduler::reschedule_point(&masked);
                    return Err(SendTimeoutError::Timeout(message).into());
                }
                // Not there: the receiver took it after the kill, before this
                // task ran again. Then the send happened: it returns `Ok`,
                // and the kill ends the task at its next block or yield, as
                // for a wait that was over when the kill came.
            }
        }
        // The receiver went without taking it: it is still in the
        // channel (`Receiver::drop` leaves a rendezvous message to its
        // sender), the one message there; it goes back, never received.
        let back = self.state.with(&masked, |s| (s.taken < seq).then(|| s.queue.pop_front()).flatten());
        if let Some(message) = back {
            return Err(SendTimeoutError::Disconnected(message).into());
        }
        scheduler::reschedule_point(&masked);
        Ok(())
    }

    fn recv(&self, deadline: Option<Option<Instant>>) -> Result<T, RecvTimeoutError> {
        let masked = CriticalSection::new();
        loop {
            // (An `Option` of the message, not a nested enum: the message
            // then stays in registers instead of being copied through memory.)
            let got = self.state.with(&masked, |s| {
                let got = s.queue.pop_front();
                s.taken += got.is_some() as u64;
                got
            });
            if let Some(message) = got {
                // One slot came free: one sender waiting for room can use it
                // (waking them all would send the others back to sleep).
                // Rendezvous senders wait for their own message to be
                // taken, so they all look.
                if self.state.with(&masked, |s| s.capacity == Some(0)) {
                    self.senders_wait.wake_all(&masked);
                    scheduler::reschedule_point(&masked);
                } else {
                    self.senders_wait.wake_one_and_reschedule(&masked);
                }
                return Ok(message);
            }
            if self.state.with(&masked, |s| s.senders == 0) {
                return Err(RecvTimeoutError::Disconnected);
            }
            match deadline {
                None => return Err(RecvTimeoutError::Timeout), // try_recv: do not wait
                Some(until) => {
                    let reason =
                        self.receiver_waits.wait(&masked, until.map(Instant::ticks), crate::trace::On::CHANNEL);
                    if reason == WakeReason::TimedOut && self.state.with(&masked, |s| s.queue.is_empty()) {
                        return Err(RecvTimeoutError::Timeout);
                    }
                }
            }
        }
    }
}

impl<T> Sender<T> {
    /// Sends without blocking; `Err` if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        refused_or_out_of_memory(self.0.send(value, false, None)).map_err(|e| match e {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => SendError(v),
        })
    }
}

impl<T> SyncSender<T> {
    /// Sends, waiting for room; `Err` if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        refused_or_out_of_memory(self.0.send(value, true, None)).map_err(|e| match e {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => SendError(v),
        })
    }

    /// Sends, waiting at most `timeout` for room (`Duration::MAX`: forever);
    /// on a rendezvous channel (`sync_channel(0)`), for a receiver to take
    /// the message. `Err` gives the message back.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        refused_or_out_of_memory(self.0.send(value, true, deadline_from_now(timeout)))
    }

    /// Sends if there is room now; on a rendezvous channel
    /// (`sync_channel(0)`), only if a receiver is waiting in `recv`, which
    /// takes the message.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        refused_or_out_of_memory(self.0.send(value, false, None)).map_err(|e| match e {
            SendTimeoutError::Timeout(v) => TrySendError::Full(v),
            SendTimeoutError::Disconnected(v) => TrySendError::Disconnected(v),
        })
    }

    /// As [`Self::send`], but a full kernel heap is an error for this call
    /// (`OutOfMemory`), not the end of the calling task: for system calls.
    pub(crate) fn send_fallible(&self, value: T) -> Result<(), SendFailure<T>> {
        self.0.send(value, true, None)
    }
}

impl<T> Receiver<T> {
    /// Waits for a message; `Err` once every sender is gone and the channel is empty.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.0.recv(Some(None)).map_err(|_| RecvError)
    }

    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.recv(None).map_err(|e| match e {
            RecvTimeoutError::Timeout => TryRecvError::Empty,
            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.0.recv(Some(deadline_from_now(timeout)))
    }

    /// The messages until every sender is gone.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        core::iter::from_fn(move || self.recv().ok())
    }
}

fn add_sender<T>(shared: &Arc<Shared<T>>) -> Arc<Shared<T>> {
    shared.state.with(&CriticalSection::new(), |s| s.senders += 1);
    shared.clone()
}

fn drop_sender<T>(shared: &Shared<T>) {
    let masked = CriticalSection::new();
    if shared.state.with(&masked, |s| {
        s.senders -= 1;
        s.senders == 0
    }) {
        shared.receiver_waits.wake_all(&masked);
        scheduler::reschedule_point(&masked);
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self(add_sender(&self.0))
    }
}
impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        Self(add_sender(&self.0))
    }
}
impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.0)
    }
}
impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.0)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let masked = CriticalSection::new();
        // Messages still queued are dropped after the critical section;
        // but a rendezvous message stays for its sender, whose `send` fails
        // with it (it waits until its message is taken).
        let left = self.0.state.with(&masked, |s| {
            s.receiver_alive = false;
            if s.capacity == Some(0) {
                VecDeque::new()
            } else {
                core::mem::take(&mut s.queue)
            }
        });
        self.0.senders_wait.wake_all(&masked);
        scheduler::reschedule_point(&masked);
        drop(masked);
        drop(left);
    }
}
