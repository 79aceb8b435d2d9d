//! The serial chainloader end to end, for the Raspberry Pi boards: QEMU
//! boots the loader's raw image (as the firmware would boot kernel8.img)
//! with UART0 on a Unix socket, the host tool sends `hello.img` over it,
//! and the image must start, print and exit with status 0. Checked in each
//! order of starting (board first, host tool first), after a transfer cut
//! off in the middle (the loader must time out and take the next one), with
//! a byte corrupted on the line (refused by CRC, then sent again: this test
//! sits between the tool and the board), with bad command lines, and with
//! the loader's ELF booted instead (every core at EL3, all handed on). Part
//! of tests/qemu.rs's run; skipped when the loader or the tool is not built
//! (`just _build rpi4` builds both).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOST_TOOL: &str = "target/chainload/x86_64-unknown-linux-gnu/release/ilusion-chainload";
const READY: &str = "ilusion-chainloader: ready";
const ENQUIRY: u8 = 0x05;
/// How long the host tool may take for a whole check (QEMU boot and a transfer take a few seconds).
const TOOL_LIMIT: Duration = Duration::from_secs(50);

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

fn temp_socket(board: &str, name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ilusion-test-{}-{board}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn image(root: &Path, board: &str, name: &str) -> PathBuf {
    root.join("target/images").join(board).join(name)
}

/// QEMU running the loader's raw image with UART0 on `socket`; with
/// `wait_for_client` the board starts only when something connects.
fn start_qemu(root: &Path, board: &str, socket: &Path, wait_for_client: bool) -> Result<Child, String> {
    start_qemu_as(root, board, socket, wait_for_client, true)
}

/// As [`start_qemu`]; `raw: false` boots the loader's ELF instead (every
/// core starts in it, at EL3).
fn start_qemu_as(root: &Path, board: &str, socket: &Path, wait_for_client: bool, raw: bool) -> Result<Child, String> {
    let wait = if wait_for_client { "on" } else { "off" };
    let mut qemu = Command::new(root.join("boards/run"));
    qemu.args(["--board", board])
        .args(raw.then_some("--raw"))
        .arg(image(root, board, "chainloader.elf"))
        .env("QEMU_EXTRA", format!("-serial unix:{},server=on,wait={wait}", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut qemu, 0);
    let child = qemu.spawn().map_err(|e| format!("cannot start boards/run: {e}"))?;
    let start = Instant::now();
    while !socket.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

/// The host tool sending `hello.img` to `port`.
fn start_tool(root: &Path, board: &str, port: &str, extra: &[&str]) -> Result<Child, String> {
    let mut tool = Command::new(root.join(HOST_TOOL));
    tool.args(["--timeout", "30"])
        .args(extra)
        .arg(port)
        .arg(image(root, board, "hello.img"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut tool, 0);
    tool.spawn().map_err(|e| format!("cannot start the host tool: {e}"))
}

/// Waits for the tool: its exit status and its output (stdout and stderr).
fn finish_tool(mut child: Child) -> (Option<i32>, String) {
    let pipes: Vec<Box<dyn Read + Send>> = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let readers: Vec<_> = pipes
        .into_iter()
        .map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        })
        .collect();
    let status = wait(&mut child, TOOL_LIMIT);
    let output = readers.into_iter().map(|r| r.join().unwrap_or_default()).collect::<Vec<_>>().join("");
    (status, output)
}

/// The checks every successful run shares: the tool exited 0 after the
/// loader's `ok`, the image printed its hello, and QEMU exited with its status.
fn check_booted(
    board: &str,
    (status, output): &(Option<i32>, String),
    qemu: &mut Child,
    wants: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    if *status != Some(0) {
        problems.push(format!("host tool exit status {status:?}, expected 0"));
    }
    let hello = format!("hello from {board}");
    for want in [READY, "ilusion-chainloader: ok", &hello].iter().chain(wants) {
        if !output.contains(want) {
            problems.push(format!("output lacks {want:?}"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("host tool output:\n{}", output.trim_end()));
    }
    let qemu_status = wait(qemu, Duration::from_secs(10));
    if qemu_status != Some(0) {
        problems.push(format!("QEMU exit status {qemu_status:?}, expected 0 (the image's exit)"));
    }
    problems
}

/// The test's own connection to the board: a host that misbehaves.
struct RawLine {
    stream: UnixStream,
    seen: String,
}

impl RawLine {
    fn connect(socket: &Path) -> Result<Self, String> {
        let start = Instant::now();
        loop {
            match UnixStream::connect(socket) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
                    return Ok(Self { stream, seen: String::new() });
                }
                Err(_) if start.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(format!("cannot connect to {}: {e}", socket.display())),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("cannot write to the board: {e}"))
    }

    /// Reads until the board's output (from where the last call left off)
    /// holds `want`: the text from there on to the end of `want`.
    fn expect(&mut self, want: &str, limit: Duration) -> Result<String, String> {
        let start = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            if let Some(at) = self.seen.find(want) {
                let text = self.seen[..at + want.len()].to_string();
                self.seen.drain(..at + want.len());
                return Ok(text);
            }
            if start.elapsed() > limit {
                return Err(format!("no {want:?} from the board in {} s; it said {:?}", limit.as_secs(), self.seen));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(format!("the board's line closed while waiting for {want:?}")),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
    }

    /// Pokes the loader until it says it is ready, then reads until the line
    /// is quiet for half a second: the answers to the other enquiries (sent
    /// while it booted) must not reach whoever connects next.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if start.elapsed() > Duration::from_secs(30) {
                return Err("the chainloader did not say it was ready in 30 s".into());
            }
            self.send(&[ENQUIRY])?;
            if self.expect(READY, Duration::from_secs(2)).is_ok() {
                break;
            }
        }
        let mut buf = [0u8; 256];
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < Duration::from_millis(500) {
            if let Ok(n @ 1..) = self.stream.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                quiet_since = Instant::now();
            }
        }
        self.seen.clear();
        Ok(())
    }
}

/// MAGIC, size, CRC-32 and the first half of `image`.
fn half_a_transfer(image: &[u8]) -> Vec<u8> {
    let mut crc = 0xffff_ffffu32;
    for &b in image {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    let mut bytes = b"ILCL".to_vec();
    bytes.extend((image.len() as u32).to_le_bytes());
    bytes.extend((!crc).to_le_bytes());
    bytes.extend_from_slice(&image[..image.len() / 2]);
    bytes
}

/// The original order: QEMU waits for the tool's connection, then boots.
/// `hello.img` is over 64 KiB, so the tool draws its progress bar.
fn board_and_tool_together(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let len = std::fs::metadata(image(root, board, "hello.img")).map_err(|e| format!("hello.img: {e}"))?.len();
    if len <= 64 * 1024 {
        return Ok(vec![format!("hello.img is {len} bytes, too small to show the progress bar (over 64 KiB)")]);
    }
    let socket = temp_socket(board, "together");
    let mut qemu = start_qemu(root, board, &socket, true)?;
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &[])?;
    let result = finish_tool(tool);
    let progress = format!("] 100% {len:>6} of {len} bytes sent\n");
    Ok(check_booted(board, &result, &mut qemu, &["\rchainload: [", &progress]))
}

/// The loader booted as an ELF: QEMU starts every core in it, at EL3, and
/// the image must get them all, as if QEMU had booted it. (The loader kept
/// cores 1-3 in its own parking loop: the image waited a second for each,
/// "core 1 was started but did not come up within 1000 ms", and ran on one.)
fn loader_elf_hands_over_every_core(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let socket = temp_socket(board, "elf");
    let mut qemu = start_qemu_as(root, board, &socket, true, false)?;
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &[])?;
    let result = finish_tool(tool);
    let mut problems = check_booted(board, &result, &mut qemu, &[&format!("{board} (EL3 at boot, 4 cores,")]);
    if result.1.contains("did not come up") && problems.is_empty() {
        problems.push(format!("a core did not come up:\n{}", result.1.trim_end()));
    }
    Ok(problems)
}

/// The loader has booted and announced itself to nobody; the tool must poke it.
fn board_first(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let socket = temp_socket(board, "board-first");
    let mut qemu = start_qemu(root, board, &socket, false)?;
    let mut line = RawLine::connect(&socket)?;
    line.wait_until_ready()?;
    drop(line);
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &["--board", board])?;
    let result = finish_tool(tool);
    Ok(check_booted(board, &result, &mut qemu, &[]))
}

/// The tool starts before QEMU exists; the board boots a second later.
fn tool_first(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let socket = temp_socket(board, "tool-first");
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &[])?;
    std::thread::sleep(Duration::from_secs(1));
    let mut qemu = start_qemu(root, board, &socket, true)?;
    let result = finish_tool(tool);
    Ok(check_booted(board, &result, &mut qemu, &[&format!("waiting for {}", socket.display())]))
}

/// A host sends half an image and falls silent: the loader must say it
/// timed out (after 2 s of the generic timer) and be ready again; then the
/// tool's transfer is taken.
fn truncated_transfer(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let hello = std::fs::read(image(root, board, "hello.img")).map_err(|e| format!("cannot read hello.img: {e}"))?;
    let socket = temp_socket(board, "truncated");
    let mut qemu = start_qemu(root, board, &socket, false)?;
    let mut line = RawLine::connect(&socket)?;
    line.wait_until_ready()?;
    line.send(&half_a_transfer(&hello))?;
    let sent = Instant::now();
    let mut problems = Vec::new();
    let timed_out = format!(
        "ilusion-chainloader: error: timed out: no data for 2000 ms after {} of {} image bytes",
        hello.len() / 2,
        hello.len()
    );
    match line.expect(&timed_out, Duration::from_secs(20)) {
        Err(e) => problems.push(e),
        Ok(_) if sent.elapsed() < Duration::from_millis(1900) => {
            problems.push(format!("timed out after {:?}, before 2 s of silence", sent.elapsed()))
        }
        Ok(_) => {}
    }
    if let Err(e) = line.expect(READY, Duration::from_secs(5)) {
        problems.push(format!("after the timeout: {e}"));
    }
    drop(line);
    if !problems.is_empty() {
        let _ = wait(&mut qemu, Duration::ZERO);
        return Ok(problems);
    }
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &[])?;
    let result = finish_tool(tool);
    Ok(check_booted(board, &result, &mut qemu, &[]))
}

/// A host stops mid-transfer and the tool starts at once (a restarted
/// tool): the loader takes its enquiry as data, times out, and is ready.
fn tool_restarted_mid_transfer(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let hello = std::fs::read(image(root, board, "hello.img")).map_err(|e| format!("cannot read hello.img: {e}"))?;
    let socket = temp_socket(board, "restarted");
    let mut qemu = start_qemu(root, board, &socket, false)?;
    let mut line = RawLine::connect(&socket)?;
    line.wait_until_ready()?;
    line.send(&half_a_transfer(&hello))?;
    drop(line);
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &[])?;
    let result = finish_tool(tool);
    let wants = ["ilusion-chainloader: error: timed out: no data for 2000 ms after", "(attempt 1 of 3)"];
    Ok(check_booted(board, &result, &mut qemu, &wants))
}

/// The first connection to `listener`, if one comes within `limit` (the
/// tool may fail before it connects).
fn accept_within(listener: &UnixListener, limit: Duration) -> Option<UnixStream> {
    listener.set_nonblocking(true).ok()?;
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_nonblocking(false).ok()?;
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// What the relay between tool and board does to the tool's transfers.
enum Fault {
    /// Flips image byte 100 of the first N transfers.
    Corrupt(u32),
    /// Resets the board (QEMU's `system_reset` on this monitor socket)
    /// after image byte 20,000 of the first transfer, waits for the
    /// rebooted loader's `ready`, and passes the rest on.
    Reset(PathBuf),
}

/// Image byte `offset`'s place after MAGIC (8 header bytes come first).
const fn after_magic(offset: usize) -> usize {
    8 + offset
}

/// Sits between the tool (on `tool_socket`) and the board (on `board_socket`).
fn relay(tool_socket: PathBuf, board_socket: PathBuf, fault: Fault) -> std::thread::JoinHandle<Result<(), String>> {
    let listener = UnixListener::bind(&tool_socket);
    std::thread::spawn(move || {
        let listener = listener.map_err(|e| format!("relay: cannot listen: {e}"))?;
        let tool = accept_within(&listener, TOOL_LIMIT).ok_or("relay: the tool did not connect")?;
        let board = RawLine::connect(&board_socket)?.stream;
        let clone = |s: &UnixStream| s.try_clone().map_err(|e| e.to_string());
        board.set_read_timeout(None).map_err(|e| e.to_string())?;
        let (mut tool_in, mut tool_out, mut board_in, mut board_out) =
            (clone(&tool)?, clone(&tool)?, clone(&board)?, clone(&board)?);
        // The board's `ready` lines, counted on their way to the tool.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let to_tool = std::thread::spawn(move || {
            let (mut buf, mut line) = ([0u8; 4096], Vec::new());
            while let Ok(n @ 1..) = board_in.read(&mut buf) {
                for &b in &buf[..n] {
                    line.push(b);
                    if b == b'\n' {
                        if String::from_utf8_lossy(&line).contains(READY) {
                            let _ = ready_tx.send(());
                        }
                        line.clear();
                    }
                }
                if tool_out.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = tool_out.shutdown(std::net::Shutdown::Both);
        });
        let (mut window, mut since_magic, mut transfers, mut buf) = ([0u8; 4], None::<usize>, 0, [0u8; 4096]);
        let mut result = Ok(());
        'relay: while let Ok(n @ 1..) = tool_in.read(&mut buf) {
            let mut passed = 0;
            for i in 0..n {
                window = [window[1], window[2], window[3], buf[i]];
                since_magic = since_magic.map(|k| k + 1);
                if window == *b"ILCL" {
                    transfers += 1;
                    since_magic = Some(0);
                }
                match &fault {
                    Fault::Corrupt(count) if since_magic == Some(after_magic(100)) && transfers <= *count => {
                        buf[i] ^= 0x40
                    }
                    Fault::Reset(monitor) if since_magic == Some(after_magic(20_000)) && transfers == 1 => {
                        if board_out.write_all(&buf[passed..i]).is_err() {
                            break 'relay;
                        }
                        passed = i;
                        while ready_rx.try_recv().is_ok() {}
                        result = reset_board(monitor);
                        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
                            result = result.and(Err("relay: no ready from the board after its reset".into()));
                        }
                    }
                    _ => {}
                }
            }
            if board_out.write_all(&buf[passed..n]).is_err() {
                break;
            }
        }
        let _ = board.shutdown(std::net::Shutdown::Both);
        let _ = to_tool.join();
        result
    })
}

/// Resets the board through QEMU's monitor on `monitor`.
fn reset_board(monitor: &Path) -> Result<(), String> {
    let mut m = UnixStream::connect(monitor).map_err(|e| format!("cannot connect to QEMU's monitor: {e}"))?;
    m.write_all(b"system_reset\n").map_err(|e| format!("cannot write to QEMU's monitor: {e}"))?;
    // The monitor echoes the command and a new prompt once it has run it.
    m.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let (mut seen, mut buf) = (Vec::new(), [0u8; 1024]);
    while String::from_utf8_lossy(&seen).matches("(qemu)").count() < 2 {
        match m.read(&mut buf) {
            Ok(n @ 1..) => seen.extend_from_slice(&buf[..n]),
            _ => return Err("QEMU's monitor did not answer system_reset".into()),
        }
    }
    Ok(())
}

/// One byte of the first transfer corrupted: refused by CRC, sent again, booted.
fn corrupted_byte(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let (board_socket, tool_socket) = (temp_socket(board, "corrupt-board"), temp_socket(board, "corrupt-tool"));
    let relay = relay(tool_socket.clone(), board_socket.clone(), Fault::Corrupt(1));
    let mut qemu = start_qemu(root, board, &board_socket, true)?;
    let tool = start_tool(root, board, &format!("unix:{}", tool_socket.display()), &[])?;
    let result = finish_tool(tool);
    let wants = [
        "ilusion-chainloader: error: CRC-32 mismatch (header ",
        "chainload: attempt 1 of 3 refused: CRC-32 mismatch",
        "(attempt 2 of 3)",
    ];
    let problems = check_booted(board, &result, &mut qemu, &wants);
    let _ = relay.join();
    let _ = std::fs::remove_file(&tool_socket);
    Ok(problems)
}

/// The board is reset in the middle of the first transfer: the rebooted
/// loader takes the rest as noise, the tool hears no answer, and sends again.
fn board_reset_mid_transfer(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let (board_socket, tool_socket) = (temp_socket(board, "reset-board"), temp_socket(board, "reset-tool"));
    let monitor = temp_socket(board, "reset-monitor");
    let relay = relay(tool_socket.clone(), board_socket.clone(), Fault::Reset(monitor.clone()));
    let mut qemu = Command::new(root.join("boards/run"));
    qemu.args(["--board", board, "--raw"])
        .arg(image(root, board, "chainloader.elf"))
        .env(
            "QEMU_EXTRA",
            format!(
                "-serial unix:{},server=on,wait=on -monitor unix:{},server=on,wait=off",
                board_socket.display(),
                monitor.display()
            ),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut qemu, 0);
    let mut qemu = qemu.spawn().map_err(|e| format!("cannot start boards/run: {e}"))?;
    let tool = start_tool(root, board, &format!("unix:{}", tool_socket.display()), &[])?;
    let result = finish_tool(tool);
    let wants =
        ["chainload: attempt 1 of 3: no answer within", "(was the Pi reset during the transfer?)", "(attempt 2 of 3)"];
    let mut problems = check_booted(board, &result, &mut qemu, &wants);
    match relay.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(e),
        Err(_) => problems.push("the relay panicked".into()),
    }
    for socket in [tool_socket, monitor] {
        let _ = std::fs::remove_file(socket);
    }
    Ok(problems)
}

/// Every transfer corrupted: the tool gives up after --attempts with a message.
fn every_attempt_refused(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let (board_socket, tool_socket) = (temp_socket(board, "refused-board"), temp_socket(board, "refused-tool"));
    let relay = relay(tool_socket.clone(), board_socket.clone(), Fault::Corrupt(u32::MAX));
    let mut qemu = start_qemu(root, board, &board_socket, true)?;
    let tool = start_tool(root, board, &format!("unix:{}", tool_socket.display()), &["--attempts", "2"])?;
    let (status, output) = finish_tool(tool);
    let mut problems = Vec::new();
    if status != Some(1) {
        problems.push(format!("host tool exit status {status:?}, expected 1"));
    }
    let wants = [
        "chainload: attempt 2 of 2 refused: CRC-32 mismatch",
        "chainload: error: the chainloader did not take the image in 2 attempts (last: CRC-32 mismatch (header ",
    ];
    for want in wants {
        if !output.contains(want) {
            problems.push(format!("output lacks {want:?}"));
        }
    }
    if output.contains("attempt 3") || output.contains("hello from") {
        problems.push("more than --attempts transfers, or the image ran".into());
    }
    if !problems.is_empty() {
        problems.push(format!("host tool output:\n{}", output.trim_end()));
    }
    let _ = wait(&mut qemu, Duration::ZERO);
    let _ = relay.join();
    let _ = std::fs::remove_file(&tool_socket);
    Ok(problems)
}

/// The loader names its board in its `ready`; an image built for the other
/// Pi (`--board`, as `just chainload` passes it) is not sent, and the
/// tool says which board is which. The same board is taken (`board_first`
/// passes `--board` too).
fn other_board_refused(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let other = if board == "rpi3" { "rpi4" } else { "rpi3" };
    let socket = temp_socket(board, "other-board");
    let mut qemu = start_qemu(root, board, &socket, true)?;
    let tool = start_tool(root, board, &format!("unix:{}", socket.display()), &["--board", other])?;
    let (status, output) = finish_tool(tool);
    let mut problems = Vec::new();
    if status != Some(1) {
        problems.push(format!("host tool exit status {status:?}, expected 1"));
    }
    let want = format!("chainload: error: the chainloader runs on {board}, but the image was built for {other}");
    if !output.contains(&want) {
        problems.push(format!("output lacks {want:?}"));
    }
    if output.contains("sending") || output.contains("hello from") {
        problems.push("the image was sent".into());
    }
    if !problems.is_empty() {
        problems.push(format!("host tool output:\n{}", output.trim_end()));
    }
    let _ = wait(&mut qemu, Duration::ZERO);
    Ok(problems)
}

/// Bad command lines: a message and a non-zero status, never a panic.
fn bad_input(root: &Path, board: &str) -> Result<Vec<String>, String> {
    let huge = std::env::temp_dir().join(format!("ilusion-test-{}-{board}-huge.img", std::process::id()));
    let file = std::fs::File::create(&huge).map_err(|e| e.to_string())?;
    file.set_len(32 << 20).map_err(|e| e.to_string())?;
    let hello = image(root, board, "hello.img").display().to_string();
    let huge_name = huge.display().to_string();
    let cases: [(&[&str], i32, &str); 6] = [
        (&[], 2, "chainload: missing PORT and IMAGE\nusage: ilusion-chainload"),
        (&["/dev/ttyUSB0"], 2, "chainload: missing IMAGE (after PORT /dev/ttyUSB0)"),
        (&["--board", "rpi5", "/dev/ttyUSB0", &hello], 2, "chainload: --board is rpi3 or rpi4"),
        (&["/dev/ttyNOSUCH7", &hello], 1, "chainload: error: no serial device /dev/ttyNOSUCH7"),
        (&["unix:/nonexistent/s", "/nonexistent.img"], 1, "chainload: error: cannot read the image /nonexistent.img"),
        (&["unix:/nonexistent/s", &huge_name], 1, "is 33554432 bytes; the chainloader takes at most 33030144"),
    ];
    let mut problems = Vec::new();
    for (args, want_status, want) in cases {
        let out = Command::new(root.join(HOST_TOOL)).args(args).output().map_err(|e| e.to_string())?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(want_status) || !stderr.contains(want) || stderr.contains("panicked") {
            problems.push(format!(
                "{args:?}: status {:?}, expected {want_status} with {want:?}; said:\n{stderr}",
                out.status.code()
            ));
        }
    }
    let help = Command::new(root.join(HOST_TOOL)).arg("--help").output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&help.stdout);
    if help.status.code() != Some(0) || !text.contains("--attempts times") {
        problems.push(format!("--help: status {:?}, text:\n{text}", help.status.code()));
    }
    let _ = std::fs::remove_file(&huge);
    Ok(problems)
}

type Check = fn(&Path, &str) -> Result<Vec<String>, String>;

const CHECKS: &[(&str, Check)] = &[
    ("chainload hello over the serial line, with its progress bar", board_and_tool_together),
    ("chainload: board first, the host tool pokes it", board_first),
    ("chainload: the loader's ELF (every core at EL3) hands every core to the image", loader_elf_hands_over_every_core),
    ("chainload: host tool first, waits for the board", tool_first),
    ("chainload: truncated transfer times out, the next is taken", truncated_transfer),
    ("chainload: host tool restarted mid-transfer", tool_restarted_mid_transfer),
    ("chainload: corrupted byte refused by CRC, the retry boots", corrupted_byte),
    ("chainload: board reset mid-transfer, the tool sends again", board_reset_mid_transfer),
    ("chainload: every attempt refused, the tool gives up", every_attempt_refused),
    ("chainload: an image for the other Pi is refused before it is sent", other_board_refused),
    ("chainload: bad command lines give messages", bad_input),
];

/// Whether tests/qemu.rs's name filter (its arguments) selects `full`:
/// checks it would not print are not run.
fn selected(full: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| full.contains(f.as_str()))
}

/// The checks for `board`: (name, problems), or `Err(why)` when they cannot run.
pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    if !board.starts_with("rpi") {
        return vec![];
    }
    let built = image(root, board, "chainloader.elf").exists()
        && image(root, board, "hello.img").exists()
        && root.join(HOST_TOOL).exists();
    let results = CHECKS
        .iter()
        .filter(|(name, _)| selected(&format!("{board}: {name}")))
        .map(|&(name, check)| {
            let result = if built {
                check(root, board)
            } else {
                Err(format!("chainloader, hello.img or host tool not built (just _build {board})"))
            };
            (name.to_string(), result)
        })
        .collect();
    // The sockets QEMU and the relays left behind.
    let prefix = format!("ilusion-test-{}-{board}-", std::process::id());
    for entry in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".sock") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    results
}
