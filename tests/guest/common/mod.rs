//! What every QEMU test image shares: `check` prints `ok NAME` or
//! `FAIL NAME: details` and remembers failures; `finish` exits 0 if all
//! checks passed, 1 otherwise. The host harness (tests/qemu.rs) looks for
//! these lines and the exit status.

#![allow(dead_code)]

extern crate alloc;

pub mod killers;
pub mod watcher;

use core::sync::atomic::{AtomicUsize, Ordering};

static FAILURES: AtomicUsize = AtomicUsize::new(0);

pub fn check(ok: bool, name: &str, details: core::fmt::Arguments) {
    if ok {
        ilusion::println!("ok {name}");
    } else {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        ilusion::println!("FAIL {name}: {details}");
    }
}

pub fn finish() -> ! {
    let failures = FAILURES.load(Ordering::Relaxed);
    ilusion::println!("{}", if failures == 0 { "all checks passed" } else { "SOME CHECKS FAILED" });
    ilusion::exit(if failures == 0 { 0 } else { 1 })
}

/// xorshift64: the next of a deterministic stream of random numbers
/// (`state` must not start at 0).
pub fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Counter ticks to microseconds.
pub fn micros(ticks: u64) -> u64 {
    ticks * 1_000_000 / ilusion::time::frequency()
}

/// Recurses until the stack overflows (the depth is never reached).
#[inline(never)]
pub fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let buf = core::hint::black_box([depth; 64]);
    let deeper = recurse(depth + 1);
    // Use the frame after the call, so the recursion cannot become a loop.
    core::hint::black_box(&buf)[(depth % 64) as usize] + deeper
}

/// The cores a test of several cores needs (issue 12): every core that
/// started must run tasks (`task::cpus_online()` equals the cores up), and
/// there must be at least `min` of them. Prints how many there are; if that
/// is not so, says why and ends the test with exit status 1. Returns the
/// number of cores online.
pub fn require_cores(min: usize) -> usize {
    let online = ilusion::task::cpus_online();
    let up = ilusion::percpu::up_count();
    ilusion::println!("cores: {online} online (running tasks) of {up} up");
    let ok = online == up && online >= min;
    check(
        ok,
        "cores_online",
        format_args!(
            "{online} core(s) online of {up} up: this test needs every core that started to run tasks, and at least {min}"
        ),
    );
    if !ok {
        finish();
    }
    online
}

/// Runs `f` in a task pinned to core `cpu` (at `main`'s priority) and
/// returns what it returned. Tasks run on every core by default; a test of
/// how tasks share *one* core runs its body here and pins the tasks it
/// spawns to the same core, so that what it measures (who runs first, who
/// preempts whom, how soon a sleeper wakes) is decided by that core's
/// scheduler alone, as on a one-core machine.
pub fn on_core<T: Send + 'static>(cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    let task = ilusion::task::Builder::new()
        .name("main, pinned")
        .cpu(cpu)
        .stack_size(MAIN_STACK)
        .spawn(f)
        .expect("spawn the pinned main");
    match task.join() {
        Ok(value) => value,
        Err(failure) => {
            ilusion::println!("the pinned main failed: {failure:?}");
            ilusion::exit(1)
        }
    }
}

/// The stack of [`on_core`]'s task: as big as `main`'s.
const MAIN_STACK: usize = 256 * 1024;

/// What the cores spent on waiting, as counters since boot: spin iterations
/// spent waiting for locks (`lock_stats`) and reschedule IPIs taken, over
/// every core. For the stress tests' round lines (where the time goes).
#[derive(Clone, Copy)]
pub struct Contention {
    pub spins: u64,
    pub ipis: u64,
}

impl Contention {
    pub fn now() -> Self {
        let cores = ilusion::percpu::up_count();
        let ipis = (0..cores).map(|c| ilusion::internals::ipis_received(c, ilusion::irq::Ipi::Reschedule)).sum();
        Self { spins: ilusion::internals::spin_iterations(), ipis }
    }

    /// What was added since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self { spins: self.spins - earlier.spins, ipis: self.ipis - earlier.ipis }
    }
}

impl core::fmt::Display for Contention {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{} lock spins, {} reschedule IPIs", self.spins, self.ipis)
    }
}

/// Whether `counter` (a watchdog or heartbeat another task bumps every
/// millisecond or so) goes past `before` within 2 s. A live counter passes
/// at once; a dead one fails after 2 s. (A fixed wait of a few
/// milliseconds failed when the host stalled QEMU for longer than that:
/// seen in `isolated_faults` and, before, in `kernel_oom`.)
pub fn counter_advances(counter: &core::sync::atomic::AtomicU64, before: u64) -> bool {
    for _ in 0..2000 {
        ilusion::time::sleep(core::time::Duration::from_millis(1));
        if counter.load(Ordering::Relaxed) > before {
            return true;
        }
    }
    false
}

/// The stack pointer, here.
pub fn stack_pointer() -> u64 {
    let sp: u64;
    // SAFETY: reads the stack pointer, nothing else.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp) };
    sp
}

/// Recurses `depth` times with a 512-byte array in each frame; returns the lowest stack pointer seen.
#[inline(never)]
fn dig(depth: u32) -> u64 {
    let buf = core::hint::black_box([depth as u64; 64]);
    let lowest = if depth == 0 { stack_pointer() } else { dig(depth - 1) };
    core::hint::black_box(&buf); // the frame is live across the call: no loop, no tail call
    lowest
}

/// Recurses `depth` times, about a kilobyte of stack each; returns
/// how deep the stack went (from here to the deepest frame), in bytes: the
/// truth a stack high-water mark is checked against.
pub fn dig_and_measure(depth: u32) -> u64 {
    let top = stack_pointer();
    top - dig(depth)
}

/// Takes blocks of every size from the largest down to `smallest` bytes
/// into `hoard` (as many as its capacity holds): the kernel heap is left
/// with less than `smallest` bytes in any one block. For the tests of what
/// a task out of memory does.
pub fn take_blocks_down_to(hoard: &mut alloc::vec::Vec<alloc::vec::Vec<u8>>, smallest: usize) {
    let mut size = 1usize << 40;
    while size >= smallest {
        let mut block = alloc::vec::Vec::new();
        if hoard.len() < hoard.capacity() && block.try_reserve_exact(size).is_ok() {
            hoard.push(block);
        } else {
            size /= 2;
        }
    }
}
