//! QEMU test: `task::kill` and `JoinHandle::kill` (issue 13).
//!
//! - Refusals, by name: the idle task, main, an unknown id, a task that
//!   has ended.
//! - Kernel tasks end at their next block or yield, with
//!   `TaskFailure::Killed`: one sleeping, one blocked on a mutex main holds
//!   (the mutex is fine afterwards), one holding a mutex while it waits on a
//!   channel (the mutex is poisoned and free), one that only yields, and one
//!   that kills itself.
//! - A task killed after its wait was over (a semaphore permit or a mutex
//!   handed to it, before it ran again) keeps what it was given and ends
//!   at its next yield: the permit it gives back is there for others, the
//!   mutex it unlocks is not poisoned. A condvar waiter killed after it
//!   was notified, as it blocks to take its mutex back, passes the
//!   notification on: the waiter behind it wakes and takes the item.
//! - A kernel task killed before it ever ran does not start: its closure is
//!   dropped unrun (the channel it captured disconnects).
//! - Isolated tasks end at once: one spinning at EL0, one blocked receiving
//!   on a channel, one sleeping; and one killed before it ever ran runs
//!   none of its code (it writes no shared memory, sends no message).
//! - 1,000 cycles of spawning a kernel sleeper and an isolated spinner and
//!   killing both leave the kernel heap and the frames exactly where they were.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use common::{check, finish};
use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::ipc;
use ilusion::mm::{Access, SharedRegion};
use ilusion::sync::{Condvar, Mutex, Semaphore};
use ilusion::task::{self, Builder, KillError, Priority, TaskFailure};
use ilusion::time::{sleep, Duration, Instant};

ilusion::entry!(main);

const CORE: usize = 0;
const CYCLES: usize = 1000;

fn main() {
    common::on_core(CORE, run);
    finish()
}

fn run() {
    refusals();
    kernel_tasks();
    killed_after_a_hand_over();
    rendezvous_sender_killed();
    kernel_killed_before_it_ran();
    isolated_tasks();
    cycles();
}

fn builder(name: &str) -> Builder {
    Builder::new().name(name).cpu(CORE).stack_size(4096)
}

fn refusals() {
    check(task::kill(0) == Err(KillError::IdleTask), "kill_idle_refused", format_args!("{:?}", task::kill(0)));
    check(task::kill(1) == Err(KillError::MainTask), "kill_main_refused", format_args!("{:?}", task::kill(1)));
    check(task::kill(987_654) == Err(KillError::NoSuchTask(987_654)), "kill_unknown_refused", format_args!(""));
    let h = builder("quick").spawn(|| 5).unwrap();
    while !h.is_finished() {
        sleep(Duration::from_millis(1));
    }
    let id = h.task().id();
    let r = h.kill();
    check(r == Err(KillError::AlreadyEnded(id)), "kill_ended_refused", format_args!("{r:?}"));
    check(h.join() == Ok(5), "ended_task_keeps_its_result", format_args!(""));
    ilusion::println!("refused: {}, {}", KillError::IdleTask, KillError::NoSuchTask(987_654));
}

fn killed<T: core::fmt::Debug>(what: &str, h: task::JoinHandle<T>) {
    let start = Instant::now();
    let r = h.kill();
    let outcome = h.join();
    let ms = start.elapsed().as_millis();
    check(
        r.is_ok() && matches!(outcome, Err(TaskFailure::Killed)) && ms < 100,
        what,
        format_args!("{r:?}, {outcome:?} after {ms} ms"),
    );
}

fn kernel_tasks() {
    let sleeper = builder("sleeper").spawn(|| sleep(Duration::from_secs(100))).unwrap();
    sleep(Duration::from_millis(5));
    killed("kernel_sleeper_killed", sleeper);

    static HELD: Mutex<u32> = Mutex::new(0);
    let guard = HELD.lock().unwrap();
    let waiter = builder("mutex waiter").spawn(|| *HELD.lock().unwrap() += 1).unwrap();
    sleep(Duration::from_millis(5));
    killed("kernel_mutex_waiter_killed", waiter);
    drop(guard);
    let fine = HELD.lock_timeout(Duration::from_millis(100)).map(|g| *g);
    check(matches!(fine, Ok(0)), "mutex_fine_after_waiter_killed", format_args!("{fine:?}"));

    static OWNED: Mutex<u32> = Mutex::new(0);
    let (_tx, rx) = ilusion::sync::mpsc::channel::<u32>();
    let owner = builder("owner").spawn(move || {
        let _g = OWNED.lock().unwrap();
        rx.recv().ok()
    });
    sleep(Duration::from_millis(5));
    killed("kernel_mutex_owner_killed", owner.unwrap());
    let after = OWNED.lock_timeout(Duration::from_millis(100));
    check(
        matches!(after, Err(ilusion::sync::TryLockError::Poisoned(_))),
        "mutex_of_killed_owner_poisoned_and_free",
        format_args!("{}", after.is_ok()),
    );

    let yielder = builder("yielder").spawn(|| loop {
        task::yield_now();
    });
    sleep(Duration::from_millis(5));
    killed("kernel_yielder_killed", yielder.unwrap());

    let suicide = builder("self").spawn(|| {
        let _ = task::kill(task::current().id());
        7
    });
    let r = suicide.unwrap().join();
    check(r == Err(TaskFailure::Killed), "self_kill_ends_at_once", format_args!("{r:?}"));
}

/// Less urgent than main (Priority::DEFAULT): a waiter main wakes does not
/// run until main blocks, so main can kill it in between.
const LESS_URGENT: Priority = Priority::Preemptive(20);

/// A kernel task killed before it ever ran (less urgent than main, on
/// main's core) does not start: its closure is dropped unrun, in its own
/// context, so what it captured is given back (its channel disconnects).
fn kernel_killed_before_it_ran() {
    static RAN: AtomicBool = AtomicBool::new(false);
    let (tx, rx) = ipc::channel::<u64>(1);
    let h = builder("never ran")
        .priority(LESS_URGENT)
        .spawn(move || {
            RAN.store(true, Ordering::Relaxed);
            let _ = tx.send(1);
            loop {
                task::yield_now(); // where the kill would end it
            }
        })
        .unwrap();
    killed("kernel_killed_before_it_ran", h);
    let message = rx.try_recv();
    let ran = RAN.load(Ordering::Relaxed);
    let ok = !ran && message == Err(ipc::TryRecvError::Disconnected);
    check(ok, "kernel_killed_before_it_ran_ran_nothing", format_args!("ran {ran}, channel {message:?}"));
}

fn killed_after_a_hand_over() {
    static PERMITS: Semaphore = Semaphore::new(0);
    let waiter = builder("permit waiter").priority(LESS_URGENT).spawn(|| {
        PERMITS.acquire();
        PERMITS.release(); // gives back what it was handed
        loop {
            task::yield_now(); // where the kill ends it
        }
    });
    sleep(Duration::from_millis(5)); // it waits in `acquire`
    PERMITS.release(); // handed to the waiter, which has not run yet
    killed("permit_waiter_killed_after_hand_over", waiter.unwrap());
    let back = PERMITS.available();
    check(back == 1, "handed_permit_not_lost", format_args!("{back} permits"));

    static HANDED: Mutex<u32> = Mutex::new(0);
    let guard = HANDED.lock().unwrap();
    let waiter = builder("mutex waiter").priority(LESS_URGENT).spawn(|| {
        *HANDED.lock().unwrap() += 1;
        loop {
            task::yield_now();
        }
    });
    sleep(Duration::from_millis(5)); // it waits for the mutex
    drop(guard); // handed to the waiter, which has not run yet
    killed("mutex_waiter_killed_after_hand_over", waiter.unwrap());
    let after = HANDED.lock_timeout(Duration::from_millis(100)).map(|g| *g);
    check(matches!(after, Ok(1)), "handed_mutex_not_poisoned", format_args!("{:?}", after.is_ok()));

    // A condvar's notification, taken by a waiter killed as it blocks to
    // take its mutex back, goes on to the next waiter: none sleeps on with
    // the condition true.
    static ITEMS: Mutex<u32> = Mutex::new(0);
    static ITEM_READY: Condvar = Condvar::new();
    let consumer = |name| {
        builder(name)
            .priority(LESS_URGENT)
            .spawn(|| {
                let mut items = ITEMS.lock().unwrap();
                while *items == 0 {
                    items = ITEM_READY.wait(items).unwrap();
                }
                *items -= 1;
                1u32
            })
            .unwrap()
    };
    let first = consumer("first consumer");
    sleep(Duration::from_millis(5)); // it waits on the condvar
    let second = consumer("second consumer");
    sleep(Duration::from_millis(5)); // it waits behind the first
    let mut items = ITEMS.lock().unwrap();
    *items += 1;
    ITEM_READY.notify_one(); // to the first, which needs the mutex back: ours
    let kill = first.kill();
    sleep(Duration::from_millis(5)); // the first blocks for the mutex, and ends there
    drop(items);
    let first = first.join();
    check(
        kill.is_ok() && matches!(first, Err(TaskFailure::Killed)),
        "condvar_waiter_killed_after_notification",
        format_args!("kill {kill:?}, {first:?}"),
    );
    let second = match second.join_timeout(Duration::from_millis(500)) {
        Ok(outcome) => outcome,
        Err(still_waiting) => {
            let _ = still_waiting.kill();
            still_waiting.join()
        }
    };
    let left = *ITEMS.lock().unwrap();
    check(
        second == Ok(1) && left == 0,
        "condvar_notification_passed_on",
        format_args!("second consumer {second:?} (Killed: still waiting after 500 ms, so killed); {left} items left"),
    );
}

/// A rendezvous `send` killed while it waits for the receiver takes its
/// message back, as a timed-out one does: the receiver never gets a message
/// whose `send` never returned, and the message is dropped (once).
fn rendezvous_sender_killed() {
    static DROPPED: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
    struct Message(u32);
    impl Drop for Message {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (tx, rx) = ilusion::sync::mpsc::sync_channel::<Message>(0);
    let sender = builder("rendezvous sender").priority(LESS_URGENT).spawn(move || tx.send(Message(7)).is_ok());
    sleep(Duration::from_millis(5)); // it waits for a receiver
    killed("rendezvous_sender_killed", sender.unwrap());
    let got = rx.recv_timeout(Duration::from_millis(5)).map(|m| m.0);
    let dropped = DROPPED.load(Ordering::Relaxed);
    check(
        got.is_err() && dropped == 1,
        "killed_rendezvous_message_taken_back",
        format_args!("receiver got {got:?}, {dropped} drops"),
    );

    // The receiver takes the message between the kill and the sender's next
    // run (the sender is less urgent: the killer runs on). Then the send
    // happened: it returns `Ok` and the task runs on (it blocks no more);
    // a message received from a task ended by the kill is what was wrong.
    let (tx, rx) = ilusion::sync::mpsc::sync_channel::<Message>(0);
    let sender = builder("rendezvous sender").priority(LESS_URGENT).spawn(move || tx.send(Message(8)).is_ok());
    sleep(Duration::from_millis(5)); // it waits for a receiver
    let sender = sender.unwrap();
    let kill = sender.kill();
    let got = rx.recv_timeout(Duration::from_millis(5)).map(|m| m.0);
    let sent = sender.join();
    let consistent = match got {
        Ok(8) => sent == Ok(true),
        _ => matches!(sent, Err(TaskFailure::Killed)),
    };
    check(
        kill.is_ok() && consistent,
        "rendezvous_received_only_if_sent",
        format_args!("receiver got {got:?}, the sender's task {sent:?}"),
    );
}

fn isolated_tasks() {
    let spinner = builder("user spinner").spawn_isolated::<_, ()>(|| loop {
        core::hint::spin_loop();
    });
    sleep(Duration::from_millis(5));
    killed("isolated_spinner_killed", spinner.unwrap());

    let (tx, rx) = ipc::channel::<u64>(1);
    let mut b = builder("user receiver");
    let rx = b.grant(rx);
    let receiver = b.spawn_isolated(move || rx.recv().unwrap_or(0)).unwrap();
    sleep(Duration::from_millis(5));
    killed("isolated_receiver_killed", receiver);
    check(tx.send(1).is_err(), "killed_receiver_handle_closed", format_args!(""));

    let sleeper = builder("user sleeper").spawn_isolated(|| ilusion::time::sleep(Duration::from_secs(100))).unwrap();
    sleep(Duration::from_millis(5));
    killed("isolated_sleeper_killed", sleeper);
    killed_before_it_ran();
}

/// An isolated task killed before it ever ran (less urgent than main, on
/// main's core: it has not started when main kills it) runs none of its
/// code: the byte it would write in a shared region stays 0, and the
/// message it would send never comes.
fn killed_before_it_ran() {
    let region = SharedRegion::new(8).unwrap();
    let (tx, rx) = ipc::channel::<u64>(1);
    let mut b = builder("never ran").priority(LESS_URGENT);
    let view = b.share(&region, Access::ReadWrite);
    let tx = b.grant(tx);
    let h = b
        .spawn_isolated::<_, ()>(move || {
            let _ = view.write(0, &[1]);
            let _ = tx.send(1);
            loop {
                core::hint::spin_loop();
            }
        })
        .unwrap();
    killed("isolated_killed_before_it_ran", h);
    let mut byte = [0u8];
    region.read(0, &mut byte).unwrap();
    let message = rx.try_recv();
    let ok = byte[0] == 0 && message == Err(ipc::TryRecvError::Disconnected);
    check(ok, "killed_before_it_ran_ran_nothing", format_args!("region byte {}, channel {message:?}", byte[0]));
}

fn usage() -> (ilusion::mm::heap::HeapStats, usize) {
    (ilusion::mm::heap::stats(), ilusion::mm::frames_in_use())
}

fn cycle() -> bool {
    let kernel = builder("k").spawn(|| sleep(Duration::from_secs(100))).unwrap();
    let user = builder("u")
        .spawn_isolated::<_, ()>(|| loop {
            core::hint::spin_loop();
        })
        .unwrap();
    task::yield_now();
    let ok = kernel.kill().is_ok() && user.kill().is_ok();
    ok && kernel.join() == Err(TaskFailure::Killed) && user.join() == Err(TaskFailure::Killed)
}

fn cycles() {
    let first = cycle();
    let baseline = usage();
    let mut wrong = usize::from(!first);
    for _ in 0..CYCLES {
        wrong += usize::from(!cycle());
    }
    let now = usage();
    check(wrong == 0, "kill_cycles_outcomes", format_args!("{wrong} wrong"));
    check(now == baseline, "kill_cycles_heap_and_frames_at_baseline", format_args!("{baseline:?} -> {now:?}"));
    ilusion::println!("{CYCLES} kill cycles");
}
