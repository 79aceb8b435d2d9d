//! QEMU test, under real parallelism (MTTCG): channels and shared regions
//! between isolated tasks while tasks on other cores are killed, fault
//! and end in the middle of using them.
//!
//! Each round:
//! - a pipeline: [`PRODUCERS`] isolated producers, one pinned to each core
//!   in turn, send [`MESSAGES`] numbered messages each through one small
//!   channel to an isolated consumer (on any core), which checks that each
//!   producer's messages come exactly once and in order until every
//!   producer is gone; each producer also counts its messages in its own
//!   slot of a shared region the kernel reads afterwards;
//! - meanwhile, victims on every core use channels and the same region
//!   (blocked in a receive, in a rendezvous send, in a send to a full
//!   channel, spinning on the region, bouncing messages off a kernel echo),
//!   and a kernel killer on another core kills each after a short random
//!   delay: each must end `Killed`, and its kernel peers must see the
//!   disconnection;
//! - a read-only user of the region writes to it and ends with its fault.
//!
//! After the first round, the kernel heap and the frames in use must be
//! back at the same level after every round. [`ROUNDS`] rounds in a row.
//! The isolated closures use no formatting.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::{check, finish, require_cores};
use core::sync::atomic::{AtomicU64, Ordering};
use ilusion::ipc::{self, ChannelError};
use ilusion::mm::{Access, SharedMemory, SharedRegion};
use ilusion::syscall::user::exit;
use ilusion::task::{Builder, FaultAccess, JoinHandle, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 10;
const PRODUCERS: usize = 4;
const MESSAGES: u64 = 2_000;
/// Victims of each kind per round.
const VICTIMS: usize = 4;
/// Region slots: one per producer, then the victims' counters.
const SLOTS: usize = 16;

static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// A pseudo-random number (xorshift), for the kill delays.
fn random() -> u64 {
    let mut x = SEED.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SEED.store(x, Ordering::Relaxed);
    x
}

/// Kernel heap in use (less the freed frames each core's pool keeps,
/// which depend on which core freed them) and frames in use.
fn usage() -> (usize, usize) {
    let pooled = ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize;
    (ilusion::mm::heap::stats().requested - pooled, ilusion::mm::frames_in_use())
}

fn main() {
    let cores = require_cores(2);
    let mut baseline = None;
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let wrong = run_round(cores);
        let now = usage();
        let level = *baseline.get_or_insert(now);
        ilusion::println!(
            "round {round}: {PRODUCERS} isolated producers x {MESSAGES} messages, {} victims killed on {cores} cores: {wrong} wrong, heap and frames at baseline {}, {} ms",
            5 * VICTIMS,
            now == level,
            start.elapsed().as_millis()
        );
        let ok = wrong == 0 && now == level;
        check(ok, "isolated_ipc_under_kills", format_args!("round {round}: {level:?} -> {now:?}"));
        if !ok {
            break;
        }
    }
    finish()
}

/// One round (see the module doc); returns how many outcomes were wrong.
fn run_round(cores: usize) -> usize {
    let mut wrong = 0;
    let region = SharedRegion::new(SLOTS * 8).expect("region");
    let (tx, rx) = ipc::channel::<[u64; 2]>(4);
    let mut builder = Builder::new().name("consumer");
    let rx = builder.grant(rx);
    let consumer = builder.spawn_isolated(move || consume(rx)).expect("consumer");
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut builder = Builder::new().name("producer").cpu(p % cores);
            let tx = builder.grant(tx.clone());
            let view = builder.share(&region, Access::ReadWrite);
            builder.spawn_isolated(move || produce(p as u64, tx, view)).expect("producer")
        })
        .collect();
    drop(tx);
    let victims = spawn_victims(cores, &region);
    let faulter = {
        let mut builder = Builder::new().name("read-only").cpu(random() as usize % cores);
        let view = builder.share(&region, Access::ReadOnly);
        builder.spawn_isolated::<_, ()>(move || {
            let mut b = [0u8; 8];
            if view.read(0, &mut b).is_err() {
                exit(2);
            }
            let _ = view.write(8 * (SLOTS - 1), &[1]);
            exit(3)
        })
    }
    .expect("read-only");
    for (p, h) in producers.into_iter().enumerate() {
        if h.join() != Ok(MESSAGES) {
            wrong += 1;
            ilusion::println!("producer {p} did not send everything");
        }
    }
    match consumer.join() {
        Ok([total, 0]) if total == PRODUCERS as u64 * MESSAGES => {}
        other => {
            wrong += 1;
            ilusion::println!("consumer: {other:?}");
        }
    }
    for p in 0..PRODUCERS {
        let mut b = [0u8; 8];
        region.read(8 * p, &mut b).unwrap();
        if u64::from_ne_bytes(b) != MESSAGES {
            wrong += 1;
            ilusion::println!("producer {p}'s slot: {}", u64::from_ne_bytes(b));
        }
    }
    let fault = faulter.join();
    if !matches!(fault, Err(TaskFailure::MemoryAccess { access: FaultAccess::Write, .. })) {
        wrong += 1;
        ilusion::println!("read-only writer: {fault:?}");
    }
    wrong + victims.check()
}

/// An isolated consumer: receives until every producer is gone; returns
/// (messages, how many came out of order).
fn consume(rx: ipc::Receiver<[u64; 2]>) -> [u64; 2] {
    let mut next = [0u64; PRODUCERS];
    let (mut total, mut bad) = (0, 0);
    loop {
        match rx.recv() {
            Ok([p, i]) if (p as usize) < PRODUCERS && next[p as usize] == i => {
                next[p as usize] += 1;
                total += 1;
            }
            Ok(_) => bad += 1,
            Err(ChannelError::Disconnected) => return [total, bad],
            Err(_) => exit(4),
        }
    }
}

/// An isolated producer: sends its messages, counting them in its slot.
fn produce(p: u64, tx: ipc::Sender<[u64; 2]>, view: SharedMemory) -> u64 {
    for i in 0..MESSAGES {
        if tx.send([p, i]).is_err() {
            exit(5);
        }
        if view.write(8 * p as usize, &(i + 1).to_ne_bytes()).is_err() {
            exit(6);
        }
    }
    MESSAGES
}

/// The victims of a round, with what their kernel peers hold.
struct Victims {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    killer: JoinHandle<usize>,
    /// Kernel ends of the victims' channels: each must find its peer gone.
    senders: Vec<ipc::Sender<u64>>,
    receivers: Vec<ipc::Receiver<u64>>,
}

impl Victims {
    /// Waits for the killer; returns how many outcomes were wrong.
    fn check(self) -> usize {
        let mut wrong = self.killer.join().unwrap_or(99);
        for (name, h) in self.tasks {
            let r = h.join();
            if r != Err(TaskFailure::Killed) {
                wrong += 1;
                ilusion::println!("victim '{name}': {r:?}");
            }
        }
        for tx in &self.senders {
            if tx.send(1) != Err(ChannelError::Disconnected) {
                wrong += 1;
                ilusion::println!("a killed receiver's channel still takes messages");
            }
        }
        for rx in &self.receivers {
            // Drain what the victims sent before they were killed.
            loop {
                match rx.recv_timeout(Duration::from_secs(2)) {
                    Ok(_) => continue,
                    Err(ipc::RecvTimeoutError::Disconnected) => break,
                    Err(e) => {
                        wrong += 1;
                        ilusion::println!("a killed sender's channel: {e:?}");
                        break;
                    }
                }
            }
        }
        wrong
    }
}

/// Spawns the victims, each pinned to a core, and a killer that kills them.
fn spawn_victims(cores: usize, region: &SharedRegion) -> Victims {
    let mut tasks = Vec::new();
    let (mut senders, mut receivers) = (Vec::new(), Vec::new());
    let mut echo_tasks = Vec::new();
    for v in 0..VICTIMS {
        let cpu = |k: usize| Builder::new().cpu((v + k) % cores);
        // Blocked in a receive nobody sends to (until it is killed).
        let (tx, rx) = ipc::channel::<u64>(1);
        let mut b = cpu(0).name("receiver");
        let rx = b.grant(rx);
        tasks.push((
            "receiver",
            b.spawn_isolated(move || {
                let _ = rx.recv();
            })
            .expect("receiver"),
        ));
        senders.push(tx);
        // Blocked in a rendezvous send nobody receives.
        let (tx, rx) = ipc::channel::<u64>(0);
        let mut b = cpu(1).name("rendezvous");
        let tx = b.grant(tx);
        tasks.push((
            "rendezvous",
            b.spawn_isolated(move || {
                let _ = tx.send(7);
            })
            .expect("rendezvous"),
        ));
        receivers.push(rx);
        // Sends until the channel is full, then waits for room.
        let (tx, rx) = ipc::channel::<u64>(2);
        let mut b = cpu(2).name("filler");
        let tx = b.grant(tx);
        tasks.push((
            "filler",
            b.spawn_isolated(move || {
                let mut i = 0;
                while tx.send(i).is_ok() {
                    i += 1;
                }
            })
            .expect("filler"),
        ));
        receivers.push(rx);
        // Spins on the shared region.
        let mut b = cpu(3).name("spinner");
        let view = b.share(region, Access::ReadWrite);
        let slot = 8 * (PRODUCERS + v);
        tasks.push((
            "spinner",
            b.spawn_isolated(move || {
                let mut n = 0u64;
                loop {
                    n += 1;
                    let _ = view.write(slot, &n.to_ne_bytes());
                }
            })
            .expect("spinner"),
        ));
        // Bounces messages off a kernel echo on another core.
        let (to_echo, echo_rx) = ipc::channel::<u64>(1);
        let (echo_tx, from_echo) = ipc::channel::<u64>(1);
        let mut b = cpu(0).name("bouncer");
        let (to_echo, from_echo) = (b.grant(to_echo), b.grant(from_echo));
        tasks.push((
            "bouncer",
            b.spawn_isolated(move || {
                let mut i = 0;
                while to_echo.send(i).is_ok() && from_echo.recv() == Ok(i) {
                    i += 1;
                }
            })
            .expect("bouncer"),
        ));
        echo_tasks.push(
            cpu(1)
                .name("echo")
                .spawn(move || {
                    while let Ok(m) = echo_rx.recv() {
                        if echo_tx.send(m).is_err() {
                            break;
                        }
                    }
                })
                .expect("echo"),
        );
    }
    let ids: Vec<u64> = tasks.iter().map(|(_, h)| h.task().id()).collect();
    let delays: Vec<u64> = ids.iter().map(|_| random() % 2_000).collect();
    let killer = Builder::new()
        .name("killer")
        .cpu(cores - 1)
        .spawn(move || {
            let mut wrong = 0;
            for (id, delay) in ids.into_iter().zip(delays) {
                time::sleep(Duration::from_micros(delay));
                if let Err(e) = ilusion::task::kill(id) {
                    wrong += 1;
                    ilusion::println!("kill {id}: {e:?}");
                }
            }
            // The echoes end when their bouncer is gone.
            for echo in echo_tasks {
                if echo.join().is_err() {
                    wrong += 1;
                }
            }
            wrong
        })
        .expect("killer");
    Victims { tasks, killer, senders, receivers }
}
