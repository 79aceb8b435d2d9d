//! Host unit tests of the kernel lock and the spin locks (each thread
//! plays a core).

use super::*;
use core::sync::atomic::Ordering;

#[test]
fn a_lock_gives_its_data_and_releases_it() {
    let lock = SpinLock::new("test", 1);
    *lock.lock() += 1;
    assert_eq!(*lock.lock(), 2);
    assert_eq!(lock.name(), "test");
}

#[test]
fn nested_locks_are_tracked_and_released_out_of_order() {
    let a = SpinLock::new("a", ());
    let b = SpinLock::new("b", ());
    let ga = a.lock();
    let gb = b.lock();
    drop(ga);
    drop(gb);
    assert_no_spin_lock_held("the end of the test");
}

#[test]
fn a_lock_held_elsewhere_that_shares_a_name_with_one_held_here_is_waited_for() {
    // The locks of a table's entries share a name: this thread takes
    // `inner` inside `outer` while another holds `inner`.
    let (outer, inner) = (SpinLock::new("entry", 0), SpinLock::new("entry", 0));
    let holding = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut held = inner.lock();
            holding.store(true, Ordering::Release);
            std::thread::sleep(std::time::Duration::from_millis(50));
            *held += 1;
        });
        while !holding.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let mut o = outer.lock();
        *inner.lock() += 1; // found held by the other thread: waits
        *o += 1;
        drop(o);
        other.join().unwrap();
    });
    assert_eq!((*outer.lock(), *inner.lock()), (1, 2));
    assert_no_spin_lock_held("the end of the test");
}

#[test]
#[cfg(any(debug_assertions, feature = "lock-checks"))] // the checks' own record
fn two_locks_of_one_name_released_out_of_order_are_told_apart() {
    let (a, b) = (SpinLock::new("entry", ()), SpinLock::new("entry", ()));
    let ga = a.lock();
    let gb = b.lock();
    drop(ga);
    // `a`, found held now, is another core's (this one gave it back);
    // `b`, still held here, would be taken again.
    checks::acquiring(a.name, a.address(), true);
    checks::released(a.name, a.address());
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        checks::acquiring(b.name, b.address(), true);
    }));
    assert!(again.is_err(), "b, still held here, was not recognised");
    drop(gb);
    assert_no_spin_lock_held("the end of the test");
}

#[test]
fn the_kernel_lock_excludes_other_cores_and_nests_on_its_own() {
    use_kernel_lock();
    static COUNTER: KernelCell<u64> = KernelCell::new(0);
    let threads: std::vec::Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..20_000 {
                    let outer = CriticalSection::new();
                    let inner = CriticalSection::new(); // nested on this "core"
                    let before = COUNTER.with(&inner, |c| *c);
                    std::thread::yield_now();
                    COUNTER.with(&inner, |c| *c = before + 1);
                    drop(inner);
                    drop(outer);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(COUNTER.with(&CriticalSection::new(), |c| *c), 80_000);
}

/// Holds `lock` until another thread is waiting for it; the waiter's
/// spinning must show in the spin count (counted once it gets the lock).
fn a_waiter_spins<G>(take: impl Fn() -> G + Sync) {
    let before = crate::lock_stats::spin_iterations();
    let waiting = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let held = take();
        scope.spawn(|| {
            waiting.store(true, Ordering::Release);
            drop(take());
        });
        while !waiting.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        // Long enough for the waiter to reach the lock on a busy host.
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(held);
    });
    assert!(crate::lock_stats::spin_iterations() > before, "a thread waited for the lock but no spin was counted");
}

#[test]
fn a_spin_lock_waiter_is_counted() {
    let lock = SpinLock::new("counted", ());
    a_waiter_spins(|| lock.lock());
}

#[test]
fn a_kernel_lock_waiter_is_counted() {
    use_kernel_lock();
    a_waiter_spins(CriticalSection::new);
}

#[test]
#[should_panic(expected = "critical section opened inside spin lock 'inner'")]
fn a_critical_section_inside_a_spin_lock_is_named() {
    use_kernel_lock(); // on one core there is no lock to order
    let lock = SpinLock::new("inner", ());
    let _g = lock.lock();
    let _cs = CriticalSection::new();
}

#[test]
#[should_panic(expected = "spin lock 'outer' held at a context switch")]
fn a_lock_held_at_a_switch_is_named() {
    let lock = SpinLock::new("outer", ());
    let _g = lock.lock();
    assert_no_spin_lock_held("a context switch");
}
