//! PSCI, the Arm Power State Coordination Interface: how an OS asks the
//! firmware (or the emulator standing in for it) to power off or reset the
//! machine. A call is a function number in `x0` and an `hvc #0` or `smc #0`,
//! depending on who answers: the *conduit*.
//!
//! QEMU `virt` answers PSCI itself. It takes `hvc` when it started the
//! kernel at EL1, and `smc` when it started it at EL2 (it then plays EL3).
//! Started at EL3 there is no firmware below ilusion, so nobody answers.

/// PSCI 0.2 `SYSTEM_RESET`: reset the whole machine; never returns if served.
const SYSTEM_RESET: u64 = 0x8400_0009;

/// Which instruction reaches the PSCI implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `hvc #0`: a hypervisor (or QEMU for a kernel started at EL1).
    Hypervisor,
    /// `smc #0`: the secure monitor (or QEMU for a kernel started at EL2).
    SecureMonitor,
}

impl Conduit {
    /// The conduit for a kernel the loader started at `boot_el`, if any.
    pub fn for_boot_level(boot_el: u8) -> Option<Self> {
        match boot_el {
            1 => Some(Self::Hypervisor),
            2 => Some(Self::SecureMonitor),
            _ => None,
        }
    }
}

/// Asks for a reset of the machine. Returns only if the call was refused.
pub fn system_reset(conduit: Conduit) {
    match conduit {
        // SAFETY: a PSCI call reads x0 and may write x0-x3 (marked clobbered);
        // SYSTEM_RESET touches no memory of ours.
        Conduit::Hypervisor => unsafe {
            core::arch::asm!("hvc #0", inout("x0") SYSTEM_RESET => _, out("x1") _, out("x2") _, out("x3") _)
        },
        // SAFETY: as above, through the secure monitor.
        Conduit::SecureMonitor => unsafe {
            core::arch::asm!("smc #0", inout("x0") SYSTEM_RESET => _, out("x1") _, out("x2") _, out("x3") _)
        },
    }
}
