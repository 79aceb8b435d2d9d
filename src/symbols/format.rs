//! The symbol table's byte format: how function start addresses and names
//! are laid out in the image's `.ilusion.symbols` section.
//!
//! The host tool `tools/symbols` writes it after linking ([`encode`], shared
//! with this file through `#[path]`); the kernel reads it ([`Table::parse`])
//! to name the frames of a backtrace. All numbers are little-endian.
//!
//! ```text
//! offset  size        field
//!      0  8           MAGIC, "ilsym" + version 1
//!      8  8           base: address every start is an offset from
//!     16  4           span: offset where the last function ends
//!     20  4           count: number of functions
//!     24  4           names_len: bytes of names after the entries
//!     28  4           reserved (0)
//!     32  8 * count   entries, by start address: (start: u32, name: u32)
//!      …  names_len   the names, UTF-8, back to back, in entry order
//! ```
//!
//! Function `i` covers `[base + start[i], base + start[i + 1])` (the last
//! one up to `base + span`), as Linux's kallsyms does: no sizes are stored.
//! Its name runs from `name[i]` to `name[i + 1]` (the last to `names_len`).
//! An empty table (no bytes at all) is valid and names nothing: the image
//! was linked without `tools/symbols/link`.

/// The first 8 bytes of a table: "ilsym", a zero, and the format version 1.
pub const MAGIC: [u8; 8] = *b"ilsym\0\x01\0";
/// Size of the header before the entries.
pub const HEADER_BYTES: usize = 32;
/// Size of one entry: start offset and name offset, 4 bytes each.
pub const ENTRY_BYTES: usize = 8;

/// What is wrong with a table's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Not empty, yet shorter than the header.
    TooShort { len: usize },
    /// The first 8 bytes are not [`MAGIC`] (another format or version).
    BadMagic,
    /// The header promises more entries and names than the bytes hold.
    Truncated { needed: usize, len: usize },
    /// Entry `index` starts before the one ahead of it, or beyond the span.
    UnsortedStart { index: usize },
    /// Entry `index`'s name starts before the previous one's, or past the names.
    BadNameOffset { index: usize },
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match *self {
            Self::TooShort { len } => write!(f, "{len} bytes, shorter than the {HEADER_BYTES}-byte header"),
            Self::BadMagic => write!(f, "not an ilusion symbol table (bad magic or version)"),
            Self::Truncated { needed, len } => write!(f, "header needs {needed} bytes, table has {len}"),
            Self::UnsortedStart { index } => write!(f, "entry {index} is out of address order"),
            Self::BadNameOffset { index } => write!(f, "entry {index} has a bad name offset"),
        }
    }
}

/// A function found by [`Table::lookup`]: its name and how far into it the address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub offset: u64,
}

impl core::fmt::Display for Symbol<'_> {
    /// `name+0xoff`, as Linux prints a kallsyms lookup.
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{}+{:#x}", self.name, self.offset)
    }
}

/// A checked view of a table's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    base: u64,
    span: u32,
    entries: &'a [u8],
    names: &'a [u8],
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl<'a> Table<'a> {
    /// Checks `bytes` (header, order of entries, name offsets) once, so that
    /// lookups cannot go out of bounds. Empty bytes are an empty table.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        if bytes.is_empty() {
            return Ok(Self { base: 0, span: 0, entries: &[], names: &[] });
        }
        if bytes.len() < HEADER_BYTES {
            return Err(FormatError::TooShort { len: bytes.len() });
        }
        if bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let mut base = [0; 8];
        base.copy_from_slice(&bytes[8..16]);
        let base = u64::from_le_bytes(base);
        let span = u32_at(bytes, 16);
        let count = u32_at(bytes, 20) as usize;
        let names_len = u32_at(bytes, 24) as usize;
        let needed = count
            .checked_mul(ENTRY_BYTES)
            .and_then(|e| e.checked_add(HEADER_BYTES))
            .and_then(|e| e.checked_add(names_len))
            .unwrap_or(usize::MAX);
        if needed > bytes.len() {
            return Err(FormatError::Truncated { needed, len: bytes.len() });
        }
        let names_at = HEADER_BYTES + count * ENTRY_BYTES;
        let table = Self { base, span, entries: &bytes[HEADER_BYTES..names_at], names: &bytes[names_at..needed] };
        let (mut last_start, mut last_name) = (0, 0);
        for index in 0..count {
            let (start, name) = table.entry(index);
            if start < last_start || start >= span {
                return Err(FormatError::UnsortedStart { index });
            }
            if name < last_name || name as usize > names_len {
                return Err(FormatError::BadNameOffset { index });
            }
            (last_start, last_name) = (start, name);
        }
        Ok(table)
    }

    /// How many functions the table names.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `index`: (start offset, name offset).
    fn entry(&self, index: usize) -> (u32, u32) {
        let at = index * ENTRY_BYTES;
        (u32_at(self.entries, at), u32_at(self.entries, at + 4))
    }

    /// The function `index` and its start address.
    pub fn get(&self, index: usize) -> Option<(u64, &'a str)> {
        if index >= self.len() {
            return None;
        }
        let (start, from) = self.entry(index);
        let to = if index + 1 < self.len() { self.entry(index + 1).1 as usize } else { self.names.len() };
        let name = core::str::from_utf8(&self.names[from as usize..to]).unwrap_or("<name not UTF-8>");
        Some((self.base + u64::from(start), name))
    }

    /// The function `addr` is in, with the offset into it; `None` outside
    /// every function (before the first, past the last one's end).
    pub fn lookup(&self, addr: u64) -> Option<Symbol<'a>> {
        let offset = addr.checked_sub(self.base)?;
        if self.is_empty() || offset >= u64::from(self.span) {
            return None;
        }
        // Binary search for the last entry starting at or before `offset`.
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            if u64::from(self.entry(mid).0) <= offset {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let index = low.checked_sub(1)?;
        let (start, name) = self.get(index)?;
        Some(Symbol { name, offset: addr - start })
    }
}

/// Lays out `functions` (start address, size, name) as a table. Sorted by
/// address here; of several names at one address the first given is kept.
/// Host-side only (`tools/symbols`, unit tests).
#[cfg(not(target_os = "none"))]
pub fn encode(functions: &[(u64, u64, &str)]) -> alloc::vec::Vec<u8> {
    use alloc::vec::Vec;
    let mut sorted: Vec<(u64, u64, &str)> = functions.to_vec();
    sorted.sort_by_key(|f| f.0); // stable: the first of several names stays first
    sorted.dedup_by_key(|f| f.0);
    let base = sorted.first().map_or(0, |f| f.0);
    // A function without a size (some assembly labels) gets one instruction.
    let end = sorted.iter().map(|f| f.0 + f.1.max(4)).max().unwrap_or(base);
    let span = u32::try_from(end - base).expect("functions span more than 4 GiB");
    let names_len: usize = sorted.iter().map(|f| f.2.len()).sum();
    let mut out = Vec::with_capacity(HEADER_BYTES + sorted.len() * ENTRY_BYTES + names_len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&span.to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    out.extend_from_slice(&(names_len as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut name_at = 0u32;
    for &(start, _, name) in &sorted {
        out.extend_from_slice(&((start - base) as u32).to_le_bytes());
        out.extend_from_slice(&name_at.to_le_bytes());
        name_at += name.len() as u32;
    }
    for &(_, _, name) in &sorted {
        out.extend_from_slice(name.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTIONS: &[(u64, u64, &str)] = &[
        (0xffff_ff80_0008_1000, 0x40, "hello::main"),
        (0xffff_ff80_0008_0000, 0x100, "_start"),
        (0xffff_ff80_0008_1040, 0x20, "ilusion::power::exit"),
    ];

    #[test]
    fn lookup_names_the_function_and_offset() {
        let bytes = encode(FUNCTIONS);
        let table = Table::parse(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        let found = table.lookup(0xffff_ff80_0008_101c).unwrap();
        assert_eq!(found, Symbol { name: "hello::main", offset: 0x1c });
        assert_eq!(found.to_string(), "hello::main+0x1c");
        assert_eq!(table.lookup(0xffff_ff80_0008_0000).unwrap().name, "_start");
        // A gap after _start's 0x100 bytes still counts as _start (no sizes kept).
        assert_eq!(table.lookup(0xffff_ff80_0008_0800).unwrap().name, "_start");
        assert_eq!(table.lookup(0xffff_ff80_0008_105f).unwrap().name, "ilusion::power::exit");
    }

    #[test]
    fn outside_every_function_is_none() {
        let bytes = encode(FUNCTIONS);
        let table = Table::parse(&bytes).unwrap();
        assert_eq!(table.lookup(0xffff_ff80_0007_fffc), None);
        assert_eq!(table.lookup(0xffff_ff80_0008_1060), None);
        assert_eq!(table.lookup(0), None);
        assert_eq!(table.lookup(u64::MAX), None);
    }

    #[test]
    fn entries_come_out_sorted_and_deduplicated() {
        let mut functions = FUNCTIONS.to_vec();
        functions.push((0xffff_ff80_0008_1000, 0x40, "an_alias"));
        let bytes = encode(&functions);
        let table = Table::parse(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(table.get(0), Some((0xffff_ff80_0008_0000, "_start")));
        assert_eq!(table.get(1), Some((0xffff_ff80_0008_1000, "hello::main")));
        assert_eq!(table.get(3), None);
        assert_eq!(bytes.len(), HEADER_BYTES + 3 * ENTRY_BYTES + "_starthello::mainilusion::power::exit".len());
    }

    #[test]
    fn empty_bytes_and_empty_table_name_nothing() {
        let table = Table::parse(&[]).unwrap();
        assert!(table.is_empty());
        assert_eq!(table.lookup(0x1000), None);
        let bytes = encode(&[]);
        assert_eq!(bytes.len(), HEADER_BYTES);
        let table = Table::parse(&bytes).unwrap();
        assert!(table.is_empty());
        assert_eq!(table.lookup(0), None);
    }

    #[test]
    fn malformed_tables_are_refused() {
        let good = encode(FUNCTIONS);
        assert_eq!(Table::parse(&good[..10]).unwrap_err(), FormatError::TooShort { len: 10 });
        let mut bad = good.clone();
        bad[6] = 2; // another version
        assert_eq!(Table::parse(&bad).unwrap_err(), FormatError::BadMagic);
        let len = good.len();
        assert_eq!(Table::parse(&good[..len - 1]).unwrap_err(), FormatError::Truncated { needed: len, len: len - 1 });
        let mut huge = good.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Table::parse(&huge).unwrap_err(), FormatError::Truncated { .. }));
        // Entry 1 starting before entry 0.
        let mut unsorted = good.clone();
        unsorted[HEADER_BYTES + ENTRY_BYTES..HEADER_BYTES + ENTRY_BYTES + 4].copy_from_slice(&0u32.to_le_bytes());
        unsorted[HEADER_BYTES..HEADER_BYTES + 4].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(Table::parse(&unsorted).unwrap_err(), FormatError::UnsortedStart { index: 1 });
        // A start at or past the span.
        let mut beyond = good.clone();
        beyond[16..20].copy_from_slice(&0x1000u32.to_le_bytes());
        assert_eq!(Table::parse(&beyond).unwrap_err(), FormatError::UnsortedStart { index: 1 });
        // A name offset past the names.
        let mut name = good.clone();
        let last = HEADER_BYTES + 2 * ENTRY_BYTES + 4;
        name[last..last + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(Table::parse(&name).unwrap_err(), FormatError::BadNameOffset { index: 2 });
    }

    #[test]
    fn a_name_that_is_not_utf8_does_not_break_lookup() {
        let mut bytes = encode(FUNCTIONS);
        let first_name = HEADER_BYTES + 3 * ENTRY_BYTES;
        bytes[first_name] = 0xff;
        let table = Table::parse(&bytes).unwrap();
        assert_eq!(table.lookup(0xffff_ff80_0008_0004).unwrap().name, "<name not UTF-8>");
        assert_eq!(table.lookup(0xffff_ff80_0008_1004).unwrap().name, "hello::main");
    }
}
