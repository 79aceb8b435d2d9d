//! QEMU test: a mutex misused in safe code fails the task that misused
//! it, never the machine.
//!
//! A locked mutex whose guard was forgotten (`mem::forget`) may be moved:
//! out of its `Box`, into an `Arc`. Its holder's list of held mutexes used
//! to be threaded through the mutexes, so it still ran through the old
//! place, reused meanwhile by other data: dropping the moved mutex walked
//! into that data (here a word pointing at itself) and hung every core;
//! the holder's end wrote into it. Now the list keeps addresses in the
//! task's control block and checks what is there before using it; a
//! moved locked mutex can never be locked again (the task trying fails,
//! saying so). A task may hold at most 32 mutexes at once: one more fails it.
//! A task that asks for its own mutex with a timeout waits it out and is
//! refused (with no end to the wait, it fails, as with `lock`). A `lock`
//! that would close a cycle of tasks each waiting for the next one's mutex
//! (two tasks, three) fails the task that would close it, naming the others,
//! instead of hanging them all; the others go on. A cycle with a deadline
//! in it is none: the timed wait ends.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish};
use ilusion::sync::{Mutex, TryLockError};
use ilusion::task::{self, TaskFailure};
use ilusion::time::{Duration, Instant};

ilusion::entry!(main);

/// Words the size of a `Mutex<u64>`, each the block's own address: a
/// "next" pointer read there leads back to the same place, for ever.
fn self_pointing_block() -> Vec<usize> {
    let words = core::mem::size_of::<Mutex<u64>>() / 8;
    let mut junk: Vec<usize> = Vec::with_capacity(words);
    let place = junk.as_ptr() as usize;
    junk.resize(words, place);
    junk
}

/// A `Mutex<u64>` locked by the calling task, its guard forgotten, moved
/// out of its `Box` (whose block is freed), and the block it was locked
/// in, reused by [`self_pointing_block`] (the heap hands the block just
/// freed to the next request of its size).
fn locked_then_moved() -> (Mutex<u64>, Vec<usize>, bool) {
    let boxed = Box::new(Mutex::new(7u64));
    core::mem::forget(boxed.lock().unwrap());
    let old = &*boxed as *const Mutex<u64> as usize;
    let moved: Mutex<u64> = {
        let b = boxed;
        *b
    };
    let junk = self_pointing_block();
    let reused = junk.as_ptr() as usize == old;
    (moved, junk, reused)
}

fn main() {
    // Dropped by its holder after the move: comes off the holder's list
    // by its old place, which is not looked into. (Hung every core before.)
    let dropped = task::spawn(|| {
        let (moved, junk, reused) = locked_then_moved();
        drop(core::hint::black_box(moved));
        let untouched = junk.iter().all(|&w| w == junk.as_ptr() as usize);
        (reused, untouched)
    })
    .join();
    check(dropped == Ok((true, true)), "moved_locked_mutex_dropped", format_args!("{dropped:?}"));

    // The holder ends with the moved mutex leaked: its end releases what
    // its list names, and leaves the old place's new data alone.
    let ended = task::spawn(|| {
        let (moved, junk, reused) = locked_then_moved();
        core::mem::forget(moved);
        (junk, reused)
    })
    .join();
    let untouched = match &ended {
        Ok((junk, reused)) => *reused && junk.iter().all(|&w| w == junk.as_ptr() as usize),
        Err(_) => false,
    };
    check(untouched, "moved_locked_mutex_holder_ends", format_args!("{ended:?}"));

    // Shared after the move, then locked by another task once its holder
    // has ended: that task fails, saying why (its holder is gone: nothing
    // of it may be looked at), and the next task still runs.
    let shared = task::spawn(|| {
        let (moved, junk, _) = locked_then_moved();
        drop(junk);
        Arc::new(moved)
    })
    .join()
    .unwrap();
    let s = shared.clone();
    let locker = task::spawn(move || *s.lock().unwrap_or_else(|e| e.into_inner())).join();
    let refused = matches!(&locker, Err(TaskFailure::Panic { message }) if message.contains("moved while locked"));
    let tried = shared.try_lock().is_err();
    check(refused && tried, "moved_locked_mutex_lock_refused", format_args!("{locker:?}"));

    // 32 mutexes held at once are fine; a 33rd lock fails the task, saying so.
    let held = |n: usize| {
        task::spawn(move || {
            let mutexes: Vec<Mutex<usize>> = (0..n).map(Mutex::new).collect();
            let guards: Vec<_> = mutexes.iter().map(|m| m.lock().unwrap()).collect();
            guards.iter().map(|g| **g).sum::<usize>()
        })
        .join()
    };
    let (most, one_more) = (held(32), held(33));
    let limit =
        matches!(&one_more, Err(TaskFailure::Panic { message }) if message.contains("holds 32 mutexes already"));
    check(most == Ok(496) && limit, "held_mutexes_limit", format_args!("{most:?} {one_more:?}"));

    // Its own mutex, asked for again with a timeout: it cannot come free
    // while the task waits, so the task waits the timeout out and is
    // refused, still holding it; with no end to the wait (Duration::MAX)
    // it fails, as a plain lock does.
    let own = task::spawn(|| {
        let m = Mutex::new(5u32);
        let guard = m.lock().unwrap();
        let start = Instant::now();
        let again = m.lock_timeout(Duration::from_millis(20)).map(|g| *g);
        let waited = start.elapsed();
        (matches!(again, Err(TryLockError::WouldBlock)), waited >= Duration::from_millis(20), *guard)
    })
    .join();
    let forever = task::spawn(|| {
        let m = Mutex::new(0u32);
        let _guard = m.lock().unwrap();
        let again = m.lock_timeout(Duration::MAX).is_ok();
        again
    })
    .join();
    let panicked =
        matches!(&forever, Err(TaskFailure::Panic { message }) if message.contains("holds the mutex already"));
    check(own == Ok((true, true, 5)) && panicked, "own_mutex_with_timeout", format_args!("{own:?} {forever:?}"));

    for n in [2, 3] {
        let (ends, ids) = cycle_of(n);
        let last = &ends[n - 1];
        let named = match last {
            Err(TaskFailure::Panic { message }) => {
                ids[..n - 1].iter().all(|id| message.contains(&alloc::format!(" #{id},")))
            }
            _ => false,
        };
        // The last one's mutex comes to the one before it, poisoned; the rest get theirs as usual.
        let others_go_on = ends[..n - 1].iter().enumerate().all(|(i, end)| *end == Ok(i == n - 2));
        ilusion::println!("cycle of {n}: {ends:?}");
        check(
            named && others_go_on,
            &alloc::format!("deadlock_cycle_of_{n}_refused"),
            format_args!("{ends:?} {ids:?}"),
        );
    }
    // With a deadline on the chain there is no deadlock: the timed wait
    // ends, its task lets its mutex go, and the other gets it.
    let (ends, _) = cycle_with_deadline();
    check(ends == [Ok(false), Ok(false)], "deadline_in_the_chain_is_no_deadlock", format_args!("{ends:?}"));
    finish();
}

/// `n` tasks in a cycle: task `i` locks mutex `i`, then, once every task
/// holds its own, mutex `i + 1` (the last one mutex 0, after all the others
/// wait: it would close the cycle). Each returns whether the second mutex
/// came poisoned. Returns their ends and ids.
fn cycle_of(n: usize) -> (Vec<Result<bool, TaskFailure>>, Vec<u64>) {
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let mutexes: Arc<Vec<Mutex<()>>> = Arc::new((0..n).map(|_| Mutex::new(())).collect());
    let holding = Arc::new(AtomicUsize::new(0));
    let ids: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (mutexes, holding, all_ids) = (mutexes.clone(), holding.clone(), ids.clone());
            let t = task::spawn(move || {
                let mine = mutexes[i].lock().unwrap();
                holding.fetch_add(1, Ordering::SeqCst);
                while holding.load(Ordering::SeqCst) < n {
                    ilusion::time::sleep(Duration::from_millis(1));
                }
                if i == n - 1 {
                    let waiting = |id: u64| task::stats(id).is_some_and(|t| t.state == task::TaskState::Blocked);
                    while !all_ids[..n - 1].iter().all(|id| waiting(id.load(Ordering::SeqCst))) {
                        ilusion::time::sleep(Duration::from_millis(1));
                    }
                }
                let next = mutexes[(i + 1) % n].lock();
                let poisoned = next.is_err();
                drop(next);
                drop(mine);
                poisoned
            });
            ids[i].store(t.task().id(), Ordering::SeqCst);
            t
        })
        .collect();
    let ids = ids.iter().map(|id| id.load(Ordering::SeqCst)).collect();
    (tasks.into_iter().map(|t| t.join()).collect(), ids)
}

/// Two tasks in a cycle, the first waiting with a deadline (20 ms).
fn cycle_with_deadline() -> (Vec<Result<bool, TaskFailure>>, ()) {
    use core::sync::atomic::{AtomicU64, Ordering};
    let mutexes: Arc<[Mutex<()>; 2]> = Arc::new([Mutex::new(()), Mutex::new(())]);
    let first = Arc::new(AtomicU64::new(0));
    let (m, f) = (mutexes.clone(), first.clone());
    let a = task::spawn(move || {
        let _mine = m[0].lock().unwrap();
        while f.load(Ordering::SeqCst) == 0 {
            ilusion::time::sleep(Duration::from_millis(1));
        }
        // Refused after 20 ms: the other holds it and waits for ours.
        m[1].lock_timeout(Duration::from_millis(20)).is_ok()
    });
    let a_id = a.task().id();
    let m = mutexes.clone();
    let b = task::spawn(move || {
        let _mine = m[1].lock().unwrap();
        first.store(1, Ordering::SeqCst);
        while !task::stats(a_id)
            .is_some_and(|t| t.state != task::TaskState::Running && t.state != task::TaskState::Ready)
        {
            ilusion::time::sleep(Duration::from_millis(1));
        }
        m[0].lock().is_err()
    });
    (alloc::vec![a.join(), b.join()], ())
}
