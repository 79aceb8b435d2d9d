//! The schedule trace: what each core ran, and why, event by event.
//!
//! With the `trace` cargo feature, the kernel records scheduling events in
//! a ring buffer per core (the latest 4096; older ones are overwritten and
//! counted as lost), each stamped with the generic counter (CNTVCT):
//! switches (from, to, why), wakes, blocks (on what), interrupt handlers,
//! system calls, demand-paging faults, spawns, ends and kills. Recording
//! starts at boot; when the program ends (`main` returns, or
//! [`crate::exit`]) the trace is dumped over the console, in the framed
//! text form `tools/trace` reads back (docs/03-virtualizing-the-cpu.md,
//! "Seeing the schedule: the trace"). [`start`], [`stop`] and [`dump`]
//! do it by hand.
//!
//! Without the feature, every hook below is an empty `#[inline(always)]`
//! function and the reasons the scheduler passes ([`Why`], [`On`],
//! [`How`]) are zero-sized: the kernel compiles to the same instructions
//! as if the hooks were not there (checked with the benchmark figures).
//!
//! - [`event`]: the events, the ring, the merge by time and the text form
//!   (portable, unit-tested on the host);
//! - `record`: the per-core rings on the machine, and the dump.
//!
//! Recording is made to be called anywhere: in interrupt handlers and in
//! the scheduler's critical sections. It takes no lock, allocates nothing
//! and formats nothing: with interrupts masked, its own core writes one
//! event into its own ring.

pub mod event;
#[cfg(all(feature = "trace", target_os = "none"))]
mod record;

use event::{BlockOn, ExitHow, SwitchWhy};

/// Is the trace compiled in?
pub const COMPILED_IN: bool = cfg!(all(feature = "trace", target_os = "none"));

/// Declares a reason token: the portable enum's value with the feature
/// on, nothing at all (zero-sized) with it off.
macro_rules! reason {
    ($(#[$doc:meta])* $token:ident($inner:ident) { $($name:ident = $variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $token(#[cfg(all(feature = "trace", target_os = "none"))] $inner);

        #[allow(dead_code)]
        impl $token {
            $(pub const $name: Self = Self::of($inner::$variant);)*

            #[inline(always)]
            const fn of(reason: $inner) -> Self {
                #[cfg(all(feature = "trace", target_os = "none"))]
                return Self(reason);
                #[cfg(not(all(feature = "trace", target_os = "none")))]
                {
                    let _ = reason;
                    Self()
                }
            }
        }
    };
}

reason! {
    /// Why the running task is switched away from (`sw ... <why>`).
    Why(SwitchWhy) {
        YIELD = Yield, PREEMPT = Preempt, SLICE = Slice, BLOCK = Block, SLEEP = Sleep, EXIT = Exit, IDLE = Idle,
    }
}

reason! {
    /// What the running task blocks on (`bl <task> <on>`).
    On(BlockOn) {
        MUTEX = Mutex, SEMAPHORE = Semaphore, CONDVAR = Condvar, CHANNEL = Channel, JOIN = Join, SLEEP = Sleep,
        PARK = Park, IPC = Ipc, OTHER = Other,
    }
}

reason! {
    /// How a task ended (`ex <task> <how>`).
    How(ExitHow) { OK = Ok, PANIC = Panic, FAULT = Fault, KILLED = Killed, OOM = Oom, OTHER = Other }
}

impl On {
    /// The switch that follows this block.
    #[inline(always)]
    pub const fn why(self) -> Why {
        #[cfg(all(feature = "trace", target_os = "none"))]
        return Why(self.0.switch_why());
        #[cfg(not(all(feature = "trace", target_os = "none")))]
        Why()
    }
}

/// Records one event (nothing without the feature).
#[inline(always)]
#[allow(unused_variables)]
fn record(kind: event::Kind, a: u64, b: u64, detail: u8) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record::push(kind, a, b, detail);
}

/// A core switched from task `from` to task `to` (task ids; idle is 0).
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn switch(from: u64, to: u64, why: Why) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record(event::Kind::Switch, from, to, why.0 as u8);
}

/// Task `task` was made ready.
#[inline(always)]
pub(crate) fn wake(task: u64) {
    record(event::Kind::Wake, task, 0, 0);
}

/// Task `task` blocks on `on`.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn block(task: u64, on: On) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record(event::Kind::Block, task, 0, on.0 as u8);
}

/// The handler of interrupt `intid` begins.
#[inline(always)]
pub(crate) fn irq_enter(intid: u32) {
    record(event::Kind::IrqEnter, u64::from(intid), 0, 0);
}

/// The handler of interrupt `intid` has returned.
#[inline(always)]
pub(crate) fn irq_exit(intid: u32) {
    record(event::Kind::IrqExit, u64::from(intid), 0, 0);
}

/// The running (isolated) task makes system call `number`.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn syscall_enter(number: u64) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record(event::Kind::SyscallEnter, record::running_id(), number, 0);
}

/// The running task's system call `number` returns to it.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn syscall_exit(number: u64) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record(event::Kind::SyscallExit, record::running_id(), number, 0);
}

/// Task `task` took a translation fault at `address` (demand paging).
#[inline(always)]
pub(crate) fn page_fault(task: u64, address: u64) {
    record(event::Kind::PageFault, task, address, 0);
}

/// The running task spawned task `task`, named `name()` (a closure, so
/// that nothing is read without the feature).
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn spawn<'a>(task: u64, name: impl FnOnce() -> Option<&'a str>) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record::spawn(task, record::running_id(), name());
}

/// Task `task` ended.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) fn exit(task: u64, how: How) {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record(event::Kind::Exit, task, 0, how.0 as u8);
}

/// Task `by` asked for task `task` to be killed (for `task::kill`).
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn kill(task: u64, by: u64) {
    record(event::Kind::Kill, task, by, 0);
}

/// At boot, before the first task: recording starts.
#[inline(always)]
pub(crate) fn at_boot() {
    #[cfg(all(feature = "trace", target_os = "none"))]
    start();
}

/// When the program ends (`exit`, which `main`'s return, a panic and a
/// fault that stop the machine all come to): if recording is still on, it
/// stops and the trace is dumped. With interrupts masked (a report that
/// stops the machine, which may have stopped a console writer), without
/// the console's lock.
#[inline(always)]
pub(crate) fn at_exit() {
    #[cfg(all(feature = "trace", target_os = "none"))]
    {
        let normal = crate::arch::cpu::interrupts_enabled() && !crate::arch::cpu::in_exception_handler();
        record::at_exit(if normal { record::Output::Normal } else { record::Output::Emergency });
    }
}

/// Clears every core's events and starts recording.
pub fn start() {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record::start();
}

/// Stops recording (the events stay, for [`dump`]).
pub fn stop() {
    #[cfg(all(feature = "trace", target_os = "none"))]
    record::stop();
}

/// Stops recording and prints the events over the console, merged by
/// time, framed by `@@ilusion-trace v1 ...` and `@@end ...` lines. Call it
/// from task context, outside critical sections. Without the `trace`
/// feature it prints one line saying so.
pub fn dump() {
    #[cfg(all(feature = "trace", target_os = "none"))]
    {
        record::stop_and_dump(record::Output::Normal);
    }
    #[cfg(all(not(feature = "trace"), target_os = "none"))]
    crate::println!("trace: ilusion was built without the `trace` feature");
}
