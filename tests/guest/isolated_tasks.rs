//! QEMU test: isolated tasks run at EL0 in their own address spaces.
//! Two isolated tasks print through the console system call, yield to each
//! other and sleep, with the state their closures captured copied into
//! their own memory; both join `Ok`, and every frame they held is freed.
#![no_std]
#![no_main]

use core::time::Duration;
use ilusion::task::{self, Builder};

ilusion::entry!(main);

fn main() {
    let frames_before = ilusion::mm::frames_in_use();
    let handles = [7u64, 8].map(|n| {
        Builder::new()
            .name(if n == 7 { "seven" } else { "eight" })
            .spawn_isolated(move || {
                let stack_probe = 0u64;
                ilusion::println!("isolated {n}: at EL0, stack at {:#x}", &stack_probe as *const u64 as u64);
                for round in 0..3 {
                    ilusion::println!("isolated {n}: round {round}");
                    task::yield_now();
                }
                ilusion::time::sleep(Duration::from_millis(2));
                ilusion::println!("isolated {n}: slept, done");
            })
            .expect("spawn isolated")
    });
    ilusion::println!("frames while running: {}", ilusion::mm::frames_in_use() - frames_before);
    for h in handles {
        let name = h.task();
        ilusion::println!("{name} joined: {:?}", h.join());
    }
    let frames_after = ilusion::mm::frames_in_use();
    ilusion::println!("frames back to start: {}", frames_after == frames_before);
    if frames_after != frames_before {
        ilusion::exit(1);
    }
    ilusion::println!("isolated tasks ok");
}
