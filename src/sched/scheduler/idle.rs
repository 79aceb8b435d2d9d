//! Each core's idle task: its boot context, made a task at boot (core 0's
//! by [`init`], the others' as they come online), and its loop: run what is
//! ready for the core, else wait for an interrupt. Never queued, least
//! urgent of all.

use super::switch::schedule_away_on;
use super::{running, send_reschedule, ONLINE_AT, SCHED};
use crate::arch::context::{self, Context};
use crate::critical::{self, CriticalSection};
use crate::percpu;
use crate::sched::priority::IDLE_LEVEL;
use crate::sched::tcb::{State, Tcb};
use crate::sched::timer;
use crate::trace::Why;
use alloc::boxed::Box;
use core::ptr::{addr_of, NonNull};
use core::sync::atomic::Ordering;

/// Makes the boot context core 0's idle task, and sets the time slice (in
/// counter ticks). Called once, before any spawn and before the other
/// cores start.
pub(crate) fn init(slice_ticks: u64) {
    extern "C" {
        static __exception_stack_bottom: u8;
        static __exception_stack_top: u8;
    }
    let (bottom, top) = (addr_of!(__exception_stack_bottom) as u64, addr_of!(__exception_stack_top) as u64);
    // `vectors.s` checks for an overflow of every task's kernel stack, idle's too, with this size.
    let (size, expected) = (top - bottom, crate::sched::stack::KERNEL_STACK_SIZE);
    assert!(
        size == expected,
        "EXCEPTION_STACK_SIZE in linker/ilusion.ld is {size}, the kernel stacks' size {expected}"
    );
    critical::set_deferred_interrupt_sender(send_reschedule);
    let cs = CriticalSection::new();
    timer::set_slice(&cs, slice_ticks);
    drop(cs);
    become_idle(0, top);
}

/// Makes the calling context (a core's boot context, on its idle stack)
/// core `cpu`'s idle task; `kernel_stack_top` is the core's exception stack.
/// Then the core is online: tasks may run on it.
pub(crate) fn become_idle(cpu: usize, kernel_stack_top: u64) {
    let context = Context { kernel_stack_top, ..Context::default() };
    let mut idle = Tcb::new(0, Some("idle".into()), IDLE_LEVEL, context, None, None);
    idle.state = State::Running.into();
    idle.refs = 1.into(); // never freed
    idle.cpus = 1 << cpu;
    idle.cpu = (cpu as u8).into();
    let idle = NonNull::from(Box::leak(Box::new(idle)));
    let cs = CriticalSection::new();
    let now = crate::arch::cpu::counter();
    SCHED.with(&cs, |s| {
        s.idle[cpu] = Some(idle);
        s.queues.bring_online(cpu);
        // SAFETY: just made, ours.
        unsafe { idle.as_ref() }.counters.switched_in_at.set(now);
        ONLINE_AT.of(cpu).store(now, Ordering::Relaxed);
        // SAFETY: alive for ever, and on no list yet.
        unsafe { s.all.push_back(idle) };
    });
    // SAFETY: interrupts are masked; the idle task lives for ever, on this
    // core. The boot context's FP/SIMD registers become its own.
    unsafe { crate::arch::fp::adopt_boot_registers(idle.as_ref().context()) };
    context::set_current_task_pointer(idle.as_ptr() as *mut u8);
    context::publish_running_task(cpu, idle.as_ptr() as *mut u8);
    percpu::mark_online(cpu);
}

/// The idle task's loop: run whatever is ready for this core, else wait
/// for an interrupt. The wait is outside the critical section (other cores
/// need the kernel lock meanwhile) but with interrupts still masked, so a
/// wake that comes between the check and `wfi` is pending and ends the wait.
pub(crate) fn run_idle() -> ! {
    if critical::several_cores() {
        idle_loop::<true>()
    } else {
        idle_loop::<false>()
    }
}

fn idle_loop<const MANY: bool>() -> ! {
    use crate::arch::cpu;
    loop {
        let were_enabled = cpu::disable_interrupts();
        let cs = CriticalSection::enter::<MANY>();
        if SCHED.with(&cs, |s| (!MANY && s.handed.is_some()) || s.queues.has_any_for::<MANY>(percpu::cpu_index())) {
            schedule_away_on::<MANY, false>(&cs, running(&cs), Why::IDLE);
            drop(cs);
        } else {
            SCHED.with(&cs, |s| s.queues.set_core_level(percpu::cpu_index(), IDLE_LEVEL));
            drop(cs);
            cpu::wait_for_interrupt();
        }
        // The interrupt that ended the wait is taken here; its handler
        // switches to what it woke.
        cpu::restore_interrupts(were_enabled);
    }
}
