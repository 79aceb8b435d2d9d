//! QEMU test: a fault in an isolated task ends only that task, with the
//! exact reason, every time. Each misbehaviour runs twice in a row; after
//! each, a kernel watchdog task must have made progress and the frames the
//! task held must all be back. Bad pointers and lengths given to
//! `console_write` are refused with error codes, not faults. Executing from
//! the task's heap is a fault too (the heap is never executable).
//!
//! Privileged instructions (system registers, interrupt masks, `wfi`,
//! `eret`, `smc`, `hvc`, cache and TLB maintenance, the physical counter,
//! the kernel's timer, the PMU, the debug communications channel, a
//! semihosting call) end the task with `PrivilegedInstruction`, naming
//! what it tried, at the exact PC (the kernel reads the word there back);
//! `brk` is a `Breakpoint`, and SVE and SME (on `-cpu max`) are
//! `UnavailableInstruction`.
//!
//! The isolated closures use no formatting (no `.rodata`), so the test runs
//! the same with PAN (`-cpu max`), where `.rodata` is kernel-only.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::syscall::abi::{encode, Syscall, SyscallError};
use ilusion::syscall::user::raw_syscall;
use ilusion::task::{Builder, TaskFailure};
use ilusion::task::{Extension, FaultAccess, Privileged, SystemEncoding};

ilusion::entry!(main);

/// Kernel data: out of an isolated task's reach.
static WATCHDOG: AtomicU64 = AtomicU64::new(0);

/// The core every task of this test runs on: the watchdog must keep
/// counting on the very core where the faults happen (on another core it
/// would count whatever the fault path did).
const CORE: usize = 0;

fn isolated(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), TaskFailure> {
    Builder::new().name(name).cpu(CORE).spawn_isolated(f).expect("spawn isolated").join()
}

/// The outcome is `want` (compared by `matches`), twice, with the watchdog running in between.
fn check(name: &str, run: &dyn Fn() -> Result<(), TaskFailure>, want: &dyn Fn(&Result<(), TaskFailure>) -> bool) {
    for attempt in 1..=2 {
        let frames = ilusion::mm::frames_in_use();
        let before = WATCHDOG.load(Ordering::Relaxed);
        let got = run();
        let progressed = common::counter_advances(&WATCHDOG, before);
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

fn is_access(got: &Result<(), TaskFailure>, addr: u64, access: FaultAccess) -> bool {
    matches!(got, Err(TaskFailure::MemoryAccess { addr: a, access: x, .. }) if *a == addr && *x == access)
}

/// The faulting PC a failure reports (to compare the rest exactly).
fn pc_of(got: &Result<(), TaskFailure>) -> u64 {
    match got {
        Err(TaskFailure::Misaligned { pc, .. }) => *pc,
        _ => 0,
    }
}

/// A privileged-instruction failure naming `operation`, at a PC that holds `word`.
fn is_privileged(got: &Result<(), TaskFailure>, operation: Privileged, word: u32) -> bool {
    matches!(got, Err(TaskFailure::PrivilegedInstruction { operation: o, pc }) if *o == operation && word_at(*pc) == word)
}

/// The instruction word at `pc` in the image's code (0 outside it).
fn word_at(pc: u64) -> u32 {
    let code = ilusion::mm::layout::ImageLayout::current();
    if !(code.start..code.text_end).contains(&pc) {
        return 0;
    }
    // SAFETY: an aligned word of the image's code, readable by the kernel.
    unsafe { core::ptr::read_volatile(pc as *const u32) }
}

fn encoding(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> SystemEncoding {
    SystemEncoding { op0, op1, crn, crm, op2 }
}

/// Bits `shift..shift + 4` of an ID register, read at EL1.
fn id_field(pfr1: bool, shift: u32) -> u64 {
    let value: u64;
    // SAFETY: reading an ID register has no side effect.
    unsafe {
        if pfr1 {
            core::arch::asm!("mrs {0}, id_aa64pfr1_el1", out(reg) value);
        } else {
            core::arch::asm!("mrs {0}, id_aa64pfr0_el1", out(reg) value);
        }
    }
    (value >> shift) & 0xf
}

/// Each privileged instruction, twice: the task ends naming what it tried, at its exact PC.
fn privileged_instructions() {
    type Case = (&'static str, fn(), Privileged, u32);
    let cases: [Case; 17] = [
        // SAFETY (every closure): not safe at all: the privileged instruction is the fault under test.
        (
            "read TTBR1_EL1",
            || unsafe { core::arch::asm!("mrs x0, ttbr1_el1", out("x0") _) },
            Privileged::SystemRegister { read: true, register: encoding(3, 0, 2, 0, 1) },
            0xd538_2020,
        ),
        (
            "write SCTLR_EL1",
            || unsafe { core::arch::asm!("msr sctlr_el1, xzr") },
            Privileged::SystemRegister { read: false, register: encoding(3, 0, 1, 0, 0) },
            0xd518_101f,
        ),
        (
            "mask interrupts",
            || unsafe { core::arch::asm!("msr daifset, #2") },
            Privileged::ProcessorState { field: encoding(0, 3, 4, 2, 6) },
            0xd503_42df,
        ),
        // In a loop: a `wfi` traps only if it would wait, and one that meets
        // an interrupt already pending goes on, as the architecture allows
        // (QEMU does so): seen on rpi4, where the second run returned Ok.
        (
            "wait for interrupt",
            || unsafe {
                loop {
                    core::arch::asm!("wfi")
                }
            },
            Privileged::WaitForInterrupt,
            0xd503_207f,
        ),
        ("exception return", || unsafe { core::arch::asm!("eret") }, Privileged::ExceptionReturn, 0xd69f_03e0),
        ("secure monitor call", || unsafe { core::arch::asm!("smc #0") }, Privileged::SecureMonitorCall, 0xd400_0003),
        ("hypervisor call", || unsafe { core::arch::asm!("hvc #0") }, Privileged::HypervisorCall, 0xd400_0002),
        (
            "invalidate data cache",
            || unsafe { core::arch::asm!("dc ivac, x0", in("x0") STACK_TOP - 64) },
            Privileged::SystemOperation { operation: encoding(1, 0, 7, 6, 1) },
            0xd508_7620,
        ),
        (
            "zero a cache block",
            || unsafe { core::arch::asm!("dc zva, x0", in("x0") STACK_TOP - 64) },
            Privileged::SystemOperation { operation: encoding(1, 3, 7, 4, 1) },
            0xd50b_7420,
        ),
        (
            "invalidate TLB",
            || unsafe { core::arch::asm!("tlbi vmalle1") },
            Privileged::SystemOperation { operation: encoding(1, 0, 8, 7, 0) },
            0xd508_871f,
        ),
        (
            "read the physical counter",
            || unsafe { core::arch::asm!("mrs x0, cntpct_el0", out("x0") _) },
            Privileged::SystemRegister { read: true, register: encoding(3, 3, 14, 0, 1) },
            0xd53b_e020,
        ),
        (
            "set the kernel's timer deadline",
            || unsafe { core::arch::asm!("msr cntv_cval_el0, xzr") },
            Privileged::SystemRegister { read: false, register: encoding(3, 3, 14, 3, 2) },
            0xd51b_e35f,
        ),
        (
            "read the cycle counter",
            || unsafe { core::arch::asm!("mrs x0, pmccntr_el0", out("x0") _) },
            Privileged::SystemRegister { read: true, register: encoding(3, 3, 9, 13, 0) },
            0xd53b_9d00,
        ),
        (
            "reset the PMU counters",
            || unsafe { core::arch::asm!("msr pmcr_el0, xzr") },
            Privileged::SystemRegister { read: false, register: encoding(3, 3, 9, 12, 0) },
            0xd51b_9c1f,
        ),
        // The debug communications channel (a line to an external debugger):
        // open to EL0 unless MDSCR_EL1.TDCC is set, and QEMU resets it to 0.
        (
            "read the debug channel status",
            || unsafe { core::arch::asm!("mrs x0, mdccsr_el0", out("x0") _) },
            Privileged::SystemRegister { read: true, register: encoding(2, 3, 0, 1, 0) },
            0xd533_0100,
        ),
        (
            "write to the debug channel",
            || unsafe { core::arch::asm!("msr dbgdtrtx_el0, x0", in("x0") 0x41) },
            Privileged::SystemRegister { read: false, register: encoding(2, 3, 0, 5, 0) },
            0xd513_0500,
        ),
        // SYS_EXIT (0x18), ADP_Stopped_ApplicationExit: would stop QEMU if EL0 could make semihosting calls.
        (
            "semihosting exit",
            || unsafe { core::arch::asm!("hlt #0xf000", in("x0") 0x18, in("x1") 0x20026) },
            Privileged::DebugHalt,
            0xd45e_0000,
        ),
    ];
    for (name, f, operation, word) in cases {
        check(name, &|| isolated(name, f), &|got| is_privileged(got, operation, word));
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

const STACK_TOP: u64 = ilusion::mm::user_layout::STACK_TOP;

fn main() {
    common::on_core(CORE, every_fault)
}

fn every_fault() {
    let _watchdog = Builder::new().cpu(CORE).spawn(|| loop {
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
        &|got| is_access(got, kernel_data, FaultAccess::Read),
    );
    check(
        "write another task's stack",
        // SAFETY: not safe at all: this is the fault under test.
        &|| isolated("stomper", move || unsafe { core::ptr::write_volatile(kernel_stack as *mut u64, 1) }),
        &|got| is_access(got, kernel_stack, FaultAccess::Write),
    );
    check(
        "write own code",
        // SAFETY: not safe at all: this is the fault under test.
        &|| isolated("patcher", move || unsafe { core::ptr::write_volatile(code as *mut u32, 0) }),
        &|got| is_access(got, code, FaultAccess::Write),
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
        &|got| is_access(got, stack_top - 64, FaultAccess::Execute),
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
        &|got| is_access(got, 0, FaultAccess::Execute),
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
        &|got| is_access(got, heap_base, FaultAccess::Execute),
    );
    privileged_instructions();
    check(
        "breakpoint",
        // SAFETY: not safe at all: the breakpoint is the fault under test.
        &|| isolated("brk", || unsafe { core::arch::asm!("brk #5") }),
        &|got| matches!(got, Err(TaskFailure::Breakpoint { imm: 5, pc }) if word_at(*pc) == 0xd420_00a0),
    );
    // `ptrue p0.b` and `smstart`: trapped as disabled where the CPU has SVE
    // and SME (-cpu max), undefined (or a processor-state write) where not.
    let has_sve = id_field(false, 32) != 0;
    check(
        "SVE instruction",
        // SAFETY: not safe at all: the fault under test.
        &|| isolated("sve", || unsafe { core::arch::asm!(".inst 0x2518e3e0") }),
        &|got| match got {
            Err(TaskFailure::UnavailableInstruction { extension: Extension::Sve, pc }) => {
                has_sve && word_at(*pc) == 0x2518_e3e0
            }
            Err(TaskFailure::IllegalInstruction { pc }) => !has_sve && word_at(*pc) == 0x2518_e3e0,
            _ => false,
        },
    );
    let has_sme = id_field(true, 24) != 0;
    check(
        "SME instruction",
        // SAFETY: not safe at all: the fault under test.
        &|| isolated("sme", || unsafe { core::arch::asm!(".inst 0xd503477f") }),
        &|got| match got {
            Err(TaskFailure::UnavailableInstruction { extension: Extension::Sme, pc }) => {
                has_sme && word_at(*pc) == 0xd503_477f
            }
            Err(TaskFailure::PrivilegedInstruction { operation: Privileged::ProcessorState { .. }, pc }) => {
                !has_sme && word_at(*pc) == 0xd503_477f
            }
            _ => false,
        },
    );
    ilusion::println!("SVE {has_sve}, SME {has_sme}");
    ilusion::println!("isolated faults ok");
}
