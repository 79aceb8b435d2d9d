//! The one way a driver reaches its device's registers: [`Mmio<T>`], a
//! shared reference to a block of memory-mapped registers `T` declared with
//! `tock-registers` (`register_structs!`), at an address fixed at build time.
//!
//! Every access goes through `tock-registers`' `Readable`/`Writeable`
//! interfaces, so it is a single volatile read or write of the declared
//! width; a read-modify-write (`modify`) is two accesses, and each driver
//! says who keeps those from interleaving. [`Mmio`] dereferences to `T`,
//! so a driver writes `self.regs.CR.write(CR::UARTEN::SET)`.
//!
//! The GIC is the one device whose registers are not declared here: the
//! `arm-gic` crate ([`super::gic`]) drives them through its own pointer
//! type; only the few registers it leaves alone ([`super::gicv2_targets`],
//! [`super::gicv2_cpu_interface`]) go through [`Mmio`].

use core::marker::PhantomData;
use core::ops::Deref;

/// The registers `T` at a fixed mapped address.
pub struct Mmio<T> {
    base: u64,
    registers: PhantomData<T>,
}

// SAFETY: `T` is a block of `tock-registers` registers (promised to `new`):
// each access through `&T` is one volatile read or write of device memory,
// which any core may make. Multi-access sequences are the driver's to order
// (each driver's documentation says how it does).
unsafe impl<T> Sync for Mmio<T> {}
// SAFETY: as above; the address stays valid wherever the value moves.
unsafe impl<T> Send for Mmio<T> {}

impl<T> Mmio<T> {
    /// # Safety
    /// `base` is the kernel address of registers laid out as `T` (a
    /// `register_structs!` block), mapped as device memory for good, and no
    /// other driver instance uses them.
    pub const unsafe fn new(base: u64) -> Self {
        Self { base, registers: PhantomData }
    }
}

impl<T> Deref for Mmio<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: `new`'s caller promised registers laid out as `T`, mapped for good.
        unsafe { &*(self.base as *const T) }
    }
}
