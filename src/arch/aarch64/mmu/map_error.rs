//! Why a mapping could not be made or undone ([`MapError`]), shared by the
//! table builder (`table.rs`), the kernel's address space and the tasks'.

/// Why `PageTable::map`, `unmap` or an address space's mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// An address or the size is not a multiple of the page size.
    Misaligned { va: u64, pa: u64, size: u64 },
    /// Part of the range is mapped already.
    AlreadyMapped { va: u64 },
    /// The page at `va` had to be mapped, and is not.
    NotMapped { va: u64 },
    /// The table allocator ran out.
    OutOfTables,
    /// No frame was left for a page (the frame allocator ran out).
    OutOfFrames,
    /// No kernel heap was left to record a new mapping.
    NoRoomToRecord,
    /// The kernel's own tables are not built yet (before `mmu::init`).
    NoKernelTables,
    /// `unmap` met a block mapping (it only removes pages).
    BlockInRange { va: u64 },
}

/// In words, for the boot log and reports (the derived `Debug` stays for
/// tests: formatting it links `core`'s struct builders into the image).
impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match *self {
            Self::Misaligned { va, pa, size } => {
                write!(f, "not page-aligned: va {va:#x}, pa {pa:#x}, size {size:#x}")
            }
            Self::AlreadyMapped { va } => write!(f, "{va:#x} is mapped already"),
            Self::NotMapped { va } => write!(f, "{va:#x} is not mapped"),
            Self::OutOfTables => f.write_str("no memory for a translation table"),
            Self::OutOfFrames => f.write_str("no free frame for a page"),
            Self::NoRoomToRecord => f.write_str("no kernel heap left to record the mapping"),
            Self::NoKernelTables => f.write_str("the kernel's translation tables are not built yet"),
            Self::BlockInRange { va } => write!(f, "a block mapping at {va:#x} (only pages are unmapped)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MapError;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn each_error_names_its_addresses() {
        let misaligned = MapError::Misaligned { va: 0x1001, pa: 0x2000, size: 0x1000 };
        assert_eq!(misaligned.to_string(), "not page-aligned: va 0x1001, pa 0x2000, size 0x1000");
        assert_eq!(MapError::AlreadyMapped { va: 0x5000 }.to_string(), "0x5000 is mapped already");
        assert_eq!(MapError::OutOfTables.to_string(), "no memory for a translation table");
    }
}
