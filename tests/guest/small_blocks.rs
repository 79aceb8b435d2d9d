//! QEMU test: small blocks from several cores at once (issue 14): the
//! kernel heap's size classes and a `mm::BlockPool`.
//!
//! 1. Four tasks, one pinned to each core, share one pool of 6 blocks: each
//!    takes one or two blocks, fills them with its own stamp, yields now and
//!    then, checks that the stamp is still whole, and frees them, 20,000
//!    times. A block handed to two holders at once shows as a torn stamp.
//!    Afterwards every block is free exactly once: 6 distinct blocks, then
//!    `None`. A block freed through another pool is refused and handed back.
//! 2. Four tasks, one on each core, allocate and free boxes of 1 to 600
//!    bytes (every size class and the buddy allocator just above them),
//!    holding up to 32 at once, each filled with its owner's stamp and
//!    checked before it is freed. Two rounds: after the second, the heap's
//!    `requested` and `allocated` bytes are back where they were after the
//!    first (the classes keep the chunks they carved; what callers hold
//!    returns to the byte).
//!
//! The heap's fast path skips its lock while core 0 runs alone
//! (`SpinLock::with`): this image is built with lock checks, which panic if
//! that path is ever taken on another core or with the lock held, so part 2
//! also checks that the other cores only ever came up after the switch to
//! the locked path (and `heap_locked_on_several_cores` that it happened).
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use common::{check, finish, require_cores};
use ilusion::mm::BlockPool;
use ilusion::task::{self, Builder};

ilusion::entry!(main);

const POOL_BLOCKS: usize = 6;
const POOL_ROUNDS: u32 = 20_000;
const HEAP_ROUNDS: usize = 20_000;

fn main() {
    let cores = require_cores(2);
    let locked = ilusion::critical::several_cores();
    check(locked, "heap_locked_on_several_cores", format_args!("{cores} cores up, several_cores() {locked}"));
    pool_from_every_core(cores);
    foreign_blocks_refused();
    heap_from_every_core(cores); // the classes reach their peak
    let baseline = ilusion::mm::heap::stats();
    heap_from_every_core(cores);
    let now = ilusion::mm::heap::stats();
    let back = (now.requested, now.allocated) == (baseline.requested, baseline.allocated);
    check(back, "heap_back_to_baseline", format_args!("{baseline:?} -> {now:?}"));
    finish()
}

/// A stamp no other holder writes: the task, the round, and a marker.
fn stamp(task: usize, round: u32) -> [u8; 8] {
    let r = round.to_le_bytes();
    [task as u8, r[0], r[1], r[2], r[3], 0x5a, !(task as u8), 0xa5]
}

fn pool_from_every_core(cores: usize) {
    let pool = Arc::new(BlockPool::new(100, POOL_BLOCKS).unwrap());
    let tasks: Vec<_> = (0..cores.min(4))
        .map(|me| {
            let pool = pool.clone();
            Builder::new()
                .cpu(me)
                .spawn(move || {
                    let (mut torn, mut refused) = (0u32, 0u32);
                    for round in 0..POOL_ROUNDS {
                        let Some(mut a) = pool.allocate() else {
                            refused += 1;
                            task::yield_now();
                            continue;
                        };
                        let s = stamp(me, round);
                        a.chunks_exact_mut(8).for_each(|c| c.copy_from_slice(&s));
                        let b = if round.is_multiple_of(2) { pool.allocate() } else { None };
                        if let Some(mut b) = b {
                            b.fill(me as u8);
                            if round.is_multiple_of(16) {
                                task::yield_now();
                            }
                            torn += u32::from(!b.iter().all(|&x| x == me as u8));
                        }
                        torn += u32::from(!a.chunks_exact(8).all(|c| c == s));
                        if pool.free(a).is_err() {
                            torn += 1;
                        }
                    }
                    (torn, refused)
                })
                .unwrap()
        })
        .collect();
    let results: Vec<_> = tasks.into_iter().map(|t| t.join().unwrap()).collect();
    let torn: u32 = results.iter().map(|r| r.0).sum();
    ilusion::println!("pool: {} tasks x {POOL_ROUNDS} rounds: {torn} torn, refused {:?}", results.len(), results);
    check(torn == 0, "pool_blocks_never_shared", format_args!("{torn} torn blocks"));
    let all: Vec<_> = core::iter::from_fn(|| pool.allocate()).take(POOL_BLOCKS + 1).collect();
    let mut indexes: Vec<_> = all.iter().map(|b| b.index()).collect();
    indexes.sort();
    indexes.dedup();
    let ok = all.len() == POOL_BLOCKS && indexes.len() == POOL_BLOCKS;
    check(ok, "pool_every_block_free_once", format_args!("{} blocks, {} distinct", all.len(), indexes.len()));
}

fn foreign_blocks_refused() {
    let a = BlockPool::new(16, 1).unwrap();
    let b = BlockPool::new(16, 1).unwrap();
    let block = a.allocate().unwrap();
    let back = b.free(block);
    let refused = back.is_err() && b.allocate().is_some() && a.allocate().is_none();
    drop(back);
    check(refused && a.allocate().is_some(), "foreign_block_refused", format_args!(""));
}

/// One task per core (at most 4) allocating and freeing small boxes.
fn heap_from_every_core(cores: usize) {
    let tasks: Vec<_> = (0..cores.min(4))
        .map(|me| {
            Builder::new()
                .cpu(me)
                .spawn(move || {
                    let mut held: Vec<(Box<[u8]>, u8)> = Vec::with_capacity(32);
                    let mut torn = 0u32;
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ me as u64;
                    for round in 0..HEAP_ROUNDS {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let size = 1 + (seed % 600) as usize;
                        let mark = (me as u8) << 6 | (round as u8 & 63);
                        held.push((alloc::vec![mark; size].into_boxed_slice(), mark));
                        if held.len() == 32 || seed.is_multiple_of(5) {
                            let (block, mark) = held.swap_remove((seed >> 32) as usize % held.len());
                            torn += u32::from(!block.iter().all(|&x| x == mark));
                        }
                        if round.is_multiple_of(256) {
                            task::yield_now();
                        }
                    }
                    for (block, mark) in held {
                        torn += u32::from(!block.iter().all(|&x| x == mark));
                    }
                    torn
                })
                .unwrap()
        })
        .collect();
    let torn: u32 = tasks.into_iter().map(|t| t.join().unwrap()).sum();
    ilusion::println!("heap: {} tasks x {HEAP_ROUNDS} boxes of 1 to 600 bytes: {torn} torn", cores.min(4));
    check(torn == 0, "heap_blocks_never_shared", format_args!("{torn} torn blocks"));
}
