//! The fast system-call path's promise, checked on the built image: its
//! handler `ilusion_fast_syscall` (src/syscall/fast.rs) is a leaf that uses
//! no FP/SIMD register. `vectors.s` saves only x0-x18 and x30 around it, so
//! a call out (which could change other registers) or an FP/SIMD register
//! (never saved) would hand kernel values to the task. Part of
//! tests/qemu.rs's run; disassembles with `llvm-objdump`, which `just setup`
//! installs.

use std::path::Path;
use std::process::Command;

const HANDLER: &str = "ilusion_fast_syscall";
/// Any image will do: every one has the vectors and the handler.
const IMAGE: &str = "syscall_registers.elf";

/// Problems found in a disassembly of the handler (one instruction a line:
/// address, tab, mnemonic, tab, operands).
pub fn leaf_problems(disassembly: &str) -> Vec<String> {
    // Instruction lines: "<hex address>: [spaces]\t<mnemonic>\t<operands>".
    let instructions: Vec<(&str, &str, &str)> = disassembly
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
        .collect();
    if instructions.is_empty() {
        return vec![format!("{HANDLER} not found in the image")];
    }
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
    }
    problems
}

pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    let image = root.join("target/images").join(board).join(IMAGE);
    let result = Command::new("llvm-objdump")
        .args(["-d", "--no-show-raw-insn", &format!("--disassemble-symbols={HANDLER}")])
        .arg(&image)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))
        .and_then(|o| {
            if o.status.success() {
                Ok(leaf_problems(&String::from_utf8_lossy(&o.stdout)))
            } else {
                Err(format!("llvm-objdump {}: {}", image.display(), String::from_utf8_lossy(&o.stderr).trim()))
            }
        });
    let mut out = vec![("syscall fast path: handler is a leaf without FP/SIMD registers".into(), result)];
    // The checker itself must be able to fail.
    let bad = "ffff0000:      \tstr\tq0, [sp]\nffff0004:      \tbl\t0xffff1000 <memcpy>\n\
               ffff0008:      \tb.ne\t0xffff2000 <elsewhere>\n";
    // An `adrp` naming the symbol nearest its page is no jump.
    let fine = "ffff0000:      \tadrp\tx9, 0xffff3000 <ilusion_start>\n";
    let caught = leaf_problems(bad).len() == 3 && leaf_problems("").len() == 1 && leaf_problems(fine).is_empty();
    out.push((
        "syscall fast path: the leaf check catches calls and SIMD".into(),
        Ok(if caught { vec![] } else { vec!["missed a call or a SIMD register".into()] }),
    ));
    out
}
