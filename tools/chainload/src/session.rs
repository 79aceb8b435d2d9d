//! The host's side of the protocol (`protocol.rs`), whatever the line is:
//! wait for the loader's `ready` (poking it with enquiries), send the
//! image, read the verdict, and send again after a refusal or a silence,
//! a bounded number of times. The board's lines are echoed to `console`,
//! the tool's own messages go to `log`.

use crate::protocol::{self, ACCEPTED, ENQUIRY, READY, REJECTED};
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The host's timing (scaled down in the unit tests).
#[derive(Clone, Copy)]
pub struct Timing {
    /// Between enquiries: more than the loader's timeout and quiet time.
    pub enquiry_interval: Duration,
    /// Quiet needed after `ready` before sending (the answer to an
    /// enquiry that crossed the loader's own announcement).
    pub settle: Duration,
    /// Line speed, to know how long a transfer takes.
    pub bytes_per_second: u64,
    /// How long after the transfer's expected end an answer may take.
    pub verdict_margin: Duration,
}

impl Timing {
    /// For a serial line at `baud` (8N1: 10 bits a byte).
    pub fn for_baud(baud: u32) -> Self {
        Self {
            enquiry_interval: Duration::from_millis(protocol::ENQUIRY_INTERVAL_MS),
            settle: Duration::from_millis(200),
            bytes_per_second: u64::from(baud / 10).max(1),
            verdict_margin: Duration::from_millis(protocol::IDLE_TIMEOUT_MS + 5000),
        }
    }

    fn verdict_timeout(&self, image_len: usize) -> Duration {
        Duration::from_millis(image_len as u64 * 1000 / self.bytes_per_second) + self.verdict_margin
    }
}

/// The loader's answer to a transfer.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accepted,
    Rejected(String),
    NoAnswer,
}

/// A session with the loader over one line.
pub struct Session<'a> {
    from_board: &'a mpsc::Receiver<Option<u8>>,
    to_board: &'a mut dyn Write,
    console: &'a mut dyn Write,
    log: &'a mut dyn Write,
    timing: Timing,
    line: Vec<u8>,
    /// The board the image was built for, if known (`--board`).
    board: Option<&'a str>,
}

/// The board a loader's `ready` line names: "… ready (rpi4)" gives "rpi4"
/// (the loader's build says which Pi it is for); `None` if it names none.
pub fn announced_board(line: &str) -> Option<&str> {
    let after = &line[line.find(READY)? + READY.len()..];
    let name = after.trim().strip_prefix('(')?.split([')', ',']).next()?.trim();
    (!name.is_empty()).then_some(name)
}

impl<'a> Session<'a> {
    pub fn new(
        from_board: &'a mpsc::Receiver<Option<u8>>,
        to_board: &'a mut dyn Write,
        console: &'a mut dyn Write,
        log: &'a mut dyn Write,
        timing: Timing,
    ) -> Self {
        Self { from_board, to_board, console, log, timing, line: Vec::new(), board: None }
    }

    /// Refuses to send to a loader that says it runs on another board than
    /// `board`, the one the image was built for: a Pi 4 image does not
    /// start on a Pi 3 (other addresses, another interrupt controller).
    pub fn for_board(mut self, board: &'a str) -> Self {
        self.board = Some(board);
        self
    }

    /// Sends `image` until the loader accepts it, at most `attempts` times;
    /// waits up to `ready_timeout` for `ready` each time. The attempt that
    /// succeeded, or why none did.
    pub fn load(&mut self, image: &[u8], attempts: u32, ready_timeout: Duration) -> Result<u32, String> {
        // At first the loader may be waiting already (poke it); after a
        // refusal it says `ready` by itself once the line is quiet.
        let mut poke_now = true;
        let mut last_failure = String::new();
        for attempt in 1..=attempts {
            self.wait_for_ready(ready_timeout, poke_now)?;
            self.settle();
            self.say(&format!(
                "sending {} bytes, CRC-32 {:08x} (attempt {attempt} of {attempts})",
                image.len(),
                protocol::crc32(image)
            ));
            self.send(&protocol::header(image))?;
            self.send_image(image)?;
            let timeout = self.timing.verdict_timeout(image.len());
            match self.wait_for_verdict(timeout)? {
                Verdict::Accepted => return Ok(attempt),
                Verdict::Rejected(why) => {
                    self.say(&format!("attempt {attempt} of {attempts} refused: {why}"));
                    last_failure = why;
                    poke_now = false;
                }
                Verdict::NoAnswer => {
                    last_failure = format!("no answer within {:.1} s", timeout.as_secs_f64());
                    self.say(&format!(
                        "attempt {attempt} of {attempts}: {last_failure} (was the Pi reset during the transfer?)"
                    ));
                    poke_now = true;
                }
            }
            if attempt < attempts {
                self.say("sending the image again");
            }
        }
        Err(format!("the chainloader did not take the image in {attempts} attempts (last: {last_failure})"))
    }

    fn say(&mut self, message: &str) {
        let _ = writeln!(self.log, "chainload: {message}");
        let _ = self.log.flush();
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.to_board
            .write_all(bytes)
            .and_then(|_| self.to_board.flush())
            .map_err(|e| format!("cannot write to the line: {e}"))
    }

    /// Sends the image in chunks, drawing a progress bar on `log` for a large one.
    fn send_image(&mut self, image: &[u8]) -> Result<(), String> {
        const CHUNK: usize = 1024;
        let mut progress = crate::progress::Progress::for_image(image.len());
        let mut sent = 0;
        for chunk in image.chunks(CHUNK) {
            if let Some(bar) = progress.as_mut().and_then(|p| p.update(sent)) {
                let _ = self.log.write_all(bar.as_bytes()).and_then(|_| self.log.flush());
            }
            self.send(chunk)?;
            sent += chunk.len();
        }
        if let Some(bar) = progress.as_mut().and_then(|p| p.update(sent)) {
            let _ = self.log.write_all(bar.as_bytes()).and_then(|_| self.log.flush());
        }
        Ok(())
    }

    /// Takes one byte from the board: a complete line is echoed and returned.
    fn take(&mut self, byte: u8) -> Option<String> {
        if byte != b'\n' {
            self.line.push(byte);
            return None;
        }
        let text = String::from_utf8_lossy(&self.line).trim_end().to_string();
        self.line.clear();
        let _ = writeln!(self.console, "{text}");
        let _ = self.console.flush();
        Some(text)
    }

    /// The board's next line, or `None` if none is complete by `until`.
    fn next_line(&mut self, until: Instant) -> Result<Option<String>, String> {
        loop {
            let Some(left) = until.checked_duration_since(Instant::now()) else { return Ok(None) };
            match self.from_board.recv_timeout(left) {
                Ok(Some(byte)) => {
                    if let Some(text) = self.take(byte) {
                        return Ok(Some(text));
                    }
                }
                Ok(None) | Err(RecvTimeoutError::Disconnected) => return Err("the line closed".into()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Until the loader says `ready`; sends an enquiry now (if `poke_now`)
    /// and after each [`Timing::enquiry_interval`] without it.
    fn wait_for_ready(&mut self, timeout: Duration, poke_now: bool) -> Result<(), String> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut next_poke = if poke_now { start } else { start + self.timing.enquiry_interval };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no \"{READY}\" from the chainloader within {} s (is it running? reset the Pi)",
                    timeout.as_secs_f64()
                ));
            }
            if now >= next_poke {
                self.send(&[ENQUIRY])?;
                next_poke = now + self.timing.enquiry_interval;
            }
            if let Some(text) = self.next_line(deadline.min(next_poke))? {
                if text.contains(READY) {
                    return match (self.board, announced_board(&text)) {
                        (Some(wanted), Some(running)) if wanted != running => Err(format!(
                            "the chainloader runs on {running}, but the image was built for {wanted}: \
                             build it for {running} (just chainload {running} EXAMPLE PORT), \
                             or put the {wanted} chainloader on the SD card (just chainloader {wanted})"
                        )),
                        _ => Ok(()),
                    };
                }
            }
        }
    }

    /// Echoes what follows `ready` until the line is quiet for
    /// [`Timing::settle`] (at most ten times that), so that no second
    /// `ready` is being written while the image goes out.
    fn settle(&mut self) {
        let end = Instant::now() + self.timing.settle * 10;
        while Instant::now() < end {
            match self.from_board.recv_timeout(self.timing.settle) {
                Ok(Some(byte)) => {
                    self.take(byte);
                }
                // A closed line is reported by the next read.
                _ => return,
            }
        }
    }

    fn wait_for_verdict(&mut self, timeout: Duration) -> Result<Verdict, String> {
        let deadline = Instant::now() + timeout;
        while let Some(text) = self.next_line(deadline)? {
            if text.contains(ACCEPTED) {
                return Ok(Verdict::Accepted);
            }
            if let Some(at) = text.find(REJECTED) {
                let why = text[at + REJECTED.len()..].trim_start_matches(':').trim();
                return Ok(Verdict::Rejected(why.to_string()));
            }
        }
        Ok(Verdict::NoAnswer)
    }
}
