//! The host side of ilusion's serial chainloader (`tools/chainloader` runs
//! on the Pi): sends a raw image over a serial line, then copies the Pi's
//! console to stdout and stdin to the Pi, until the line closes or Ctrl-C.
//!
//! ```text
//! chainload [--baud N] [--timeout SECONDS] PORT IMAGE
//! ```
//!
//! PORT is a serial device (`/dev/ttyUSB0`; configured raw at N baud,
//! default 115200, with `stty`) or `unix:PATH`, a Unix socket such as
//! QEMU's `-serial unix:PATH,server=on`. IMAGE is a raw image
//! (`target/images/<board>/<example>.img`). Exit status: 0 when the line
//! closed after a successful transfer; 1 for any error, with a message.

#[path = "../../chainloader/src/protocol.rs"]
mod protocol;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Options {
    baud: u32,
    timeout: Duration,
    port: String,
    image: String,
}

const USAGE: &str = "usage: chainload [--baud N] [--timeout SECONDS] PORT IMAGE\n  \
    PORT: a serial device (/dev/ttyUSB0) or unix:PATH; IMAGE: a raw image (.img)";

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut baud, mut timeout, mut rest) = (115_200, Duration::from_secs(60), Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--baud" => baud = args.next().and_then(|v| v.parse().ok()).ok_or("--baud needs a number")?,
            "--timeout" => {
                let secs: u64 = args.next().and_then(|v| v.parse().ok()).ok_or("--timeout needs seconds")?;
                timeout = Duration::from_secs(secs);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => rest.push(a),
        }
    }
    let [port, image] = <[String; 2]>::try_from(rest).map_err(|_| USAGE.to_string())?;
    Ok(Options { baud, timeout, port, image })
}

/// The line to the Pi.
struct Line {
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Write + Send>,
}

fn open(port: &str, baud: u32) -> Result<Line, String> {
    if let Some(path) = port.strip_prefix("unix:") {
        let s = UnixStream::connect(path).map_err(|e| format!("cannot connect to {path}: {e}"))?;
        let r = s.try_clone().map_err(|e| e.to_string())?;
        return Ok(Line { reader: Box::new(r), writer: Box::new(s) });
    }
    let status = Command::new("stty")
        .args(["-F", port, &baud.to_string(), "raw", "-echo", "cs8", "-cstopb", "-parenb", "-crtscts", "-ixon"])
        .status()
        .map_err(|e| format!("cannot run stty to configure {port}: {e}"))?;
    if !status.success() {
        return Err(format!("stty could not configure {port} for {baud} baud (is it a serial device?)"));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(port)
        .map_err(|e| format!("cannot open {port}: {e} (permissions: are you in the dialout group?)"))?;
    let r = f.try_clone().map_err(|e| e.to_string())?;
    Ok(Line { reader: Box::new(r), writer: Box::new(f) })
}

/// Reads the line on a thread: bytes arrive on the channel; `None` = closed.
fn spawn_reader(mut r: Box<dyn Read + Send>) -> mpsc::Receiver<Option<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    for &b in &buf[..n] {
                        if tx.send(Some(b)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    rx
}

/// Echoes the line to stdout until a line containing one of `want` arrives:
/// which one (its index). Sends [`protocol::ENQUIRY`] every second while
/// waiting for [`protocol::READY`].
fn wait_for(
    rx: &mpsc::Receiver<Option<u8>>,
    w: &mut dyn Write,
    want: &[&str],
    deadline: Instant,
) -> Result<usize, String> {
    let mut line = Vec::new();
    let mut last_enquiry = Instant::now() - Duration::from_secs(10);
    loop {
        if want.contains(&protocol::READY) && last_enquiry.elapsed() > Duration::from_secs(1) {
            w.write_all(&[protocol::ENQUIRY]).and_then(|_| w.flush()).map_err(|e| format!("write: {e}"))?;
            last_enquiry = Instant::now();
        }
        let left = deadline.checked_duration_since(Instant::now()).ok_or("timed out waiting for the chainloader")?;
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(Some(b'\n')) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                println!("{text}");
                if let Some(i) = want.iter().position(|w| text.contains(w)) {
                    return Ok(i);
                }
                line.clear();
            }
            Ok(Some(b)) => line.push(b),
            Ok(None) => return Err("the line closed".into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err("the line closed".into()),
        }
    }
}

fn run(o: Options) -> Result<(), String> {
    let image = std::fs::read(&o.image).map_err(|e| format!("cannot read {}: {e}", o.image))?;
    if image.is_empty() || image.len() > u32::MAX as usize {
        return Err(format!("{} is empty or too large", o.image));
    }
    let Line { reader, writer: mut w } = open(&o.port, o.baud)?;
    let rx = spawn_reader(reader);
    let deadline = Instant::now() + o.timeout;
    eprintln!("chainload: waiting for the chainloader on {} (reset the Pi if it is running something else)", o.port);
    wait_for(&rx, &mut *w, &[protocol::READY], deadline)?;
    let mut crc = protocol::Crc32::new();
    image.iter().for_each(|&b| crc.update(b));
    let mut header = protocol::MAGIC.to_vec();
    header.extend_from_slice(&(image.len() as u32).to_le_bytes());
    header.extend_from_slice(&crc.finish().to_le_bytes());
    eprintln!("chainload: sending {} ({} bytes, CRC-32 {:08x})", o.image, image.len(), crc.finish());
    let start = Instant::now();
    w.write_all(&header)
        .and_then(|_| w.write_all(&image))
        .and_then(|_| w.flush())
        .map_err(|e| format!("write: {e}"))?;
    let answer = wait_for(&rx, &mut *w, &[protocol::ACCEPTED, protocol::REJECTED], deadline + o.timeout)?;
    if answer == 1 {
        return Err("the chainloader rejected the image".into());
    }
    eprintln!("chainload: sent in {:.1} s; now the Pi's console (Ctrl-C quits)", start.elapsed().as_secs_f64());
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || w.write_all(&buf[..n]).and_then(|_| w.flush()).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout();
    while let Ok(Some(b)) = rx.recv() {
        let _ = out.write_all(&[b]);
        if b == b'\n' {
            let _ = out.flush();
        }
    }
    let _ = out.flush();
    Ok(())
}

fn main() {
    let result = parse_args().and_then(run);
    if let Err(e) = result {
        eprintln!("chainload: {e}");
        std::process::exit(1);
    }
}
