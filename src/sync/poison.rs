//! Poisoning, as in `std::sync`: a mutex whose holder failed (panicked or
//! faulted) stays usable, but every later `lock` says so by returning the
//! guard inside a [`PoisonError`].

use core::fmt;

/// The lock was held by a task that failed. The guard is still inside.
pub struct PoisonError<G> {
    guard: G,
}

impl<G> PoisonError<G> {
    pub fn new(guard: G) -> Self {
        Self { guard }
    }
    pub fn into_inner(self) -> G {
        self.guard
    }
    pub fn get_ref(&self) -> &G {
        &self.guard
    }
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G> fmt::Debug for PoisonError<G> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("PoisonError { .. }")
    }
}

impl<G> fmt::Display for PoisonError<G> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("poisoned lock: another task failed while holding it")
    }
}

/// Why `try_lock` did not give the lock.
pub enum TryLockError<G> {
    Poisoned(PoisonError<G>),
    WouldBlock,
}

impl<G> fmt::Debug for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Poisoned(_) => f.write_str("Poisoned(..)"),
            Self::WouldBlock => f.write_str("WouldBlock"),
        }
    }
}

impl<G> From<PoisonError<G>> for TryLockError<G> {
    fn from(e: PoisonError<G>) -> Self {
        Self::Poisoned(e)
    }
}

pub type LockResult<G> = Result<G, PoisonError<G>>;
pub type TryLockResult<G> = Result<G, TryLockError<G>>;
