//! The board ilusion is built for, chosen by a Cargo feature, and the
//! contract every board keeps: the [`Board`] trait.
//!
//! Each board lives in `boards/<name>/` and implements [`Board`] in its
//! `mod.rs` (what is at which address, how the console and the interrupt
//! controller are wired); beside it, `memory.ld` says where the image is
//! loaded and `qemu.args` how QEMU runs the board (read by `boards/run`,
//! and by the board's code as [`Board::QEMU_ARGS`], so there is one copy).
//! [`Selected`] is the board of this build; the kernel calls it through the
//! trait, so a board that leaves something out does not compile, and every
//! call is resolved at build time (no run-time cost).

use crate::arch::smp::StartMethod;
use crate::console::SerialPort;
use crate::fdt::{BootFacts, Cores};
use crate::irq::{IntId, InterruptController};
use crate::mm::layout::{DeviceRegion, PhysRange};

/// What a board provides to the portable OS.
pub trait Board {
    /// The board's name, as the `--board` of `boards/run` spells it.
    const NAME: &'static str;
    /// RAM when no device tree says otherwise.
    const RAM: PhysRange;
    /// Where a device tree is when the loader passes none, if anywhere.
    const DEVICE_TREE_FALLBACK: Option<u64>;
    /// The device registers the kernel maps (as device memory).
    const DEVICES: &'static [DeviceRegion];
    /// The console UART's interrupt, in the interrupt controller's numbering.
    const UART_INTID: IntId;
    /// The EL1 virtual timer's interrupt, in the same numbering.
    const TIMER_INTID: IntId;
    /// How many interrupt numbers the board's controller has, at most
    /// (`0..INTERRUPTS`, at most [`crate::irq::MAX_INTERRUPTS`]): the size
    /// of the kernel's handler and count tables, which boot zeroes.
    const INTERRUPTS: usize;
    /// How QEMU emulates the board: the text of `boards/<name>/qemu.args`.
    const QEMU_ARGS: &'static str;
    /// Whether, when the loader starts ilusion at EL2, something at EL3 (a
    /// secure monitor, or QEMU standing in for one) answers EL1's `smc`.
    /// If not, `boot.s` traps EL1's `smc` to its EL2 stub (HCR_EL2.TSC),
    /// which answers NOT_SUPPORTED: an `smc` into an EL3 without vectors
    /// hangs the core.
    const SECURE_MONITOR_BELOW_EL2_BOOT: bool;
    /// The generic timer's frequency in Hz, the board's crystal: time counts
    /// in it when the firmware left CNTFRQ_EL0 at 0 ([`crate::time::counter_hz`]).
    const COUNTER_HZ: u64;

    /// Sets up the console UART (and the pins it needs) and hands it over.
    fn init_console() -> &'static dyn SerialPort;
    /// Sets up the interrupt controller, everything disabled, and hands it
    /// over. `secure`: ilusion runs in the Secure world (started at EL3).
    /// The interrupt controller's driver. Named here (not behind a trait
    /// object) so that the interrupt path calls it directly.
    type Interrupts: InterruptController + 'static;
    fn init_interrupts(secure: bool) -> &'static Self::Interrupts;
    /// Sets up core `cpu`'s own side of the interrupt controller (a core
    /// other than the boot core, once it is up): its interface, its
    /// private interrupts (the timer) and the inter-processor interrupts.
    fn init_cpu_interrupts(cpu: usize) {
        let _ = cpu;
    }
    /// Which cores the board has and how to start them, given the level
    /// the loader started ilusion at (which says which boot path it took)
    /// and what the device tree says.
    fn core_start(boot_el: u8, facts: &BootFacts) -> CoreStart;
    /// The interrupt controller, as the boot banner names it.
    fn interrupt_controller_name() -> &'static str;
    /// Resets the whole machine, as the reset button would. `boot_el`: the
    /// exception level the loader started ilusion at, which says who serves
    /// firmware calls. Called with the console flushed, by one core.
    fn reboot(boot_el: u8) -> !;
    /// The RAM the board's firmware gives the ARM, if it can be asked (the
    /// Pis' mailbox), for when no device tree says. Called once the
    /// devices are mapped, before the heap exists.
    fn ram_from_firmware() -> Option<PhysRange> {
        None
    }
    /// The board's GPIO block, for [`crate::gpio`]; `None`: it has none.
    fn gpio() -> Option<&'static crate::gpio::GpioBlock> {
        None
    }
    /// The board model, if the firmware can be asked, for the boot log.
    fn model() -> Option<Model> {
        None
    }
}

/// The cores of a board (MPIDR affinities, the boot core among them) and
/// how to start the others.
#[derive(Clone, Copy, Debug)]
pub struct CoreStart {
    pub method: StartMethod,
    pub cores: Cores,
}

impl CoreStart {
    /// A board whose firmware parks the other cores on a spin table at
    /// `spin_table` (core `n`'s release address is `spin_table + 8n`) when
    /// it loads a raw image (ilusion starts at EL2), and whose ELF path
    /// starts every core at the entry point at EL3 (they wait in `boot.s`'s
    /// holding pen). `default_cores` (MPIDR Aff0 0 to n - 1) apply unless
    /// a device tree lists the cores.
    pub fn firmware_spin_table(boot_el: u8, facts: &BootFacts, spin_table: u64, default_cores: usize) -> Self {
        let cores = if facts.cores.mpidrs().is_empty() { Cores::first(default_cores) } else { facts.cores };
        let method = if boot_el == 3 { StartMethod::HoldingPen } else { StartMethod::SpinTable { base: spin_table } };
        Self { method, cores }
    }
}

/// A board model as its firmware reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model {
    /// E.g. `Raspberry Pi 4 Model B`; `None` for a revision code ilusion does not know.
    pub name: Option<&'static str>,
    /// The board's revision, 1.`minor`.
    pub minor: u32,
    /// The raw revision code.
    pub code: u32,
}

impl core::fmt::Display for Model {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name {
            Some(name) => write!(f, "{name} rev 1.{} (revision code {:#x})", self.minor, self.code),
            None => write!(f, "unknown board, revision code {:#x}", self.code),
        }
    }
}

#[cfg_attr(feature = "board-qemu-virt", path = "../boards/qemu-virt/mod.rs")]
#[cfg_attr(feature = "board-rpi3", path = "../boards/rpi3/mod.rs")]
#[cfg_attr(feature = "board-rpi4", path = "../boards/rpi4/mod.rs")]
mod selected;

/// The board of this build.
#[cfg(feature = "board-qemu-virt")]
pub type Selected = selected::QemuVirt;
/// The board of this build.
#[cfg(feature = "board-rpi3")]
pub type Selected = selected::RaspberryPi3;
/// The board of this build.
#[cfg(feature = "board-rpi4")]
pub type Selected = selected::RaspberryPi4;

/// The interrupt controller driver of this build's board.
pub type Interrupts = <Selected as Board>::Interrupts;

/// The board's name (`qemu-virt`, `rpi3`, `rpi4`), for applications.
pub const NAME: &str = Selected::NAME;
/// The console UART's interrupt, for applications.
pub const UART_INTID: IntId = Selected::UART_INTID;
/// The timer's interrupt, for applications.
pub const TIMER_INTID: IntId = Selected::TIMER_INTID;
/// How many interrupt numbers the board's controller has (`0..INTERRUPTS`):
/// [`crate::irq::register`] refuses the others.
pub const INTERRUPTS: usize = Selected::INTERRUPTS;
const _: () = assert!(INTERRUPTS > 32 && INTERRUPTS <= crate::irq::MAX_INTERRUPTS);

#[cfg(any(
    all(feature = "board-qemu-virt", feature = "board-rpi3"),
    all(feature = "board-qemu-virt", feature = "board-rpi4"),
    all(feature = "board-rpi3", feature = "board-rpi4"),
))]
compile_error!(
    "ilusion: more than one board feature is enabled. Choose exactly one of `board-qemu-virt` \
     (the default), `board-rpi3`, `board-rpi4`; for a Raspberry Pi also give `default-features = false`."
);

#[cfg(not(any(feature = "board-qemu-virt", feature = "board-rpi3", feature = "board-rpi4")))]
compile_error!("ilusion: no board feature is enabled. Enable one of `board-qemu-virt`, `board-rpi3`, `board-rpi4`.");
