// What stays at EL2 and EL3 once boot.s has gone down to EL1: a vector
// table for each, installed by boot.s (VBAR_EL2 / VBAR_EL3) on every core
// before it leaves that level. Without one, a kernel task's `hvc #0` or
// `smc #0` jumped to address VBAR = 0 + 0x400 and spun there for ever.
//
// A call from below (EC 0x16 HVC64, 0x17 SMC64) is answered the way a
// firmware answers a function it does not know: x0 = -1 (SMCCC
// NOT_SUPPORTED), nothing else changed, back after the instruction. At EL2
// an `smc` arrives only when trapped (HCR_EL2.TSC, on boards whose firmware
// has no secure monitor): its return address is the `smc` itself, so step
// over it. Anything else is a bug or a trap nobody asked for: it goes down
// to EL1, to `ilusion_higher_el_exception` (higher_el.rs), which reports
// the syndrome and stops the machine. The stub runs with its MMU off, at
// physical addresses, position-independent, using no stack and no
// register but x0 (x0-x4 on the way to the report).

.macro higher_el_stub el
.section .text.higher_el\el, "ax"
.balign 2048
.global higher_el\el\()_vectors
higher_el\el\()_vectors:
    // This level itself, with SP_EL0 then SP_ELx: sync, IRQ, FIQ, SError.
    .rept 8
    .balign 128
    b       higher_el\el\()_unexpected
    .endr
    // From a lower level in AArch64: sync (the calls), IRQ, FIQ, SError
    // (none is routed here); then from AArch32 (never: EL1 is AArch64).
    .balign 128
    b       higher_el\el\()_lower_sync
    .rept 7
    .balign 128
    b       higher_el\el\()_unexpected
    .endr

higher_el\el\()_lower_sync:
    mrs     x0, esr_el\el
    lsr     x0, x0, #26             // exception class
    cmp     x0, #0x16               // HVC64
    b.eq    1f
    cmp     x0, #0x17               // SMC64
    b.ne    higher_el\el\()_unexpected
.if \el == 2
    mrs     x0, elr_el2             // a trapped smc: resume after it
    add     x0, x0, #4
    msr     elr_el2, x0
.endif
1:  mov     x0, #-1                 // SMCCC NOT_SUPPORTED
    eret

higher_el\el\()_unexpected:
    mrs     x0, esr_el\el
    mrs     x1, elr_el\el
    mrs     x2, far_el\el
    mov     x3, #\el
    ldr     x4, =ilusion_higher_el_exception // its upper-half address: EL1's MMU is on
    msr     elr_el\el, x4
    mov     x4, #0x3c5              // EL1h, all of DAIF masked
    msr     spsr_el\el, x4
    eret
.ltorg
.endm

higher_el_stub 2
higher_el_stub 3
