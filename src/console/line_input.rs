//! A line `console::read_line` is reading: the bytes kept so far in the
//! caller's buffer, and what to echo. Apart from the console, so that it
//! is tested on the host.
//!
//! What is kept is what the terminal shows, byte for byte: a character
//! (ASCII or UTF-8) is kept and echoed whole or not at all, backspace
//! erases a whole character on both, and what would move the terminal's
//! cursor without being text (an escape sequence such as an arrow key's
//! `ESC [ D`, Tab, another control byte) is neither kept nor echoed. (Kept
//! and echoed, a left arrow moved the cursor back, so the screen showed
//! another line than the one read; and one backspace erased one byte of
//! an `é` but all of it on the screen.)

/// The line being read.
pub(super) struct LineInput<'a> {
    buf: &'a mut [u8],
    pub(super) len: usize,
    /// Where it is in an escape sequence (whose bytes are swallowed).
    escape: Escape,
    /// How many bytes the character being kept still has to come (room
    /// was made for them); continuation bytes beyond them (of a character
    /// not kept, or stray) are dropped.
    rest: u8,
}

/// Where [`LineInput`] is in an escape sequence, read as the shell's
/// editor reads them: `ESC x`, `ESC O x`, or `ESC [`, parameter bytes, a
/// final byte. A control byte (or DEL) ends any sequence and is taken as usual.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    /// After `ESC [` and this many parameter bytes (given up after [`MAX_ESCAPE`]).
    Csi(u8),
    Ss3,
}

/// The most parameter bytes of an escape sequence swallowed (as the shell's editor).
const MAX_ESCAPE: u8 = 16;

impl<'a> LineInput<'a> {
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0, escape: Escape::None, rest: 0 }
    }

    /// Takes one byte (`after_cr`: the byte before it, perhaps the end of the
    /// previous line, was `\r`), passing what to echo to `echo`; `true` once
    /// the line is complete. `\r`, `\n` or `\r\n` ends a line (the `\n` of
    /// `\r\n` is skipped, also when it comes as the next line's first byte);
    /// backspace (BS or DEL) erases the last character kept; a character
    /// that does not fit in the buffer is dropped whole.
    pub(super) fn feed(&mut self, byte: u8, after_cr: bool, echo: &mut impl FnMut(&[u8])) -> bool {
        if self.in_escape(byte) {
            return false;
        }
        let continuation = (0x80..=0xbf).contains(&byte);
        if self.rest > 0 && !continuation {
            // A character cut short: what was kept of it goes.
            self.drop_last_character();
        }
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                echo(b"\n");
                return true;
            }
            0x08 | 0x7f => self.erase_character(echo),
            0x1b => self.escape = Escape::Started,
            // Other control bytes: nothing (Tab, Ctrl-D, NUL...).
            0..=0x1f => {}
            0x20..=0x7e => self.keep(byte, 1, echo),
            // A character's next byte: its first made room for all of them.
            0x80..=0xbf if self.rest > 0 => {
                self.rest -= 1;
                self.buf[self.len] = byte;
                self.len += 1;
                echo(&[byte]);
            }
            // Of a character not kept, or stray.
            0x80..=0xbf => {}
            0xc2..=0xdf => self.keep(byte, 2, echo),
            0xe0..=0xef => self.keep(byte, 3, echo),
            0xf0..=0xf4 => self.keep(byte, 4, echo),
            // Never in UTF-8 (0xc0, 0xc1, 0xf5 and above).
            _ => {}
        }
        false
    }

    /// Swallows `byte` if it belongs to an escape sequence.
    fn in_escape(&mut self, byte: u8) -> bool {
        if byte < 0x20 || byte == 0x7f {
            // A control byte (Enter, backspace, a new Esc; DEL, the other
            // backspace) is never part of one.
            self.escape = Escape::None;
            return false;
        }
        self.escape = match self.escape {
            Escape::None => return false,
            Escape::Started if byte == b'[' => Escape::Csi(0),
            Escape::Started if byte == b'O' => Escape::Ss3,
            Escape::Csi(n) if (0x20..=0x3f).contains(&byte) && n < MAX_ESCAPE => Escape::Csi(n + 1),
            // The final byte (or the one past a runaway sequence's parameters).
            Escape::Started | Escape::Csi(_) | Escape::Ss3 => Escape::None,
        };
        true
    }

    /// Keeps `byte`, the first of a character of `size` bytes, if the
    /// whole character has room.
    fn keep(&mut self, byte: u8, size: u8, echo: &mut impl FnMut(&[u8])) {
        if self.len + usize::from(size) <= self.buf.len() {
            self.buf[self.len] = byte;
            self.len += 1;
            self.rest = size - 1;
            echo(&[byte]);
        }
    }

    /// Erases the last character kept (all its bytes), and one column on the screen.
    fn erase_character(&mut self, echo: &mut impl FnMut(&[u8])) {
        if self.len > 0 {
            self.drop_last_character();
            echo(b"\x08 \x08");
        }
    }

    /// Takes the last character kept (all its bytes) off the line.
    fn drop_last_character(&mut self) {
        self.rest = 0;
        while self.len > 0 {
            self.len -= 1;
            if !(0x80..=0xbf).contains(&self.buf[self.len]) {
                break; // its first byte
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineInput;
    use alloc::vec::Vec;

    /// Feeds `bytes` to successive lines as `read_line` does; the lines and the echo.
    fn read_lines(bytes: &[u8], size: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let (mut lines, mut echo) = (Vec::new(), Vec::new());
        let mut buf = alloc::vec![0; size];
        let mut line = LineInput::new(&mut buf);
        let mut after_cr = false;
        for &b in bytes {
            if line.feed(b, after_cr, &mut |e: &[u8]| echo.extend_from_slice(e)) {
                lines.push(line.buf[..line.len].to_vec());
                line.len = 0;
            }
            after_cr = b == b'\r';
        }
        (lines, echo)
    }

    #[test]
    fn cr_lf_ends_one_line_not_two() {
        let (lines, echo) = read_lines(b"ping\r\npong\r\n\nx\n", 16);
        assert_eq!(lines, [&b"ping"[..], b"pong", b"", b"x"]);
        assert_eq!(echo, b"ping\npong\n\nx\n");
    }

    #[test]
    fn backspace_and_delete_erase_and_are_not_kept() {
        let (lines, echo) = read_lines(b"\x08ab\x7fc\x08\x08\x08d\r", 16);
        assert_eq!(lines, [&b"d"[..]]);
        // Erasing an empty line shows nothing.
        assert_eq!(echo, b"ab\x08 \x08c\x08 \x08\x08 \x08d\n");
    }

    #[test]
    fn backspace_erases_a_whole_character_as_the_terminal_does() {
        // "é" is two bytes and one character on the screen: one backspace
        // erases both, so what is kept is what is shown.
        let (lines, echo) = read_lines("aé\x7f\r".as_bytes(), 16);
        assert_eq!(lines, [&b"a"[..]]);
        assert_eq!(echo, "aé\x08 \x08\n".as_bytes());
        let (lines, _) = read_lines("€😀\x7f\x7fz\r".as_bytes(), 16);
        assert_eq!(lines, [&b"z"[..]]);
    }

    #[test]
    fn escape_sequences_and_control_characters_are_neither_kept_nor_echoed() {
        // Left arrow (it would move the cursor back over "b"), Up in both
        // forms, F5, Alt-x, a lone Esc, Tab, Ctrl-D, NUL: the screen and the
        // line both read "abc".
        let (lines, echo) = read_lines(b"ab\x1b[D\x1b[A\x1bOA\x1b[15~\x1bx\x1b\t\x04\0c\r", 16);
        assert_eq!(lines, [&b"abc"[..]]);
        assert_eq!(echo, b"abc\n");
        // A control byte ends a sequence and is taken: Esc then Enter ends the line.
        let (lines, _) = read_lines(b"ok\x1b\rnext\x1b[\r", 16);
        assert_eq!(lines, [&b"ok"[..], b"next"]);
        // So is backspace, BS or DEL (what most terminals send).
        let (lines, _) = read_lines(b"ab\x1b\x7fc\x1b[1\x7f\x1bO\x08d\r", 16);
        assert_eq!(lines, [&b"d"[..]]);
    }

    #[test]
    fn a_character_that_does_not_fit_is_dropped_whole() {
        // Room for 3 bytes: "ab" and not half of "é".
        let (lines, echo) = read_lines("abé\r".as_bytes(), 3);
        assert_eq!(lines, [&b"ab"[..]]);
        assert_eq!(echo, b"ab\n");
        // Bytes that are never UTF-8 (and what follows them of their character) are not kept.
        let (lines, _) = read_lines(b"a\xff\xc0\x80b\r", 16);
        assert_eq!(lines, [&b"ab"[..]]);
        // A stray continuation byte, a character cut short by another: not kept.
        let (lines, _) = read_lines(b"a\x80b\xc3c\xe2\x82\r", 16);
        assert_eq!(lines, [&b"abc"[..]]);
    }

    #[test]
    fn bytes_past_the_buffer_are_dropped() {
        let (lines, echo) = read_lines(b"abcd\x7fe\r", 3);
        assert_eq!(lines, [&b"abe"[..]]);
        assert_eq!(echo, b"abc\x08 \x08e\n");
    }
}
