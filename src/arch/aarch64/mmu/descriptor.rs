//! ARMv8-A stage 1 translation-table descriptors (4 KiB granule), by name.
//!
//! A descriptor is one 64-bit entry of a translation table. It either points
//! to the next-level table, or maps a block (1 GiB at level 1, 2 MiB at
//! level 2) or a page (4 KiB at level 3) with attributes. This module knows
//! the bits; [`Attributes`] says what a mapping *means* (code, read-only
//! data, data, device) and turns that into bits.

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::registers::InMemoryRegister;

register_bitfields! {u64,
    /// The fields of a stage 1 block, page or table descriptor.
    pub DESCRIPTOR [
        /// Unprivileged (EL0) execute-never.
        UXN OFFSET(54) NUMBITS(1) [],
        /// Privileged (EL1) execute-never.
        PXN OFFSET(53) NUMBITS(1) [],
        /// Output address (or next-table address), bits [47:12].
        OUTPUT_ADDR OFFSET(12) NUMBITS(36) [],
        /// Not global: the translation belongs to one ASID.
        NG OFFSET(11) NUMBITS(1) [],
        /// Access flag: set, so the first access does not fault.
        AF OFFSET(10) NUMBITS(1) [],
        /// Shareability.
        SH OFFSET(8) NUMBITS(2) [
            NonShareable = 0b00,
            OuterShareable = 0b10,
            InnerShareable = 0b11
        ],
        /// Access permissions.
        AP OFFSET(6) NUMBITS(2) [
            RW_EL1 = 0b00,
            RW_EL1_EL0 = 0b01,
            RO_EL1 = 0b10,
            RO_EL1_EL0 = 0b11
        ],
        /// Index into MAIR_EL1 (see [`MemoryType`]).
        ATTR_INDEX OFFSET(2) NUMBITS(3) [],
        /// At levels 1 and 2: 0 = block, 1 = table. At level 3 it must be 1 (page).
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            TableOrPage = 1
        ],
        VALID OFFSET(0) NUMBITS(1) []
    ]
}

/// The memory types programmed into MAIR_EL1 at boot, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum MemoryType {
    /// Normal memory, write-back cacheable (MAIR 0xff).
    Normal = 0,
    /// Device-nGnRE: no gathering, no reordering, early write ack (MAIR 0x04).
    Device = 1,
    /// Normal memory, not cacheable (MAIR 0x44).
    NormalUncached = 2,
}

/// The MAIR_EL1 value matching [`MemoryType`].
pub const MAIR_VALUE: u64 = 0x0044_04ff;

/// Who may access a mapping, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub memory: MemoryType,
    pub writable: bool,
    /// Executable by the kernel (EL1).
    pub kernel_exec: bool,
    /// Accessible from EL0 (user tasks).
    pub user: bool,
    /// Executable from EL0.
    pub user_exec: bool,
    /// Tied to one address space (ASID) rather than global.
    pub not_global: bool,
}

impl Attributes {
    /// Kernel code: read-only, executable.
    pub const KERNEL_CODE: Self = Self::kernel(MemoryType::Normal, false, true);
    /// Kernel constants: read-only, never executable.
    pub const KERNEL_RODATA: Self = Self::kernel(MemoryType::Normal, false, false);
    /// Kernel data, heap and stacks: read-write, never executable.
    pub const KERNEL_DATA: Self = Self::kernel(MemoryType::Normal, true, false);
    /// Device registers: Device-nGnRE, read-write, never executable.
    pub const DEVICE: Self = Self::kernel(MemoryType::Device, true, false);

    /// The image's code as isolated tasks see it: read-only at EL1 and
    /// *execute-only* at EL0 (no EL0 data access, so PAN is not involved).
    pub const SHARED_CODE: Self = Self { user_exec: true, ..Self::KERNEL_CODE };
    /// The image's constants in the kernel's view of the upper half: read-only
    /// at EL1, not global, because the user view maps the same addresses
    /// differently (see `mmu::kernel`) and the two must not share TLB entries.
    pub const KERNEL_VIEW_RODATA: Self = Self { not_global: true, ..Self::KERNEL_RODATA };
    /// The image's constants in the user view of the upper half: readable from
    /// EL0 too, and not global (see [`Self::KERNEL_VIEW_RODATA`]).
    pub const SHARED_RODATA: Self = Self { user: true, ..Self::KERNEL_VIEW_RODATA };
    /// An isolated task's own memory: read-write at EL0, never executable,
    /// tagged with the task's ASID.
    pub const USER_DATA: Self = Self {
        memory: MemoryType::Normal,
        writable: true,
        kernel_exec: false,
        user: true,
        user_exec: false,
        not_global: true,
    };

    const fn kernel(memory: MemoryType, writable: bool, kernel_exec: bool) -> Self {
        Self { memory, writable, kernel_exec, user: false, user_exec: false, not_global: false }
    }

    /// The attribute bits of a block or page descriptor with these attributes.
    /// (Inlined: a handful of ORs, on the path of every demand-paging fault.)
    #[inline]
    pub fn to_bits(self) -> u64 {
        let d = InMemoryRegister::<u64, DESCRIPTOR::Register>::new(0);
        let ap = match (self.writable, self.user) {
            (true, false) => DESCRIPTOR::AP::RW_EL1,
            (true, true) => DESCRIPTOR::AP::RW_EL1_EL0,
            (false, false) => DESCRIPTOR::AP::RO_EL1,
            (false, true) => DESCRIPTOR::AP::RO_EL1_EL0,
        };
        let sh = match self.memory {
            MemoryType::Device => DESCRIPTOR::SH::OuterShareable,
            _ => DESCRIPTOR::SH::InnerShareable,
        };
        d.write(
            DESCRIPTOR::ATTR_INDEX.val(self.memory as u64)
                + ap
                + sh
                + DESCRIPTOR::AF::SET
                + DESCRIPTOR::PXN.val(u64::from(!self.kernel_exec))
                + DESCRIPTOR::UXN.val(u64::from(!self.user_exec))
                + DESCRIPTOR::NG.val(u64::from(self.not_global)),
        );
        d.get()
    }

    /// Decodes the attributes of a valid block or page descriptor.
    pub fn from_bits(bits: u64) -> Self {
        let d = InMemoryRegister::<u64, DESCRIPTOR::Register>::new(bits);
        let memory = match d.read(DESCRIPTOR::ATTR_INDEX) {
            1 => MemoryType::Device,
            2 => MemoryType::NormalUncached,
            _ => MemoryType::Normal,
        };
        let ap = d.read(DESCRIPTOR::AP);
        Self {
            memory,
            writable: ap & 0b10 == 0,
            user: ap & 0b01 != 0,
            kernel_exec: !d.is_set(DESCRIPTOR::PXN),
            user_exec: !d.is_set(DESCRIPTOR::UXN),
            not_global: d.is_set(DESCRIPTOR::NG),
        }
    }
}

/// One translation-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(transparent)]
pub struct Descriptor(pub u64);

impl Descriptor {
    pub const INVALID: Self = Self(0);
    const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

    /// A descriptor pointing to a next-level table at physical `table`.
    #[inline]
    pub fn table(table: u64) -> Self {
        if table & !Self::ADDR_MASK != 0 {
            misaligned_table(table)
        }
        let d = InMemoryRegister::<u64, DESCRIPTOR::Register>::new(table);
        d.modify(DESCRIPTOR::VALID::SET + DESCRIPTOR::TYPE::TableOrPage);
        Self(d.get())
    }

    /// A level 1 or 2 block descriptor mapping physical `addr`, with
    /// attribute bits encoded by [`Attributes::to_bits`].
    pub fn block_bits(addr: u64, attr_bits: u64) -> Self {
        Self(addr & Self::ADDR_MASK | attr_bits | 0b01)
    }

    /// A level 3 page descriptor mapping physical `addr`, with attribute
    /// bits encoded by [`Attributes::to_bits`].
    pub fn page_bits(addr: u64, attr_bits: u64) -> Self {
        Self(addr & Self::ADDR_MASK | attr_bits | 0b11)
    }

    pub fn is_valid(self) -> bool {
        self.0 & 1 != 0
    }

    /// At levels 1 and 2: does this point to a next-level table?
    pub fn is_table(self) -> bool {
        self.0 & 0b11 == 0b11
    }

    /// The physical address this descriptor points to or maps.
    pub fn address(self) -> u64 {
        self.0 & Self::ADDR_MASK
    }

    pub fn attributes(self) -> Attributes {
        Attributes::from_bits(self.0)
    }
}

/// A table address that is not a page's: a bug in the table builder.
#[cold]
#[inline(never)]
fn misaligned_table(table: u64) -> ! {
    panic!("table address {table:#x} not page aligned")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_read_only_and_kernel_executable() {
        let d = Descriptor::page_bits(0x4008_0000, Attributes::KERNEL_CODE.to_bits());
        assert_eq!(d.0 & 0b11, 0b11, "valid page");
        assert_eq!((d.0 >> 6) & 0b11, 0b10, "AP = read-only at EL1");
        assert_eq!(d.0 & (1 << 53), 0, "PXN clear: executable");
        assert_ne!(d.0 & (1 << 54), 0, "UXN set");
        assert_ne!(d.0 & (1 << 10), 0, "access flag set");
        assert_eq!((d.0 >> 8) & 0b11, 0b11, "inner shareable");
        assert_eq!(d.address(), 0x4008_0000);
    }

    #[test]
    fn data_is_writable_and_never_executable() {
        let d = Descriptor::page_bits(0x1000, Attributes::KERNEL_DATA.to_bits());
        assert_eq!((d.0 >> 6) & 0b11, 0b00, "AP = read-write at EL1");
        assert_ne!(d.0 & (1 << 53), 0, "PXN set");
        assert_ne!(d.0 & (1 << 54), 0, "UXN set");
    }

    #[test]
    fn device_uses_mair_index_1() {
        let d = Descriptor::block_bits(0x0800_0000, Attributes::DEVICE.to_bits());
        assert_eq!(d.0 & 0b11, 0b01, "valid block");
        assert_eq!((d.0 >> 2) & 0b111, 1);
        assert_eq!((MAIR_VALUE >> 8) & 0xff, 0x04, "Device-nGnRE");
        assert_eq!(MAIR_VALUE & 0xff, 0xff, "normal write-back");
    }

    #[test]
    fn attributes_round_trip() {
        for a in [Attributes::KERNEL_CODE, Attributes::KERNEL_RODATA, Attributes::KERNEL_DATA, Attributes::DEVICE] {
            assert_eq!(Descriptor::page_bits(0x2000, a.to_bits()).attributes(), a);
        }
        let user = Attributes { user: true, user_exec: true, not_global: true, ..Attributes::KERNEL_RODATA };
        assert_eq!(Attributes::from_bits(user.to_bits()), user);
    }

    #[test]
    fn the_two_views_of_rodata_differ_only_in_el0_access_and_are_not_global() {
        let kernel = Descriptor::page_bits(0x3000, Attributes::KERNEL_VIEW_RODATA.to_bits());
        let user = Descriptor::page_bits(0x3000, Attributes::SHARED_RODATA.to_bits());
        assert_eq!((kernel.0 >> 6) & 0b11, 0b10, "AP = read-only, EL1 only");
        assert_eq!((user.0 >> 6) & 0b11, 0b11, "AP = read-only, EL1 and EL0");
        assert_ne!(kernel.0 & (1 << 11), 0, "nG");
        assert_ne!(user.0 & (1 << 11), 0, "nG");
        assert_eq!(kernel.0 ^ user.0, 1 << 6, "nothing else differs");
    }

    #[test]
    fn table_descriptor() {
        let d = Descriptor::table(0x4010_0000);
        assert!(d.is_valid() && d.is_table());
        assert_eq!(d.address(), 0x4010_0000);
        assert_eq!(d.0, 0x4010_0003);
    }

    #[test]
    #[should_panic]
    fn misaligned_table_is_refused() {
        Descriptor::table(0x4010_0008);
    }
}
