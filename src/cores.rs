//! The other cores: starting them at boot, and what each does once up.
//!
//! Core 0 boots alone. Once it has its real tables, the heap, the timer and
//! the interrupt controller, [`start_others`] gives each other core a pair
//! of stacks (with guard pages, like a task's) and sends it on its way the
//! board's way (`Board::core_start`: PSCI, the firmware's spin table, or
//! `boot.s`'s holding pen; see `arch::smp`), then waits up to
//! [`START_TIMEOUT`] for it to report up. A core that cannot be started, or
//! does not come up, is named in a warning; boot goes on with the others.
//!
//! A started core comes through `boot.s` to [`secondary_start`], which sets
//! up what is per core (translation registers, timer, PAN, its side of the
//! interrupt controller), marks it up in `percpu`, makes its boot context
//! its idle task (which marks it online: tasks may run on it from then on)
//! and runs the scheduler's idle loop, as core 0 does once `main` is
//! spawned. It takes inter-processor interrupts (`irq::Ipi`): a reschedule
//! when a task becomes ready for it, a stop when a failing core reports.

use crate::arch::smp::{self, CoreStacks, StartError};
use crate::arch::{cpu, mmu};
use crate::board::{Board, Selected};
use crate::fdt::BootFacts;
use crate::percpu::{self, MAX_CPUS};
use crate::sched::stack::TaskStacks;
use crate::time::{self, Duration, Instant};
use core::sync::atomic::{AtomicUsize, Ordering};

/// How long a started core has to report up before boot goes on without it.
/// A real core needs microseconds; QEMU's threads for the cores of a busy
/// host (MTTCG on two host processors running four) have needed more than
/// 100 ms, so the wait is generous: it only ever runs out for a broken core.
pub const START_TIMEOUT: Duration = Duration::from_secs(1);
/// The stack of a core's idle loop.
const IDLE_STACK_SIZE: usize = 16 * 1024;

/// Starts every core the board lists but this one (core 0); returns the
/// first reason one could not be started, for the boot banner.
pub(crate) fn start_others(boot_el: u8, facts: &BootFacts) -> Option<StartError> {
    let start = Selected::core_start(boot_el, facts);
    if start.cores.beyond_max > 0 {
        log::warn!("{} more cores than ilusion's {MAX_CPUS}: they stay parked", start.cores.beyond_max);
    }
    let mut first_error = None;
    if start.cores.mpidrs().len() > 1 {
        crate::critical::use_kernel_lock(); // before a second core can open a critical section
    }
    for &mpidr in start.cores.mpidrs() {
        let cpu = (mpidr & 0xff) as usize;
        if mpidr & 0xff_ff00 != 0 || cpu >= MAX_CPUS {
            log::warn!("core with MPIDR {mpidr:#x} is outside cores 0..{MAX_CPUS}: it stays parked");
            continue;
        }
        if cpu == percpu::cpu_index() {
            continue;
        }
        match start_one(start.method, cpu, mpidr) {
            Ok(()) => {}
            Err(e) => {
                log::warn!("core {cpu} not started: {e}");
                let unavailable = matches!(e, StartError::Unavailable(_));
                first_error.get_or_insert(e);
                if unavailable {
                    break; // the same reason for every core
                }
            }
        }
    }
    first_error
}

/// Starts core `cpu` and waits for it to come up.
fn start_one(method: smp::StartMethod, cpu: usize, mpidr: u64) -> Result<(), StartError> {
    let stacks = TaskStacks::new(IDLE_STACK_SIZE).map_err(|_| StartError::NoStacks)?;
    let tops = CoreStacks { exception_stack_top: stacks.kernel_stack_top(), idle_stack_top: stacks.stack_top() };
    smp::start_core(method, cpu, mpidr, tops)?;
    // The core runs on these stacks from now on, for good.
    core::mem::forget(stacks);
    let deadline = Instant::now() + START_TIMEOUT;
    // Online, not only up: `main` may pin a task to it as soon as boot goes on.
    while percpu::online_mask() & (1 << cpu) == 0 {
        if Instant::now() >= deadline {
            log::warn!("core {cpu} was started but did not come up within {} ms", START_TIMEOUT.as_millis() as u64);
            break;
        }
        cpu::spin_hint(); // QEMU's one host thread then runs the starting core
    }
    Ok(())
}

/// Where every other core arrives from `boot.s`, on its own stacks, with
/// interrupts masked: set up what is per core, report up, and idle.
pub(crate) fn secondary_start(cpu: usize) -> ! {
    mmu::init_secondary_core();
    crate::arch::context::set_current_task_pointer(core::ptr::null_mut()); // runs no task yet
    time::init_core();
    crate::arch::user_access::enable_pan();
    crate::arch::cpu::close_el0_debug_and_monitors();
    Selected::init_cpu_interrupts(cpu);
    percpu::mark_up(cpu);
    crate::sched::scheduler::become_idle(cpu, smp::exception_stack_top(cpu));
    cpu::enable_interrupts();
    crate::sched::scheduler::run_idle()
}

/// The core ending the program (an exit, or a fatal report), or [`NOBODY`].
static ENDING: AtomicUsize = AtomicUsize::new(NOBODY);
const NOBODY: usize = usize::MAX;

/// Makes this core the one that ends the program; if another one already
/// is (it exits, or reports a failure), halts here, silently: the program
/// ends once, with the first end's status and report. The caller has
/// masked interrupts: a `Stop` from a core that ends the program at the
/// same moment cannot halt this one once it is the one. (Before, two cores
/// exiting together could each stop the other, and nothing ended the program.)
pub(crate) fn claim_the_end() {
    let me = percpu::cpu_index();
    if let Err(other) = ENDING.compare_exchange(NOBODY, me, Ordering::AcqRel, Ordering::Acquire) {
        if other != me {
            cpu::halt();
        }
    }
}

/// The start of a fatal report (a kernel panic, an unhandled exception):
/// makes this core the one that ends the program ([`claim_the_end`]), and
/// stops every other core that is up, saying so. A core that fails while
/// another one reports (or exits) halts there: one report, from the first failure.
pub(crate) fn stop_others_for_report() {
    claim_the_end();
    let me = percpu::cpu_index();
    let up = percpu::up_count();
    if up > 1 {
        crate::console::write_fmt_emergency(format_args!("\n*** on core {me} ({up} cores up): stopping the others"));
        crate::irq::stop_other_cores();
    }
}
