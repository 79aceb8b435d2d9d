//! Scheduling: giving every task the illusion of its own processor.
//!
//! - [`priority`]: cooperative and preemptive priorities, as one level number;
//! - [`list`]: the intrusive list behind every queue;
//! - [`held`]: the locks a task holds, by address, in its control block;
//! - [`ready_queue`]: a FIFO per level plus a bitmap: the next task in O(1);
//! - [`run_queues`]: on several cores, the shared queue and each core's own,
//!   and which core a newly ready task asks to reschedule;
//! - `scheduler`: the decisions (yield, block, wake, preempt, exit), the
//!   switch, and where a new task starts;
//! - `timer`: the timer comparator's one owner: sleeping, timeouts, time
//!   slices and the periodic handler, on a tickless timer;
//! - `wait_queue`: the one mechanism every blocking operation uses;
//! - `stack`: each task's stacks, mapped in their own slot with guard pages;
//! - `tcb`: the task control block, and the `TaskBody` it runs.
//!
//! The public face of all this is [`crate::task`] and [`crate::sync`]; the
//! chapter docs/03-virtualizing-the-cpu.md walks through it. The data
//! structures and the tick arithmetic are unit-tested on the host; the
//! rest only makes sense on the machine.

pub mod held;
pub mod list;
pub mod priority;
pub mod ready_queue;
pub mod run_queues;
pub mod stack;
pub(crate) mod timer;

#[cfg(target_os = "none")]
pub(crate) mod scheduler;
#[cfg(target_os = "none")]
pub(crate) mod tcb;
#[cfg(target_os = "none")]
pub(crate) mod wait_queue;
