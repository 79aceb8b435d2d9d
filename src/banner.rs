//! The boot banner's text, put together by hand: "ilusion 0.1.0 on
//! qemu-virt (EL1 at boot, 1 core, 1024 MiB RAM, GICv2)". Written through
//! `format_args!`, each of its nineteen pieces and numbers was a trip
//! through `core::fmt` and the console's line buffer (each number through
//! `pad_integral` too); built here into two strings (its first words
//! joined when the image is built), the same text costs about 640
//! instructions fewer at boot (`reset_to_main` on QEMU virt).
//! (Why other cores did not start is told between the two, by `Display`:
//! its text has no bound.)

use core::mem::MaybeUninit;

/// Text put together from whole strings and numbers in a fixed buffer of
/// `N` bytes. A piece that does not fit is left out whole (the banner's
/// pieces are short: see [`head`] and [`tail`]), so the text is always
/// valid UTF-8.
pub(crate) struct Text<const N: usize> {
    /// The first `len` written (not zeroed first: two 128-byte `memset`s
    /// at boot for nothing).
    bytes: [MaybeUninit<u8>; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn new() -> Self {
        Self { bytes: [MaybeUninit::uninit(); N], len: 0 }
    }

    /// Appends `piece`, if it fits whole.
    fn push(&mut self, piece: &str) -> &mut Self {
        self.push_bytes(piece.as_bytes())
    }

    /// Appends `bytes` (a whole string, or ASCII digits), if they fit whole.
    fn push_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        if let Some(room) = self.bytes.get_mut(self.len..self.len + bytes.len()) {
            room.write_copy_of_slice(bytes);
            self.len += bytes.len();
        }
        self
    }

    /// Appends `n` in decimal, as `{}` writes it, if it fits whole: the
    /// digits written in place, from the last.
    fn push_decimal(&mut self, mut n: u64) -> &mut Self {
        // Counted by division (the banner's numbers are short: cheaper
        // than `ilog10`'s constant work).
        let (mut digits, mut rest) = (1, n / 10);
        while rest > 0 {
            digits += 1;
            rest /= 10;
        }
        if let Some(room) = self.bytes.get_mut(self.len..self.len + digits) {
            for digit in room.iter_mut().rev() {
                digit.write(b'0' + (n % 10) as u8);
                n /= 10;
            }
            self.len += digits;
        }
        self
    }

    /// The text so far.
    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: the first `len` bytes are written (each append raises
        // `len` past the bytes it wrote), and they are UTF-8: only whole
        // strings and ASCII digits were appended (what does not fit whole
        // is left out).
        unsafe { core::str::from_utf8_unchecked(self.bytes[..self.len].assume_init_ref()) }
    }
}

/// Room for the banner's head and for its tail: the longest board name,
/// version and controller name with 20-digit numbers fit with room to spare.
const CAPACITY: usize = 128;

/// The banner's first words, before the board's name.
const BEFORE_BOARD: &str = concat!("ilusion ", env!("CARGO_PKG_VERSION"), " on ");
/// The banner's words after the board's name, before the exception level.
const AFTER_BOARD: &str = " (EL";

/// How long [`start`] is for `board`.
pub(crate) const fn start_len(board: &str) -> usize {
    BEFORE_BOARD.len() + board.len() + AFTER_BOARD.len()
}

/// "ilusion 0.1.0 on qemu-virt (EL": the banner's first words for
/// `board`, joined when the image is built (the board's name is a
/// constant): one copy at boot where there were three. `N` is
/// [`start_len`]`(board)`; make it a `&str` with `core::str::from_utf8`
/// (whole strings joined: it is UTF-8).
pub(crate) const fn start<const N: usize>(board: &str) -> [u8; N] {
    let mut out = [0; N];
    let mut at = 0;
    let parts = [BEFORE_BOARD.as_bytes(), board.as_bytes(), AFTER_BOARD.as_bytes()];
    let mut p = 0;
    while p < parts.len() {
        let mut k = 0;
        while k < parts[p].len() {
            out[at] = parts[p][k];
            at += 1;
            k += 1;
        }
        p += 1;
    }
    assert!(at == N, "N is start_len(board)");
    out
}

/// "ilusion 0.1.0 on qemu-virt (EL1 at boot, 1 core", from `start` (see
/// [`start`]): what the banner says before why other cores did not
/// start, if one did not.
pub(crate) fn head(start: &str, boot_el: u8, cores: usize) -> Text<CAPACITY> {
    let mut t = Text::new();
    let noun = if cores == 1 { " core" } else { " cores" };
    t.push(start).push_decimal(boot_el.into()).push(" at boot, ").push_decimal(cores as u64).push(noun);
    t
}

/// ", 1024 MiB RAM, GICv2)", or ", 1024 MiB RAM, GICv3, PAN on)": the
/// rest of the banner.
pub(crate) fn tail(ram_mib: u64, controller: &str, pan: bool) -> Text<CAPACITY> {
    let mut t = Text::new();
    t.push(", ").push_decimal(ram_mib).push(" MiB RAM, ").push(controller);
    t.push(if pan { ", PAN on)" } else { ")" });
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn the_banner_is_what_the_format_string_gave() {
        let version = env!("CARGO_PKG_VERSION");
        const BOARD: &str = "qemu-virt";
        const START: [u8; start_len(BOARD)] = start(BOARD);
        assert_eq!(std::str::from_utf8(&START).unwrap(), format!("ilusion {version} on {BOARD} (EL"));
        let long = "a-board-with-a-rather-long-name-indeed";
        assert_eq!(
            start::<{ start_len("a-board-with-a-rather-long-name-indeed") }>(long),
            *format!("ilusion {version} on {long} (EL").as_bytes()
        );
        for board in [BOARD, "rpi3", "rpi4", long] {
            let start = format!("ilusion {version} on {board} (EL");
            for boot_el in [1u8, 2, 3, 255] {
                for cores in [0usize, 1, 2, 4, 8, 10, 123_456] {
                    let plural = if cores == 1 { "" } else { "s" };
                    let expected = format!("ilusion {version} on {board} (EL{boot_el} at boot, {cores} core{plural}");
                    assert_eq!(head(&start, boot_el, cores).as_str(), expected);
                }
            }
        }
        for ram_mib in [0u64, 1, 9, 10, 99, 100, 1024, 16_384, u64::MAX] {
            for controller in ["GICv2", "GICv3", "BCM2836 local"] {
                for pan in [false, true] {
                    let pan_text = if pan { ", PAN on" } else { "" };
                    let expected = format!(", {ram_mib} MiB RAM, {controller}{pan_text})");
                    assert_eq!(tail(ram_mib, controller, pan).as_str(), expected);
                }
            }
        }
    }

    #[test]
    fn a_piece_that_does_not_fit_is_left_out_whole() {
        let mut t = Text::<8>::new();
        t.push("abc").push("defgh").push("ijk").push_decimal(1234).push("é");
        assert_eq!(t.as_str(), "abcdefgh");
        let mut t = Text::<8>::new();
        t.push("abcdef").push("é").push("é").push_decimal(u64::MAX);
        assert_eq!(t.as_str(), "abcdefé");
    }
}
