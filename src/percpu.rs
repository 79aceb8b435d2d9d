//! Per-core data: which core this is, which cores are up and which are
//! online, and a [`PerCpu`] array that gives each core its own copy of a value.
//!
//! A core is *up* once boot started it (`kernel::start_other_cores`): it
//! has its own stacks, timer and interrupt interface, and takes interrupts.
//! It is *online* once it also runs tasks. Core 0 is both from the start.
//!
//! A core's number is its place in the machine (`MPIDR_EL1`'s Aff0 on the
//! boards ilusion supports: 0 to 3 on the Pis, 0 to 7 on QEMU `virt`), read
//! with one instruction, so it is right even before the core runs a task.
//! Code that asks must not move to another core meanwhile: with interrupts
//! masked (a critical section) the answer stays true; a task with
//! interrupts enabled gets a sample (as `task::current_cpu`).
//!
//! Which cores are up and online is the kernel's to record, as each core
//! starts; an application reads it. Marking a core online from outside
//! (it was public) made `task::cpus_online` count a core that runs no
//! tasks, and a task pinned there (`Builder::cpu`) was accepted:
//!
//! ```compile_fail,E0603
//! ilusion::percpu::mark_online(5); // private: only the kernel brings a core online
//! ```

use core::sync::atomic::{AtomicU64, Ordering};

/// The most cores ilusion runs on; cores numbered beyond stay parked.
pub const MAX_CPUS: usize = 8;

/// A mask with one bit per core (bit `n`: core `n`).
pub type CpuMask = u64;
/// Every core.
pub const ALL_CPUS: CpuMask = (1 << MAX_CPUS) - 1;

/// The cores that have come up and run tasks (bit `n`: core `n`).
static ONLINE: AtomicU64 = AtomicU64::new(1);

/// This core's number (0 for the boot core).
#[inline(always)]
pub fn cpu_index() -> usize {
    // Only cores 0..MAX_CPUS are ever started (`cores.rs` leaves the others
    // parked), so the mask changes no answer; it tells the compiler the
    // index is in range, and indexing a per-core array checks nothing more.
    const _: () = assert!(MAX_CPUS.is_power_of_two());
    #[cfg(target_os = "none")]
    return crate::arch::cpu::core_index() & (MAX_CPUS - 1);
    #[cfg(not(target_os = "none"))]
    0
}

/// The cores that have started and take interrupts (bit `n`: core `n`).
static UP: AtomicU64 = AtomicU64::new(1);

/// Records that core `cpu` has started (its stacks, timer and interrupt
/// interface are set up) and takes interrupts.
pub(crate) fn mark_up(cpu: usize) {
    UP.fetch_or(1 << cpu, Ordering::Release);
}

/// The cores up, as a mask.
#[inline]
pub fn up_mask() -> CpuMask {
    UP.load(Ordering::Acquire)
}

/// How many cores are up.
pub fn up_count() -> usize {
    up_mask().count_ones() as usize
}

/// Records that core `cpu` is up and takes part in scheduling.
pub(crate) fn mark_online(cpu: usize) {
    ONLINE.fetch_or(1 << cpu, Ordering::Release);
}

/// The cores online, as a mask.
#[inline]
pub fn online_mask() -> CpuMask {
    ONLINE.load(Ordering::Acquire)
}

/// How many cores are online.
pub fn online_count() -> usize {
    online_mask().count_ones() as usize
}

/// Is the task at `task` (an address, compared, never followed: it may
/// have ended) running on an online core at this moment? A sample: for
/// deciding whether to spin for it (`sync::mutex`). On the host (unit
/// tests) no task runs on a core.
pub(crate) fn runs_on_a_core(task: usize) -> bool {
    #[cfg(target_os = "none")]
    {
        let online = online_mask();
        (0..MAX_CPUS)
            .filter(|&cpu| online & (1 << cpu) != 0)
            .any(|cpu| crate::arch::context::running_task_pointer_of(cpu) == task)
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = task;
        false
    }
}

/// One `T` per core, indexed by core number. Which copy a core may touch,
/// and how, is up to the user of each array: each core its own, under the
/// kernel lock (`critical::CriticalSection`), or atomics inside `T`.
pub struct PerCpu<T>([T; MAX_CPUS]);

impl<T> PerCpu<T> {
    pub const fn new(values: [T; MAX_CPUS]) -> Self {
        Self(values)
    }

    /// Core `cpu`'s copy.
    #[inline(always)]
    pub fn of(&self, cpu: usize) -> &T {
        &self.0[cpu]
    }

    /// Core `cpu`'s copy, to change.
    #[inline(always)]
    pub fn of_mut(&mut self, cpu: usize) -> &mut T {
        &mut self.0[cpu]
    }

    /// Every core's copy.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_counts() {
        assert_eq!(ALL_CPUS.count_ones() as usize, MAX_CPUS);
        mark_online(0);
        assert!(online_mask() & 1 == 1);
        mark_up(3);
        assert_eq!(up_mask() & 0b1001, 0b1001);
        assert!(up_count() >= 2);
        let p = PerCpu::new([0u8, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(*p.of(5), 5);
        assert_eq!(p.iter().count(), MAX_CPUS);
    }
}
