//! What ilusion leaves at EL2 and EL3 when the loader started it there:
//! `higher_el.s`, one vector table for either level that answers a lower level's
//! `hvc #0` or `smc #0` with SMCCC NOT_SUPPORTED (`x0 = -1`), as a
//! firmware answers a call it does not know, and sends anything else down
//! to EL1, to [`ilusion_higher_el_exception`], which names it.
//!
//! `boot.s` installs the table (VBAR_EL2 or VBAR_EL3) on every core before
//! it goes down to EL1. Which call reaches which level, per board and boot
//! level, is in docs/01, section 2.

use super::esr::Syndrome;

core::arch::global_asm!(include_str!("higher_el.s"));

/// An exception other than an `hvc` or `smc` from below reached EL`el`,
/// where ilusion keeps only its stub: a trap nobody asked for, or a bug in
/// the stub. `higher_el.s` returns here, at EL1 with interrupts masked, with
/// the level's syndrome, return address and fault address; this stops the
/// machine with them (the stub cannot go back to what was interrupted).
#[no_mangle]
extern "C" fn ilusion_higher_el_exception(esr: u64, elr: u64, far: u64, el: u64) -> ! {
    panic!(
        "an exception reached EL{el}, where ilusion keeps only a stub that answers hvc and smc: {} \
         (ESR_EL{el} {esr:#x}) at {elr:#x}, FAR {far:#x}",
        Syndrome::decode(esr),
    )
}
