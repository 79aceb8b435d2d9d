//! Host tests of the table builder (`table.rs`).

use super::super::descriptor::MemoryType;
use super::*;
extern crate std;
use std::boxed::Box;
use std::vec::Vec;

/// Tables on the host heap; "physical" address = host address.
#[derive(Default)]
struct HostTables(Vec<Box<Table>>, usize);

impl TableAllocator for HostTables {
    fn allocate(&mut self) -> Option<(NonNull<Table>, u64)> {
        if self.1 != 0 && self.0.len() == self.1 {
            return None;
        }
        let mut t = Box::new(Table::EMPTY);
        let p = NonNull::from(&mut *t);
        self.0.push(t);
        Some((p, p.as_ptr() as u64))
    }
    fn table_at(&self, pa: u64) -> NonNull<Table> {
        NonNull::new(pa as *mut Table).unwrap()
    }
}

const HIGH: u64 = 0xffff_ff80_0000_0000;

#[test]
fn pages_map_and_translate() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    pt.map(HIGH + 0x4008_0000, 0x4008_0000, 3 * PAGE_SIZE, Attributes::KERNEL_CODE, &mut a).unwrap();
    let (pa, attrs, size) = pt.translate(HIGH + 0x4008_1234, &a).unwrap();
    assert_eq!(pa, 0x4008_1234);
    assert_eq!(attrs, Attributes::KERNEL_CODE);
    assert_eq!(size, PAGE_SIZE);
    assert!(pt.translate(HIGH + 0x4008_3000, &a).is_none(), "one past the end is unmapped");
    assert!(pt.translate(HIGH + 0x4007_f000, &a).is_none(), "one before is unmapped");
    assert_eq!(a.0.len(), 3, "root + level 2 + level 3");
}

#[test]
fn single_pages_map_with_their_tables_once() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    let heap = 0x1_0000_0000;
    pt.map_page(heap, 0x5000_0000, Attributes::USER_DATA, &mut a).unwrap();
    assert_eq!(a.0.len(), 3, "root + level 2 + level 3");
    pt.map_page(heap + PAGE_SIZE, 0x5000_3000, Attributes::USER_DATA, &mut a).unwrap();
    assert_eq!(a.0.len(), 3, "same tables");
    assert_eq!(pt.translate(heap + PAGE_SIZE + 8, &a), Some((0x5000_3008, Attributes::USER_DATA, PAGE_SIZE)));
    assert_eq!(
        pt.map_page(heap, 0x5000_1000, Attributes::USER_DATA, &mut a),
        Err(MapError::AlreadyMapped { va: heap })
    );
    assert!(matches!(pt.map_page(heap + 1, 0, Attributes::USER_DATA, &mut a), Err(MapError::Misaligned { .. })));
    assert!(pt.translate(heap + 2 * PAGE_SIZE, &a).is_none());
}

#[test]
fn aligned_ranges_use_blocks() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    // 1 GiB + 2 MiB + 4 KiB, all suitably aligned.
    let size = (1 << 30) + (2 << 20) + PAGE_SIZE;
    pt.map(HIGH + (1 << 30), 1 << 30, size, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(pt.translate(HIGH + (1 << 30) + 5, &a).unwrap().2, 1 << 30);
    assert_eq!(pt.translate(HIGH + (2 << 30) + 5, &a).unwrap().2, 2 << 20);
    assert_eq!(pt.translate(HIGH + (2 << 30) + (2 << 20), &a).unwrap().2, PAGE_SIZE);
    assert_eq!(a.0.len(), 3, "root, one level 2 and one level 3 table");
}

#[test]
fn unaligned_start_falls_back_to_pages_then_blocks() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    let start = 0x4010_0000; // 1 MiB into a 2 MiB block
    pt.map(HIGH + start, start, 0x0030_0000, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(pt.translate(HIGH + start, &a).unwrap().2, PAGE_SIZE);
    assert_eq!(pt.translate(HIGH + 0x4020_0000, &a).unwrap().2, 2 << 20);
}

#[test]
fn device_and_user_attributes_survive() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    pt.map(HIGH + 0x0900_0000, 0x0900_0000, PAGE_SIZE, Attributes::DEVICE, &mut a).unwrap();
    let (_, attrs, _) = pt.translate(HIGH + 0x0900_0018, &a).unwrap();
    assert_eq!(attrs.memory, MemoryType::Device);
    assert!(!attrs.kernel_exec && attrs.writable);
}

#[test]
fn unmap_removes_pages_and_keeps_neighbours() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    let base = HIGH + 0x70_0000_0000;
    pt.map(base, 0x4000_0000, 4 * PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(pt.unmap(base + PAGE_SIZE, 2 * PAGE_SIZE, &a), Ok(2));
    assert!(pt.translate(base, &a).is_some());
    assert!(pt.translate(base + PAGE_SIZE, &a).is_none());
    assert!(pt.translate(base + 2 * PAGE_SIZE, &a).is_none());
    assert!(pt.translate(base + 3 * PAGE_SIZE, &a).is_some());
    assert_eq!(pt.unmap(base + PAGE_SIZE, PAGE_SIZE, &a), Ok(0), "already unmapped");
    assert_eq!(pt.unmap(base + (1 << 30), PAGE_SIZE, &a), Ok(0), "no tables there");
    // The freed pages can be mapped again, reusing the tables.
    let tables = a.0.len();
    pt.map(base + PAGE_SIZE, 0x5000_0000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(pt.translate(base + PAGE_SIZE, &a).unwrap().0, 0x5000_0000);
    assert_eq!(a.0.len(), tables);
}

#[test]
fn unmap_refuses_blocks_and_misalignment() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    pt.map(HIGH, 0, 2 << 20, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(pt.unmap(HIGH, PAGE_SIZE, &a), Err(MapError::BlockInRange { va: HIGH }));
    assert!(matches!(pt.unmap(HIGH + 1, PAGE_SIZE, &a), Err(MapError::Misaligned { .. })));
}

#[test]
fn a_run_stops_at_an_existing_mapping() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    pt.map(0x3000, 0x9000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(
        pt.map(0x1000, 0x1000, 4 * PAGE_SIZE, Attributes::KERNEL_DATA, &mut a),
        Err(MapError::AlreadyMapped { va: 0x3000 })
    );
    assert_eq!(pt.translate(0x3000, &a).unwrap().0, 0x9000, "the existing mapping is untouched");
    assert_eq!(pt.translate(0x2000, &a).unwrap().0, 0x2000, "pages before it were mapped");
}

#[test]
fn a_long_run_into_a_table_made_before_is_checked() {
    // The first map makes the tables (written without reading them);
    // the second runs into them, eight at a time, and must find the page.
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    pt.map(0x20000, 0x7000_0000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(
        pt.map(0x1000, 0x1000, 63 * PAGE_SIZE, Attributes::KERNEL_DATA, &mut a),
        Err(MapError::AlreadyMapped { va: 0x20000 })
    );
    assert_eq!(pt.translate(0x20000, &a).unwrap().0, 0x7000_0000, "the existing mapping is untouched");
    assert_eq!(pt.translate(0x1f000, &a).unwrap().0, 0x1f000, "pages before it were mapped");
    assert!(pt.translate(0x21000, &a).is_none(), "nothing after it");
    // A long run into the new tables of one map: every entry written.
    pt.map(0x4000_0000, 0x4000_0000, 600 * PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    for page in 0..600 {
        let va = 0x4000_0000 + page * PAGE_SIZE;
        assert_eq!(pt.translate(va, &a).unwrap().0, va, "page {page}");
    }
}

#[test]
fn a_long_run_stops_at_the_first_entry_in_use_wherever_it_is() {
    // Every place in and around the eight-at-a-time part: the run stops
    // right before the valid entry, which is untouched, as is what follows.
    const IN_USE: u64 = 0xdead_0003;
    for at in 0..40 {
        let mut slots = [Descriptor::INVALID; 40];
        slots[at] = Descriptor(IN_USE);
        assert_eq!(fill_free_run::<false>(&mut slots, 0x1001, 0x10), at, "in use at {at}");
        assert!((0..at).all(|i| slots[i].0 == 0x1001 + 0x10 * i as u64), "in use at {at}");
        assert_eq!(slots[at].0, IN_USE);
        assert!(slots[at + 1..].iter().all(|d| d.0 == 0), "in use at {at}");
    }
}

#[test]
fn a_known_free_run_writes_every_entry_and_nothing_else() {
    // Every length around the pairs and the four-pair turns, from an
    // even and an odd entry (a 16-byte boundary or not): each entry
    // its own descriptor, the entries around the run untouched.
    const AROUND: u64 = 0xdead_0000;
    for start in 0..4 {
        for len in 0..40 {
            let mut slots = [Descriptor(AROUND); 48];
            let run = fill_free_run::<true>(&mut slots[start..start + len], 0x1003, 0x1000);
            assert_eq!(run, len);
            for (i, d) in slots.iter().enumerate() {
                let want =
                    if (start..start + len).contains(&i) { 0x1003 + 0x1000 * (i - start) as u64 } else { AROUND };
                assert_eq!(d.0, want, "entry {i} of a run of {len} from {start}");
            }
        }
    }
}

#[test]
fn an_invalid_but_nonzero_entry_is_free() {
    // The fast test (eight zero words) fails on it; the slow one (valid bits) decides.
    for at in 0..24 {
        let mut slots = [Descriptor::INVALID; 24];
        slots[at] = Descriptor(0xabc0);
        assert_eq!(fill_free_run::<false>(&mut slots, 0x3, 0x1000), 24, "stale bits at {at}");
        assert!(slots.iter().enumerate().all(|(i, d)| d.0 == 0x3 + 0x1000 * i as u64));
    }
}

#[test]
fn errors() {
    let mut a = HostTables::default();
    let mut pt = PageTable::new(&mut a).unwrap();
    assert!(matches!(
        pt.map(0x1001, 0x1000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a),
        Err(MapError::Misaligned { .. })
    ));
    pt.map(0x1000, 0x1000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a).unwrap();
    assert_eq!(
        pt.map(0x1000, 0x5000, PAGE_SIZE, Attributes::KERNEL_DATA, &mut a),
        Err(MapError::AlreadyMapped { va: 0x1000 })
    );
    assert!(pt.translate(0, &a).is_none(), "page 0 stays unmapped");
    let mut small = HostTables(Vec::new(), 2);
    let mut pt = PageTable::new(&mut small).unwrap();
    assert_eq!(pt.map(0, 0, PAGE_SIZE, Attributes::KERNEL_DATA, &mut small), Err(MapError::OutOfTables));
}
