//! QEMU's `virt` machine (`-machine virt -cpu cortex-a72`).
//!
//! Memory map (from QEMU's hw/arm/virt.c): GIC at 0x0800_0000 (GICv2 CPU
//! interface at 0x0801_0000, GICv3 redistributors from 0x080a_0000), PL011
//! UART at 0x0900_0000 (SPI 1 = INTID 33), RAM from 0x4000_0000. The GIC
//! version follows `-machine gic-version=2|3` and is detected at run time.
//! Each core sets up its own side of the GIC when it comes up
//! (`init_cpu_interrupts`); the UART's interrupt goes to core 0; IPIs are
//! SGIs 14 and 15 ([`crate::drivers::gic`]). The other cores (`-smp N`,
//! 4 by default) start through PSCI, as the device tree says.
//! QEMU arguments: `boards/qemu-virt/qemu.args`.

use crate::arch::mmu::phys_to_virt;
use crate::arch::psci;
use crate::arch::smp::StartMethod;
use crate::board::{Board, CoreStart};
use crate::console::SerialPort;
use crate::critical::SetOnce;
use crate::drivers::{gic::Gic, pl011::Pl011};
use crate::fdt::{BootFacts, PsciMethod};
use crate::irq::IntId;
use crate::mm::layout::{DeviceRegion, PhysRange};

const GIC_DIST: u64 = 0x0800_0000;
const GICV2_CPU: u64 = 0x0801_0000;
const GICV3_REDIST: u64 = 0x080a_0000;
const UART: u64 = 0x0900_0000;

/// QEMU's PL011 ignores the divisors; this is the clock its device tree declares.
const UART_CLOCK_HZ: u32 = 24_000_000;

// SAFETY: the UART's registers are mapped as a device by `DEVICES`, and this
// is the only driver instance for them.
static UART_DEVICE: Pl011 = unsafe { Pl011::new(phys_to_virt(UART)) };
static GIC: SetOnce<Gic> = SetOnce::new();

/// QEMU's `virt` machine.
pub struct QemuVirt;

impl Board for QemuVirt {
    const NAME: &'static str = "qemu-virt";
    /// RAM when no device tree says otherwise (QEMU's default for `-m 1G`).
    const RAM: PhysRange = PhysRange { base: 0x4000_0000, size: 1 << 30 };
    /// For an ELF `-kernel`, QEMU puts the device tree at the start of RAM.
    const DEVICE_TREE_FALLBACK: Option<u64> = Some(0x4000_0000);
    const DEVICES: &'static [DeviceRegion] = &[
        DeviceRegion { name: "GIC", range: PhysRange { base: GIC_DIST, size: 0x0100_0000 } },
        DeviceRegion { name: "PL011 UART", range: PhysRange { base: UART, size: 0x1000 } },
    ];
    const UART_INTID: IntId = 33;
    /// The EL1 virtual timer's private interrupt (PPI 11).
    const TIMER_INTID: IntId = 27;
    /// QEMU `virt`'s GIC (version 2 or 3): 256 shared interrupts after the
    /// 32 private ones (GICD_TYPER says so too).
    const INTERRUPTS: usize = 288;
    const QEMU_ARGS: &'static str = include_str!("qemu.args");
    /// QEMU answers PSCI (and any other call, NOT_SUPPORTED) through smc when it starts the kernel at EL2.
    const SECURE_MONITOR_BELOW_EL2_BOOT: bool = true;
    /// QEMU's generic timer for cortex-a72 (1 GHz for `-cpu max`, which sets CNTFRQ_EL0 itself).
    const COUNTER_HZ: u64 = 62_500_000;

    fn init_console() -> &'static dyn SerialPort {
        UART_DEVICE.init(UART_CLOCK_HZ, 115_200);
        &UART_DEVICE
    }

    type Interrupts = Gic;

    /// `secure`: ilusion runs in the Secure world (it was started at EL3).
    fn init_interrupts(secure: bool) -> &'static Gic {
        GIC.get_or_set(|| {
            if crate::arch::cpu::has_gicv3_sysregs() {
                // SAFETY: the GIC is mapped by `DEVICES` and driven only here.
                unsafe { Gic::new_v3(phys_to_virt(GIC_DIST), phys_to_virt(GICV3_REDIST), secure) }
            } else {
                // SAFETY: as above.
                unsafe { Gic::new_v2(phys_to_virt(GIC_DIST), phys_to_virt(GICV2_CPU)) }
            }
        })
    }

    /// The core's GIC CPU interface (GICv3: its redistributor too), and
    /// its timer PPI and IPI SGIs as on the boot core.
    fn init_cpu_interrupts(cpu: usize) {
        if let Some(gic) = GIC.get() {
            gic.init_cpu(cpu);
        }
    }

    /// The cores the device tree lists. Started at EL1 or EL2 they are
    /// powered off, for PSCI `CPU_ON` through the conduit `/psci` names;
    /// started at EL3 (`secure=on`, no firmware) QEMU started them all at
    /// the entry point, and they wait in `boot.s`'s holding pen.
    fn core_start(boot_el: u8, facts: &BootFacts) -> CoreStart {
        let method = match (boot_el, facts.psci) {
            (3, _) => StartMethod::HoldingPen,
            (_, Some(PsciMethod::Hvc)) => StartMethod::Psci(psci::Conduit::Hypervisor),
            (_, Some(PsciMethod::Smc)) => StartMethod::Psci(psci::Conduit::SecureMonitor),
            (_, None) => StartMethod::Unavailable("the device tree names no PSCI method"),
        };
        CoreStart { method, cores: facts.cores }
    }

    fn interrupt_controller_name() -> &'static str {
        match GIC.get().map(Gic::version) {
            Some(3) => "GICv3",
            Some(_) => "GICv2",
            None => "no interrupt controller",
        }
    }

    /// Through PSCI `SYSTEM_RESET`, which QEMU serves unless it started
    /// ilusion at EL3 (no firmware below it): then the core just halts.
    fn reboot(boot_el: u8) -> ! {
        if let Some(conduit) = psci::Conduit::for_boot_level(boot_el) {
            psci::system_reset(conduit);
        }
        crate::arch::cpu::halt()
    }
}
