//! QEMU test: untrusted code cannot stop the machine by spinning.
//!
//! - `spawn_isolated` at a cooperative priority is refused with
//!   `SpawnError::CooperativeIsolated` (and so is `supervise`): an isolated
//!   task is always preemptible;
//! - an isolated task spinning at main's priority, and one spinning at a
//!   more urgent preemptive priority, do not stop a kernel watchdog of the
//!   same priority (time slices), nor a more urgent one that sleeps and
//!   wakes (preemption). The watchdog ends the spin through a shared
//!   region; with an unpreemptible spinner it would never run, and this
//!   test would hang;
//! - an isolated task writing 64 KiB to the console does not hold off a
//!   more urgent task on its core either (a system call runs with
//!   interrupts masked, so each writes at most a line).
//!
//! The spinner, the watchdog and the urgent task share one core ([`CORE`]):
//! what is tested is that the spinner gives *its* core up (on a core of its
//! own it would compete with nobody).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::mm::{Access, SharedRegion};
use ilusion::task::{self, Builder, Policy, Priority, Restart, SpawnError};
use ilusion::time::Instant;

ilusion::entry!(main);

/// The core the spinner, the watchdog and the urgent task share.
const CORE: usize = 0;

static ROUNDS: AtomicU64 = AtomicU64::new(0);
static URGENT_WAKES: AtomicU64 = AtomicU64::new(0);
static URGENT_WORST_LATENESS_US: AtomicU64 = AtomicU64::new(0);

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

/// A kernel task more urgent than everything else here, on [`CORE`], that
/// wakes every millisecond 30 times and records how late it woke.
fn spawn_urgent() -> task::JoinHandle<()> {
    Builder::new()
        .name("urgent")
        .priority(Priority::Preemptive(0))
        .cpu(CORE)
        .spawn(|| {
            for _ in 0..30 {
                let due = Instant::now() + Duration::from_millis(1);
                ilusion::time::sleep_until(due);
                let late = Instant::now().duration_since(due).as_micros() as u64;
                URGENT_WORST_LATENESS_US.fetch_max(late, Ordering::Relaxed);
                URGENT_WAKES.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("urgent")
}

/// An isolated task at `priority` spinning until byte 0 of a shared region
/// is set, a kernel watchdog at the same priority that, once the spinner
/// has started (byte 1), sets it after 20 busy rounds of 1 ms, and a more
/// urgent kernel task waking every millisecond. The spinner is spawned
/// last: at a priority more urgent than main's, main runs again only when
/// it is done.
/// Returns how many times the spinner looked at the flag.
fn spin_against_watchdog(priority: Priority) -> u64 {
    let region = SharedRegion::new(8).expect("region");
    let mut builder = Builder::new().name("spinner").priority(priority).cpu(CORE);
    let flag = builder.share(&region, Access::ReadWrite);
    ROUNDS.store(0, Ordering::Relaxed);
    URGENT_WAKES.store(0, Ordering::Relaxed);
    URGENT_WORST_LATENESS_US.store(0, Ordering::Relaxed);
    let urgent = spawn_urgent();
    let setter = region.clone();
    let watchdog = Builder::new()
        .name("watchdog")
        .priority(priority)
        .cpu(CORE)
        .spawn(move || {
            // Sleep (letting main spawn the spinner) until the spinner runs.
            let mut started = [0u8];
            while started[0] == 0 {
                ilusion::time::sleep(Duration::from_millis(1));
                setter.read(1, &mut started).expect("read flag");
            }
            for _ in 0..20 {
                ilusion::time::busy_wait(Duration::from_millis(1));
                ROUNDS.fetch_add(1, Ordering::Relaxed);
            }
            setter.write(0, &[1]).expect("set flag");
        })
        .expect("watchdog");
    let spinner = builder
        .spawn_isolated(move || {
            let mut looks = 0u64;
            let mut byte = [0u8];
            let _ = flag.write(1, &[1]); // started
            while byte[0] == 0 {
                looks += 1;
                let _ = flag.read(0, &mut byte);
            }
            looks
        })
        .expect("spinner");
    watchdog.join().expect("watchdog");
    let looks = spinner.join().expect("spinner");
    urgent.join().expect("urgent");
    looks
}

/// The most bytes one `console_write` accepts.
const WRITE: usize = 64 * 1024;

/// An isolated task at main's priority writes [`WRITE`] bytes to the
/// console (a line of dots, from a shared region) while a more urgent
/// kernel task wakes every millisecond on the same core. A system call
/// runs with interrupts masked: one that wrote it all (890 µs here, 5.7 s
/// at 115,200 baud on a Pi) made the urgent task that late; each call now
/// writes at most a line. Returns the urgent task's worst lateness, in
/// microseconds.
fn write_against_urgent() -> u64 {
    let region = SharedRegion::new(WRITE).expect("region");
    let mut text = [b'.'; 1024];
    for offset in (0..WRITE).step_by(text.len()) {
        if offset + text.len() == WRITE {
            text[text.len() - 1] = b'\n';
        }
        region.write(offset, &text).expect("fill");
    }
    URGENT_WAKES.store(0, Ordering::Relaxed);
    URGENT_WORST_LATENESS_US.store(0, Ordering::Relaxed);
    let urgent = spawn_urgent();
    let mut builder = Builder::new().name("writer").cpu(CORE);
    let view = builder.share(&region, Access::ReadOnly);
    let writer = builder
        .spawn_isolated(move || {
            // Start between two of the urgent task's wakes.
            ilusion::time::sleep(Duration::from_micros(2500));
            // SAFETY: the region is mapped here, `WRITE` bytes, read-only; nothing writes it meanwhile.
            let text = unsafe { core::slice::from_raw_parts(view.as_ptr() as *const u8, WRITE) };
            ilusion::syscall::user::console_write(text).unwrap_or(0)
        })
        .expect("writer");
    let written = writer.join().expect("writer");
    urgent.join().expect("urgent");
    if written != WRITE as u64 {
        ilusion::println!("console_write: {written:#x}");
        fail("writer's result");
    }
    URGENT_WORST_LATENESS_US.load(Ordering::Relaxed)
}

fn main() {
    let cooperative = Builder::new().priority(Priority::Cooperative(3)).spawn_isolated(|| {});
    match cooperative {
        Err(e @ SpawnError::CooperativeIsolated(Priority::Cooperative(3))) => ilusion::println!("refused: {e}"),
        Err(e) => {
            ilusion::println!("refused as {e:?}");
            fail("the wrong error")
        }
        Ok(_) => fail("a cooperative isolated task was spawned"),
    }
    let most_urgent = Builder::new().priority(Priority::Cooperative(0)).spawn_isolated(|| 1u64).err();
    ilusion::println!("Cooperative(0): {most_urgent:?}");
    let policy = Policy::new(Restart::Always);
    let supervised = task::supervise(Builder::new().priority(Priority::Cooperative(31)), policy, || {});
    ilusion::println!("supervise at Cooperative(31): {:?}", supervised.err());
    if most_urgent != Some(SpawnError::CooperativeIsolated(Priority::Cooperative(0))) {
        fail("Cooperative(0)");
    }

    let frames = ilusion::mm::frames_in_use();
    let main_priority = Priority::DEFAULT;
    for (what, priority) in [("main's priority", main_priority), ("Preemptive(5)", Priority::Preemptive(5))] {
        let looks = spin_against_watchdog(priority);
        let rounds = ROUNDS.load(Ordering::Relaxed);
        let wakes = URGENT_WAKES.load(Ordering::Relaxed);
        let late = URGENT_WORST_LATENESS_US.load(Ordering::Relaxed);
        ilusion::println!(
            "spinner at {what}: watchdog rounds {rounds}, urgent wakes {wakes}, worst lateness under 1 ms {}, spinner looked {}",
            late < 1000,
            if looks > 1000 { "many times" } else { "few times" }
        );
        if rounds != 20 || wakes != 30 || late >= 1000 {
            fail("spinner");
        }
    }
    let late = write_against_urgent();
    let wakes = URGENT_WAKES.load(Ordering::Relaxed);
    ilusion::println!("writer of {WRITE} bytes: urgent wakes {wakes}, worst lateness under 100 us {}", late < 100);
    if wakes != 30 || late >= 100 {
        ilusion::println!("worst lateness {late} us");
        fail("writer");
    }
    ilusion::println!("frames back: {}", ilusion::mm::frames_in_use() == frames);
    ilusion::println!("isolated preemption ok");
}
