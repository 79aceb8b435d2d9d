//! QEMU test: what a system call does to the caller's registers (the ABI in
//! `ilusion::syscall::abi`): only `x0` changes, on the fast path (`time`,
//! `task_id`, `abi_version`) and on the system-call entry (`yield` between
//! two isolated tasks, `sleep`). Every other register, x1-x30 and q0-q31,
//! comes back with the task's own value, never one of the kernel's or of the
//! other task. A demand-paging fault (a first touch of the heap, through the
//! entry of faults from EL0) changes none at all. `register_probe` (assembly)
//! fills every register with a pattern made from a seed, makes the call (or
//! the store) and stores what it finds after it. The
//! system-call and fault entries save only x0-x18, x29 and x30, and rely on
//! the kernel's Rust code to give x19-x28 back: this test is what says so.
#![no_std]
#![no_main]

use ilusion::syscall::abi::Syscall;
use ilusion::syscall::user::{exit, raw_syscall};
use ilusion::task::{Builder, Priority};

ilusion::entry!(main);

/// Each task's heap reserve: 1 MiB (256 pages; 64 are touched).
const HEAP_RESERVE: u64 = 1 << 20;

/// The registers after a call, as `syscall_probe` stores them.
#[repr(C, align(16))]
struct Registers {
    /// x0 (the result) to x30; the last slot is padding.
    x: [u64; 32],
    q: [u128; 32],
}

core::arch::global_asm!(
    r#"
.section .text.register_probe, "ax"
.global register_probe
// register_probe(x8 value: x0, seed: x1, out: x2, fault: x3): x8 = the
// value, x(n) = seed + n (n = 1..30 but 8), q(n) = seed + 100 + n |
// (seed + 200 + n) << 64; then `svc #0` with x0 = 0 (fault = 0), or a store
// of x0 = 0 to the address in x8 (fault = 1); store x0-x30 and q0-q31 to out.
register_probe:
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
    str     x3, [sp, #168]
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
    ldr     x0, [sp, #168]
    cbnz    x0, 1f
    svc     #0                      // x0 = 0, its first argument
    b       2f
1:  mov     x0, xzr
    str     x0, [x8]
2:  str     x0, [sp, #168]
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
    fn register_probe(x8: u64, seed: u64, out: *mut Registers, fault: u64);
}

/// Makes call `call` with every register set from `seed`; returns the result,
/// or exits the task with status 1 (printing the first wrong register).
fn probe(call: Syscall, seed: u64) -> u64 {
    let mut r = Registers { x: [0; 32], q: [0; 32] };
    // SAFETY: `register_probe` follows the C calling convention, saves what
    // it must preserve, and writes only `r`.
    unsafe { register_probe(call as u64, seed, &mut r, 0) };
    check(&format_args!("{call:?}"), &r, call as u64, seed);
    r.x[0]
}

/// Stores to `address` (a page of the heap not touched yet: a demand-paging
/// fault) with every register set from `seed`; exits the task with status 1
/// if a register changed (x0 stays 0, the value stored).
fn touch(address: u64, seed: u64) {
    let mut r = Registers { x: [0; 32], q: [0; 32] };
    // SAFETY: as above; the store goes to the task's own heap reserve, far
    // above what its allocator uses.
    unsafe { register_probe(address, seed, &mut r, 1) };
    check(&format_args!("a first touch of {address:#x}"), &r, address, seed);
    if r.x[0] != 0 {
        ilusion::println!("a first touch of {address:#x}: x0 is {:#x}, expected 0", r.x[0]);
        exit(1);
    }
}

/// Checks x1-x30 (x8 holds `x8`) and q0-q31 against the pattern of `seed`.
fn check(what: &dyn core::fmt::Display, r: &Registers, x8: u64, seed: u64) {
    for n in 1..31 {
        let expected = if n == 8 { x8 } else { seed + n as u64 };
        if r.x[n] != expected {
            ilusion::println!("{what}: x{n} is {:#x}, expected {expected:#x}", r.x[n]);
            exit(1);
        }
    }
    for (n, &q) in r.q.iter().enumerate() {
        let expected = (seed + 100 + n as u64) as u128 | ((seed + 200 + n as u64) as u128) << 64;
        if q != expected {
            ilusion::println!("{what}: q{n} is {q:#x}, expected {expected:#x}");
            exit(1);
        }
    }
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
    // First touches of its heap, while the other task runs too: from the
    // top of the reserve down, far above the break of its own allocator.
    let top = ilusion::mm::user_layout::HEAP_BASE + HEAP_RESERVE;
    for page in 1..=64u64 {
        touch(top - page * ilusion::mm::PAGE_SIZE, seed + 0x8888_0000 + page * 0x1_0000);
    }
    ilusion::println!("task {seed:#x}: demand-paging faults keep x0-x30, q0-q31");
}

fn main() {
    let spawn = |f: fn(u64), seed: u64| {
        Builder::new()
            .priority(Priority::Preemptive(0))
            .heap_reserve(HEAP_RESERVE)
            .spawn_isolated(move || f(seed))
            .expect("spawn isolated")
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
