//! Function names for backtraces, read from the image itself.
//!
//! After linking, `tools/symbols/link` (the linker cargo calls, see
//! `.cargo/config.toml`) writes a table of every function's start address
//! and demangled name (`hello::main`, without the hash) into the section
//! `.ilusion.symbols`, which `linker/ilusion.ld` places after `.rodata`.
//! [`lookup`] turns an address into `name+0xoffset`, so a panic or fault
//! report printed on a Raspberry Pi names its frames with no host-side help,
//! as Linux's kallsyms does. The layout is in [`format`]; docs/05 tells the
//! whole story and its cost.

pub mod format;

pub use format::{Symbol, Table};

/// The table linked into the running image: empty if the image was linked
/// without `tools/symbols/link` (then backtraces show bare addresses), an
/// error if its bytes are malformed.
#[cfg(target_os = "none")]
pub fn table() -> Result<Table<'static>, format::FormatError> {
    extern "C" {
        static __symbols_start: u8;
        static __symbols_end: u8;
    }
    use core::ptr::addr_of;
    let start = addr_of!(__symbols_start);
    let len = addr_of!(__symbols_end) as usize - start as usize;
    // SAFETY: the linker script brackets the section with these two symbols;
    // it lies in the image's read-only data, mapped for the kernel for good
    // and never written after linking.
    let bytes = unsafe { core::slice::from_raw_parts(start, len) };
    Table::parse(bytes)
}

/// The function `addr` is in, and how far into it, by the image's own table.
#[cfg(target_os = "none")]
pub fn lookup(addr: u64) -> Option<Symbol<'static>> {
    table().ok()?.lookup(addr)
}
