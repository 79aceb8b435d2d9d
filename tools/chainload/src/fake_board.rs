//! A loader in a thread, for the session tests: the real [`Receiver`]
//! with its timeouts scaled down by [`SCALE`], on a line made of channels,
//! with the faults a real line and a real Pi have (a late boot, a byte
//! corrupted on the way, a reset in the middle of a transfer, a transfer an
//! earlier host left unfinished).

use crate::protocol::{Event, Receiver, ACCEPTED, MAGIC, READY, REJECTED};
use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The fake loader's timeouts are the real ones divided by this.
pub const SCALE: u32 = 20;

/// What goes wrong.
#[derive(Clone, Default)]
pub struct Faults {
    /// The loader boots this long after the host starts (bytes sent before are lost).
    pub boot_delay: Duration,
    /// The loader's boot announcement is lost (it booted before the host listened).
    pub silent_boot: bool,
    /// Bytes an earlier host sent before it stopped (the loader is in their transfer).
    pub left_over: Vec<u8>,
    /// This many transfers get image byte 100 flipped on the line.
    pub corrupt_transfers: u32,
    /// The Pi is reset after this many bytes of the first transfer.
    pub reset_after: Option<usize>,
    /// The loader never answers at all.
    pub dead: bool,
}

/// What the fake loader saw.
pub struct Report {
    /// The accepted image.
    pub image: Option<Vec<u8>>,
    /// How many transfers (MAGIC) it saw.
    pub transfers: u32,
    /// How many enquiries reached it before the first transfer.
    pub enquiries: u32,
}

/// The host's end of the line to the fake loader.
pub struct ToBoard(mpsc::Sender<u8>);

impl Write for ToBoard {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for &b in bytes {
            // The board may have finished: writes into the void succeed.
            let _ = self.0.send(b);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn say(out: &mpsc::Sender<Option<u8>>, text: &str) {
    for b in text.bytes().chain(*b"\r\n") {
        let _ = out.send(Some(b));
    }
}

/// Starts the fake loader: the host's writer, its reader, and the loader.
pub fn start(faults: Faults) -> (ToBoard, mpsc::Receiver<Option<u8>>, JoinHandle<Report>) {
    let (to_board, input) = mpsc::channel::<u8>();
    let (output, from_board) = mpsc::channel();
    let board = std::thread::spawn(move || run(faults, input, output));
    (ToBoard(to_board), from_board, board)
}

fn run(faults: Faults, input: mpsc::Receiver<u8>, out: mpsc::Sender<Option<u8>>) -> Report {
    let mut report = Report { image: None, transfers: 0, enquiries: 0 };
    let boot = Instant::now() + faults.boot_delay;
    while Instant::now() < boot {
        let _ = input.recv_timeout(boot - Instant::now());
    }
    if faults.dead {
        while let Ok(b) = input.recv() {
            report.enquiries += u32::from(b == crate::protocol::ENQUIRY);
        }
        return report;
    }
    let mut memory = vec![0u8; 1 << 16];
    let mut receiver = Receiver::new(memory.len() as u32);
    let pending: Vec<u8> = faults.left_over.clone();
    let mut pending = pending.into_iter();
    if !faults.silent_boot {
        say(&out, &format!("{READY} (fake)"));
    }
    let (mut window, mut since_magic, mut reset_done) = ([0u8; 4], None::<usize>, false);
    loop {
        let byte = match pending.next() {
            Some(b) => Ok(b),
            None => match receiver.patience().millis() {
                None => input.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(ms) => input.recv_timeout(Duration::from_millis(ms) / SCALE),
            },
        };
        let event = match byte {
            Ok(mut b) => {
                window = [window[1], window[2], window[3], b];
                since_magic = since_magic.map(|n| n + 1);
                if window == MAGIC {
                    report.transfers += 1;
                    since_magic = Some(0);
                }
                if b == crate::protocol::ENQUIRY && report.transfers == 0 {
                    report.enquiries += 1;
                }
                // Header: 8 bytes after MAGIC; image byte 100 is byte 108.
                if since_magic == Some(108) && report.transfers <= faults.corrupt_transfers {
                    b ^= 0x40;
                }
                if faults.reset_after == since_magic && report.transfers == 1 && !reset_done {
                    reset_done = true;
                    receiver = Receiver::new(memory.len() as u32);
                    say(&out, &format!("{READY} (fake, after a reset)"));
                    continue;
                }
                receiver.byte(b, &mut |offset, byte| memory[offset as usize] = byte)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => receiver.silence(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return report,
        };
        match event {
            Event::Nothing => {}
            Event::Announce => say(&out, &format!("{READY} (fake)")),
            Event::Rejected(why) => say(&out, &format!("{REJECTED}: {why}")),
            Event::Complete { size } => {
                say(&out, &format!("{ACCEPTED} ({size} bytes)"));
                say(&out, "hello from the fake board");
                let _ = out.send(None);
                report.image = Some(memory[..size as usize].to_vec());
                return report;
            }
        }
    }
}
