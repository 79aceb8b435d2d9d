//! The shell's line editor: turns the bytes a terminal sends into lines,
//! and says what to echo back.
//!
//! It knows no console and no board: [`LineEditor::feed`] takes one byte,
//! appends what the terminal must show to an output buffer, and says
//! whether a line is complete. So it is tested on the host, byte by byte.
//!
//! What it understands (what a VT100-style terminal such as `screen`,
//! `minicom`, `picocom` or QEMU's stdio sends):
//! - printable ASCII: appended and echoed; a line longer than [`MAX_LINE`]
//!   bytes is refused with the terminal's bell (`0x07`), never a crash;
//! - Enter (`\r`, `\n`, or `\r\n`, counted once): the line is done;
//! - backspace (`0x7f` DEL, or `0x08` BS): erases the last character;
//! - Ctrl-U (`0x15`): erases the whole line; Ctrl-C (`0x03`): abandons it
//!   (echoes `^C`; the shell shows a new prompt);
//! - up and down arrows (`ESC [ A`, `ESC [ B`, or `ESC O A`/`B`): walk the
//!   last [`HISTORY`] lines entered; down past the newest gives back the
//!   line being typed before;
//! - every other escape sequence (left and right arrows, Home, F-keys...)
//!   and control character: swallowed, without echo. A control byte
//!   (below 0x20: Enter, Ctrl-C, backspace, another `ESC`; and DEL, the
//!   other backspace) is never part of a sequence: it ends one begun (a
//!   lone Esc, a sequence cut short) and does what it always does, so Esc
//!   then Enter enters the line, Esc then Backspace erases, and
//!   `ESC ESC [ A` (Esc, then Up; or Alt-Up) is the up arrow;
//! - bytes above 0x7f (UTF-8): refused with the bell (the editor erases by
//!   byte, which would split a character).

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// The longest line, in bytes.
pub const MAX_LINE: usize = 128;
/// How many entered lines the up arrow can recall.
pub const HISTORY: usize = 16;
/// The longest escape sequence parameter part swallowed before giving up on it.
const MAX_ESCAPE: usize = 16;

const BELL: u8 = 0x07;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const CTRL_C: u8 = 0x03;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;

/// What one byte did.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed {
    /// The line is still being edited.
    Editing,
    /// Enter: the finished line (without its end).
    Line(String),
    /// Ctrl-C: the line was abandoned.
    Cancelled,
}

/// Where the editor is in an escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After `ESC`.
    Started,
    /// After `ESC [` (CSI) and this many parameter bytes.
    Csi(usize),
    /// After `ESC O` (SS3: arrows in the terminal's application mode).
    Ss3,
}

/// A line being typed, and the lines typed before.
pub struct LineEditor {
    line: Vec<u8>,
    escape: Escape,
    /// The last byte was `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    /// Entered lines, oldest first, at most [`HISTORY`].
    history: VecDeque<String>,
    /// While walking the history: how far back (1 = the newest), and the
    /// line that was being typed before the walk began.
    recall: Option<(usize, Vec<u8>)>,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub fn new() -> Self {
        Self { line: Vec::new(), escape: Escape::None, after_cr: false, history: VecDeque::new(), recall: None }
    }

    /// The line typed so far.
    pub fn line(&self) -> &str {
        // Only printable ASCII is ever stored.
        core::str::from_utf8(&self.line).unwrap_or("")
    }

    /// Drops the line being typed, without echo (the shell: input was lost
    /// in the middle of it).
    pub fn abandon(&mut self) {
        self.line.clear();
        self.recall = None;
        self.escape = Escape::None;
        self.after_cr = false;
    }

    /// The lines entered, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// Takes one byte from the terminal; appends what to show to `echo`.
    pub fn feed(&mut self, byte: u8, echo: &mut Vec<u8>) -> Feed {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        // A control byte (Enter, Ctrl-C, backspace, a new ESC) is never part
        // of a sequence: it ends the one begun and is taken as usual below.
        // DEL too: it is the backspace most terminals send.
        if byte < 0x20 || byte == DELETE {
            self.escape = Escape::None;
        }
        match self.escape {
            Escape::None => {}
            Escape::Started => {
                self.escape = match byte {
                    b'[' => Escape::Csi(0),
                    b'O' => Escape::Ss3,
                    // `ESC x` (Alt-x) and the like: swallowed whole.
                    _ => Escape::None,
                };
                return Feed::Editing;
            }
            Escape::Csi(n) => {
                // Parameter and intermediate bytes, then one final byte.
                if (0x20..=0x3f).contains(&byte) {
                    self.escape = if n < MAX_ESCAPE { Escape::Csi(n + 1) } else { Escape::None };
                    return Feed::Editing;
                }
                self.escape = Escape::None;
                if n == 0 {
                    self.arrow(byte, echo);
                }
                return Feed::Editing;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                self.arrow(byte, echo);
                return Feed::Editing;
            }
        }
        match byte {
            b'\n' if after_cr => Feed::Editing,
            b'\r' | b'\n' => {
                echo.push(b'\n');
                self.recall = None;
                let line = String::from(self.line());
                self.line.clear();
                self.remember(&line);
                Feed::Line(line)
            }
            DELETE | BACKSPACE => {
                if self.line.pop().is_some() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                Feed::Editing
            }
            CTRL_U => {
                self.erase_shown(echo);
                self.line.clear();
                Feed::Editing
            }
            CTRL_C => {
                echo.extend_from_slice(b"^C\n");
                self.line.clear();
                self.recall = None;
                Feed::Cancelled
            }
            ESC => {
                self.escape = Escape::Started;
                Feed::Editing
            }
            0x20..=0x7e if self.line.len() < MAX_LINE => {
                self.line.push(byte);
                echo.push(byte);
                Feed::Editing
            }
            // Too long, or not ASCII: refused, audibly.
            0x20..=0x7e | 0x80..=0xff => {
                echo.push(BELL);
                Feed::Editing
            }
            // Other control characters (Tab, Ctrl-D...): nothing.
            _ => Feed::Editing,
        }
    }

    /// The final byte of `ESC [ x` or `ESC O x`: up and down walk the
    /// history, anything else (left, right, Home...) does nothing.
    fn arrow(&mut self, byte: u8, echo: &mut Vec<u8>) {
        let back = self.recall.as_ref().map_or(0, |(back, _)| *back);
        let to = match byte {
            b'A' if back < self.history.len() => back + 1,
            b'B' if back > 0 => back - 1,
            b'A' | b'B' => {
                echo.push(BELL);
                return;
            }
            _ => return,
        };
        self.erase_shown(echo);
        let draft = match self.recall.take() {
            Some((_, draft)) => draft,
            None => core::mem::take(&mut self.line),
        };
        if to == 0 {
            self.line = draft;
        } else {
            self.line = self.history[self.history.len() - to].as_bytes().to_vec();
            self.recall = Some((to, draft));
        }
        echo.extend_from_slice(&self.line);
    }

    /// Erases the line on the terminal (not in the editor): back over it,
    /// blank it, back again.
    fn erase_shown(&self, echo: &mut Vec<u8>) {
        let n = self.line.len();
        echo.extend(core::iter::repeat_n(BACKSPACE, n));
        echo.extend(core::iter::repeat_n(b' ', n));
        echo.extend(core::iter::repeat_n(BACKSPACE, n));
    }

    /// Adds an entered line to the history: not blank lines, not the same
    /// line twice in a row; the oldest goes when it is full.
    fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().is_some_and(|last| last == line) {
            return;
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(String::from(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes`; returns what came out of the last byte, and all the echo.
    fn type_in(e: &mut LineEditor, bytes: &[u8]) -> (Vec<Feed>, Vec<u8>) {
        let mut echo = Vec::new();
        let results = bytes.iter().map(|&b| e.feed(b, &mut echo)).filter(|f| *f != Feed::Editing).collect();
        (results, echo)
    }

    fn line(s: &str) -> Feed {
        Feed::Line(String::from(s))
    }

    #[test]
    fn printable_characters_are_echoed_and_enter_ends_the_line() {
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, b"ps -a\r");
        assert_eq!(done, [line("ps -a")]);
        assert_eq!(echo, b"ps -a\n");
        assert_eq!(e.line(), "");
    }

    #[test]
    fn cr_lf_ends_one_line_not_two_but_lf_alone_ends_one() {
        let mut e = LineEditor::new();
        assert_eq!(type_in(&mut e, b"a\r\nb\n\n").0, [line("a"), line("b"), line("")]);
    }

    #[test]
    fn both_backspaces_erase_one_character_and_stop_at_the_start() {
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, b"abc\x7f\x08\x7f\x7fx\r");
        assert_eq!(done, [line("x")]);
        // Three erasures shown, the fourth (empty line) shows nothing.
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08x\n");
    }

    #[test]
    fn ctrl_u_erases_the_line_on_screen_and_in_the_editor() {
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, b"kill 3\x15mem\r");
        assert_eq!(done, [line("mem")]);
        assert_eq!(echo, b"kill 3\x08\x08\x08\x08\x08\x08      \x08\x08\x08\x08\x08\x08mem\n");
    }

    #[test]
    fn ctrl_c_abandons_the_line_and_keeps_it_out_of_the_history() {
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, b"reboot\x03help\r");
        assert_eq!(done, [Feed::Cancelled, line("help")]);
        assert_eq!(echo, b"reboot^C\nhelp\n");
        assert_eq!(e.history().collect::<Vec<_>>(), ["help"]);
    }

    #[test]
    fn up_recalls_the_previous_lines_and_down_comes_back_to_the_draft() {
        let mut e = LineEditor::new();
        type_in(&mut e, b"ps\rmem\rdra");
        let (_, echo) = type_in(&mut e, b"\x1b[A");
        assert_eq!(e.line(), "mem");
        assert_eq!(echo, b"\x08\x08\x08   \x08\x08\x08mem");
        type_in(&mut e, b"\x1b[A");
        assert_eq!(e.line(), "ps");
        // Past the oldest: the bell, the line stays.
        let (_, echo) = type_in(&mut e, b"\x1b[A");
        assert_eq!((e.line(), echo.as_slice()), ("ps", &b"\x07"[..]));
        type_in(&mut e, b"\x1bOB"); // SS3 form
        assert_eq!(e.line(), "mem");
        type_in(&mut e, b"\x1b[B");
        assert_eq!(e.line(), "dra");
        let (_, echo) = type_in(&mut e, b"\x1b[B");
        assert_eq!((e.line(), echo.as_slice()), ("dra", &b"\x07"[..]));
    }

    #[test]
    fn up_then_enter_runs_the_recalled_line_again() {
        let mut e = LineEditor::new();
        let (done, _) = type_in(&mut e, b"uptime\r\x1b[A\r");
        assert_eq!(done, [line("uptime"), line("uptime")]);
        // The same line twice in a row is remembered once.
        assert_eq!(e.history().count(), 1);
    }

    #[test]
    fn a_recalled_line_can_be_edited() {
        let mut e = LineEditor::new();
        let (done, _) = type_in(&mut e, b"kill 12\r\x1b[A\x7f3\r");
        assert_eq!(done, [line("kill 12"), line("kill 13")]);
    }

    #[test]
    fn history_keeps_the_newest_entries_and_skips_blank_lines() {
        let mut e = LineEditor::new();
        for i in 0..HISTORY + 4 {
            type_in(&mut e, alloc::format!("cmd{i}\r   \r").as_bytes());
        }
        let h: Vec<&str> = e.history().collect();
        assert_eq!(h.len(), HISTORY);
        assert_eq!((h[0], h[HISTORY - 1]), ("cmd4", "cmd19"));
    }

    #[test]
    fn other_escape_sequences_and_control_characters_are_swallowed() {
        let mut e = LineEditor::new();
        // Left, right, Home, F5 (ESC [ 1 5 ~), Delete (ESC [ 3 ~), Alt-x, Tab, Ctrl-D.
        let (done, echo) = type_in(&mut e, b"a\x1b[D\x1b[C\x1b[H\x1b[15~\x1b[3~\x1bx\t\x04b\r");
        assert_eq!(done, [line("ab")]);
        assert_eq!(echo, b"ab\n");
    }

    #[test]
    fn a_runaway_escape_sequence_ends_and_typing_goes_on() {
        let mut e = LineEditor::new();
        let mut bytes = b"\x1b[".to_vec();
        bytes.extend(core::iter::repeat_n(b'1', 100));
        bytes.extend_from_slice(b"ok\r");
        // The sequence is given up after MAX_ESCAPE parameter bytes; what
        // follows is typed again (some digits, then "ok").
        let (done, _) = type_in(&mut e, &bytes);
        assert_eq!(done.len(), 1);
        let Feed::Line(l) = &done[0] else { panic!("no line: {done:?}") };
        assert!(l.ends_with("ok") && l.trim_end_matches("ok").bytes().all(|b| b == b'1'), "{l:?}");
    }

    #[test]
    fn an_overlong_line_is_refused_with_the_bell_and_kept_at_its_limit() {
        let mut e = LineEditor::new();
        let (_, echo) = type_in(&mut e, &[b'x'; MAX_LINE + 3]);
        assert_eq!(e.line().len(), MAX_LINE);
        assert_eq!(&echo[MAX_LINE..], [BELL; 3]);
        // Room again after a backspace.
        let (done, _) = type_in(&mut e, b"\x7fy\r");
        assert_eq!(done, [Feed::Line(alloc::format!("{}y", "x".repeat(MAX_LINE - 1)))]);
    }

    #[test]
    fn non_ascii_bytes_are_refused() {
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, "é!\r".as_bytes());
        assert_eq!(done, [line("!")]);
        assert_eq!(echo, b"\x07\x07!\n");
    }

    #[test]
    fn esc_then_an_arrow_is_the_arrow_not_typed_text() {
        // Esc pressed before Up, or Alt-Up: `ESC ESC [ A`.
        let mut e = LineEditor::new();
        type_in(&mut e, b"ps\r");
        let (done, echo) = type_in(&mut e, b"\x1b\x1b[A");
        assert_eq!((done, e.line()), (alloc::vec![], "ps"));
        assert_eq!(echo, b"ps");
        let (done, _) = type_in(&mut e, b"\x1b\x1b\x1b[Bx\r");
        assert_eq!(done, [line("x")]);
    }

    #[test]
    fn a_control_byte_ends_an_escape_sequence_and_is_taken() {
        // Enter after a lone Esc: the line is done.
        let mut e = LineEditor::new();
        let (done, echo) = type_in(&mut e, b"abc\x1b\r");
        assert_eq!((done, echo), (alloc::vec![line("abc")], b"abc\n".to_vec()));
        // Ctrl-C after Esc, inside a CSI, inside an SS3: the line is abandoned.
        for cut in [&b"\x1b\x03"[..], b"\x1b[\x03", b"\x1b[1;\x03", b"\x1bO\x03"] {
            let mut e = LineEditor::new();
            let (done, echo) = type_in(&mut e, &[&b"reboot"[..], cut].concat());
            assert_eq!(done, [Feed::Cancelled], "{cut:?}");
            assert_eq!(echo, b"reboot^C\n", "{cut:?}");
            assert_eq!(e.line(), "");
        }
        // Backspace after Esc, or inside a sequence, erases (BS, and DEL,
        // which most terminals send); what follows is typed.
        for cut in [&b"\x1b\x08"[..], b"\x1b\x7f", b"\x1b[\x7f", b"\x1b[1;\x7f", b"\x1bO\x7f"] {
            let mut e = LineEditor::new();
            assert_eq!(type_in(&mut e, &[&b"ab"[..], cut, b"c\r"].concat()).0, [line("ac")], "{cut:?}");
        }
        // A new ESC inside a CSI starts a new sequence.
        let mut e = LineEditor::new();
        type_in(&mut e, b"ps\r");
        type_in(&mut e, b"\x1b[1\x1b[A");
        assert_eq!(e.line(), "ps");
    }
}
