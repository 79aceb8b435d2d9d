//! QEMU test: timer interrupts arrive at the programmed rate. A 1 ms
//! periodic timer counts ticks while the main program spins for 200 ms of
//! the generic timer's time; the count must be 200 +- 2.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

static TICKS: AtomicU64 = AtomicU64::new(0);

fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

fn main() {
    ilusion::println!("timer frequency {} Hz", time::frequency());
    let start = Instant::now();
    time::set_periodic(Duration::from_millis(1), tick).expect("a 1 ms period");
    time::busy_wait(Duration::from_millis(200));
    time::stop_periodic();
    let elapsed = start.elapsed();
    let ticks = TICKS.load(Ordering::Relaxed);
    ilusion::println!("{ticks} ticks in {} us", elapsed.as_micros());
    let expected = elapsed.as_millis() as u64;
    if ticks + 2 < expected || ticks > expected + 2 {
        ilusion::println!("FAILED: expected {expected} +- 2 ticks");
        ilusion::exit(1);
    }
    let monotonic = (0..1000).map(|_| Instant::now()).collect::<heapless_pairs::Pairs>().0;
    if !monotonic {
        ilusion::println!("FAILED: clock went backwards");
        ilusion::exit(1);
    }
    ilusion::println!("timer ok");
}

/// Checks that successive instants never decrease, without allocating.
mod heapless_pairs {
    use ilusion::time::Instant;
    pub struct Pairs(pub bool);
    impl FromIterator<Instant> for Pairs {
        fn from_iter<I: IntoIterator<Item = Instant>>(iter: I) -> Self {
            let mut last = None;
            let mut ok = true;
            for i in iter {
                ok &= last.is_none_or(|l| l <= i);
                last = Some(i);
            }
            Pairs(ok)
        }
    }
}
