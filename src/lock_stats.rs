//! Lock contention statistics: how many spin iterations each core spent
//! waiting for a lock, and (with the `lock-stats` feature) for each spin lock
//! by name, how many acquisitions found it held and how many spin
//! iterations they spent waiting. For the benchmarks of many cores ("spin
//! iterations per 1,000 operations", `benches/smp.rs`), read through
//! `ilusion::internals::spin_iterations()` and `ilusion::internals::lock_stats()`.
//!
//! `critical::SpinLock::lock` and the kernel lock's `take` report each
//! contended acquisition here with [`spun`], from their slow paths only
//! (the first attempt failed), so an uncontended lock pays nothing:
//!
//! ```ignore
//! let mut spins = 0;
//! while lock.is_locked() { spins += 1; spin_hint() }
//! crate::lock_stats::spun(name, spins);
//! ```
//!
//! The per-core spin counts are always kept: a core adds to its own counter
//! only, with interrupts masked (the locks mask them before they spin), so a
//! plain load and store is enough and no two cores share a cache line's
//! writes. The table by name costs a search per contended acquisition, so it
//! is kept only with the `lock-stats` feature; without it the table stays
//! empty. Locks of the same name (every core's frame pool, for example) add
//! up in one row.
//!
//! The table is lock-free (it is called from inside the spin lock, so it
//! must not take one): a fixed array of rows, a row claimed for a name with
//! one compare-and-swap, its counters plain atomic additions. When all rows
//! are taken, further names are counted in [`LockStats::unlisted`].

use crate::percpu::{cpu_index, PerCpu, MAX_CPUS};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// How many distinct lock names the table holds.
pub const ROWS: usize = 32;

/// One lock name's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockStat {
    pub name: &'static str,
    /// Acquisitions that found the lock held.
    pub contended: u64,
    /// Spin iterations those acquisitions spent waiting.
    pub spins: u64,
}

/// A snapshot of the table: the rows in use, in the order the names first
/// contended.
#[derive(Clone, Copy, Debug)]
pub struct LockStats {
    rows: [Option<LockStat>; ROWS],
    /// Contended acquisitions of locks whose names found no free row.
    pub unlisted: u64,
}

impl LockStats {
    pub fn iter(&self) -> impl Iterator<Item = &LockStat> {
        self.rows.iter().flatten()
    }

    /// The counts for `name`, if it ever contended.
    pub fn get(&self, name: &str) -> Option<LockStat> {
        self.iter().find(|s| s.name == name).copied()
    }

    /// All rows added up (name "all locks").
    pub fn total(&self) -> LockStat {
        self.iter().fold(LockStat { name: "all locks", contended: self.unlisted, spins: 0 }, |t, s| LockStat {
            name: t.name,
            contended: t.contended + s.contended,
            spins: t.spins + s.spins,
        })
    }
}

const EMPTY: u8 = 0;
const CLAIMING: u8 = 1;
const READY: u8 = 2;

struct Row {
    state: AtomicU8,
    /// Written once, by the core that claimed the row, before `state` is READY.
    name: UnsafeCell<&'static str>,
    contended: AtomicU64,
    spins: AtomicU64,
}

/// The table of one kernel (a separate one per host test).
struct Table {
    rows: [Row; ROWS],
    unlisted: AtomicU64,
}

// SAFETY: a row's name is written only by the core that moved its state
// from EMPTY to CLAIMING, and read only after seeing READY (Acquire), which
// that core stored (Release) after writing it.
unsafe impl Sync for Table {}

impl Table {
    const fn new() -> Self {
        #[allow(clippy::declare_interior_mutable_const)] // a template for the array
        const ROW: Row = Row {
            state: AtomicU8::new(EMPTY),
            name: UnsafeCell::new(""),
            contended: AtomicU64::new(0),
            spins: AtomicU64::new(0),
        };
        Self { rows: [ROW; ROWS], unlisted: AtomicU64::new(0) }
    }

    /// The row for `name`, claimed if it has none yet.
    fn row(&self, name: &'static str) -> Option<&Row> {
        for row in &self.rows {
            loop {
                match row.state.load(Ordering::Acquire) {
                    READY => {
                        // SAFETY: READY was seen: the name is written and never again (see `Sync`).
                        if unsafe { *row.name.get() } == name {
                            return Some(row);
                        }
                        break;
                    }
                    // Another core is writing this row's name: wait (a few instructions).
                    CLAIMING => core::hint::spin_loop(),
                    _ => {
                        if row.state.compare_exchange(EMPTY, CLAIMING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                            // SAFETY: we moved the row to CLAIMING: no one else touches the name.
                            unsafe { *row.name.get() = name };
                            row.state.store(READY, Ordering::Release);
                            return Some(row);
                        }
                    }
                }
            }
        }
        None
    }

    fn add(&self, name: &'static str, spins: u64) {
        match self.row(name) {
            Some(row) => {
                row.contended.fetch_add(1, Ordering::Relaxed);
                row.spins.fetch_add(spins, Ordering::Relaxed);
            }
            None => {
                self.unlisted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn snapshot(&self) -> LockStats {
        let mut stats = LockStats { rows: [None; ROWS], unlisted: self.unlisted.load(Ordering::Relaxed) };
        for (row, out) in self.rows.iter().zip(stats.rows.iter_mut()) {
            if row.state.load(Ordering::Acquire) == READY {
                *out = Some(LockStat {
                    // SAFETY: READY was seen (see `Sync`).
                    name: unsafe { *row.name.get() },
                    contended: row.contended.load(Ordering::Relaxed),
                    spins: row.spins.load(Ordering::Relaxed),
                });
            }
        }
        stats
    }

    /// Zeroes the counts (the names stay).
    fn reset(&self) {
        for row in &self.rows {
            row.contended.store(0, Ordering::Relaxed);
            row.spins.store(0, Ordering::Relaxed);
        }
        self.unlisted.store(0, Ordering::Relaxed);
    }
}

static TABLE: Table = Table::new();

/// Spin iterations each core spent waiting for a lock (its own counter,
/// written by that core only, with interrupts masked).
static SPINS: PerCpu<AtomicU64> = PerCpu::new([const { AtomicU64::new(0) }; MAX_CPUS]);

/// Records that an acquisition of the lock called `name` found it held and
/// spun `spins` times before getting it (0: it did not spin after all): on
/// this core's spin counter, and with the `lock-stats` feature in the table
/// by name. Called from the slow paths of `SpinLock::lock` and of the kernel
/// lock, with interrupts masked; inlined there (a load and a store), so the
/// fast path around it needs no call and no larger stack frame.
#[inline(always)]
pub fn spun(name: &'static str, spins: u64) {
    let mine = SPINS.of(cpu_index());
    // Only this core writes its counter, and nothing interrupts it here:
    // no read-modify-write instruction needed.
    mine.store(mine.load(Ordering::Relaxed) + spins, Ordering::Relaxed);
    if cfg!(feature = "lock-stats") && spins != 0 {
        contended(name, spins);
    }
}

/// The table's side of [`spun`] (the `lock-stats` feature).
#[cold]
#[inline(never)]
fn contended(name: &'static str, spins: u64) {
    TABLE.add(name, spins);
}

/// Spin iterations spent waiting for locks so far, by every core together
/// (since boot or the last [`reset_lock_stats`]).
pub fn spin_iterations() -> u64 {
    SPINS.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// Spin iterations core `cpu` spent waiting for locks so far.
pub fn spin_iterations_on(cpu: usize) -> u64 {
    SPINS.of(cpu).load(Ordering::Relaxed)
}

/// The counts so far (empty without the `lock-stats` feature).
pub fn lock_stats() -> LockStats {
    TABLE.snapshot()
}

/// Starts counting from zero (before a measurement): the table and every
/// core's spin count. Call it while the other cores do not wait for a lock.
pub fn reset_lock_stats() {
    TABLE.reset();
    SPINS.iter().for_each(|c| c.store(0, Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn counts_add_up_per_name() {
        let table = Table::new();
        table.add("heap", 3);
        table.add("frames", 1);
        table.add("heap", 5);
        let stats = table.snapshot();
        assert_eq!(stats.get("heap"), Some(LockStat { name: "heap", contended: 2, spins: 8 }));
        assert_eq!(stats.get("frames").unwrap().contended, 1);
        assert_eq!(stats.total().spins, 9);
        table.reset();
        assert_eq!(table.snapshot().get("heap").unwrap().contended, 0);
    }

    #[test]
    fn spins_add_up_on_this_core_and_reset() {
        // The host counts as core 0; other tests may add at the same time,
        // so compare what this one added.
        let before = spin_iterations_on(0);
        spun("test lock", 7);
        spun("test lock", 5);
        assert!(spin_iterations_on(0) >= before + 12);
        assert!(spin_iterations() >= 12);
    }

    #[test]
    fn a_full_table_counts_the_rest_as_unlisted() {
        let table = Table::new();
        let names: std::vec::Vec<&'static str> =
            (0..ROWS + 3).map(|k| &*std::boxed::Box::leak(std::format!("lock {k}").into_boxed_str())).collect();
        for name in &names {
            table.add(name, 1);
        }
        let stats = table.snapshot();
        assert_eq!(stats.iter().count(), ROWS);
        assert_eq!(stats.unlisted, 3);
        assert_eq!(stats.total().contended, (ROWS + 3) as u64);
    }

    #[test]
    fn threads_adding_at_once_lose_nothing() {
        let table = std::sync::Arc::new(Table::new());
        let threads: std::vec::Vec<_> = (0..4)
            .map(|t| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for k in 0..10_000u64 {
                        table.add(if (k + t) % 2 == 0 { "even" } else { "odd" }, 2);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = table.snapshot();
        assert_eq!(stats.iter().count(), 2, "one row per name, even when claimed at once");
        assert_eq!(stats.total(), LockStat { name: "all locks", contended: 40_000, spins: 80_000 });
    }
}
