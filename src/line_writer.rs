//! Output collected in a fixed buffer and handed on in whole lines.
//!
//! Every way of printing (`print!` in the kernel, `print!` in an isolated
//! task, the `console_write` system call) formats or copies into a small
//! buffer and writes the buffer out under the console lock; raw bytes
//! (`console::write_bytes`) go out in pieces of the same size
//! ([`next_piece`]). When a long
//! print fills the buffer, [`LineWriter`] hands on only the lines that are
//! complete and keeps the unfinished one: another core's output may then
//! land *between* two lines of a long print, but never inside a line. Only
//! a single line longer than the buffer is cut, at the buffer's size.
//!
//! This module knows nothing of ports or locks: the caller passes the
//! `sink` that writes a piece out. It is a leaf, so both the console and
//! the EL0 side of the system calls use it.

use core::fmt;
use core::mem::MaybeUninit;

/// How much of one `print!` is formatted before it is written out, in the
/// kernel and at EL0 alike.
pub const LINE_BUFFER: usize = 256;

/// A buffer of `N` bytes in front of `sink`, which gets whole lines. (The
/// sink is a `dyn` closure: one copy of this code serves every caller.)
pub struct LineWriter<'a, const N: usize> {
    /// The first `len` bytes are written, the rest not: a new writer
    /// zeroes nothing (as `[u8; N]`, each print began with a `memset` of
    /// the 256 bytes).
    buffer: [MaybeUninit<u8>; N],
    len: usize,
    sink: &'a mut dyn FnMut(&[u8]),
}

impl<'a, const N: usize> LineWriter<'a, N> {
    /// An empty buffer in front of `sink`.
    pub fn new(sink: &'a mut dyn FnMut(&[u8])) -> Self {
        Self { buffer: [MaybeUninit::uninit(); N], len: 0, sink }
    }

    /// Adds `bytes`; whenever the buffer is full, its complete lines go to the sink.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        // Nearly always: the piece (a few bytes of a format) fits.
        if let Some(room) = self.buffer.get_mut(self.len..self.len + bytes.len()) {
            room.write_copy_of_slice(bytes);
            self.len += bytes.len();
        } else {
            self.write_bytes_filling(bytes);
        }
    }

    /// [`Self::write_bytes`] for a piece that fills the buffer: a part at a time.
    #[cold]
    fn write_bytes_filling(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == N {
                self.hand_on_whole_lines();
            }
            let n = bytes.len().min(N - self.len);
            self.buffer[self.len..self.len + n].write_copy_of_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    /// Hands on everything still buffered, finished line or not.
    pub fn flush(&mut self) {
        if self.len > 0 {
            (self.sink)(written(&self.buffer, self.len));
            self.len = 0;
        }
    }

    /// Hands on the buffer up to its last line end and keeps the rest; a
    /// full buffer with no line end (one very long line) goes out whole.
    fn hand_on_whole_lines(&mut self) {
        let lines = written(&self.buffer, self.len);
        let cut = whole_lines(lines);
        (self.sink)(&lines[..cut]);
        self.buffer.copy_within(cut..self.len, 0);
        self.len -= cut;
    }
}

/// The bytes a [`LineWriter`] holds: the first `len` of its `buffer`.
fn written<const N: usize>(buffer: &[MaybeUninit<u8>; N], len: usize) -> &[u8] {
    // SAFETY: the writer's first `len` bytes are written: each write
    // raises `len` past the bytes it copied in, and `hand_on_whole_lines`
    // moves written bytes down before it lowers it.
    unsafe { buffer[..len].assume_init_ref() }
}

/// How much of `piece` to write when more follows it: up to its last line
/// end, or all of it if it has none (one line longer than a piece is cut).
pub fn whole_lines(piece: &[u8]) -> usize {
    piece.iter().rposition(|&b| b == b'\n').map_or(piece.len(), |last_newline| last_newline + 1)
}

/// The next piece of `bytes` to write in one go: all of it if it is at most
/// `max` bytes, else [`whole_lines`] of its first `max`.
pub fn next_piece(bytes: &[u8], max: usize) -> &[u8] {
    match bytes.get(..max) {
        Some(first) if bytes.len() > max => &bytes[..whole_lines(first)],
        _ => bytes,
    }
}

impl<const N: usize> fmt::Write for LineWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{next_piece, LineWriter};
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt::Write;

    /// The pieces the sink received, for a print of `text` through an
    /// `N`-byte buffer written `step` bytes at a time.
    fn pieces<const N: usize>(text: &str, step: usize) -> Vec<String> {
        let mut got = Vec::new();
        {
            let mut sink = |piece: &[u8]| got.push(String::from_utf8(piece.to_vec()).unwrap());
            let mut out = LineWriter::<N>::new(&mut sink);
            for part in text.as_bytes().chunks(step) {
                out.write_str(core::str::from_utf8(part).unwrap()).unwrap();
            }
            out.flush();
        }
        got
    }

    #[test]
    fn a_print_that_fits_goes_out_in_one_piece() {
        assert_eq!(pieces::<64>("one\ntwo\n", 3), ["one\ntwo\n"]);
        assert_eq!(pieces::<64>("", 1), Vec::<String>::new());
    }

    #[test]
    fn a_long_print_is_cut_only_at_line_ends() {
        // 20 lines of 11 bytes through 64 bytes: every piece but the last
        // ends a line, and every line is inside one piece.
        let text: String = (0..20).map(|i| alloc::format!("line {i:04}.\n")).collect();
        for step in [1, 7, 64, 500] {
            let got = pieces::<64>(&text, step);
            assert!(got.len() > 1, "{got:?}");
            assert!(got.iter().all(|p| p.ends_with('\n') && p.len() <= 64), "{got:?}");
            assert_eq!(got.concat(), text);
        }
    }

    #[test]
    fn the_unfinished_line_waits_for_the_next_flush() {
        let got = pieces::<16>("0123456789\nabcdefghij", 4);
        assert_eq!(got, ["0123456789\n", "abcdefghij"]);
    }

    #[test]
    fn only_a_line_longer_than_the_buffer_is_cut() {
        let long = "x".repeat(40);
        let got = pieces::<16>(&alloc::format!("{long}\nend\n"), 5);
        assert_eq!(got.concat(), alloc::format!("{long}\nend\n"));
        assert_eq!(got[0], "x".repeat(16));
        assert_eq!(got[1], "x".repeat(16));
        assert!(got.last().unwrap().ends_with("x\nend\n"), "{got:?}");
    }

    #[test]
    fn raw_bytes_go_in_pieces_cut_at_line_ends() {
        assert_eq!(next_piece(b"", 4), b"");
        assert_eq!(next_piece(b"abcd", 4), b"abcd", "what fits goes whole, line end or not");
        assert_eq!(next_piece(b"ab\ncd\nef", 6), b"ab\ncd\n");
        assert_eq!(next_piece(b"ab\ncdefgh", 6), b"ab\n");
        assert_eq!(next_piece(b"abcdefgh\n", 6), b"abcdef", "a line longer than a piece is cut");
        let text: Vec<u8> = (0..100).flat_map(|i| alloc::format!("line {i}\n").into_bytes()).collect();
        let (mut rest, mut got) = (&text[..], Vec::new());
        while !rest.is_empty() {
            let piece = next_piece(rest, 64);
            assert!(piece.len() <= 64 && (piece.ends_with(b"\n")), "{piece:?}");
            got.extend_from_slice(piece);
            rest = &rest[piece.len()..];
        }
        assert_eq!(got, text);
    }
}
