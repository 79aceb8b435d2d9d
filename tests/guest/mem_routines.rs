//! QEMU test: `memcpy`, `memmove` and `memset` (src/arch/aarch64/mem.s)
//! against a byte-by-byte reference, for every length from 0 to 300 and
//! every alignment of source and destination within 16 bytes; `memmove`
//! also for every overlap of up to 40 bytes either way. The bytes around
//! the destination must not change.
#![no_std]
#![no_main]

use core::ptr;

ilusion::entry!(main);

const MAX_LEN: usize = 300;
const ARENA: usize = MAX_LEN + 128;

/// Byte `i` of the source pattern (never 0, never repeating with period 2^k).
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(7) % 251) as u8 + 1
}

/// Reads without the compiler turning the reference loop into a memcpy.
fn get(buf: &[u8; ARENA], i: usize) -> u8 {
    // SAFETY: in bounds (callers index below ARENA).
    unsafe { ptr::read_volatile(buf.as_ptr().add(i)) }
}

fn fill(buf: &mut [u8; ARENA], byte: impl Fn(usize) -> u8) {
    for i in 0..ARENA {
        // SAFETY: in bounds.
        unsafe { ptr::write_volatile(buf.as_mut_ptr().add(i), byte(i)) };
    }
}

fn main() {
    let mut src = [0u8; ARENA];
    let mut dst = [0u8; ARENA];
    let mut cases = 0u64;
    let mut wrong = 0u64;
    // memcpy and memset: every length and alignment.
    for len in 0..=MAX_LEN {
        for s_off in 0..16 {
            for d_off in 0..16 {
                fill(&mut src, pattern);
                fill(&mut dst, |_| 0xee);
                let n = core::hint::black_box(len);
                // SAFETY: both ranges are within their arrays and do not overlap.
                unsafe { ptr::copy_nonoverlapping(src.as_ptr().add(s_off), dst.as_mut_ptr().add(d_off + 32), n) };
                for i in 0..ARENA {
                    let expected = if (d_off + 32..d_off + 32 + len).contains(&i) {
                        pattern(i - d_off - 32 + s_off)
                    } else {
                        0xee
                    };
                    wrong += u64::from(get(&dst, i) != expected);
                }
                cases += 1;
            }
            let value = core::hint::black_box(0x80 | s_off as u8);
            fill(&mut dst, |_| 0xee);
            // SAFETY: within the array.
            unsafe { ptr::write_bytes(dst.as_mut_ptr().add(s_off + 32), value, core::hint::black_box(len)) };
            for i in 0..ARENA {
                let expected = if (s_off + 32..s_off + 32 + len).contains(&i) { value } else { 0xee };
                wrong += u64::from(get(&dst, i) != expected);
            }
            cases += 1;
        }
    }
    ilusion::println!("memcpy, memset: {cases} cases, {wrong} bytes wrong");
    let mut moves = 0u64;
    let mut move_wrong = 0u64;
    // memmove within one buffer: every overlap up to 40 bytes each way.
    for len in 0..=MAX_LEN / 2 {
        for shift in -40i64..=40 {
            for base in [40usize, 43] {
                fill(&mut src, pattern);
                let from = base;
                let to = (base as i64 + shift) as usize;
                // SAFETY: both ranges are within the array (base >= 40, len <= 150).
                unsafe { ptr::copy(src.as_ptr().add(from), src.as_mut_ptr().add(to), core::hint::black_box(len)) };
                for i in 0..ARENA {
                    let expected = if (to..to + len).contains(&i) { pattern(i - to + from) } else { pattern(i) };
                    move_wrong += u64::from(get(&src, i) != expected);
                }
                moves += 1;
            }
        }
    }
    ilusion::println!("memmove: {moves} cases, {move_wrong} bytes wrong");
    let ok = wrong == 0 && move_wrong == 0;
    ilusion::println!("{}", if ok { "memory routines ok" } else { "memory routines FAILED" });
    ilusion::exit(if ok { 0 } else { 1 });
}
