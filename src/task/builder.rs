//! Setting up a task before it is spawned: [`Builder`], as
//! `std::thread::Builder`, and why a spawn can fail ([`SpawnError`]).
//!
//! The same builder spawns a kernel task (`spawn`, in `spawn.rs`) or an
//! isolated one (`spawn_isolated`, in `isolated.rs`); what only isolated
//! tasks use (heap reserve, memory limit, grants) is ignored by `spawn`.

use super::grants::{GrantSlot, Grants};
use super::Priority;
use crate::ipc::Grant;
use crate::mm::shared_region::{Access, SharedMemory, SharedRegion};
use crate::percpu::{CpuMask, ALL_CPUS, MAX_CPUS};
use crate::sched::priority::Level;
use crate::sched::stack::MAX_SLOT_STACK_SIZE;
use alloc::string::String;

/// Why a task could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// No memory (or no stack slot) left for its stacks, control block,
    /// name or closure. Nothing is lost: what the builder held (granted
    /// endpoints included) is released, and the caller goes on.
    OutOfMemory,
    /// The priority number is out of range for its class
    /// ([`Priority::MAX_COOPERATIVE`], [`Priority::MAX_PREEMPTIVE`]).
    InvalidPriority(Priority),
    /// Larger than the largest stack the task may have (a kernel task's
    /// slot, or an isolated task's stack segment).
    StackTooLarge { requested: usize, max: usize },
    /// An isolated task's closure captures more than the area its state is
    /// copied into holds.
    ClosureTooLarge { size: usize, max: usize },
    /// An isolated task's closure needs an alignment above a page, which
    /// the area its state is copied into does not give.
    ClosureOverAligned { align: usize, max: usize },
    /// An isolated task's heap reserve is zero, not whole pages, or larger than its layout allows.
    BadHeapReserve { requested: u64, max: u64 },
    /// An isolated task's memory limit cannot even hold what it needs at spawn.
    MemoryLimitTooSmall { requested: u64, min: u64 },
    /// An isolated task at a cooperative priority: untrusted code must be
    /// preemptible, or one spinning loop would stop every other task.
    CooperativeIsolated(Priority),
    /// An isolated task's result type is larger than its stack, where the
    /// value is made before the kernel copies it out.
    ResultTooLarge { size: usize, stack: usize },
    /// The cores asked for (`Builder::cpu`, `Builder::cpus`) include none online.
    NoAllowedCpu { mask: CpuMask, online: CpuMask },
    /// The regions shared with an isolated task (`Builder::share`), each
    /// rounded up to pages and a page apart, need more of its shared
    /// segment than it has: `requested` bytes, at most `max`.
    SharedSegmentFull { requested: u64, max: u64 },
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of memory for the task's stacks and control block"),
            Self::InvalidPriority(p) => write!(
                f,
                "priority {p:?} is out of range for its class (Cooperative takes 0 to {}, Preemptive 0 to {})",
                Priority::MAX_COOPERATIVE,
                Priority::MAX_PREEMPTIVE
            ),
            Self::StackTooLarge { requested, max } => {
                write!(f, "stack of {requested} bytes requested, at most {max} bytes")
            }
            Self::ClosureTooLarge { size, max } => {
                write!(f, "the closure captures {size} bytes, at most {max} bytes for an isolated task")
            }
            Self::ClosureOverAligned { align, max } => {
                write!(f, "the closure needs an alignment of {align} bytes, at most {max} for an isolated task")
            }
            Self::BadHeapReserve { requested, max } => {
                write!(f, "heap reserve of {requested} bytes: not whole pages, zero, or over {max} bytes")
            }
            Self::MemoryLimitTooSmall { requested, min } => {
                write!(f, "memory limit of {requested} bytes is below the {min} bytes needed at spawn")
            }
            Self::ResultTooLarge { size, stack } => {
                write!(f, "a result of {size} bytes cannot be made on a stack of {stack} bytes")
            }
            Self::NoAllowedCpu { mask: 0, online } => write!(
                f,
                "no core asked for: Builder::cpu(n) takes a core from 0 to {} (percpu::MAX_CPUS is {}), \
                 Builder::cpus a mask with a core's bit set (online: {})",
                MAX_CPUS - 1,
                MAX_CPUS,
                Cores(*online)
            ),
            Self::NoAllowedCpu { mask, online } => {
                write!(f, "none of the cores asked for is online (asked: {}; online: {})", Cores(*mask), Cores(*online))
            }
            Self::SharedSegmentFull { requested, max } => write!(
                f,
                "the regions shared with Builder::share need {requested} bytes of the task's shared segment \
                 (each rounded up to pages, a page apart), which holds {max} bytes"
            ),
            Self::CooperativeIsolated(p) => write!(
                f,
                "isolated tasks must be preemptible: {p:?} is a cooperative priority (use Priority::Preemptive)"
            ),
        }
    }
}

/// A mask of cores, written as their numbers ("cores 0, 1 and 3").
struct Cores(CpuMask);

impl core::fmt::Display for Cores {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let count = self.0.count_ones();
        f.write_str(match count {
            0 => "no core",
            1 => "core ",
            _ => "cores ",
        })?;
        let mut bits = self.0;
        for i in 0..count {
            let core = bits.trailing_zeros();
            bits &= bits - 1;
            let separator = match (i, count - i) {
                (0, _) => "",
                (_, 1) => " and ",
                _ => ", ",
            };
            write!(f, "{separator}{core}")?;
        }
        Ok(())
    }
}

/// Sets up a task before spawning it, as `std::thread::Builder`.
#[derive(Debug, Default)]
pub struct Builder {
    pub(super) name: Option<String>,
    pub(super) priority: Option<Priority>,
    pub(super) stack_size: Option<usize>,
    /// Isolated tasks only: heap reserve and memory limit, in bytes.
    pub(super) heap_reserve: Option<u64>,
    pub(super) memory_limit: Option<u64>,
    /// Channel endpoints and shared regions for an isolated task (`grant`,
    /// `share`); boxed, so that builders without any stay small.
    pub(super) grants: GrantSlot,
    /// The cores it may run on (`None`: every core, [`ALL_CPUS`]).
    pub(super) affinity: Option<CpuMask>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The task's stack size in bytes (rounded up to 4 KiB pages).
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// An isolated task's heap reserve in bytes (whole pages, default
    /// [`crate::mm::user_layout::HEAP_RESERVE`], at most
    /// [`crate::mm::user_layout::HEAP_RESERVE_MAX`]): virtual address space
    /// only, backed page by page on first touch.
    pub fn heap_reserve(mut self, bytes: u64) -> Self {
        self.heap_reserve = Some(bytes);
        self
    }

    /// The most physical memory an isolated task may hold, pages and
    /// translation tables together (default
    /// [`crate::mm::user_layout::DEFAULT_MEMORY_LIMIT`]). Touching a new
    /// heap page past it ends the task with
    /// [`TaskFailure::OutOfMemory`](super::TaskFailure::OutOfMemory).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    fn grants(&mut self) -> &mut Grants {
        self.grants.get_or_default()
    }

    /// Hands a channel endpoint to the isolated task this builder spawns:
    /// records it in that task's handle table and returns the endpoint in
    /// its *granted* form, for the closure to capture. Kernel tasks
    /// (`spawn`) get no handles: what was granted is then dropped.
    pub fn grant<E: Grant>(&mut self, endpoint: E) -> E {
        endpoint.grant_into(&mut self.grants().handles)
    }

    /// Maps `region` into the isolated task this builder spawns, with
    /// `access` for that task, and returns where the task will see it.
    /// Regions go one after the other, a page apart, in the task's shared
    /// segment; if they do not fit, `spawn_isolated` fails with
    /// [`SpawnError::SharedSegmentFull`].
    pub fn share(&mut self, region: &SharedRegion, access: Access) -> SharedMemory {
        self.grants().add_region(region, access)
    }

    /// Pins the task to core `cpu`: it runs there and nowhere else.
    pub fn cpu(self, cpu: usize) -> Self {
        self.cpus(if cpu < MAX_CPUS { 1 << cpu } else { 0 })
    }

    /// Lets the task run only on the cores in `mask` (bit `n`: core `n`;
    /// [`ALL_CPUS`]: any core). The default is every core, [`ALL_CPUS`]:
    /// restrict a task when it must share a core with others (code that
    /// counts on a one-core order, such as a more urgent task running before
    /// its spawner goes on) or keep to one (its data cache-warm, a core of
    /// its own). A mask naming no core online makes the spawn fail with
    /// [`SpawnError::NoAllowedCpu`].
    pub fn cpus(mut self, mask: CpuMask) -> Self {
        self.affinity = Some(mask);
        self
    }

    /// The cores the task may run on: the mask asked for, if it names a core online.
    pub(super) fn allowed_cpus(&self) -> Result<CpuMask, SpawnError> {
        let mask = self.affinity.unwrap_or(ALL_CPUS);
        let online = crate::percpu::online_mask();
        if mask & online == 0 {
            return Err(SpawnError::NoAllowedCpu { mask, online });
        }
        Ok(mask & ALL_CPUS)
    }

    /// The task's level and the cores it may run on, once `stack_size`
    /// (its kernel-side stack, in thread mode) is known to fit a slot.
    pub(super) fn level_and_cpus(&self, stack_size: usize) -> Result<(Level, CpuMask), SpawnError> {
        let priority = self.priority.unwrap_or_default();
        let level = priority.level().ok_or(SpawnError::InvalidPriority(priority))?;
        let cpus = self.allowed_cpus()?;
        if stack_size > MAX_SLOT_STACK_SIZE {
            return Err(SpawnError::StackTooLarge { requested: stack_size, max: MAX_SLOT_STACK_SIZE });
        }
        Ok((level, cpus))
    }
}
