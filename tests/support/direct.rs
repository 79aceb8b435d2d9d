//! Images booted by `qemu-system-aarch64` itself, not through `boards/run`:
//! what these checks read is exactly what the image printed, as a board's
//! serial console would show it, with no host-side symbolizer adding
//! names. Part of tests/qemu.rs's run, on every board.
//!
//! - A fault and a panic name their functions (`fault_null::read_null+0x..`)
//!   from the image's own symbol table (src/symbols); on the Pis the raw
//!   image is booted, as the firmware boots kernel8.img.
//! - Without `-semihosting` (real hardware) `exit` cannot end QEMU: the
//!   image prints `ilusion: exit status N; halted (power off the board)` and
//!   halts. The check waits for that line, sees QEMU still running (halted,
//!   not rebooted or exited), then kills it.

use crate::captured::Captured;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long QEMU must keep running after the halt line to count as halted.
const STILL_HALTED: Duration = Duration::from_millis(700);

/// How a direct run ended.
struct Run {
    output: String,
    /// QEMU's exit status; `None` if it was still running and was killed.
    status: Option<i32>,
}

/// Boots `image` (a file in target/images/<board>/) on the board's QEMU
/// machine; with `until`, stops as soon as the output contains it (and
/// [`STILL_HALTED`] later), else waits for QEMU to exit.
fn run(root: &Path, board: &str, image: &str, semihosting: bool, until: Option<&str>) -> Result<Run, String> {
    let path = root.join("target/images").join(board).join(image);
    if !path.exists() {
        return Err(format!("image {} is missing: run `just test` (it builds the images)", path.display()));
    }
    let args = std::fs::read_to_string(root.join("boards").join(board).join("qemu.args"))
        .map_err(|e| format!("cannot read boards/{board}/qemu.args: {e}"))?;
    let mut cmd = Command::new(std::env::var("QEMU").unwrap_or("qemu-system-aarch64".into()));
    cmd.args(args.split_whitespace()).arg("-nographic").arg("-kernel").arg(&path);
    if semihosting {
        cmd.arg("-semihosting");
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start qemu-system-aarch64: {e}"))?;
    let output = Captured::start(&mut child);
    let start = Instant::now();
    let mut seen: Option<Instant> = None;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status.code();
        }
        if seen.is_none() && until.is_some_and(|line| output.so_far().contains(line)) {
            seen = Some(Instant::now());
        }
        let halted_long_enough = seen.is_some_and(|t| t.elapsed() > STILL_HALTED);
        if halted_long_enough || start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            if !halted_long_enough {
                return Err(format!("timed out after {} s; output:\n{}", TIMEOUT.as_secs(), output.finish()));
            }
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Run { output: output.finish().replace('\r', ""), status })
}

/// The backtrace lines (`  #N 0x...`) of `output`.
fn frames(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.trim_start().starts_with('#')).collect()
}

/// A fatal report's backtrace has a frame `function+0x..`, and every frame
/// has a name.
fn report_names(run: &Run, exit: i32, function: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if run.status != Some(exit) {
        problems.push(format!("exit status {:?}, expected {exit}", run.status));
    }
    let frames = frames(&run.output);
    if !frames.iter().any(|f| f.contains(&format!(" {function}+0x"))) {
        problems.push(format!("no backtrace frame names {function}+0x.."));
    }
    for f in &frames {
        if !f.contains("+0x") {
            problems.push(format!("frame without a name: {f:?}"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("output:\n{}", run.output.trim_end()));
    }
    problems
}

fn halts_without_semihosting(run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(status) = run.status {
        problems.push(format!("QEMU exited with {status} instead of staying halted"));
    }
    let line = "ilusion: exit status 42; halted (power off the board)";
    if run.output.matches(line).count() != 1 {
        problems.push(format!("output does not have {line:?} once"));
    }
    if run.output.matches("exiting with 42").count() != 1 {
        problems.push("the guest did not run exactly once (rebooted?)".into());
    }
    if !problems.is_empty() {
        problems.push(format!("output:\n{}", run.output.trim_end()));
    }
    problems
}

/// Whether tests/qemu.rs's name filter (its arguments) selects `full`:
/// checks it would not print are not run.
fn selected(full: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| full.contains(f.as_str()))
}

/// The checks for `board`: (name, problems), or `Err(why)` when they cannot run.
pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    let wanted = |name: &str| selected(&format!("{board}: {name}"));
    // The Pis boot the raw image, as the firmware does; QEMU virt the ELF.
    let kernel = |name: &str| if board.starts_with("rpi") { format!("{name}.img") } else { format!("{name}.elf") };
    let mut out = Vec::new();
    let name = "direct: a fault report names its functions (no host symbolizer)";
    if wanted(name) {
        let run = run(root, board, &kernel("fault_null"), true, None);
        out.push((name.to_string(), run.map(|r| report_names(&r, 102, "fault_null::read_null"))));
    }
    let name = "direct: a panic report names its functions (no host symbolizer)";
    if wanted(name) {
        let run = run(root, board, &kernel("panic"), true, None);
        out.push((name.to_string(), run.map(|r| report_names(&r, 101, "panic::fail"))));
    }
    let name = "direct: exit without semihosting prints the status and halts";
    if wanted(name) {
        let run = run(root, board, &kernel("exit_code"), false, Some("halted (power off the board)"));
        out.push((name.to_string(), run.map(|r| halts_without_semihosting(&r))));
    }
    out
}
