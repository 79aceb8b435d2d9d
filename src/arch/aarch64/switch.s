// switch_context: the one place where the processor goes from one task to
// another. See src/arch/aarch64/context.rs for the Rust side.
//
//   x0 = &mut prev.context  (where to save the running task)
//   x1 = &next.context      (what to resume)
//
// (A task that has ended leaves through switch_context_ending, below.)
//
// Saves what the calling convention says a callee must preserve (x19-x30;
// d8-d15 with the other FP/SIMD registers stay in the core: they are switched
// lazily, see fp.rs), the stack pointer and which stack pointer is selected (SPSel):
// a task that yielded or blocked runs in thread mode on SP_EL0; one that
// was preempted is inside the interrupt handler, on its kernel stack
// (SP_EL1). Everything else was saved by the caller, or by the exception
// entry in vectors.s. Resuming a thread-mode task also points SP_EL1 at its
// own kernel stack, so its next exception lands there, and gives it its
// FP/SIMD setting (enabled if the core's registers are its own); a preempted
// task resumes inside its exception handler, with FP/SIMD trapped until
// the exception returns (vectors.s). Interrupts are masked throughout (the
// caller's job).
//
// context.rs includes this file and gives the `.equ` lines their values
// from the `Context` struct; x19-x30 are at its start.

.equ CTX_SP, {CTX_SP}                       // sp, then spsel
.equ CTX_KERNEL_STACK, {CTX_KERNEL_STACK} // then CPACR_EL1 for the task (fp.rs)

// Resumes the task whose context x1 points to (see above): its registers,
// its stack pointer and SPSel, its kernel stack and FP/SIMD setting.
// Clobbers x9-x12.
.macro RESUME_NEXT
    ldp     x19, x20, [x1, #0]
    ldp     x21, x22, [x1, #16]
    ldp     x23, x24, [x1, #32]
    ldp     x25, x26, [x1, #48]
    ldp     x27, x28, [x1, #64]
    ldp     x29, x30, [x1, #80]
    ldp     x9, x10, [x1, #CTX_SP]
    msr     spsel, #1
    cbnz    x10, 2f                 // preempted: resume on its kernel stack
    ldp     x11, x12, [x1, #CTX_KERNEL_STACK] // and, in thread mode, FP/SIMD as the task has it
    mov     sp, x11                 // SP_EL1 = next's kernel stack top
    msr     spsel, #0
1:  msr     cpacr_el1, x12
    isb
    mov     sp, x9
.endm

// The preempted case of RESUME_NEXT, out of the way of the common one
// (a yield or a block resumes a task in thread mode).
.macro RESUME_PREEMPTED
2:  mov     x12, xzr                // inside its handler: FP/SIMD trapped
    b       1b
.endm

.section .text.switch_context, "ax"
.global switch_context
switch_context:
    stp     x19, x20, [x0, #0]
    stp     x21, x22, [x0, #16]
    stp     x23, x24, [x0, #32]
    stp     x25, x26, [x0, #48]
    stp     x27, x28, [x0, #64]
    stp     x29, x30, [x0, #80]
    mov     x9, sp
    mrs     x10, spsel
    stp     x9, x10, [x0, #CTX_SP]
    RESUME_NEXT
    ret
    RESUME_PREEMPTED

// switch_context_ending: the last switch of a task that has ended.
//
//   x0 = the ended task (handed to x2)
//   x1 = &next.context      (what to resume)
//   x2 = fn(ended task)     (frees it)
//
// Nothing of the ended task is saved. Once `next`'s registers and stack are
// in place, nothing runs on the ended task's stacks any more: x2 frees it,
// called on next's stack, and next resumes where it switched away (so no
// other switch has to ask whether the task before it had ended).
.section .text.switch_context_ending, "ax"
.global switch_context_ending
switch_context_ending:
    mov     x13, x0
    mov     x14, x2
    RESUME_NEXT
    stp     x29, x30, [sp, #-16]!   // next's frame record, kept over the call
    mov     x29, sp
    mov     x0, x13
    blr     x14
    ldp     x29, x30, [sp], #16
    ret
    RESUME_PREEMPTED

// The first code a new task runs: switch_context "returns" here with
// x19 = the new task. It is the task's
// outermost frame: a zero frame pointer ends the kernel's backtraces, and
// the call frame information (in .debug_frame, kept in the ELF for GDB)
// says it has no caller, so a debugger's `bt` ends here, at the task entry.
.cfi_sections .debug_frame
.global task_trampoline
task_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x19
    mov     x29, xzr
    mov     x30, xzr
    bl      ilusion_task_start      // never returns
    udf     #0
    .cfi_endproc
