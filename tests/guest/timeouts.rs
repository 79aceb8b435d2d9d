//! QEMU test: the timeouts the synchronization API promises, run under
//! instruction counting so that every duration is exact. Each timed wait
//! must give up at its deadline (within [`TOLERANCE`]) when nothing comes,
//! and succeed at the moment the event comes when it comes in time.
//!
//! - `Mutex::lock_timeout`: times out, succeeds, reports poisoning; a more
//!   urgent waiter that gives up takes its inherited priority back (the
//!   holder drops to its own level, so a middle-priority task runs first;
//!   an order only one core decides, so these tasks share core [`CORE`]);
//! - `JoinHandle::join_timeout`: the handle comes back on a timeout;
//! - `SyncSender::send_timeout`: a full channel, a rendezvous (the message
//!   not taken is taken back), a dropped receiver;
//! - `ipc::Receiver::try_recv` / `recv_timeout` in a kernel task and in an
//!   isolated task (the `channel_receive_timeout` system call);
//! - closing: an isolated task drops its endpoints, and the kernel tasks at
//!   the other ends see `Disconnected` while it still runs; the closed
//!   handle numbers then get `Closed`, and a clone leaves the handle open.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, on_core};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::ipc::{self, ChannelError, RecvTimeoutError, TryRecvError};
use ilusion::sync::mpsc::{self, SendTimeoutError};
use ilusion::sync::{Mutex, TryLockError};
use ilusion::syscall::abi::{decode, Syscall, SyscallError};
use ilusion::syscall::user::{exit, raw_syscall};
use ilusion::task::{self, Builder, Priority, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

/// The core the tasks of the priority-inheritance checks share: which
/// task finishes first is a question of who runs on one core (on several,
/// medium and low would simply run at once).
const CORE: usize = 0;

/// How late a timed wait may end (under icount: wake-up and switch costs).
const TOLERANCE: Duration = Duration::from_micros(300);

/// Did `took` end at `expected`, not before and at most [`TOLERANCE`] after?
fn on_time(took: Duration, expected: Duration) -> bool {
    took >= expected && took <= expected + TOLERANCE
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f`, returning what it returned and how long it took.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

fn main() {
    mutex_lock_timeout();
    on_core(CORE, || {
        lock_timeout_gives_back_inherited_priority();
        lock_timeout_gives_back_along_a_chain();
    });
    join_timeout();
    send_timeout();
    ipc_kernel_receive();
    ipc_isolated_receive();
    ipc_close();
    finish();
}

fn mutex_lock_timeout() {
    let lock = Arc::new(Mutex::new(5));
    let released = Arc::new(AtomicU64::new(0));
    let held = Arc::new(AtomicU64::new(0));
    let (l, r, h) = (lock.clone(), released.clone(), held.clone());
    let holder = task::spawn(move || {
        let g = l.lock().unwrap();
        h.store(1, Ordering::Relaxed);
        time::sleep(ms(10));
        r.store(Instant::now().ticks(), Ordering::Relaxed);
        drop(g);
    });
    while held.load(Ordering::Relaxed) == 0 {
        time::sleep(Duration::from_micros(100)); // until the holder has it, for 10 ms
    }
    let (r, took) = timed(|| lock.lock_timeout(ms(3)).map(|_| ()));
    check(
        matches!(r, Err(TryLockError::WouldBlock)) && on_time(took, ms(3)),
        "lock_timeout_fires",
        format_args!("{r:?} after {took:?}"),
    );
    // It comes free in about 6 ms: in time for a 20 ms timeout, which ends when it does.
    let r = lock.lock_timeout(ms(20)).map(|g| *g);
    let got_it = Instant::now();
    let after_release = got_it - Instant::from_ticks(released.load(Ordering::Relaxed));
    check(
        matches!(r, Ok(5)) && after_release <= TOLERANCE,
        "lock_timeout_succeeds_in_time",
        format_args!("{r:?}, {after_release:?} after the release"),
    );
    holder.join().unwrap();
    // The waiters that gave up left no trace: the uncontended paths work.
    let free = lock.try_lock().is_ok() && lock.lock_timeout(Duration::ZERO).is_ok();
    check(free, "lock_after_timeouts_uncontended", format_args!(""));

    let poisoned = Arc::new(Mutex::new(0));
    let p = poisoned.clone();
    let _ = task::spawn(move || {
        let _g = p.lock().unwrap();
        panic!("failing while holding the lock");
    })
    .join();
    let r = poisoned.lock_timeout(ms(1)).map(|_| ());
    check(matches!(r, Err(TryLockError::Poisoned(_))), "lock_timeout_poisoned", format_args!("{r:?}"));
}

/// Low holds the lock and computes for 20 ms. High waits for it with a
/// 5 ms timeout, lending low its urgency; medium, ready meanwhile, computes
/// for 10 ms. When high gives up, low must drop back below medium: medium
/// finishes first. (Had low kept high's urgency, it would finish first.)
fn lock_timeout_gives_back_inherited_priority() {
    let lock = Arc::new(Mutex::new(()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l, lg) = (lock.clone(), log.clone());
    let low = Builder::new()
        .name("low")
        .priority(Priority::Preemptive(20))
        .cpu(CORE)
        .spawn(move || {
            let _g = l.lock().unwrap();
            time::busy_wait(ms(20));
            lg.lock().unwrap().push("low done");
        })
        .unwrap();
    time::sleep(ms(1)); // low holds the lock now
    let (l, lg, lg2) = (lock.clone(), log.clone(), log.clone());
    let (high, medium) = Builder::new()
        .priority(Priority::Cooperative(0))
        .cpu(CORE)
        .spawn(move || {
            // Cooperative: neither runs until we end.
            let high = Builder::new()
                .name("high")
                .priority(Priority::Preemptive(2))
                .cpu(CORE)
                .spawn(move || {
                    let (r, took) = timed(|| l.lock_timeout(ms(5)).is_ok());
                    lg.lock().unwrap().push(if r { "high locked" } else { "high gave up" });
                    took
                })
                .unwrap();
            let medium = Builder::new()
                .name("medium")
                .priority(Priority::Preemptive(10))
                .cpu(CORE)
                .spawn(move || {
                    time::busy_wait(ms(10));
                    lg2.lock().unwrap().push("medium done");
                })
                .unwrap();
            (high, medium)
        })
        .unwrap()
        .join()
        .unwrap();
    let waited = high.join().unwrap();
    medium.join().unwrap();
    low.join().unwrap();
    let order = log.lock().unwrap().clone();
    check(
        order == ["high gave up", "medium done", "low done"] && on_time(waited, ms(5)),
        "lock_timeout_inheritance_dropped",
        format_args!("{order:?}, high waited {waited:?}"),
    );
}

/// The same along a chain: A holds M1; B holds M2 and waits for M1; C
/// waits for M2 with a 5 ms timeout, raising B and, through B, A. When C
/// gives up, A must drop back to B's own level, below D.
fn lock_timeout_gives_back_along_a_chain() {
    let (m1, m2) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let log = Arc::new(Mutex::new(Vec::new()));
    let spawn = |name: &'static str, priority: u8, f: alloc::boxed::Box<dyn FnOnce() + Send>| {
        Builder::new().name(name).priority(Priority::Preemptive(priority)).cpu(CORE).spawn(f).unwrap()
    };
    let (l1, lg) = (m1.clone(), log.clone());
    let a = spawn(
        "A",
        25,
        alloc::boxed::Box::new(move || {
            let _g = l1.lock().unwrap();
            time::busy_wait(ms(20));
            lg.lock().unwrap().push("A done");
        }),
    );
    time::sleep(ms(1)); // A holds M1
    let (l1, l2, lg) = (m1.clone(), m2.clone(), log.clone());
    let b = spawn(
        "B",
        20,
        alloc::boxed::Box::new(move || {
            let _g2 = l2.lock().unwrap();
            let _g1 = l1.lock().unwrap(); // waits for A, lending it level 20
            lg.lock().unwrap().push("B done");
        }),
    );
    time::sleep(ms(1)); // B holds M2 and waits for M1
    let (l2, lg, lg2) = (m2.clone(), log.clone(), log.clone());
    let (c, d) = Builder::new()
        .priority(Priority::Cooperative(0))
        .cpu(CORE)
        .spawn(move || {
            let c = Builder::new()
                .name("C")
                .priority(Priority::Preemptive(2))
                .cpu(CORE)
                .spawn(move || {
                    let r = l2.lock_timeout(ms(5)).is_ok();
                    lg.lock().unwrap().push(if r { "C locked" } else { "C gave up" });
                })
                .unwrap();
            let d = Builder::new()
                .name("D")
                .priority(Priority::Preemptive(10))
                .cpu(CORE)
                .spawn(move || {
                    time::busy_wait(ms(10));
                    lg2.lock().unwrap().push("D done");
                })
                .unwrap();
            (c, d)
        })
        .unwrap()
        .join()
        .unwrap();
    for h in [c, d, a, b] {
        h.join().unwrap();
    }
    let order = log.lock().unwrap().clone();
    check(
        order == ["C gave up", "D done", "A done", "B done"],
        "lock_timeout_inheritance_dropped_along_chain",
        format_args!("{order:?}"),
    );
}

fn join_timeout() {
    // The worker says when its sleep began: on another core it may begin
    // before this task starts timing, so its end is measured from there.
    let worker = task::spawn(|| {
        let asleep_at = Instant::now();
        time::sleep(ms(10));
        (42, asleep_at)
    });
    let (r, took) = timed(|| worker.join_timeout(ms(3)));
    let Err(worker) = r else {
        check(false, "join_timeout_fires", format_args!("returned before the task ended"));
        return;
    };
    check(on_time(took, ms(3)) && !worker.is_finished(), "join_timeout_fires", format_args!("after {took:?}"));
    let r = worker.join_timeout(ms(20)).ok();
    let returned_at = Instant::now();
    let slept = match &r {
        Some(Ok((_, asleep_at))) => returned_at.duration_since(*asleep_at),
        _ => Duration::ZERO,
    };
    check(
        matches!(r, Some(Ok((42, _)))) && on_time(slept, ms(10)),
        "join_timeout_succeeds_in_time",
        format_args!("{r:?}: returned {slept:?} after the worker began its 10 ms sleep"),
    );

    let ended = task::spawn(|| 7);
    while !ended.is_finished() {
        time::sleep(ms(1)); // on another core it may take a turn or two
    }
    let (r, took) = timed(|| ended.join_timeout(Duration::ZERO).ok());
    check(r == Some(Ok(7)) && took < ms(1), "join_timeout_ended_task", format_args!("{r:?} after {took:?}"));
    let failed = Builder::new().name("failing").spawn(|| -> u8 { panic!("deliberate") }).unwrap();
    let r = failed.join_timeout(ms(50)).ok();
    check(matches!(r, Some(Err(TaskFailure::Panic { .. }))), "join_timeout_failed_task", format_args!("{r:?}"));
}

fn send_timeout() {
    let (tx, rx) = mpsc::sync_channel::<u32>(1);
    tx.send(1).unwrap();
    let (r, took) = timed(|| tx.send_timeout(2, ms(3)));
    check(
        r == Err(SendTimeoutError::Timeout(2)) && on_time(took, ms(3)),
        "send_timeout_full",
        format_args!("{r:?} after {took:?}"),
    );
    let taker = task::spawn(move || {
        time::sleep(ms(2));
        let first = rx.recv().unwrap();
        (first, rx.recv().unwrap(), rx)
    });
    let (r, took) = timed(|| tx.send_timeout(3, ms(10)));
    let (first, second, rx) = taker.join().unwrap();
    check(
        r.is_ok() && on_time(took, ms(2)) && (first, second) == (1, 3),
        "send_timeout_room_in_time",
        format_args!("{r:?} after {took:?}, received {first} {second}"),
    );
    drop(rx);
    let (r, took) = timed(|| tx.send_timeout(4, ms(3)));
    check(
        r == Err(SendTimeoutError::Disconnected(4)) && took < ms(1),
        "send_timeout_disconnected",
        format_args!("{r:?} after {took:?}"),
    );

    // Rendezvous: nobody takes it, and it is taken back; then a receiver comes in time.
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let (r, took) = timed(|| tx.send_timeout(5, ms(3)));
    let left = rx.try_recv();
    check(
        r == Err(SendTimeoutError::Timeout(5)) && on_time(took, ms(3)) && left == Err(mpsc::TryRecvError::Empty),
        "send_timeout_rendezvous_taken_back",
        format_args!("{r:?} after {took:?}, channel then {left:?}"),
    );
    let taker = task::spawn(move || {
        time::sleep(ms(2));
        rx.recv()
    });
    let (r, took) = timed(|| tx.send_timeout(6, ms(10)));
    let got = taker.join().unwrap();
    check(
        r.is_ok() && on_time(took, ms(2)) && got == Ok(6),
        "send_timeout_rendezvous_in_time",
        format_args!("{r:?} after {took:?}, receiver got {got:?}"),
    );
}

fn ipc_kernel_receive() {
    let (tx, rx) = ipc::channel::<u64>(2);
    let empty = rx.try_recv();
    let (r, took) = timed(|| rx.recv_timeout(ms(3)));
    tx.send(11).unwrap();
    let waiting = rx.try_recv();
    let sender = task::spawn(move || {
        time::sleep(ms(2));
        tx.send(12).unwrap();
    });
    let (in_time, took2) = timed(|| rx.recv_timeout(ms(10)));
    sender.join().unwrap(); // its sender is gone now
    let gone = (rx.try_recv(), rx.recv_timeout(ms(3)));
    check(
        empty == Err(TryRecvError::Empty)
            && r == Err(RecvTimeoutError::Timeout)
            && on_time(took, ms(3))
            && waiting == Ok(11)
            && in_time == Ok(12)
            && on_time(took2, ms(2))
            && gone == (Err(TryRecvError::Disconnected), Err(RecvTimeoutError::Disconnected)),
        "ipc_kernel_try_recv_recv_timeout",
        format_args!("{empty:?}, {r:?} after {took:?}, {waiting:?}, {in_time:?} after {took2:?}, then {gone:?}"),
    );
}

/// Nanoseconds since boot, from the `time` system call (usable at EL0).
fn now_nanos() -> u64 {
    raw_syscall(Syscall::Time as u64, 0, 0, 0)
}

fn ipc_isolated_receive() {
    let (tx, rx) = ipc::channel::<u64>(2);
    let (report_tx, report_rx) = ipc::channel::<[u64; 6]>(1);
    let mut builder = Builder::new().name("receiver");
    let rx = builder.grant(rx);
    let report_tx = builder.grant(report_tx);
    let receiver = builder
        .spawn_isolated(move || {
            let code = |r: Result<u64, RecvTimeoutError>| match r {
                Ok(v) => v,
                Err(RecvTimeoutError::Timeout) => 1000,
                Err(_) => 2000,
            };
            let empty = match rx.try_recv() {
                Err(TryRecvError::Empty) => 1,
                _ => 0,
            };
            let start = now_nanos();
            let timed_out = code(rx.recv_timeout(ms(3)));
            let waited = now_nanos() - start;
            // The kernel sends 2 ms after we tell it we are ready: ask with 10 ms.
            let _ = report_tx.send([empty, timed_out, waited, 0, 0, 0]);
            let start = now_nanos();
            let got = code(rx.recv_timeout(ms(10)));
            let waited2 = now_nanos() - start;
            let ready = code(rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                _ => RecvTimeoutError::Disconnected,
            }));
            let _ = report_tx.send([got, waited2, ready, 0, 0, 1]);
        })
        .unwrap();
    let first = report_rx.recv().unwrap();
    time::sleep(ms(2));
    tx.send(21).unwrap();
    tx.send(22).unwrap();
    let second = report_rx.recv().unwrap();
    let outcome = receiver.join();
    let (waited, waited2) = (Duration::from_nanos(first[2]), Duration::from_nanos(second[1]));
    check(
        first[..2] == [1, 1000] && on_time(waited, ms(3)) && second[0] == 21 && second[2] == 22 && outcome == Ok(()),
        "ipc_isolated_try_recv_recv_timeout",
        format_args!("{first:?} {second:?} {outcome:?}: timed out after {waited:?}"),
    );
    // The receive in time ended 2 ms after the report (which the task sent just before it waited).
    check(
        waited2 <= ms(2) + TOLERANCE && waited2 >= ms(1),
        "ipc_isolated_recv_in_time",
        format_args!("after {waited2:?}"),
    );
}

/// An isolated task drops its endpoints one by one; the kernel checks each
/// peer sees `Disconnected` while the task still runs, then the task checks
/// the closed numbers.
fn ipc_close() {
    let (to_task, task_rx) = ipc::channel::<u64>(1);
    let (task_tx, from_task) = ipc::channel::<u64>(1);
    let (step_tx, step_rx) = ipc::channel::<u64>(1);
    let (report_tx, report_rx) = ipc::channel::<[i64; 6]>(1);
    let mut builder = Builder::new().name("closer");
    let task_rx = builder.grant(task_rx);
    let task_tx = builder.grant(task_tx);
    let step_rx = builder.grant(step_rx);
    let report_tx = builder.grant(report_tx);
    let (rx_number, tx_number) = (task_rx.handle().unwrap().number(), task_tx.handle().unwrap().number());
    let closer = builder
        .spawn_isolated(move || {
            let code = |r: Result<u64, SyscallError>| match r {
                Ok(v) => v as i64,
                Err(e) => e as i64,
            };
            let clone = task_tx.clone();
            drop(clone); // a clone: the handle stays open
            let clone_left_open = task_tx.send(1).is_ok();
            let _ = step_rx.recv(); // 1: the kernel saw the message
            drop(task_rx);
            let _ = step_rx.recv(); // 2: the kernel saw the receiver go
            drop(task_tx);
            let _ = step_rx.recv(); // 3: the kernel saw the sender go
            let mut buf = 0u64;
            let p = &mut buf as *mut u64 as u64;
            let report = [
                code(decode(raw_syscall(Syscall::ChannelReceive as u64, rx_number, p, 8))),
                code(decode(raw_syscall(Syscall::ChannelSend as u64, tx_number, p, 8))),
                code(ilusion::syscall::user::channel_receive_timeout(rx_number, p, 8, 0)),
                code(ilusion::syscall::user::close(rx_number)), // closing twice
                code(ilusion::syscall::user::close(rx_number + 1_000_000)), // never ours
                clone_left_open as i64,
            ];
            if report_tx.send(report).is_err() {
                exit(2);
            }
            let _ = step_rx.recv(); // 4: finish
        })
        .unwrap();
    let message = from_task.recv();
    step_tx.send(1).unwrap();
    // The task dropped its receiver: our sender sees it (the task is still running).
    let mut receiver_gone = Err(ChannelError::NotGranted);
    for _ in 0..100 {
        receiver_gone = to_task.send(5);
        if receiver_gone.is_err() {
            break;
        }
        time::sleep(Duration::from_micros(100));
    }
    let alive1 = !closer.is_finished();
    step_tx.send(2).unwrap();
    let sender_gone = from_task.recv_timeout(ms(50));
    let alive2 = !closer.is_finished();
    step_tx.send(3).unwrap();
    let report = report_rx.recv();
    step_tx.send(4).unwrap();
    let outcome = closer.join();
    let closed = SyscallError::Closed as i64;
    let expected = [closed, closed, closed, closed, SyscallError::NoSuchObject as i64, 1];
    check(
        message == Ok(1)
            && receiver_gone == Err(ChannelError::Disconnected)
            && sender_gone == Err(RecvTimeoutError::Disconnected)
            && alive1
            && alive2
            && report == Ok(expected)
            && outcome == Ok(()),
        "ipc_close",
        format_args!(
            "message {message:?}, receiver gone {receiver_gone:?} (task alive {alive1}), \
             sender gone {sender_gone:?} (alive {alive2}), closed numbers {report:?}, {outcome:?}"
        ),
    );
}
