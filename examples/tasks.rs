//! Producers and consumers at several priorities, and who ran how much.
//!
//! Three producers (preemptive 10, 15 and 20) each make 300 items, doing a
//! little work (50 us of spinning) per item, and send them into a channel
//! that holds 8. Two consumers take them out: a cooperative one, which is
//! never preempted and so consumes in bursts, and a preemptive one at 12.
//! They share the receiver through a `Mutex`. At the end, a summary shows
//! for each task its priority, how many items it handled and how long it
//! worked; more urgent producers finish first, and the cooperative consumer
//! handles most items. Run it: `just run tasks`.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use ilusion::sync::{mpsc, Mutex};
use ilusion::task::{Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ITEMS_PER_PRODUCER: u32 = 300;

/// What one task did: its name and priority, items handled, time worked, when it finished.
struct Report {
    name: &'static str,
    priority: Priority,
    items: u32,
    worked: Duration,
    finished: Duration,
}

fn work() -> Duration {
    let start = Instant::now();
    time::busy_wait(Duration::from_micros(50));
    start.elapsed()
}

fn main() {
    let t0 = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<(usize, u32)>(8);
    let producers: Vec<_> = [("producer-10", 10u8), ("producer-15", 15), ("producer-20", 20)]
        .into_iter()
        .enumerate()
        .map(|(id, (name, n))| {
            let tx = tx.clone();
            let priority = Priority::Preemptive(n);
            Builder::new()
                .name(name)
                .priority(priority)
                .spawn(move || {
                    let mut worked = Duration::ZERO;
                    for i in 0..ITEMS_PER_PRODUCER {
                        worked += work();
                        tx.send((id, i)).unwrap();
                    }
                    Report { name, priority, items: ITEMS_PER_PRODUCER, worked, finished: t0.elapsed() }
                })
                .unwrap()
        })
        .collect();
    drop(tx);

    let rx = Arc::new(Mutex::new(rx));
    let consumers: Vec<_> = [("consumer-coop", Priority::Cooperative(5)), ("consumer-12", Priority::Preemptive(12))]
        .into_iter()
        .map(|(name, priority)| {
            let rx = rx.clone();
            Builder::new()
                .name(name)
                .priority(priority)
                .spawn(move || {
                    let (mut items, mut worked) = (0, Duration::ZERO);
                    loop {
                        let item = rx.lock().unwrap().recv();
                        if item.is_err() {
                            break; // every producer is done
                        }
                        items += 1;
                        worked += work();
                    }
                    Report { name, priority, items, worked, finished: t0.elapsed() }
                })
                .unwrap()
        })
        .collect();

    let reports: Vec<Report> = producers.into_iter().chain(consumers).map(|h| h.join().unwrap()).collect();
    ilusion::println!("summary:");
    ilusion::println!("  {:<14} {:<16} {:>6} {:>10} {:>12}", "task", "priority", "items", "worked", "finished at");
    for r in &reports {
        ilusion::println!(
            "  {:<14} {:<16} {:>6} {:>8}ms {:>10}ms",
            r.name,
            alloc::format!("{:?}", r.priority),
            r.items,
            r.worked.as_millis(),
            r.finished.as_millis()
        );
    }
    let consumed: u32 = reports.iter().filter(|r| r.name.starts_with("consumer")).map(|r| r.items).sum();
    if consumed == 3 * ITEMS_PER_PRODUCER {
        ilusion::println!("all messages consumed ({consumed})");
    } else {
        ilusion::println!("lost messages: consumed {consumed} of {}", 3 * ITEMS_PER_PRODUCER);
        ilusion::exit(1);
    }
}
