//! QEMU test, under real parallelism (MTTCG): supervised isolated tasks
//! killed at random from every core, while their supervisors restart them
//! with the same granted channel endpoint.
//!
//! Each round, a supervisor per core runs `task::supervise` (up to
//! [`RESTARTS`] restarts) of an isolated task that sends one message
//! through a granted channel as it starts, then sleeps a little
//! [`NAPS`] times and returns. A killer pinned to each core looks the
//! supervised tasks up by name (`task::list`) and kills them at random.
//! What must hold: each supervisor returns its last run's outcome, `Ok`
//! or `Killed` (and `Killed` only after its last restart); its channel got
//! at most one message per run; and after the first round the frames in
//! use and the kernel heap (less the frames the per-core pools keep) are
//! exactly where they were: a kill in the middle of a restart leaks
//! neither the endpoint nor an address space.

#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::vec::Vec;
use common::killers::{memory_in_use, Killers};
use common::{check, finish, require_cores, rng};
use ilusion::ipc;
use ilusion::task::{self, Builder, GaveUp, JoinHandle, Policy, Restart, Supervised, TaskFailure};
use ilusion::time::{self, Duration, Instant};

ilusion::entry!(main);

const ROUNDS: usize = 6;
const RESTARTS: u32 = 6;
const NAPS: u64 = 20;

/// `n` kernel tasks alive at once, then ended: before the first round
/// (200), the stack slots' translation tables a round's peak needs are
/// made; before each measure (8, more than the cache of freed stacks
/// holds), that cache holds stacks of one size, whichever tasks ended last.
fn spawn_at_once(n: usize) {
    let tasks: Vec<JoinHandle<()>> = (0..n).map(|_| Builder::new().spawn(task::park).expect("spawn")).collect();
    tasks.iter().for_each(|t| t.unpark());
    tasks.into_iter().for_each(|t| t.join().expect("a parked task"));
}

/// [`memory_in_use`], with the cache of freed stacks in a known state.
fn usage() -> (usize, usize, usize) {
    spawn_at_once(8);
    memory_in_use()
}

/// A killer's pick: one of the supervised tasks alive, at random.
fn pick_a_supervised(seed: &mut u64) -> Option<u64> {
    let ids: Vec<u64> = task::list().iter().filter(|t| t.name.as_deref() == Some("supervised")).map(|t| t.id).collect();
    (!ids.is_empty()).then(|| ids[(rng(seed) % ids.len() as u64) as usize])
}

fn supervisor(cpu: usize) -> JoinHandle<(Supervised, usize)> {
    Builder::new()
        .name("supervisor")
        .cpu(cpu)
        .spawn(move || {
            let (tx, rx) = ipc::channel::<u64>(2 * RESTARTS as usize + 2);
            let mut builder = Builder::new().name("supervised");
            let tx = builder.grant(tx);
            let policy = Policy::new(Restart::UpTo(RESTARTS));
            let supervised = task::supervise(builder, policy, move || {
                let _ = tx.send(1);
                for _ in 0..NAPS {
                    time::sleep(Duration::from_micros(100));
                }
            })
            .expect("supervise");
            let mut got = 0;
            while rx.try_recv().is_ok() {
                got += 1;
            }
            (supervised, got)
        })
        .expect("spawn a supervisor")
}

fn main() {
    let cores = require_cores(4);
    spawn_at_once(200);
    let mut baseline = None;
    for round in 0..=ROUNDS as u64 {
        let start = Instant::now();
        let killers = Killers::spawn(cores, 0x7171 ^ (round << 8), 200..1700, pick_a_supervised);
        let supervisors: Vec<_> = (0..cores).map(supervisor).collect();
        let (mut restarts, mut killed, mut wrong) = (0, 0, 0);
        for (c, s) in supervisors.into_iter().enumerate() {
            match s.join() {
                Ok((s, got)) => {
                    restarts += s.restarts;
                    let last_ok = match (&s.outcome, &s.gave_up) {
                        (Ok(()), None) => true,
                        (Err(TaskFailure::Killed), Some(GaveUp::RestartLimit)) => {
                            killed += 1;
                            s.restarts == RESTARTS
                        }
                        _ => false,
                    };
                    if !last_ok || got > s.restarts as usize + 1 {
                        wrong += 1;
                        ilusion::println!("round {round}: supervisor {c}: {s:?}, {got} messages");
                    }
                }
                Err(e) => {
                    wrong += 1;
                    ilusion::println!("round {round}: supervisor {c} failed: {e:?}");
                }
            }
        }
        let kills = killers.stop();
        let now = usage();
        let at_baseline = *baseline.get_or_insert(now) == now;
        ilusion::println!(
            "round {round}: {cores} supervisors, {restarts} restarts, {killed} gave up killed, {kills} kills accepted, {wrong} wrong, frames and heap at baseline {at_baseline}, {} ms",
            start.elapsed().as_millis()
        );
        let good = wrong == 0 && at_baseline;
        check(good, "supervised_kills_end_cleanly", format_args!("round {round}: {baseline:?} -> {now:?}"));
        if !good {
            break;
        }
    }
    finish()
}
