// What stays at EL2 and EL3 once boot.s has gone down to EL1: one vector
// table, installed by boot.s (VBAR_EL2 or VBAR_EL3) on every core before it
// leaves that level. Without one, a kernel task's `hvc #0` or `smc #0`
// jumped to address VBAR = 0 + 0x400 and spun there for ever.
//
// A call from below (EC 0x16 HVC64, 0x17 SMC64) is answered the way a
// firmware answers a function it does not know: x0 = -1 (SMCCC
// NOT_SUPPORTED), nothing else changed, back after the instruction. At EL2
// an `smc` arrives only when trapped (HCR_EL2.TSC, on boards whose firmware
// has no secure monitor): its return address is the `smc` itself, so step
// over it. Anything else is a bug or a trap nobody asked for: it goes down
// to EL1, to `ilusion_higher_el_exception` (higher_el.rs), which reports
// the syndrome and stops the machine.
//
// One table serves both levels (CurrentEL picks the registers), and its
// code sits in its own entries, 32 instructions each: the table is its
// whole cost, 2 KiB, placed by the linker script right after the boot code
// where the alignment costs nothing more. It runs with its level's MMU off,
// at physical addresses, position-independent, using no stack and no
// register but x0 (x0-x4 on the way to the report).

.equ EC_HVC64, 0x16
.equ EC_SMC64, 0x17
.equ EL1H_MASKED, 0x3c5                 // SPSR: EL1h, all of DAIF masked

// Hands the exception at level \el down to EL1's report: its syndrome,
// return address and fault address in x0-x2, the level in x3.
.macro report_at_el1 el
    mrs     x0, esr_el\el
    mrs     x1, elr_el\el
    mrs     x2, far_el\el
    mov     x3, #\el
    ldr     x4, =ilusion_higher_el_exception // its upper-half address: EL1's MMU is on
    msr     elr_el\el, x4
    mov     x4, #EL1H_MASKED
    msr     spsr_el\el, x4
    eret
.endm

.section .text.higher_el, "ax"
.balign 2048
.global higher_el_vectors
higher_el_vectors:
// Entry 0 (this level, SP_EL0, sync) holds the report path; the other
// entries that nothing should reach branch to it.
higher_el_unexpected:
    mrs     x0, CurrentEL
    cmp     x0, #(3 << 2)
    b.eq    1f
    report_at_el1 2
1:  report_at_el1 3
.ltorg
.rept 7                                 // this level: the rest
    .balign 128
    b       higher_el_unexpected
.endr

// Entry 8: from a lower level in AArch64, sync: the calls.
    .balign 128
    mrs     x0, CurrentEL
    cmp     x0, #(3 << 2)
    b.eq    3f
    mrs     x0, esr_el2
    lsr     x0, x0, #26                 // exception class
    cmp     x0, #EC_HVC64
    b.eq    2f
    cmp     x0, #EC_SMC64
    b.ne    higher_el_unexpected
    mrs     x0, elr_el2                 // a trapped smc: resume after it
    add     x0, x0, #4
    msr     elr_el2, x0
2:  mov     x0, #-1                     // SMCCC NOT_SUPPORTED
    eret
3:  mrs     x0, esr_el3
    lsr     x0, x0, #26
    cmp     x0, #EC_SMC64
    b.ne    higher_el_unexpected
    mov     x0, #-1
    eret

// From a lower level: IRQ, FIQ, SError (none is routed here), then
// AArch32 (never: EL1 is AArch64).
.rept 7
    .balign 128
    b       higher_el_unexpected
.endr
    .balign 128                         // the table's full 2 KiB
