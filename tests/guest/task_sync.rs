//! QEMU test: blocking synchronization. Mutex contention and the classic
//! three-task priority inversion (resolved by inheritance, the loan ending at
//! the unlock), semaphores (equal waiters served in order) and
//! condition variables with timeouts, channels: order, timeouts,
//! disconnection both ways, bounded and rendezvous channels.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish};
use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::sync::mpsc::{self, RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use ilusion::sync::{Condvar, Mutex, Semaphore};
use ilusion::task::{self, Builder, Priority};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

fn main() {
    forgotten_guard_then_drop();
    mutex_counts_under_contention();
    // The order it checks is one core's to decide: its tasks share core 0.
    common::on_core(0, priority_inversion_is_resolved);
    semaphore_and_timeouts();
    condvar_and_timeouts();
    channels();
    finish();
}

/// A mutex dropped while locked (its guard forgotten) leaves its owner's
/// list of held mutexes: a new mutex in the same heap block, locked and
/// unlocked, then the task's end, find a list that names only live
/// mutexes. Before, the list still named the freed block: the new mutex
/// linked to itself, and the task's end went round that loop for ever.
fn forgotten_guard_then_drop() {
    let reused = task::spawn(|| {
        let first = alloc::boxed::Box::new(Mutex::new(1u64));
        core::mem::forget(first.lock().unwrap());
        let place = &*first as *const Mutex<u64> as usize;
        drop(first);
        let second = alloc::boxed::Box::new(Mutex::new(2u64));
        let reused = &*second as *const Mutex<u64> as usize == place;
        *second.lock().unwrap() += 1;
        let value = *second.lock().unwrap();
        reused && value == 3
    })
    .join();
    check(reused == Ok(true), "mutex_dropped_with_guard_forgotten", format_args!("{reused:?}"));

    // Dropped by another task while its holder keeps it (guard forgotten):
    // the dropping task fails, the mutex is left in place (leaked), and
    // the holder's end releases it as usual.
    let shared = Arc::new(Mutex::new(0u32));
    let (for_holder, for_dropper) = (shared.clone(), shared);
    let holding = Arc::new(AtomicBool::new(false));
    let h = holding.clone();
    let holder = task::spawn(move || {
        core::mem::forget(for_holder.lock().unwrap());
        drop(for_holder); // not the last reference
        h.store(true, Ordering::Release);
        task::park(); // until the dropper has failed
    });
    wait_for(&holding); // the holder holds it
    let dropper = task::spawn(move || drop(for_dropper)).join();
    holder.unpark();
    let held = holder.join();
    let refused = matches!(&dropper, Err(task::TaskFailure::Panic { message }) if message.contains("dropped while another task holds it"));
    check(refused && held == Ok(()), "mutex_dropped_by_another_task_refused", format_args!("{dropper:?} {held:?}"));
}

/// Sleeps a millisecond at a time until `flag` is set (by a task that
/// needs this one to sleep to run: on the same core, or on a busy host,
/// where a fixed sleep could end before it had its turn).
fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        time::sleep(Duration::from_millis(1));
    }
}

fn mutex_counts_under_contention() {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let c = counter.clone();
            Builder::new()
                .priority(Priority::Preemptive(16 + i))
                .spawn(move || {
                    for n in 0..2000 {
                        let mut g = c.lock().unwrap();
                        let v = *g;
                        if n % 100 == 0 {
                            task::yield_now(); // hold the lock across a switch
                        }
                        *g = v + 1;
                    }
                })
                .unwrap()
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let total = *counter.lock().unwrap();
    check(total == 8000, "mutex_contention", format_args!("{total}"));
}

/// Low takes the lock; High waits for it; Medium, ready at the same time,
/// would keep Low (and so High) off the processor for 50 ms. With
/// inheritance Low runs at High's urgency, so High gets the lock first.
/// All on one core (the caller's, pinned): on several, Medium would get a
/// core of its own, and Low might not yet hold the lock when High asks.
fn priority_inversion_is_resolved() {
    let lock = Arc::new(Mutex::new(()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l, lg) = (lock.clone(), log.clone());
    let has_locked = Arc::new(AtomicBool::new(false));
    let locked = has_locked.clone();
    let low = Builder::new()
        .name("low")
        .priority(Priority::Preemptive(20))
        .cpu(0)
        .spawn(move || {
            let g = l.lock().unwrap();
            locked.store(true, Ordering::Release);
            time::busy_wait(Duration::from_millis(10));
            lg.lock().unwrap().push("low");
            // The loan ends with the unlock: high, then medium, run before it goes on.
            drop(g);
            time::busy_wait(Duration::from_millis(10));
            lg.lock().unwrap().push("low after unlock");
        })
        .unwrap();
    wait_for(&has_locked); // low now holds the lock
    let (l, lg, lg2) = (lock.clone(), log.clone(), log.clone());
    let (high, medium) = Builder::new()
        .priority(Priority::Cooperative(0))
        .cpu(0)
        .spawn(move || {
            // Cooperative: neither runs until we block in `join`.
            let high = Builder::new()
                .name("high")
                .priority(Priority::Preemptive(2))
                .cpu(0)
                .spawn(move || {
                    let _g = l.lock().unwrap();
                    lg.lock().unwrap().push("high");
                })
                .unwrap();
            let medium = Builder::new()
                .name("medium")
                .priority(Priority::Preemptive(10))
                .cpu(0)
                .spawn(move || {
                    time::busy_wait(Duration::from_millis(50));
                    lg2.lock().unwrap().push("medium");
                })
                .unwrap();
            (high, medium)
        })
        .unwrap()
        .join()
        .unwrap();
    high.join().unwrap();
    medium.join().unwrap();
    low.join().unwrap();
    let order = log.lock().unwrap().clone();
    check(order == ["low", "high", "medium", "low after unlock"], "priority_inheritance", format_args!("{order:?}"));
}

fn semaphore_and_timeouts() {
    let sem = Arc::new(Semaphore::new(0));
    check(!sem.try_acquire(), "semaphore_try_empty", format_args!(""));
    let start = Instant::now();
    let got = sem.acquire_timeout(Duration::from_millis(5));
    let waited = start.elapsed();
    check(!got && waited >= Duration::from_millis(5), "semaphore_timeout", format_args!("{got} after {waited:?}"));
    let s = sem.clone();
    let waiter = task::spawn(move || s.acquire_timeout(Duration::from_secs(5)));
    time::sleep(Duration::from_millis(1));
    sem.release();
    check(waiter.join() == Ok(true), "semaphore_release_wakes", format_args!(""));
    sem.release();
    sem.release();
    check(sem.available() == 2 && sem.try_acquire(), "semaphore_counts", format_args!("{}", sem.available()));
    let left = sem.available();
    check(left == 1, "semaphore_try_acquire_takes_one", format_args!("{left} free after taking one of 2"));

    // Equal waiters get the permits in the order they came (FIFO among equals).
    let gate = Arc::new(Semaphore::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let waiters: Vec<_> = (1..=3u32)
        .map(|digit| {
            let (g, o) = (gate.clone(), order.clone());
            let waiter = task::spawn(move || {
                g.acquire();
                o.lock().unwrap().push(digit);
            });
            // Until it waits: the next one then queues behind it.
            let id = waiter.task().id();
            while task::stats(id).is_none_or(|s| s.state != task::TaskState::Blocked) {
                time::sleep(Duration::from_millis(1));
            }
            waiter
        })
        .collect();
    for woken in 1..=3 {
        gate.release();
        while order.lock().unwrap().len() < woken {
            time::sleep(Duration::from_millis(1));
        }
    }
    for waiter in waiters {
        waiter.join().unwrap();
    }
    let order = order.lock().unwrap().clone();
    check(order == [1, 2, 3], "semaphore_equal_waiters_in_order", format_args!("woken in the order {order:?}"));

    // One release too many fails the releasing task, and the count stays
    // (it wrapped to 0 before: every permit lost, the task went on).
    let full = Arc::new(Semaphore::new(usize::MAX));
    let f = full.clone();
    let releaser = task::spawn(move || f.release()).join();
    let refused =
        matches!(&releaser, Err(task::TaskFailure::Panic { message }) if message.contains("usize::MAX permits"));
    check(
        refused && full.available() == usize::MAX,
        "semaphore_release_past_max_refused",
        format_args!("{releaser:?}, {} free", full.available()),
    );

    // A task given its own handle that joins it fails, saying why (it waited
    // for its own end for ever before).
    let (tx, rx) = mpsc::channel::<task::JoinHandle<()>>();
    let selfish = task::spawn(move || {
        let me = rx.recv().unwrap();
        let _ = me.join();
    });
    let id = selfish.task().id();
    tx.send(selfish).unwrap();
    // It ends, its failure reported on the console. (Its own handle, which
    // a panic does not drop, keeps its block: it stays in the list, ended.)
    let ended = |s: Option<task::TaskInfo>| s.is_none_or(|s| s.state == task::TaskState::Ended);
    let mut waited = 0;
    while !ended(task::stats(id)) && waited < 100 {
        time::sleep(Duration::from_millis(1));
        waited += 1;
    }
    let state = task::stats(id).map(|s| s.state);
    check(ended(task::stats(id)), "join_itself_fails", format_args!("task {id}: {state:?}"));
}

fn condvar_and_timeouts() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let notifier = task::spawn(move || {
        time::sleep(Duration::from_millis(2));
        *p.0.lock().unwrap() = true;
        p.1.notify_one();
    });
    let guard = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
    check(*guard, "condvar_wait_while", format_args!(""));
    drop(guard);
    notifier.join().unwrap();
    let (guard, result) = pair.1.wait_timeout(pair.0.lock().unwrap(), Duration::from_millis(3)).unwrap();
    check(result.timed_out() && *guard, "condvar_timeout", format_args!("{}", result.timed_out()));
}

fn channels() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let a = task::spawn(move || (0..100).for_each(|i| tx.send((0, i)).unwrap()));
    let b = task::spawn(move || (0..100).for_each(|i| tx2.send((1, i)).unwrap()));
    let mut next = [0; 2];
    let mut in_order = true;
    for (who, i) in rx.iter() {
        in_order &= next[who] == i;
        next[who] += 1;
    }
    a.join().unwrap();
    b.join().unwrap();
    check(in_order && next == [100, 100], "channel_order_and_disconnect", format_args!("{next:?}"));
    check(rx.recv() == Err(RecvError), "recv_after_disconnect", format_args!(""));

    let (tx, rx) = mpsc::channel::<u32>();
    check(rx.try_recv() == Err(TryRecvError::Empty), "try_recv_empty", format_args!(""));
    let start = Instant::now();
    let r = rx.recv_timeout(Duration::from_millis(4));
    check(
        r == Err(RecvTimeoutError::Timeout) && start.elapsed() >= Duration::from_millis(4),
        "recv_timeout",
        format_args!("{r:?}"),
    );
    drop(rx);
    check(tx.send(5) == Err(SendError(5)), "send_to_dropped_receiver", format_args!(""));

    let (tx, rx) = mpsc::sync_channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    check(tx.try_send(3) == Err(TrySendError::Full(3)), "bounded_full", format_args!(""));
    let sender = task::spawn(move || {
        tx.send(3).unwrap(); // blocks until the receiver makes room
        tx.send(4).unwrap();
    });
    let got: Vec<u32> = rx.iter().collect();
    sender.join().unwrap();
    check(got == [1, 2, 3, 4], "bounded_blocking_send", format_args!("{got:?}"));

    let (tx, rx) = mpsc::sync_channel(0);
    let taken = Arc::new(Mutex::new(false));
    let t = taken.clone();
    let sender = Builder::new()
        .priority(Priority::Preemptive(5))
        .spawn(move || {
            tx.send(9u8).unwrap();
            *t.lock().unwrap() // the rendezvous: our message was taken before `send` returned
        })
        .unwrap();
    time::sleep(Duration::from_millis(2));
    *taken.lock().unwrap() = true;
    let v = rx.recv();
    check(v == Ok(9) && sender.join() == Ok(true), "rendezvous", format_args!("{v:?}"));

    // A rendezvous `try_send`: refused with nobody in `recv`; taken by a
    // receiver waiting there.
    let (tx, rx) = mpsc::sync_channel::<u8>(0);
    let alone = tx.try_send(1);
    let receiver = Builder::new().priority(Priority::Preemptive(5)).spawn(move || rx.recv()).unwrap();
    // Until the receiver waits in `recv` (a fixed sleep could end first on
    // a busy host: then `try_send` was refused and the receiver waited for ever).
    let id = receiver.task().id();
    while task::stats(id).is_none_or(|s| s.state != task::TaskState::Blocked) {
        time::sleep(Duration::from_millis(1));
    }
    let met = tx.try_send(2);
    let got = receiver.join().unwrap();
    check(
        alone == Err(TrySendError::Full(1)) && met == Ok(()) && got == Ok(2),
        "rendezvous_try_send",
        format_args!("{alone:?} {met:?} {got:?}"),
    );

    // A rendezvous whose receiver goes without taking the message: the
    // blocked `send` fails and gives the message back (it was never
    // received); so does the next sender's, and a `send` after the drop.
    let (tx, rx) = mpsc::sync_channel::<String>(0);
    let tx2 = tx.clone();
    let blocked = |tx: mpsc::SyncSender<String>, text: &'static str| {
        Builder::new().priority(Priority::Preemptive(5)).spawn(move || tx.send(text.into())).unwrap()
    };
    let (first, second) = (blocked(tx, "first"), blocked(tx2.clone(), "second"));
    time::sleep(Duration::from_millis(2)); // both senders wait: one for the receiver, one for room
    drop(rx);
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    let after = tx2.send("after".into());
    let back = |r: &Result<(), SendError<String>>, text: &str| matches!(r, Err(SendError(m)) if m == text);
    check(
        back(&first, "first") && back(&second, "second") && back(&after, "after"),
        "rendezvous_receiver_gone",
        format_args!("{first:?} {second:?} {after:?}"),
    );
}
