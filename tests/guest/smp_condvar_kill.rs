//! QEMU test, under real parallelism (MTTCG): a `Condvar` notification is
//! not lost when the waiter it went to is killed before it has its mutex
//! back.
//!
//! Each of [`CYCLES`] cycles, with every consumer waiting for an item: a
//! producer (on the next core each cycle) puts one item on the shelf
//! under the mutex and notifies one waiter, which is one of the
//! [`KILLABLE`] urgent consumers (waiters are woken most urgent first);
//! still holding the mutex, it kills those consumers and sleeps, so the
//! notified one blocks to take the mutex back and ends there. The
//! [`SURVIVORS`], less urgent and never killed, must then take the item
//! within a second: the notification goes on to them. The killed
//! consumers must have ended `Killed`, and are replaced for the next
//! cycle; every item is taken exactly once. Consumers are pinned to different cores or
//! free.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores};
use ilusion::sync::{Condvar, Mutex};
use ilusion::task::{Builder, JoinHandle, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const CYCLES: usize = 100;
const KILLABLE: usize = 3;
const SURVIVORS: usize = 2;

struct Shelf {
    items: u64,
    taken: u64,
    done: bool,
}

static SHELF: Mutex<Shelf> = Mutex::new(Shelf { items: 0, taken: 0, done: false });
static ITEM: Condvar = Condvar::new();

/// Takes items until the shelf is closed; how many it took.
fn consume() -> u64 {
    let mut took = 0;
    let mut shelf = SHELF.lock().expect("shelf poisoned");
    loop {
        while shelf.items == 0 && !shelf.done {
            shelf = ITEM.wait(shelf).expect("shelf poisoned");
        }
        if shelf.items == 0 {
            return took;
        }
        shelf.items -= 1;
        shelf.taken += 1;
        took += 1;
    }
}

fn consumer(priority: u8, cpu: Option<usize>) -> JoinHandle<u64> {
    let b = Builder::new().name("consumer").priority(Priority::Preemptive(priority));
    let b = match cpu {
        Some(cpu) => b.cpu(cpu),
        None => b,
    };
    b.spawn(consume).expect("spawn consumer")
}

fn main() {
    let cores = require_cores(4);
    let start = Instant::now();
    let survivors: Vec<_> = (0..SURVIVORS).map(|s| consumer(8, Some(s % cores))).collect();
    let mut wrong = 0;
    let mut lost = 0;
    for cycle in 0..CYCLES {
        let killable: Vec<_> =
            (0..KILLABLE).map(|k| consumer(5, (k % 2 == 0).then_some((cycle + k + 1) % cores))).collect();
        time::sleep(Duration::from_millis(2)); // every consumer waits on the condvar
        let producer = Builder::new()
            .name("producer")
            .cpu(cycle % cores)
            .spawn(move || {
                let mut shelf = SHELF.lock().expect("shelf poisoned");
                shelf.items += 1;
                ITEM.notify_one(); // to the most urgent waiter: a killable one
                let kills = killable.iter().filter(|k| k.kill().is_ok()).count();
                // Still holding the mutex: the notified consumer blocks to take it back, and ends.
                time::sleep(Duration::from_millis(2));
                drop(shelf);
                (kills, killable)
            })
            .expect("spawn producer");
        let (kills, killable) = producer.join().expect("producer");
        for k in killable {
            match k.join() {
                Err(TaskFailure::Killed) => {}
                other => {
                    wrong += 1;
                    ilusion::println!("cycle {cycle}: killable consumer: {other:?}");
                }
            }
        }
        let waited = Instant::now();
        let mut left = SHELF.lock().unwrap().items;
        while left > 0 && waited.elapsed() < Duration::from_secs(1) {
            time::sleep(Duration::from_millis(1));
            left = SHELF.lock().unwrap().items;
        }
        if left > 0 || kills != KILLABLE {
            lost += 1;
            ilusion::println!("cycle {cycle}: {kills} kills accepted, {left} items left on the shelf after 1 s");
            // Unstick the survivors for the next cycle.
            let mut shelf = SHELF.lock().unwrap();
            shelf.items = 0;
            ITEM.notify_all();
        }
        if lost + wrong > 3 {
            break;
        }
    }
    SHELF.lock().unwrap().done = true;
    ITEM.notify_all();
    let took: u64 = survivors.into_iter().map(|s| s.join().expect("survivor")).sum();
    let taken = SHELF.lock().unwrap().taken;
    ilusion::println!(
        "{CYCLES} cycles: {lost} notifications lost, {wrong} wrong, {taken} items taken ({took} by the survivors), {} ms",
        start.elapsed().as_millis()
    );
    let ok = lost == 0 && wrong == 0 && taken == CYCLES as u64;
    check(ok, "condvar_notifications_passed_on", format_args!("{lost} lost, {wrong} wrong, {taken} taken"));
    finish()
}
