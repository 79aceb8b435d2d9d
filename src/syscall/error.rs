//! What a system call's failure means for the calling task, decided in one
//! place (as Hubris's `err.rs` does).
//!
//! A handler never reports, nor ends the task, when a call goes wrong: it
//! returns an error, and [`finish`] alone turns the outcome into what the
//! task sees: a result or a negative error code in `x0` (the task goes on),
//! or the end of the task, reported with its registers. A refused user
//! pointer ([`UserAccessError`]) becomes its error code by `?`.

use super::abi::{encode, SyscallError};
use crate::arch::exception::Fault;
use crate::arch::user_access::UserAccessError;
use crate::task::TaskFailure;

/// Why a call gave no result.
pub(crate) enum CallError {
    /// Refused: the task gets the code in `x0` and goes on.
    Refused(SyscallError),
    /// The task broke the ABI (an unknown call number): it ends with this failure.
    EndTask(TaskFailure),
}

impl From<SyscallError> for CallError {
    fn from(e: SyscallError) -> Self {
        Self::Refused(e)
    }
}

/// The error code for a refused user pointer.
impl From<UserAccessError> for SyscallError {
    fn from(e: UserAccessError) -> Self {
        match e {
            UserAccessError::NotUserAddress | UserAccessError::Fault => SyscallError::BadAddress,
            UserAccessError::Overflow => SyscallError::BadLength,
            UserAccessError::Misaligned => SyscallError::Misaligned,
        }
    }
}

/// Completes `call` (an `SVC` from EL0) with `outcome`.
#[inline]
pub(crate) fn finish(call: Fault, outcome: Result<u64, CallError>) {
    match outcome {
        Ok(value) => call.frame.x[0] = encode(Ok(value)),
        Err(CallError::Refused(e)) => call.frame.x[0] = encode(Err(e)),
        Err(CallError::EndTask(failure)) => crate::task::fail_isolated(&call, failure),
    }
}
