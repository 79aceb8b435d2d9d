//! What a fault in an isolated task does: the task-failure path of the
//! exception entry.
//!
//! `arch::exception` hands every synchronous exception from EL0 that is not
//! a system call to [`isolated_fault`], and a fault of the kernel's checked
//! copies to or from the task's memory (`arch::user_access`) to
//! [`user_copy_fault`]. A first touch of the task's heap gets a frame and
//! the access runs again (demand paging, [`super::demand_page`]). Anything
//! else from EL0 ends the task alone ([`fail_isolated`]) with a precise
//! [`TaskFailure`]; a copy's fault becomes the copy's error, which the
//! system call returns (`BadAddress`).

use super::isolated::{demand_page, isolated_failure, DemandPaging};
use super::TaskFailure;
use crate::arch::exception::Fault;

/// A synchronous exception from EL0 other than `SVC`: a first touch of the
/// heap is mapped (the access runs again); anything else ends the task.
pub(crate) fn isolated_fault(fault: Fault) {
    let failure = match demand_page(fault.esr, fault.far) {
        DemandPaging::Mapped => return, // retry the access
        DemandPaging::Refused(failure) => failure,
        DemandPaging::NotDemandZero => isolated_failure(fault.syndrome(), fault.esr, fault.far, fault.frame.elr),
    };
    fail_isolated(&fault, failure)
}

/// An abort inside `arch::user_access`'s copy routines: a first touch of the
/// task's heap gets a frame and the copy goes on; a bad pointer (or a touch
/// past the task's memory limit) makes the copy return an error.
pub(crate) fn user_copy_fault(fault: Fault) {
    if !matches!(demand_page(fault.esr, fault.far), DemandPaging::Mapped) {
        crate::arch::user_access::recover(&mut fault.frame.elr);
    }
}

/// Ends the running isolated task with `failure`, after a report naming it,
/// the reason, the PC and the faulting address. No backtrace: the task's
/// frame chain is user memory, which the kernel does not walk.
pub(crate) fn fail_isolated(fault: &Fault, failure: TaskFailure) -> ! {
    let syndrome = fault.syndrome();
    let Fault { frame, esr, far, .. } = fault;
    let task = super::RunningTask;
    // Under the console lock, as `print!`: the task's core holds no lock
    // (it was at EL0), and other cores' output must not cut into the report.
    crate::console::write_fmt(format_args!(
        "\n*** {task} failed: {failure}\n  {syndrome}, ESR {esr:#010x}, FAR {far:#018x}, PC {:#018x}, SP {:#018x}\n{}",
        frame.elr,
        frame.sp,
        WhereItFailed { pc: frame.elr, failure: &failure }
    ));
    super::fail_current(failure)
}

/// The report's last line: the function the task failed in, by the image's
/// own symbols, and, for what only the kernel may do (a privileged
/// instruction, a read or write of kernel memory), that this is how
/// ilusion's kernel-task APIs fail in an isolated task. (A `Mutex`,
/// `time::set_periodic`, `irq::register` or `task::spawn` there failed with
/// only a system register's name or a kernel address to go on; inlined,
/// their code is reported in the caller's function.)
struct WhereItFailed<'a> {
    pc: u64,
    failure: &'a TaskFailure,
}

impl core::fmt::Display for WhereItFailed<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let kernel_only = match self.failure {
            TaskFailure::PrivilegedInstruction { .. } => true,
            TaskFailure::MemoryAccess { addr, .. } => *addr >= crate::arch::mmu::KERNEL_OFFSET, // the kernel's half
            _ => false,
        };
        match crate::symbols::lookup(self.pc) {
            Some(function) => write!(f, "  in {function}")?,
            None if kernel_only => f.write_str(" ")?,
            None => return Ok(()),
        }
        if kernel_only {
            f.write_str(
                " (kernel-only: ilusion's APIs for kernel tasks, such as sync, irq, task::spawn \
                 and time::set_periodic, fail so in an isolated task, which reaches the kernel \
                 through system calls only: ipc channels, console, time, exit)",
            )?;
        }
        f.write_str("\n")
    }
}
