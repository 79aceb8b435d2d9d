//! `spin_relock` as an application gets it: built without the lock checks
//! of the test images, so the report gives the lock's address, not its
//! name. The test is `spin_relock.rs`, included whole as a module (one
//! file in two build targets made cargo warn on every build).
#![no_std]
#![no_main]

#[allow(unused_attributes)] // its #![no_std] and #![no_main], said above for the crate
#[path = "spin_relock.rs"]
mod spin_relock;
