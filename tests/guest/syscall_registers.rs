//! QEMU test: what a system call does to the caller's registers (the ABI in
//! `ilusion::syscall::abi`): only `x0` changes, on the fast path (`time`,
//! `task_id`, `abi_version`) and on the full one (`yield` between two
//! isolated tasks, `sleep`). Every other register, x1-x30 and q0-q31, comes
//! back with the task's own value, never one of the kernel's or of the other
//! task. `syscall_probe` (assembly) fills every register with a pattern made
//! from a seed, makes the call and stores what it finds after it.
#![no_std]
#![no_main]

use ilusion::syscall::abi::Syscall;
use ilusion::syscall::user::{exit, raw_syscall};
use ilusion::task::{Builder, Priority};

ilusion::entry!(main);

/// The registers after a call, as `syscall_probe` stores them.
#[repr(C, align(16))]
struct Registers {
    /// x0 (the result) to x30; the last slot is padding.
    x: [u64; 32],
    q: [u128; 32],
}

core::arch::global_asm!(
    r#"
.section .text.syscall_probe, "ax"
.global syscall_probe
// syscall_probe(number: x0, seed: x1, out: x2): x(n) = seed + n (n = 1..30
// but x8, the number), q(n) = seed + 100 + n | (seed + 200 + n) << 64; SVC;
// store x0-x30 and q0-q31 to out.
syscall_probe:
    stp     x29, x30, [sp, #-176]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    str     x2, [sp, #160]
    mov     x8, x0
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x0, x1, #(100 + \n)
    fmov    d\n, x0
    add     x0, x1, #(200 + \n)
    mov     v\n\().d[1], x0
    .endr
    .irp n, 2,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    add     x\n, x1, #\n
    .endr
    add     x1, x1, #1
    mov     x0, xzr
    svc     #0
    str     x0, [sp, #168]
    ldr     x0, [sp, #160]
    str     x1, [x0, #8]
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldr     x1, [sp, #168]
    str     x1, [x0]
    add     x1, x0, #256
    stp     q0, q1, [x1], #32
    stp     q2, q3, [x1], #32
    stp     q4, q5, [x1], #32
    stp     q6, q7, [x1], #32
    stp     q8, q9, [x1], #32
    stp     q10, q11, [x1], #32
    stp     q12, q13, [x1], #32
    stp     q14, q15, [x1], #32
    stp     q16, q17, [x1], #32
    stp     q18, q19, [x1], #32
    stp     q20, q21, [x1], #32
    stp     q22, q23, [x1], #32
    stp     q24, q25, [x1], #32
    stp     q26, q27, [x1], #32
    stp     q28, q29, [x1], #32
    stp     q30, q31, [x1], #32
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #176
    ret
"#,
    options(raw)
);

extern "C" {
    fn syscall_probe(number: u64, seed: u64, out: *mut Registers);
}

/// Makes call `call` with every register set from `seed`; returns the result,
/// or exits the task with status 1 (printing the first wrong register).
fn probe(call: Syscall, seed: u64) -> u64 {
    let mut r = Registers { x: [0; 32], q: [0; 32] };
    // SAFETY: `syscall_probe` follows the C calling convention, saves what it
    // must preserve, and writes only `r`.
    unsafe { syscall_probe(call as u64, seed, &mut r) };
    for n in 1..31 {
        let expected = if n == 8 { call as u64 } else { seed + n as u64 };
        if r.x[n] != expected {
            ilusion::println!("{call:?}: x{n} is {:#x}, expected {expected:#x}", r.x[n]);
            exit(1);
        }
    }
    for (n, &q) in r.q.iter().enumerate() {
        let expected = (seed + 100 + n as u64) as u128 | ((seed + 200 + n as u64) as u128) << 64;
        if q != expected {
            ilusion::println!("{call:?}: q{n} is {q:#x}, expected {expected:#x}");
            exit(1);
        }
    }
    r.x[0]
}

fn fast_calls() {
    let seed = 0x5eed_0000_0000_0000;
    let version = probe(Syscall::AbiVersion, seed);
    let id = probe(Syscall::TaskId, seed + 0x1000);
    let t1 = probe(Syscall::Time, seed + 0x2000);
    let t2 = probe(Syscall::Time, seed + 0x3000);
    let ok = version == ilusion::syscall::abi::ABI_VERSION
        && id == raw_syscall(Syscall::TaskId as u64, 0, 0, 0)
        && id != 0
        && 0 < t1
        && t1 <= t2;
    ilusion::println!("fast calls keep x1-x30, q0-q31: abi {version}, id matches, time rises: {ok}");
    if !ok {
        exit(2);
    }
}

/// Yields (and once sleeps) many times with its own register pattern while
/// the other isolated task does the same with another.
fn switching_calls(seed: u64) {
    for round in 0..200u64 {
        probe(Syscall::Yield, seed + round * 0x1_0000);
    }
    probe(Syscall::Sleep, seed + 0x7777_0000);
    ilusion::println!("task {seed:#x}: yield and sleep keep x1-x30, q0-q31");
}

fn main() {
    let spawn = |f: fn(u64), seed: u64| {
        Builder::new().priority(Priority::Preemptive(0)).spawn_isolated(move || f(seed)).expect("spawn isolated")
    };
    let fast = spawn(|_| fast_calls(), 0);
    ilusion::println!("fast calls: {:?}", fast.join());
    let a = spawn(switching_calls, 0xaaaa_0000_0000_0000);
    let b = spawn(switching_calls, 0xbbbb_0000_0000_0000);
    let (a, b) = (a.join(), b.join());
    ilusion::println!("switching calls: {a:?} {b:?}");
    let fast = spawn(|_| fast_calls(), 0);
    if fast.join().is_ok() && a.is_ok() && b.is_ok() {
        ilusion::println!("syscall registers ok");
    } else {
        ilusion::exit(1);
    }
}
