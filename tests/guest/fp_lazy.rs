//! QEMU test: the lazy FP/SIMD switch (src/arch/aarch64/fp.rs) keeps every
//! task's vector registers its own, whoever else uses them meanwhile.
//!
//! - Ten kernel tasks and four isolated tasks each fill q0-q31, FPCR and
//!   FPSR with their own pattern and hold them (in assembly, so no compiler
//!   code touches them) for 40 ms of counter time, over several time slices
//!   (five of them share core 0, so they are preempted; the others may
//!   resume on other cores), while a periodic interrupt handler computes
//!   with floating point (it borrows the registers). Every register must
//!   come back exactly.
//! - Across `yield_now` (a function call), d8-d15 must survive, as the
//!   calling convention says.
//! - A new task, kernel or isolated, starts with every FP/SIMD register,
//!   FPCR and FPSR zero, never with another task's values.
//! - A task's FPCR is its own: an interrupt handler that borrows the
//!   registers from an isolated task which rounds toward zero and flushes
//!   subnormals to zero computes with the default modes (round to nearest,
//!   subnormals kept), not the task's.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::task::{self, Builder, JoinHandle, Priority, TaskState};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// What `fp_hold` stores: q0-q31, then FPCR and FPSR.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct FpDump {
    q: [u128; 32],
    fpcr: u64,
    fpsr: u64,
}

impl FpDump {
    /// What the registers hold now (written by assembly only: no compiler
    /// code touches FP/SIMD registers between the call and the dump).
    fn now() -> Self {
        let mut dump = MaybeUninit::<FpDump>::uninit();
        // SAFETY: `fp_dump` writes a whole FpDump.
        unsafe {
            fp_dump(dump.as_mut_ptr());
            dump.assume_init()
        }
    }

    fn is_zero(&self) -> bool {
        self.q.iter().all(|&q| q == 0) && self.fpcr == 0 && self.fpsr == 0
    }
}

core::arch::global_asm!(
    r#"
.macro FP_STORE                     // q0-q31, FPCR, FPSR to [x3]
    stp     q0, q1, [x3], #32
    stp     q2, q3, [x3], #32
    stp     q4, q5, [x3], #32
    stp     q6, q7, [x3], #32
    stp     q8, q9, [x3], #32
    stp     q10, q11, [x3], #32
    stp     q12, q13, [x3], #32
    stp     q14, q15, [x3], #32
    stp     q16, q17, [x3], #32
    stp     q18, q19, [x3], #32
    stp     q20, q21, [x3], #32
    stp     q22, q23, [x3], #32
    stp     q24, q25, [x3], #32
    stp     q26, q27, [x3], #32
    stp     q28, q29, [x3], #32
    stp     q30, q31, [x3], #32
    mrs     x9, fpcr
    mrs     x10, fpsr
    stp     x9, x10, [x3]
.endm

.section .text.fp_hold, "ax"
// fp_fill(seed: x0): v_n = {{seed + n, ~(seed + n)}}; changes x9, x10 only.
fp_fill:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x9, x0, #\n
    mvn     x10, x9
    fmov    d\n, x9
    mov     v\n\().d[1], x10
    .endr
    ret

.global fp_hold
// fp_hold(seed: x0, fpcr_fpsr: x1 (FPCR in the low half, FPSR in the
// high), until: x2 (counter value), out: x3): fill, wait, store.
fp_hold:
    mov     x11, x30
    bl      fp_fill
    mov     x30, x11
    msr     fpcr, x1
    lsr     x9, x1, #32
    msr     fpsr, x9
1:  mrs     x9, cntvct_el0
    cmp     x9, x2
    b.lo    1b
    FP_STORE
    ret

.global fp_dump
// fp_dump(out: x0): stores what the registers hold now.
fp_dump:
    mov     x3, x0
    FP_STORE
    ret

.global fp_yield_hold
// fp_yield_hold(seed: x0, rounds: x1) -> x0 = how many of d8-d15 came back
// wrong after `rounds` calls of fp_test_yield (whose code may change every
// other FP/SIMD register, as the calling convention allows).
fp_yield_hold:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    mov     x19, x0
    mov     x20, x1
    bl      fp_fill
1:  bl      fp_test_yield
    subs    x20, x20, #1
    b.ne    1b
    mov     x0, xzr
    .irp n, 8,9,10,11,12,13,14,15
    fmov    x9, d\n
    add     x10, x19, #\n
    cmp     x9, x10
    cinc    x0, x0, ne
    .endr
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret
"#
);

extern "C" {
    fn fp_hold(seed: u64, fpcr_fpsr: u64, until: u64, out: *mut FpDump);
    fn fp_dump(out: *mut FpDump);
    fn fp_yield_hold(seed: u64, rounds: u64) -> u64;
}

#[no_mangle]
extern "C" fn fp_test_yield() {
    task::yield_now();
}

/// FPCR bits QEMU keeps (RMode, FZ, DN, AHP) and FPSR's cumulative flags.
fn control_bits(seed: u64) -> u64 {
    let fpcr = ((seed & 3) << 22) | (((seed >> 2) & 1) << 24) | (1 << 25);
    let fpsr = 1 << (seed % 5);
    fpcr | fpsr << 32
}

/// The pattern `seed` fills, held for `hold` of counter time; the number
/// of registers that came back wrong.
fn hold_and_check(seed: u64, hold: Duration) -> u32 {
    let until = (Instant::now() + hold).ticks();
    let mut dump = MaybeUninit::<FpDump>::uninit();
    // SAFETY: `fp_hold` writes a whole FpDump and changes only caller-saved
    // registers and FP/SIMD state (which it sets itself).
    let dump = unsafe {
        fp_hold(seed, control_bits(seed), until, dump.as_mut_ptr());
        dump.assume_init()
    };
    let bits = control_bits(seed);
    let mut wrong = 0;
    for (n, &q) in dump.q.iter().enumerate() {
        let low = seed + n as u64;
        if q != (low as u128 | ((!low as u128) << 64)) {
            wrong += 1;
        }
    }
    wrong += u32::from(dump.fpcr != bits & 0xffff_ffff) + u32::from(dump.fpsr != bits >> 32);
    wrong
}

static HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);
static HANDLER_WRONG: AtomicU64 = AtomicU64::new(0);

/// A periodic interrupt handler that computes with floating point: it
/// borrows the registers of whatever task it interrupted.
fn float_handler() {
    let runs = HANDLER_RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    let x = core::hint::black_box(runs as f64);
    let y = core::hint::black_box((x * 0.5 + 0.25) * 4.0 - 1.0); // = 2x
    if y != 2.0 * runs as f64 {
        HANDLER_WRONG.fetch_add(1, Ordering::Relaxed);
    }
}

static MODES_RUNS: AtomicU64 = AtomicU64::new(0);
static MODES_WRONG: AtomicU64 = AtomicU64::new(0);

/// The seed of a task that rounds toward zero and flushes subnormals to
/// zero ([`control_bits`]: RMode 0b11, FZ).
const HOSTILE_MODES: u64 = 0x400_0007;

/// A periodic interrupt handler whose results depend on the rounding mode
/// (1/10 rounds up to nearest) and on flushing (2^-1024 is subnormal).
fn modes_handler() {
    MODES_RUNS.fetch_add(1, Ordering::Relaxed);
    let tenth = core::hint::black_box(1.0f64) / core::hint::black_box(10.0f64);
    let tiny = core::hint::black_box(f64::MIN_POSITIVE) / core::hint::black_box(4.0f64);
    if tenth.to_bits() != 0x3fb9_9999_9999_999a || tiny.to_bits() != 0x0004_0000_0000_0000 {
        MODES_WRONG.fetch_add(1, Ordering::Relaxed);
    }
}

/// An isolated task with hostile FP modes holds the registers at EL0 on
/// core 0 for 40 ms while [`modes_handler`] interrupts it there every
/// millisecond; returns (handler runs, handler results wrong, task's
/// registers wrong). Runs on core 0 (the periodic handler runs on the core
/// that set it).
fn handler_modes_are_not_the_tasks() -> (u64, u64, u32) {
    time::set_periodic(Duration::from_millis(1), modes_handler).expect("a 1 ms period");
    // Held 40 ms at a time until the handler has run 20 times under it (at
    // most 25 rounds): a loaded host may leave QEMU's core so slow that
    // the 1 ms handler overruns its periods (the kernel skips them).
    let mut wrong = 0;
    for _ in 0..25 {
        let holder =
            Builder::new().cpu(0).spawn_isolated(|| hold_and_check(HOSTILE_MODES, Duration::from_millis(40))).unwrap();
        wrong += holder.join().expect("the hostile holder failed");
        if MODES_RUNS.load(Ordering::Relaxed) >= 20 {
            break;
        }
    }
    time::stop_periodic();
    (MODES_RUNS.load(Ordering::Relaxed), MODES_WRONG.load(Ordering::Relaxed), wrong)
}

fn fresh_kernel_task_is_zero() -> bool {
    // Leave a pattern in this task's registers first: a leak would show it.
    let _ = hold_and_check(0x1234, Duration::from_micros(1));
    task::spawn(|| FpDump::now().is_zero()).join().unwrap_or(false)
}

fn fresh_isolated_task_is_zero() -> bool {
    let _ = hold_and_check(0x5678, Duration::from_micros(1));
    let task = Builder::new().spawn_isolated(|| u32::from(FpDump::now().is_zero()));
    matches!(task.map(|t| t.join()), Ok(Ok(1)))
}

fn spawn_holders(round: u64, hold: Duration) -> (Vec<JoinHandle<u32>>, Vec<JoinHandle<u32>>) {
    let kernel: Vec<_> = (0..10u64)
        .map(|i| {
            let seed = (round << 40) | (i << 8) | 0x100_0000;
            // Half of them on core 0, which must slice its time among
            // them; the others anywhere (resumed on any core).
            let cpus = if i % 2 == 0 { 1 } else { ilusion::percpu::ALL_CPUS };
            Builder::new()
                .priority(Priority::Preemptive(1))
                .cpus(cpus)
                .spawn(move || hold_and_check(seed, hold))
                .unwrap()
        })
        .collect();
    let isolated: Vec<_> = (0..4u64)
        .map(|i| {
            let seed = (round << 40) | (i << 8) | 0x200_0000;
            Builder::new().priority(Priority::Preemptive(1)).spawn_isolated(move || hold_and_check(seed, hold)).unwrap()
        })
        .collect();
    (kernel, isolated)
}

fn main() {
    let fresh_kernel = fresh_kernel_task_is_zero();
    let fresh_isolated = fresh_isolated_task_is_zero();
    ilusion::println!("a new task starts with zeros: kernel {fresh_kernel}, isolated {fresh_isolated}");

    time::set_periodic(Duration::from_millis(1), float_handler).expect("a 1 ms period");
    let hold = Duration::from_millis(40);
    let mut wrong = 0u64;
    let mut preempted = 0u64;
    // Three rounds, more (at most 25) until the handler has run 20 times: a
    // loaded host may slow QEMU's cores until the 1 ms handler overruns.
    for round in 0..25u64 {
        if round >= 3 && HANDLER_RUNS.load(Ordering::Relaxed) >= 20 {
            break;
        }
        // Spawned from a cooperative task, which the more urgent holders
        // do not preempt: all of them are ready before any runs.
        let (kernel, isolated) = Builder::new()
            .priority(Priority::Cooperative(0))
            .spawn(move || spawn_holders(round, hold))
            .unwrap()
            .join()
            .unwrap();
        // Switched away from while holding: once they have all ended.
        while kernel.iter().any(|t| t.stats().state != TaskState::Ended) {
            time::sleep(Duration::from_millis(5));
        }
        preempted += kernel.iter().map(|t| t.stats().preempted).sum::<u64>();
        for t in kernel {
            wrong += u64::from(t.join().expect("a holder failed"));
        }
        for t in isolated {
            wrong += u64::from(t.join().expect("an isolated holder failed"));
        }
    }
    time::stop_periodic();
    let runs = HANDLER_RUNS.load(Ordering::Relaxed);
    let handler_wrong = HANDLER_WRONG.load(Ordering::Relaxed);
    ilusion::println!(
        "held over preemption: {wrong} registers wrong, preempted {}",
        if preempted > 0 { "yes" } else { "no" }
    );
    ilusion::println!(
        "float handler: {} runs, {handler_wrong} wrong",
        if runs >= 20 { "20 or more" } else { "too few" }
    );

    let yielders: Vec<_> = (0..3u64)
        .map(|i| {
            Builder::new()
                .priority(Priority::Cooperative(1))
                .cpus(1)
                // SAFETY: fp_yield_hold follows the calling convention.
                .spawn(move || unsafe { fp_yield_hold(0x300_0000 + (i << 8), 500) })
                .unwrap()
        })
        .collect();
    let yield_wrong: u64 = yielders.into_iter().map(|t| t.join().unwrap()).sum();
    ilusion::println!("d8-d15 across 500 yields: {yield_wrong} wrong");

    let (modes_runs, modes_wrong, hostile_wrong) =
        Builder::new().cpu(0).spawn(handler_modes_are_not_the_tasks).unwrap().join().unwrap();
    ilusion::println!(
        "handler under a task rounding toward zero: {} runs, {modes_wrong} wrong; task's registers: {hostile_wrong} wrong",
        if modes_runs >= 20 { "20 or more" } else { "too few" }
    );

    let ok = fresh_kernel
        && fresh_isolated
        && wrong == 0
        && preempted > 0
        && runs >= 20
        && handler_wrong == 0
        && yield_wrong == 0
        && modes_runs >= 20
        && modes_wrong == 0
        && hostile_wrong == 0;
    ilusion::println!("{}", if ok { "lazy FP/SIMD ok" } else { "lazy FP/SIMD FAILED" });
    ilusion::exit(if ok { 0 } else { 1 });
}
