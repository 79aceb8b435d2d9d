//! Sorting in place on a small, fixed stack: heapsort.
//!
//! `AddressSpace`'s drop sorts its frames by address (so the heap merges
//! buddies as they are freed), thousands of them, on whatever stack frees
//! the task: an isolated task's 8 KiB kernel stack, deep in an exception,
//! or the next task's inside a switch. The standard `sort_unstable` is a
//! quicksort that recurses: sorting 8,215 frames there ran off the stack
//! (a kernel stack overflow, which stops the machine). Heapsort takes
//! O(n log n) time like it, and a constant stack of a few words: the heap
//! is the slice itself, restored by sifting an entry down, in a loop.
//! [`sort_by_key_small_stack`] uses it beyond a few dozen entries.

/// Up to this many entries, [`sort_by_key_small_stack`] leaves the sort
/// to the standard `sort_unstable`: at or below its quicksort's threshold
/// (32 for small entries) it uses its small sort, without recursion, and
/// is quicker than heapsort (a small address space's frames: 64
/// instructions fewer per isolated spawn and join).
const BY_STANDARD_SORT: usize = 32;

/// Sorts `v` by `key`, smallest first (not stable), on a small stack
/// whatever its length: the standard sort for a few entries, else
/// [`heapsort_by_key`].
pub fn sort_by_key_small_stack<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    match v.len() {
        0..=BY_STANDARD_SORT => v.sort_unstable_by_key(key),
        _ => heapsort_by_key(v, key),
    }
}

/// Sorts `v` by `key`, smallest first (not stable), without recursion.
pub fn heapsort_by_key<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    let n = v.len();
    // Make `v` a max-heap: every entry at least as large as its children
    // (entry `i`'s are `2i + 1` and `2i + 2`); leaves are heaps already.
    for root in (0..n / 2).rev() {
        sift_down(v, root, n, &key);
    }
    // Move the largest to the end of the heap, shrink it by one, restore it.
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &key);
    }
}

/// Moves `v[root]` down the heap `v[..end]` until both its children are
/// no larger than it.
fn sift_down<T, K: Ord>(v: &mut [T], mut root: usize, end: usize, key: &impl Fn(&T) -> K) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && key(&v[child]) < key(&v[child + 1]) {
            child += 1;
        }
        if key(&v[root]) >= key(&v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::heapsort_by_key;
    use alloc::vec::Vec;

    /// A deterministic scramble of `0..n`, with repeats.
    fn scrambled(n: u64) -> Vec<(u64, u64)> {
        (0..n).map(|i| ((i * 7919 + 13) % 251, i)).collect()
    }

    #[test]
    fn sorts_like_the_standard_sort() {
        for n in [0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 100, 1000, 8215] {
            let mut ours = scrambled(n);
            let mut theirs = ours.clone();
            heapsort_by_key(&mut ours, |&(k, _)| k);
            theirs.sort_by_key(|&(k, _)| k);
            // Not stable: the keys agree, and the entries are the same ones.
            assert!(ours.iter().map(|e| e.0).eq(theirs.iter().map(|e| e.0)), "n = {n}");
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "n = {n}: the same entries");
        }
    }

    #[test]
    fn small_stack_sort_of_any_length() {
        for n in [0, 5, 32, 33, 2000] {
            let mut ours = scrambled(n);
            super::sort_by_key_small_stack(&mut ours, |&(k, _)| k);
            assert!(ours.windows(2).all(|w| w[0].0 <= w[1].0), "n = {n}");
        }
    }

    #[test]
    fn sorted_reversed_and_equal_inputs() {
        let mut sorted: Vec<u32> = (0..500).collect();
        heapsort_by_key(&mut sorted, |&x| x);
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        let mut reversed: Vec<u32> = (0..500).rev().collect();
        heapsort_by_key(&mut reversed, |&x| x);
        assert_eq!(reversed, (0..500).collect::<Vec<_>>());
        let mut equal = [5u8; 64];
        heapsort_by_key(&mut equal, |&x| x);
        assert_eq!(equal, [5u8; 64]);
    }
}
