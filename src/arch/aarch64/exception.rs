//! Exception entry from the vectors, and the saved context.
//!
//! `vectors.s` saves the interrupted context as an [`ExceptionFrame`] on the
//! exception stack and calls [`ilusion_exception`], which sorts the exception
//! into an interrupt (handed to [`crate::irq`]) or a synchronous exception
//! (decoded from ESR_EL1 and handed to [`crate::exception`]). Whatever frame
//! it returns is restored with `eret`.

use super::esr::Syndrome;
use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use core::fmt;

/// The registers of an interrupted context, as `vectors.s` saves them.
#[repr(C)]
pub struct ExceptionFrame {
    /// x0 to x30 (x29 is the frame pointer, x30 the link register).
    pub x: [u64; 31],
    /// The interrupted stack pointer (normal code runs on SP_EL0).
    pub sp: u64,
    /// Where to resume: the faulting instruction, or the next one.
    pub elr: u64,
    /// The interrupted PSTATE.
    pub spsr: u64,
    pub fpsr: u64,
    pub fpcr: u64,
    /// The FP/SIMD registers q0 to q31.
    pub q: [u128; 32],
}

const _: () = assert!(core::mem::size_of::<ExceptionFrame>() == 800);

/// Which of the 16 vector entries was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorEntry(u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionType {
    Synchronous,
    Irq,
    Fiq,
    SError,
}

impl VectorEntry {
    pub fn kind(self) -> ExceptionType {
        match self.0 & 3 {
            0 => ExceptionType::Synchronous,
            1 => ExceptionType::Irq,
            2 => ExceptionType::Fiq,
            _ => ExceptionType::SError,
        }
    }

    /// Taken from EL0 (a user task) rather than from the kernel itself.
    pub fn from_lower_level(self) -> bool {
        self.0 >= 8
    }

    /// Taken while already on the exception stack (SP_EL1): a fault in a handler.
    pub fn on_exception_stack(self) -> bool {
        (4..8).contains(&self.0)
    }

    pub fn describe(self) -> &'static str {
        ["current EL, SP_EL0", "current EL, SP_EL1", "lower EL, AArch64", "lower EL, AArch32"][(self.0 >> 2) as usize]
    }
}

/// A synchronous exception: the frame, the decoded syndrome, and the raw registers.
pub struct Fault<'a> {
    pub frame: &'a mut ExceptionFrame,
    pub entry: VectorEntry,
    pub esr: u64,
    pub far: u64,
    pub syndrome: Syndrome,
}

impl ExceptionFrame {
    /// Resumes after the instruction that trapped (for BRK, HLT and the like).
    pub fn skip_instruction(&mut self) {
        self.elr += 4;
    }
}

/// Called by `vectors.s` for every exception; returns the frame to resume.
#[no_mangle]
extern "C" fn ilusion_exception(frame: &mut ExceptionFrame, entry: u64) -> *mut ExceptionFrame {
    let entry = VectorEntry(entry);
    match entry.kind() {
        ExceptionType::Irq | ExceptionType::Fiq => crate::irq::dispatch(),
        ExceptionType::Synchronous | ExceptionType::SError => {
            let esr = ESR_EL1.get();
            let syndrome = if entry.kind() == ExceptionType::SError { Syndrome::SError } else { Syndrome::decode(esr) };
            let far = FAR_EL1.get();
            crate::exception::handle(Fault { frame, entry, esr, far, syndrome });
        }
    }
    frame
}

impl fmt::Display for ExceptionFrame {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "  ELR  {:#018x}  SPSR {:#010x}  SP   {:#018x}", self.elr, self.spsr, self.sp)?;
        for row in 0..8 {
            for col in 0..4 {
                let i = row * 4 + col;
                if i < 31 {
                    write!(f, "  x{:<2} {:#018x}", i, self.x[i])?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
