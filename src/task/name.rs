//! A task's name: shared by the task and every [`Task`](super::Task) value
//! naming it, and made without panicking when memory is out.
//!
//! `TaskName` is a reference-counted string, like `Arc<str>`, but
//! [`TaskName::try_new`] reports an allocation failure instead of ending
//! the caller, so `Builder::spawn` can return `SpawnError::OutOfMemory`.
//! Cloning only bumps the count; the last drop frees the block.

use core::alloc::Layout;
use core::fmt::{self, Write};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The block's header; the name's bytes follow it.
#[repr(C)]
struct Header {
    refs: AtomicUsize,
    len: usize,
}

/// A shared, immutable task name.
pub struct TaskName(NonNull<Header>);

// SAFETY: the bytes never change after `try_new`, and the count is atomic.
unsafe impl Send for TaskName {}
// SAFETY: as above.
unsafe impl Sync for TaskName {}

/// The block for a name of `len` bytes, and where the bytes start in it.
fn layout(len: usize) -> (Layout, usize) {
    let (layout, offset) = Layout::new::<Header>().extend(Layout::array::<u8>(len).unwrap()).unwrap();
    (layout.pad_to_align(), offset)
}

impl TaskName {
    /// A copy of `name`, or `None` if the heap has no room for it.
    pub fn try_new(name: &str) -> Option<Self> {
        let (layout, offset) = layout(name.len());
        // SAFETY: the layout is not zero-sized (it holds a header).
        let block = NonNull::new(unsafe { alloc::alloc::alloc(layout) } as *mut Header)?;
        // SAFETY: a fresh block of `layout`: the header, then `name.len()` bytes at `offset`.
        unsafe {
            block.write(Header { refs: AtomicUsize::new(1), len: name.len() });
            let bytes = (block.as_ptr() as *mut u8).add(offset);
            core::ptr::copy_nonoverlapping(name.as_ptr(), bytes, name.len());
        }
        Some(Self(block))
    }

    fn header(&self) -> &Header {
        // SAFETY: the block lives while a `TaskName` refers to it.
        unsafe { self.0.as_ref() }
    }

    pub fn as_str(&self) -> &str {
        let len = self.header().len;
        // SAFETY: `try_new` copied `len` bytes of a `str` at this offset; they never change.
        unsafe {
            let bytes = (self.0.as_ptr() as *const u8).add(layout(len).1);
            core::str::from_utf8_unchecked(core::slice::from_raw_parts(bytes, len))
        }
    }
}

impl From<&str> for TaskName {
    /// As [`TaskName::try_new`]; panics when out of memory (for names made at boot).
    fn from(name: &str) -> Self {
        Self::try_new(name).expect("out of memory for a task name")
    }
}

impl Clone for TaskName {
    fn clone(&self) -> Self {
        self.header().refs.fetch_add(1, Ordering::Relaxed);
        Self(self.0)
    }
}

impl Drop for TaskName {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) == 1 {
            core::sync::atomic::fence(Ordering::Acquire);
            let (layout, _) = layout(self.header().len);
            // SAFETY: the last reference: nothing reads the block any more; it came
            // from `alloc` with this layout.
            unsafe { alloc::alloc::dealloc(self.0.as_ptr() as *mut u8, layout) };
        }
    }
}

impl core::ops::Deref for TaskName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// A name as reports, logs and the shell print it: as given, but with its
/// control characters escaped by their code (a newline as `\x0a`, an escape
/// as `\x1b`, a C1 control such as U+009B as `\u{9b}`), so a task's name
/// can neither forge a line of a report nor drive the terminal. Allocates
/// nothing (reports print it when memory is out), and stays small: a byte
/// scan, no Unicode tables.
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    #[inline(never)] // one copy for every report that names a task
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let (text, bytes) = (self.0, self.0.as_bytes());
        let (mut clean_from, mut i) = (0, 0);
        while i < bytes.len() {
            // A control character: one byte (C0, DEL) or, in UTF-8, two (C1: 0xc2 0x80..=0x9f).
            let (code, len) = match bytes[i] {
                b @ (0..=0x1f | 0x7f) => (b, 1),
                0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => (bytes[i + 1], 2),
                _ => {
                    i += 1;
                    continue;
                }
            };
            // `i` starts a character (an ASCII byte or a lead byte): a boundary.
            f.write_str(text.get(clean_from..i).unwrap_or_default())?;
            f.write_str(if len == 1 { "\\x" } else { "\\u{" })?;
            f.write_char(HEX[usize::from(code >> 4)] as char)?;
            f.write_char(HEX[usize::from(code & 0xf)] as char)?;
            if len == 2 {
                f.write_char('}')?;
            }
            i += len;
            clean_from = i;
        }
        f.write_str(text.get(clean_from..).unwrap_or_default())
    }
}

impl fmt::Display for TaskName {
    /// The name, control characters escaped ([`Printable`]).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        Printable(self.as_str()).fmt(f)
    }
}

impl fmt::Debug for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_one_block_and_frees_it_with_the_last_reference() {
        let a = TaskName::try_new("worker №1").unwrap();
        let b = a.clone();
        assert_eq!((a.as_str(), &*b), ("worker №1", "worker №1"));
        assert_eq!(a.0, b.0, "a clone shares the block");
        assert_eq!(a.header().refs.load(Ordering::Relaxed), 2);
        drop(a);
        assert_eq!(b.header().refs.load(Ordering::Relaxed), 1);
        assert_eq!(std::format!("{b} {b:?}"), "worker №1 \"worker №1\"");
        assert_eq!(TaskName::try_new("").unwrap().as_str(), "");
    }

    #[test]
    fn control_characters_are_printed_escaped() {
        let forged = TaskName::try_new("evil\nok all checks passed\x1b[2J\tnom").unwrap();
        assert_eq!(forged.as_str(), "evil\nok all checks passed\x1b[2J\tnom", "kept as given");
        assert_eq!(std::format!("{forged}"), "evil\\x0aok all checks passed\\x1b[2J\\x09nom");
        assert_eq!(std::format!("{}", Printable("worker №1")), "worker №1");
        assert_eq!(std::format!("{}", Printable("csi\u{9b}2J del\x7f é\u{a0}")), "csi\\u{9b}2J del\\x7f é\u{a0}");
        assert_eq!(std::format!("{}", Printable("\n")), "\\x0a");
        assert_eq!(std::format!("{}", Printable("")), "");
    }
}
