//! Decoding the Exception Syndrome Register (ESR_EL1) into words.
//!
//! ESR says *why* a synchronous exception happened: its class (bits 31:26)
//! and a class-specific syndrome (ISS, bits 24:0). For aborts, the fault
//! status code tells translation/permission/alignment faults apart, and at
//! which translation level the walk stopped. Privileged instructions
//! executed at EL0 are named by [`super::privileged`].

use super::privileged::{self, Privileged};
use core::fmt;

/// An instruction set extension the kernel leaves disabled for tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    /// FP/SIMD (CPACR_EL1.FPEN): trapped to switch it lazily, and handled
    /// before the exception is sorted (`vectors.s`, `fp.rs`), so never seen.
    FpSimd,
    /// The Scalable Vector Extension (CPACR_EL1.ZEN), on `-cpu max`.
    Sve,
    /// The Scalable Matrix Extension (CPACR_EL1.SMEN), on `-cpu max`.
    Sme,
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::FpSimd => "FP/SIMD",
            Self::Sve => "SVE",
            Self::Sme => "SME",
        })
    }
}

/// What kind of access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAccess {
    Read,
    Write,
    Execute,
}

/// The fault status code of a data or instruction abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStatus {
    AddressSize {
        level: u8,
    },
    /// No valid mapping: the walk found an invalid descriptor at `level`.
    Translation {
        level: u8,
    },
    AccessFlag {
        level: u8,
    },
    /// A mapping exists but does not allow the access.
    Permission {
        level: u8,
    },
    Alignment,
    SyncExternal,
    TlbConflict,
    Other(u8),
}

impl FaultStatus {
    pub fn from_code(code: u8) -> Self {
        let level = code & 0b11;
        match code {
            0b00_0000..=0b00_0011 => Self::AddressSize { level },
            0b00_0100..=0b00_0111 => Self::Translation { level },
            0b00_1000..=0b00_1011 => Self::AccessFlag { level },
            0b00_1100..=0b00_1111 => Self::Permission { level },
            0b01_0000 => Self::SyncExternal,
            0b10_0001 => Self::Alignment,
            0b11_0000 => Self::TlbConflict,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for FaultStatus {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::AddressSize { level } => write!(f, "address size fault, level {level}"),
            Self::Translation { level } => write!(f, "translation fault, level {level}"),
            Self::AccessFlag { level } => write!(f, "access flag fault, level {level}"),
            Self::Permission { level } => write!(f, "permission fault, level {level}"),
            Self::Alignment => f.write_str("alignment fault"),
            Self::SyncExternal => f.write_str("synchronous external abort"),
            Self::TlbConflict => f.write_str("TLB conflict abort"),
            Self::Other(code) => write!(f, "fault status {code:#04x}"),
        }
    }
}

/// A synchronous exception, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syndrome {
    /// A data or instruction abort; `from_lower` if it came from EL0.
    Abort {
        access: FaultAccess,
        status: FaultStatus,
        from_lower: bool,
        far_valid: bool,
    },
    UndefinedInstruction,
    Svc {
        imm: u16,
    },
    Brk {
        imm: u16,
    },
    PcAlignment,
    SpAlignment,
    /// An instruction of an extension that is disabled (FP/SIMD, SVE, SME).
    Unavailable(Extension),
    /// A privileged instruction from EL0 that the CPU trapped with its own
    /// exception class: `wfi`/`wfe` (0x01), or a system register or
    /// instruction EL0 may use only when the kernel allows it (0x18).
    /// (Those it simply does not define at EL0 are `UndefinedInstruction`.)
    Privileged(Privileged),
    /// PSTATE.IL was set: an illegal exception return put the CPU in an illegal state.
    IllegalState,
    /// A hardware breakpoint, watchpoint or software step (classes 0x30 to 0x35).
    Debug,
    SError,
    Other {
        class: u8,
        iss: u32,
    },
}

/// ESR_EL1's exception class (bits 31:26) of an `SVC` from AArch64: a
/// system call (the exception vectors test for it too).
pub const EC_SVC64: u8 = 0x15;

/// ESR_EL1's exception class of an FP/SIMD instruction trapped by
/// CPACR_EL1.FPEN: the lazy FP/SIMD switch (the exception vectors test for it).
pub const EC_FP_ACCESS: u8 = 0x07;

/// Whether `esr` is a translation fault on a data access (a load or store,
/// from EL0 or EL1) with a valid FAR: the one fault demand paging may
/// answer. The same as decoding it and matching `Syndrome::Abort` with
/// `FaultStatus::Translation`, `far_valid` and an access other than
/// `Execute` (a unit test checks they agree), in a few instructions: the
/// first touch of a heap page asks this before anything is decoded.
#[inline]
pub fn is_data_translation_fault(esr: u64) -> bool {
    let class = (esr >> 26) & 0x3f;
    let status = esr & 0x3c; // DFSC without the level: 0b0001xx is translation
    let far_not_valid = esr & (1 << 10) != 0;
    (class == 0x24 || class == 0x25) && status == 0b00_0100 && !far_not_valid
}

impl Syndrome {
    pub fn decode(esr: u64) -> Self {
        let class = ((esr >> 26) & 0x3f) as u8;
        let iss = (esr & 0x01ff_ffff) as u32;
        let status = FaultStatus::from_code((iss & 0x3f) as u8);
        match class {
            0x00 => Self::UndefinedInstruction,
            0x01 => Self::Privileged(Privileged::WaitForInterrupt),
            EC_FP_ACCESS => Self::Unavailable(Extension::FpSimd),
            0x0e => Self::IllegalState,
            0x18 => Self::Privileged(privileged::from_trapped_access(iss)),
            0x19 => Self::Unavailable(Extension::Sve),
            0x1d => Self::Unavailable(Extension::Sme),
            0x30..=0x35 => Self::Debug,
            EC_SVC64 => Self::Svc { imm: iss as u16 },
            0x20 | 0x21 => Self::Abort {
                access: FaultAccess::Execute,
                status,
                from_lower: class == 0x20,
                far_valid: iss & (1 << 10) == 0,
            },
            0x22 => Self::PcAlignment,
            0x24 | 0x25 => Self::Abort {
                // WnR (bit 6) says write; cache maintenance (bit 8) reports as write too.
                access: if iss & (1 << 6) != 0 { FaultAccess::Write } else { FaultAccess::Read },
                status,
                from_lower: class == 0x24,
                far_valid: iss & (1 << 10) == 0,
            },
            0x26 => Self::SpAlignment,
            0x2f => Self::SError,
            0x3c => Self::Brk { imm: iss as u16 },
            _ => Self::Other { class, iss },
        }
    }
}

impl fmt::Display for Syndrome {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Abort { access, status, from_lower, .. } => {
                let kind = if *access == FaultAccess::Execute { "instruction abort" } else { "data abort" };
                let by = if *from_lower { "EL0" } else { "EL1" };
                let what = match access {
                    FaultAccess::Read => "read",
                    FaultAccess::Write => "write",
                    FaultAccess::Execute => "execute",
                };
                write!(f, "{kind} ({what}) from {by}: {status}")
            }
            Self::UndefinedInstruction => f.write_str("undefined instruction"),
            Self::Svc { imm } => write!(f, "supervisor call (SVC #{imm})"),
            Self::Brk { imm } => write!(f, "breakpoint (BRK #{imm:#x})"),
            Self::PcAlignment => f.write_str("PC alignment fault"),
            Self::SpAlignment => f.write_str("SP alignment fault"),
            Self::Unavailable(extension) => write!(f, "{extension} instruction trapped (disabled)"),
            Self::Privileged(what) => write!(f, "privileged instruction trapped: {what}"),
            Self::IllegalState => f.write_str("illegal execution state"),
            Self::Debug => f.write_str("debug exception (breakpoint, watchpoint or step)"),
            Self::SError => f.write_str("SError (asynchronous external abort)"),
            Self::Other { class, iss } => {
                write!(f, "exception class {class:#04x} ({}), ISS {iss:#x}", class_name(*class))
            }
        }
    }
}

/// What an exception class this module does not decode further means.
pub fn class_name(class: u8) -> &'static str {
    match class {
        0x09 => "pointer authentication trapped",
        0x0a => "LD64B/ST64B trapped",
        0x0d => "branch target exception",
        0x14 => "128-bit system register access trapped",
        0x16 => "HVC",
        0x17 => "SMC",
        0x1b => "TSTART trapped",
        0x1c => "pointer authentication failure",
        0x27 => "memory copy or set exception",
        0x2c => "trapped floating-point exception",
        0x2d => "guarded control stack exception",
        _ => "unexpected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn the_quick_translation_fault_test_agrees_with_decoding() {
        // Every class that matters, every fault status, FnV and WnR both ways.
        for class in [0x20u64, 0x21, 0x24, 0x25, 0x15, 0x00, 0x3c] {
            for status in 0..64u64 {
                for extra in [0, 1 << 10, 1 << 6, 1 << 6 | 1 << 10] {
                    let esr = class << 26 | 1 << 25 | extra | status;
                    let decoded = matches!(
                        Syndrome::decode(esr),
                        Syndrome::Abort { access, status: FaultStatus::Translation { .. }, far_valid: true, .. }
                            if access != FaultAccess::Execute
                    );
                    assert_eq!(is_data_translation_fault(esr), decoded, "ESR {esr:#x}");
                }
            }
        }
        assert!(is_data_translation_fault(0x9200_0047), "a write from EL0 to an unmapped page, level 3");
    }

    #[test]
    fn null_read_is_a_level_1_translation_fault() {
        // EC 0x25 (data abort, same EL), IL, DFSC 0b000101 (translation, level 1).
        let s = Syndrome::decode(0x9600_0005);
        assert_eq!(
            s,
            Syndrome::Abort {
                access: FaultAccess::Read,
                status: FaultStatus::Translation { level: 1 },
                from_lower: false,
                far_valid: true
            }
        );
        assert_eq!(s.to_string(), "data abort (read) from EL1: translation fault, level 1");
    }

    #[test]
    fn write_to_text_is_a_permission_fault() {
        // WnR set, DFSC 0b001111 (permission, level 3).
        let s = Syndrome::decode(0x9600_004f);
        assert_eq!(s.to_string(), "data abort (write) from EL1: permission fault, level 3");
    }

    #[test]
    fn execute_from_data() {
        let s = Syndrome::decode(0x8600_000f);
        assert_eq!(s.to_string(), "instruction abort (execute) from EL1: permission fault, level 3");
        let s = Syndrome::decode(0x8200_0007);
        assert_eq!(s.to_string(), "instruction abort (execute) from EL0: translation fault, level 3");
    }

    #[test]
    fn other_classes() {
        assert_eq!(Syndrome::decode(0x0200_0000), Syndrome::UndefinedInstruction);
        assert_eq!(Syndrome::decode(0x5600_0007), Syndrome::Svc { imm: 7 });
        assert_eq!(Syndrome::decode(0xf200_0042), Syndrome::Brk { imm: 0x42 });
        assert_eq!(Syndrome::decode(0x8a00_0000), Syndrome::PcAlignment);
        assert_eq!(Syndrome::decode(0x9a00_0000), Syndrome::SpAlignment);
        assert_eq!(Syndrome::decode(0xbe00_0000), Syndrome::SError);
        assert_eq!(FaultStatus::from_code(0x21), FaultStatus::Alignment);
        assert_eq!(FaultStatus::from_code(0x0b), FaultStatus::AccessFlag { level: 3 });
        assert!(matches!(Syndrome::decode(0x4400_0000), Syndrome::Other { class: 0x11, .. }));
        assert_eq!(Syndrome::decode(0x0600_0000), Syndrome::Privileged(Privileged::WaitForInterrupt));
        assert_eq!(Syndrome::decode(0x6600_0000), Syndrome::Unavailable(Extension::Sve));
        assert_eq!(Syndrome::decode(0x7600_0000), Syndrome::Unavailable(Extension::Sme));
        assert_eq!(Syndrome::decode(0x3800_0000), Syndrome::IllegalState);
        assert_eq!(Syndrome::decode(0xc800_0000), Syndrome::Debug);
        assert_eq!(
            Syndrome::decode(0x3600_0000).to_string(),
            "exception class 0x0d (branch target exception), ISS 0x0"
        );
        // mrs x0, cntpct_el0 at EL0 with CNTKCTL_EL1.EL0PCTEN = 0.
        let esr = (0x18 << 26) | (3 << 20) | (1 << 17) | (3 << 14) | (14 << 10) | 1;
        assert_eq!(
            Syndrome::decode(esr).to_string(),
            "privileged instruction trapped: read of system register CNTPCT_EL0"
        );
    }

    #[test]
    fn far_not_valid_flag() {
        let Syndrome::Abort { far_valid, .. } = Syndrome::decode(0x9600_0410) else { panic!() };
        assert!(!far_valid);
    }
}
