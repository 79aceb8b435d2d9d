//! The kernel's memory map, as data.
//!
//! The image's sections (from the linker script's symbols), the RAM around
//! it and the board's devices become a list of [`Region`]s, each with what
//! it may be used for ([`RegionKind`]). Everything is mapped at
//! `KERNEL_OFFSET + physical address`; what is not listed stays unmapped:
//! page 0, the stack guard pages, and everything that is neither RAM nor a
//! device.

use core::mem::MaybeUninit;

/// What a region may be used for; the MMU code picks the permission bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Read-only, executable: `.text`.
    Code,
    /// Read-only, never executable: the image's constants (`.rodata`),
    /// which isolated tasks read too (the user view of the MMU code).
    Constants,
    /// Read-only, never executable: the RAM below the image (where loaders
    /// put the device tree).
    ReadOnly,
    /// Read-write, never executable: `.data`, `.bss`, stacks, the heap.
    Data,
    /// Device registers: Device-nGnRE, never executable.
    Device,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub virt: u64,
    pub phys: u64,
    pub size: u64,
    pub kind: RegionKind,
}

/// A range of physical addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    pub base: u64,
    pub size: u64,
}

impl PhysRange {
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A device's registers, as a board lists them.
#[derive(Clone, Copy, Debug)]
pub struct DeviceRegion {
    pub name: &'static str,
    pub range: PhysRange,
}

/// The image's sections, as kernel (virtual) addresses from the linker script.
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    pub start: u64,
    pub text_end: u64,
    pub rodata_end: u64,
    /// End of `.data` + `.bss`; the page tables follow.
    pub data_end: u64,
    pub boot_stack: (u64, u64),
    pub exception_stack: (u64, u64),
    pub end: u64,
}

/// At most this many regions: 7 for the image and RAM, the rest devices.
pub const MAX_REGIONS: usize = 16;

/// A memory map: up to [`MAX_REGIONS`] regions, built before there is a heap.
pub struct MemoryMap {
    /// The regions, in address order: the first `len` are written, the
    /// rest not, so an empty map costs nothing to make (with `None`s in the
    /// empty slots it was 776 bytes copied from `.rodata` at boot).
    regions: [MaybeUninit<Region>; MAX_REGIONS],
    len: usize,
}

impl MemoryMap {
    /// A map with no regions. (Not a constant: the compiler zeroes a
    /// copy of one, 776 bytes, where this writes `len` only.)
    pub fn empty() -> Self {
        Self { regions: [MaybeUninit::uninit(); MAX_REGIONS], len: 0 }
    }

    /// Adds `region`, keeping the map in address order (the MMU code maps
    /// the regions in that order): the ones above it move up a slot.
    fn push(&mut self, region: Region) {
        assert!(self.len < MAX_REGIONS, "more than {MAX_REGIONS} memory regions");
        let mut at = self.len;
        while at > 0 && self.written()[at - 1].virt > region.virt {
            self.regions[at] = self.regions[at - 1];
            at -= 1;
        }
        self.regions[at].write(region);
        self.len += 1;
    }

    /// The regions, in address order.
    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.written().iter()
    }

    /// The slots written so far.
    fn written(&self) -> &[Region] {
        // SAFETY: `push` writes a slot before it counts it, and moves only
        // written slots up (to the slot just past them).
        unsafe { self.regions[..self.len].assume_init_ref() }
    }
}

/// Adds the kernel memory map to `map` (empty): the image's sections, RAM
/// below and above it, devices. (Filled in place: the map is about 800
/// bytes, and returned by value it was copied twice at boot.)
pub fn kernel_regions(
    map: &mut MemoryMap,
    image: &ImageLayout,
    ram: PhysRange,
    devices: &[DeviceRegion],
    to_phys: impl Fn(u64) -> u64,
) {
    let offset = image.start - to_phys(image.start);
    use RegionKind::*;
    let image_regions = [
        ("ram below image", ram.base + offset, image.start, ReadOnly),
        (".text", image.start, image.text_end, Code),
        (".rodata", image.text_end, image.rodata_end, Constants),
        (".data .bss page tables", image.rodata_end, image.boot_stack.0 - GUARD_SIZE, Data),
        ("boot stack", image.boot_stack.0, image.boot_stack.1, Data),
        ("exception stack", image.exception_stack.0, image.exception_stack.1, Data),
        ("heap", image.end, ram.end() + offset, Data),
    ];
    let device_regions = devices.iter().map(|d| (d.name, d.range.base + offset, d.range.end() + offset, Device));
    // Devices first: on QEMU virt they are all below RAM, and the map is
    // kept in address order by moving what is above a new region up.
    for (name, virt, end, kind) in device_regions.chain(image_regions) {
        if end > virt {
            map.push(Region { name, virt, phys: virt - offset, size: end - virt, kind });
        }
    }
}

/// The size of the unmapped guard page below each stack.
pub const GUARD_SIZE: u64 = super::PAGE_SIZE;

#[cfg(target_os = "none")]
pub use target::*;

/// What only the running image knows: where the linker put its parts.
#[cfg(target_os = "none")]
mod target {
    use super::{ImageLayout, GUARD_SIZE};

    impl ImageLayout {
        /// The layout of the running image.
        pub fn current() -> Self {
            extern "C" {
                static __image_start: u8;
                static __text_end: u8;
                static __rodata_end: u8;
                static __data_end: u8;
                static __boot_stack_bottom: u8;
                static __boot_stack_top: u8;
                static __exception_stack_bottom: u8;
                static __exception_stack_top: u8;
                static __image_end: u8;
            }
            use core::ptr::addr_of;
            Self {
                start: addr_of!(__image_start) as u64,
                text_end: addr_of!(__text_end) as u64,
                rodata_end: addr_of!(__rodata_end) as u64,
                data_end: addr_of!(__data_end) as u64,
                boot_stack: (addr_of!(__boot_stack_bottom) as u64, addr_of!(__boot_stack_top) as u64),
                exception_stack: (addr_of!(__exception_stack_bottom) as u64, addr_of!(__exception_stack_top) as u64),
                end: addr_of!(__image_end) as u64,
            }
        }
    }

    /// Is `addr` one of the image's stack guard pages?
    pub fn is_guard_page(addr: u64) -> bool {
        let l = ImageLayout::current();
        [l.boot_stack.0, l.exception_stack.0].iter().any(|&bottom| (bottom - GUARD_SIZE..bottom).contains(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    const OFF: u64 = 0xffff_ff80_0000_0000;

    #[test]
    fn regions_cover_image_and_ram_and_leave_guards() {
        let k = |pa: u64| pa + OFF;
        let image = ImageLayout {
            start: k(0x4008_0000),
            text_end: k(0x4008_8000),
            rodata_end: k(0x4008_a000),
            data_end: k(0x4008_c000),
            boot_stack: (k(0x4009_5000), k(0x400a_5000)),
            exception_stack: (k(0x400a_6000), k(0x400a_a000)),
            end: k(0x400a_a000),
        };
        let ram = PhysRange { base: 0x4000_0000, size: 1 << 30 };
        let uart = DeviceRegion { name: "uart", range: PhysRange { base: 0x0900_0000, size: 0x1000 } };
        // One device below RAM (as on QEMU virt), one above (as on the Pis).
        let gpio = DeviceRegion { name: "gpio", range: PhysRange { base: 0xfe20_0000, size: 0x1000 } };
        let mut map = MemoryMap::empty();
        kernel_regions(&mut map, &image, ram, &[uart, gpio], |va| va - OFF);
        let regions: Vec<Region> = map.regions().copied().collect();
        let find = |name: &str| *regions.iter().find(|r| r.name == name).unwrap();
        assert_eq!(find(".text").kind, RegionKind::Code);
        assert_eq!(find(".text").phys, 0x4008_0000);
        assert_eq!(find(".rodata").size, 0x2000);
        assert_eq!(find(".rodata").kind, RegionKind::Constants);
        assert_eq!(find("ram below image").size, 0x8_0000);
        assert_eq!(find("heap").virt, k(0x400a_a000));
        assert_eq!(find("heap").phys + find("heap").size, 0x8000_0000);
        assert_eq!(find("uart").virt, k(0x0900_0000));
        assert_eq!(find("uart").kind, RegionKind::Device);
        // The guard page below each stack is in no region.
        for guard in [k(0x4009_4000), k(0x400a_5000)] {
            assert!(regions.iter().all(|r| !(r.virt..r.virt + r.size).contains(&guard)), "{guard:#x} mapped");
        }
        // In address order.
        assert!(regions.windows(2).all(|w| w[0].virt < w[1].virt), "{regions:?}");
        assert_eq!(regions[0].name, "uart");
        assert_eq!(regions[regions.len() - 1].name, "gpio");
        // Nothing overlaps.
        for (i, a) in regions.iter().enumerate() {
            for b in &regions[i + 1..] {
                assert!(a.virt + a.size <= b.virt || b.virt + b.size <= a.virt, "{a:?} overlaps {b:?}");
            }
        }
    }
}
