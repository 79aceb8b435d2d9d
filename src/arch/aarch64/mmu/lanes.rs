//! Two `u64`s side by side (`table::fill_known_free`'s pairs of entries): a
//! vector register on the target, a plain pair on the host (the same
//! layout: 16 bytes, 16-byte aligned), so the host tests run the same fill.

#[cfg(target_arch = "aarch64")]
pub use core::arch::aarch64::uint64x2_t as Pair;

#[cfg(not(target_arch = "aarch64"))]
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct Pair([u64; 2]);

/// `[low, high]`.
#[inline(always)]
pub fn pair(low: u64, high: u64) -> Pair {
    #[cfg(target_arch = "aarch64")]
    {
        use core::arch::aarch64::{vcombine_u64, vcreate_u64};
        // SAFETY: register operations only; every aarch64 target has
        // NEON (`aarch64-unknown-none` enables it).
        unsafe { vcombine_u64(vcreate_u64(low), vcreate_u64(high)) }
    }
    #[cfg(not(target_arch = "aarch64"))]
    Pair([low, high])
}

/// `*to = pairs`: on the target in one instruction (a `st1` of four
/// registers, 64 bytes), where the compiler makes two `stp q`.
#[inline(always)]
pub fn store4(to: &mut [Pair; 4], pairs: [Pair; 4]) {
    #[cfg(target_arch = "aarch64")]
    {
        use core::arch::aarch64::{uint64x2x4_t, vst1q_u64_x4};
        let [a, b, c, d] = pairs;
        // SAFETY: `to` is 64 writable bytes, as many as the store writes.
        unsafe { vst1q_u64_x4(to.as_mut_ptr().cast(), uint64x2x4_t(a, b, c, d)) }
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        *to = pairs;
    }
}

/// Lane by lane (no carry between them).
#[inline(always)]
pub fn add(a: Pair, b: Pair) -> Pair {
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: as in `pair`.
        unsafe { core::arch::aarch64::vaddq_u64(a, b) }
    }
    #[cfg(not(target_arch = "aarch64"))]
    Pair([a.0[0] + b.0[0], a.0[1] + b.0[1]])
}
