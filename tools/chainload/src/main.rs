//! The host side of ilusion's serial chainloader (`tools/chainloader` runs
//! on the Pi): sends a raw image over a serial line, then copies the Pi's
//! console to stdout and stdin to the Pi, until the line closes or Ctrl-C.
//!
//! ```text
//! ilusion-chainload [--baud N] [--timeout SECONDS] [--attempts N] PORT IMAGE
//! ```
//!
//! PORT is a serial device (`/dev/ttyUSB0`; configured raw at N baud,
//! default 115200, with `stty`) or `unix:PATH`, a Unix socket such as
//! QEMU's `-serial unix:PATH,server=on`. IMAGE is a raw image
//! (`target/images/<board>/<example>.img`). The tool may start before or
//! after the Pi; a refused transfer is sent again (`--attempts`, default
//! 3). `--help` explains the protocol's timing. Exit status: 0 when the
//! line closed after a successful transfer; 1 when the image could not be
//! sent; 2 for a bad command line; always with a message.
//!
//! [`options`] reads the command line, [`line`] opens the port, and
//! [`session`] runs the protocol (`protocol.rs`, shared with the loader),
//! showing a [`progress`] bar for images over 64 KiB.

// The loader's side of the protocol (`Receiver`) is used by the tests only.
#[allow(dead_code)]
#[path = "../../chainloader/src/protocol.rs"]
mod protocol;

mod line;
mod options;
mod progress;
mod session;

#[cfg(test)]
mod fake_board;
#[cfg(test)]
mod protocol_tests;
#[cfg(test)]
mod session_tests;

use options::{ArgsError, Options};
use std::io::{Read, Write};
use std::time::Instant;

fn run(o: Options) -> Result<(), String> {
    let image = options::read_image(&o.image)?;
    let line::Line { reader, writer: mut to_board } = line::open(&o.port, o.baud, o.timeout)?;
    let from_board = line::spawn_reader(reader);
    eprintln!("chainload: waiting for the chainloader on {} (reset the Pi if it is running something else)", o.port);
    let start = Instant::now();
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let timing = session::Timing::for_baud(o.baud);
    let mut session = session::Session::new(&from_board, &mut *to_board, &mut stdout, &mut stderr, timing);
    if let Some(board) = &o.board {
        session = session.for_board(board);
    }
    let attempt = session.load(&image, o.attempts, o.timeout)?;
    eprintln!(
        "chainload: {} accepted (attempt {attempt}) after {:.1} s; now the Pi's console (Ctrl-C quits)",
        o.image,
        start.elapsed().as_secs_f64()
    );
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || to_board.write_all(&buf[..n]).and_then(|_| to_board.flush()).is_err() {
                break;
            }
        }
    });
    while let Ok(Some(b)) = from_board.recv() {
        let _ = stdout.write_all(&[b]);
        if b == b'\n' {
            let _ = stdout.flush();
        }
    }
    let _ = stdout.flush();
    Ok(())
}

fn main() {
    match options::parse(std::env::args().skip(1)) {
        Err(ArgsError::Help) => {
            let _ = writeln!(std::io::stdout(), "{}", options::help());
        }
        Err(ArgsError::Usage(why)) => {
            eprintln!("chainload: {why}\n{}", options::USAGE);
            std::process::exit(2);
        }
        Ok(o) => {
            if let Err(why) = run(o) {
                eprintln!("chainload: error: {why}");
                std::process::exit(1);
            }
        }
    }
}
