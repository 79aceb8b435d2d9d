//! Raspberry Pi 4 Model B (BCM2711, four Cortex-A72), and QEMU's `raspi4b`.
//!
//! Memory map in the firmware's default "low peripheral" mode (BCM2711 ARM
//! Peripherals, bus address 0x7Exx_xxxx seen by the ARM at 0xFExx_xxxx):
//! - RAM from 0. The firmware's device tree gives the first bank (below
//!   the VideoCore's share); without one, the firmware's mailbox does
//!   (the same first bank), and if it does not answer, `RAM` is used:
//!   948 MiB, which every Pi 4 (1 GiB and up) has for the ARM below the
//!   VideoCore's default share, so the default is safe on all of them.
//! - peripherals 0xFE00_0000..0xFF80_0000: GPIO at 0xFE20_0000, PL011
//!   UART0 at 0xFE20_1000, the PM watchdog (reboot) at 0xFE10_0000, the
//!   mailbox at 0xFE00_B880;
//! - ARM-local block and GIC-400 from 0xFF80_0000: distributor at
//!   0xFF84_1000, CPU interface at 0xFF84_2000.
//!
//! UART0 is on GPIO 14 (TXD) and 15 (RXD) as ALT0, clocked at 48 MHz by
//! `init_uart_clock=48000000`. Interrupts are GIC INTIDs: the VideoCore's
//! peripheral interrupt n is SPI 64 + n, INTID 96 + n, so UART0 (57) is
//! SPI 121, INTID 32 + 121.
//! `enable_gic=1` in config.txt has the firmware route interrupts through
//! the GIC instead of the legacy controller. Each core sets up its own side
//! of the GIC when it comes up (`init_cpu_interrupts`); UART0's interrupt
//! goes to core 0; IPIs are SGIs 14 and 15 ([`crate::drivers::gic`]).
//!
//! GPIO for applications ([`crate::gpio`]): GPIO 0-57 but 14/15 (the
//! console UART); the banks' interrupts are VideoCore interrupts 49 to 51,
//! SPIs 113 (GPIO 0-27), 114 (28-45) and 115 (46-57), INTIDs 145 to 147.
//! The activity LED is GPIO 42, lit when high.
//!
//! QEMU arguments (`boards/rpi4/qemu.args`): `-machine raspi4b` with
//! single-threaded TCG. Cores 1-3 wait in `wfe` loops (ilusion's or the
//! firmware's spin table), which QEMU runs as busy loops; on one host
//! thread they cannot starve core 0 of host CPU time, which otherwise
//! delays its timer interrupts on a busy host.

use crate::arch::mmu::phys_to_virt;
use crate::board::{Board, CoreStart, Model};
use crate::console::SerialPort;
use crate::critical::SetOnce;
use crate::drivers::bcm_gpio::{Chip, Gpio};
use crate::drivers::bcm_mailbox::Mailbox;
use crate::drivers::bcm_pm_watchdog::PmWatchdog;
use crate::drivers::{gic::Gic, pl011::Pl011};
use crate::fdt::BootFacts;
use crate::gpio::{ActivityLedWiring, GpioBlock};
use crate::irq::IntId;
use crate::mm::layout::{DeviceRegion, PhysRange};

const PERIPHERALS: u64 = 0xfe00_0000;
const GPIO: u64 = PERIPHERALS + 0x20_0000;
const UART: u64 = PERIPHERALS + 0x20_1000;
const POWER_MANAGEMENT: u64 = PERIPHERALS + 0x10_0000;
const MAILBOX: u64 = PERIPHERALS + 0xb880;
const ARM_LOCAL: u64 = 0xff80_0000;
const GICD: u64 = 0xff84_1000;
const GICC: u64 = 0xff84_2000;

/// Where the firmware's spin table is: cores 1 to 3 of a raw `kernel8.img`
/// boot wait in `wfe` reading their release addresses 0xe0, 0xe8, 0xf0
/// (core n at 0xd8 + 8n), with their MMU off.
const FIRMWARE_SPIN_TABLE: u64 = 0xd8;
/// The four cores (Cortex-A53 on the Pi 3, Cortex-A72 on the Pi 4), MPIDR Aff0 0 to 3.
const CORES: usize = 4;

/// UART0's clock, as `init_uart_clock=48000000` in config.txt sets it.
const UART_CLOCK_HZ: u32 = 48_000_000;

// SAFETY: the GPIO and UART registers are mapped as devices by `DEVICES`,
// and these are the only driver instances for them.
static GPIO_DEVICE: Gpio = unsafe { Gpio::new(phys_to_virt(GPIO), Chip::Bcm2711) };
// SAFETY: as above.
static UART_DEVICE: Pl011 = unsafe { Pl011::new(phys_to_virt(UART)) };
// SAFETY: the mailbox is inside the peripherals `DEVICES` maps; only this board uses it.
static MAILBOX_DEVICE: Mailbox = unsafe { Mailbox::new(phys_to_virt(MAILBOX)) };
// SAFETY: the PM block is inside the peripherals `DEVICES` maps; only `reboot` uses it.
static WATCHDOG: PmWatchdog = unsafe { PmWatchdog::new(phys_to_virt(POWER_MANAGEMENT)) };
static GIC: SetOnce<Gic> = SetOnce::new();

/// The GPIO banks' interrupts (SPIs 113 to 115) and the pins each covers: 0-27, 28-45, 46-57.
const GPIO_BANKS: &[(IntId, u64)] = &[(32 + 113, 0x0fff_ffff), (32 + 114, 0x3_ffff << 28), (32 + 115, 0xfff << 46)];
const _: () =
    assert!(crate::gpio::banks_cover(GPIO_BANKS, Chip::Bcm2711.pin_count()), "a GPIO pin in no bank, or in two");

/// GPIO pins for applications: see the module documentation.
static GPIO_BLOCK: GpioBlock = GpioBlock {
    controller: &GPIO_DEVICE,
    reserved: &[(14, "the console UART's TXD"), (15, "the console UART's RXD")],
    banks: GPIO_BANKS,
    activity_led: ActivityLedWiring::Pin(42),
};

/// The Raspberry Pi 4 (and QEMU's `raspi4b`).
pub struct RaspberryPi4;

impl Board for RaspberryPi4 {
    const NAME: &'static str = "rpi4";
    /// RAM when no device tree says otherwise: safe on every Pi 4 (see above).
    const RAM: PhysRange = PhysRange { base: 0, size: 0x3b40_0000 };
    /// Nobody puts a device tree at a fixed place: the firmware passes it in x0.
    const DEVICE_TREE_FALLBACK: Option<u64> = None;
    const DEVICES: &'static [DeviceRegion] = &[
        DeviceRegion { name: "BCM2711 peripherals", range: PhysRange { base: PERIPHERALS, size: 0x0180_0000 } },
        DeviceRegion { name: "ARM local, GIC-400", range: PhysRange { base: ARM_LOCAL, size: 0x0080_0000 } },
    ];
    /// UART0: VideoCore interrupt 57 = SPI 121.
    const UART_INTID: IntId = 32 + 121;
    /// The EL1 virtual timer's private interrupt (PPI 11).
    const TIMER_INTID: IntId = 27;
    /// The BCM2711's GIC-400: 192 shared interrupts after the 32 private
    /// ones (BCM2711 ARM Peripherals, 6.3; QEMU's `raspi4b` has the same).
    const INTERRUPTS: usize = 224;
    const QEMU_ARGS: &'static str = include_str!("qemu.args");
    /// The firmware's armstub leaves EL3 without vectors.
    const SECURE_MONITOR_BELOW_EL2_BOOT: bool = false;
    /// The BCM2711's 54 MHz crystal (QEMU runs the counter at 62.5 MHz and sets CNTFRQ_EL0 to that).
    const COUNTER_HZ: u64 = 54_000_000;

    fn init_console() -> &'static dyn SerialPort {
        GPIO_DEVICE.route_uart0_to_header();
        UART_DEVICE.init(UART_CLOCK_HZ, 115_200);
        &UART_DEVICE
    }

    type Interrupts = Gic;

    /// GICv2 has one set of registers for either security state: the GIC
    /// driver's group-0 accesses are right in both, so `_secure` is unused.
    fn init_interrupts(_secure: bool) -> &'static Gic {
        GIC.get_or_set(|| {
            // SAFETY: the GIC is mapped by `DEVICES` and driven only here.
            unsafe { Gic::new_v2(phys_to_virt(GICD), phys_to_virt(GICC)) }
        })
    }

    /// The core's GIC CPU interface, and its timer PPI and IPI SGIs as on
    /// the boot core.
    fn init_cpu_interrupts(cpu: usize) {
        if let Some(gic) = GIC.get() {
            gic.init_cpu(cpu);
        }
    }

    fn core_start(boot_el: u8, facts: &BootFacts) -> CoreStart {
        CoreStart::firmware_spin_table(boot_el, facts, FIRMWARE_SPIN_TABLE, CORES)
    }

    fn interrupt_controller_name() -> &'static str {
        "GIC-400 (GICv2)"
    }

    /// Through the PM watchdog (the firmware offers no PSCI reset here).
    fn reboot(_boot_el: u8) -> ! {
        WATCHDOG.reset()
    }

    /// From the firmware, through the mailbox's property channel.
    fn ram_from_firmware() -> Option<PhysRange> {
        MAILBOX_DEVICE.arm_memory().ok()
    }

    fn gpio() -> Option<&'static GpioBlock> {
        Some(&GPIO_BLOCK)
    }

    fn model() -> Option<Model> {
        MAILBOX_DEVICE.board_revision().ok().map(Model::from)
    }
}
