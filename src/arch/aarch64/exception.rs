//! Exception entry: the saved context, and the one place where an exception
//! is sorted and handed to its owner.
//!
//! `vectors.s` saves the interrupted context as an [`ExceptionFrame`] on the
//! exception stack and calls one of four functions with the number of the
//! vector entry taken: [`ilusion_interrupt`] (an IRQ or FIQ),
//! [`ilusion_syscall`] (an SVC from EL0), [`ilusion_user_fault`] (any other
//! synchronous exception from EL0) or [`ilusion_exception`] (everything from
//! EL1, and SErrors). The exception is sorted once, by where it came from
//! (EL0: an isolated task; EL1: the kernel) and by what it is, and handed
//! to exactly one owner:
//!
//! | exception | from EL0 | from EL1 |
//! |---|---|---|
//! | IRQ, FIQ | [`crate::irq`], then the scheduler may preempt | the same |
//! | SVC | [`crate::syscall`] (the fast calls in `vectors.s` itself) | unexpected |
//! | other synchronous | the task's failure path, [`crate::task::isolated_fault`] | a fault of a checked copy to or from user memory: [`crate::task::user_copy_fault`]; anything else: unexpected |
//! | SError | unexpected | unexpected |
//!
//! "Unexpected" is [`crate::exception`]: the application's handler, the end
//! of a faulting kernel task, or the fatal report. When the owner returns,
//! `vectors.s` restores the same frame and returns from the exception. The
//! frame is on the running task's kernel stack; after an interrupt the
//! scheduler may switch to another task before the owner returns
//! (preemption), and this one resumes there later.

use super::esr::Syndrome;
use super::user_access;
use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use core::fmt;
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicPtr, Ordering};

/// The general registers of an interrupted context, as `vectors.s` saves
/// them (it takes every offset below from this struct). The FP/SIMD
/// registers are not in it: they stay in the core, trapped while the
/// handler runs (lazy switching, [`super::fp`]).
#[repr(C)]
pub struct ExceptionFrame {
    /// x0 to x30 (x29 is the frame pointer, x30 the link register). Only
    /// an exception from EL1 saves them all; the other entries leave the
    /// slots of x19-x28 stale (see `vectors.s`), so nothing reads them there.
    pub x: [u64; 31],
    /// The interrupted stack pointer (normal code runs on SP_EL0).
    pub sp: u64,
    /// Where to resume: the faulting instruction, or the next one.
    pub elr: u64,
    /// The interrupted PSTATE.
    pub spsr: u64,
}

// `vectors.s` stores registers in pairs: x0..x29 from offset 0, then x30
// with SP_EL0, ELR with SPSR; the frame keeps SP 16-aligned.
const _: () = {
    assert!(offset_of!(ExceptionFrame, x) == 0);
    assert!(offset_of!(ExceptionFrame, sp) == offset_of!(ExceptionFrame, x) + 30 * 8 + 8);
    assert!(offset_of!(ExceptionFrame, spsr) == offset_of!(ExceptionFrame, elr) + 8);
    assert!(size_of::<ExceptionFrame>().is_multiple_of(16));
};

core::arch::global_asm!(
    include_str!("vectors.s"),
    FRAME_SIZE = const size_of::<ExceptionFrame>(),
    FRAME_X30 = const offset_of!(ExceptionFrame, x) + 30 * 8,
    FRAME_ELR = const offset_of!(ExceptionFrame, elr),
    EC_SVC64 = const super::esr::EC_SVC64,
    EC_FP = const super::esr::EC_FP_ACCESS,
    // TPIDR_EL1 points at the running task's Context (`context.rs`).
    TASK_FP = const offset_of!(super::context::Context, fp),
    TASK_CPACR = const offset_of!(super::context::Context, fp) + offset_of!(super::fp::FpRegisters, cpacr),
    CPACR_FP_ON = const super::fp::CPACR_FP_ON,
    MAX_CPUS = const crate::percpu::MAX_CPUS,
    TASK_KERNEL_STACK_TOP = const offset_of!(super::context::Context, kernel_stack_top),
    KERNEL_STACK_SIZE = const crate::sched::stack::KERNEL_STACK_SIZE,
    GUARD_SIZE = const crate::mm::layout::GUARD_SIZE,
    OVERFLOW_STACK_SHIFT = const OVERFLOW_STACK_SHIFT,
    FP_OWNER = sym super::fp::FP_OWNER,
    SYSTEM_CALL_HANDLER = sym SYSTEM_CALL_HANDLER,
    FAST_SYSCALLS = const crate::syscall::abi::FAST_SYSCALLS,
    USER_VIEW_TABLE = const super::mmu::USER_VIEW_TABLE_BIT,
    USER_VIEW_ASID = const super::mmu::USER_VIEW_ASID_BIT,
);

/// Each core's stack for the report of a kernel stack overflow (`vectors.s`,
/// `kernel_stack_overflow`): 8 KiB, as a task's kernel stack, where panic
/// reports run too. Not zeroed at boot (its own section, `linker/ilusion.ld`).
const OVERFLOW_STACK_SHIFT: u32 = 13;

/// Called by `vectors.s`, on this core's overflow stack, when an exception
/// taken inside a handler found no room for its frame: the handler (an
/// interrupt's, a system call's) ran off the running task's kernel stack
/// into the guard page below it, touching `far`, at `elr`. Nothing can
/// resume there, so this is a panic outside any task: the machine stops,
/// with the report and the backtrace of the code that overflowed.
#[no_mangle]
extern "C" fn ilusion_kernel_stack_overflow(elr: u64, far: u64) -> ! {
    let size_kib = crate::sched::stack::KERNEL_STACK_SIZE / 1024;
    // The function that overflowed is named here: the backtrace below
    // starts at its caller (its own pc is no return address).
    let function = crate::symbols::lookup(elr);
    let name: &dyn fmt::Display = match &function {
        Some(function) => function,
        None => &"code",
    };
    panic!(
        "kernel stack overflow: {name} (pc {elr:#x}) ran off its task's {size_kib} KiB kernel stack, touching {far:#x}; keep large buffers off interrupt handlers"
    )
}

/// Which of the 16 vector entries was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorEntry(u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionType {
    Synchronous,
    Irq,
    Fiq,
    SError,
}

impl VectorEntry {
    pub fn kind(self) -> ExceptionType {
        match self.0 & 3 {
            0 => ExceptionType::Synchronous,
            1 => ExceptionType::Irq,
            2 => ExceptionType::Fiq,
            _ => ExceptionType::SError,
        }
    }

    /// Taken from EL0 (a user task) rather than from the kernel itself.
    pub fn taken_from_lower_level(self) -> bool {
        self.0 >= 8
    }

    /// Taken from kernel code in thread mode (on SP_EL0): task code.
    pub fn taken_from_thread_mode(self) -> bool {
        self.0 < 4
    }

    pub fn describe(self) -> &'static str {
        ["current EL, SP_EL0", "current EL, SP_EL1", "lower EL, AArch64", "lower EL, AArch32"][(self.0 >> 2) as usize]
    }
}

/// A synchronous exception or an SError: the frame and the raw syndrome
/// and address registers. The syndrome is decoded when asked
/// ([`Fault::syndrome`]): a system call or a first touch of the heap, the
/// frequent cases, need only a bit or two of it.
pub struct Fault<'a> {
    pub frame: &'a mut ExceptionFrame,
    pub entry: VectorEntry,
    pub esr: u64,
    pub far: u64,
}

impl Fault<'_> {
    /// What happened, decoded from ESR (an SError's ESR says nothing we use).
    pub fn syndrome(&self) -> Syndrome {
        if self.entry.kind() == ExceptionType::SError {
            Syndrome::SError
        } else {
            Syndrome::decode(self.esr)
        }
    }
}

impl ExceptionFrame {
    /// Resumes after the instruction that trapped (for BRK, HLT and the like).
    pub fn skip_instruction(&mut self) {
        self.elr += 4;
    }
}

/// Called by `vectors.s` for an interrupt (IRQ or FIQ): the frequent case,
/// on a path of its own (no syndrome to decode, a small stack frame). Its
/// frame holds x0-x18, x29, x30 and the system registers only (the slots
/// of x19-x28 are stale: see `vectors.s`), so nothing here reads it.
#[no_mangle]
extern "C" fn ilusion_interrupt(_frame: &mut ExceptionFrame, entry: u64) {
    let entry = VectorEntry(entry);
    crate::irq::dispatch();
    // A task the handler woke, or the end of a slice, may switch tasks
    // here; this task resumes here later, and returns from the exception.
    crate::sched::scheduler::preempt_from_interrupt();
    if entry.taken_from_lower_level() {
        crate::task::end_if_killed(); // an isolated task killed meanwhile ends before EL0
    }
}

/// Where `vectors.s` sends a system call from EL0 (an SVC), but the fast
/// ones: [`ilusion_user_fault`] until [`route_system_calls`] points it at
/// [`ilusion_syscall`]. Through this pointer, an application that never
/// spawns an isolated task does not link the system calls (issue 14: the
/// hello image); until then no code runs at EL0, and an SVC from there
/// would be unexpected, as any fault of an EL0 task before
/// `task::isolation_paths` is installed. The load costs a system call two
/// instructions (`adrp`, `ldr`).
static SYSTEM_CALL_HANDLER: AtomicPtr<()> = AtomicPtr::new(ilusion_user_fault as *mut ());

/// Sends the system calls from EL0 to their handler; called (by
/// `task::isolation_paths`) before any isolated task can run. Later calls
/// store the same pointer again.
pub(crate) fn route_system_calls() {
    SYSTEM_CALL_HANDLER.store(ilusion_syscall as *mut (), Ordering::Release);
}

/// Called by `vectors.s`, through [`SYSTEM_CALL_HANDLER`], for a system
/// call from EL0 (an SVC), but the fast ones. Its frame is an interrupt's,
/// x0-x18, x29, x30 and the system registers: the call's arguments, number
/// and result are in x0-x8, and the report of a call that breaks the ABI
/// names no general register.
extern "C" fn ilusion_syscall(frame: &mut ExceptionFrame, entry: u64) {
    let entry = VectorEntry(entry);
    let call = Fault { frame, entry, esr: ESR_EL1.get(), far: FAR_EL1.get() };
    crate::sched::scheduler::in_system_call(|| crate::syscall::dispatch::handle(call));
    // A more urgent task the call woke (a message sent, a channel closed)
    // runs now, as at the end of an interrupt: inside the call the task was
    // on SP_EL1, where a wake only asks. This task resumes here later.
    crate::sched::scheduler::preempt_from_interrupt();
    crate::task::end_if_killed(); // killed meanwhile: it ends before EL0
}

/// Called by `vectors.s` for any other synchronous exception from EL0 (a
/// fault of an isolated task: an abort, an undefined instruction, a
/// breakpoint). Its frame is an interrupt's too: the task's failure report
/// names no general register, and a first touch of its heap (demand
/// paging) only maps a page and returns.
#[no_mangle]
extern "C" fn ilusion_user_fault(frame: &mut ExceptionFrame, entry: u64) {
    let entry = VectorEntry(entry);
    let fault = Fault { frame, entry, esr: ESR_EL1.get(), far: FAR_EL1.get() };
    crate::task::isolated_fault(fault);
}

/// Called by `vectors.s` for every other exception (synchronous from EL1: a
/// fault, a trap, an SVC; or an SError); sorts it and hands it to its owner
/// (see the table above).
#[no_mangle]
extern "C" fn ilusion_exception(frame: &mut ExceptionFrame, entry: u64) {
    let entry = VectorEntry(entry);
    let kind = entry.kind();
    debug_assert!(!matches!(kind, ExceptionType::Irq | ExceptionType::Fiq), "vectors.s sends interrupts elsewhere");
    debug_assert!(entry.0 != 8, "vectors.s sends synchronous exceptions from EL0 elsewhere");
    let fault = Fault { frame, entry, esr: ESR_EL1.get(), far: FAR_EL1.get() };
    let syndrome = fault.syndrome();
    match (entry.taken_from_lower_level(), syndrome) {
        (_, Syndrome::SError) => crate::exception::unexpected(fault),
        (true, _) => crate::task::isolated_fault(fault), // (AArch32 EL0: never runs)
        (false, Syndrome::Abort { .. }) if user_access::in_copy_routine(fault.frame.elr) => {
            crate::task::user_copy_fault(fault)
        }
        (false, _) => crate::exception::unexpected(fault),
    }
    // Resumed: an application's exception handler may have woken a task.
    // As at the end of an interrupt, a more urgent one runs now if this
    // exception came from task code; inside another handler (on SP_EL1)
    // that handler's end decides, and a task handed over meanwhile is
    // queued like any other (so no yield or block can miss it).
    if entry.taken_from_thread_mode() {
        crate::sched::scheduler::preempt_from_interrupt();
    } else {
        crate::sched::scheduler::queue_handed_over();
    }
}

impl fmt::Display for ExceptionFrame {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "  ELR  {:#018x}  SPSR {:#010x}  SP   {:#018x}", self.elr, self.spsr, self.sp)?;
        for row in 0..8 {
            for col in 0..4 {
                let i = row * 4 + col;
                if i < 31 {
                    write!(f, "  x{:<2} {:#018x}", i, self.x[i])?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
