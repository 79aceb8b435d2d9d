//! Creating, joining and naming tasks (the target-only half of [`crate::task`]).

use super::{Priority, TaskFailure, TaskName};
use crate::arch::context::Context;
use crate::critical::InterruptsMasked;
use crate::sched::stack::{TaskStacks, MAX_STACK_SIZE};
use crate::sched::tcb::{State, Tcb, WakeReason};
use crate::sched::{scheduler, wait_queue::WaitQueue};
use alloc::boxed::Box;
use alloc::string::String;
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// The stack a task gets unless its `Builder` says otherwise.
pub const DEFAULT_STACK_SIZE: usize = 16 * 1024;

/// Why a task could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// No memory (or no stack slot) left for its stacks, control block,
    /// name or closure. Nothing is lost: what the builder held (granted
    /// endpoints included) is released, and the caller goes on.
    OutOfMemory,
    /// The priority number is out of range for its class.
    InvalidPriority(Priority),
    /// Larger than the largest stack a slot holds.
    StackTooLarge { requested: usize, max: usize },
    /// An isolated task's heap reserve is zero, not whole pages, or larger than its layout allows.
    BadHeapReserve { requested: u64, max: u64 },
    /// An isolated task's memory limit cannot even hold what it needs at spawn.
    MemoryLimitTooSmall { requested: u64, min: u64 },
    /// An isolated task at a cooperative priority: untrusted code must be
    /// preemptible, or one spinning loop would stop every other task.
    CooperativeIsolated(Priority),
    /// An isolated task's result type is larger than its stack, where the
    /// value is made before the kernel copies it out.
    ResultTooLarge { size: usize, stack: usize },
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of memory for the task's stacks and control block"),
            Self::InvalidPriority(p) => write!(f, "priority {p:?} is out of range for its class"),
            Self::StackTooLarge { requested, max } => {
                write!(f, "stack of {requested} bytes requested, at most {max} bytes")
            }
            Self::BadHeapReserve { requested, max } => {
                write!(f, "heap reserve of {requested} bytes: not whole pages, zero, or over {max} bytes")
            }
            Self::MemoryLimitTooSmall { requested, min } => {
                write!(f, "memory limit of {requested} bytes is below the {min} bytes needed at spawn")
            }
            Self::ResultTooLarge { size, stack } => {
                write!(f, "a result of {size} bytes cannot be made on a stack of {stack} bytes")
            }
            Self::CooperativeIsolated(p) => write!(
                f,
                "isolated tasks must be preemptible: {p:?} is a cooperative priority (use Priority::Preemptive)"
            ),
        }
    }
}

/// A task's identity: a number unique for the system's life, and a name.
#[derive(Clone, Debug)]
pub struct Task {
    id: u64,
    name: Option<TaskName>,
}

impl Task {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The running task.
pub fn current() -> Task {
    let _masked = InterruptsMasked::new();
    // SAFETY: the running task is alive while it runs.
    let t = unsafe { scheduler::current().as_ref() };
    Task { id: t.id, name: t.name.clone() }
}

/// Lets other ready tasks of the same or higher urgency run first.
pub fn yield_now() {
    if crate::arch::user_mode::running_at_el0() {
        return crate::syscall::user::yield_now();
    }
    scheduler::yield_now()
}

/// Spawns a task with the default name, priority and stack.
///
/// # Panics
/// If out of memory (use [`Builder::spawn`] to get an error instead).
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn task")
}

/// Sets up a task before spawning it, as `std::thread::Builder`.
#[derive(Debug, Default)]
pub struct Builder {
    pub(super) name: Option<String>,
    pub(super) priority: Option<Priority>,
    pub(super) stack_size: Option<usize>,
    /// Isolated tasks only: heap reserve and memory limit, in bytes.
    pub(super) heap_reserve: Option<u64>,
    pub(super) memory_limit: Option<u64>,
    /// Channel endpoints and shared regions for an isolated task (`grant`,
    /// `share`); boxed, so that builders without any stay small.
    pub(super) grants: Option<alloc::boxed::Box<super::grants::Grants>>,
}

/// The closure and the slot for its result.
struct Packet<F, T> {
    result: Option<T>,
    f: Option<F>,
}

/// Runs the closure of a `Packet<F, T>` and stores its result.
unsafe fn run_packet<F: FnOnce() -> T, T>(packet: *mut ()) {
    let packet = packet as *mut Packet<F, T>;
    // SAFETY: made by `Builder::spawn` for this `F` and `T`; the task is its only user while it runs.
    let f = unsafe { (*packet).f.take() }.expect("task started twice");
    let result = f();
    // SAFETY: as above.
    unsafe { (*packet).result = Some(result) };
}

/// Takes the result out of a `Packet<F, T>` (for `JoinHandle::join`).
unsafe fn take_packet_result<F, T>(packet: *mut ()) -> Option<T> {
    // SAFETY: made by `Builder::spawn` for this `F` and `T`; the task has ended.
    unsafe { (*(packet as *mut Packet<F, T>)).result.take() }
}

unsafe fn drop_packet<F, T>(packet: *mut ()) {
    // SAFETY: made by `Box::into_raw` in `Builder::spawn` for this `F` and `T`, and dropped once.
    drop(unsafe { Box::from_raw(packet as *mut Packet<F, T>) });
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The task's stack size in bytes (rounded up to 4 KiB pages).
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// The task's level, and its kernel-side stacks (`stack_size` bytes in thread mode).
    pub(super) fn level_and_stacks(
        &self,
        stack_size: usize,
    ) -> Result<(crate::sched::priority::Level, TaskStacks), SpawnError> {
        let priority = self.priority.unwrap_or_default();
        let level = priority.level().ok_or(SpawnError::InvalidPriority(priority))?;
        if stack_size > MAX_STACK_SIZE {
            return Err(SpawnError::StackTooLarge { requested: stack_size, max: MAX_STACK_SIZE });
        }
        let stacks = TaskStacks::new(stack_size).map_err(|_| SpawnError::OutOfMemory)?;
        Ok((level, stacks))
    }

    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (level, stacks) = self.level_and_stacks(self.stack_size.unwrap_or(DEFAULT_STACK_SIZE))?;
        let Ok(packet) = crate::mm::heap::try_box(Packet::<F, T> { result: None, f: Some(f) }) else {
            crate::sched::stack::recycle(stacks);
            return Err(SpawnError::OutOfMemory); // the closure is dropped with the packet
        };
        let packet = Box::into_raw(packet);
        let start = TaskStart {
            name: self.name,
            level,
            stacks,
            packet: packet as *mut (),
            entry: run_packet::<F, T>,
            drop_packet: drop_packet::<F, T>,
            address_space: None,
            user_stack_size: 0,
        };
        start_task(start, take_packet_result::<F, T>)
    }
}

/// Everything a new task is made of (see [`start_task`]).
pub(super) struct TaskStart {
    pub name: Option<String>,
    pub level: crate::sched::priority::Level,
    pub stacks: TaskStacks,
    pub packet: *mut (),
    pub entry: unsafe fn(*mut ()),
    pub drop_packet: unsafe fn(*mut ()),
    pub address_space: Option<crate::mm::address_space::AddressSpace>,
    pub user_stack_size: u64,
}

impl TaskStart {
    /// Gives back what a task that could not be started was made of (its
    /// closure is dropped, here in the spawner, outside any critical section).
    fn abandon(self) -> SpawnError {
        // SAFETY: the packet was made for `drop_packet`; the task never ran.
        unsafe { (self.drop_packet)(self.packet) };
        crate::sched::stack::recycle(self.stacks);
        SpawnError::OutOfMemory
    }
}

/// Makes the task control block, queues the task as ready, and returns its
/// handle, which takes the task's result out of its packet with
/// `take_result`; if memory is out, frees what `start` holds instead.
pub(super) fn start_task<T>(
    mut start: TaskStart,
    take_result: unsafe fn(*mut ()) -> Option<T>,
) -> Result<JoinHandle<T>, SpawnError> {
    let name = match start.name.take() {
        Some(name) => match TaskName::try_new(&name) {
            Some(name) => Some(name),
            None => return Err(start.abandon()),
        },
        None => None,
    };
    let Some(tcb) = crate::mm::heap::try_alloc::<Tcb>() else {
        return Err(start.abandon());
    };
    {
        let level = start.level;
        // SAFETY: memory for a `Tcb`, from the global allocator with its
        // layout (freed as a `Box` by `scheduler::release`).
        unsafe {
            tcb.as_ptr().write(Tcb {
                context: UnsafeCell::new(Context::default()),
                queue_links: Default::default(),
                timer_links: Default::default(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                name,
                base_level: Cell::new(level),
                level: Cell::new(level),
                state: Cell::new(State::Ready),
                wake_reason: Cell::new(WakeReason::Notified),
                deadline: Cell::new(0),
                slice_left: Cell::new(0),
                waiting_on: Cell::new(None),
                waiting_for_mutex: Cell::new(core::ptr::null()),
                held_mutexes: Cell::new(core::ptr::null()),
                stacks: Some(start.stacks),
                failure: UnsafeCell::new(None),
                joiners: WaitQueue::new(),
                packet: start.packet,
                entry: start.entry,
                drop_packet: Cell::new(start.drop_packet),
                refs: Cell::new(2), // the task's own, and the handle's
                panicking: Cell::new(false),
                park_token: Cell::new(false),
                parked: Cell::new(false),
                address_space: UnsafeCell::new(start.address_space),
                user_stack_size: start.user_stack_size,
            })
        };
        // SAFETY: just made; the stacks are mapped.
        unsafe {
            let t = tcb.as_ref();
            let stacks = t.stacks.as_ref().unwrap();
            *t.context() = Context::new_task(tcb.as_ptr() as u64, stacks.stack_top(), stacks.kernel_stack_top());
        }
        let masked = InterruptsMasked::new();
        // SAFETY: alive (our references) and on no queue.
        unsafe { scheduler::make_ready(&masked, tcb) };
        scheduler::reschedule_point(&masked);
        Ok(JoinHandle { tcb, take_result })
    }
}

/// Where a new task starts (from `task_trampoline` in switch.s): finish the
/// switch, run the closure, end.
#[no_mangle]
extern "C" fn ilusion_task_start(prev: *mut u8, task: *mut Tcb) -> ! {
    // SAFETY: switches run with interrupts masked; we were just switched to.
    let masked = unsafe { InterruptsMasked::assume() };
    scheduler::finish_switch(&masked, prev as *mut Tcb);
    drop(masked);
    crate::arch::cpu::enable_interrupts();
    // SAFETY: our control block lives until we have ended and been switched away from.
    let (entry, packet) = unsafe { ((*task).entry, (*task).packet) };
    // SAFETY: `entry` and `packet` were made for each other by `Builder::spawn`.
    unsafe { entry(packet) };
    scheduler::exit_current(None)
}

/// Owns the right to join a task. Dropping it detaches the task.
pub struct JoinHandle<T> {
    pub(super) tcb: NonNull<Tcb>,
    /// Takes the result out of the task's packet: kernel and isolated tasks keep it differently.
    take_result: unsafe fn(*mut ()) -> Option<T>,
}

// SAFETY: the handle only reaches the task through masked critical sections,
// and `T: Send` is required to move the result out.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads the task's identity.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Waits for the task to end: `Ok` with what it returned, or `Err` with why it failed.
    pub fn join(self) -> Result<T, TaskFailure> {
        match self.join_until(None) {
            Ok(outcome) => outcome,
            Err(_) => unreachable!("a join without a deadline timed out"),
        }
    }

    /// As [`JoinHandle::join`], waiting at most `timeout` (`Duration::MAX`:
    /// forever): `Ok` with the task's outcome if it ended in time, else
    /// `Err` with this handle back, to join later (the task runs on).
    pub fn join_timeout(self, timeout: crate::time::Duration) -> Result<Result<T, TaskFailure>, JoinHandle<T>> {
        self.join_until(crate::time::deadline_from_now(timeout).map(|d| d.ticks()))
    }

    fn join_until(self, deadline: Option<u64>) -> Result<Result<T, TaskFailure>, JoinHandle<T>> {
        let masked = InterruptsMasked::new();
        // SAFETY: the handle holds a reference, so the task is alive.
        let t = unsafe { self.tcb.as_ref() };
        while t.state.get() != State::Exited {
            if t.joiners.wait(&masked, deadline) == WakeReason::TimedOut && t.state.get() != State::Exited {
                drop(masked);
                return Err(self);
            }
        }
        // SAFETY: the task has ended: nothing else touches its failure or packet.
        // (The failure is looked at in place: it is large, its message inline.)
        let failure = unsafe { &mut *t.failure.get() };
        let outcome = match failure {
            Some(_) => Err(failure.take().unwrap()),
            // SAFETY: `take_result` was made for this packet, by the same spawn.
            None => Ok(unsafe { (self.take_result)(t.packet) }.expect("task ended without a result")),
        };
        drop(masked);
        Ok(outcome) // `self` drops here, releasing the task
    }

    /// Waits for the task to end, keeping the handle (see `join`).
    pub(super) fn wait(&self) {
        let masked = InterruptsMasked::new();
        // SAFETY: the handle holds a reference, so the task is alive.
        let t = unsafe { self.tcb.as_ref() };
        while t.state.get() != State::Exited {
            t.joiners.wait(&masked, None);
        }
    }

    /// The task's identity.
    pub fn task(&self) -> Task {
        let _masked = InterruptsMasked::new();
        // SAFETY: alive while the handle exists.
        let t = unsafe { self.tcb.as_ref() };
        Task { id: t.id, name: t.name.clone() }
    }

    /// Resumes the task if it is in [`park`](super::park), else makes its
    /// next `park` return at once. Also from an interrupt handler: a more
    /// urgent task woken there runs as the handler ends.
    pub fn unpark(&self) {
        // SAFETY: alive while the handle exists.
        unsafe { super::park::unpark(self.tcb) }
    }

    /// Has the task ended?
    pub fn is_finished(&self) -> bool {
        let _masked = InterruptsMasked::new();
        // SAFETY: alive while the handle exists.
        unsafe { self.tcb.as_ref() }.state.get() == State::Exited
    }
}

impl<T> core::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "JoinHandle({})", self.task())
    }
}

impl<T> Drop for JoinHandle<T> {
    /// Detaches a running task, or frees an ended one. An ended task's
    /// closure and result are dropped here, after the critical section: their
    /// `Drop`s are application code (a running task drops its own as it ends).
    fn drop(&mut self) {
        let masked = InterruptsMasked::new();
        // SAFETY: alive while the handle exists.
        let t = unsafe { self.tcb.as_ref() };
        let packet = (t.state.get() == State::Exited).then(|| t.take_packet());
        // SAFETY: the handle's reference, given up once.
        unsafe { scheduler::release(&masked, self.tcb) };
        drop(masked);
        drop(packet);
    }
}

/// The id of the task running the application's `main` (the first spawned).
/// Like a process, the program ends when it fails: its panic or fault is
/// reported as before tasks existed (exit status 101 or 102).
const MAIN_TASK_ID: u64 = 1;

/// Can a failure of task `t` end just that task? Not for idle or main.
fn may_fail_alone(t: &Tcb) -> bool {
    t.id != MAIN_TASK_ID && t.stacks.is_some()
}

/// Is `addr` in the running task's stack guard region?
pub(crate) fn is_stack_overflow_address(addr: u64) -> bool {
    if !scheduler::is_started() {
        return false;
    }
    // SAFETY: the running task is alive.
    let t = unsafe { scheduler::current().as_ref() };
    t.stacks.as_ref().is_some_and(|s| s.is_overflow_address(addr))
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
    // SAFETY: the running task is alive.
    let t = unsafe { scheduler::current().as_ref() };
    if !may_fail_alone(t) {
        return None;
    }
    let is_overflow = |addr| t.stacks.as_ref().is_some_and(|s| s.is_overflow_address(addr));
    Some(super::failure::from_fault(fault.syndrome, fault.esr, fault.far, fault.frame.elr, is_overflow))
}

/// Ends the running task with `failure` (from the panic or exception handler).
///
/// It does not return, so nothing on the caller's stack is ever dropped:
/// the reports before it name the task with [`RunningTask`], which owns
/// nothing.
pub(crate) fn fail_current(failure: TaskFailure) -> ! {
    super::isolated::release_handles();
    scheduler::exit_current(Some(failure))
}

/// For the panic handler: the running task, if a panic now can end just it
/// (tasks run, we are in task code with interrupts enabled), and whether it
/// was already panicking (its panic message itself panicked).
pub(crate) fn panicking_task(irqs_enabled: bool) -> Option<bool> {
    if !scheduler::is_started() || crate::arch::cpu::in_exception_handler() || !irqs_enabled {
        return None;
    }
    // SAFETY: the running task is alive.
    let t = unsafe { scheduler::current().as_ref() };
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
    let p = |args: core::fmt::Arguments| crate::console::write_fmt_emergency(args);
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
fn write_identity(f: &mut core::fmt::Formatter, id: u64, name: Option<&TaskName>) -> core::fmt::Result {
    match name {
        Some(name) => write!(f, "task '{name}' (#{id})"),
        None => write!(f, "task #{id}"),
    }
}

impl core::fmt::Display for Task {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write_identity(f, self.id, self.name.as_ref())
    }
}

/// The running task, as reports name it. It reads the control block as it
/// is shown and owns nothing, so the paths that end the task without
/// returning (`fail_current`) leave nothing behind to drop.
pub(crate) struct RunningTask;

impl core::fmt::Display for RunningTask {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        // SAFETY: the running task is alive while it runs, and reports about
        // it are printed on its own stack.
        let t = unsafe { scheduler::current().as_ref() };
        write_identity(f, t.id, t.name.as_ref())
    }
}
