// The chainloader's first instructions. The firmware (or QEMU) puts the
// image at 0x80000 and starts core 0 there, at EL2 (or EL3), MMU off, x0 =
// device tree. Cores other than 0 are parked. Core 0 copies the loader up
// to its link address (link.ld), clears .bss, enables FP/SIMD at the
// current level, and calls `loader_main(device_tree)`.
//
// Parked cores: the firmware keeps cores 1-3 in its own spin table and
// never starts them here. QEMU booting the loader's ELF starts every core
// here, at EL3 (at the link address: the ELF is loaded there), as it would
// start every core in an image's ELF; `chainload_jump` sends them to the
// received image's entry too, so it finds them where it would have
// (before, they stayed in `park` and the image ran on one core).

.section .text.start, "ax"
.global _start
_start:
    // arm64 Linux image header, so loaders put us at RAM + 0x80000.
    b       1f
    .word   0
    .quad   0x80000                 // text_offset
    .quad   __loader_size           // image_size
    .quad   0x2                     // little endian, 4 KiB pages
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .word   0

1:  mrs     x1, mpidr_el1
    and     x1, x1, #0xffffff
    cbz     x1, 2f
    adr     x2, _start              // only a core started in the linked copy is
    ldr     x3, =__loader_start     // released: one started at 0x80000 would run
    cmp     x2, x3                  // code the image overwrites, so it stays
    b.ne    stay
park:
    wfe
    ldr     x2, =secondary_entry    // the linked copy: where chainload_jump writes
    ldr     x3, [x2]                // MMU off: a non-cacheable read
    cbz     x3, park
    br      x3                      // the image's entry, as if started there
stay:
    wfe
    b       stay

2:  mov     x19, x0                 // device tree, handed on to the image
    adr     x1, _start              // where we run
    ldr     x2, =__loader_start     // where we are linked
    cmp     x1, x2
    b.eq    4f
    ldr     x3, =__loader_end
3:  ldp     x4, x5, [x1], #16
    stp     x4, x5, [x2], #16
    cmp     x2, x3
    b.lo    3b
    dsb     sy
    ic      iallu
    dsb     sy
    isb
4:  ldr     x1, =relocated
    br      x1

relocated:
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
5:  cmp     x1, x2
    b.hs    6f
    str     xzr, [x1], #8
    b       5b

6:  // FP/SIMD untrapped at this level and below (Rust uses the vector registers).
    mrs     x1, CurrentEL
    lsr     x1, x1, #2
    cmp     x1, #3
    b.ne    7f
    msr     cptr_el3, xzr
7:  cmp     x1, #2
    b.lt    8f
    mov     x2, #0x33ff             // CPTR_EL2: RES1 bits, TFP clear
    msr     cptr_el2, x2
8:  mov     x2, #(3 << 20)          // CPACR_EL1.FPEN
    msr     cpacr_el1, x2
    isb
    ldr     x1, =__stack_top
    mov     sp, x1
    mov     x0, x19
    bl      loader_main
    b       stay

// chainload_jump(entry, device_tree): make the received code visible to
// instruction fetch, then enter it as a loader would: x0 = device tree,
// x1-x3 = 0, same exception level, MMU and caches as the firmware left them.
.global chainload_jump
chainload_jump:
    dsb     sy
    ic      iallu
    dsb     sy
    isb
    ldr     x5, =secondary_entry    // parked cores (if any) go there too
    str     x0, [x5]
    dsb     sy
    sev
    mov     x4, x0
    mov     x0, x1
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x4

.ltorg

// Where parked cores go once the image has arrived (0: not yet). In .data,
// so it is 0 in the ELF QEMU loads and in the copy core 0 makes.
.section .data
.balign 8
secondary_entry:
    .quad   0
