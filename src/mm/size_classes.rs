//! The kernel heap's front for small blocks: one free list per size class
//! (8, 16, 32, ..., 1024 bytes), filled with blocks carved from chunks the
//! buddy allocator gives ([`super::heap`] holds both behind its one lock).
//!
//! A request of at most [`LARGEST`] bytes, aligned to at most its class's
//! size, is served by its class: the block at the head of the class's list
//! (a load and a store); a freed block goes back to the head. Only when a
//! class's list is empty does the heap ask the buddy allocator for a chunk
//! ([`CHUNK`] bytes, or less when that much is not there, down to one
//! block) ([`SizeClasses::add_chunk`]). A chunk is carved lazily: the class
//! keeps its uncarved rest, and when its list is empty the heap takes the
//! rest's next block, and the fifteen after it onto the list
//! ([`SizeClasses::carve`], off the fast path), so a chunk costs nothing
//! per block until its blocks are asked for (boot asks a few of each class:
//! carving whole chunks cost it about 4,700 instructions). Larger or more
//! aligned requests go to the buddy allocator as before.
//!
//! A block of class `c` is `8 << c` bytes at an address that is a multiple
//! of its size (chunks are aligned to at least the block size, and carved
//! from their start), so any alignment up to the block size holds. A free
//! block holds the link to the next one in its first word, so the free
//! lists cost no memory besides the blocks.
//!
//! A freed block stays in its class, for the next request of its size,
//! until the buddy allocator cannot serve a request (a larger block, or a
//! chunk for another class): then the heap gives every free block of every
//! class back to it ([`SizeClasses::drain`]), where blocks whose buddies
//! are free merge again, and tries once more. So memory kept by the classes
//! never makes an allocation fail that would have succeeded without them.
//! Giving a chunk back as soon as all its blocks are free would need a
//! count per chunk and a way from a block to its chunk on every free
//! (SLUB's page structures, mimalloc's page headers): more work on the
//! fast path, for memory nobody asked for yet. The kernel's small objects
//! (task control blocks, queue nodes, channel states, names) are made and
//! dropped over and over in the same sizes, so a class holds about its
//! peak number of blocks, which is what its next peak needs.
//! [`SizeClasses::cached`] says how much is kept so (the heap's statistics
//! count it as free, see `heap::HeapStats`). The drain is slow (each block
//! goes back on its own, and the buddy allocator looks for its buddy in a
//! list) but happens only when memory has run out.
//!
//! Accounting: what callers hold is counted as the buddy allocator counts
//! its own blocks (the bytes asked for, `requested`; and the blocks' sizes,
//! `allocated`, a power of two of at least 8, exactly what the buddy
//! allocator would have set aside too), so the heap's figures mean what
//! they meant before. Each class counts the blocks it has handed out next
//! and the bytes asked for in them, both in one word next to its list head
//! (one pair load, two additions and one pair store per pop or push; a
//! class carves at most 4 GiB, so the two never mix: `Counts`);
//! `requested` and `allocated` are summed from those when asked. `taken` counts the
//! chunks' bytes.
//!
//! Plain data and raw memory, no locking: host-tested below; the caller
//! holds the heap's lock.

use core::ptr::NonNull;

/// How many classes: 8, 16, 32, 64, 128, 256, 512 and 1024 bytes (the
/// largest for the task control block, about 660 bytes, made and freed by
/// every spawn).
pub const CLASSES: usize = 8;
/// The largest block a class serves.
pub const LARGEST: usize = 8 << (CLASSES - 1);
/// The chunk a class asks the buddy allocator for when its list is empty.
pub const CHUNK: usize = 4096;
/// How many blocks [`SizeClasses::carve`] puts on the list besides the one
/// it hands out.
pub const CARVE_BATCH: usize = 15;

/// The class that serves a block of `size` bytes aligned to `align` (a
/// power of two), if one does: the smallest whose block (a power of two)
/// holds `size` and is a multiple of `align`. A size of 0 gets the
/// smallest block that is aligned enough.
#[inline(always)]
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    // The block's size is max(size, align, 8) rounded up to a power of two;
    // `| 7` makes the minimum 8 (max(size, align) is at least 1).
    let m = (size.max(align) - 1) | 7;
    if m >= LARGEST {
        return None;
    }
    // m in 7..LARGEST: its bit length (3..=10) less 3, as CLASSES - 1 less
    // the leading zeros of m in 10 bits (so that the class's slot,
    // `CLASSES - 1 - class`, is those zeros themselves: see
    // `SizeClasses::classes`).
    Some(CLASSES - 1 - (m << (usize::BITS - LARGEST.trailing_zeros())).leading_zeros() as usize)
}

/// The size of class `class`'s blocks.
#[inline(always)]
pub const fn block_size(class: usize) -> usize {
    8 << class
}

/// A free block: its first word links to the next free block of its class.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// One class: its free list and its [`Counts`] side by side, so that a pop
/// or a push reads and writes both with one load and one store of a pair.
#[derive(Clone, Copy)]
#[repr(C)]
struct Class {
    /// The first free block (null: none).
    head: *mut FreeBlock,
    counts: Counts,
}

/// How many of a class's blocks callers hold, and the bytes they asked for
/// in them, in one word: the count in the low [`Counts::HELD_BITS`] bits,
/// the bytes above. A pop adds `1 + (size << HELD_BITS)` (two additions,
/// one of them shifted), a push takes it off. Neither field can spill into
/// the other: a class never carves more than [`CLASS_BYTES_MAX`] bytes
/// ([`SizeClasses::room`]), so it holds at most 2^29 blocks (of at
/// least 8 bytes) and at most 2^32 bytes are asked for in them, below
/// the 2^31 and 2^33 the two fields can count.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct Counts(usize);

impl Counts {
    const HELD_BITS: u32 = 31;

    /// One block more held, for `size` bytes.
    #[inline(always)]
    fn add(&mut self, size: usize) {
        self.0 += 1 + (size << Self::HELD_BITS);
    }

    /// One block fewer held, that was for `size` bytes.
    #[inline(always)]
    fn sub(&mut self, size: usize) {
        self.0 -= 1 + (size << Self::HELD_BITS);
    }

    fn held(self) -> usize {
        self.0 & ((1 << Self::HELD_BITS) - 1)
    }

    fn requested(self) -> usize {
        self.0 >> Self::HELD_BITS
    }
}

/// The most a class carves from the buddy allocator (4 GiB, far beyond
/// any board's small objects): what keeps [`Counts`]' fields apart.
pub const CLASS_BYTES_MAX: usize = 1 << 32;

/// The free lists and their accounting.
pub struct SizeClasses {
    /// The classes, largest first: class `c` in slot `CLASSES - 1 - c`
    /// ([`slot`]). `class_of` computes the class as `CLASSES - 1` less a count of
    /// leading zeros, so the slot is that count: no subtraction on the
    /// fast path.
    classes: [Class; CLASSES],
    /// Bytes of the chunks taken from the buddy allocator.
    taken: usize,
    /// The same, for each class (by class number): at most [`CLASS_BYTES_MAX`].
    carved: [usize; CLASSES],
    /// What is left to carve of each class's last chunk (by class number).
    rest: [Rest; CLASSES],
}

/// The uncarved end of a class's last chunk: blocks from `next` to `end`
/// (equal: nothing left), none handed out yet.
#[derive(Clone, Copy)]
struct Rest {
    next: usize,
    end: usize,
}

/// Where class `class` sits in [`SizeClasses::classes`].
#[inline(always)]
const fn slot(class: usize) -> usize {
    CLASSES - 1 - class
}

// SAFETY: the lists point only into chunks this value owns (given by
// `add_chunk`); moving it to another core moves that ownership with it.
unsafe impl Send for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> Self {
        Self {
            classes: [Class { head: core::ptr::null_mut(), counts: Counts(0) }; CLASSES],
            taken: 0,
            carved: [0; CLASSES],
            rest: [Rest { next: 0, end: 0 }; CLASSES],
        }
    }

    /// A free block of `class` for a request of `size` bytes, if its list
    /// has one (if not, [`Self::carve`] may).
    #[inline(always)]
    pub fn pop(&mut self, class: usize, size: usize) -> Option<NonNull<u8>> {
        let c = &mut self.classes[slot(class)];
        let head = c.head;
        if head.is_null() {
            return None;
        }
        // SAFETY: a non-null head is a free block of this class (`push`,
        // `add_chunk`): ours, readable, holding its link in its first word.
        c.head = unsafe { (*head).next };
        c.counts.add(size);
        // SAFETY: not null (checked above).
        Some(unsafe { NonNull::new_unchecked(head.cast()) })
    }

    /// Takes back a block of `class` that [`Self::pop`] gave for `size` bytes.
    ///
    /// # Safety
    /// `block` came from `pop(class, size)` on this value and is not used
    /// any more.
    #[inline(always)]
    pub unsafe fn push(&mut self, block: NonNull<u8>, class: usize, size: usize) {
        let block = block.as_ptr().cast::<FreeBlock>();
        let c = &mut self.classes[slot(class)];
        // SAFETY: the block is ours again (our caller's promise), at least
        // 8 bytes and aligned to its size, so it holds a link.
        unsafe { block.write(FreeBlock { next: c.head }) };
        c.head = block;
        c.counts.sub(size);
    }

    /// The next block of `class`'s uncarved rest, for a request of `size`
    /// bytes, if any is left: where an empty list's blocks come from (off
    /// the fast path: the heap asks only when [`Self::pop`] found none).
    /// The [`CARVE_BATCH`] blocks after it are carved too, onto the list, so
    /// that a class that grows (thousands of tasks) goes off the fast path
    /// once per batch, not once per block.
    pub fn carve(&mut self, class: usize, size: usize) -> Option<NonNull<u8>> {
        let block = block_size(class);
        let rest = &mut self.rest[class];
        if rest.next == rest.end {
            return None;
        }
        let first = rest.next;
        let end = rest.end.min(first + (1 + CARVE_BATCH) * block);
        rest.next = end;
        self.list_uncarved(class, first + block, end);
        self.classes[slot(class)].counts.add(size);
        NonNull::new(first as *mut u8)
    }

    /// Puts what is left of `class`'s uncarved rest on its list.
    fn list_rest(&mut self, class: usize) {
        let Rest { next, end } = core::mem::replace(&mut self.rest[class], Rest { next: 0, end: 0 });
        self.list_uncarved(class, next, end);
    }

    /// Links the blocks of `class` from `from` to `end`, taken off the
    /// uncarved rest, onto its list: from the last down, so that the list
    /// hands them out in address order.
    fn list_uncarved(&mut self, class: usize, from: usize, end: usize) {
        let c = &mut self.classes[slot(class)];
        let mut at = end;
        while at > from {
            at -= block_size(class);
            let free = at as *mut FreeBlock;
            // SAFETY: a block of the rest, just carved: ours, aligned to its
            // size (at least 8 bytes: room for a link), handed out to nobody.
            unsafe { free.write(FreeBlock { next: c.head }) };
            c.head = free;
        }
    }

    /// Gives `chunk` (`len` bytes) to `class`, to be carved into blocks as
    /// they are asked for (what was left of its last chunk goes on its list).
    ///
    /// # Safety
    /// `chunk` is `len` bytes of writable memory nobody else uses, for good
    /// (until this value is dropped), aligned to the class's block size;
    /// `len` is a non-zero multiple of the block size, at most
    /// [`Self::room`]`(class)`.
    pub unsafe fn add_chunk(&mut self, class: usize, chunk: NonNull<u8>, len: usize) {
        let size = block_size(class);
        debug_assert!(len >= size && len.is_multiple_of(size) && (chunk.as_ptr() as usize).is_multiple_of(size));
        assert!(len <= self.room(class), "a size class beyond its {CLASS_BYTES_MAX} bytes");
        self.carved[class] += len;
        self.list_rest(class);
        self.rest[class] = Rest { next: chunk.as_ptr() as usize, end: chunk.as_ptr() as usize + len };
        self.taken += len;
    }

    /// Empties every class's list, handing each free block and its size to
    /// `give` (which takes it for good); what is given no longer counts as
    /// taken. Returns how many bytes were given.
    pub fn drain(&mut self, mut give: impl FnMut(NonNull<u8>, usize)) -> usize {
        let mut given = 0;
        for class in 0..CLASSES {
            self.list_rest(class); // to go with the others below
            let c = &mut self.classes[slot(class)];
            while let Some(block) = NonNull::new(c.head) {
                // SAFETY: a block on the list: ours, holding its link.
                c.head = unsafe { block.as_ref() }.next;
                give(block.cast(), block_size(class));
                given += block_size(class);
                self.carved[class] -= block_size(class);
            }
        }
        self.taken -= given;
        given
    }

    /// Bytes callers asked for, in the small blocks they hold.
    pub fn requested(&self) -> usize {
        self.classes.iter().map(|c| c.counts.requested()).sum()
    }

    /// The sizes of the small blocks callers hold.
    pub fn allocated(&self) -> usize {
        (0..CLASSES).map(|class| self.classes[slot(class)].counts.held() * block_size(class)).sum()
    }

    /// How many more bytes `class` may carve ([`CLASS_BYTES_MAX`] less what
    /// it has): a multiple of its block size.
    pub fn room(&self, class: usize) -> usize {
        CLASS_BYTES_MAX - self.carved[class]
    }

    /// Bytes taken from the buddy allocator for the classes.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// Bytes in free blocks the classes keep (taken, not held by callers).
    pub fn cached(&self) -> usize {
        self.taken - self.allocated()
    }

    /// How many free blocks `class` has, carved or not (walks its list:
    /// for tests and reports).
    pub fn free_blocks(&self, class: usize) -> usize {
        let rest = self.rest[class];
        let mut n = (rest.end - rest.next) / block_size(class);
        let mut p = self.classes[slot(class)].head;
        while !p.is_null() {
            n += 1;
            // SAFETY: a block on the list: ours, holding its link.
            p = unsafe { (*p).next };
        }
        n
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// What the heap does: the list's head, or else a block carved from the rest.
    fn take(classes: &mut SizeClasses, class: usize, size: usize) -> Option<NonNull<u8>> {
        classes.pop(class, size).or_else(|| classes.carve(class, size))
    }

    #[test]
    fn classes_cover_sizes_and_alignments() {
        assert_eq!(class_of(0, 1), Some(0), "zero size: the smallest block");
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(8, 8), Some(0));
        assert_eq!(class_of(9, 1), Some(1));
        assert_eq!(class_of(16, 16), Some(1));
        assert_eq!(class_of(100, 8), Some(4));
        assert_eq!(class_of(128, 8), Some(4));
        assert_eq!(class_of(129, 8), Some(5));
        assert_eq!(class_of(512, 8), Some(6));
        assert_eq!(class_of(513, 8), Some(7));
        assert_eq!(class_of(1024, 8), Some(7));
        assert_eq!(class_of(1025, 8), None, "larger: the buddy allocator");
        assert_eq!(class_of(usize::MAX, 1), None);
        // An alignment beyond the size picks the class of the alignment.
        assert_eq!(class_of(1, 64), Some(3));
        assert_eq!(class_of(0, 512), Some(6));
        assert_eq!(class_of(8, 1024), Some(7));
        assert_eq!(class_of(8, 2048), None, "more aligned than any class: the buddy allocator");
        for size in 0..=LARGEST {
            for align in (0..12).map(|k| 1usize << k) {
                let expect = size.max(align).max(8).next_power_of_two();
                match class_of(size, align) {
                    Some(c) => {
                        assert_eq!(block_size(c), expect, "size {size} align {align}");
                        assert!(block_size(c) >= size && block_size(c).is_multiple_of(align));
                    }
                    None => assert!(expect > LARGEST, "size {size} align {align}"),
                }
            }
        }
    }

    /// A chunk of `len` bytes aligned to 4096, leaked (the classes keep it).
    fn chunk(len: usize) -> NonNull<u8> {
        let layout = std::alloc::Layout::from_size_align(len, CHUNK).unwrap();
        // SAFETY: a non-zero size.
        NonNull::new(unsafe { std::alloc::alloc(layout) }).unwrap()
    }

    #[test]
    fn a_chunk_becomes_aligned_disjoint_blocks_in_address_order() {
        let mut classes = SizeClasses::new();
        let base = chunk(CHUNK);
        // SAFETY: a fresh, aligned chunk given for good.
        unsafe { classes.add_chunk(4, base, CHUNK) };
        assert_eq!(classes.free_blocks(4), CHUNK / 128);
        assert_eq!((classes.taken(), classes.cached(), classes.allocated()), (CHUNK, CHUNK, 0));
        let blocks: Vec<_> = (0..CHUNK / 128).map(|_| take(&mut classes, 4, 100).unwrap()).collect();
        assert_eq!(take(&mut classes, 4, 100), None, "exhausted");
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.as_ptr() as usize, base.as_ptr() as usize + i * 128);
        }
        assert_eq!((classes.requested(), classes.allocated(), classes.cached()), (100 * 32, CHUNK, 0));
        // Contents written through one block never show in another.
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: each block is 128 bytes we hold.
            unsafe { b.as_ptr().write_bytes(i as u8, 128) };
        }
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: as above.
            let bytes = unsafe { core::slice::from_raw_parts(b.as_ptr(), 128) };
            assert!(bytes.iter().all(|&x| x == i as u8), "block {i} overwritten");
        }
        for b in blocks.iter().rev() {
            // SAFETY: popped from class 4 for 100 bytes, no longer used.
            unsafe { classes.push(*b, 4, 100) };
        }
        assert_eq!((classes.requested(), classes.allocated(), classes.cached()), (0, 0, CHUNK));
        assert_eq!(take(&mut classes, 4, 1).unwrap(), blocks[0], "last freed, first given");
        assert_eq!(classes.free_blocks(3), 0, "other classes untouched");
    }

    #[test]
    fn a_chunk_is_carved_only_as_its_blocks_are_asked_for() {
        let mut classes = SizeClasses::new();
        let base = chunk(CHUNK);
        // SAFETY: the chunk is ours, CHUNK bytes.
        unsafe { base.as_ptr().write_bytes(0xa5, CHUNK) };
        // SAFETY: a fresh, aligned chunk given for good.
        unsafe { classes.add_chunk(0, base, CHUNK) };
        // SAFETY: as above (the classes only hold the chunk).
        let bytes = unsafe { core::slice::from_raw_parts(base.as_ptr(), CHUNK) };
        assert!(bytes.iter().all(|&b| b == 0xa5), "giving a chunk writes nothing into it");
        assert_eq!(classes.free_blocks(0), CHUNK / 8);
        let first = take(&mut classes, 0, 8).unwrap();
        assert_eq!(first, base);
        assert_eq!((classes.free_blocks(0), classes.allocated(), classes.cached()), (CHUNK / 8 - 1, 8, CHUNK - 8));
        // A second chunk before the first is used up: the first's rest goes
        // on the list, none of it lost, and the list is used before the new rest.
        let second = chunk(CHUNK);
        // SAFETY: a fresh, aligned chunk given for good.
        unsafe { classes.add_chunk(0, second, CHUNK) };
        assert_eq!(classes.free_blocks(0), 2 * CHUNK / 8 - 1);
        let mut seen = Vec::new();
        while let Some(b) = take(&mut classes, 0, 8) {
            seen.push(b.as_ptr() as usize);
        }
        assert_eq!(seen.len(), 2 * CHUNK / 8 - 1);
        assert!(seen[..CHUNK / 8 - 1]
            .iter()
            .all(|&a| a > base.as_ptr() as usize && a < base.as_ptr() as usize + CHUNK));
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 2 * CHUNK / 8 - 1, "no block given twice");
        assert_eq!((classes.taken(), classes.allocated(), classes.cached()), (2 * CHUNK, 2 * CHUNK, 0));
    }

    #[test]
    fn counts_keep_blocks_and_bytes_apart_up_to_a_full_class() {
        // The most a class can hold: CLASS_BYTES_MAX of 8-byte blocks, each
        // asked for with 8 bytes; then the same bytes in 512-byte blocks.
        for (blocks, size) in [(CLASS_BYTES_MAX / 8, 8), (CLASS_BYTES_MAX / 512, 512), (1, 1)] {
            let mut c = Counts(blocks - 1 + (((blocks - 1) * size) << Counts::HELD_BITS));
            c.add(size);
            assert_eq!((c.held(), c.requested()), (blocks, blocks * size));
            c.sub(size);
            assert_eq!((c.held(), c.requested()), (blocks - 1, (blocks - 1) * size));
        }
    }

    #[test]
    fn a_class_carves_at_most_its_limit() {
        let mut classes = SizeClasses::new();
        assert_eq!(classes.room(2), CLASS_BYTES_MAX);
        // SAFETY: a fresh, aligned chunk given for good.
        unsafe { classes.add_chunk(2, chunk(CHUNK), CHUNK) };
        assert_eq!((classes.room(2), classes.room(3)), (CLASS_BYTES_MAX - CHUNK, CLASS_BYTES_MAX));
        classes.drain(|_, _| {});
        assert_eq!(classes.room(2), CLASS_BYTES_MAX, "what goes back to the buddy allocator is room again");
    }

    #[test]
    fn lifo_reuse_and_interleaved_classes_keep_lists_apart() {
        let mut classes = SizeClasses::new();
        // SAFETY: fresh, aligned chunks given for good.
        unsafe {
            classes.add_chunk(0, chunk(64), 64);
            classes.add_chunk(6, chunk(1024), 1024);
        }
        let a = take(&mut classes, 0, 3).unwrap();
        let b = take(&mut classes, 6, 300).unwrap();
        let c = take(&mut classes, 0, 8).unwrap();
        assert_ne!(a, c);
        assert_eq!(b.as_ptr() as usize % 512, 0);
        // SAFETY: each from its own pop, no longer used.
        unsafe {
            classes.push(a, 0, 3);
            classes.push(b, 6, 300);
        }
        assert_eq!(take(&mut classes, 0, 1), Some(a));
        assert_eq!(take(&mut classes, 6, 512), Some(b));
        assert_eq!(classes.free_blocks(0), 6);
        assert_eq!(classes.free_blocks(6), 1);
        assert_eq!(classes.requested(), 8 + 1 + 512);
        assert_eq!(classes.allocated(), 8 + 8 + 512);
        let mut given = Vec::new();
        assert_eq!(classes.drain(|b, size| given.push((b, size))), 6 * 8 + 512);
        assert_eq!(given.len(), 7);
        assert!(!given.iter().any(|&(b, _)| b == a || b == c), "held blocks stay with their holders");
        assert_eq!((classes.taken(), classes.cached(), classes.allocated()), (8 + 8 + 512, 0, 8 + 8 + 512));
        assert_eq!(take(&mut classes, 0, 1), None, "drained");
    }
}
