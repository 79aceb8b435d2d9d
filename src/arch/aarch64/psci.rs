//! PSCI, the Arm Power State Coordination Interface: how an OS asks the
//! firmware (or the emulator standing in for it) to start a core, or to
//! reset the machine. A call is a function number in `x0` and an `hvc #0`
//! or `smc #0`, depending on who answers: the *conduit*. The calls go
//! through the `smccc` crate (Google's, kept with the Arm spec), which
//! knows the register conventions and error codes.
//!
//! QEMU `virt` answers PSCI itself. It takes `hvc` when it started the
//! kernel at EL1, and `smc` when it started it at EL2 (it then plays EL3).
//! Started at EL3 there is no firmware below ilusion, so nobody answers.

use smccc::{psci, Hvc, Smc};

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
    let _ = match conduit {
        Conduit::Hypervisor => psci::system_reset::<Hvc>(),
        Conduit::SecureMonitor => psci::system_reset::<Smc>(),
    };
}

/// `CPU_ON`: powers on the core whose MPIDR affinity is `mpidr`; it starts
/// at physical address `entry`, MMU off, at the exception level the caller
/// was started at. Fails if it is on already, or no such core exists.
pub fn cpu_on(conduit: Conduit, mpidr: u64, entry: u64) -> Result<(), psci::Error> {
    match conduit {
        Conduit::Hypervisor => psci::cpu_on::<Hvc>(mpidr, entry, 0),
        Conduit::SecureMonitor => psci::cpu_on::<Smc>(mpidr, entry, 0),
    }
}
