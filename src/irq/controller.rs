//! The interface a board's interrupt controller driver implements
//! ([`InterruptController`]), and the values that cross it: interrupt
//! numbers, an acknowledged interrupt, the reasons one core interrupts
//! another, and what can go wrong.
//!
//! It is the bottom of the interrupt path: drivers (`drivers::gic`,
//! `drivers::bcm2837_irq`) implement it, each board names its driver
//! (`Board::Interrupts`), and the table of handlers in `irq` calls that
//! driver directly (no trait object: the calls are resolved, and inlined,
//! when the image is built).

/// An interrupt number as the controller knows it (GIC INTID, or a board's own numbering).
pub type IntId = u32;

/// An interrupt the controller has just acknowledged: its number, and what
/// the controller wants back when it ends (a GICv2's acknowledge value,
/// which names the sender of an SGI), carried by the caller from one to the
/// other instead of being kept per core in the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub id: IntId,
    pub token: u32,
}

/// What a board's interrupt controller driver provides.
pub trait InterruptController: Sync {
    /// Whether the controller has an interrupt numbered `id` (below
    /// `board::INTERRUPTS`); `irq::register` refuses one it has not, so
    /// `enable` is only asked for numbers that exist. The default: all.
    fn has_interrupt(&self, id: IntId) -> bool {
        let _ = id;
        true
    }
    /// Enables `id`, routed to this core, level- or edge-triggered.
    fn enable(&self, id: IntId, level_triggered: bool);
    fn disable(&self, id: IntId);
    /// The highest-priority pending interrupt, now active; `None` if spurious.
    fn acknowledge(&self) -> Option<Acknowledged>;
    /// Ends the interrupt `acknowledge` returned.
    fn end_of_interrupt(&self, acknowledged: Acknowledged);
    /// Raises software interrupt `id` (a GIC SGI, 0 to 15) on this core.
    fn send_software(&self, id: IntId) -> Result<(), IrqError> {
        Err(IrqError::Unsupported(id))
    }
    /// Makes interrupt `id` pending as if its device had raised it (GIC
    /// GICD_ISPENDR), for tests that stand in for a device.
    fn set_pending(&self, id: IntId) -> Result<(), IrqError> {
        Err(IrqError::Unsupported(id))
    }
    /// The interrupt `ipi` arrives as on the core it is sent to; `None` if
    /// this controller cannot interrupt cores.
    fn ipi_id(&self, ipi: Ipi) -> Option<IntId> {
        let _ = ipi;
        None
    }
    /// Makes `ipi_id(ipi)` pending on core `cpu` (which may be this one),
    /// once the sender's earlier memory writes are visible to every core.
    fn send_ipi(&self, cpu: usize, ipi: Ipi) -> Result<(), IrqError> {
        let _ = (cpu, ipi);
        Err(IrqError::NoIpi)
    }
}

/// The interrupt numbers the architecture allows (GIC INTIDs 0 to 1019):
/// past them, [`IrqError::OutOfRange`]. A board's controller has fewer
/// (`board::INTERRUPTS`), and the kernel's tables are that size.
pub const MAX_INTERRUPTS: usize = 1020;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// The number is outside 0..MAX_INTERRUPTS.
    OutOfRange(IntId),
    /// The board's interrupt controller has no interrupt with this number
    /// (the Pi 3's numbering has gaps: see `drivers::bcm2837_irq`; a GIC
    /// ends where its distributor's GICD_TYPER says: 288 on QEMU `virt`).
    NoSuchInterrupt(IntId),
    /// A handler is registered for it already.
    AlreadyRegistered(IntId),
    /// No interrupt controller yet (before boot finished).
    NoController,
    /// The controller cannot raise this interrupt from software.
    Unsupported(IntId),
    /// The controller cannot interrupt other cores.
    NoIpi,
    /// No core with this number can be interrupted (none such, or not up yet).
    NoSuchCpu(usize),
    /// The kernel's own interrupt (the timer, the console, an IPI, GPIO):
    /// not to be unregistered or raised by an application.
    KernelOwned(IntId),
    /// No handler is registered for it.
    NotRegistered(IntId),
}

impl core::fmt::Display for IrqError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::OutOfRange(id) => write!(f, "interrupt {id} is out of range (0..{MAX_INTERRUPTS})"),
            Self::NoSuchInterrupt(id) => {
                write!(f, "interrupt {id} does not exist on this board's interrupt controller")
            }
            Self::AlreadyRegistered(id) => write!(f, "interrupt {id} already has a handler"),
            Self::NoController => f.write_str("no interrupt controller initialised"),
            Self::Unsupported(id) => write!(f, "interrupt {id} cannot be raised by software here"),
            Self::NoIpi => f.write_str("this interrupt controller cannot interrupt other cores"),
            Self::NoSuchCpu(cpu) => write!(f, "core {cpu} cannot be interrupted (no such core, or not up)"),
            Self::KernelOwned(id) => write!(f, "interrupt {id} is the kernel's own (timer, console, IPI or GPIO)"),
            Self::NotRegistered(id) => write!(f, "interrupt {id} has no handler"),
        }
    }
}

/// Why one core interrupts another (an inter-processor interrupt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipi {
    /// A task more urgent than the one it runs is ready for it: its handler
    /// only acknowledges; the scheduler's check at the end of every
    /// interrupt does the rest.
    Reschedule,
    /// The machine is stopping (a kernel failure on another core): halt.
    Stop,
}
