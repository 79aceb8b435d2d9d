//! What happens on a synchronous exception the OS does not expect.
//!
//! First the application's [`ExceptionHandler`] (if it set one with
//! [`set_handler`]) gets a say, one typed method per kind of exception, each
//! defaulting to "not handled". An exception in task code (thread mode,
//! interrupts enabled) ends that task only, with a report naming it and the
//! reason in its `JoinHandle` (see [`crate::task`]). The rest is fatal: the full report
//! (decoded syndrome, fault address, registers, backtrace) is printed and the
//! machine exits with status [`EXIT_FAULT`] (102).

use crate::arch::esr::{FaultAccess, FaultStatus, Syndrome};
use crate::arch::exception::{ExceptionFrame, Fault};
use spin::Once;

/// Exit status after an unexpected exception in kernel code.
pub const EXIT_FAULT: i32 = 102;

/// What a handler did with an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Handled: resume at `frame.elr` (adjust it to skip the instruction).
    Resume,
    /// Not mine: the OS reports the fault and stops.
    NotHandled,
}

/// Application hooks for exceptions the OS does not handle itself. Override
/// only the methods you need; the others leave the exception to the OS.
pub trait ExceptionHandler: Sync {
    /// A `BRK #imm` instruction.
    fn breakpoint(&self, _frame: &mut ExceptionFrame, _imm: u16) -> Resolution {
        Resolution::NotHandled
    }
    /// An undefined instruction at `frame.elr`.
    fn undefined_instruction(&self, _frame: &mut ExceptionFrame) -> Resolution {
        Resolution::NotHandled
    }
    /// An `SVC #imm` from kernel code (user tasks' system calls never come here).
    fn supervisor_call(&self, _frame: &mut ExceptionFrame, _imm: u16) -> Resolution {
        Resolution::NotHandled
    }
    /// A data or instruction abort at `address`.
    fn abort(
        &self,
        _frame: &mut ExceptionFrame,
        _access: FaultAccess,
        _status: FaultStatus,
        _address: u64,
    ) -> Resolution {
        Resolution::NotHandled
    }
}

static HANDLER: Once<&'static dyn ExceptionHandler> = Once::new();

/// Installs the application's exception handler (once; later calls are ignored
/// and return `false`).
pub fn set_handler(handler: &'static dyn ExceptionHandler) -> bool {
    let mut installed = false;
    HANDLER.call_once(|| {
        installed = true;
        handler
    });
    installed
}

pub(crate) fn handle(fault: Fault) {
    if fault.entry.from_lower_level() && !matches!(fault.syndrome, Syndrome::SError) {
        // An isolated task's system call or fault: never the kernel's problem.
        return crate::syscall::dispatch::user_exception(fault);
    }
    let (syndrome, far) = (fault.syndrome, fault.far);
    if matches!(syndrome, Syndrome::Abort { .. }) && crate::arch::user_access::in_copy_routine(fault.frame.elr) {
        // A checked copy to or from an isolated task: a first touch of its
        // heap gets a frame and the copy goes on; a bad pointer makes the
        // copy return an error (as does a touch past the task's memory limit).
        if let crate::task::DemandPaging::Mapped = crate::task::demand_page(syndrome, far) {
            return;
        }
        crate::arch::user_access::recover(fault.frame);
        return;
    }
    if matches!(syndrome, Syndrome::UndefinedInstruction)
        && crate::arch::semihosting::is_semihosting_call(fault.frame.elr)
    {
        // exit() tried semihosting and there is none: stop here, quietly.
        crate::println!("[ilusion] no semihosting: halting instead of exiting");
        crate::console::flush();
        crate::arch::cpu::halt();
    }
    if let Some(handler) = HANDLER.get() {
        let frame = &mut *fault.frame;
        let resolution = match syndrome {
            Syndrome::Brk { imm } => handler.breakpoint(frame, imm),
            Syndrome::UndefinedInstruction => handler.undefined_instruction(frame),
            Syndrome::Svc { imm } => handler.supervisor_call(frame, imm),
            Syndrome::Abort { access, status, .. } => handler.abort(frame, access, status, far),
            _ => Resolution::NotHandled,
        };
        if resolution == Resolution::Resume {
            return;
        }
    }
    if let Some(failure) = crate::task::fault_in_task(&fault) {
        report_task_fault(&fault, &failure);
        crate::task::fail_current(failure);
    }
    report_fatal(fault);
}

/// The report for a fault that ends one task: which task, why, where.
fn report_task_fault(fault: &Fault, failure: &crate::task::TaskFailure) {
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
    p(format_args!("\n*** {} failed: {failure}\n", crate::task::RunningTask));
    p(format_args!("  {}, ESR {:#010x}, FAR {:#018x}\n", fault.syndrome, fault.esr, fault.far));
    crate::backtrace::print(Some(fault.frame.elr), fault.frame.x[29]);
}

/// Prints the full report of an unhandled exception and exits with 102.
fn report_fatal(fault: Fault) -> ! {
    crate::arch::cpu::disable_interrupts();
    let Fault { frame, entry, esr, far, syndrome } = fault;
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
    p(format_args!("\n*** unhandled exception: {syndrome}\n"));
    let far_valid = !matches!(syndrome, Syndrome::Abort { far_valid: false, .. });
    match syndrome {
        Syndrome::Abort { .. } if far_valid => {
            p(format_args!("  fault address (FAR) {far:#018x}{}\n", describe_address(far)))
        }
        _ => {}
    }
    p(format_args!("  ESR  {esr:#010x}  taken from {}\n", entry.describe()));
    p(format_args!("{frame}"));
    crate::backtrace::print(Some(frame.elr), frame.x[29]);
    crate::power::exit(EXIT_FAULT);
}

fn describe_address(addr: u64) -> &'static str {
    if addr < 0x1000 {
        " (null pointer)"
    } else if crate::mm::layout::is_guard_page(addr) || crate::task::is_stack_overflow_address(addr) {
        " (stack guard page: stack overflow)"
    } else {
        ""
    }
}
