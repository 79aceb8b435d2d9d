//! Creating and joining tasks: [`spawn`], [`Builder::spawn`],
//! [`JoinHandle`], and the running task's identity ([`current`]).
//!
//! A spawn makes the task's body (for a kernel task, a [`Packet`]: its
//! closure and the slot for its result), its stacks and its control block,
//! then queues it as ready ([`start_task`], shared with isolated tasks).
//! The scheduler starts it at `ilusion_task_start`, which runs the body;
//! the body ends the task (`ending::end_current`).

use super::builder::{Builder, SpawnError};
use super::ending::{end_current, write_identity};
use super::{TaskFailure, TaskName};
use crate::arch::context::Context;
use crate::critical::CriticalSection;
use crate::sched::priority::Level;
use crate::sched::scheduler;
use crate::sched::stack::TaskStacks;
use crate::sched::tcb::{State, TaskBody, Tcb, WakeReason};
use alloc::boxed::Box;
use core::cell::Cell;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// The stack a task gets unless its `Builder` says otherwise.
pub const DEFAULT_STACK_SIZE: usize = 16 * 1024;

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

impl From<&Tcb> for Task {
    fn from(t: &Tcb) -> Self {
        Task { id: t.id, name: t.name.clone() }
    }
}

impl core::fmt::Display for Task {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write_identity(f, self.id, self.name.as_ref())
    }
}

/// The running task.
pub fn current() -> Task {
    let masked = CriticalSection::new();
    Task::from(scheduler::running(&masked))
}

/// The core the calling task runs on (a sample: unless the task is pinned
/// with `Builder::cpu`, it may run on another core by the time it looks).
pub fn current_cpu() -> usize {
    crate::percpu::cpu_index()
}

/// How many cores run tasks.
pub fn cpus_online() -> usize {
    crate::percpu::online_count()
}

/// Lets other ready tasks of the same or higher urgency run first. In an
/// interrupt handler it does nothing: the handler's end is where a more
/// urgent task runs.
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

/// A kernel task's body: its closure, and the slot for its result.
struct Packet<F, T> {
    f: Cell<Option<F>>,
    result: Cell<Option<T>>,
}

impl<F: FnOnce() -> T + 'static, T: 'static> TaskBody for Packet<F, T> {
    /// Runs the closure and keeps its result for `join`; the task's end
    /// drops it if the task is detached (its handle is gone), in the task's
    /// own context, not in the scheduler's: if that `Drop` panics, only
    /// this task ends (see `end_current`). A task killed before it ever ran
    /// does not start: its closure is dropped unrun, here (what it captured
    /// is given back), and it ends.
    fn run(&self) -> ! {
        let f = self.f.take().expect("task started twice");
        if scheduler::running_task_killed() {
            drop(f);
            end_current(Some(TaskFailure::Killed));
        }
        self.result.set(Some(f()));
        end_current(None)
    }

    fn drop_result(&self) {
        drop(self.result.take());
    }
}

/// Takes the result out of a kernel task's body (for `JoinHandle::join`).
///
/// # Safety
/// `body` is a `Packet<F, T>` (`Builder::spawn` pairs them).
unsafe fn take_packet_result<F: FnOnce() -> T + 'static, T: 'static>(body: &dyn TaskBody) -> Option<T> {
    // SAFETY: our caller's promise.
    unsafe { body.downcast_unchecked::<Packet<F, T>>() }.result.take()
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Builder {
    pub fn spawn<F, T>(mut self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        let (level, cpus) = self.level_and_cpus(stack_size)?;
        // The task's copy of its name; the builder's is freed here, before
        // the new task may run (a more urgent one runs at its spawn): what
        // a task measures of the heap then includes no spawner's leftovers.
        let name = copy_name(self.name.take().as_deref())?;
        // Made here, not in a helper returning them in a `Result` beside
        // the checks' error: such a result is moved with a copy.
        let Ok(stacks) = TaskStacks::new(stack_size) else { return Err(SpawnError::OutOfMemory) };
        let packet = Packet::<F, T> { f: Cell::new(Some(f)), result: Cell::new(None) };
        let body = match crate::mm::heap::try_box(packet) {
            Ok(body) => body,
            Err(packet) => {
                crate::sched::stack::recycle(stacks);
                // The closure last: its `Drop` is the application's, and
                // may end the spawner, which then gives back nothing more.
                drop(packet);
                return Err(SpawnError::OutOfMemory);
            }
        };
        let start = TaskStart { name, level, cpus, stacks, body, address_space: None, user_stack_size: 0 };
        start_task(start, take_packet_result::<F, T>)
    }
}

/// The task's own copy of its name (`None`: unnamed), made first by a
/// spawn, so that one with no room for it fails before it takes anything
/// else: `OutOfMemory`.
pub(super) fn copy_name(name: Option<&str>) -> Result<Option<TaskName>, SpawnError> {
    name.map(|name| TaskName::try_new(name).ok_or(SpawnError::OutOfMemory)).transpose()
}

/// Everything a new task is made of (see [`start_task`]).
pub(super) struct TaskStart {
    /// The task's own copy of its name ([`copy_name`]).
    pub name: Option<TaskName>,
    pub level: Level,
    pub cpus: crate::percpu::CpuMask,
    pub stacks: TaskStacks,
    pub body: Box<dyn TaskBody>,
    pub address_space: Option<crate::mm::address_space::AddressSpace>,
    pub user_stack_size: u64,
}

impl TaskStart {
    /// Gives back what a task that could not be started was made of (its
    /// closure is dropped, here in the spawner, outside any critical
    /// section, last: its `Drop` is the application's, and may end the
    /// spawner, which then gives back nothing more; dropped first, one that
    /// panicked leaked the stacks, 28 KiB with a 20 KiB stack).
    fn abandon(self) -> SpawnError {
        let TaskStart { body, stacks, mut address_space, .. } = self;
        crate::sched::stack::recycle(stacks);
        // Through the pointer (see `drop_task_space`); `None` afterwards,
        // so forgetting it leaks nothing (and links no drop of its own).
        crate::mm::address_space::drop_task_space(&mut address_space);
        core::mem::forget(address_space);
        drop(body);
        SpawnError::OutOfMemory
    }
}

/// Makes the task control block, queues the task as ready, and returns its
/// handle, which takes the task's result out of its body with
/// `take_result`; if memory is out, frees what `start` holds instead.
pub(super) fn start_task<T>(mut start: TaskStart, take_result: TakeResult<T>) -> Result<JoinHandle<T>, SpawnError> {
    let name = start.name.take();
    let Some(tcb) = crate::mm::heap::try_alloc::<Tcb>() else {
        return Err(start.abandon());
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // Its first context "returns" into the task trampoline, on its stacks.
    let stacks = &start.stacks;
    let context =
        Context::new_task(tcb.as_ptr() as u64, stacks.stack_top(), stacks.kernel_stack_top(), stacks.fp_save_area());
    // SAFETY: memory for a `Tcb`, from the global allocator with its
    // layout (freed as a `Box` by `scheduler::release`); ours alone until
    // the task is queued below. Its stacks are mapped.
    unsafe {
        let body = Some(start.body);
        tcb.as_ptr().write(Tcb::new(id, name, start.level, context, Some(start.stacks), body));
        if start.address_space.is_some() {
            *(*tcb.as_ptr()).address_space.get_mut() = ManuallyDrop::new(start.address_space);
        }
        (*tcb.as_ptr()).user_stack_size = start.user_stack_size;
        (*tcb.as_ptr()).cpus = start.cpus;
    }
    let masked = CriticalSection::new();
    // SAFETY: alive (our references); its name never changes.
    crate::trace::spawn(id, || unsafe { tcb.as_ref() }.name.as_ref().map(|n| n.as_str()));
    // SAFETY: alive (our references) and on no list.
    unsafe { scheduler::admit(&masked, tcb) };
    scheduler::reschedule_point(&masked);
    Ok(JoinHandle { tcb, take_result })
}

/// How a `JoinHandle` takes the result out of its task's body: made by the
/// same spawn as the body, for that body's type (kernel and isolated tasks
/// keep their results differently); called only on that body.
pub(super) type TakeResult<T> = unsafe fn(&dyn TaskBody) -> Option<T>;

/// Owns the right to join a task. Dropping it detaches the task.
pub struct JoinHandle<T> {
    pub(super) tcb: NonNull<Tcb>,
    /// Takes the result out of the task's body, which it finds by its type
    /// (kernel and isolated tasks keep their results differently).
    take_result: TakeResult<T>,
}

// SAFETY: the handle only reaches the task through masked critical sections,
// and `T: Send` is required to move the result out.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads the task's identity.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

/// A task asked to join itself (its own handle came back to it): it
/// would wait for its own end for ever. It fails instead, saying why.
#[cold]
#[inline(never)]
fn joined_itself(id: u64) -> ! {
    panic!("task {id} tried to join itself: it would wait for its own end for ever")
}

impl<T> JoinHandle<T> {
    /// Waits for the task to end: `Ok` with what it returned, or `Err` with
    /// why it failed. A task that joins itself (its own handle came back to
    /// it) fails, saying so: it would wait for ever.
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

    /// The task's control block, while interrupts stay masked.
    pub(super) fn block<'a>(&'a self, _masked: &'a CriticalSection) -> &'a Tcb {
        // SAFETY: the handle holds a reference, so the task is alive.
        unsafe { self.tcb.as_ref() }
    }

    fn join_until(self, deadline: Option<u64>) -> Result<Result<T, TaskFailure>, JoinHandle<T>> {
        let masked = CriticalSection::new();
        let t = self.block(&masked);
        while t.state.get() != State::Exited {
            let running = scheduler::running(&masked);
            if core::ptr::eq(t, running) {
                // An interrupt handler, not the task it interrupted, may be joining.
                scheduler::refuse_wait_in_handler(running);
                let id = t.id;
                drop(masked);
                joined_itself(id);
            }
            if t.joiners.wait(&masked, deadline, crate::trace::On::JOIN) == WakeReason::TimedOut
                && t.state.get() != State::Exited
            {
                drop(masked);
                return Err(self);
            }
        }
        // SAFETY: the task has ended: nothing else touches its failure.
        // (The failure is looked at in place: it is large, its message inline.)
        let failure = unsafe { &mut *t.failure.get() };
        let outcome = match failure {
            Some(_) => Err(failure.take().unwrap()),
            None => {
                let body = t.body().expect("task ended without a result");
                // SAFETY: `take_result` was made for this task's body (`TakeResult`).
                Ok(unsafe { (self.take_result)(body) }.expect("task ended without a result"))
            }
        };
        drop(masked);
        Ok(outcome) // `self` drops here, releasing the task
    }

    /// Waits for the task to end, keeping the handle (see `join`).
    pub(super) fn wait(&self) {
        let masked = CriticalSection::new();
        let t = self.block(&masked);
        while t.state.get() != State::Exited {
            t.joiners.wait(&masked, None, crate::trace::On::JOIN);
        }
    }

    /// The task's identity.
    pub fn task(&self) -> Task {
        let masked = CriticalSection::new();
        Task::from(self.block(&masked))
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
        let masked = CriticalSection::new();
        self.block(&masked).state.get() == State::Exited
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
    /// So is its block, if this was its last reference (it has been switched
    /// away from for good): its stacks, and an isolated task's address space,
    /// whose frames go back one by one. The block goes first: a result
    /// whose `Drop` panics ends the dropping task there, which never comes
    /// back to free anything after it (its block and stacks were leaked so).
    fn drop(&mut self) {
        let masked = CriticalSection::new();
        let t = self.block(&masked);
        // SAFETY: the task has ended, so its body is no longer borrowed.
        let body = (t.state.get() == State::Exited).then(|| unsafe { t.take_body() });
        // SAFETY: the handle's reference, given up once.
        let freed = unsafe { scheduler::release_handle(&masked, self.tcb) };
        drop(masked);
        drop(freed);
        drop(body);
    }
}
