//! The chainload protocol, shared by the loader (tools/chainloader, on the
//! Pi) and the host tool (tools/chainload), which includes this file.
//!
//! 1. The loader says [`READY`] (a line) at boot, and again whenever it
//!    receives [`ENQUIRY`]: the host sends that until it sees `READY`.
//! 2. The host sends [`MAGIC`], the image size and its CRC-32 (both u32,
//!    little endian), then the image.
//! 3. The loader answers a line starting with [`ACCEPTED`] and starts the
//!    image at 0x80000, or a line starting with [`REJECTED`] and a reason,
//!    and waits for another image. From then on the line is the image's
//!    console.

/// The loader's announcement.
pub const READY: &str = "ilusion-chainloader: ready";
/// "Are you there?": makes the loader announce itself again.
pub const ENQUIRY: u8 = 0x05;
/// Starts an image transfer.
pub const MAGIC: [u8; 4] = *b"ILCL";
/// The image arrived intact and is being started.
pub const ACCEPTED: &str = "ilusion-chainloader: ok";
/// The image was refused.
pub const REJECTED: &str = "ilusion-chainloader: error";

/// CRC-32 (IEEE 802.3, as zlib computes it), one byte at a time.
#[derive(Clone, Copy)]
pub struct Crc32(u32);

impl Crc32 {
    pub const fn new() -> Self {
        Self(0xffff_ffff)
    }

    pub fn update(&mut self, byte: u8) {
        let mut crc = self.0 ^ u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
        self.0 = crc;
    }

    pub const fn finish(self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Crc32;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut crc = Crc32::new();
        b"123456789".iter().for_each(|&b| crc.update(b));
        assert_eq!(crc.finish(), 0xcbf4_3926);
        assert_eq!(Crc32::new().finish(), 0, "empty input");
    }
}
