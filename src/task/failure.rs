//! Why a task ended badly, as a value: what `JoinHandle::join` returns in `Err`.
//!
//! A panic or a synchronous exception in task code ends that task only. The
//! exception handler turns the fault into a [`TaskFailure`] ([`from_fault`]),
//! prints a report naming the task, and ends it; the rest of the system
//! goes on. Every exception class EL0 code can cause has a failure of
//! its own, named for what the task did: a bad pointer, a misaligned
//! access, an undefined or privileged instruction, a breakpoint, an
//! instruction of a disabled extension (SVE, SME).

use crate::arch::esr::{Access, Extension, FaultStatus, Syndrome};
use crate::arch::privileged::Privileged;
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
    /// An undefined instruction.
    IllegalInstruction { pc: u64 },
    /// An isolated task executed an instruction only the kernel may
    /// (`mrs x0, ttbr1_el1`, `msr daifset`, `wfi`, `eret`, `smc`, `dc ivac`...).
    PrivilegedInstruction { operation: Privileged, pc: u64 },
    /// An instruction of an extension the kernel leaves disabled (SVE, SME).
    UnavailableInstruction { extension: Extension, pc: u64 },
    /// A `BRK #imm` no exception handler took.
    Breakpoint { imm: u16, pc: u64 },
    /// The CPU was left in an illegal execution state (PSTATE.IL).
    IllegalExecutionState { pc: u64 },
    /// A hardware breakpoint, watchpoint or single step the kernel did not set up.
    DebugException { esr: u64, pc: u64 },
    /// An isolated task made a system call with an unknown number.
    BadSyscall { number: u64, pc: u64 },
    /// An isolated task called `exit` with a non-zero status.
    Exited { status: u64 },
    /// An isolated task touched a new page of its heap at `addr`, but it
    /// holds `held` bytes (pages and tables) and one more page could pass
    /// its `limit` (or the OS ran out of frames first).
    OutOfMemory { addr: u64, held: u64, limit: u64 },
    /// Any other synchronous exception: a class EL0 code cannot cause under
    /// this kernel's settings (an unhandled SVC in kernel code...).
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
            Self::PrivilegedInstruction { operation, pc } => {
                write!(f, "privileged instruction at pc {pc:#x}: {operation}")
            }
            Self::UnavailableInstruction { extension, pc } => {
                write!(f, "{extension} instruction at pc {pc:#x}: {extension} is not enabled for tasks")
            }
            Self::Breakpoint { imm, pc } => write!(f, "breakpoint (BRK #{imm:#x}) at pc {pc:#x}"),
            Self::IllegalExecutionState { pc } => write!(f, "illegal execution state at pc {pc:#x}"),
            Self::DebugException { esr, pc } => write!(f, "debug exception (ESR {esr:#x}) at pc {pc:#x}"),
            Self::BadSyscall { number, pc } => write!(f, "bad system call number {number} at pc {pc:#x}"),
            Self::Exited { status } => write!(f, "exited with status {status}"),
            Self::OutOfMemory { addr, held, limit } => {
                write!(f, "out of memory: touching {addr:#x} with {held} bytes held, limit {limit} bytes")
            }
            Self::Exception { esr, pc } => {
                write!(f, "unexpected exception: {} (ESR {esr:#x}) at pc {pc:#x}", Syndrome::decode(*esr))
            }
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
        Syndrome::Privileged(operation) => TaskFailure::PrivilegedInstruction { operation, pc },
        Syndrome::Unavailable(extension) => TaskFailure::UnavailableInstruction { extension, pc },
        Syndrome::Brk { imm } => TaskFailure::Breakpoint { imm, pc },
        Syndrome::IllegalState => TaskFailure::IllegalExecutionState { pc },
        Syndrome::Debug => TaskFailure::DebugException { esr, pc },
        Syndrome::Svc { .. } | Syndrome::SError | Syndrome::Other { .. } => TaskFailure::Exception { esr, pc },
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
            TaskFailure::Breakpoint { imm: 1, pc: 8 }
        );
    }

    #[test]
    fn every_class_el0_can_cause_has_a_named_failure() {
        use crate::arch::esr::Syndrome as S;
        extern crate std;
        use std::string::ToString;
        let guard = |_| false;
        let named = |esr: u64| from_fault(S::decode(esr), esr, 0, 0x40, guard);
        // 0x01 WFI, 0x07 FP, 0x0e illegal state, 0x18 trapped MSR/MRS, 0x19 SVE,
        // 0x1d SME, 0x30-0x35 debug, 0x3c BRK.
        for class in [0x01u64, 0x07, 0x0e, 0x18, 0x19, 0x1d, 0x30, 0x32, 0x34, 0x3c] {
            let failure = named(class << 26);
            assert!(!matches!(failure, TaskFailure::Exception { .. }), "class {class:#x}: {failure:?}");
        }
        assert_eq!(
            named(0x01 << 26).to_string(),
            "privileged instruction at pc 0x40: WFI/WFE (waiting for an interrupt)"
        );
        assert_eq!(named(0x19 << 26).to_string(), "SVE instruction at pc 0x40: SVE is not enabled for tasks");
        let daif = (0x18 << 26) | (6 << 17) | (3 << 14) | (4 << 10) | (31 << 5) | (2 << 1);
        assert_eq!(
            named(daif).to_string(),
            "privileged instruction at pc 0x40: write of processor state (DAIFSet, #2)"
        );
        assert_eq!(
            named(0x2c << 26).to_string(),
            "unexpected exception: exception class 0x2c (trapped floating-point exception), ISS 0x0 (ESR 0xb0000000) at pc 0x40"
        );
    }
}
