//! Host tests of the kernel heap: its size classes in front of the buddy
//! allocator, failures recorded, threads playing cores.

use super::*;
extern crate std;

#[test]
fn allocates_frees_and_records_failure() {
    #[repr(align(4096))]
    struct Arena([u8; 1 << 16]);
    let arena = std::boxed::Box::leak(std::boxed::Box::new(Arena([0; 1 << 16])));
    let heap = KernelHeap::new();
    // SAFETY: the arena is leaked and used only by this heap.
    unsafe { heap.add_memory(arena.0.as_mut_ptr() as usize, arena.0.len()) };
    assert_eq!(heap.stats().total, 1 << 16);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: a valid layout; freed below with the same layout.
    let p = unsafe { heap.alloc(layout) };
    assert!(!p.is_null());
    assert_eq!(heap.stats().requested, 100);
    assert_eq!(heap.stats().allocated, 128);
    // SAFETY: `p` came from `alloc` with `layout`.
    unsafe { heap.dealloc(p, layout) };
    assert_eq!(heap.stats().allocated, 0);
    assert_eq!(heap.last_failure(), None);
    let huge = Layout::from_size_align(1 << 20, 16).unwrap();
    // SAFETY: a valid layout.
    assert!(unsafe { heap.alloc(huge) }.is_null());
    assert_eq!(heap.last_failure(), Some((1 << 20, 16)));
    assert_eq!(heap.take_failure(), Some((1 << 20, 16)));
    assert_eq!(heap.take_failure(), None, "taken once");
}

/// A heap over a leaked arena of `len` bytes (a power of two), aligned
/// to its size (so the buddy allocator can merge it into one block).
fn heap_of(len: usize) -> KernelHeap {
    let layout = Layout::from_size_align(len, len).unwrap();
    // SAFETY: a non-zero size; the arena is leaked and used only by this heap.
    let arena = unsafe { std::alloc::alloc(layout) } as usize;
    let heap = KernelHeap::new();
    // SAFETY: as above.
    unsafe { heap.add_memory(arena, len) };
    heap
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn small_blocks_come_from_classes_and_count_as_before() {
    let heap = heap_of(1 << 16);
    let before = heap.stats();
    let mut blocks = std::vec::Vec::new();
    for (size, align) in [(0, 1), (1, 1), (8, 8), (24, 8), (100, 4), (512, 8), (3, 256), (513, 8), (8, 1024)] {
        let l = layout(size, align);
        // SAFETY: a valid layout (the heap serves size 0 too); freed below with it.
        let p = unsafe { heap.alloc(l) };
        assert!(!p.is_null(), "{size} bytes aligned to {align}");
        let block = size.max(align).max(8).next_power_of_two();
        assert_eq!(p as usize % block, 0, "aligned to its block's size");
        // SAFETY: at least `size` bytes we hold.
        unsafe { p.write_bytes(0xa5, size) };
        blocks.push((p, l));
    }
    let s = heap.stats();
    let sizes = [0, 1, 8, 24, 100, 512, 3, 513, 8];
    let rounded = [8, 8, 8, 32, 128, 512, 256, 1024, 1024];
    assert_eq!(s.requested - before.requested, sizes.iter().sum::<usize>());
    assert_eq!(s.allocated - before.allocated, rounded.iter().sum::<usize>());
    assert_eq!(s.free(), s.total - s.allocated);
    assert!(heap.cached() > 0, "the chunks' other blocks wait in their classes");
    for (p, l) in blocks {
        // SAFETY: from `alloc` with `l`.
        unsafe { heap.dealloc(p, l) };
    }
    let after = heap.stats();
    assert_eq!((after.requested, after.allocated), (before.requested, before.allocated), "every byte back");
    assert_eq!(heap.cached(), heap.with(|h| h.classes.taken()), "freed small blocks stay in their classes");
}

#[test]
fn small_blocks_take_the_last_bytes_then_fail_and_come_back() {
    let heap = heap_of(1 << 14);
    let total = heap.stats().total;
    // Take everything in 64-byte blocks: chunks of 4 KiB while there are,
    // then whatever is left; never a block twice.
    let l = layout(64, 8);
    let mut seen = std::collections::BTreeSet::new();
    loop {
        // SAFETY: a valid layout; every block is freed below.
        let p = unsafe { heap.alloc(l) };
        if p.is_null() {
            break;
        }
        assert!(seen.insert(p as usize), "a block handed out twice");
    }
    assert_eq!(seen.len(), total / 64, "every byte of the heap, in blocks");
    assert_eq!(heap.stats().free(), 0);
    assert_eq!(heap.take_failure(), Some((64, 8)), "the failure is recorded");
    // SAFETY: a valid layout.
    assert!(unsafe { heap.alloc(layout(8, 8)) }.is_null(), "no other class finds memory either");
    // Large blocks fail while the memory sits in the 64-byte class.
    for p in &seen {
        // SAFETY: each from `alloc` with `l`.
        unsafe { heap.dealloc(*p as *mut u8, l) };
    }
    assert_eq!(heap.stats().allocated, 0);
    assert_eq!(heap.cached(), total, "kept by the class while nobody needs them elsewhere");
    // SAFETY: a valid layout; the same class gets them all again, with no chunk taken.
    let again: std::vec::Vec<_> = (0..total / 64).map(|_| unsafe { heap.alloc(l) }).collect();
    assert!(again.iter().all(|p| seen.contains(&(*p as usize))), "the same blocks");
    for p in again {
        // SAFETY: from `alloc` with `l`.
        unsafe { heap.dealloc(p, l) };
    }
    // A large request the buddy allocator cannot serve: the classes give
    // their free blocks back, they merge, and it is served.
    let half = layout(total / 2, total / 2);
    // SAFETY: a valid layout.
    let big = unsafe { heap.alloc(half) };
    assert!(!big.is_null(), "free small blocks went back and merged");
    assert_eq!(heap.cached(), 0);
    assert_eq!(heap.stats().allocated, total / 2);
    // SAFETY: from `alloc` with `half`.
    unsafe { heap.dealloc(big, half) };
    assert_eq!(heap.stats().free(), total);
    let whole = layout(total, total);
    // SAFETY: a valid layout: every block merged back into one.
    assert!(!unsafe { heap.alloc(whole) }.is_null(), "the whole heap in one block again");
}

#[test]
fn held_small_blocks_survive_a_reclaim_and_count_right() {
    let heap = heap_of(1 << 14);
    let l = layout(32, 8);
    // SAFETY: valid layouts; freed below.
    let held: std::vec::Vec<_> = (0..10).map(|_| unsafe { heap.alloc(l) }).collect();
    for (i, p) in held.iter().enumerate() {
        // SAFETY: 32 bytes we hold.
        unsafe { p.write_bytes(i as u8, 32) };
    }
    // Everything else, in large blocks: the chunk's free blocks go back first.
    let mut large = std::vec::Vec::new();
    for size in [8192, 4096, 2048, 1024, 512 + 8, 256 + 8] {
        loop {
            let big = layout(size, 8);
            // SAFETY: a valid layout; freed below.
            let p = unsafe { heap.alloc(big) };
            if p.is_null() {
                break;
            }
            large.push((p, big));
        }
    }
    assert_eq!(heap.cached(), 0, "the chunk's free blocks went back");
    for (i, p) in held.iter().enumerate() {
        // SAFETY: 32 bytes we still hold.
        let bytes = unsafe { core::slice::from_raw_parts(*p, 32) };
        assert!(bytes.iter().all(|&b| b == i as u8), "a held block was given away");
        assert!(large
            .iter()
            .all(|&(q, big)| (*p as usize + 32 <= q as usize) || (q as usize + big.size() <= *p as usize)));
    }
    assert_eq!(heap.stats().requested, 10 * 32 + large.iter().map(|(_, l)| l.size()).sum::<usize>());
    for (p, big) in large {
        // SAFETY: from `alloc` with `big`.
        unsafe { heap.dealloc(p, big) };
    }
    for p in held {
        // SAFETY: from `alloc` with `l`.
        unsafe { heap.dealloc(p, l) };
    }
    assert_eq!((heap.stats().requested, heap.stats().allocated), (0, 0));
}

#[test]
fn a_class_refills_from_fragments_smaller_than_a_chunk() {
    let heap = heap_of(1 << 13);
    // Leave 1 KiB of buddy memory: take 4 KiB, 2 KiB and 1 KiB blocks.
    for size in [4096, 2048, 1024] {
        // SAFETY: a valid layout; never freed (the heap is dropped with the test).
        assert!(!unsafe { heap.alloc(layout(size, 8)) }.is_null());
    }
    assert_eq!(heap.stats().free(), 1024);
    // 512-byte blocks: a 1 KiB chunk (two blocks), then none.
    // SAFETY: valid layouts.
    let (a, b, c) = unsafe { (heap.alloc(layout(300, 8)), heap.alloc(layout(512, 512)), heap.alloc(layout(400, 8))) };
    assert!(!a.is_null() && !b.is_null() && c.is_null());
    assert_eq!(heap.stats().free(), 0);
    // SAFETY: `a` from `alloc` with this layout.
    unsafe { heap.dealloc(a, layout(300, 8)) };
    // SAFETY: a valid layout: the block just freed serves it.
    assert_eq!(unsafe { heap.alloc(layout(257, 1)) }, a);
}

#[test]
fn realloc_across_classes_keeps_contents() {
    let heap = heap_of(1 << 16);
    let before = heap.stats();
    let mut l = layout(5, 1);
    // SAFETY: a valid layout.
    let mut p = unsafe { heap.alloc(l) };
    // SAFETY: 5 bytes we hold.
    unsafe { p.copy_from(b"hello".as_ptr(), 5) };
    for new_size in [7, 16, 17, 200, 600, 5000, 300, 9, 5] {
        // SAFETY: `p` from this heap with `l`; a non-zero new size.
        p = unsafe { heap.realloc(p, l, new_size) };
        assert!(!p.is_null());
        l = layout(new_size, 1);
        // SAFETY: at least 5 bytes we hold.
        let kept = unsafe { core::slice::from_raw_parts(p, 5) };
        assert_eq!(kept, b"hello", "after growing or shrinking to {new_size}");
        assert_eq!(heap.stats().requested - before.requested, new_size);
    }
    // SAFETY: from this heap with `l`.
    unsafe { heap.dealloc(p, l) };
    assert_eq!(heap.stats().requested, before.requested);
}

#[test]
fn threads_share_the_classes_without_sharing_blocks() {
    let heap = heap_of(1 << 20);
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let heap = &heap;
            s.spawn(move || {
                let mut held = std::vec::Vec::new();
                for round in 0..5_000usize {
                    let size = 1 + (round * 37 + t as usize * 11) % 600;
                    let l = layout(size, 8);
                    // SAFETY: a valid layout; freed below with it.
                    let p = unsafe { heap.alloc(l) };
                    assert!(!p.is_null());
                    // SAFETY: `size` bytes we hold.
                    unsafe { p.write_bytes(t, size) };
                    held.push((p as usize, l));
                    if held.len() > 16 {
                        let (p, l) = held.swap_remove(round % held.len());
                        // SAFETY: `l.size()` bytes we still hold.
                        let bytes = unsafe { core::slice::from_raw_parts(p as *const u8, l.size()) };
                        assert!(bytes.iter().all(|&b| b == t), "another thread wrote into a held block");
                        // SAFETY: from `alloc` with `l`.
                        unsafe { heap.dealloc(p as *mut u8, l) };
                    }
                }
                for (p, l) in held {
                    // SAFETY: from `alloc` with `l`.
                    unsafe { heap.dealloc(p as *mut u8, l) };
                }
            });
        }
    });
    assert_eq!((heap.stats().requested, heap.stats().allocated), (0, 0));
}

#[test]
fn a_failed_layout_is_recorded_exactly() {
    let heap = KernelHeap::new();
    for (size, align) in [(isize::MAX as usize, 1), (1 << 61, 1 << 61), (1 << 58, 8), (1, 1 << 40), (8, 1 << 62)] {
        // SAFETY: a valid layout (none of them is served: the heap is empty).
        assert!(unsafe { heap.alloc(Layout::from_size_align(size, align).unwrap()) }.is_null());
        assert_eq!(heap.take_failure(), Some((size, align)), "{size} bytes aligned to {align}");
    }
}

#[test]
fn fallible_boxes() {
    let b = try_box([7u64; 4]).unwrap();
    assert_eq!(*b, [7; 4]);
    assert_eq!(*try_box(()).unwrap(), ());
}
