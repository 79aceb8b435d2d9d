//! The fast system-call path's promise, checked on the built image: its
//! handler `ilusion_fast_syscall` (src/syscall/fast.rs) writes no register
//! that `vectors.s` does not restore for the task. `fast_syscall` there
//! saves only a few registers around it (x1, x8-x15 and x30; x0 is the
//! result), so the handler must be a leaf (a callee could change any
//! caller-saved register), use no FP/SIMD register (never saved), and name
//! no caller-saved general register outside that set: any of those would
//! hand kernel values to the task. The callee-saved x19-x29 are allowed:
//! AAPCS64 makes the handler restore them, saving them on its own stack,
//! which is kernel memory below the frame (the stack pointer it restores
//! too). The set is not written here but read from the image: the registers
//! `fast_syscall` loads from the stack after its `bl`. Part of
//! tests/qemu.rs's run; disassembles with `llvm-objdump`, which `just setup`
//! installs.

use std::path::Path;
use std::process::Command;

const HANDLER: &str = "ilusion_fast_syscall";
/// The code in vectors.s that calls the handler (a local symbol).
const PATH: &str = "fast_syscall";
/// Any image will do: every one has the vectors and the handler.
const IMAGE: &str = "syscall_registers.elf";

/// The instruction lines of a disassembly: (line, mnemonic, operands).
fn instructions(disassembly: &str) -> Vec<(&str, &str, &str)> {
    // "<hex address>: [spaces]\t<mnemonic>\t<operands>".
    disassembly
        .lines()
        .filter_map(|line| {
            let (address, rest) = line.split_once(':')?;
            let address = address.trim();
            if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let mut fields = rest.trim_start_matches(' ').strip_prefix('\t')?.split('\t');
            Some((line.trim(), fields.next()?.trim(), fields.next().unwrap_or("").trim()))
        })
        .collect()
}

/// The general registers that operands name, by number, in either form
/// (`x9` or `w9`; not `sp`, `xzr` or `wzr`). A symbol name (`<...>`) or a
/// comment (`// ...`) after them is not an operand.
fn general_registers(operands: &str) -> Vec<u32> {
    let operands = operands.split(['<', '/']).next().unwrap_or("");
    operands
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 2 && (w.starts_with('x') || w.starts_with('w')))
        .filter_map(|w| w[1..].parse().ok())
        .collect()
}

/// The registers `fast_syscall` restores for the task after calling the
/// handler: those it loads from the stack between its `bl` and `eret`. The
/// `bl` must reach the handler itself: a linker veneer in between would
/// change x16 or x17.
pub fn restored_registers(disassembly: &str) -> Result<Vec<u32>, String> {
    let instructions = instructions(disassembly);
    let call = instructions
        .iter()
        .position(|&(_, mnemonic, _)| mnemonic == "bl")
        .ok_or(format!("{PATH} not found in the image, or it has no bl"))?;
    let (line, _, operands) = instructions[call];
    if !operands.contains(&format!("<{HANDLER}>")) {
        return Err(format!("{PATH} does not call {HANDLER} directly: {line}"));
    }
    let mut restored: Vec<u32> = instructions[call + 1..]
        .iter()
        .take_while(|&&(_, mnemonic, _)| mnemonic != "eret")
        .filter(|&&(_, mnemonic, operands)| matches!(mnemonic, "ldp" | "ldr") && operands.contains("[sp"))
        .flat_map(|&(_, _, operands)| general_registers(operands.split('[').next().unwrap_or("")))
        .collect();
    restored.sort_unstable();
    restored.dedup();
    Ok(restored)
}

/// Problems found in a disassembly of the handler (one instruction a line:
/// address, tab, mnemonic, tab, operands), given the general registers the
/// path restores after it. Every register an A64 instruction writes is
/// named in its operands, but for the link register of `bl`/`blr`, which
/// are calls and reported as such.
pub fn leaf_problems(disassembly: &str, restored: &[u32]) -> Vec<String> {
    let instructions = instructions(disassembly);
    if instructions.is_empty() {
        return vec![format!("{HANDLER} not found in the image")];
    }
    // x0 is the argument and the result; x19-x29 the handler restores itself.
    let allowed = |r: u32| r == 0 || restored.contains(&r) || (19..=29).contains(&r);
    let mut problems = Vec::new();
    for (line, mnemonic, operands) in instructions {
        let calls = matches!(mnemonic, "bl" | "blr" | "br" | "svc" | "hvc" | "smc");
        // A branch to a label outside the handler leaves it. (Other
        // instructions name labels too: `adrp` shows the symbol nearest to
        // the page it loads, which is data, not a jump.)
        let branch =
            mnemonic == "b" || mnemonic.starts_with("b.") || matches!(mnemonic, "cbz" | "cbnz" | "tbz" | "tbnz");
        let leaves = branch && operands.contains('<') && !operands.contains(&format!("<{HANDLER}"));
        let simd = operands
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() >= 2 && "qvdsbh".contains(&w[..1]) && w[1..].chars().all(|c| c.is_ascii_digit()));
        if calls || leaves {
            problems.push(format!("{HANDLER} calls out: {line}"));
        }
        if simd {
            problems.push(format!("{HANDLER} uses an FP/SIMD register: {line}"));
        }
        if let Some(r) = general_registers(operands).into_iter().find(|&r| !allowed(r)) {
            problems.push(format!("{HANDLER} uses x{r}, which {PATH} (vectors.s) does not restore: {line}"));
        }
    }
    problems
}

fn disassemble(image: &Path, symbol: &str) -> Result<String, String> {
    let o = Command::new("llvm-objdump")
        .args(["-d", "--no-show-raw-insn", &format!("--disassemble-symbols={symbol}")])
        .arg(image)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!("llvm-objdump {}: {}", image.display(), String::from_utf8_lossy(&o.stderr).trim()))
    }
}

pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    let image = root.join("target/images").join(board).join(IMAGE);
    let result = disassemble(&image, PATH).and_then(|path| {
        let handler = disassemble(&image, HANDLER)?;
        Ok(match restored_registers(&path) {
            Ok(restored) => leaf_problems(&handler, &restored),
            Err(problem) => vec![problem],
        })
    });
    let mut out =
        vec![("syscall fast path: handler is a leaf that writes only the registers the path restores".into(), result)];
    // The checker itself must be able to fail.
    let path = "ffff0000:      \tstp\tx8, x9, [sp, #64]\n\
                ffff0004:      \tbl\t0xffff1000 <ilusion_fast_syscall>\n\
                ffff0008:      \tldp\tx8, x9, [sp, #64]\n\
                ffff000c:      \tldp\tx30, x1, [sp], #272\n\
                ffff0010:      \tmrs\tx0, TTBR1_EL1\n\
                ffff0014:      \teret\n";
    let veneer = "ffff0004:      \tbl\t0xffff1000 <__AArch64AbsLongThunk_ilusion_fast_syscall>\n";
    let restored = [1, 8, 9, 30];
    let bad = "ffff0000:      \tstr\tq0, [sp]\nffff0004:      \tbl\t0xffff1000 <memcpy>\n\
               ffff0008:      \tb.ne\t0xffff2000 <elsewhere>\nffff000c:      \tmov\tw2, #1\n\
               ffff0010:      \tldr\tx16, [x9, #8]\n";
    // An `adrp` naming the symbol nearest its page is no jump, and a symbol
    // named like a register is no register; a frame record is allowed.
    let fine = "ffff0000:      \tadrp\tx9, 0xffff3000 <ilusion_start>\nffff0004:      \tadrp\tx8, 0xffff3000 <x2>\n\
                ffff0008:      \tstp\tx29, x30, [sp, #-16]!\nffff000c:      \tmov\tx29, sp\n\
                ffff0010:      \tldr\tw1, [x8, #192]\nffff0014:      \tldp\tx29, x30, [sp], #16\n\
                ffff0018:      \tmov\tx0, xzr\n";
    let caught = restored_registers(path) == Ok(restored.to_vec())
        && restored_registers(veneer).is_err()
        && restored_registers("").is_err()
        && leaf_problems(bad, &restored).len() == 5
        && leaf_problems("", &restored).len() == 1
        && leaf_problems(fine, &restored).is_empty();
    out.push((
        "syscall fast path: the leaf check catches calls, SIMD and unrestored registers".into(),
        Ok(if caught { vec![] } else { vec!["missed a call, a SIMD register or an unrestored register".into()] }),
    ));
    out
}
