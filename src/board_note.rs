//! The board an image was built for, written into the image itself: a
//! section `.ilusion.board` holding the board's name (`qemu-virt`, `rpi3`,
//! `rpi4`). `boards/run` reads it to pick the QEMU machine, so an image
//! always boots on the machine it was built for.
//!
//! The section is not allocated (no `a` flag): it is in the ELF file for
//! tools to read, but never loaded into memory and not in the raw image.

use core::arch::global_asm;

/// Emits the note for one board name.
macro_rules! board_note {
    ($name:literal) => {
        global_asm!(".pushsection .ilusion.board, \"\", %progbits", concat!(".ascii \"", $name, "\""), ".popsection",);
        /// The name in the note is the board's name.
        const _: () = assert!(same_name($name, crate::board::NAME));
    };
}

#[cfg(feature = "board-qemu-virt")]
board_note!("qemu-virt");
#[cfg(all(feature = "board-rpi3", not(feature = "board-qemu-virt")))]
board_note!("rpi3");
#[cfg(all(feature = "board-rpi4", not(feature = "board-qemu-virt"), not(feature = "board-rpi3")))]
board_note!("rpi4");

/// Keeps this module's object file in every link, even without LTO: rustc
/// references `#[used]` statics of dependencies, and the note above is in
/// the same object. Zero bytes, so the loaded image does not grow.
#[used]
static BOARD_NOTE_ANCHOR: [u8; 0] = [];

const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
