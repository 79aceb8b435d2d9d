//! QEMU test: the statistics are right, not just present (issue 13).
//!
//! - Two spinning tasks at the same priority on one core each get half of
//!   it (50 % ± 5 %) over one second, are switched in and preempted many
//!   times, and that core was busy for (nearly) all of that second.
//! - A core's switch count keeps the switches to tasks that have ended.
//! - A kernel task and an isolated task that recursed to a known depth
//!   (their stack pointers, read at the top and at the deepest point)
//!   report a stack high-water mark within one page of it.
//! - An isolated task that touched 64 KiB of new heap took at least 16
//!   page faults and holds at least that much memory.
//! - `task::list` shows the idle task, main, a sleeper (sleeping) and a
//!   task blocked on a channel (blocked), with unique ids.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::{check, dig_and_measure, finish};
use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::task::{self, Builder, Priority, TaskState};
use ilusion::time::{sleep, Duration};

ilusion::entry!(main);

const CORE: usize = 0;
/// Recursion depth: about a kilobyte of stack per level.
const DEPTH: u32 = 24;

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn run() {
    fair_shares();
    core_switches_outlive_tasks();
    stack_high_water_kernel();
    stack_high_water_isolated();
    isolated_memory();
    listing();
}

static STOP: AtomicBool = AtomicBool::new(false);

fn spinner() {
    while !STOP.load(Ordering::Relaxed) {
        core::hint::spin_loop();
    }
}

fn fair_shares() {
    let builder = |name| Builder::new().name(name).cpu(CORE).priority(Priority::Preemptive(20));
    let a = builder("spinner a").spawn(spinner).unwrap();
    let b = builder("spinner b").spawn(spinner).unwrap();
    // Let both start, then measure one second (main, more urgent, sleeps).
    sleep(Duration::from_millis(50));
    let (a0, b0) = (a.stats(), b.stats());
    let core0 = ilusion::cpu::stats().into_iter().find(|c| c.cpu == CORE).unwrap();
    let start = ilusion::time::Instant::now();
    sleep(Duration::from_secs(1));
    let elapsed = start.elapsed();
    let (a1, b1) = (a.stats(), b.stats());
    let core1 = ilusion::cpu::stats().into_iter().find(|c| c.cpu == CORE).unwrap();
    STOP.store(true, Ordering::Relaxed);
    let (sa, sb) = (a1.cpu_percent_since(a0.cpu_time, elapsed), b1.cpu_percent_since(b0.cpu_time, elapsed));
    ilusion::println!("shares over {} ms: a {sa} %, b {sb} %", elapsed.as_millis());
    check(
        (45..=55).contains(&sa) && (45..=55).contains(&sb),
        "equal_spinners_share_the_core",
        format_args!("{sa} % and {sb} %"),
    );
    let switched = a1.switched_in - a0.switched_in;
    let preempted = a1.preempted - a0.preempted;
    check(
        switched >= 10 && preempted >= 10,
        "spinners_switched_and_preempted",
        format_args!("{switched} in, {preempted} preempted"),
    );
    let busy =
        ilusion::task::stats::percent(core1.busy - core0.busy, (core1.busy + core1.idle) - (core0.busy + core0.idle));
    check(busy >= 95, "core_busy_while_they_spin", format_args!("{busy} %"));
    check(
        core1.interrupts > core0.interrupts && core1.switches > core0.switches,
        "core_counts_interrupts_and_switches",
        format_args!("{core0:?} -> {core1:?}"),
    );
    check(a.join().is_ok() && b.join().is_ok(), "spinners_end", format_args!(""));
}

/// A core's count of switches keeps the switches to tasks that have
/// ended and been freed: each spawn and join of a task on this core is at
/// least two (into the task, back to this one).
fn core_switches_outlive_tasks() {
    const TASKS: u64 = 20;
    let switches = || ilusion::cpu::stats().into_iter().find(|c| c.cpu == CORE).unwrap().switches;
    let before = switches();
    for _ in 0..TASKS {
        let h = Builder::new().cpu(CORE).priority(Priority::Preemptive(20)).spawn(|| ()).unwrap();
        h.join().unwrap();
    }
    let after = switches();
    check(
        after >= before + 2 * TASKS,
        "core_switches_outlive_tasks",
        format_args!("{before} -> {after} switches over {TASKS} tasks spawned and joined"),
    );
}

fn within_a_page(reported: Option<usize>, truth: u64) -> bool {
    reported.is_some_and(|r| (r as i64 - truth as i64).unsigned_abs() <= 4096)
}

fn stack_high_water_kernel() {
    let h = Builder::new().name("digger").cpu(CORE).stack_size(64 * 1024).spawn(|| dig_and_measure(DEPTH)).unwrap();
    while !h.is_finished() {
        sleep(Duration::from_millis(1));
    }
    let reported = h.stats().stack_high_water;
    let truth = h.join().unwrap();
    ilusion::println!("kernel task: went {truth} bytes deep, high-water {reported:?}");
    check(
        truth > 12_000 && within_a_page(reported, truth),
        "kernel_stack_high_water_within_a_page",
        format_args!("{reported:?} for {truth}"),
    );
}

fn stack_high_water_isolated() {
    let h = Builder::new()
        .name("user digger")
        .cpu(CORE)
        .stack_size(64 * 1024)
        .spawn_isolated(|| dig_and_measure(DEPTH))
        .unwrap();
    while !h.is_finished() {
        sleep(Duration::from_millis(1));
    }
    let reported = h.stats().stack_high_water;
    let truth = h.join().unwrap();
    ilusion::println!("isolated task: went {truth} bytes deep, high-water {reported:?}");
    check(
        truth > 12_000 && within_a_page(reported, truth),
        "isolated_stack_high_water_within_a_page",
        format_args!("{reported:?} for {truth}"),
    );
}

fn isolated_memory() {
    let h = Builder::new()
        .name("toucher")
        .cpu(CORE)
        .spawn_isolated(|| {
            let v = alloc::vec![1u8; 64 * 1024];
            core::hint::black_box(&v);
            ilusion::time::sleep(Duration::from_millis(200));
        })
        .unwrap();
    sleep(Duration::from_millis(100));
    let s = h.stats();
    let m = s.memory.unwrap();
    ilusion::println!("isolated memory: {m:?}, state {:?}", s.state);
    check(
        m.page_faults >= 16 && m.resident_bytes >= 64 * 1024 && m.reserved_bytes >= m.resident_bytes,
        "isolated_faults_and_memory",
        format_args!("{m:?}"),
    );
    check(s.state == TaskState::Sleeping && s.isolated, "sleeping_isolated_task", format_args!("{:?}", s.state));
    check(h.join().is_ok(), "toucher_ends", format_args!(""));
}

fn listing() {
    let sleeper = Builder::new().name("sleeper").cpu(CORE).spawn(|| sleep(Duration::from_millis(300))).unwrap();
    let (tx, rx) = ilusion::sync::mpsc::channel::<u32>();
    let waiter = Builder::new().name("waiter").cpu(CORE).spawn(move || rx.recv().unwrap()).unwrap();
    sleep(Duration::from_millis(20));
    let all = task::list();
    for t in &all {
        ilusion::println!(
            "  #{:<3} {:<14} {:<8} {:?} core {} cpu {} us, in {} woken {} stack {:?}/{}",
            t.id,
            t.name.as_deref().unwrap_or("-"),
            t.state.as_str(),
            t.priority,
            t.cpu,
            t.cpu_time.as_micros(),
            t.switched_in,
            t.woken,
            t.stack_high_water,
            t.stack_size
        );
    }
    let find = |name: &str| all.iter().find(|t| t.name.as_deref() == Some(name));
    check(all.iter().any(|t| t.id == 0), "idle_listed", format_args!(""));
    check(
        find("main").is_some() && find("main, pinned").is_some_and(|t| t.state == TaskState::Running),
        "main_listed_running",
        format_args!(""),
    );
    check(find("sleeper").is_some_and(|t| t.state == TaskState::Sleeping), "sleeper_sleeping", format_args!(""));
    check(
        find("waiter").is_some_and(|t| t.state == TaskState::Blocked && t.woken == 1),
        "waiter_blocked",
        format_args!(""),
    );
    let mut ids: alloc::vec::Vec<u64> = all.iter().filter(|t| t.id != 0).map(|t| t.id).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    check(ids.len() == n, "ids_unique", format_args!("{n} tasks"));
    check(
        task::stats(waiter.task().id()).is_some_and(|t| t.name.as_deref() == Some("waiter")),
        "stats_by_id",
        format_args!(""),
    );
    check(task::stats(123_456).is_none(), "stats_of_unknown_id", format_args!(""));
    tx.send(7).unwrap();
    check(waiter.join() == Ok(7) && sleeper.join().is_ok(), "listed_tasks_end", format_args!(""));
}
