//! QEMU test: a spin lock's `with` called again inside itself. `with` runs
//! its closure on the data, the lock held; a closure that asks for the same
//! lock again is the holder asking again, a certain deadlock, caught as
//! `spin_relock` shows for `lock`. On a one-core machine `with` used to
//! skip the lock word (the heap's fast path, where no other core can be
//! running): the inner call then got a second `&mut` to the same data, in
//! safe code, and the program went on. Built as an application gets it
//! (without the lock checks, which caught it), and run on one core and on
//! four: status 101, the report naming the problem.
#![no_std]
#![no_main]

use ilusion::critical::SpinLock;
use ilusion::task::Builder;
use ilusion::time::Duration;

ilusion::entry!(main);

static COUNTER: SpinLock<u64> = SpinLock::new("careless lock", 0);

fn main() {
    let careless = Builder::new()
        .name("careless")
        .spawn(|| {
            COUNTER.with(|total| {
                *total += 1;
                ilusion::println!("calling with again inside with");
                let inner = COUNTER.with(|again| {
                    *again += 1;
                    *again
                });
                ilusion::println!("not caught: two borrows of one lock's data ({} and {inner})", *total);
                *total
            })
        })
        .expect("spawn");
    match careless.join_timeout(Duration::from_secs(5)) {
        Ok(outcome) => ilusion::println!("careless: {outcome:?}"),
        Err(_) => ilusion::println!("careless: still spinning after 5 s"),
    }
}
