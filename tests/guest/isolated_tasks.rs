//! QEMU test: isolated tasks run at EL0 in their own address spaces.
//! Two isolated tasks print through the console system call, yield to each
//! other and sleep, with the state their closures captured copied into
//! their own memory; both join `Ok`, and every frame they held is freed.
//! A panic at EL0 ends its task with `TaskFailure::Panic` and the message.
#![no_std]
#![no_main]

extern crate alloc;

use core::time::Duration;
use ilusion::task::{self, Builder};

ilusion::entry!(main);

/// Kernel data, for the user-view check.
static KERNEL_COUNTER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// What EL0 sees of the upper half: the image's code and constants, no OS data.
fn check_user_view() {
    use ilusion::internals::translate_user_view;
    let data = KERNEL_COUNTER.as_ptr() as u64;
    let constant = "a constant".as_ptr() as u64;
    let code = main as *const () as u64;
    let data_unmapped = translate_user_view(data).is_none();
    let constants_readable = translate_user_view(constant).is_some_and(|(_, a, _)| a.user && !a.writable);
    let code_executable = translate_user_view(code).is_some_and(|(_, a, _)| a.user_exec && !a.user);
    ilusion::println!(
        "user view: OS data unmapped {data_unmapped}, constants EL0-readable {constants_readable}, code EL0 execute-only {code_executable}"
    );
    if !(data_unmapped && constants_readable && code_executable) {
        ilusion::exit(1);
    }
}

fn main() {
    check_user_view();
    let frames_before = ilusion::mm::frames_in_use();
    let handles = [7u64, 8].map(|n| {
        Builder::new()
            .name(if n == 7 { "seven" } else { "eight" })
            .spawn_isolated(move || {
                let stack_probe = 0u64;
                ilusion::println!("isolated {n}: at EL0, stack at {:#x}", &stack_probe as *const u64 as u64);
                // TPIDR_EL0 is EL0-writable: each task must find its own value again.
                let mine = n * 0x1111_1111;
                // SAFETY: writes the EL0 thread register, which nothing else in this task uses.
                unsafe { core::arch::asm!("msr tpidr_el0, {0}", in(reg) mine) };
                let mut kept = true;
                for round in 0..3 {
                    ilusion::println!("isolated {n}: round {round}");
                    task::yield_now();
                    let now: u64;
                    // SAFETY: reads the EL0 thread register.
                    unsafe { core::arch::asm!("mrs {0}, tpidr_el0", out(reg) now) };
                    kept &= now == mine;
                }
                ilusion::println!("isolated {n}: thread register kept: {kept}");
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
    // A panic at EL0 ends the task with its message, like a panic in a normal task.
    for attempt in 1..=2 {
        let limit = 3 + attempt;
        let outcome = Builder::new()
            .name("panicky")
            .spawn_isolated(move || {
                let v = core::hint::black_box(limit);
                if v > 3 {
                    panic!("limit {v} is over 3");
                }
            })
            .expect("spawn isolated")
            .join();
        let want = alloc::format!("limit {limit} is over 3");
        let ok = matches!(&outcome, Err(task::TaskFailure::Panic { message }) if *message == want);
        ilusion::println!("panic #{attempt}: {outcome:?}: {}", if ok { "ok" } else { "WRONG" });
        if !ok {
            ilusion::exit(1);
        }
    }
    let frames_after = ilusion::mm::frames_in_use();
    ilusion::println!("frames back to start: {}", frames_after == frames_before);
    if frames_after != frames_before {
        ilusion::exit(1);
    }
    ilusion::println!("isolated tasks ok");
}
