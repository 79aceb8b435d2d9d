//! QEMU test: a fault in an isolated task ends only that task, with the
//! exact reason, every time. Each misbehaviour runs twice in a row; after
//! each, a kernel watchdog task must have made progress and the frames the
//! task held must all be back. Bad pointers and lengths given to
//! `console_write` are refused with error codes, not faults. Executing from
//! the task's heap is a fault too (the heap is never executable).
//!
//! The isolated closures use no formatting (no `.rodata`), so the test runs
//! the same with PAN (`-cpu max`), where `.rodata` is kernel-only.
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::arch::esr::Access;
use ilusion::syscall::abi::{encode, Syscall, SyscallError};
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{self, Builder, TaskFailure};

ilusion::entry!(main);

/// Kernel data: out of an isolated task's reach.
static WATCHDOG: AtomicU64 = AtomicU64::new(0);

fn isolated(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), TaskFailure> {
    Builder::new().name(name).spawn_isolated(f).expect("spawn isolated").join()
}

/// The outcome is `want` (compared by `matches`), twice, with the watchdog running in between.
fn check(name: &str, run: &dyn Fn() -> Result<(), TaskFailure>, want: &dyn Fn(&Result<(), TaskFailure>) -> bool) {
    for attempt in 1..=2 {
        let frames = ilusion::mm::frames_in_use();
        let before = WATCHDOG.load(Ordering::Relaxed);
        let got = run();
        ilusion::time::sleep(Duration::from_millis(3));
        let progressed = WATCHDOG.load(Ordering::Relaxed) > before;
        let freed = ilusion::mm::frames_in_use() == frames;
        let ok = want(&got) && progressed && freed;
        ilusion::println!("{name} #{attempt}: {got:?}, watchdog {progressed}, frames freed {freed}: {}", ok_text(ok));
        if !ok {
            ilusion::println!("FAILED");
            ilusion::exit(1);
        }
    }
}

fn ok_text(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "WRONG"
    }
}

fn is_access(got: &Result<(), TaskFailure>, addr: u64, access: Access) -> bool {
    matches!(got, Err(TaskFailure::MemoryAccess { addr: a, access: x, .. }) if *a == addr && *x == access)
}

/// The faulting PC a failure reports (to compare the rest exactly).
fn pc_of(got: &Result<(), TaskFailure>) -> u64 {
    match got {
        Err(TaskFailure::Misaligned { pc, .. }) => *pc,
        _ => 0,
    }
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let buf = core::hint::black_box([depth; 64]);
    let deeper = recurse(depth + 1);
    // Use the frame after the call, so the recursion cannot become a loop.
    core::hint::black_box(&buf)[(depth % 64) as usize] + deeper
}

fn main() {
    let _watchdog = task::spawn(|| loop {
        WATCHDOG.fetch_add(1, Ordering::Relaxed);
        ilusion::time::sleep(Duration::from_millis(1));
    });
    let kernel_data = WATCHDOG.as_ptr() as u64;
    let kernel_stack_var = 0u64;
    let kernel_stack = core::hint::black_box(&kernel_stack_var as *const u64 as u64);
    let code = recurse as *const () as u64;
    let stack_top = ilusion::mm::user_layout::STACK_TOP;
    let heap_base = ilusion::mm::user_layout::HEAP_BASE;

    check(
        "read OS memory",
        // SAFETY: not safe at all: this is the fault under test.
        &|| {
            isolated("reader", move || unsafe {
                core::ptr::read_volatile(kernel_data as *const u64);
            })
        },
        &|got| is_access(got, kernel_data, Access::Read),
    );
    check(
        "write another task's stack",
        // SAFETY: not safe at all: this is the fault under test.
        &|| isolated("stomper", move || unsafe { core::ptr::write_volatile(kernel_stack as *mut u64, 1) }),
        &|got| is_access(got, kernel_stack, Access::Write),
    );
    check(
        "write own code",
        // SAFETY: not safe at all: this is the fault under test.
        &|| isolated("patcher", move || unsafe { core::ptr::write_volatile(code as *mut u32, 0) }),
        &|got| is_access(got, code, Access::Write),
    );
    check(
        "execute from own stack",
        &|| {
            isolated("stack exec", move || {
                let target = stack_top - 64;
                // SAFETY: not safe at all: this is the fault under test.
                let f: extern "C" fn() = unsafe { core::mem::transmute(target as usize) };
                f();
            })
        },
        &|got| is_access(got, stack_top - 64, Access::Execute),
    );
    check(
        "jump to null",
        &|| {
            isolated("null jumper", || {
                // SAFETY: not safe at all: this is the fault under test.
                let f: extern "C" fn() = unsafe { core::mem::transmute(core::hint::black_box(0usize)) };
                f();
            })
        },
        &|got| is_access(got, 0, Access::Execute),
    );
    check(
        "undefined instruction",
        // SAFETY: UDF traps; the fault under test.
        &|| isolated("udf", || unsafe { core::arch::asm!("udf #0") }),
        &|got| matches!(got, Err(TaskFailure::IllegalInstruction { .. })),
    );
    check(
        "stack overflow",
        &|| {
            isolated("recursion", || {
                core::hint::black_box(recurse(0));
            })
        },
        &|got| *got == Err(TaskFailure::StackOverflow),
    );
    check(
        "misaligned exclusive load",
        &|| {
            isolated("misaligned", move || {
                let odd = stack_top - 49; // crosses a 16-byte boundary (FEAT_LSE2 allows less)
                                          // SAFETY: not safe at all: exclusive loads must be aligned; the fault under test.
                unsafe { core::arch::asm!("ldxr {0}, [{1}]", out(reg) _, in(reg) odd) };
            })
        },
        &|got| *got == Err(TaskFailure::Misaligned { addr: stack_top - 49, pc: pc_of(got) }),
    );
    check(
        "jump to a misaligned address",
        &|| {
            isolated("misaligned jump", move || {
                // SAFETY: not safe at all: a branch target must be a multiple of 4; the fault under test.
                unsafe { core::arch::asm!("br {0}", in(reg) code + 2, options(noreturn)) };
            })
        },
        &|got| *got == Err(TaskFailure::Misaligned { addr: code + 2, pc: code + 2 }),
    );
    check(
        "unknown system call",
        &|| {
            isolated("bad call", || {
                raw_syscall(999, 0, 0, 0);
            })
        },
        &|got| matches!(got, Err(TaskFailure::BadSyscall { number: 999, .. })),
    );
    check(
        "bad console_write arguments",
        &|| {
            isolated("bad writer", move || {
                let write = |ptr: u64, len: u64| raw_syscall(Syscall::ConsoleWrite as u64, ptr, len, 0);
                let bad_address = encode(Err(SyscallError::BadAddress));
                let ok = write(kernel_data, 8) == bad_address
                    && write(0x7000_0000, 8) == bad_address
                    && write(stack_top - 8, u64::MAX) == encode(Err(SyscallError::BadLength))
                    && write(stack_top - 8, 0) == 0;
                ilusion::syscall::user::exit(if ok { 0 } else { 1 });
            })
        },
        &|got| *got == Ok(()),
    );
    check(
        "execute from own heap",
        &|| {
            isolated("heap exec", || {
                // `ret`, in a block of the task's own heap (mapped on first touch, never executable).
                let code = alloc::boxed::Box::new([0xd65f_03c0u32; 4]);
                // SAFETY: not safe at all: this is the fault under test.
                let f: extern "C" fn() = unsafe { core::mem::transmute(core::hint::black_box(code.as_ptr())) };
                f();
            })
        },
        &|got| is_access(got, heap_base, Access::Execute),
    );
    ilusion::println!("isolated faults ok");
}
