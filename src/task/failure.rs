//! Why a task ended badly, as a value: what `JoinHandle::join` returns in `Err`.
//!
//! A panic or a synchronous exception in task code ends that task only. The
//! exception handler turns the fault into a [`TaskFailure`] ([`from_fault`]),
//! prints a report naming the task, and ends it; the rest of the system
//! goes on. Every exception class EL0 code can cause has a failure of
//! its own, named for what the task did: a bad pointer, a misaligned
//! access, an undefined or privileged instruction, a breakpoint, an
//! instruction of a disabled extension (SVE, SME).
//!
//! A failure is recorded without allocating: the panic message is kept
//! inline, in a [`PanicMessage`] of at most [`PANIC_MESSAGE_CAPACITY`]
//! bytes, so a task can fail (and be reported) even when the kernel heap is
//! exhausted.

use crate::arch::esr::{Extension, FaultAccess, FaultStatus, Syndrome};
use crate::arch::privileged::Privileged;
use core::fmt;

// The message is inline on purpose: a failure is recorded without allocating.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskFailure {
    /// The task panicked.
    Panic { message: PanicMessage },
    /// The task ran off the bottom of its stack into the guard region.
    StackOverflow,
    /// A data or instruction abort: a bad pointer.
    MemoryAccess { addr: u64, access: FaultAccess, pc: u64 },
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
    /// An isolated task touched a new page of its heap at `addr`, or its
    /// heap could not grow at `addr` for an allocation, but it holds `held`
    /// bytes (pages and tables) and the memory needed could pass its
    /// `limit` (or, for a touch, the OS ran out of frames first).
    OutOfMemory { addr: u64, held: u64, limit: u64 },
    /// The kernel heap could not give `size` bytes (aligned to `align`) that
    /// the task, or the OS on its behalf, asked for without a way to report
    /// the failure (a `Box::new`, a `Vec` growing...).
    OutOfKernelMemory { size: u64, align: u64 },
    /// Another task ended it with `task::kill` (or `JoinHandle::kill`).
    Killed,
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
            Self::Killed => f.write_str("killed"),
            Self::OutOfMemory { addr, held, limit } => {
                write!(f, "out of memory at {addr:#x}: {held} bytes held, limit {limit} bytes")
            }
            Self::OutOfKernelMemory { size, align } => {
                write!(f, "out of kernel memory: an allocation of {size} bytes (align {align}) failed")
            }
            Self::Exception { esr, pc } => {
                write!(f, "unexpected exception: {} (ESR {esr:#x}) at pc {pc:#x}", Syndrome::decode(*esr))
            }
        }
    }
}

/// The most bytes of a panic message a [`TaskFailure`] keeps.
/// (Small enough for a `TaskFailure` to stay under 128 bytes, the size
/// past which Clippy frowns on it as the error of a `Result`.)
pub const PANIC_MESSAGE_CAPACITY: usize = 117;
const _: () = assert!(PANIC_MESSAGE_CAPACITY <= u8::MAX as usize, "the length is a u8");
/// What ends a message cut to fit.
pub const TRUNCATION_MARKER: &str = "[...]";

/// A panic message, kept inline (formatting it never allocates): at most
/// [`PANIC_MESSAGE_CAPACITY`] bytes; a longer one is cut at a character
/// boundary and ends with [`TRUNCATION_MARKER`].
#[derive(Clone, Copy)]
pub struct PanicMessage {
    bytes: [u8; PANIC_MESSAGE_CAPACITY],
    len: u8,
    truncated: bool,
}

impl PanicMessage {
    pub const fn new() -> Self {
        Self { bytes: [0; PANIC_MESSAGE_CAPACITY], len: 0, truncated: false }
    }

    /// The message `args` formats to (cut to fit).
    pub fn from_args(args: fmt::Arguments) -> Self {
        let mut message = Self::new();
        let _ = fmt::Write::write_fmt(&mut message, args);
        message
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: only whole UTF-8 characters are ever copied in (see `write_str`).
        unsafe { core::str::from_utf8_unchecked(&self.bytes[..self.used()]) }
    }

    /// Was the message cut to fit?
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Bytes in use.
    fn used(&self) -> usize {
        self.len as usize
    }

    fn append(&mut self, s: &str) {
        let used = self.used();
        self.bytes[used..used + s.len()].copy_from_slice(s.as_bytes());
        self.len = (used + s.len()) as u8;
    }
}

impl fmt::Write for PanicMessage {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Ok(());
        }
        if self.used() + s.len() <= PANIC_MESSAGE_CAPACITY {
            self.append(s);
            return Ok(());
        }
        // Too long: keep what fits before the marker, up to a character boundary.
        let keep = PANIC_MESSAGE_CAPACITY - TRUNCATION_MARKER.len();
        if self.used() > keep {
            let mut cut = keep;
            while !self.as_str().is_char_boundary(cut) {
                cut -= 1;
            }
            self.len = cut as u8;
        } else {
            let mut n = keep - self.used();
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            self.append(&s[..n]);
        }
        self.append(TRUNCATION_MARKER);
        self.truncated = true;
        Ok(())
    }
}

impl Default for PanicMessage {
    fn default() -> Self {
        Self::new()
    }
}

impl core::ops::Deref for PanicMessage {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for PanicMessage {
    fn from(s: &str) -> Self {
        Self::from_args(format_args!("{s}"))
    }
}

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for PanicMessage {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PanicMessage {}

impl PartialEq<str> for PanicMessage {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PanicMessage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<alloc::string::String> for PanicMessage {
    fn eq(&self, other: &alloc::string::String) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Is `message` what the standard library's allocation-failure handler
/// panics with ("memory allocation of N bytes failed")?
pub fn is_allocation_failure(message: &str) -> bool {
    message
        .strip_prefix("memory allocation of ")
        .and_then(|rest| rest.strip_suffix(" bytes failed"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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
    fn panic_messages_are_kept_inline_and_cut_with_a_marker() {
        let m = PanicMessage::from_args(format_args!("limit {} is over {}", 4, 3));
        assert_eq!(m, "limit 4 is over 3");
        assert!(!m.is_truncated());
        assert_eq!(std::format!("{m:?} / {m}"), "\"limit 4 is over 3\" / limit 4 is over 3");
        // Exactly full: kept whole.
        let full = "x".repeat(PANIC_MESSAGE_CAPACITY);
        assert_eq!(PanicMessage::from(full.as_str()).as_str(), full);
        // One byte over, in several pieces: cut, marker at the end, never over capacity.
        const CAP: usize = PANIC_MESSAGE_CAPACITY;
        let long = PanicMessage::from_args(format_args!("{}{}", "a".repeat(CAP - 56), "b".repeat(57)));
        assert!(long.is_truncated());
        assert_eq!(long.len(), CAP);
        assert!(long.ends_with("bbb[...]"));
        assert_eq!(long.as_str(), std::format!("{}{}[...]", "a".repeat(CAP - 56), "b".repeat(51)));
        // Multi-byte characters are never split.
        let wide = PanicMessage::from_args(format_args!("{}", "é".repeat(200)));
        assert!(wide.is_truncated());
        assert_eq!(wide.as_str(), std::format!("{}[...]", "é".repeat((CAP - 5) / 2)));
        // Content already past the cut point when the overflow comes.
        let late = PanicMessage::from_args(format_args!("{}{}", "c".repeat(CAP - 2), "dddd"));
        assert_eq!(late.as_str(), std::format!("{}[...]", "c".repeat(CAP - 5)));
        assert!(core::mem::size_of::<TaskFailure>() < 128);
    }

    #[test]
    fn allocation_failures_are_recognized_by_their_message() {
        assert!(is_allocation_failure("memory allocation of 536 bytes failed"));
        assert!(!is_allocation_failure("memory allocation of  bytes failed"));
        assert!(!is_allocation_failure("memory allocation of 5x bytes failed"));
        assert!(!is_allocation_failure("deliberate 42"));
    }

    #[test]
    fn faults_become_failures() {
        let abort = |far_valid| Syndrome::Abort {
            access: FaultAccess::Write,
            status: FaultStatus::Translation { level: 3 },
            from_lower: false,
            far_valid,
        };
        let guard = |a: u64| (0x1000..0x2000).contains(&a);
        assert_eq!(from_fault(abort(true), 0, 0x1ff8, 4, guard), TaskFailure::StackOverflow);
        assert_eq!(
            from_fault(abort(true), 0, 0x10, 4, guard),
            TaskFailure::MemoryAccess { addr: 0x10, access: FaultAccess::Write, pc: 4 }
        );
        assert_eq!(
            from_fault(Syndrome::UndefinedInstruction, 0, 0, 8, guard),
            TaskFailure::IllegalInstruction { pc: 8 }
        );
        let misaligned = Syndrome::Abort {
            access: FaultAccess::Read,
            status: FaultStatus::Alignment,
            from_lower: true,
            far_valid: true,
        };
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
