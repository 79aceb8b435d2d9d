//! The bookkeeping behind the checks: the names of the locks this core
//! holds, innermost last. Touched only with interrupts masked.
//! (Only in the builds that check locks: debug builds and the
//! `lock-checks` feature.)

use super::masking::interrupts_enabled;
use core::cell::UnsafeCell;

const MAX_NESTED: usize = 8;

/// The locks this core holds, innermost last: each one's name (for
/// the reports) and address (which lock it is: names may repeat).
struct Held {
    names: [&'static str; MAX_NESTED],
    locks: [usize; MAX_NESTED],
    depth: usize,
}

struct HeldCell(UnsafeCell<Held>);
// SAFETY: each core touches only its own record (indexed by its number),
// and only with interrupts masked (inside a `SpinLock`'s critical
// section or an exception handler), so no two contexts touch one at once.
unsafe impl Sync for HeldCell {}

const NONE_HELD: Held = Held { names: [""; MAX_NESTED], locks: [0; MAX_NESTED], depth: 0 };

/// One record per core: a lock held on one core says nothing of another.
#[cfg(not(test))]
static HELD: crate::percpu::PerCpu<HeldCell> =
    crate::percpu::PerCpu::new([const { HeldCell(UnsafeCell::new(NONE_HELD)) }; crate::percpu::MAX_CPUS]);

#[cfg(not(test))]
fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
    let mine = HELD.of(crate::percpu::cpu_index());
    // SAFETY: see `HeldCell`: this core's own record, with interrupts
    // masked by our callers, so this borrow is the only one, and it ends
    // with the call.
    f(unsafe { &mut *mine.0.get() })
}

// Host unit tests run on many threads: each has its own record.
#[cfg(test)]
std::thread_local! { static HELD: HeldCell = const { HeldCell(UnsafeCell::new(NONE_HELD)) }; }

#[cfg(test)]
fn with_held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
    // SAFETY: this thread's own record, borrowed once for the call.
    HELD.with(|h| f(unsafe { &mut *h.0.get() }))
}

/// Records the lock `name` at `lock` (its address) as held, or panics
/// with the reason it cannot be. `locked`: found held, by this core if
/// this core's record has it (a lock found held that merely shares a
/// name with one this core holds is another core's: it is waited for).
pub fn acquiring(name: &'static str, lock: usize, locked: bool) {
    let problem = with_held(|h| {
        let problem = if locked && h.locks[..h.depth].contains(&lock) {
            Some(super::TAKEN_AGAIN)
        } else if h.depth == MAX_NESTED {
            Some("nested inside too many other spin locks")
        } else {
            h.names[h.depth] = name;
            h.locks[h.depth] = lock;
            h.depth += 1;
            None
        };
        if problem.is_some() {
            h.depth = 0;
        }
        problem
    });
    if let Some(problem) = problem {
        panic!("spin lock '{name}' {problem}");
    }
}

/// Forgets the lock `name` at `lock` (guards may drop out of order:
/// wherever it is).
pub fn released(name: &'static str, lock: usize) {
    let unmasked = interrupts_enabled();
    with_held(|h| {
        if unmasked {
            h.depth = 0;
        } else if let Some(i) = h.locks[..h.depth].iter().rposition(|l| *l == lock) {
            h.names.copy_within(i + 1..h.depth, i);
            h.locks.copy_within(i + 1..h.depth, i);
            h.depth -= 1;
        }
    });
    if unmasked {
        panic!("interrupts were unmasked while spin lock '{name}' was held");
    }
}

/// The kernel lock comes before every spin lock: none may be held here.
pub fn entering_kernel_lock() {
    let held = with_held(|h| h.depth.checked_sub(1).map(|i| h.names[i]));
    if let Some(name) = held {
        with_held(|h| h.depth = 0);
        panic!("critical section opened inside spin lock '{name}' (spin locks come after the kernel lock)");
    }
}

pub fn assert_none_held(what: &str) {
    let held = with_held(|h| {
        let innermost = h.depth.checked_sub(1).map(|i| h.names[i]);
        h.depth = 0;
        innermost
    });
    if let Some(name) = held {
        panic!("spin lock '{name}' held at {what}");
    }
}
