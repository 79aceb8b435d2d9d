//! Reset and the first Rust function: `boot.s` (included here) takes the
//! core from reset to EL1 with the MMU on and calls [`ilusion_start`] on
//! the boot stack, with the kernel running in the upper half.

core::arch::global_asm!(
    include_str!("boot.s"),
    MAX_CPUS = const crate::percpu::MAX_CPUS,
    BOOT_RECORD_SIZE = const core::mem::size_of::<super::smp::SecondaryBoot>(),
    HCR_EL2 = const HCR_EL2,
);

/// HCR_EL2 for the levels below EL2: RW (EL1 is AArch64), nothing trapped
/// but, on a board whose firmware has no secure monitor, EL1's `smc` (TSC),
/// which `higher_el.s` then answers at EL2 (it would hang in an EL3 without
/// vectors).
const HCR_EL2: u64 = {
    use crate::board::Board;
    const RW: u64 = 1 << 31;
    const TSC: u64 = 1 << 19;
    if crate::board::Selected::SECURE_MONITOR_BELOW_EL2_BOOT {
        RW
    } else {
        RW | TSC
    }
};

/// How the machine was started, as `boot.s` found it.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// The exception level the loader started us at (1, 2 or 3).
    pub boot_el: u8,
    /// Physical address of the device tree the loader passed in x0, or 0.
    pub device_tree: u64,
}

#[no_mangle]
extern "C" fn ilusion_start(boot_el: u64, device_tree: u64) -> ! {
    let info = BootInfo { boot_el: boot_el as u8, device_tree };
    crate::kernel::start(info)
}

/// The first Rust function of every other core, on its own stacks and the
/// kernel's tables (see `secondary_entry` in `boot.s`): `cpu` is its number.
#[no_mangle]
extern "C" fn ilusion_secondary_start(cpu: u64) -> ! {
    crate::cores::secondary_start(cpu as usize)
}
