//! The line to the Pi: a serial device (configured with `stty`) or a Unix
//! socket (`unix:PATH`, e.g. QEMU's serial port). A socket that is not
//! there yet is waited for, so that the tool may start before the board.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The two directions of the line.
pub struct Line {
    pub reader: Box<dyn Read + Send>,
    pub writer: Box<dyn Write + Send>,
}

/// Opens `port`; a `unix:` socket is waited for until `timeout`.
pub fn open(port: &str, baud: u32, timeout: Duration) -> Result<Line, String> {
    match port.strip_prefix("unix:") {
        Some(path) => open_socket(path, timeout),
        None => open_serial(port, baud),
    }
}

fn open_socket(path: &str, timeout: Duration) -> Result<Line, String> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(metadata) = std::fs::metadata(path) {
        if !metadata.file_type().is_socket() {
            return Err(format!("{path} is not a Unix socket (PORT unix:PATH names a socket such as QEMU's -serial unix:PATH,server=on)"));
        }
    }
    let deadline = Instant::now() + timeout;
    let mut said_waiting = false;
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(stream) => break stream,
            // Not there yet, or not listening yet: the board has not started.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
                if Instant::now() >= deadline {
                    return Err(format!("nothing listens at {path} after {} s: {e}", timeout.as_secs()));
                }
                if !said_waiting {
                    eprintln!("chainload: waiting for {path} to appear (start the board)");
                    said_waiting = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(format!("cannot connect to {path}: {e}")),
        }
    };
    let reader = stream.try_clone().map_err(|e| format!("cannot use {path}: {e}"))?;
    Ok(Line { reader: Box::new(reader), writer: Box::new(stream) })
}

fn open_serial(port: &str, baud: u32) -> Result<Line, String> {
    if !std::path::Path::new(port).exists() {
        return Err(format!(
            "no serial device {port} (is the USB serial adapter plugged in? PORT is a device such as /dev/ttyUSB0, or unix:PATH)"
        ));
    }
    let status = Command::new("stty")
        .args(["-F", port, &baud.to_string(), "raw", "-echo", "cs8", "-cstopb", "-parenb", "-crtscts", "-ixon"])
        .status()
        .map_err(|e| format!("cannot run stty to configure {port}: {e}"))?;
    if !status.success() {
        return Err(format!("stty could not configure {port} for {baud} baud (is it a serial device?)"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(port)
        .map_err(|e| format!("cannot open {port}: {e} (permissions: are you in the dialout group?)"))?;
    let reader = file.try_clone().map_err(|e| format!("cannot use {port}: {e}"))?;
    Ok(Line { reader: Box::new(reader), writer: Box::new(file) })
}

/// Reads the line on a thread: bytes arrive on the channel; `None` = closed.
pub fn spawn_reader(mut reader: Box<dyn Read + Send>) -> mpsc::Receiver<Option<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn socket(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ilusion-chainload-test-{}-{name}.sock", std::process::id()))
    }

    #[test]
    fn a_missing_serial_device_is_named() {
        let err = open("/dev/ttyNOSUCHDEVICE9", 115_200, Duration::from_secs(1)).err().unwrap();
        assert!(
            err.starts_with("no serial device /dev/ttyNOSUCHDEVICE9 (is the USB serial adapter plugged in?"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_named() {
        let path = socket("file");
        std::fs::write(&path, b"").unwrap();
        let err = open(&format!("unix:{}", path.display()), 115_200, Duration::from_secs(30)).err().unwrap();
        assert!(err.starts_with(&format!("{} is not a Unix socket", path.display())), "{err}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_socket_that_never_appears_times_out_with_a_message() {
        let path = socket("never");
        let start = Instant::now();
        let err = open(&format!("unix:{}", path.display()), 115_200, Duration::from_secs(1)).err().unwrap();
        assert!(start.elapsed() >= Duration::from_secs(1), "gave up after {:?}", start.elapsed());
        assert!(err.starts_with(&format!("nothing listens at {} after 1 s", path.display())), "{err}");
    }

    #[test]
    fn a_socket_that_appears_later_is_connected_to() {
        let path = socket("later");
        let _ = std::fs::remove_file(&path);
        let server_path = path.clone();
        let server = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let listener = UnixListener::bind(&server_path).unwrap();
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"hi").unwrap();
        });
        let line = open(&format!("unix:{}", path.display()), 115_200, Duration::from_secs(10)).unwrap();
        let rx = spawn_reader(line.reader);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Some(b'h'));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Some(b'i'));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), None, "closed");
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}
