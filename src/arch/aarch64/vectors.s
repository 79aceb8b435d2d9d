// The exception vector table (VBAR_EL1) and the code that saves and restores
// an interrupted context. src/arch/aarch64/exception.rs includes it and
// gives the `.equ` lines below their values from Rust: the frame offsets
// (from `ExceptionFrame`), the fast system calls (from src/syscall/abi.rs)
// and the user-view bits of TTBR1 (from mmu/kernel.rs).
//
// 16 entries of 128 bytes: synchronous, IRQ, FIQ and SError (in that order),
// each taken from four origins: the current EL on SP_EL0, the current EL on
// SP_EL1, a lower EL in AArch64, a lower EL in AArch32. Every entry makes
// room for an `ExceptionFrame` on the exception stack (SP_EL1) as it saves
// x0/x1 (one pre-indexed `stp`), and jumps with its number in x0 to one of
// four entries: `interrupt_entry` (IRQ and FIQ, from EL1 or EL0),
// `syscall_entry` (an SVC from EL0), `user_fault_entry` (any other
// synchronous exception from EL0) or `exception_entry` (everything from
// EL1, and SErrors). Each vector entry starts with `.org` at exactly its
// slot, so one that grows past its 128 bytes fails the build. The entry for
// a synchronous exception inside a handler (on SP_EL1) looks first whether
// the frame fits on the running task's kernel stack (see
// VECTOR_SYNC_EL1_NESTED: a handler that ran off it stops the machine with
// a report instead of faulting for ever).
//
// The entries differ in what they save. Interrupts and everything from
// EL0: only what the Rust handler may change (x0-x18, x29, x30), since it
// returns to the interrupted code with x19-x28 as they were (a system call
// reads its arguments from x0-x8 and writes its result to x0; an isolated
// task's fault report names no general register). Exceptions from EL1:
// every general register, since the kernel's fault report prints them and
// an application's handler may change them (`ExceptionFrame`). In the
// smaller frame the slots of x19-x28 are left as they were.
//
// One entry is special: a synchronous exception from EL0 that is an SVC with
// a call number in FAST_SYSCALLS (system calls that never block or switch
// tasks, see src/syscall/fast.rs) takes `fast_syscall` instead. That path
// saves only the registers its handler, a leaf AAPCS64 function that uses no
// FP/SIMD register, may write: x8-x15 and x30 (x1, used by the dispatch, is
// in the frame already). An AAPCS64 leaf could write any of x0-x18, so this
// is a promise about the handler's code, and tests/support/fast_syscall.rs
// checks it on every board's image: the handler names no caller-saved
// register that `fast_syscall` does not restore (x2-x7, x16-x18), and the
// callee-saved ones (x19-x29) it restores itself. All is restored but x0,
// the result: the task gets its own registers back and sees nothing of the
// kernel's.
//
// No entry saves the FP/SIMD registers: they are switched lazily (see
// fp.rs). The four entries trap them (CPACR_EL1.FPEN) while its handler runs
// and, on the way out, enables them again only for a task that owns them.
// A synchronous exception that is an FP/SIMD trap takes `fp_trap`, which
// hands the registers to whoever trapped.

.equ FRAME_SIZE, {FRAME_SIZE}   // 31 x-regs, sp_el0, elr, spsr
.equ FRAME_X30, {FRAME_X30}     // x30, then sp_el0
.equ FRAME_ELR, {FRAME_ELR}     // elr, then spsr
.equ EC_SVC64, {EC_SVC64}       // ESR_EL1.EC of an SVC from AArch64
.equ EC_FP, {EC_FP}             // ESR_EL1.EC of an FP/SIMD access trap
.equ TASK_FP, {TASK_FP}         // the running task's FpRegisters, from TPIDR_EL1
.equ TASK_CPACR, {TASK_CPACR}   // its CPACR_EL1 setting, from TPIDR_EL1
.equ CPACR_FP_ON, {CPACR_FP_ON}
.equ MAX_CPUS, {MAX_CPUS}
.equ TASK_KERNEL_STACK_TOP, {TASK_KERNEL_STACK_TOP} // from TPIDR_EL1
.equ KERNEL_STACK_SIZE, {KERNEL_STACK_SIZE}  // every task's, at least
.equ GUARD_SIZE, {GUARD_SIZE}   // the unmapped page below it
.equ OVERFLOW_STACK_SHIFT, {OVERFLOW_STACK_SHIFT}
// Bit n (n < 32) set: call n takes the fast path (time, task_id, abi_version).
.equ FAST_SYSCALLS, {FAST_SYSCALLS}

// Bits that turn the kernel view's TTBR1 value into the user view's: root
// one page up, odd ASID.
.equ USER_VIEW_TABLE, {USER_VIEW_TABLE}
.equ USER_VIEW_ASID, {USER_VIEW_ASID}

.macro VECTOR kind, entry=exception_entry
.org exception_vectors + \kind * 0x80
    stp     x0, x1, [sp, #-FRAME_SIZE]!
    mov     x0, #\kind
    b       \entry
.endm

// From EL0 the upper half is the user view, where the kernel stack is not
// mapped: switch to the kernel view first, with x0 parked in TPIDRRO_EL0
// (which is set again on every return to EL0).
.macro SWITCH_TO_KERNEL_VIEW
    msr     tpidrro_el0, x0
    mrs     x0, ttbr1_el1
    and     x0, x0, #~USER_VIEW_TABLE
    and     x0, x0, #~USER_VIEW_ASID
    msr     ttbr1_el1, x0
    isb
    mrs     x0, tpidrro_el0
.endm

// TPIDRRO_EL0 = 0, "not at EL0" (see user_mode.rs): on every entry from
// EL0 but the fast system calls and FP/SIMD traps, which return to EL0
// without running anything that asks. It is 1 only while EL0 runs, so an entry from EL1
// finds it 0 already, and a return to EL1 leaves it so.
.macro LEAVING_EL0
    msr     tpidrro_el0, xzr
.endm

// The last steps out to EL0, once every register holds the task's value:
// the user view of the upper half (x0 parked in FAR_EL1, free at this point,
// as Linux's KPTI trampoline does), and TPIDRRO_EL0 = 1 so user-side code
// knows it runs at EL0. No `isb` after the TTBR1 write: the `eret` is a
// context synchronization event, and the instructions before it touch no
// memory and run from the vectors, mapped alike in both views (Linux's
// `tramp_exit` does the same).
.macro SWITCH_TO_USER_VIEW_AND_ERET
    msr     far_el1, x0
    mrs     x0, ttbr1_el1
    orr     x0, x0, #USER_VIEW_TABLE
    orr     x0, x0, #USER_VIEW_ASID
    msr     ttbr1_el1, x0
    mov     x0, #1
    msr     tpidrro_el0, x0
    mrs     x0, far_el1
    eret
.endm

// In a synchronous entry, x0 and x1 saved: x0 = ESR_EL1.EC.
.macro EXCEPTION_CLASS
    mrs     x0, esr_el1
    ubfx    x0, x0, #26, #6
.endm

// With x0 = ESR_EL1.EC: an FP/SIMD trap goes to `fp_trap`.
.macro FP_TRAP_CHECK
    cmp     x0, #EC_FP
    b.eq    fp_trap
.endm

// A synchronous exception from EL1, x0 and x1 not saved yet: an FP/SIMD
// trap, or the full path.
.macro SYNC_EL1 kind
    stp     x0, x1, [sp, #-FRAME_SIZE]!
    EXCEPTION_CLASS
    FP_TRAP_CHECK
    mov     x0, #\kind
    b       exception_entry
.endm

.macro VECTOR_SYNC_EL1 kind
.org exception_vectors + \kind * 0x80
    SYNC_EL1 \kind
.endm

// The same, taken on SP_EL1 (inside a handler already), after a look at
// the room left on the running task's kernel stack: a handler that ran off
// it faults in the guard page below it (SP there), and pushing a frame
// there would fault again, for ever. That goes to `kernel_stack_overflow`.
// x0 is parked in TPIDRRO_EL0, which is 0 at EL1 (see LEAVING_EL0). Before
// tasks start (TPIDR_EL1 0) there is no check; an SP anywhere else (the
// moment of a switch) is not an overflow of this stack.
.macro VECTOR_SYNC_EL1_NESTED kind
.org exception_vectors + \kind * 0x80
    msr     tpidrro_el0, x0
    mrs     x0, tpidr_el1
    cbz     x0, 1f
    ldr     x0, [x0, #TASK_KERNEL_STACK_TOP]
    sub     x0, x0, #KERNEL_STACK_SIZE
    add     x0, x0, #FRAME_SIZE     // the lowest SP with room for a frame
    cmp     sp, x0
    b.hs    1f
    sub     x0, x0, #FRAME_SIZE
    sub     x0, x0, #GUARD_SIZE     // the guard page's bottom
    cmp     sp, x0
    b.hs    kernel_stack_overflow
1:  mrs     x0, tpidrro_el0
    msr     tpidrro_el0, xzr
    SYNC_EL1 \kind
.endm

.macro VECTOR_FROM_EL0 kind, entry=exception_entry
.org exception_vectors + \kind * 0x80
    SWITCH_TO_KERNEL_VIEW
    LEAVING_EL0
    stp     x0, x1, [sp, #-FRAME_SIZE]!
    mov     x0, #\kind
    b       \entry
.endm

// Saves the interrupted context into the frame, x0 and x1 being there
// already (x0 holds the entry's number and is kept): the general registers
// (`all`: x2-x29; else only those a called function may change, x2-x18,
// and the frame pointer x29), x30, SP_EL0, ELR and SPSR; then traps FP/SIMD
// while the handler runs. An interrupt needs no more: its handler is a Rust
// function, which keeps x19-x28 for the interrupted code, across a task
// switch too (the switch saves them with the rest of the kernel context).
// Anything that reads or changes the task's registers (system calls,
// faults) takes the full frame.
.macro SAVE_CONTEXT all
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
.if \all
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
.else
    str     x18, [sp, #144]
    str     x29, [sp, #232]
.endif
    mrs     x1, sp_el0
    stp     x30, x1, [sp, #FRAME_X30]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #FRAME_ELR]
    mrs     x1, cpacr_el1           // FP/SIMD trapped while the handler runs
    cbz     x1, 1f
    msr     cpacr_el1, xzr
    isb
1:
.endm

// Loads the general registers `SAVE_CONTEXT all` saved and pops the frame
// (x30 and SP_EL0 are done before).
.macro RESTORE_GENERAL_REGISTERS all
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
.if \all
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
.else
    ldr     x18, [sp, #144]
    ldr     x29, [sp, #232]
.endif
    ldp     x0, x1, [sp], #FRAME_SIZE
.endm

// Back to the context the frame holds: ELR, SPSR, SP_EL0, x30, FP/SIMD
// enabled for the running task if it owns the registers (not back in a
// handler, SPSR.M[0] = SP_EL1; always before tasks exist), the general
// registers, and out (to EL0 through the user view).
.macro RESTORE_CONTEXT_AND_ERET all
    ldp     x1, x2, [sp, #FRAME_ELR]
    msr     elr_el1, x1
    msr     spsr_el1, x2
    ldp     x30, x1, [sp, #FRAME_X30]
    msr     sp_el0, x1
    mov     x1, xzr
    tbnz    x2, #0, 2f
    mrs     x1, tpidr_el1
    cbnz    x1, 1f
    mov     x1, #CPACR_FP_ON        // before tasks exist
    b       2f
1:  ldr     x1, [x1, #TASK_CPACR]
2:  msr     cpacr_el1, x1           // (the eret below synchronizes it)
    tst     x2, #0xf                // returning to EL0t?
    b.eq    3f
    RESTORE_GENERAL_REGISTERS \all
    eret
3:  RESTORE_GENERAL_REGISTERS \all
    SWITCH_TO_USER_VIEW_AND_ERET
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VECTOR_SYNC_EL1 0
    VECTOR 1, interrupt_entry
    VECTOR 2, interrupt_entry
    VECTOR 3
    VECTOR_SYNC_EL1_NESTED 4
    VECTOR 5, interrupt_entry
    VECTOR 6, interrupt_entry
    VECTOR 7

// Synchronous from EL0: a fast system call, any other system call, an
// FP/SIMD trap, or a fault. The fast calls are checked first (the trap check is two
// instructions they need not run); x1 holds the call's bit, so x0 keeps the
// class for the other two.
.org exception_vectors + 8 * 0x80
    SWITCH_TO_KERNEL_VIEW
    stp     x0, x1, [sp, #-FRAME_SIZE]!
    EXCEPTION_CLASS
    cmp     x0, #EC_SVC64
    ccmp    x8, #31, #2, eq         // an SVC: is the number < 32? (not an SVC: "higher")
    b.hi    1f
    mov     x1, #FAST_SYSCALLS
    lsr     x1, x1, x8
    tbnz    x1, #0, fast_syscall
1:  cmp     x0, #EC_SVC64
    b.eq    2f
    FP_TRAP_CHECK
    LEAVING_EL0
    mov     x0, #8
    b       user_fault_entry
2:  LEAVING_EL0
    mov     x0, #8
    b       syscall_entry

    VECTOR_FROM_EL0 9, interrupt_entry
    VECTOR_FROM_EL0 10, interrupt_entry
    VECTOR_FROM_EL0 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15
.org exception_vectors + 16 * 0x80      // the last entry fits too

// A fast system call: x0 and x1 are saved in the frame, the call number is
// in x8. Around the handler go x8-x15 (the scratch registers LLVM hands out
// first) and x30 (the `bl`); with x0 (the result) and x1 (restored, since
// the dispatch used it) that is every register the handler may write (see
// the header; tests/support/fast_syscall.rs reads the loads below from the
// image and checks the handler against them). x30 goes in x0's slot: the
// task's x0 is not restored, so one `ldp` brings back x30 and x1 and pops
// the frame. The `bl` reaches its target directly (the image is far smaller
// than its +-128 MiB; the test checks no veneer, which could change x16 and
// x17, stands between).
fast_syscall:
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    str     x30, [sp, #0]
    mov     x0, x8
    bl      ilusion_fast_syscall    // x0 = the result
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x30, x1, [sp], #FRAME_SIZE
    SWITCH_TO_USER_VIEW_AND_ERET

// ilusion_interrupt(frame, entry) hands an IRQ or FIQ to its owner,
// ilusion_syscall(frame, entry) a system call from EL0 (through a pointer),
// ilusion_user_fault(frame, entry) any other synchronous exception from EL0,
// and ilusion_exception(frame, entry) the rest (exception.rs). Each returns when the interrupted context is to go on (a
// task preempted on the way resumes here later, on its own kernel stack);
// then the same frame is restored.
// An entry: saves the context (`all` general registers, or only those a
// called function may change), calls `handler(frame, entry)` (with
// `through` set, the function whose address `handler` holds), and restores
// the same frame when it returns.
.macro ENTRY name, all, handler, through=0
\name:
    SAVE_CONTEXT \all
    mov     x1, x0
    mov     x0, sp
    mov     x29, xzr                // the handler starts a fresh frame chain
.if \through
    adrp    x2, \handler
    ldr     x2, [x2, :lo12:\handler]
    blr     x2
.else
    bl      \handler
.endif
    RESTORE_CONTEXT_AND_ERET \all
.endm

    ENTRY exception_entry, 1, ilusion_exception
    ENTRY interrupt_entry, 0, ilusion_interrupt
    // ilusion_syscall once isolated tasks exist (exception.rs).
    ENTRY syscall_entry, 0, {SYSTEM_CALL_HANDLER}, through=1
    ENTRY user_fault_entry, 0, ilusion_user_fault

// An FP/SIMD instruction trapped (CPACR_EL1.FPEN): the lazy switch, fp.rs.
// x0 and x1 are saved in the frame. The owner's registers go into its
// FpRegisters; then a task (EL0, or thread mode) gets its own loaded and
// owns them, while a handler (SP_EL1) borrows them, owned by nobody, until
// its exception returns. Nothing here touches FP/SIMD before the owner's
// registers are saved.
fp_trap:
    stp     x2, x3, [sp, #16]
    str     x30, [sp, #FRAME_X30]
    mov     x0, #CPACR_FP_ON
    msr     cpacr_el1, x0
    isb
    mrs     x3, mpidr_el1           // x3 = this core's FP_OWNER slot
    and     x3, x3, #(MAX_CPUS - 1)
    adrp    x2, {FP_OWNER}
    add     x2, x2, :lo12:{FP_OWNER}
    add     x3, x2, x3, lsl #3
    ldr     x0, [x3]
    cbz     x0, 1f
    bl      fp_save                 // the owner's, into its FpRegisters
    str     xzr, [x3]
1:  mrs     x1, spsr_el1
    tbnz    x1, #0, 3f              // a handler: borrowed
    mrs     x0, tpidr_el1
    add     x0, x0, #TASK_FP
    str     x0, [x3]
    bl      fp_load                 // the task's own (zeros the first time)
2:  mrs     x1, spsr_el1
    ldp     x2, x3, [sp, #16]
    ldr     x30, [sp, #FRAME_X30]
    tst     x1, #0xf                // back to EL0t?
    ldp     x0, x1, [sp], #FRAME_SIZE
    b.eq    1f
    eret
1:  SWITCH_TO_USER_VIEW_AND_ERET
// Borrowed by a handler: the vector registers keep whatever they held, but
// the modes are the defaults (round to nearest, no flushing, FPSR's flags
// clear), not those of the last owner: a task, at EL0 perhaps, must not
// change how the kernel's handlers compute (fp_lazy tests it).
3:  msr     fpcr, xzr
    msr     fpsr, xzr
    b       2b

// The running task's kernel stack has no room for a frame (see
// VECTOR_SYNC_EL1_NESTED): the report runs on this core's overflow stack,
// and the machine stops there (what ran off the stack was kernel code in
// the middle of its work: its locks and state cannot be given back). x0 is
// lost (the report names no register); x29 still chains the frames of the
// code that overflowed, so the backtrace shows it.
kernel_stack_overflow:
    msr     tpidrro_el0, xzr        // not at EL0 (the panic path asks)
    mrs     x0, mpidr_el1
    and     x0, x0, #(MAX_CPUS - 1)
    add     x0, x0, #1              // the top of this core's stack
    adrp    x1, overflow_stacks
    add     x1, x1, :lo12:overflow_stacks
    add     x1, x1, x0, lsl #OVERFLOW_STACK_SHIFT
    mov     sp, x1
    mrs     x0, elr_el1
    mrs     x1, far_el1
    bl      ilusion_kernel_stack_overflow   // never returns

.pushsection .overflow_stacks, "aw", @nobits
.balign 16
overflow_stacks:
    .space MAX_CPUS << OVERFLOW_STACK_SHIFT
.popsection
