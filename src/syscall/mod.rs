//! System calls: how isolated tasks (at EL0) ask the kernel for services.
//!
//! [`abi`] is the contract: call numbers, argument registers, error codes,
//! and the ABI version. The dispatcher that runs them arrives with isolated
//! tasks (see the Isolation issue); the contract is fixed first so that
//! both sides can be written and tested against it.

pub mod abi;
