//! Why a task ended badly, as a value: what `JoinHandle::join` returns in `Err`.
//!
//! A panic or a synchronous exception in task code ends that task only. The
//! exception handler turns the fault into a [`TaskFailure`] ([`from_fault`]),
//! prints a report naming the task, and ends it; the rest of the system
//! goes on.

use crate::arch::esr::{Access, FaultStatus, Syndrome};
use alloc::string::String;
use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskFailure {
    /// The task panicked.
    Panic { message: String },
    /// The task ran off the bottom of its stack into the guard region.
    StackOverflow,
    /// A data or instruction abort: a bad pointer.
    MemoryAccess { addr: u64, access: Access, pc: u64 },
    /// An access (or a jump) to an address not aligned as the instruction
    /// requires: an exclusive or atomic access, or a branch to a PC that is
    /// not a multiple of 4.
    Misaligned { addr: u64, pc: u64 },
    /// The stack pointer was used while not 16-byte aligned.
    MisalignedStack { pc: u64 },
    /// An undefined (or not permitted) instruction.
    IllegalInstruction { pc: u64 },
    /// An isolated task made a system call with an unknown number.
    BadSyscall { number: u64, pc: u64 },
    /// An isolated task called `exit` with a non-zero status.
    Exited { status: u64 },
    /// An isolated task touched a new page of its heap at `addr`, but it
    /// holds `held` bytes (pages and tables) and one more page could pass
    /// its `limit` (or the OS ran out of frames first).
    OutOfMemory { addr: u64, held: u64, limit: u64 },
    /// Any other synchronous exception (misaligned PC or SP, unhandled BRK/SVC...).
    Exception { esr: u64, pc: u64 },
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Panic { message } => write!(f, "panicked: {message}"),
            Self::StackOverflow => f.write_str("stack overflow"),
            Self::MemoryAccess { addr, access, pc } => {
                write!(f, "memory access fault: {access:?} of {addr:#x} at pc {pc:#x}")
            }
            Self::Misaligned { addr, pc } => write!(f, "misaligned access to {addr:#x} at pc {pc:#x}"),
            Self::MisalignedStack { pc } => write!(f, "misaligned stack pointer at pc {pc:#x}"),
            Self::IllegalInstruction { pc } => write!(f, "illegal instruction at pc {pc:#x}"),
            Self::BadSyscall { number, pc } => write!(f, "bad system call number {number} at pc {pc:#x}"),
            Self::Exited { status } => write!(f, "exited with status {status}"),
            Self::OutOfMemory { addr, held, limit } => {
                write!(f, "out of memory: touching {addr:#x} with {held} bytes held, limit {limit} bytes")
            }
            Self::Exception { esr, pc } => write!(f, "exception (ESR {esr:#x}) at pc {pc:#x}"),
        }
    }
}

/// The failure a synchronous exception means for the task it happened in.
/// `is_overflow` says whether an address is in the task's stack guard region.
pub fn from_fault(syndrome: Syndrome, esr: u64, far: u64, pc: u64, is_overflow: impl Fn(u64) -> bool) -> TaskFailure {
    match syndrome {
        Syndrome::Abort { status: FaultStatus::Alignment, far_valid, .. } => {
            TaskFailure::Misaligned { addr: if far_valid { far } else { 0 }, pc }
        }
        Syndrome::Abort { far_valid: true, .. } if is_overflow(far) => TaskFailure::StackOverflow,
        Syndrome::PcAlignment => TaskFailure::Misaligned { addr: pc, pc },
        Syndrome::SpAlignment => TaskFailure::MisalignedStack { pc },
        Syndrome::Abort { access, far_valid, .. } => {
            TaskFailure::MemoryAccess { addr: if far_valid { far } else { 0 }, access, pc }
        }
        Syndrome::UndefinedInstruction => TaskFailure::IllegalInstruction { pc },
        _ => TaskFailure::Exception { esr, pc },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_become_failures() {
        let abort = |far_valid| Syndrome::Abort {
            access: Access::Write,
            status: FaultStatus::Translation { level: 3 },
            from_lower: false,
            far_valid,
        };
        let guard = |a: u64| (0x1000..0x2000).contains(&a);
        assert_eq!(from_fault(abort(true), 0, 0x1ff8, 4, guard), TaskFailure::StackOverflow);
        assert_eq!(
            from_fault(abort(true), 0, 0x10, 4, guard),
            TaskFailure::MemoryAccess { addr: 0x10, access: Access::Write, pc: 4 }
        );
        assert_eq!(
            from_fault(Syndrome::UndefinedInstruction, 0, 0, 8, guard),
            TaskFailure::IllegalInstruction { pc: 8 }
        );
        let misaligned =
            Syndrome::Abort { access: Access::Read, status: FaultStatus::Alignment, from_lower: true, far_valid: true };
        assert_eq!(from_fault(misaligned, 0, 0x1001, 12, guard), TaskFailure::Misaligned { addr: 0x1001, pc: 12 });
        assert_eq!(
            from_fault(Syndrome::PcAlignment, 0, 0x402, 0x402, guard),
            TaskFailure::Misaligned { addr: 0x402, pc: 0x402 }
        );
        assert_eq!(from_fault(Syndrome::SpAlignment, 0, 0, 16, guard), TaskFailure::MisalignedStack { pc: 16 });
        assert_eq!(
            from_fault(Syndrome::Brk { imm: 1 }, 0xf200_0001, 0, 8, guard),
            TaskFailure::Exception { esr: 0xf200_0001, pc: 8 }
        );
    }
}
