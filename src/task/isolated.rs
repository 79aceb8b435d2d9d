//! Isolated tasks: a closure run at EL0, in an address space of its own.
//!
//! [`Builder::spawn_isolated`] builds the task's lower half (see
//! [`crate::mm::user_layout`]): its stack with an unmapped guard region
//! below, and a copy of the closure's captured state. The task starts in the
//! kernel like any other, then drops to EL0 at [`user_entry`], which runs
//! the closure and calls `exit` with its value (plain data, copied out of
//! the task's memory by the kernel for `join`). The closure's code is the image's own
//! (execute-only at EL0); what it captured must be plain data, since kernel
//! memory (the heap included) is out of its reach: a captured `Box` or
//! `&'static` to kernel data is a memory-access fault when used. The
//! spawner's own copy of the closure is dropped once copied, so what it
//! captured from the kernel is freed, not leaked. Inside the
//! task, `Box`, `Vec` and `String` allocate from its own heap
//! ([`crate::mm::user_heap`]), backed on demand ([`demand_page`]) up to its
//! memory limit. What the
//! builder granted (`grants`) comes with it: channel endpoints in the
//! task's handle table (in its body, released as soon as it ends, or
//! kept for the next run of a supervised task), shared regions mapped into
//! its address space.
//!
//! An isolated task is always preemptible: `spawn_isolated` refuses a
//! cooperative priority, and nothing raises it to one later. Only
//! `sync::Mutex` priority inheritance changes a task's level, and no system
//! call takes a `sync::Mutex` (the kernel side of every call uses spin
//! locks), so an isolated task never holds one.

use super::builder::{Builder, SpawnError};
use super::ending::end_current;
use super::grants::Grants;
use super::spawn::{copy_name, start_task, JoinHandle, TaskStart};
use super::{Priority, TaskFailure};
use crate::arch::esr::Syndrome;
use crate::arch::mmu::descriptor::Attributes;
use crate::arch::user_access::{copy_from_user, UserRange};
use crate::critical::CriticalSection;
use crate::ipc::HandleTable;
use crate::ipc::Message;
use crate::mm::address_space::{AddressSpace, FaultInError, SpaceUsage};
use crate::mm::shared_region;
use crate::mm::user_layout::{self, page_align_up, ARGS_BASE, ARGS_MAX, STACK_TOP};
use crate::mm::PAGE_SIZE;
use crate::sched::scheduler;
use crate::sched::stack::TaskStacks;
use crate::sched::tcb::TaskBody;
use alloc::boxed::Box;
use core::cell::{Cell, UnsafeCell};

/// The stack an isolated task gets unless its `Builder` says otherwise.
pub const DEFAULT_USER_STACK_SIZE: usize = 16 * 1024;
/// The kernel-side thread-mode stack of an isolated task: used only until it enters EL0.
const KERNEL_SIDE_STACK_SIZE: usize = 4096;

/// An isolated task's body: where it enters EL0, what it was granted, and
/// the bytes of the value it returned.
struct IsolatedBody {
    pc: u64,
    stack_top: u64,
    /// The objects granted to the task; only the task itself touches it
    /// (in its system calls, and as it ends).
    handles: UnsafeCell<HandleTable>,
    /// Supervised runs: the handles outlive the run (see `take_back_handles`).
    keep_handles: bool,
    /// `size_of::<T>()` bytes, reserved at spawn: the value the task
    /// returned, copied out of its memory by the `exit` call (only the task
    /// itself writes it, before it ends).
    result: UnsafeCell<Box<[u8]>>,
    returned: Cell<bool>,
}

impl TaskBody for IsolatedBody {
    /// Enters EL0 (the address space was installed by the switch to us),
    /// unless the task was killed before it ever ran: then it ends here,
    /// and none of its code runs. Interrupts stay masked from that look
    /// to EL0 (`enter_user` masks them anyway), so a kill after it finds
    /// the task running, and the interrupt it sends this core is taken at
    /// EL0, where it ends the task (as for any isolated task running).
    fn run(&self) -> ! {
        crate::arch::cpu::disable_interrupts();
        if scheduler::running_task_killed() {
            crate::arch::cpu::enable_interrupts();
            end_current(Some(TaskFailure::Killed));
        }
        // SAFETY: we are the task's first code, in thread mode with an empty
        // kernel stack; its address space (with the stack) is in TTBR0.
        unsafe { crate::arch::user_mode::enter_user(self.pc, ARGS_BASE, self.stack_top) }
    }

    /// Releases what was granted to the task, so the other ends of its
    /// channels see the disconnection now (not when it is joined); a
    /// supervised run keeps them, for the supervisor to take back.
    fn end(&self) {
        if !self.keep_handles {
            // SAFETY: only the task touches its table, and no call of its is in progress.
            drop(core::mem::take(unsafe { &mut *self.handles.get() }));
        }
    }
}

/// The body of an isolated task (`None` for a kernel task's).
fn as_isolated(body: Option<&dyn TaskBody>) -> Option<&IsolatedBody> {
    body?.downcast_ref()
}

/// The first code an isolated task runs at EL0: take the closure out of its
/// memory, run it, hand its value to the kernel as it exits.
extern "C" fn user_entry<F: FnOnce() -> T, T: Message>(state: *mut F) -> ! {
    // SAFETY: `spawn_isolated` copied a valid `F` there, aligned, and gave up
    // its own copy; this is the only read of it.
    let f = unsafe { state.read() };
    let value = f();
    crate::syscall::user::exit_with_value(&value as *const T as u64, core::mem::size_of::<T>() as u64)
}

/// The value an isolated task returned, for `JoinHandle::join` (a
/// [`TakeResult`](super::spawn::TakeResult); it checks the body's type itself).
unsafe fn take_isolated_result<T: Message>(body: &dyn TaskBody) -> Option<T> {
    let body = as_isolated(Some(body))?;
    // SAFETY: the task has ended, so nothing else touches its result.
    let result = unsafe { &*body.result.get() };
    if !body.returned.replace(false) || result.len() != core::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `size_of::<T>()` initialized bytes, and every bit pattern is a
    // valid `T` (`Message`'s contract); the buffer may be less aligned than `T`.
    Some(unsafe { core::ptr::read_unaligned(result.as_ptr() as *const T) })
}

impl Builder {
    /// Spawns `f` as an isolated task: at EL0, in an address space of its
    /// own, with its own stack (the builder's stack size, default
    /// [`DEFAULT_USER_STACK_SIZE`]) above an unmapped guard region.
    /// `f` is copied (bit for bit) into the task's memory, and the caller's
    /// `f` is dropped: what it captured from the kernel is freed now, not
    /// leaked (the task could not reach it anyway). What it returns
    /// is plain data ([`Message`]): the kernel copies it out of the task's
    /// memory as the task exits, for [`JoinHandle::join`].
    ///
    /// A result type as large as the stack is refused
    /// ([`SpawnError::ResultTooLarge`]): the value is made there. A closure
    /// that never returns (it ends with `exit`) has no result type to
    /// infer: name it, `spawn_isolated::<_, ()>(|| exit(3))`.
    ///
    /// The priority must be preemptive: a cooperative one is
    /// [`SpawnError::CooperativeIsolated`], since untrusted code that spins
    /// must not stop the tasks of its own or lower urgency.
    pub fn spawn_isolated<F, T>(mut self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Message,
    {
        let grants = self.grants.take().map(|g| *g).unwrap_or_default();
        let spawned = self.spawn_with_grants(grants, false, &f);
        // The task has its own copy now. Ours is dropped here, in the spawner
        // (task context, no critical section): what the closure captured from
        // the kernel (a `Vec`, an `Arc`...) is out of the task's reach anyway,
        // and would otherwise leak.
        drop(f);
        spawned
    }

    /// `spawn_isolated` with `grants` given separately, and `f` copied (bit
    /// for bit) into the task's memory; with `keep_handles`, the task's
    /// handles are not released when it ends but stay for
    /// [`take_back_handles`] (supervised restarts).
    ///
    /// The copy at EL0 and the caller's `*f` never meet: the task cannot
    /// reach kernel memory, and what it drops it drops in its own. So the
    /// caller may keep `*f` (as a supervisor's template for the next run)
    /// and drop it in the kernel later; what `f` captured that the task can
    /// use is plain data (granted endpoints are handle numbers).
    pub(super) fn spawn_with_grants<F, T>(
        &self,
        grants: Grants,
        keep_handles: bool,
        f: &F,
    ) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Message,
    {
        let priority = self.priority.unwrap_or_default();
        if let Priority::Cooperative(_) = priority {
            return Err(SpawnError::CooperativeIsolated(priority));
        }
        // The exception path's handlers for tasks at EL0 (linked from here only).
        super::isolation_paths::install();
        let requested = self.stack_size.unwrap_or(DEFAULT_USER_STACK_SIZE);
        if requested as u64 > user_layout::MAX_USER_STACK_SIZE {
            return Err(SpawnError::StackTooLarge { requested, max: user_layout::MAX_USER_STACK_SIZE as usize });
        }
        // Whole pages, at least one (as for a kernel task's stack).
        let stack_size = page_align_up(requested.max(1) as u64);
        let result_size = core::mem::size_of::<T>();
        if result_size as u64 >= stack_size {
            let stack = stack_size as usize;
            return Err(SpawnError::ResultTooLarge { size: result_size, stack });
        }
        let state_size = core::mem::size_of::<F>() as u64;
        if state_size > ARGS_MAX {
            return Err(SpawnError::ClosureTooLarge { size: state_size as usize, max: ARGS_MAX as usize });
        }
        if core::mem::align_of::<F>() as u64 > PAGE_SIZE {
            let (align, max) = (core::mem::align_of::<F>(), PAGE_SIZE as usize);
            return Err(SpawnError::ClosureOverAligned { align, max });
        }
        let reserve = self.heap_reserve.unwrap_or(user_layout::HEAP_RESERVE);
        user_layout::check_heap_reserve(reserve)
            .map_err(|max| SpawnError::BadHeapReserve { requested: reserve, max })?;
        let limit = self.memory_limit.unwrap_or(user_layout::DEFAULT_MEMORY_LIMIT);
        grants.regions_fit().map_err(|(requested, max)| SpawnError::SharedSegmentFull { requested, max })?;
        // The task's copy of its name (the builder keeps its own: a
        // supervisor spawns from it again).
        let name = copy_name(self.name.as_deref())?;
        let mut result = alloc::vec::Vec::new();
        result.try_reserve_exact(result_size).map_err(|_| SpawnError::OutOfMemory)?;
        result.resize(result_size, 0u8);
        let mut space = AddressSpace::new().map_err(|_| SpawnError::OutOfMemory)?;
        space.set_limits(reserve, limit);
        space.map_stack(stack_size).map_err(|_| SpawnError::OutOfMemory)?;
        let state_pages = page_align_up(state_size.max(1)) / PAGE_SIZE;
        space.map_zeroed(ARGS_BASE, state_pages, Attributes::USER_DATA).map_err(|_| SpawnError::OutOfMemory)?;
        let held = space.usage().resident + space.usage().tables;
        if held > limit {
            return Err(SpawnError::MemoryLimitTooSmall { requested: limit, min: held });
        }
        // SAFETY: `f` is a live value of `state_size` bytes (see above on the copy).
        let bytes = unsafe { core::slice::from_raw_parts(f as *const F as *const u8, state_size as usize) };
        space.write(ARGS_BASE, bytes).map_err(|_| SpawnError::OutOfMemory)?;
        for (region, address, access) in &grants.regions {
            let attrs = match access {
                shared_region::Access::ReadWrite => Attributes::USER_DATA,
                shared_region::Access::ReadOnly => Attributes { writable: false, ..Attributes::USER_DATA },
            };
            space.grant_shared(*address, region, attrs).map_err(|_| SpawnError::OutOfMemory)?;
        }
        // Taken last: a failure from here on gives them back to the cache, as a task's end does.
        let (level, cpus) = self.level_and_cpus(KERNEL_SIDE_STACK_SIZE)?;
        let Ok(stacks) = TaskStacks::new(KERNEL_SIDE_STACK_SIZE) else { return Err(SpawnError::OutOfMemory) };
        let body = crate::mm::heap::try_box(IsolatedBody {
            pc: user_entry::<F, T> as *const () as u64,
            stack_top: STACK_TOP,
            handles: UnsafeCell::new(grants.handles),
            keep_handles,
            result: UnsafeCell::new(result.into_boxed_slice()),
            returned: Cell::new(false),
        });
        let Ok(body) = body else {
            crate::sched::stack::recycle(stacks);
            return Err(SpawnError::OutOfMemory); // the handles are released with the body
        };
        let start =
            TaskStart { name, level, cpus, stacks, body, address_space: Some(space), user_stack_size: stack_size };
        start_task(start, take_isolated_result::<T>)
    }
}

/// After a supervised run (spawned with `keep_handles`) has ended: its
/// handle table, whole, for the next run.
pub(super) fn take_back_handles<T>(handle: &JoinHandle<T>) -> HandleTable {
    let masked = CriticalSection::new();
    let t = handle.block(&masked);
    debug_assert!(t.state.get() == crate::sched::tcb::State::Exited);
    let body = as_isolated(t.body()).expect("a supervised task is isolated");
    // SAFETY: the task has ended, so nothing else touches its table.
    core::mem::take(unsafe { &mut *body.handles.get() })
}

/// The `exit` system call: ends the running isolated task. Status 0 with
/// the task's value (`len` bytes at user address `ptr`, exactly the size
/// of its result type) is success; status 0 without a value (`len` 0)
/// is success only for a task whose result is zero-sized, else it is
/// `Exited { status: 0 }`; any other status is `Exited { status }`. A value
/// of the wrong size is `BadLength`, an unreadable one `BadAddress`: the
/// call returns, and the task goes on.
pub(crate) fn exit_isolated(status: u64, ptr: u64, len: u64) -> Result<u64, crate::syscall::abi::SyscallError> {
    use crate::syscall::abi::SyscallError;
    if status != 0 {
        end_current(Some(TaskFailure::Exited { status }));
    }
    scheduler::with_running_body(|body| {
        let body = as_isolated(body).expect("only isolated tasks make system calls");
        // SAFETY: only the task itself writes its result, one call at a time, before it ends.
        let result = unsafe { &mut *body.result.get() };
        if len == 0 && !result.is_empty() {
            end_current(Some(TaskFailure::Exited { status: 0 }));
        }
        if len != 0 {
            if len != result.len() as u64 {
                return Err(SyscallError::BadLength);
            }
            UserRange::new(ptr, len as usize)?;
            copy_from_user(result, ptr)?;
        }
        body.returned.set(true);
        Ok(())
    })?;
    end_current(None)
}

/// Runs `f` on the running isolated task's handle table (`None` for a kernel task).
/// `f` may block: nothing but the task itself touches its table.
pub(crate) fn with_current_handles<R>(f: impl FnOnce(&HandleTable) -> R) -> Option<R> {
    scheduler::with_running_body(|body| {
        let body = as_isolated(body)?;
        // SAFETY: only the running task reaches its own table, from one system call at a
        // time; the table is emptied only as the task ends, never during a call.
        Some(f(unsafe { &*body.handles.get() }))
    })
}

/// As [`with_current_handles`], for a change to the table (`close`). `f`
/// must not block (nor release an object, which may switch tasks).
pub(crate) fn with_current_handles_mut<R>(f: impl FnOnce(&mut HandleTable) -> R) -> Option<R> {
    scheduler::with_running_body(|body| {
        let body = as_isolated(body)?;
        // SAFETY: as in `with_current_handles`; this is the only borrow of the
        // table while `f` runs (the task makes one system call at a time).
        Some(f(unsafe { &mut *body.handles.get() }))
    })
}

/// The failure a synchronous exception from EL0 means for the running
/// isolated task. An undefined instruction may be a privileged one the CPU
/// does not even define at EL0 (`mrs x0, ttbr1_el1`, `eret`, `smc`): the
/// instruction word tells (see [`crate::arch::privileged`]).
pub(crate) fn isolated_failure(syndrome: Syndrome, esr: u64, far: u64, pc: u64) -> TaskFailure {
    let stack_size = scheduler::running(&CriticalSection::new()).user_stack_size;
    let syndrome = match syndrome {
        Syndrome::UndefinedInstruction => match instruction_at(pc).and_then(crate::arch::privileged::classify) {
            Some(operation) => Syndrome::Privileged(operation),
            None => syndrome,
        },
        other => other,
    };
    super::failure::from_fault(syndrome, esr, far, pc, |addr| user_layout::is_stack_guard(addr, stack_size))
}

/// The instruction at `pc`, if it is in the image's code: the only code
/// EL0 can execute (its stack and heap are never executable).
fn instruction_at(pc: u64) -> Option<u32> {
    let image = crate::mm::layout::ImageLayout::current();
    let in_code = (image.start..image.text_end).contains(&pc) && pc.is_multiple_of(4);
    // SAFETY: an aligned word of the kernel's own code, mapped and readable at EL1.
    in_code.then(|| unsafe { core::ptr::read_volatile(pc as *const u32) })
}

/// What a translation fault at `far` in the running isolated task's memory
/// (from EL0, or from the kernel copying to or from it) comes to.
#[allow(clippy::large_enum_variant)] // a `TaskFailure` is large (its panic message is inline), and rare here
pub(crate) enum DemandPaging {
    /// A page of demand-zero memory got its frame: retry the access.
    Mapped,
    /// Not a first touch of demand-zero memory: a real fault.
    NotDemandZero,
    /// A first touch, refused: the task is at its memory limit.
    Refused(TaskFailure),
}

/// Backs a first touch of the running task's heap with a zeroed frame
/// (see [`AddressSpace::fault_in`]). Instruction fetches are never backed:
/// the heap is not executable.
pub(crate) fn demand_page(esr: u64, far: u64) -> DemandPaging {
    if !crate::arch::esr::is_data_translation_fault(esr) {
        return DemandPaging::NotDemandZero;
    }
    let masked = CriticalSection::new();
    let me = scheduler::running(&masked);
    // SAFETY: the running task's address space is used only by itself and,
    // with interrupts masked (as here), by the scheduler and `dump`.
    let space = unsafe { &mut **me.address_space.get() };
    let Some(space) = space else { return DemandPaging::NotDemandZero };
    crate::trace::page_fault(me.id, far);
    match space.fault_in(far) {
        Ok(()) => DemandPaging::Mapped,
        Err(FaultInError::NotDemandZero) => DemandPaging::NotDemandZero,
        Err(FaultInError::LimitReached { held, limit } | FaultInError::OutOfFrames { held, limit }) => {
            DemandPaging::Refused(TaskFailure::OutOfMemory { addr: far, held, limit })
        }
    }
}

/// The `map_shared` system call: maps the shared region granted to the
/// running task at `address`.
pub(crate) fn map_granted_region(address: u64) -> Result<u64, crate::syscall::abi::SyscallError> {
    use crate::syscall::abi::SyscallError;
    if !address.is_multiple_of(PAGE_SIZE) {
        return Err(SyscallError::Misaligned);
    }
    let masked = CriticalSection::new();
    // SAFETY: as in `demand_page`.
    let space = unsafe { &mut **scheduler::running(&masked).address_space.get() };
    match space.as_mut().and_then(|space| space.map_granted(address)) {
        Some(Ok(())) => Ok(0),
        // Out of frames for the tables: the caller may try again later.
        Some(Err(_)) => Err(SyscallError::OutOfMemory),
        None => Err(SyscallError::NoSuchObject),
    }
}

/// The running task's memory (zero for a kernel task: it has no address space of its own).
pub(crate) fn current_memory_usage() -> SpaceUsage {
    let masked = CriticalSection::new();
    // SAFETY: as in `demand_page`.
    match unsafe { &**scheduler::running(&masked).address_space.get() } {
        Some(space) => space.usage(),
        None => SpaceUsage { resident: 0, tables: 0, limit: 0, heap_reserve: 0 },
    }
}
