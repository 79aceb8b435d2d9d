//! Raspberry Pi 3 Model B/B+ (BCM2837, four Cortex-A53), and QEMU's `raspi3b`.
//!
//! Memory map (BCM2835 ARM Peripherals, with the bus address 0x7Exx_xxxx
//! seen by the ARM at 0x3Fxx_xxxx):
//! - RAM from 0; the top (from about 0x3B40_0000) belongs to the VideoCore.
//!   The firmware's device tree says exactly; without one, the firmware's
//!   mailbox does, and if it does not answer, `RAM` is used.
//! - peripherals 0x3F00_0000..0x4000_0000: interrupt controller at
//!   0x3F00_B200, GPIO at 0x3F20_0000, PL011 UART0 at 0x3F20_1000, PM
//!   watchdog (reboot) at 0x3F10_0000, mailbox at 0x3F00_B880;
//! - ARM-local block (timer routing, IRQ sources) at 0x4000_0000.
//!
//! UART0 is on GPIO 14 (TXD) and 15 (RXD) as ALT0 once `config.txt` has
//! `dtoverlay=disable-bt` (otherwise the firmware gives UART0 to Bluetooth),
//! clocked at 48 MHz by `init_uart_clock=48000000`. Interrupts use
//! [`Bcm2837Interrupts`]' numbering: the core's timers 0..=3 and mailboxes
//! 4..=7, peripheral n = 32 + n. Peripheral interrupts (UART0) go to core
//! 0; each core takes its own CNTV timer and its mailboxes 0 and 1, which
//! carry the IPIs, once it is set up (`init_cpu_interrupts`).
//!
//! GPIO for applications ([`crate::gpio`]): GPIO 0-53 (the BCM2837 has
//! 54; the BCM2711's 54-57 do not exist here) but 14/15 (the
//! console UART); the banks' interrupts are peripheral interrupts 49
//! (GPIO 0-27), 50 (28-45) and 51 (46-53), IntIds 81 to 83. The activity
//! LED is not on a GPIO the ARM can reach but on the firmware's GPIO
//! expander (pin 130), switched through the mailbox.
//!
//! QEMU arguments (`boards/rpi3/qemu.args`): `-machine raspi3b` with
//! single-threaded TCG. Cores 1-3 wait in `wfe` loops (ilusion's or the
//! firmware's spin table), which QEMU runs as busy loops; on one host
//! thread they cannot starve core 0 of host CPU time, which otherwise
//! delays its timer interrupts on a busy host.

use crate::arch::mmu::phys_to_virt;
use crate::board::{Board, CoreStart, Model};
use crate::console::SerialPort;
use crate::critical::SetOnce;
use crate::drivers::bcm2836_local::Timer;
use crate::drivers::bcm2837_irq::{self, Bcm2837Interrupts};
use crate::drivers::bcm_gpio::{Chip, Gpio};
use crate::drivers::bcm_mailbox::{self, Mailbox};
use crate::drivers::bcm_pm_watchdog::PmWatchdog;
use crate::drivers::pl011::Pl011;
use crate::fdt::BootFacts;
use crate::gpio::{ActivityLedWiring, GpioBlock};
use crate::irq::IntId;
use crate::mm::layout::{DeviceRegion, PhysRange};

const PERIPHERALS: u64 = 0x3f00_0000;
const INTERRUPTS: u64 = PERIPHERALS + 0xb200;
const GPIO: u64 = PERIPHERALS + 0x20_0000;
const UART: u64 = PERIPHERALS + 0x20_1000;
const POWER_MANAGEMENT: u64 = PERIPHERALS + 0x10_0000;
const MAILBOX: u64 = PERIPHERALS + 0xb880;
const ARM_LOCAL: u64 = 0x4000_0000;

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
static GPIO_DEVICE: Gpio = unsafe { Gpio::new(phys_to_virt(GPIO), Chip::Bcm2837) };
// SAFETY: as above.
static UART_DEVICE: Pl011 = unsafe { Pl011::new(phys_to_virt(UART)) };
// SAFETY: the mailbox is inside the peripherals `DEVICES` maps; only this board uses it.
static MAILBOX_DEVICE: Mailbox = unsafe { Mailbox::new(phys_to_virt(MAILBOX)) };
// SAFETY: the PM block is inside the peripherals `DEVICES` maps; only `reboot` uses it.
static WATCHDOG: PmWatchdog = unsafe { PmWatchdog::new(phys_to_virt(POWER_MANAGEMENT)) };
static INTC: SetOnce<Bcm2837Interrupts> = SetOnce::new();

/// The GPIO banks' interrupts and the pins each covers: 0-27, 28-45, 46-53.
const GPIO_BANKS: &[(IntId, u64)] = &[
    (bcm2837_irq::peripheral(49), 0x0fff_ffff),
    (bcm2837_irq::peripheral(50), 0x3_ffff << 28),
    (bcm2837_irq::peripheral(51), 0xff << 46),
];
const _: () =
    assert!(crate::gpio::banks_cover(GPIO_BANKS, Chip::Bcm2837.pin_count()), "a GPIO pin in no bank, or in two");

/// GPIO pins for applications: see the module documentation.
static GPIO_BLOCK: GpioBlock = GpioBlock {
    controller: &GPIO_DEVICE,
    reserved: &[(14, "the console UART's TXD"), (15, "the console UART's RXD")],
    banks: GPIO_BANKS,
    activity_led: ActivityLedWiring::Firmware { set: set_activity_led },
};

/// The activity LED, through the firmware's GPIO expander; whether it answered.
fn set_activity_led(on: bool) -> bool {
    MAILBOX_DEVICE.set_gpio_state(bcm_mailbox::PI3_ACTIVITY_LED, on).is_ok()
}

/// The Raspberry Pi 3 (and QEMU's `raspi3b`).
pub struct RaspberryPi3;

impl Board for RaspberryPi3 {
    const NAME: &'static str = "rpi3";
    /// RAM when no device tree says otherwise: what the firmware leaves the ARM
    /// with its default GPU memory split (948 MiB), which QEMU's 1 GiB also covers.
    const RAM: PhysRange = PhysRange { base: 0, size: 0x3b40_0000 };
    /// Nobody puts a device tree at a fixed place: the firmware passes it in x0.
    const DEVICE_TREE_FALLBACK: Option<u64> = None;
    const DEVICES: &'static [DeviceRegion] = &[
        DeviceRegion { name: "BCM2837 peripherals", range: PhysRange { base: PERIPHERALS, size: 0x0100_0000 } },
        DeviceRegion { name: "ARM local", range: PhysRange { base: ARM_LOCAL, size: 0x1000 } },
    ];
    /// UART0 is peripheral interrupt 57.
    const UART_INTID: IntId = bcm2837_irq::peripheral(57);
    /// The EL1 virtual timer (CNTV), through the ARM-local block.
    const TIMER_INTID: IntId = bcm2837_irq::timer(Timer::Virtual);
    /// Timers and mailboxes 0 to 7, peripherals 32 to 95 (see `bcm2837_irq`).
    const INTERRUPTS: usize = bcm2837_irq::INTERRUPTS;
    const QEMU_ARGS: &'static str = include_str!("qemu.args");
    /// The firmware's armstub leaves EL3 without vectors.
    const SECURE_MONITOR_BELOW_EL2_BOOT: bool = false;
    /// The BCM2837's 19.2 MHz crystal (QEMU runs the counter at 62.5 MHz and sets CNTFRQ_EL0 to that).
    const COUNTER_HZ: u64 = 19_200_000;

    fn init_console() -> &'static dyn SerialPort {
        GPIO_DEVICE.route_uart0_to_header();
        UART_DEVICE.init(UART_CLOCK_HZ, 115_200);
        &UART_DEVICE
    }

    type Interrupts = Bcm2837Interrupts;

    /// The controller does not care about the security state; `_secure` is unused.
    fn init_interrupts(_secure: bool) -> &'static Bcm2837Interrupts {
        INTC.get_or_set(|| {
            // SAFETY: both blocks are mapped by `DEVICES` and driven only here.
            unsafe { Bcm2837Interrupts::new(phys_to_virt(ARM_LOCAL), phys_to_virt(INTERRUPTS)) }
        })
    }

    /// The core's CNTV timer interrupt routed to it, and its IPI mailboxes
    /// enabled, as on the boot core.
    fn init_cpu_interrupts(cpu: usize) {
        if let Some(intc) = INTC.get() {
            intc.init_cpu(cpu);
        }
    }

    fn core_start(boot_el: u8, facts: &BootFacts) -> CoreStart {
        CoreStart::firmware_spin_table(boot_el, facts, FIRMWARE_SPIN_TABLE, CORES)
    }

    fn interrupt_controller_name() -> &'static str {
        "BCM2836 local + BCM2835 interrupt controller"
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
