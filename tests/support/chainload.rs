//! The serial chainloader end to end, for the Raspberry Pi boards: QEMU
//! boots the loader's raw image (as the firmware would boot kernel8.img)
//! with UART0 on a Unix socket, the host tool sends `hello.img` over it,
//! and the image must start, print and exit with status 0. Part of
//! tests/qemu.rs's run; skipped when the loader or the tool is not built
//! (`just _build rpi4` builds both).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOST_TOOL: &str = "target/chainload/x86_64-unknown-linux-gnu/release/ilusion-chainload";

/// Waits up to `limit` for `child`; kills its process group after that.
fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send_hello(root: &Path, board: &str) -> Vec<String> {
    let socket = std::env::temp_dir().join(format!("ilusion-test-{}-{board}-chainload.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let mut qemu = Command::new(root.join("boards/run"));
    qemu.args(["--board", board, "--raw"])
        .arg(root.join("target/images").join(board).join("chainloader.elf"))
        .env("QEMU_EXTRA", format!("-serial unix:{},server=on,wait=on", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut qemu, 0);
    let Ok(mut qemu) = qemu.spawn() else { return vec!["cannot start boards/run".into()] };
    let start = Instant::now();
    while !socket.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut tool = Command::new(root.join(HOST_TOOL));
    tool.args(["--timeout", "30"])
        .arg(format!("unix:{}", socket.display()))
        .arg(root.join("target/images").join(board).join("hello.img"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut tool, 0);
    let mut problems = Vec::new();
    match tool.spawn() {
        Err(e) => problems.push(format!("cannot start the host tool: {e}")),
        Ok(mut child) => {
            let status = wait(&mut child, Duration::from_secs(60));
            let mut output = String::new();
            for pipe in [
                child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read>),
                child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read>),
            ]
            .into_iter()
            .flatten()
            {
                let mut pipe = pipe;
                let _ = pipe.read_to_string(&mut output);
            }
            if status != Some(0) {
                problems.push(format!("host tool exit status {status:?}, expected 0"));
            }
            for want in ["ilusion-chainloader: ready", "ilusion-chainloader: ok", &format!("hello from {board}")] {
                if !output.contains(want) {
                    problems.push(format!("output lacks {want:?}"));
                }
            }
            if !problems.is_empty() {
                problems.push(format!("host tool output:\n{}", output.trim_end()));
            }
        }
    }
    let qemu_status = wait(&mut qemu, Duration::from_secs(10));
    if qemu_status != Some(0) {
        problems.push(format!("QEMU exit status {qemu_status:?}, expected 0 (the image's exit)"));
    }
    let _ = std::fs::remove_file(&socket);
    problems
}

/// The check for `board`: (name, problems), or `Err(why)` when skipped.
pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    if !board.starts_with("rpi") {
        return vec![];
    }
    let loader = root.join("target/images").join(board).join("chainloader.elf");
    let result = if !loader.exists() || !root.join(HOST_TOOL).exists() {
        Err(format!("chainloader or host tool not built (just _build {board})"))
    } else {
        Ok(send_hello(root, board))
    };
    vec![("chainload hello over the serial line".into(), result)]
}
