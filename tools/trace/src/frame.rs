//! Finding a framed dump in a captured console log.
//!
//! The kernel prints each dump between a header line (`@@ilusion-trace v1 ...`,
//! `@@ilusion-maps v1 ...`) and an `@@end ...` line; anything else the
//! machine printed may come before, after, or (from another core) between
//! them. Errors name the log's line (counted from 1) and what was wrong.

use std::fmt;

/// What was wrong with the input, and on which line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// 1-based line number in the log; 0 when the error is about the whole log.
    pub line: usize,
    pub what: String,
}

impl InputError {
    pub fn at(line: usize, what: impl Into<String>) -> Self {
        InputError { line, what: what.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.what)
        } else {
            write!(f, "line {}: {}", self.line, self.what)
        }
    }
}

/// One line of the log: its number and its text, without the line ending
/// (a serial console's `\r` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// One frame: its header, the lines between, and its `@@end` line.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub header: Line<'a>,
    pub body: Vec<Line<'a>>,
    pub end: Line<'a>,
}

/// Every frame whose header starts with `marker` (e.g. `@@ilusion-trace`), in order.
/// A header without its `@@end` (the log was cut, or a new header came
/// first) is an error naming the header's line.
pub fn frames<'a>(log: &'a str, marker: &str) -> Result<Vec<Frame<'a>>, InputError> {
    let mut found = Vec::new();
    let mut open: Option<(Line<'a>, Vec<Line<'a>>)> = None;
    for (index, raw) in log.lines().enumerate() {
        let line = Line { number: index + 1, text: raw.trim_end_matches('\r') };
        // A header may follow other output on the same line (a prompt, a message without its newline).
        let header_at = line.text.find(marker).filter(|&at| is_header(&line.text[at..], marker));
        if let Some(at) = header_at {
            if let Some((header, _)) = open {
                return Err(truncated(header, "a new frame starts on line", line.number));
            }
            open = Some((Line { number: line.number, text: &line.text[at..] }, Vec::new()));
            continue;
        }
        if let Some((header, mut body)) = open.take() {
            if line.text.starts_with("@@end") {
                found.push(Frame { header, body, end: line });
            } else if line.text.starts_with("@@") {
                return Err(truncated(header, "another frame's line comes on line", line.number));
            } else {
                body.push(line);
                open = Some((header, body));
            }
        }
    }
    match open {
        Some((header, _)) => {
            Err(InputError::at(header.number, "frame never ends: no `@@end` line after it (the log was cut short?)"))
        }
        None => Ok(found),
    }
}

fn is_header(text: &str, marker: &str) -> bool {
    text.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

fn truncated(header: Line, why: &str, at: usize) -> InputError {
    InputError::at(header.number, format!("frame never ends: {why} {at} before its `@@end` (the log was cut short?)"))
}

/// The `key=value` fields of a header or `@@end` line, after its first `skip` words.
/// The last key may be `name`, whose value is the rest of the line (spaces allowed).
pub fn fields<'a>(line: Line<'a>, skip: usize) -> Result<Vec<(&'a str, &'a str)>, InputError> {
    let mut rest = line.text;
    for _ in 0..skip {
        rest = rest.trim_start();
        rest = rest.find(' ').map_or("", |at| &rest[at..]);
    }
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        let Some((key, value)) = rest.split_once('=') else {
            return Err(InputError::at(line.number, format!("expected key=value, found `{rest}`")));
        };
        if key.contains(' ') {
            return Err(InputError::at(line.number, format!("expected key=value, found `{rest}`")));
        }
        if key == "name" {
            out.push((key, value));
            return Ok(out);
        }
        let end = value.find(' ').unwrap_or(value.len());
        out.push((key, &value[..end]));
        rest = &value[end..];
    }
}

/// The value of field `key`, or an error naming it.
pub fn field<'a>(fields: &[(&'a str, &'a str)], key: &str, line: usize) -> Result<&'a str, InputError> {
    fields
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| InputError::at(line, format!("missing field `{key}=`")))
}

/// A decimal number; `what` names it in the error.
pub fn decimal(text: &str, what: &str, line: usize) -> Result<u64, InputError> {
    text.parse().map_err(|_| InputError::at(line, format!("bad number for {what}: `{text}` (expected decimal)")))
}

/// A hexadecimal number, with or without `0x`; `what` names it in the error.
pub fn hex(text: &str, what: &str, line: usize) -> Result<u64, InputError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    u64::from_str_radix(digits, 16)
        .ok()
        .filter(|_| !digits.is_empty() && !digits.starts_with('+'))
        .ok_or_else(|| InputError::at(line, format!("bad number for {what}: `{text}` (expected hexadecimal)")))
}

/// FNV-1a, 32 bits: the frame's checksum over its lines, each with its `\n`.
pub fn fnv1a32(lines: &[&str]) -> u32 {
    lines.iter().fold(FNV_OFFSET_BASIS, |hash, line| fnv1a32_more(fnv1a32_more(hash, line.as_bytes()), b"\n"))
}

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;

/// FNV-1a, 32 bits, of `bytes` appended to what gave `hash`.
fn fnv1a32_more(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, &byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_among_other_output() {
        let log = "booting\n@@x v1 a=1\r\nbody\nnoise\n@@end n=1\nafter\nprompt> @@x v1 a=2\n@@end n=0\n";
        let found = frames(log, "@@x").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].header.number, 2);
        assert_eq!(found[0].header.text, "@@x v1 a=1", "the \\r is gone");
        assert_eq!(found[0].body.iter().map(|l| l.text).collect::<Vec<_>>(), ["body", "noise"]);
        assert_eq!(found[0].end.number, 5);
        assert_eq!(found[1].header.text, "@@x v1 a=2", "a header after a prompt on the same line");
        assert!(frames("@@xy v1\n@@end\n", "@@x").unwrap().is_empty(), "another marker is not ours");
    }

    #[test]
    fn a_frame_without_its_end_is_an_error_naming_its_header() {
        let e = frames("a\n@@x v1\nbody\n", "@@x").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.what.contains("never ends"), "{e}");
        let e = frames("@@x v1\n@@x v1\n@@end\n", "@@x").unwrap_err();
        assert_eq!((e.line, e.what.contains("line 2")), (1, true), "{e}");
    }

    #[test]
    fn fields_and_numbers() {
        let line = Line { number: 7, text: "@@x v1 task=2 name=alpha worker" };
        assert_eq!(fields(line, 2).unwrap(), [("task", "2"), ("name", "alpha worker")]);
        let bad = Line { number: 7, text: "@@x v1 task" };
        assert_eq!(fields(bad, 2).unwrap_err().line, 7);
        assert_eq!(hex("0x1f", "t", 1), Ok(31));
        assert_eq!(hex("ff", "t", 1), Ok(255));
        assert!(hex("", "t", 1).is_err() && hex("0x", "t", 1).is_err() && hex("g1", "t", 1).is_err());
        assert!(hex("+1", "t", 1).is_err());
        let e = decimal("12a", "the core", 9).unwrap_err();
        assert_eq!(e.to_string(), "line 9: bad number for the core: `12a` (expected decimal)");
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // The reference vectors of the FNV authors' test suite.
        assert_eq!(fnv1a32(&[]), 0x811c_9dc5);
        assert_eq!(fnv1a32_more(FNV_OFFSET_BASIS, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32_more(FNV_OFFSET_BASIS, b"foobar"), 0xbf9c_f968);
        // Lines are hashed each with its '\n', in order.
        assert_eq!(fnv1a32(&["foo", "bar"]), fnv1a32_more(FNV_OFFSET_BASIS, b"foo\nbar\n"));
        assert_ne!(fnv1a32(&["a", "b"]), fnv1a32(&["b", "a"]));
    }
}
