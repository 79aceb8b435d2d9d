//! What happens on an exception the OS does not expect: a synchronous
//! exception in kernel code (EL1), or an SError.
//!
//! `arch::exception` sorts every exception once and sends here only these
//! (interrupts go to [`crate::irq`], system calls to [`crate::syscall`], an
//! isolated task's faults to its failure path in [`crate::task`]). First
//! the application's [`ExceptionHandler`] (if it set one with
//! [`set_handler`]) gets a say, one typed method per kind of exception, each
//! defaulting to "not handled". An exception in task code (thread mode,
//! interrupts enabled) ends that task only, with a report naming it and the
//! reason in its `JoinHandle` (see [`crate::task`]). The rest is fatal: the full report
//! (decoded syndrome, fault address, registers, backtrace) is printed and the
//! machine exits with status [`EXIT_FAULT`] (102).

use crate::arch::esr::{FaultAccess, FaultStatus, Syndrome};
/// The registers of the code an exception interrupted, as a handler sees them.
pub use crate::arch::exception::ExceptionFrame;
use crate::arch::exception::Fault;
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
    crate::critical::call_once_unpreempted(&HANDLER, || {
        installed = true;
        handler
    });
    installed
}

/// An exception in kernel code, or an SError: the application's handler,
/// else the end of the faulting task, else the fatal report.
pub(crate) fn unexpected(fault: Fault) {
    let (syndrome, far) = (fault.syndrome(), fault.far);
    if matches!(syndrome, Syndrome::UndefinedInstruction)
        && crate::arch::semihosting::is_semihosting_call(fault.frame.elr)
    {
        // exit() tried semihosting and there is none (real hardware): the
        // call returns "not heard", and exit() halts the machine itself.
        crate::arch::semihosting::return_not_heard(&mut *fault.frame);
        return;
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
    p(format_args!("  {}, ESR {:#010x}, FAR {:#018x}\n", fault.syndrome(), fault.esr, fault.far));
    if let Syndrome::Svc { .. } = fault.syndrome() {
        // Only kernel tasks come here (an isolated task's SVC is a system
        // call): one that used the isolated tasks' way into the kernel.
        p(format_args!(
            "  a system call from a kernel task: syscall::user is how isolated tasks reach the kernel; \
             a kernel task calls ilusion's APIs directly (time::sleep, task::yield_now, ilusion::exit...), \
             or takes SVCs with exception::set_handler\n"
        ));
    }
    crate::backtrace::print(Some(fault.frame.elr), fault.frame.x[29]);
}

/// Prints the full report of an unhandled exception and exits with 102.
fn report_fatal(fault: Fault) -> ! {
    crate::arch::cpu::disable_interrupts();
    crate::cores::stop_others_for_report();
    let syndrome = fault.syndrome();
    let Fault { frame, entry, esr, far } = fault;
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
        // Which part of the image, when the symbol table has no name for it.
        let image = crate::mm::layout::ImageLayout::current();
        if (image.start..image.text_end).contains(&addr) {
            " (the image's code)"
        } else if (image.text_end..image.rodata_end).contains(&addr) {
            " (the image's read-only data)"
        } else if (image.rodata_end..image.data_end).contains(&addr) {
            " (the image's .data or .bss)"
        } else {
            ""
        }
    }
}
