//! An intrusive doubly-linked list: the one data structure behind the ready
//! queue, the wait queues and the list of sleeping tasks.
//!
//! "Intrusive" means the links live inside the elements (a task control block
//! has one [`Links`] per list it can be on), so putting a task on a list or
//! taking it off never allocates, and removing any element is O(1). An
//! [`Adapter`] says which `Links` of an element a list uses.
//!
//! The list does not own its elements: whoever links an element promises it
//! stays alive (and does not move) until it is unlinked. Nothing here touches
//! hardware; the tests at the bottom run on the host.

use core::cell::Cell;
use core::marker::PhantomData;
use core::ptr::NonNull;

/// The links an element carries for one list.
pub struct Links<T> {
    prev: Cell<Option<NonNull<T>>>,
    next: Cell<Option<NonNull<T>>>,
    linked: Cell<bool>,
}

impl<T> Links<T> {
    pub const fn new() -> Self {
        Self { prev: Cell::new(None), next: Cell::new(None), linked: Cell::new(false) }
    }

    /// Is the element on a list (through these links)? Answered only
    /// for links whose adapter keeps the flag ([`Adapter::KEEPS_FLAG`]).
    pub fn is_linked(&self) -> bool {
        self.linked.get()
    }
}

impl<T> Default for Links<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Chooses the [`Links`] of an element that a list threads through.
pub trait Adapter {
    type Item;
    fn links(item: &Self::Item) -> &Links<Self::Item>;
    /// Do these links keep their "on a list" flag up to date? That is a
    /// store on every push and pop; a list whose owner always knows
    /// without it (the ready queue: a task is on it exactly while it is
    /// ready) keeps it only in debug builds, for the checks below.
    const KEEPS_FLAG: bool = true;
}

/// A FIFO of elements linked through `A::links`.
pub struct List<A: Adapter> {
    head: Option<NonNull<A::Item>>,
    tail: Option<NonNull<A::Item>>,
    _adapter: PhantomData<A>,
}

/// Records whether an element is on a list, if its links keep that.
#[inline(always)]
fn mark<A: Adapter>(l: &Links<A::Item>, linked: bool) {
    if A::KEEPS_FLAG {
        l.linked.set(linked);
    }
}

/// Checks (debug builds) that an element is on a list or not, where its
/// links keep that.
#[inline(always)]
fn debug_check<A: Adapter>(l: &Links<A::Item>, linked: bool) {
    debug_assert!(
        !A::KEEPS_FLAG || l.is_linked() == linked,
        "an element linked twice, or unlinked while not on a list"
    );
}

fn links<'a, A: Adapter>(item: NonNull<A::Item>) -> &'a Links<A::Item> {
    // SAFETY: elements on a list (or being linked) are alive, as the caller of
    // `push_*`/`insert_*` promised; the reference is used only briefly.
    A::links(unsafe { &*item.as_ptr() })
}

impl<A: Adapter> List<A> {
    pub const fn new() -> Self {
        Self { head: None, tail: None, _adapter: PhantomData }
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub fn front(&self) -> Option<NonNull<A::Item>> {
        self.head
    }

    pub fn back(&self) -> Option<NonNull<A::Item>> {
        self.tail
    }

    /// The element after `item`, which is on this list.
    pub fn next(&self, item: NonNull<A::Item>) -> Option<NonNull<A::Item>> {
        links::<A>(item).next.get()
    }

    /// Appends `item`.
    ///
    /// # Safety
    /// `item` is alive, not on a list through these links, and stays alive
    /// and in place until it is removed.
    pub unsafe fn push_back(&mut self, item: NonNull<A::Item>) {
        let l = links::<A>(item);
        debug_check::<A>(l, false);
        mark::<A>(l, true);
        l.next.set(None);
        l.prev.set(self.tail);
        match self.tail {
            Some(tail) => links::<A>(tail).next.set(Some(item)),
            None => self.head = Some(item),
        }
        self.tail = Some(item);
    }

    /// Puts `item` first.
    ///
    /// # Safety
    /// As for [`List::push_back`].
    pub unsafe fn push_front(&mut self, item: NonNull<A::Item>) {
        let l = links::<A>(item);
        debug_check::<A>(l, false);
        mark::<A>(l, true);
        l.prev.set(None);
        l.next.set(self.head);
        match self.head {
            Some(head) => links::<A>(head).prev.set(Some(item)),
            None => self.tail = Some(item),
        }
        self.head = Some(item);
    }

    /// Inserts `item` before the first element `e` with `goes_before(item, e)`,
    /// or at the end: with a "strictly less" test, equal keys stay FIFO.
    /// O(1) when it goes last, else O(position).
    ///
    /// # Safety
    /// As for [`List::push_back`].
    pub unsafe fn insert_ordered(&mut self, item: NonNull<A::Item>, goes_before: impl Fn(&A::Item, &A::Item) -> bool) {
        // Most inserts go last (equal keys, or later deadlines): O(1) then.
        // SAFETY: elements on the list are alive (see `push_back`), `item` too.
        if self.tail.is_none_or(|tail| !goes_before(unsafe { item.as_ref() }, unsafe { tail.as_ref() })) {
            // SAFETY: forwarded from our caller.
            return unsafe { self.push_back(item) };
        }
        let mut cursor = self.head;
        while let Some(c) = cursor {
            // SAFETY: elements on the list are alive (see `push_back`).
            if goes_before(unsafe { item.as_ref() }, unsafe { c.as_ref() }) {
                break;
            }
            cursor = links::<A>(c).next.get();
        }
        let Some(before) = cursor else {
            // SAFETY: forwarded from our caller.
            return unsafe { self.push_back(item) };
        };
        let l = links::<A>(item);
        mark::<A>(l, true);
        let prev = links::<A>(before).prev.get();
        l.prev.set(prev);
        l.next.set(Some(before));
        links::<A>(before).prev.set(Some(item));
        match prev {
            Some(p) => links::<A>(p).next.set(Some(item)),
            None => self.head = Some(item),
        }
    }

    /// Takes the first element off.
    pub fn pop_front(&mut self) -> Option<NonNull<A::Item>> {
        let item = self.head?;
        let l = links::<A>(item);
        self.head = l.next.get();
        match self.head {
            Some(next) => links::<A>(next).prev.set(None),
            None => self.tail = None,
        }
        mark::<A>(l, false);
        Some(item)
    }

    /// Takes the first element off and appends `item`, in one step: a
    /// yield's "the running task goes last, the first one runs". Cheaper
    /// than [`List::pop_front`] then [`List::push_back`]: the list is never
    /// empty in between, so neither end is cleared and set again.
    ///
    /// # Safety
    /// The list is not empty; `item` is as for [`List::push_back`].
    pub unsafe fn rotate(&mut self, item: NonNull<A::Item>) -> NonNull<A::Item> {
        debug_assert!(!self.is_empty());
        // SAFETY: the list is not empty, as our caller promised.
        let first = unsafe { self.head.unwrap_unchecked() };
        let f = links::<A>(first);
        mark::<A>(f, false);
        let l = links::<A>(item);
        debug_check::<A>(l, false);
        mark::<A>(l, true);
        l.next.set(None);
        match f.next.get() {
            // `first` was alone: `item` is now the whole list.
            None => {
                l.prev.set(None);
                self.head = Some(item);
            }
            Some(second) => {
                links::<A>(second).prev.set(None);
                self.head = Some(second);
                // SAFETY: two or more elements: there is a tail, and it is not `first`.
                let tail = unsafe { self.tail.unwrap_unchecked() };
                links::<A>(tail).next.set(Some(item));
                l.prev.set(Some(tail));
            }
        }
        self.tail = Some(item);
        first
    }

    /// Unlinks `item`, which must be on this list.
    ///
    /// # Safety
    /// `item` is on this list (not on another list using the same links).
    pub unsafe fn remove(&mut self, item: NonNull<A::Item>) {
        let l = links::<A>(item);
        debug_check::<A>(l, true);
        let (prev, next) = (l.prev.get(), l.next.get());
        match prev {
            Some(p) => links::<A>(p).next.set(next),
            None => self.head = next,
        }
        match next {
            Some(n) => links::<A>(n).prev.set(prev),
            None => self.tail = prev,
        }
        mark::<A>(l, false);
    }

    /// The elements, first to last (do not change the list while iterating).
    pub fn iter(&self) -> impl Iterator<Item = NonNull<A::Item>> + '_ {
        let mut cursor = self.head;
        core::iter::from_fn(move || {
            let c = cursor?;
            cursor = links::<A>(c).next.get();
            Some(c)
        })
    }
}

impl<A: Adapter> Default for List<A> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    pub struct Node {
        pub key: u32,
        pub links: Links<Node>,
    }

    pub struct ByLinks;
    impl Adapter for ByLinks {
        type Item = Node;
        fn links(item: &Node) -> &Links<Node> {
            &item.links
        }
    }

    pub fn nodes(keys: &[u32]) -> Vec<NonNull<Node>> {
        keys.iter().map(|&key| NonNull::from(Box::leak(Box::new(Node { key, links: Links::new() })))).collect()
    }

    fn keys(list: &List<ByLinks>) -> Vec<u32> {
        // SAFETY: test nodes are leaked, so alive.
        list.iter().map(|n| unsafe { n.as_ref() }.key).collect()
    }

    #[test]
    fn fifo_order_and_both_ends() {
        let n = nodes(&[1, 2, 3]);
        let mut list = List::<ByLinks>::new();
        // SAFETY: leaked nodes, each pushed once.
        unsafe {
            list.push_back(n[1]);
            list.push_back(n[2]);
            list.push_front(n[0]);
        }
        assert_eq!(keys(&list), [1, 2, 3]);
        assert_eq!(list.pop_front(), Some(n[0]));
        // SAFETY: test nodes are leaked, so alive.
        assert!(!ByLinks::links(unsafe { n[0].as_ref() }).is_linked());
        assert_eq!(keys(&list), [2, 3]);
        assert_eq!(list.pop_front(), Some(n[1]));
        assert_eq!(list.pop_front(), Some(n[2]));
        assert_eq!(list.pop_front(), None);
        assert!(list.is_empty());
    }

    #[test]
    fn rotate_takes_the_front_and_appends() {
        let n = nodes(&[1, 2, 3, 4, 5]);
        let mut list = List::<ByLinks>::new();
        // SAFETY: leaked nodes; each is on the list at most once.
        unsafe {
            // Alone: the front goes, the new one is the whole list.
            list.push_back(n[0]);
            assert_eq!(list.rotate(n[1]), n[0]);
            assert_eq!(keys(&list), [2]);
            assert!(!ByLinks::links(n[0].as_ref()).is_linked() && ByLinks::links(n[1].as_ref()).is_linked());
            // Several: the second becomes the front, the new one the back.
            list.push_back(n[2]);
            list.push_back(n[3]);
            assert_eq!(list.rotate(n[0]), n[1]);
            assert_eq!(keys(&list), [3, 4, 1]);
            // The links both ways are right: take off the new back and the
            // new front, then add at both ends.
            list.remove(n[0]);
            list.remove(n[2]);
            assert_eq!(keys(&list), [4]);
            list.push_front(n[4]);
            list.push_back(n[0]);
            assert_eq!(keys(&list), [5, 4, 1]);
            assert_eq!(list.rotate(n[1]), n[4]);
            assert_eq!(list.rotate(n[4]), n[3]);
            assert_eq!(keys(&list), [1, 2, 5]);
        }
    }

    #[test]
    fn remove_from_anywhere() {
        let n = nodes(&[1, 2, 3, 4]);
        let mut list = List::<ByLinks>::new();
        for &x in &n {
            // SAFETY: leaked nodes, each pushed once.
            unsafe { list.push_back(x) };
        }
        // SAFETY: all four are on the list.
        unsafe {
            list.remove(n[1]);
            list.remove(n[3]);
        }
        assert_eq!(keys(&list), [1, 3]);
        // SAFETY: both are on the list.
        unsafe {
            list.remove(n[0]);
            list.remove(n[2]);
        }
        assert!(list.is_empty() && list.front().is_none());
        // SAFETY: n[3] was removed, so it may go on again.
        unsafe { list.push_back(n[3]) };
        assert_eq!(keys(&list), [4]);
    }

    #[test]
    fn ordered_insert_is_stable() {
        let n = nodes(&[5, 1, 5, 3, 9, 1]);
        let mut list = List::<ByLinks>::new();
        for &x in &n {
            // SAFETY: leaked nodes, each inserted once.
            unsafe { list.insert_ordered(x, |a, b| a.key < b.key) };
        }
        assert_eq!(keys(&list), [1, 1, 3, 5, 5, 9]);
        // The two 5s keep their arrival order.
        // SAFETY: test nodes are leaked, so alive.
        let fives: Vec<_> = list.iter().filter(|p| unsafe { p.as_ref() }.key == 5).collect();
        assert_eq!(fives, [n[0], n[2]]);
    }
}
