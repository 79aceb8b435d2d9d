//! The shell's commands about tasks: `ps`, `top`, `kill`, `maps`, and the
//! per-task lines of `mem`, built on the scheduler's statistics
//! (`task::list`, `task::stats`, `task::kill`, `cpu::stats`).

use super::format::{bytes, count, share_of_one_core};
use crate::task::{self, Priority, TaskInfo};
use crate::time::{Duration, Instant};
use crate::{print, println};
use alloc::string::String;
use alloc::vec::Vec;

/// "P15", "C3"; "P15>C3" when it runs at an inherited priority.
fn priority(info: &TaskInfo) -> String {
    let short = |p: Priority| match p {
        Priority::Cooperative(n) => alloc::format!("C{n}"),
        Priority::Preemptive(n) => alloc::format!("P{n}"),
    };
    if info.running_priority == info.priority {
        short(info.priority)
    } else {
        alloc::format!("{}>{}", short(info.priority), short(info.running_priority))
    }
}

fn header() {
    println!(
        "{:>4} {:<16} {:<8} {:<7} {:>4} {:>6}  {}",
        "ID", "NAME", "STATE", "PRIO", "CORE", "CPU%", "STACK USED/SIZE"
    );
}

/// One line of `ps` and `top`: `cpu` is the task's CPU time over `window`.
fn row(info: &TaskInfo, cpu: Duration, window: Duration) {
    let name = alloc::format!("{}", task::Printable(info.name.as_deref().unwrap_or("-")));
    let kind = if info.isolated { " isolated" } else { "" };
    println!(
        "{:>4} {:<16.16} {:<8} {:<7} {:>4} {:>6}  {}/{}{kind}",
        info.id,
        name,
        info.state.as_str(),
        priority(info),
        info.cpu,
        share_of_one_core(cpu, window),
        // Not measured: a kernel task without the `stack-watermark` feature.
        info.stack_high_water.map_or(String::from("-"), |b| bytes(b as u64)),
        bytes(info.stack_size as u64),
    );
}

/// Every core's idle task is number 0: they differ by their core.
fn same_task(a: &TaskInfo, b: &TaskInfo) -> bool {
    a.id == b.id && (a.id != 0 || a.cpu == b.cpu)
}

fn sorted(mut tasks: Vec<TaskInfo>) -> Vec<TaskInfo> {
    tasks.sort_by_key(|t| t.id);
    tasks
}

/// `ps`: one line per task; CPU % is its share of one core since boot.
pub fn ps(args: &[&str]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(String::from("takes no arguments"));
    }
    let since_boot = Instant::now().since_boot();
    let tasks = sorted(task::list());
    header();
    for t in &tasks {
        row(t, t.cpu_time, since_boot);
    }
    println!(
        "{}, {}; CPU% of one core since boot",
        count(tasks.len(), "task"),
        count(crate::task::cpus_online(), "core")
    );
    Ok(())
}

/// The most bytes one key sends (an escape sequence such as F12's `ESC [ 2 4 ~`, with room to spare).
const KEY_BYTES: usize = 16;
/// The longest gap between two bytes of one key (a byte takes about 1 ms at 9600 baud).
const KEY_GAP: Duration = Duration::from_millis(20);

/// `top [seconds]`: the tasks and cores, refreshed every second (CPU % over
/// the last second), until a key is pressed (all its bytes are taken) or
/// `seconds` have passed.
pub fn top(args: &[&str]) -> Result<(), String> {
    let rounds = match args {
        [] => u64::MAX,
        [n] => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| alloc::format!("{n:?} is not a whole number of seconds, 1 or more"))?,
        _ => return Err(String::from("usage: top [seconds]")),
    };
    let mut before = task::list();
    let mut cores_before = crate::cpu::stats();
    let mut at = Instant::now();
    for _ in 0..rounds {
        if crate::console::read_byte_timeout(Some(Duration::from_secs(1))).is_some() {
            // The rest of the key too (an arrow is `ESC [ A`): left in the
            // input, it would be typed at the prompt.
            for _ in 0..KEY_BYTES {
                if crate::console::read_byte_timeout(Some(KEY_GAP)).is_none() {
                    break;
                }
            }
            break;
        }
        let now = Instant::now();
        let window = now.saturating_duration_since(at);
        let tasks = sorted(task::list());
        let cores = crate::cpu::stats();
        // Home, clear the screen.
        print!("\x1b[H\x1b[2J");
        println!("top: up {}, {}; any key stops", super::format::uptime(now.since_boot()), count(tasks.len(), "task"));
        for c in &cores {
            let old = cores_before.iter().find(|o| o.cpu == c.cpu);
            let busy = c.busy.saturating_sub(old.map_or(Duration::ZERO, |o| o.busy));
            let switches = c.switches - old.map_or(0, |o| o.switches);
            let irqs = c.interrupts - old.map_or(0, |o| o.interrupts);
            println!(
                "core {}: busy {:>5}%  {switches} switches/s  {irqs} interrupts/s",
                c.cpu,
                share_of_one_core(busy, window)
            );
        }
        header();
        for t in &tasks {
            let old = before.iter().find(|o| same_task(o, t)).map_or(Duration::ZERO, |o| o.cpu_time);
            row(t, t.cpu_time.saturating_sub(old), window);
        }
        (before, cores_before, at) = (tasks, cores, now);
    }
    Ok(())
}

/// How long `kill` waits for the task to have ended before it answers.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// `kill <id>`: asks the task to end, then waits (at most [`KILL_WAIT`])
/// until it has, so that what is typed next (`ps`, another `kill`) sees it
/// gone, even when it runs on another core that has not got to it yet.
/// A kernel task that neither blocks nor yields in that time is reported
/// as asked, not as killed. The shell's own task is refused (as the idle
/// tasks and `main` are, by `task::kill`): killing it would leave nobody
/// reading the console; so is this command's own task.
pub fn kill(args: &[&str]) -> Result<(), String> {
    let id = super::commands::one_id(args)?;
    if super::shell_task() == Some(id) {
        return Err(alloc::format!("task #{id} is the shell: it cannot be killed (poweroff stops the machine)"));
    }
    if task::current().id() == id {
        return Err(alloc::format!("task #{id} is this `kill` command's own"));
    }
    let name = task::stats(id).and_then(|t| t.name).map(|n| alloc::format!(" ({n})")).unwrap_or_default();
    task::kill(id).map_err(|e| alloc::format!("{e}"))?;
    let ended = || task::stats(id).is_none_or(|t| t.state == task::TaskState::Ended);
    let deadline = Instant::now() + KILL_WAIT;
    while !ended() && Instant::now() < deadline {
        crate::time::sleep(Duration::from_millis(1));
    }
    if ended() {
        println!("killed task {id}{name}");
    } else {
        println!("asked task {id}{name} to end: it will at its next block or yield");
    }
    Ok(())
}

/// `maps <id>`: an isolated task's address space, as text.
pub fn maps(args: &[&str]) -> Result<(), String> {
    let id = super::commands::one_id(args)?;
    if task::dump_address_space_of(id) {
        Ok(())
    } else {
        Err(alloc::format!("no task #{id}"))
    }
}

/// The per-task lines of `mem`: isolated tasks' memory.
pub fn mem_per_task() {
    let tasks: Vec<TaskInfo> = sorted(task::list()).into_iter().filter(|t| t.memory.is_some()).collect();
    if tasks.is_empty() {
        println!("per task: no isolated tasks");
        return;
    }
    println!("{:>4} {:<16} {:>10} {:>10} {:>8}", "ID", "NAME", "RESIDENT", "RESERVED", "FAULTS");
    for t in tasks {
        if let Some(m) = &t.memory {
            let name = alloc::format!("{}", task::Printable(t.name.as_deref().unwrap_or("-")));
            println!(
                "{:>4} {:<16.16} {:>10} {:>10} {:>8}",
                t.id,
                name,
                bytes(m.resident_bytes),
                bytes(m.reserved_bytes),
                m.page_faults
            );
        }
    }
}
