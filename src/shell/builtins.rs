//! The commands every shell has (the task commands are in `tasks.rs`).

use super::commands::{CommandError, Registry};
use super::format::{bytes, uptime as since};
use super::tasks;
use crate::println;
use alloc::string::String;

fn no_args(args: &[&str]) -> Result<(), String> {
    match args {
        [] => Ok(()),
        _ => Err(String::from("takes no arguments")),
    }
}

/// Adds the built-in commands to an empty table.
pub fn add(r: &mut Registry) -> Result<(), CommandError> {
    r.add("help", "list the commands", help)?;
    r.add("ps", "one line per task: id, name, state, priority, core, CPU %, stack", tasks::ps)?;
    r.add("top", "tasks and cores, refreshed every second until a key [seconds]", tasks::top)?;
    r.add("mem", "kernel heap, frames, isolated tasks' memory", mem)?;
    r.add("kill", "end a task: kill <id>", tasks::kill)?;
    r.add("maps", "an isolated task's address space: maps <id>", tasks::maps)?;
    r.add("trace", "schedule trace: trace start|stop|dump", trace)?;
    r.add("irq", "interrupts taken, per interrupt", irq)?;
    r.add("uptime", "time since boot", uptime)?;
    r.add("reboot", "reset the machine", reboot)?;
    r.add("poweroff", "stop the machine (exit status 0 under QEMU)", poweroff)?;
    Ok(())
}

fn help(args: &[&str]) -> Result<(), String> {
    no_args(args)?;
    crate::print!("{}", super::help_text());
    Ok(())
}

fn uptime(args: &[&str]) -> Result<(), String> {
    no_args(args)?;
    println!(
        "up {}, {}",
        since(crate::time::Instant::now().since_boot()),
        super::format::count(crate::task::cpus_online(), "core")
    );
    Ok(())
}

fn mem(args: &[&str]) -> Result<(), String> {
    no_args(args)?;
    let heap = crate::mm::heap::stats();
    println!(
        "kernel heap: {} of {} in use ({} asked for), {} free",
        bytes(heap.allocated as u64),
        bytes(heap.total as u64),
        bytes(heap.requested as u64),
        bytes(heap.free() as u64)
    );
    let page = crate::mm::PAGE_SIZE;
    let (used, pooled) = (crate::mm::frames_in_use() as u64, crate::mm::pooled_frames() as u64);
    println!(
        "frames: {used} in use by address spaces ({}), {pooled} kept for reuse ({})",
        bytes(used * page),
        bytes(pooled * page)
    );
    tasks::mem_per_task();
    Ok(())
}

fn irq(args: &[&str]) -> Result<(), String> {
    use crate::irq::{self, Ipi};
    no_args(args)?;
    let name = |id| match id {
        _ if id == crate::board::TIMER_INTID => "timer",
        _ if id == crate::board::UART_INTID => "console UART",
        _ if Some(id) == irq::ipi_id(Ipi::Reschedule) => "reschedule IPI",
        _ if Some(id) == irq::ipi_id(Ipi::Stop) => "stop IPI",
        _ => "",
    };
    println!("{:>5} {:>12}  {}", "IRQ", "TAKEN", "WHAT");
    for (id, n) in irq::taken_counts() {
        println!("{id:>5} {n:>12}  {}", name(id));
    }
    println!("spurious {}, without a handler {}", irq::spurious_count(), irq::unhandled_count());
    Ok(())
}

#[cfg(feature = "trace")]
fn trace(args: &[&str]) -> Result<(), String> {
    match args {
        ["start"] => crate::trace::start(),
        ["stop"] => crate::trace::stop(),
        ["dump"] => crate::trace::dump(),
        _ => return Err(String::from("usage: trace start|stop|dump")),
    }
    Ok(())
}

#[cfg(not(feature = "trace"))]
fn trace(args: &[&str]) -> Result<(), String> {
    match args {
        ["start" | "stop" | "dump"] => Err(String::from("this image was built without the `trace` feature")),
        _ => Err(String::from("usage: trace start|stop|dump")),
    }
}

fn reboot(args: &[&str]) -> Result<(), String> {
    no_args(args)?;
    println!("rebooting");
    crate::power::reboot()
}

fn poweroff(args: &[&str]) -> Result<(), String> {
    no_args(args)?;
    println!("powering off");
    crate::power::exit(0)
}
