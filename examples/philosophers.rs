//! The dining philosophers, with `Mutex` forks and no deadlock.
//!
//! Five philosophers sit around a table with one fork between each pair.
//! To eat, a philosopher needs both neighbouring forks. If each took the
//! left fork first, all five could hold one fork and wait forever for the
//! other: a deadlock. Here every philosopher takes the lower-numbered fork
//! first, so the forks are always taken in one global order and no cycle of
//! waiting can form. Each philosopher thinks and eats (sleeping for a few
//! milliseconds) 20 times; the run ends with how often each one ate.
//! Run it: `just run philosophers`.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use ilusion::sync::Mutex;
use ilusion::task::Builder;
use ilusion::time::{self, Duration};

ilusion::entry!(main);

const PHILOSOPHERS: usize = 5;
const MEALS: u32 = 20;

fn main() {
    let forks: Arc<Vec<Mutex<()>>> = Arc::new((0..PHILOSOPHERS).map(|_| Mutex::new(())).collect());
    let names = ["Aristotle", "Kant", "Spinoza", "Marx", "Russell"];
    let diners: Vec<_> = (0..PHILOSOPHERS)
        .map(|i| {
            let forks = forks.clone();
            let (left, right) = (i, (i + 1) % PHILOSOPHERS);
            let (first, second) = (left.min(right), left.max(right));
            Builder::new()
                .name(names[i])
                .spawn(move || {
                    for meal in 0..MEALS {
                        time::sleep(Duration::from_millis(1 + (i as u64 + meal as u64) % 3)); // think
                        let _a = forks[first].lock().unwrap();
                        let _b = forks[second].lock().unwrap();
                        time::sleep(Duration::from_millis(1)); // eat
                    }
                    MEALS
                })
                .unwrap()
        })
        .collect();
    let mut all_ate = true;
    for (name, h) in names.iter().zip(diners) {
        let meals = h.join().unwrap();
        ilusion::println!("{name} ate {meals} times");
        all_ate &= meals == MEALS;
    }
    if all_ate {
        ilusion::println!("every philosopher ate {MEALS} times: no deadlock");
    } else {
        ilusion::exit(1);
    }
}
