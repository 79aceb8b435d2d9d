//! System calls: how isolated tasks (at EL0) ask the kernel for services.
//!
//! [`abi`] is the contract: call numbers, argument registers, error codes,
//! and the ABI version. `dispatch` is the kernel side (it also turns any
//! other exception from EL0 into the task's failure), `fast` the short path
//! of the calls that never block; [`user`] is the task
//! side, which `println!`, `task::yield_now` and `time::sleep` use when they
//! run at EL0.

pub mod abi;
#[cfg(target_os = "none")]
pub(crate) mod dispatch;
#[cfg(target_os = "none")]
mod fast;
#[cfg(target_os = "none")]
pub mod user;
