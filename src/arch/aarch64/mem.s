// memcpy, memmove and memset for the whole image: the compiler calls them
// for every copy or fill it does not inline (moving a task control block, a
// message, a closure). They replace the portable ones of Rust's
// compiler_builtins, which copy byte by byte whenever source and
// destination are not equally aligned.
//
// AArch64 loads and stores general registers at any alignment in normal
// memory (the MMU is on before the first Rust code runs), so these copy 16
// bytes per ldp/stp, 64 per loop turn, and finish with one 16-byte step
// that ends exactly at the end (overlapping the step before, which is fine:
// the bytes are the same). A copy of 16 to 64 bytes takes no loop: two or
// four overlapping 16-byte pieces. Sizes under 16 take at most two
// overlapping loads and stores. They use only x0-x15 (no FP/SIMD register:
// those are switched lazily, see fp.rs, and a copy must not trap for
// them), and return the destination in x0, as C says.

.section .text.memcpy, "ax"
.global memcpy
// memcpy(x0 = dst, x1 = src, x2 = n): the two do not overlap.
memcpy:
    add     x4, x1, x2              // source end
    add     x5, x0, x2              // destination end
    cmp     x2, #16
    b.lo    copy_small
    ldp     x6, x7, [x4, #-16]      // the last 16 bytes, stored at the end
    // 16 to 64 bytes (most moves of a struct): two or four overlapping
    // 16-byte pieces from both ends, all read before any is written.
    ldp     x8, x9, [x1]
    cmp     x2, #32
    b.hi    1f
    stp     x8, x9, [x0]
    stp     x6, x7, [x5, #-16]
    ret
1:  cmp     x2, #64
    b.hi    copy_large
    ldp     x10, x11, [x1, #16]
    ldp     x12, x13, [x4, #-32]
    stp     x8, x9, [x0]
    stp     x10, x11, [x0, #16]
    stp     x12, x13, [x5, #-32]
    stp     x6, x7, [x5, #-16]
    ret

// More than 64 bytes (x6, x7: the last 16, read first).
copy_large:
    mov     x3, x0
    sub     x2, x2, #64
1:  ldp     x8, x9, [x1]            // 64 bytes a turn while more than 64 are left
    ldp     x10, x11, [x1, #16]
    ldp     x12, x13, [x1, #32]
    ldp     x14, x15, [x1, #48]
    add     x1, x1, #64
    stp     x8, x9, [x3]
    stp     x10, x11, [x3, #16]
    stp     x12, x13, [x3, #32]
    stp     x14, x15, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hi    1b
2:  adds    x2, x2, #48             // up to 64 left: 16 at a time while more than 16
    b.le    4f
3:  ldp     x8, x9, [x1], #16
    stp     x8, x9, [x3], #16
    subs    x2, x2, #16
    b.gt    3b
4:  stp     x6, x7, [x5, #-16]
    ret

// Fewer than 16 bytes (x4, x5: the ends): the first and the last 8, 4 or
// 1-2 bytes, which overlap when n is not a power of two.
copy_small:
    tbz     x2, #3, 1f
    ldr     x6, [x1]
    ldr     x7, [x4, #-8]
    str     x6, [x0]
    str     x7, [x5, #-8]
    ret
1:  tbz     x2, #2, 2f
    ldr     w6, [x1]
    ldr     w7, [x4, #-4]
    str     w6, [x0]
    str     w7, [x5, #-4]
    ret
2:  cbz     x2, 3f
    ldrb    w6, [x1]                // 1 to 3 bytes: first, middle, last
    lsr     x3, x2, #1
    ldrb    w7, [x1, x3]
    ldrb    w8, [x4, #-1]
    strb    w6, [x0]
    strb    w7, [x0, x3]
    strb    w8, [x5, #-1]
3:  ret

.section .text.memmove, "ax"
.global memmove
// memmove(x0 = dst, x1 = src, x2 = n): they may overlap. Copying forwards
// is right unless the destination starts inside the source; memcpy also
// reads everything of a step (and the last 16 bytes, and a small copy
// whole) before it writes.
memmove:
    sub     x3, x0, x1
    cmp     x3, x2
    b.hs    memcpy                  // dst below src, or past its end
    cmp     x2, #16
    b.lo    memcpy                  // small: read whole before written
    // Backwards, 16 bytes a turn from the end, with the first 16 bytes read
    // first and stored last.
    ldp     x6, x7, [x1]
    add     x4, x1, x2
    add     x5, x0, x2
    mov     x3, x0
1:  ldp     x8, x9, [x4, #-16]!
    stp     x8, x9, [x5, #-16]!
    sub     x2, x2, #16
    cmp     x2, #16
    b.hi    1b
    stp     x6, x7, [x3]
    ret

.section .text.memset, "ax"
.global memset
// memset(x0 = dst, w1 = byte, x2 = n), in the same steps as memcpy.
memset:
    and     x1, x1, #0xff
    mov     x3, #0x0101010101010101
    mul     x1, x1, x3              // the byte in all eight
    add     x5, x0, x2
    cmp     x2, #16
    b.lo    set_small
    stp     x1, x1, [x5, #-16]
    // 16 to 64 bytes: two or four overlapping 16-byte pieces from both ends.
    stp     x1, x1, [x0]
    cmp     x2, #32
    b.ls    1f
    cmp     x2, #64
    b.hi    set_large
    stp     x1, x1, [x0, #16]
    stp     x1, x1, [x5, #-32]
1:  ret

set_large:
    mov     x3, x0
    sub     x2, x2, #64
1:  stp     x1, x1, [x3]
    stp     x1, x1, [x3, #16]
    stp     x1, x1, [x3, #32]
    stp     x1, x1, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hi    1b
2:  adds    x2, x2, #48
    b.le    4f
3:  stp     x1, x1, [x3], #16
    subs    x2, x2, #16
    b.gt    3b
4:  ret

set_small:
    tbz     x2, #3, 1f
    str     x1, [x0]
    str     x1, [x5, #-8]
    ret
1:  tbz     x2, #2, 2f
    str     w1, [x0]
    str     w1, [x5, #-4]
    ret
2:  cbz     x2, 3f
    strb    w1, [x0]
    lsr     x3, x2, #1
    strb    w1, [x0, x3]
    strb    w1, [x5, #-1]
3:  ret
