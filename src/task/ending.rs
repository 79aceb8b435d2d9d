//! How a task ends: returning, failing (a panic, a fault, an isolated
//! task's `exit` with a status), always through [`end_current`], the task
//! layer's half of a task's end. It gives back what the task held (an
//! isolated task's handles, its mutexes, poisoned if it failed), then the
//! scheduler records the end, wakes the joiners and switches away for good.
//!
//! Also what the panic and exception handlers ask about the running task
//! (may it fail alone? which failure is it?), and [`RunningTask`], which
//! names it in their reports.

use super::{TaskFailure, TaskName};
use crate::critical::CriticalSection;
use crate::sched::scheduler;
use crate::sched::tcb::{Tcb, HANDLE_REF};

/// Ends the running task: `failure` is why (`None`: it returned). Does not
/// return, so nothing on the caller's stack is ever dropped: the reports
/// before it name the task with [`RunningTask`], which owns nothing.
pub(crate) fn end_current(failure: Option<TaskFailure>) -> ! {
    // Releasing handles may wake tasks and switch: outside any critical section.
    scheduler::with_running_body(|body| {
        if let Some(body) = body {
            body.end();
        }
    });
    let mut masked = CriticalSection::new();
    // Detached (its handle is gone: `HANDLE_REF`)? Its result is dropped
    // here, in the task, outside the critical section: left in its body,
    // it was dropped as the scheduler freed the task, inside a switch,
    // interrupts masked. Looked at under the section that ends the task: a
    // handle dropped after the look finds the task ended and drops the
    // result itself. Once detached, a task stays so. Also when a reader
    // (`task::stats`, `task::list`) holds it just then: the result was
    // left in its block for the reader to drop as it let go, and a `Drop`
    // that panicked failed the reader, for another task's code.
    // A detached isolated task's address space goes here too, for the same
    // reason: freed with the block, its frames went back inside the switch.
    if scheduler::running(&masked).refs.get() < HANDLE_REF {
        masked = give_back_detached(masked);
    }
    crate::sync::mutex::release_all_held(&masked, failure.is_some());
    scheduler::exit_current(masked, failure)
}

/// What a detached task (`masked` saw it so) gives back itself as it ends,
/// outside the critical section, before its last switch: its result (its
/// `Drop` is application code) and an isolated task's address space (its
/// frames go back one by one). Returns a new section. Out of line: a
/// joined task, the common case, never comes here.
#[cold]
#[inline(never)]
fn give_back_detached(masked: CriticalSection) -> CriticalSection {
    // `ManuallyDrop`, as in the block: only `drop_task_space` drops it, so
    // the code that frees address spaces stays out of applications that
    // never make one. A reader holding the task may be reading its space
    // (a table of mappings, its stack): then it stays in the block, freed
    // with it by whoever lets go of the block last (the reader, outside
    // its sections; or, if the reader let go first, the task's last
    // switch, as before this end gave spaces back itself).
    let unheld = scheduler::running(&masked).refs.get() == 1;
    let mut space = core::mem::ManuallyDrop::new(match unheld {
        true => scheduler::take_running_address_space(&masked),
        false => None,
    });
    drop(masked);
    scheduler::with_running_body(|body| {
        if let Some(body) = body {
            body.drop_result();
        }
    });
    crate::mm::address_space::drop_task_space(&mut space);
    CriticalSection::new()
}

/// How a task that ended with `failure` ended, for the trace.
#[inline(always)]
pub(crate) fn how_it_ended(failure: Option<&TaskFailure>) -> crate::trace::How {
    use crate::trace::How;
    match failure {
        None | Some(TaskFailure::Exited { status: 0 }) => How::OK,
        Some(TaskFailure::Panic { .. }) => How::PANIC,
        Some(TaskFailure::Killed) => How::KILLED,
        Some(TaskFailure::OutOfMemory { .. } | TaskFailure::OutOfKernelMemory { .. }) => How::OOM,
        Some(TaskFailure::Exited { .. } | TaskFailure::BadSyscall { .. }) => How::OTHER,
        Some(_) => How::FAULT,
    }
}

/// Ends the running task with `failure` (from the panic or exception handler).
pub(crate) fn fail_current(failure: TaskFailure) -> ! {
    end_current(Some(failure))
}

/// The id of the task running the application's `main` (the first spawned).
/// Like a process, the program ends when it fails: its panic or fault is
/// reported as before tasks existed (exit status 101 or 102).
pub(super) const MAIN_TASK_ID: u64 = 1;

/// Can a failure of task `t` end just that task? Not for idle or main.
fn may_fail_alone(t: &Tcb) -> bool {
    t.id != MAIN_TASK_ID && t.stacks.is_some()
}

/// Is `addr` in the running task's stack guard region?
pub(crate) fn is_stack_overflow_address(addr: u64) -> bool {
    if !scheduler::is_started() {
        return false;
    }
    let masked = CriticalSection::new();
    scheduler::running(&masked).stacks.as_ref().is_some_and(|s| s.is_overflow_address(addr))
}

/// The failure for a synchronous exception in the running task, if the task
/// (not the OS) is to blame: tasks run, the exception came from task code
/// with interrupts enabled, and the task may fail alone.
pub(crate) fn fault_in_task(fault: &crate::arch::exception::Fault) -> Option<TaskFailure> {
    use crate::arch::cpu::spsr_irqs_masked;
    let in_task_code = fault.entry.taken_from_thread_mode() && !spsr_irqs_masked(fault.frame.spsr);
    if !scheduler::is_started() || !in_task_code {
        return None;
    }
    let masked = CriticalSection::new();
    let t = scheduler::running(&masked);
    if !may_fail_alone(t) {
        return None;
    }
    let is_overflow = |addr| t.stacks.as_ref().is_some_and(|s| s.is_overflow_address(addr));
    Some(super::failure::from_fault(fault.syndrome(), fault.esr, fault.far, fault.frame.elr, is_overflow))
}

/// For the panic handler: the running task, if a panic now can end just it
/// (tasks run, we are in task code with interrupts enabled), and whether it
/// was already panicking (its panic message itself panicked).
pub(crate) fn panicking_task(irqs_enabled: bool) -> Option<bool> {
    if !scheduler::is_started() || crate::arch::cpu::in_exception_handler() || !irqs_enabled {
        return None;
    }
    let masked = CriticalSection::new();
    let t = scheduler::running(&masked);
    if !may_fail_alone(t) {
        return None;
    }
    Some(t.panicking.replace(true))
}

/// The panic handler's path for a panic that ends just the running task
/// (as [`panicking_task`] said): report it and end the task, without
/// allocating (the heap may be what ran out). The standard library's
/// allocation-failure panic becomes [`TaskFailure::OutOfKernelMemory`].
pub(crate) fn fail_on_panic(info: &core::panic::PanicInfo) -> ! {
    use super::failure::{is_allocation_failure, PanicMessage};
    let message = PanicMessage::from_args(format_args!("{}", info.message()));
    // Under the console lock, as `print!` (a task fails alone only with
    // interrupts enabled, so this core holds no spin lock): output from
    // other cores does not cut into the report.
    let p = |args: core::fmt::Arguments| crate::console::write_fmt(args);
    let task = RunningTask;
    match info.location() {
        Some(l) => p(format_args!("\n*** {task} panicked at {}:{}:{}:\n{message}\n", l.file(), l.line(), l.column())),
        None => p(format_args!("\n*** {task} panicked:\n{message}\n")),
    }
    let failure = match crate::mm::heap::take_failure() {
        Some((size, align)) if is_allocation_failure(&message) => {
            TaskFailure::OutOfKernelMemory { size: size as u64, align: align as u64 }
        }
        _ => TaskFailure::Panic { message },
    };
    fail_current(failure)
}

/// How a task is named in reports: `task 'name' (#id)` or `task #id`.
pub(super) fn write_identity(f: &mut core::fmt::Formatter, id: u64, name: Option<&TaskName>) -> core::fmt::Result {
    match name {
        Some(name) => write!(f, "task '{name}' (#{id})"),
        None => write!(f, "task #{id}"),
    }
}

/// The running task, as reports name it. It reads the control block as it
/// is shown and owns nothing, so the paths that end the task without
/// returning (`fail_current`) leave nothing behind to drop.
pub(crate) struct RunningTask;

impl core::fmt::Display for RunningTask {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        // The name is shared, not copied (it allocates nothing); it is
        // written with interrupts as they were.
        let (id, name) = {
            let masked = CriticalSection::new();
            let t = scheduler::running(&masked);
            (t.id, t.name.clone())
        };
        write_identity(f, id, name.as_ref())
    }
}
