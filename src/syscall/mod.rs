//! System calls: how isolated tasks (at EL0) ask the kernel for services.
//!
//! [`abi`] is the contract: call numbers, argument registers, error codes,
//! and the ABI version. The kernel side: `arch::exception` hands each `SVC`
//! from EL0 to `dispatch`, which runs the call's handler (`calls` holds
//! those of no other module) and decides, in one place, what a call's
//! failure means for the task (an error code, or its end); `fast` is the
//! short path of the calls that never block.
//! [`user`] is the task side, which `println!`, `task::yield_now` and
//! `time::sleep` use when they run at EL0.

pub mod abi;
#[cfg(target_os = "none")]
mod calls;
#[cfg(target_os = "none")]
pub(crate) mod dispatch;
#[cfg(target_os = "none")]
mod fast;
#[cfg(target_os = "none")]
pub mod user;
