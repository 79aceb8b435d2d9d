// Saving and loading a task's FP/SIMD registers for the lazy switch; see
// src/arch/aarch64/fp.rs, which includes this file and gives the `.equ`
// lines their values from `FpRegisters`.
//
// Both are leaf functions that change only x0-x2 (and the FP/SIMD
// registers, for fp_load), so the trap path in vectors.s can call them with
// its own registers parked in x3 and up. FP/SIMD must be enabled
// (CPACR_EL1.FPEN) when they run.

.equ FP_CPACR, {FP_CPACR}           // the CPACR_EL1 value the task runs with
.equ FP_SAVED, {FP_SAVED}           // 0: never used FP/SIMD (starts at zero)
.equ FP_STATE, {FP_STATE}           // where q0-q31, then fpsr, fpcr go
.equ CPACR_FP_ON, {CPACR_FP_ON}

.section .text.fp_save, "ax"
// fp_save(x0 = &FpRegisters): stores the registers in it; from now on they
// are no longer the task's (it runs with FP/SIMD trapped).
.global fp_save
fp_save:
    ldr     x1, [x0, #FP_STATE]
    stp     q0, q1, [x1], #32
    stp     q2, q3, [x1], #32
    stp     q4, q5, [x1], #32
    stp     q6, q7, [x1], #32
    stp     q8, q9, [x1], #32
    stp     q10, q11, [x1], #32
    stp     q12, q13, [x1], #32
    stp     q14, q15, [x1], #32
    stp     q16, q17, [x1], #32
    stp     q18, q19, [x1], #32
    stp     q20, q21, [x1], #32
    stp     q22, q23, [x1], #32
    stp     q24, q25, [x1], #32
    stp     q26, q27, [x1], #32
    stp     q28, q29, [x1], #32
    stp     q30, q31, [x1], #32
    mrs     x2, fpsr
    str     x2, [x1]
    mrs     x2, fpcr
    str     x2, [x1, #8]
    mov     x1, #1
    stp     xzr, x1, [x0, #FP_CPACR]        // trapped; saved
    ret

// fp_load(x0 = &FpRegisters): makes the registers the task's (its saved
// state, or zeros the first time); it runs with FP/SIMD enabled.
.global fp_load
fp_load:
    mov     x1, #CPACR_FP_ON
    str     x1, [x0, #FP_CPACR]
    ldr     x1, [x0, #FP_SAVED]
    cbz     x1, 1f
    ldr     x1, [x0, #FP_STATE]
    ldp     q0, q1, [x1], #32
    ldp     q2, q3, [x1], #32
    ldp     q4, q5, [x1], #32
    ldp     q6, q7, [x1], #32
    ldp     q8, q9, [x1], #32
    ldp     q10, q11, [x1], #32
    ldp     q12, q13, [x1], #32
    ldp     q14, q15, [x1], #32
    ldp     q16, q17, [x1], #32
    ldp     q18, q19, [x1], #32
    ldp     q20, q21, [x1], #32
    ldp     q22, q23, [x1], #32
    ldp     q24, q25, [x1], #32
    ldp     q26, q27, [x1], #32
    ldp     q28, q29, [x1], #32
    ldp     q30, q31, [x1], #32
    ldp     x2, x1, [x1]
    msr     fpsr, x2
    msr     fpcr, x1
    ret
1:  // First use: nothing of another task's may show through.
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    movi    v\n\().2d, #0
    .endr
    msr     fpsr, xzr
    msr     fpcr, xzr
    ret
