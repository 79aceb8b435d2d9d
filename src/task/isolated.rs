//! Isolated tasks: a closure run at EL0, in an address space of its own.
//!
//! [`Builder::spawn_isolated`] builds the task's lower half (see
//! [`crate::mm::user_layout`]): its stack with an unmapped guard region
//! below, and a copy of the closure's captured state. The task starts in the
//! kernel like any other, then drops to EL0 at [`user_entry`], which runs
//! the closure and calls `exit`. The closure's code is the image's own
//! (execute-only at EL0); what it captured must be plain data, since kernel
//! memory (the heap included) is out of its reach: a captured `Box` or
//! `&'static` to kernel data is a memory-access fault when used. The
//! spawner's own copy of the closure is dropped once copied, so what it
//! captured from the kernel is freed, not leaked. Inside the
//! task, `Box`, `Vec` and `String` allocate from its own heap
//! ([`crate::mm::user_heap`]), backed on demand ([`demand_page`]) up to its
//! memory limit. What the
//! builder granted (`grants`) comes with it: channel endpoints in the
//! task's handle table (in its packet, released as soon as it ends), shared
//! regions mapped into its address space.

use super::spawn::{start_task, Builder, JoinHandle, SpawnError, TaskStart};
use super::TaskFailure;
use crate::arch::esr::{Access, FaultStatus, Syndrome};
use crate::arch::mmu::descriptor::Attributes;
use crate::ipc::HandleTable;
use crate::mm::address_space::{AddressSpace, FaultInError, SpaceUsage};
use crate::mm::shared_region;
use crate::mm::user_layout::{self, page_align_up, ARGS_BASE, ARGS_MAX, PAGE_SIZE, STACK_TOP};
use crate::sched::scheduler;
use alloc::boxed::Box;

/// The stack an isolated task gets unless its `Builder` says otherwise.
pub const DEFAULT_USER_STACK_SIZE: usize = 16 * 1024;
/// The kernel-side thread-mode stack of an isolated task: used only until it enters EL0.
const KERNEL_SIDE_STACK_SIZE: usize = 4096;

/// Where the task enters EL0, and its result slot (first, as `JoinHandle` expects).
#[repr(C)]
struct IsolatedPacket {
    result: Option<()>,
    pc: u64,
    stack_top: u64,
    /// The objects granted to the task; only the task itself touches it
    /// (in its system calls, and as it ends).
    handles: core::cell::UnsafeCell<HandleTable>,
}

/// The first code an isolated task runs at EL0: take the closure out of its
/// memory, run it, exit.
extern "C" fn user_entry<F: FnOnce()>(state: *mut F) -> ! {
    // SAFETY: `spawn_isolated` copied a valid `F` there, aligned, and gave up
    // its own copy; this is the only read of it.
    let f = unsafe { state.read() };
    f();
    crate::syscall::user::exit(0)
}

/// Kernel side: enter EL0 (the address space was installed by the switch to us).
unsafe fn enter_isolated(packet: *mut ()) {
    // SAFETY: made by `spawn_isolated` as an `IsolatedPacket`, alive as long as the task.
    let (pc, stack_top) = unsafe {
        let p = &*(packet as *const IsolatedPacket);
        (p.pc, p.stack_top)
    };
    // SAFETY: we are the task's first code, in thread mode with an empty
    // kernel stack; its address space (with the stack) is in TTBR0.
    unsafe { crate::arch::user_mode::enter_user(pc, ARGS_BASE, stack_top) }
}

unsafe fn drop_isolated_packet(packet: *mut ()) {
    // SAFETY: made by `Box::into_raw` in `spawn_isolated`, dropped once.
    drop(unsafe { Box::from_raw(packet as *mut IsolatedPacket) });
}

impl Builder {
    /// An isolated task's heap reserve in bytes (whole pages, default
    /// [`user_layout::HEAP_RESERVE`], at most [`user_layout::HEAP_RESERVE_MAX`]):
    /// virtual address space only, backed page by page on first touch.
    pub fn heap_reserve(mut self, bytes: u64) -> Self {
        self.heap_reserve = Some(bytes);
        self
    }

    /// The most physical memory an isolated task may hold, pages and
    /// translation tables together (default [`user_layout::DEFAULT_MEMORY_LIMIT`]).
    /// Touching a new heap page past it ends the task with
    /// [`TaskFailure::OutOfMemory`].
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Spawns `f` as an isolated task: at EL0, in an address space of its
    /// own, with its own stack (the builder's stack size, default
    /// [`DEFAULT_USER_STACK_SIZE`]) above an unmapped guard region.
    /// `f` is copied (bit for bit) into the task's memory, and the caller's
    /// `f` is dropped: what it captured from the kernel is freed now, not
    /// leaked (the task could not reach it anyway).
    pub fn spawn_isolated<F>(mut self, f: F) -> Result<JoinHandle<()>, SpawnError>
    where
        F: FnOnce() + Send + 'static,
    {
        let stack_size = self.stack_size.unwrap_or(DEFAULT_USER_STACK_SIZE) as u64;
        if stack_size > user_layout::MAX_STACK_SIZE {
            return Err(SpawnError::StackTooLarge {
                requested: stack_size as usize,
                max: user_layout::MAX_STACK_SIZE as usize,
            });
        }
        let state_size = core::mem::size_of::<F>() as u64;
        if state_size > ARGS_MAX || core::mem::align_of::<F>() as u64 > PAGE_SIZE {
            return Err(SpawnError::StackTooLarge { requested: state_size as usize, max: ARGS_MAX as usize });
        }
        let reserve = self.heap_reserve.unwrap_or(user_layout::HEAP_RESERVE);
        user_layout::check_heap_reserve(reserve)
            .map_err(|max| SpawnError::BadHeapReserve { requested: reserve, max })?;
        let limit = self.memory_limit.unwrap_or(user_layout::DEFAULT_MEMORY_LIMIT);
        let stack_size = page_align_up(stack_size);
        let mut space = AddressSpace::new().map_err(|_| SpawnError::OutOfMemory)?;
        space.set_limits(reserve, limit);
        space
            .map_zeroed(STACK_TOP - stack_size, stack_size / PAGE_SIZE, Attributes::USER_DATA)
            .map_err(|_| SpawnError::OutOfMemory)?;
        let state_pages = page_align_up(state_size.max(1)) / PAGE_SIZE;
        space.map_zeroed(ARGS_BASE, state_pages, Attributes::USER_DATA).map_err(|_| SpawnError::OutOfMemory)?;
        let held = space.usage().resident + space.usage().tables;
        if held > limit {
            return Err(SpawnError::MemoryLimitTooSmall { requested: limit, min: held });
        }
        // SAFETY: `f` is a live value of `state_size` bytes, copied bit for bit.
        let bytes = unsafe { core::slice::from_raw_parts(&f as *const F as *const u8, state_size as usize) };
        let copied = space.write(ARGS_BASE, bytes);
        // The task has its own copy now. Ours is dropped here, in the spawner
        // (task context, no critical section): what the closure captured from
        // the kernel (a `Vec`, an `Arc`...) is out of the task's reach anyway,
        // and would otherwise leak.
        drop(f);
        copied.map_err(|_| SpawnError::OutOfMemory)?;
        let grants = self.grants.take().map(|g| *g).unwrap_or_default();
        if !grants.regions_fit() {
            return Err(SpawnError::OutOfMemory);
        }
        for (region, address, access) in &grants.regions {
            let attrs = match access {
                shared_region::Access::ReadWrite => Attributes::USER_DATA,
                shared_region::Access::ReadOnly => Attributes { writable: false, ..Attributes::USER_DATA },
            };
            space.grant_shared(*address, region, attrs).map_err(|_| SpawnError::OutOfMemory)?;
        }
        // Taken last: a failure from here on gives them back to the cache, as a task's end does.
        let (level, stacks) = self.level_and_stacks(KERNEL_SIDE_STACK_SIZE)?;
        let packet = crate::mm::heap::try_box(IsolatedPacket {
            result: None,
            pc: user_entry::<F> as *const () as u64,
            stack_top: STACK_TOP,
            handles: core::cell::UnsafeCell::new(grants.handles),
        });
        let Ok(packet) = packet else {
            crate::sched::stack::recycle(stacks);
            return Err(SpawnError::OutOfMemory); // the handles are released with the packet
        };
        let packet = Box::into_raw(packet);
        start_task(TaskStart {
            name: self.name,
            level,
            stacks,
            packet: packet as *mut (),
            entry: enter_isolated,
            drop_packet: drop_isolated_packet,
            address_space: Some(space),
            user_stack_size: stack_size,
        })
    }
}

/// The `exit` system call: ends the running isolated task, successfully
/// for status 0.
pub(crate) fn exit_isolated(status: u64) -> ! {
    if status != 0 {
        super::fail_current(TaskFailure::Exited { status });
    }
    release_handles();
    // SAFETY: the running task is alive; only isolated tasks make system calls,
    // and their packet is an `IsolatedPacket`, which starts with the result.
    unsafe {
        let t = scheduler::current().as_ref();
        debug_assert!(t.is_isolated());
        *(t.packet as *mut Option<()>) = Some(());
    }
    scheduler::exit_current(None)
}

/// The running task's handle table, if it is an isolated task.
fn current_handles() -> Option<*mut HandleTable> {
    // SAFETY: the running task is alive.
    let t = unsafe { scheduler::current().as_ref() };
    // SAFETY: an isolated task's packet is an `IsolatedPacket`, alive as long as the task.
    t.is_isolated().then(|| unsafe { (*(t.packet as *mut IsolatedPacket)).handles.get() })
}

/// Runs `f` on the running isolated task's handle table (`None` for a kernel task).
/// `f` may block: nothing but the task itself touches its table.
pub(crate) fn with_current_handles<R>(f: impl FnOnce(&HandleTable) -> R) -> Option<R> {
    // SAFETY: only the running task reaches its own table, from one system call at a
    // time; the table is emptied only as the task ends, never during a call.
    current_handles().map(|table| f(unsafe { &*table }))
}

/// As the running task ends: releases what was granted to it, so the other
/// ends of its channels see the disconnection now (not when it is joined).
pub(crate) fn release_handles() {
    if let Some(table) = current_handles() {
        // SAFETY: as in `with_current_handles`; no call of the task is in progress.
        drop(core::mem::take(unsafe { &mut *table }));
    }
}

/// The failure a synchronous exception from EL0 means for the running isolated task.
pub(crate) fn isolated_failure(syndrome: Syndrome, esr: u64, far: u64, pc: u64) -> TaskFailure {
    // SAFETY: the running task is alive.
    let stack_size = unsafe { scheduler::current().as_ref() }.user_stack_size;
    super::failure::from_fault(syndrome, esr, far, pc, |addr| user_layout::is_stack_guard(addr, stack_size))
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
pub(crate) fn demand_page(syndrome: Syndrome, far: u64) -> DemandPaging {
    let Syndrome::Abort { access, status: FaultStatus::Translation { .. }, far_valid: true, .. } = syndrome else {
        return DemandPaging::NotDemandZero;
    };
    if access == Access::Execute {
        return DemandPaging::NotDemandZero;
    }
    let _masked = crate::sched::critical::InterruptsMasked::new();
    // SAFETY: the running task is alive; its address space is used only by
    // itself and, with interrupts masked (as here), by the scheduler and `dump`.
    let space = unsafe { &mut *scheduler::current().as_ref().address_space.get() };
    let Some(space) = space else { return DemandPaging::NotDemandZero };
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
    let _masked = crate::sched::critical::InterruptsMasked::new();
    // SAFETY: as in `demand_page`.
    let space = unsafe { &mut *scheduler::current().as_ref().address_space.get() };
    match space.as_mut().and_then(|space| space.map_granted(address)) {
        Some(Ok(())) => Ok(0),
        // Out of frames for the tables: the caller may try again later.
        Some(Err(_)) => Err(SyscallError::OutOfMemory),
        None => Err(SyscallError::NoSuchObject),
    }
}

/// The running task's memory (zero for a kernel task: it has no address space of its own).
pub(crate) fn current_memory_usage() -> SpaceUsage {
    let _masked = crate::sched::critical::InterruptsMasked::new();
    // SAFETY: as in `demand_page`.
    match unsafe { &*scheduler::current().as_ref().address_space.get() } {
        Some(space) => space.usage(),
        None => SpaceUsage { resident: 0, tables: 0, limit: 0, heap_reserve: 0 },
    }
}

/// `mm::dump`: prints the mappings of the isolated task `handle` refers to
/// (range, size, EL0 permissions, memory type, segment), with the image's
/// code and constants as the task sees them.
pub fn dump_address_space<T>(handle: &JoinHandle<T>) {
    use crate::mm::layout::ImageLayout;
    use alloc::{string::String, vec::Vec};
    let task = handle.task();
    let mut pages: Vec<(u64, Attributes)> = Vec::new();
    let mut stack_size = 0;
    {
        let _masked = crate::sched::critical::InterruptsMasked::new();
        // SAFETY: the handle keeps the task's control block (and address space) alive;
        // interrupts are masked, so the scheduler does not touch it meanwhile.
        let t = unsafe { handle.tcb.as_ref() };
        // SAFETY: as above.
        if let Some(space) = unsafe { &*t.address_space.get() } {
            // Room first: a growing `Vec` must not fail here, with interrupts masked.
            if pages.try_reserve(space.pages().count()).is_err() {
                drop(_masked);
                crate::println!("{task}: out of kernel memory for the table of its mappings");
                return;
            }
            stack_size = t.user_stack_size;
            pages.extend(space.pages().filter_map(|(va, _)| Some((va, space.attributes_of(va)?))));
        }
    }
    if stack_size == 0 {
        crate::println!("{task}: not an isolated task (or already ended): no address space of its own");
        return;
    }
    pages.sort_by_key(|(va, _)| *va);
    let image = ImageLayout::current();
    let kernel_attrs =
        |va| crate::arch::mmu::translate_user_view(va).map(|(_, a, _)| a).unwrap_or(Attributes::KERNEL_RODATA);
    let shared = [
        ("image code (shared)", image.start, image.text_end, kernel_attrs(image.start)),
        ("image constants (shared)", image.text_end, image.rodata_end, kernel_attrs(image.text_end)),
    ];
    let mut out = String::new();
    let _ = crate::mm::mapping_table::write_table(&mut out, pages.into_iter(), stack_size, &shared);
    crate::println!("{task}: address space\n{out}");
}
