#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::task;
use ilusion::time::{self, Duration};
ilusion::entry!(main);
static WATCHDOG: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
fn tick() { TICKS.fetch_add(1, Ordering::Relaxed); }
fn main() {
    let _w = task::spawn(|| loop { WATCHDOG.fetch_add(1, Ordering::Relaxed); time::sleep(Duration::from_millis(1)); });
    time::set_periodic(Duration::MAX, tick);
    time::sleep(Duration::from_millis(5));
    ilusion::println!("MAX period: ticks {} watchdog {}", TICKS.load(Ordering::Relaxed), WATCHDOG.load(Ordering::Relaxed));
    time::set_periodic(Duration::ZERO, tick);
    time::sleep(Duration::from_millis(5));
    time::stop_periodic();
    ilusion::println!("zero period: ticks {} watchdog {}", TICKS.load(Ordering::Relaxed), WATCHDOG.load(Ordering::Relaxed));
}
