//! Naming what a privileged instruction tried to do, for the failure of
//! the EL0 task that executed it.
//!
//! EL0 code cannot touch the machine's control state. The CPU stops it in
//! one of three ways, and each is decoded here into a [`Privileged`]:
//! - most system instructions are simply undefined at EL0 (exception class
//!   0x00, "unknown"): `mrs x0, ttbr1_el1`, `tlbi`, `at`, `dc ivac`, `eret`,
//!   `hvc`, `smc`, `hlt`. ESR says nothing more, so [`classify`] decodes the
//!   instruction word itself; a word that is none of these is a plain
//!   undefined instruction (`None`);
//! - some EL0 may use only if the kernel allows it, and the kernel does
//!   not (class 0x18, with the instruction's operands in ESR,
//!   [`from_trapped_access`]): `msr daifset` (SCTLR_EL1.UMA = 0), `dc zva`
//!   (DZE = 0), `dc civac`, `ic ivau` (UCI = 0), `mrs ctr_el0` (UCT = 0),
//!   the physical counter and timers (CNTKCTL_EL1), the PMU
//!   (PMUSERENR_EL0), the debug communications channel (MDSCR_EL1.TDCC);
//! - `wfi` and `wfe` are trapped (SCTLR_EL1.nTWI = nTWE = 0, class 0x01):
//!   waiting for an interrupt is the scheduler's business. Both trap only
//!   when they would wait: one that meets an interrupt already pending
//!   goes on, harmlessly (the architecture allows it, and QEMU's `wfi` does
//!   so); QEMU runs `wfe` as a `yield`, never trapping.

use core::fmt;

/// A system register or system instruction, by its encoding (`op0`, `op1`,
/// `CRn`, `CRm`, `op2`), as in `mrs x0, S3_0_C2_C0_1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemEncoding {
    pub op0: u8,
    pub op1: u8,
    pub crn: u8,
    pub crm: u8,
    pub op2: u8,
}

/// What a privileged instruction executed at EL0 tried to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privileged {
    /// `mrs`/`msr` of a system register EL0 may not use.
    SystemRegister { read: bool, register: SystemEncoding },
    /// `msr` to processor state (`daifset`, `daifclr`, `spsel`...): the interrupt masks, the stack.
    ProcessorState { field: SystemEncoding },
    /// Cache, TLB or address-translation maintenance (`dc`, `ic`, `tlbi`, `at`).
    SystemOperation { operation: SystemEncoding },
    /// `wfi` or `wfe` (and their timed forms).
    WaitForInterrupt,
    /// `eret` (or `drps`): returning from an exception it never took.
    ExceptionReturn,
    /// `hvc`: a call to a hypervisor.
    HypervisorCall,
    /// `smc`: a call to the secure monitor.
    SecureMonitorCall,
    /// `hlt` or `dcps`: entering debug state.
    DebugHalt,
}

/// Registers people reach for, by name; the rest print as `S<op0>_<op1>_C<n>_C<m>_<op2>`.
const KNOWN_REGISTERS: &[(SystemEncoding, &str)] = &[
    (SystemEncoding::new(3, 0, 0, 0, 5), "MPIDR_EL1"),
    (SystemEncoding::new(3, 0, 1, 0, 0), "SCTLR_EL1"),
    (SystemEncoding::new(3, 0, 1, 0, 2), "CPACR_EL1"),
    (SystemEncoding::new(3, 0, 2, 0, 0), "TTBR0_EL1"),
    (SystemEncoding::new(3, 0, 2, 0, 1), "TTBR1_EL1"),
    (SystemEncoding::new(3, 0, 2, 0, 2), "TCR_EL1"),
    (SystemEncoding::new(3, 0, 4, 0, 0), "SPSR_EL1"),
    (SystemEncoding::new(3, 0, 4, 0, 1), "ELR_EL1"),
    (SystemEncoding::new(3, 0, 5, 2, 0), "ESR_EL1"),
    (SystemEncoding::new(3, 0, 6, 0, 0), "FAR_EL1"),
    (SystemEncoding::new(3, 0, 10, 2, 0), "MAIR_EL1"),
    (SystemEncoding::new(3, 0, 12, 0, 0), "VBAR_EL1"),
    (SystemEncoding::new(3, 0, 13, 0, 4), "TPIDR_EL1"),
    (SystemEncoding::new(3, 0, 14, 1, 0), "CNTKCTL_EL1"),
    (SystemEncoding::new(2, 3, 0, 1, 0), "MDCCSR_EL0"),
    (SystemEncoding::new(3, 3, 0, 0, 1), "CTR_EL0"),
    (SystemEncoding::new(3, 3, 4, 2, 1), "DAIF"),
    (SystemEncoding::new(3, 3, 9, 12, 0), "PMCR_EL0"),
    (SystemEncoding::new(3, 3, 9, 13, 0), "PMCCNTR_EL0"),
    (SystemEncoding::new(3, 3, 13, 0, 3), "TPIDRRO_EL0"),
    (SystemEncoding::new(3, 3, 14, 0, 0), "CNTFRQ_EL0"),
    (SystemEncoding::new(3, 3, 14, 0, 1), "CNTPCT_EL0"),
    (SystemEncoding::new(3, 3, 14, 0, 2), "CNTVCT_EL0"),
    (SystemEncoding::new(3, 3, 14, 2, 1), "CNTP_CTL_EL0"),
    (SystemEncoding::new(3, 3, 14, 2, 2), "CNTP_CVAL_EL0"),
    (SystemEncoding::new(3, 3, 14, 3, 1), "CNTV_CTL_EL0"),
    (SystemEncoding::new(3, 3, 14, 3, 2), "CNTV_CVAL_EL0"),
];

impl SystemEncoding {
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> Self {
        Self { op0, op1, crn, crm, op2 }
    }
}

impl fmt::Display for SystemEncoding {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match KNOWN_REGISTERS.iter().find(|(known, _)| known == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "S{}_{}_C{}_C{}_{}", self.op0, self.op1, self.crn, self.crm, self.op2),
        }
    }
}

impl fmt::Display for Privileged {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::SystemRegister { read: true, register } => write!(f, "read of system register {register}"),
            Self::SystemRegister { read: false, register } => write!(f, "write of system register {register}"),
            Self::ProcessorState { field } => match (field.op1, field.op2) {
                (3, 6) => write!(f, "write of processor state (DAIFSet, #{})", field.crm),
                (3, 7) => write!(f, "write of processor state (DAIFClr, #{})", field.crm),
                (0, 5) => write!(f, "write of processor state (SPSel, #{})", field.crm),
                _ => write!(f, "write of processor state ({field})"),
            },
            Self::SystemOperation { operation } => {
                write!(f, "cache, TLB or address-translation maintenance ({operation})")
            }
            Self::WaitForInterrupt => f.write_str("WFI/WFE (waiting for an interrupt)"),
            Self::ExceptionReturn => f.write_str("exception return (ERET)"),
            Self::HypervisorCall => f.write_str("hypervisor call (HVC)"),
            Self::SecureMonitorCall => f.write_str("secure monitor call (SMC)"),
            Self::DebugHalt => f.write_str("debug halt (HLT/DCPS)"),
        }
    }
}

/// The system instruction class: `msr`, `mrs`, `sys`, `sysl`, hints, barriers.
const SYSTEM_MASK: u32 = 0xffc0_0000;
const SYSTEM: u32 = 0xd500_0000;
/// Exception generation: `svc`, `hvc`, `smc`, `brk`, `hlt`, `dcps`.
const EXCEPTION_MASK: u32 = 0xff00_0000;
const EXCEPTION: u32 = 0xd400_0000;
const ERET: u32 = 0xd69f_03e0;
const ERETAA: u32 = 0xd69f_0bff;
const ERETAB: u32 = 0xd69f_0fff;
const DRPS: u32 = 0xd6bf_03e0;

/// The privileged operation an instruction undefined at EL0 attempted, or
/// `None` if it is no privileged instruction (a plain undefined one).
pub fn classify(word: u32) -> Option<Privileged> {
    if word & SYSTEM_MASK == SYSTEM {
        let field = |shift: u32, bits: u32| ((word >> shift) & ((1 << bits) - 1)) as u8;
        let encoding = SystemEncoding {
            op0: field(19, 2),
            op1: field(16, 3),
            crn: field(12, 4),
            crm: field(8, 4),
            op2: field(5, 3),
        };
        let read = word & (1 << 21) != 0;
        return Some(from_system(encoding, read));
    }
    if word & EXCEPTION_MASK == EXCEPTION {
        let (opc, ll) = ((word >> 21) & 0b111, word & 0b11);
        return match (opc, ll) {
            (0b000, 0b10) => Some(Privileged::HypervisorCall),
            (0b000, 0b11) => Some(Privileged::SecureMonitorCall),
            (0b010, 0b00) | (0b101, _) => Some(Privileged::DebugHalt),
            _ => None,
        };
    }
    match word {
        ERET | ERETAA | ERETAB | DRPS => Some(Privileged::ExceptionReturn),
        _ => None,
    }
}

/// A system instruction by its encoding: `op0` 0 is processor state (and
/// hints and barriers, which never trap), 1 `sys`/`sysl`, 2 and 3 registers.
fn from_system(encoding: SystemEncoding, read: bool) -> Privileged {
    match encoding.op0 {
        0 => Privileged::ProcessorState { field: encoding },
        1 => Privileged::SystemOperation { operation: encoding },
        _ => Privileged::SystemRegister { read, register: encoding },
    }
}

/// A trapped `msr`, `mrs` or system instruction (class 0x18), from its ISS:
/// `op0` in bits 21:20, `op2` 19:17, `op1` 16:14, `CRn` 13:10, `CRm` 4:1,
/// direction (1: read) in bit 0.
pub fn from_trapped_access(iss: u32) -> Privileged {
    let field = |shift: u32, bits: u32| ((iss >> shift) & ((1 << bits) - 1)) as u8;
    let mut encoding =
        SystemEncoding { op0: field(20, 2), op1: field(14, 3), crn: field(10, 4), crm: field(1, 4), op2: field(17, 3) };
    // QEMU reports `op1` and `op2` of a trapped `msr` (immediate) swapped.
    // No processor-state field has `op1` 4 or more, so that order is
    // recognised and put right.
    if encoding.op0 == 0 && encoding.op1 >= 4 {
        core::mem::swap(&mut encoding.op1, &mut encoding.op2);
    }
    from_system(encoding, iss & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn undefined_system_instructions_are_named() {
        // mrs x0, ttbr1_el1
        let p = classify(0xd538_2020).unwrap();
        assert_eq!(p.to_string(), "read of system register TTBR1_EL1");
        // msr sctlr_el1, x0
        assert_eq!(classify(0xd518_1000).unwrap().to_string(), "write of system register SCTLR_EL1");
        // mrs x1, S3_0_C15_C2_7 (no name)
        assert_eq!(classify(0xd538_f2e1).unwrap().to_string(), "read of system register S3_0_C15_C2_7");
        // tlbi vmalle1; dc ivac, x0; at s1e1r, x0
        for word in [0xd508_871f, 0xd508_7620, 0xd508_7800] {
            assert!(matches!(classify(word), Some(Privileged::SystemOperation { .. })), "{word:#x}");
        }
        // msr spsel, #1
        assert!(matches!(classify(0xd500_41bf), Some(Privileged::ProcessorState { .. })));
    }

    #[test]
    fn exception_instructions() {
        assert_eq!(classify(0xd69f_03e0), Some(Privileged::ExceptionReturn)); // eret
        assert_eq!(classify(0xd400_0002), Some(Privileged::HypervisorCall)); // hvc #0
        assert_eq!(classify(0xd400_0003), Some(Privileged::SecureMonitorCall)); // smc #0
        assert_eq!(classify(0xd440_0000), Some(Privileged::DebugHalt)); // hlt #0
        assert_eq!(classify(0xd400_0001), None); // svc #0: a system call, never undefined
        assert_eq!(classify(0xd420_0000), None); // brk #0
        assert_eq!(classify(0x0000_0000), None); // udf #0
        assert_eq!(classify(0xd65f_03c0), None); // ret
    }

    #[test]
    fn trapped_accesses_from_their_syndrome() {
        // msr daifset, #2 from EL0 with UMA = 0: op0 0, op1 3, CRn 4, CRm 2, op2 6, Rt 31, write.
        let daifset = from_trapped_access((6 << 17) | (3 << 14) | (4 << 10) | (31 << 5) | (2 << 1));
        let field = SystemEncoding { op0: 0, op1: 3, crn: 4, crm: 2, op2: 6 };
        assert_eq!(daifset, Privileged::ProcessorState { field });
        // As QEMU reports it (ESR 0x620793e4): op1 and op2 swapped.
        assert_eq!(from_trapped_access(0x0793e4), Privileged::ProcessorState { field });
        assert_eq!(from_trapped_access(0x0793e4).to_string(), "write of processor state (DAIFSet, #2)");
        // dc zva, x0: op0 1, op1 3, CRn 7, CRm 4, op2 1, write.
        let iss = (1 << 20) | (1 << 17) | (3 << 14) | (7 << 10) | (4 << 1);
        assert_eq!(
            from_trapped_access(iss),
            Privileged::SystemOperation { operation: SystemEncoding { op0: 1, op1: 3, crn: 7, crm: 4, op2: 1 } }
        );
        // mrs x0, cntpct_el0: op0 3, op1 3, CRn 14, CRm 0, op2 1, read.
        let iss = (3 << 20) | (1 << 17) | (3 << 14) | (14 << 10) | 1;
        assert_eq!(from_trapped_access(iss).to_string(), "read of system register CNTPCT_EL0");
    }
}
