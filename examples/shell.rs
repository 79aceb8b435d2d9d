//! The serial shell: a few tasks busy at different priorities, an isolated
//! task that can be killed, and a shell on the console to look at them and
//! act on them. Try `help`, `ps`, `top` (any key stops it), `mem`, `irq`,
//! `kill <id>` on the isolated "counter", `maps <id>`, and the application's
//! own command, `blink`. `poweroff` ends the run.
//!
//! `just run shell` (built with the `shell` feature)
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use ilusion::task::{Builder, Priority};

ilusion::entry!(main);

/// A stand-in for an LED: the `blink` command toggles it.
static LED: AtomicBool = AtomicBool::new(false);

/// Works for `work` and rests for `rest`, for ever: a task that uses a
/// known share of a core.
fn duty_cycle(work: Duration, rest: Duration) {
    loop {
        ilusion::time::busy_wait(work);
        ilusion::time::sleep(rest);
    }
}

fn main() {
    // Three kernel tasks, at three priorities: busy about half the time,
    // a fifth of it (a little more: each sleep ends on the next timer
    // interrupt), and all of it.
    let busy = [("half", 10, 5, 5), ("fifth", 15, 2, 8), ("spinner", 25, 10, 0)];
    for (name, priority, work, rest) in busy {
        Builder::new()
            .name(name)
            .priority(Priority::Preemptive(priority))
            .spawn(move || duty_cycle(Duration::from_millis(work), Duration::from_millis(rest)))
            .expect("spawn a busy task");
    }
    // An isolated task that counts, with a little heap: `kill` it, `maps` it.
    let counter = Builder::new()
        .name("counter")
        .spawn_isolated(|| {
            let mut seen = alloc::vec::Vec::new();
            for n in 0u64.. {
                if seen.len() < 1000 {
                    seen.push(n);
                }
                ilusion::time::sleep(Duration::from_millis(100));
            }
        })
        .expect("spawn the isolated task");
    ilusion::println!("shell example: the isolated task \"counter\" is task {}", counter.task().id());
    // Detached: killed, it is freed at once (nothing waits to join it), and leaves `ps`.
    drop(counter);
    ilusion::shell::command("blink", "toggle the LED", |_| {
        let on = !LED.fetch_xor(true, Ordering::Relaxed);
        ilusion::println!("LED {}", if on { "on" } else { "off" });
    })
    .expect("add the blink command");
    let _ = ilusion::shell::spawn().join();
}

extern crate alloc;
