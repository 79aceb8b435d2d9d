// ilusion's first instructions: from reset (or the loader) to Rust.
//
// Runs at the *physical* load address with the MMU off, so everything here
// is position-independent (adr/adrp). In order:
//   1. hold every core but core 0 (those a loader starts here too);
//   2. drop from EL3 or EL2 to EL1 (whatever the loader started us at),
//      leaving higher_el.s's vectors there to answer hvc and smc;
//   3. enable FP/SIMD, zero the boot table;
//   4. map the 1 GiB of RAM holding the image twice with one boot table,
//      at its physical address (TTBR0) and in the upper half (TTBR1);
//   5. turn the MMU on, jump to the upper half, switch to the boot stack
//      (SP_EL0; SP_EL1 is the exception stack), zero .bss and call
//      `ilusion_start`.
// `ilusion_start` (src/arch/aarch64/start.rs) then builds the real tables.
//
// The other cores come through here later, when core 0 starts them (see
// src/arch/aarch64/smp.rs), at `secondary_entry`: the same steps 2, 3 (FP
// only) and 5, with x21 = 1, then onto the stacks and tables core 0 left
// for them in `SECONDARY_BOOT`, and into `ilusion_secondary_start`.

.section .text.boot, "ax"
.global _start
_start:
    // An arm64 Linux image header: lets QEMU and other loaders boot the raw
    // image (`kernel8.img`/`<example>.img`) at RAM + 0x80000 with x0 = DTB.
    b       1f                      // code0: jump over the header
    .word   0                       // code1
    .quad   __text_offset               // text_offset: where in RAM to load us
    .quad   __image_mem_size        // image_size
    .quad   0x2                     // flags: little endian, 4 KiB pages
    .quad   0, 0, 0                 // reserved
    .ascii  "ARM\x64"               // magic
    .word   0                       // reserved (PE header offset)

1:  mov     x19, x0                 // device tree address, if the loader gave one
    mov     x21, xzr                // 0: the boot core (1: a core started later)

    // 1. Core 0 runs. A loader that starts every core here (the Pis' ELF
    // path, QEMU virt at EL3) leaves the others in the holding pen: core n
    // waits until core 0 writes an entry address into `holding_pen[n]`.
    mrs     x1, mpidr_el1
    and     x1, x1, #0xffffff       // Aff2.Aff1.Aff0
    cbz     x1, find_el
    cmp     x1, #{MAX_CPUS}         // other clusters, or too many cores: never started
    b.hs    park
    adrp    x2, holding_pen         // physical: the MMU is off
    add     x2, x2, :lo12:holding_pen
    add     x2, x2, x1, lsl #3
pen:
    wfe                             // core 0 sends an event after writing
    ldr     x3, [x2]                // MMU off: a non-cacheable read, so core 0
    cbz     x3, pen                 // cleaned its write to memory first
    br      x3
park:
    wfe
    b       park

// A core started by core 0 (PSCI, spin table or holding pen) begins here,
// at this physical address, MMU off, at EL3, EL2 or EL1.
.global secondary_entry
secondary_entry:
    mov     x21, #1
    mov     x19, xzr

find_el:
    // 2. Find out where we are and go to EL1.
    mrs     x20, CurrentEL
    lsr     x20, x20, #2            // x20 = boot exception level, kept for Rust
    mrs     x2, id_aa64pfr0_el1
    ubfx    x3, x2, #24, #4         // GIC field: non-zero = GICv3 system registers
    cmp     x20, #3
    b.ne    from_el2

from_el3:
    // Stay in the Secure world (NS=0): EL1 owns every interrupt group then.
    // RW=1: the level below is AArch64. Bits 4 and 5 are RES1.
    mov     x0, #(1 << 10) | (1 << 5) | (1 << 4)
    msr     scr_el3, x0
    msr     cptr_el3, xzr           // no FP/SIMD traps
    msr     mdcr_el3, xzr           // no debug or PMU traps (reset UNKNOWN)
    cbz     x3, 3f
    mov     x0, #0xf                // ICC_SRE_EL3: SRE, DFB, DIB, Enable lower
    msr     S3_6_C12_C12_5, x0
    isb
3:  adrp    x0, higher_el_vectors   // hvc/smc from below answered (higher_el.s)
    add     x0, x0, :lo12:higher_el_vectors
    msr     vbar_el3, x0
    mov     x0, #0x3c5              // EL1h, all of DAIF masked
    msr     spsr_el3, x0
    adr     x0, at_el1
    msr     elr_el3, x0
    eret

from_el2:
    cmp     x20, #2
    b.ne    at_el1
    ldr     x0, ={HCR_EL2}          // RW: EL1 is AArch64; TSC on some boards (start.rs)
    msr     hcr_el2, x0
    adrp    x0, higher_el_vectors   // hvc/smc from below answered (higher_el.s)
    add     x0, x0, :lo12:higher_el_vectors
    msr     vbar_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3              // EL1PCTEN | EL1PCEN: EL1 owns the timers
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr        // virtual time = physical time
    mov     x0, #0x33ff             // CPTR_EL2: RES1 bits, TFP clear
    msr     cptr_el2, x0
    // MDCR_EL2 resets UNKNOWN: with TDA or TPM set, EL1's writes of
    // MDSCR_EL1 and PMUSERENR_EL0 (arch::cpu::close_el0_debug_and_monitors)
    // would trap here, where nothing handles them. No traps, and every PMU
    // counter to EL1 (HPMN = PMCR_EL0.N, where there is a PMUv3).
    mov     x1, xzr
    mrs     x0, id_aa64dfr0_el1
    ubfx    x0, x0, #8, #4          // PMUVer: 0 none, 0xf not PMUv3
    cbz     x0, 5f
    cmp     x0, #0xf
    b.eq    5f
    mrs     x1, pmcr_el0
    ubfx    x1, x1, #11, #5         // PMCR_EL0.N
5:  msr     mdcr_el2, x1
    cbz     x3, 4f
    mov     x0, #0xf                // ICC_SRE_EL2: SRE, DFB, DIB, Enable lower
    msr     S3_4_C12_C9_5, x0
    isb
4:  mov     x0, #0x3c5              // EL1h, all of DAIF masked
    msr     spsr_el2, x0
    adr     x0, at_el1
    msr     elr_el2, x0
    eret

at_el1:
    // 3. FP/SIMD on (CPACR_EL1.FPEN = 0b11); Rust code uses the vector
    // registers. They are the boot context's until it becomes the core's
    // idle task; from then on they switch lazily (fp.rs). No task runs yet
    // (TPIDR_EL1 = 0: the exception return leaves FP/SIMD on).
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    msr     tpidr_el1, xzr
    isb
    cbnz    x21, mmu_on             // the boot table: core 0 made it

    // The boot table is zeroed here, with the MMU off (.bss is zeroed
    // later, in cacheable memory: see zero_bss).
    adrp    x0, boot_l1_table
    add     x1, x0, #4096
    bl      zero_64

    // 4. The boot table: one L1 table used by both TTBR0 and TTBR1. With
    // 39-bit address spaces the upper-half alias of physical address P is
    // KERNEL_OFFSET + P, and KERNEL_OFFSET has no bits below bit 39, so both
    // use the same L1 index: P >> 30.
    adrp    x0, boot_l1_table
    adr     x1, _start
    lsr     x2, x1, #30             // L1 index of the image
    lsl     x3, x2, #30             // 1 GiB block base
    mov     x4, #0x701              // block: valid, AttrIndx 0, inner shareable, AF
    orr     x3, x3, x4
    str     x3, [x0, x2, lsl #3]
    dsb     ishst

mmu_on:
    // 5. MMU on. MAIR: 0 = normal write-back, 1 = Device-nGnRE, 2 = normal non-cacheable.
    ldr     x1, =0x4404ff
    msr     mair_el1, x1
    // TCR: T0SZ = T1SZ = 25 (39-bit), 4 KiB granules, write-back inner
    // shareable walks, A1 = 1 (the ASID is TTBR1's: see mmu/kernel.rs),
    // IPS from the CPU's physical address range.
    ldr     x1, =0x00000000B5593519
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #7
    bfi     x1, x2, #32, #3
    msr     tcr_el1, x1
    adrp    x0, boot_l1_table
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    // SCTLR_EL1: RES1 bits, M (MMU), C (data cache), SA and SA0 (stack
    // alignment checks), I (instruction cache). WXN comes later, with the
    // real tables: the boot block is writable *and* executable.
    ldr     x1, =0x30d0181d
    msr     sctlr_el1, x1
    isb

    ldr     x0, =upper_half
    br      x0

upper_half:
    // The boot path's outermost frame: its call frame information (in
    // .debug_frame, kept in the ELF) says it has no caller, so a debugger's
    // `bt` ends here.
    .cfi_sections .debug_frame
    .cfi_startproc
    .cfi_undefined x30
    cbnz    x21, secondary_upper_half
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    adrp    x0, __exception_stack_top
    add     x0, x0, :lo12:__exception_stack_top
    mov     sp, x0                  // SP_EL1: exceptions only
    adrp    x0, __boot_stack_top
    add     x0, x0, :lo12:__boot_stack_top
    msr     sp_el0, x0
    msr     spsel, #0               // normal code runs on SP_EL0
    isb
    bl      zero_bss
    mov     x29, xzr                // end of the frame-pointer chain
    mov     x30, xzr
    mov     x0, x20                 // boot exception level
    mov     x1, x19                 // device tree (physical), or 0
    bl      ilusion_start
    b       park

secondary_upper_half:
    // Core 0 left this core's stacks and translation roots in
    // SECONDARY_BOOT[core]. The stacks are mapped only in the kernel's
    // tables, so switch to those first (same upper half for the code).
    mrs     x19, mpidr_el1
    and     x19, x19, #0xff         // this core's number
    adrp    x0, SECONDARY_BOOT
    add     x0, x0, :lo12:SECONDARY_BOOT
    mov     x1, #{BOOT_RECORD_SIZE}
    madd    x0, x19, x1, x0
    ldp     x2, x3, [x0]            // exception stack top, idle stack top
    ldp     x4, x5, [x0, #16]       // TTBR1 (kernel view), TTBR0 (empty)
    msr     ttbr1_el1, x4
    msr     ttbr0_el1, x5
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    mov     sp, x2                  // SP_EL1: exceptions only
    msr     sp_el0, x3              // SP_EL0: this core's idle loop
    msr     spsel, #0
    isb
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    bl      ilusion_secondary_start
    b       park
    .cfi_endproc

// Zeroes .bss (both ends on 64 bytes, see the linker script) before any
// Rust code runs, with zero_64. Uses x0-x3 and v0-v3 only.
zero_bss:
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
    // fall through

// Zeroes x0 up to x1 (both on 64 bytes): 64 bytes an instruction, a `st1`
// of four zeroed vector registers (FP/SIMD is on from step 3), eight a
// loop. The first pass jumps into the loop's body, as many stores from its
// end as the blocks past whole groups of eight (zero to seven), so that no
// block is left for a slower tail: a tail a block at a time cost up to 30
// instructions, and `reset_to_main` moved with the size of .bss modulo 512.
// (`DC ZVA` zeroes a 64-byte block an instruction too, but takes no
// offset: an add for each, and it faults with the MMU off, where the boot
// table is zeroed: aligned stores are fine in that Device memory.)
// Uses x0-x3 and v0-v3 only; position-independent, so it runs before the
// MMU is on too.
zero_64:
    movi    v0.2d, #0
    movi    v1.2d, #0
    movi    v2.2d, #0
    movi    v3.2d, #0
    sub     x2, x1, x0
    and     x2, x2, #(7 << 6)       // the blocks past whole groups of eight, 64 bytes each
    adr     x3, 2f
    sub     x3, x3, x2, lsr #4      // back one 4-byte store a block
    br      x3
1:  .rept 8
    st1     {{v0.2d-v3.2d}}, [x0], #64
    .endr
2:  cmp     x0, x1
    b.lo    1b
    ret

.ltorg

.section .data.holding_pen, "aw"
// Written by core 0 (then cleaned to memory), read with the MMU off: in
// .data, not .bss, since cores wait here before core 0 zeroes .bss.
.balign 64
.global holding_pen
holding_pen:
    .fill {MAX_CPUS}, 8, 0

.section .boot_table, "aw", @nobits
.balign 4096
boot_l1_table:
    .space 4096
