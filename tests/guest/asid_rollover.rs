//! QEMU test: ASIDs run out and are reused, and no task notices.
//!
//! Two long-lived isolated tasks keep a pattern on their own stacks and
//! check it after every yield, while `main` spawns and joins hundreds of
//! short-lived isolated tasks, far more than there are ASIDs in one
//! generation. Each new generation flushes the TLB and hands the
//! long-lived tasks fresh ASIDs; a stale translation would show as a wrong
//! pattern (the tasks see each other's memory at the same addresses) or a
//! fault. Every short task checks the value it captured and exits with a
//! status that says whether it was right. (QEMU drops its own TLB when the
//! ASID changes, so in QEMU this checks the bookkeeping: generations, reuse,
//! live tasks moving to fresh ASIDs, frames freed; the tagging itself is the
//! hardware's.)
#![no_std]
#![no_main]

use ilusion::task::{self, Builder};

ilusion::entry!(main);

const SHORT_TASKS: u64 = 400;
const ROUNDS: u64 = 300;

fn long_lived(seed: u64) -> impl FnOnce() + Send + 'static {
    move || {
        let mut pattern = [0u64; 64];
        for round in 0..ROUNDS {
            for (i, word) in pattern.iter_mut().enumerate() {
                *word = seed ^ (round << 8) ^ i as u64;
            }
            core::hint::black_box(&mut pattern);
            task::yield_now();
            for (i, word) in pattern.iter().enumerate() {
                if *word != seed ^ (round << 8) ^ i as u64 {
                    ilusion::syscall::user::exit(1);
                }
            }
        }
    }
}

fn main() {
    let frames_before = ilusion::mm::frames_in_use();
    let generation_before = ilusion::mm::address_space::asid_generation();
    let a = Builder::new().name("long a").spawn_isolated(long_lived(0xaaaa_0000)).expect("spawn a");
    let b = Builder::new().name("long b").spawn_isolated(long_lived(0xbbbb_0000)).expect("spawn b");
    let mut wrong = 0;
    for n in 0..SHORT_TASKS {
        let secret = n * 7919;
        let outcome = Builder::new()
            .name("short")
            .spawn_isolated::<_, ()>(move || {
                let copy = core::hint::black_box(secret);
                task::yield_now();
                ilusion::syscall::user::exit(if copy == n * 7919 { 0 } else { 2 });
            })
            .expect("spawn short")
            .join();
        if outcome.is_err() {
            wrong += 1;
            ilusion::println!("short task {n}: {outcome:?}");
        }
    }
    let (a, b) = (a.join(), b.join());
    let generations = ilusion::mm::address_space::asid_generation() - generation_before;
    let frames_freed = ilusion::mm::frames_in_use() == frames_before;
    ilusion::println!(
        "{SHORT_TASKS} short tasks, {wrong} wrong; long-lived: {a:?} {b:?}; new ASID generations: {generations}; frames freed {frames_freed}"
    );
    if wrong != 0 || a.is_err() || b.is_err() || generations < 2 || !frames_freed {
        ilusion::println!("FAILED");
        ilusion::exit(1);
    }
    ilusion::println!("asid rollover ok");
}
