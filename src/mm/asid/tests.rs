//! Host tests of the ASID allocator: cores are simulated by their numbers,
//! and (in the last test) their TLBs by sets of tags.

use super::*;
extern crate std;
use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;

/// 4-bit ASIDs: 15 values for address spaces, so rollovers come quickly.
const SMALL: u32 = 4;

#[test]
fn an_asid_is_kept_while_its_generation_lasts() {
    let mut a = AsidAllocator::new(8);
    let first = a.activate(0, None);
    assert_eq!(first, Activation { asid: Asid { generation: 1, value: 1 }, flush_tlb: false });
    assert_eq!(a.activate(0, Some(first.asid)), Activation { asid: first.asid, flush_tlb: false });
    // On another core too: the same address space keeps its tag.
    assert_eq!(a.activate(3, Some(first.asid)), Activation { asid: first.asid, flush_tlb: false });
}

#[test]
fn exhaustion_starts_a_new_generation_and_each_core_flushes_once() {
    let mut a = AsidAllocator::new(8);
    let spaces: Vec<Asid> = (0..255).map(|_| a.activate(0, None).asid).collect();
    assert_eq!(spaces.last().unwrap().value, 255);
    assert!(spaces.iter().all(|s| s.value != 0), "ASID 0 is the kernel's");
    let next = a.activate(0, None);
    assert!(next.flush_tlb, "the core that rolled over flushes");
    // Core 0 held ASID 255 (the last one it ran): reserved, so 1 is the first free.
    assert_eq!(next.asid, Asid { generation: 2, value: 1 });
    assert_eq!(a.flush_pending(), ALL_CPUS & !1, "every other core still has to flush");
    // Core 2's next activation flushes, its second does not.
    let old = a.activate(2, Some(spaces[7]));
    assert_eq!(old, Activation { asid: Asid { generation: 2, value: 8 }, flush_tlb: true });
    assert!(!a.activate(2, Some(old.asid)).flush_tlb);
    assert_eq!(a.flush_pending() & (1 << 2), 0);
}

#[test]
fn an_old_value_nobody_took_is_kept_in_the_new_generation() {
    let mut a = AsidAllocator::new(SMALL);
    let early = a.activate(0, None).asid; // value 1
    for _ in 0..14 {
        a.activate(0, None);
    }
    // Rollover: core 0 ran value 15 last (reserved); 1 becomes free.
    let fresh = a.activate(0, None).asid;
    assert_eq!(fresh, Asid { generation: 2, value: 1 });
    // `early` had 1, now taken: it gets another value, not a shared one.
    let again = a.activate(0, Some(early)).asid;
    assert_eq!(again.generation, 2);
    assert_ne!(again.value, 1);
    // A space from generation 1 whose value 9 is still free keeps it.
    let kept = a.activate(0, Some(Asid { generation: 1, value: 9 })).asid;
    assert_eq!(kept, Asid { generation: 2, value: 9 });
}

#[test]
fn a_rollover_keeps_the_asids_other_cores_are_running() {
    let mut a = AsidAllocator::new(SMALL);
    // Cores 1, 2 and 3 each run a long-lived address space.
    let running: Vec<Asid> = (1..=3).map(|cpu| a.activate(cpu, None).asid).collect();
    // Core 0 runs through short-lived ones until the ASIDs roll over.
    let generation = a.generation();
    let mut short = Vec::new();
    while a.generation() == generation {
        short.push(a.activate(0, None).asid);
    }
    let newest = *short.last().unwrap();
    assert_eq!(newest.generation, generation + 1);
    assert!(running.iter().all(|r| r.value != newest.value), "a running core's ASID was given away");
    // Fill the new generation: no value a core was running is handed out.
    for _ in 0..10 {
        let asid = a.activate(0, None).asid;
        assert!(running.iter().all(|r| r.value != asid.value), "{asid:?} is reserved");
    }
    // The long-lived spaces come back (on other cores too) with their values, flushing once there.
    for (k, old) in running.iter().enumerate() {
        let cpu = 3 - k;
        let act = a.activate(cpu, Some(*old));
        assert_eq!(act.asid, Asid { generation: generation + 1, value: old.value });
        assert!(act.flush_tlb);
    }
}

#[test]
fn a_core_idle_across_two_rollovers_keeps_its_reservation() {
    let mut a = AsidAllocator::new(SMALL);
    let parked = a.activate(1, None).asid; // core 1 then runs only kernel tasks
    for _ in 0..40 {
        // Two rollovers and more, all on core 0.
        let asid = a.activate(0, None).asid;
        assert_ne!(asid.value, parked.value);
    }
    assert!(a.generation() >= 3);
    let back = a.activate(1, Some(parked));
    assert_eq!(back.asid, Asid { generation: a.generation(), value: parked.value });
    assert!(back.flush_tlb);
}

/// A small deterministic random source (xorshift).
struct Random(u64);
impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Four cores switch among a changing set of address spaces at random,
/// each with a simulated TLB (tag -> address space whose entries it holds),
/// flushed only when `activate` says so; ended spaces leave their entries
/// behind (no invalidation at all, the harshest case). Checks, at each
/// switch: the core's TLB holds no entry of another space under the tag it
/// is about to use; no two live spaces hold the same value in the current
/// generation; a running space's value is never handed to another.
#[test]
fn simulated_cores_never_see_another_spaces_entries() {
    const CPUS: usize = 4;
    let mut a = AsidAllocator::new(SMALL);
    let mut random = Random(0x1234_5678_9abc_def1);
    let mut tlbs: Vec<BTreeMap<u16, usize>> = (0..CPUS).map(|_| BTreeMap::new()).collect();
    let mut spaces: BTreeMap<usize, Option<Asid>> = BTreeMap::new(); // live space -> its ASID
    let mut running: [Option<usize>; CPUS] = [None; CPUS];
    let mut next_id = 0;
    let mut flushes = 0;
    for _ in 0..20_000 {
        let cpu = random.below(CPUS);
        match random.below(10) {
            // A new space, or the end of one not running anywhere.
            0 => {
                spaces.insert(next_id, None);
                next_id += 1;
            }
            1 if !spaces.is_empty() => {
                let victim = *spaces.keys().nth(random.below(spaces.len())).unwrap();
                if !running.contains(&Some(victim)) {
                    spaces.remove(&victim);
                }
            }
            // Switch to a kernel task: the lower half empties, the tags stay.
            2 => running[cpu] = None,
            _ if !spaces.is_empty() => {
                let id = *spaces.keys().nth(random.below(spaces.len())).unwrap();
                if running.iter().enumerate().any(|(c, r)| c != cpu && *r == Some(id)) {
                    continue; // one task: one core at a time
                }
                let act = a.activate(cpu, spaces[&id]);
                if act.flush_tlb {
                    tlbs[cpu].clear();
                    flushes += 1;
                }
                if let Some(owner) = tlbs[cpu].get(&act.asid.value) {
                    assert_eq!(*owner, id, "core {cpu}: space {id} would hit space {owner}'s entries");
                }
                tlbs[cpu].insert(act.asid.value, id);
                spaces.insert(id, Some(act.asid));
                running[cpu] = Some(id);
                for (other, r) in running.iter().enumerate() {
                    if let Some(r) = r.filter(|r| *r != id) {
                        assert_ne!(spaces[&r].unwrap().value, act.asid.value, "core {other} runs that value");
                    }
                }
            }
            _ => {}
        }
        let current: Vec<u16> =
            spaces.values().flatten().filter(|s| s.generation == a.generation()).map(|s| s.value).collect();
        let unique: BTreeSet<u16> = current.iter().copied().collect();
        assert_eq!(unique.len(), current.len(), "two live spaces share a value in one generation");
    }
    assert!(a.generation() > 20, "the test must roll over many times ({})", a.generation());
    assert!(flushes >= CPUS * 20);
}
