//! The chainload protocol, shared by the loader (tools/chainloader, on the
//! Pi) and the host tool (tools/chainload), which includes this file: the
//! constants both sides agree on, and [`Receiver`], the loader's side as a
//! state machine that is fed bytes and silences (so the host can test it).
//!
//! 1. The loader says [`READY`] (a line) at boot, and again whenever it
//!    receives [`ENQUIRY`] while waiting: the host sends that when it starts
//!    and then every [`ENQUIRY_INTERVAL_MS`] until it sees `READY`.
//! 2. The host sends [`MAGIC`], the image size and its CRC-32 (both u32,
//!    little endian), then the image.
//! 3. The loader answers a line starting with [`ACCEPTED`] and starts the
//!    image at [`LOAD_ADDRESS`] (from then on the line is the image's
//!    console), or a line starting with [`REJECTED`] and the reason: a bad
//!    size, a CRC-32 mismatch, or [`IDLE_TIMEOUT_MS`] of silence in the
//!    middle of a transfer (the host stopped or was restarted).
//! 4. After a rejection the loader ignores the line until it has been quiet
//!    for [`QUIET_MS`] (the rest of a refused image), says `READY` again and
//!    waits for another transfer; the host tool sends the image again.
//!
//! A host restarted in the middle of a transfer resynchronises the loader
//! by itself: its enquiries are taken as image data, but as they come
//! [`ENQUIRY_INTERVAL_MS`] apart the loader sees a silence longer than
//! [`IDLE_TIMEOUT_MS`], gives the transfer up and says `READY`.

/// The loader's announcement.
pub const READY: &str = "ilusion-chainloader: ready";
/// "Are you there?": makes a waiting loader announce itself again.
pub const ENQUIRY: u8 = 0x05;
/// Starts an image transfer.
pub const MAGIC: [u8; 4] = *b"ILCL";
/// The image arrived intact and is being started.
pub const ACCEPTED: &str = "ilusion-chainloader: ok";
/// The image was refused; the reason follows on the same line.
pub const REJECTED: &str = "ilusion-chainloader: error";

/// Where the image goes: where the firmware would have put it.
pub const LOAD_ADDRESS: u64 = 0x80000;
/// Where the loader runs (its link address, `link.ld`): the image must end below.
pub const LOADER_ADDRESS: u64 = 0x0200_0000;
/// The largest image the loader takes (31.5 MiB).
pub const MAX_IMAGE_SIZE: u32 = (LOADER_ADDRESS - LOAD_ADDRESS) as u32;

/// Silence in the middle of a transfer after which the loader gives it up.
/// At 115200 baud bytes come 87 µs apart: only a stopped host is this slow.
pub const IDLE_TIMEOUT_MS: u64 = 2000;
/// How long the line must be quiet after a rejection before `READY`.
pub const QUIET_MS: u64 = 500;
/// How often the host repeats [`ENQUIRY`] while waiting for `READY`: longer
/// than the loader's timeout and quiet time together, so that a loader left
/// in the middle of a transfer sees a silence, times out and announces itself.
pub const ENQUIRY_INTERVAL_MS: u64 = 4000;
const _: () = assert!(ENQUIRY_INTERVAL_MS > IDLE_TIMEOUT_MS + QUIET_MS);

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

/// The CRC-32 of `bytes`.
#[allow(dead_code)]
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    bytes.iter().for_each(|&b| crc.update(b));
    crc.finish()
}

/// The header the host sends before the image.
#[allow(dead_code)]
pub fn header(image: &[u8]) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&(image.len() as u32).to_le_bytes());
    h[8..].copy_from_slice(&crc32(image).to_le_bytes());
    h
}

/// Why the loader refused a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The header announced 0 bytes or more than fit below the loader.
    BadSize { size: u32, capacity: u32 },
    /// The image arrived whole, but its CRC-32 is not the header's.
    CrcMismatch { expected: u32, received: u32 },
    /// [`IDLE_TIMEOUT_MS`] of silence after `received` of the header's 8 bytes.
    HeaderTimedOut { received: u32 },
    /// [`IDLE_TIMEOUT_MS`] of silence after `received` of `size` image bytes.
    ImageTimedOut { received: u32, size: u32 },
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let idle = IDLE_TIMEOUT_MS;
        match *self {
            Self::BadSize { size, capacity } => write!(f, "image size {size} bytes; it must be 1 to {capacity}"),
            Self::CrcMismatch { expected, received } => {
                write!(f, "CRC-32 mismatch (header {expected:08x}, data {received:08x})")
            }
            Self::HeaderTimedOut { received } => {
                write!(f, "timed out: no data for {idle} ms after {received} of 8 header bytes")
            }
            Self::ImageTimedOut { received, size } => {
                write!(f, "timed out: no data for {idle} ms after {received} of {size} image bytes")
            }
        }
    }
}

/// What the loader must do after a byte or a silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing: keep reading.
    Nothing,
    /// Say [`READY`].
    Announce,
    /// The image (`size` bytes) is complete and intact: say [`ACCEPTED`] and start it.
    Complete { size: u32 },
    /// Say [`REJECTED`] and why.
    Rejected(Rejection),
}

/// How long a silence the receiver waits out in its present state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Waiting for a transfer: any silence.
    Forever,
    /// In a transfer: [`IDLE_TIMEOUT_MS`].
    Idle,
    /// After a rejection: [`QUIET_MS`], then `READY`.
    Quiet,
}

impl Patience {
    /// The silence in milliseconds, `None` for ever.
    pub const fn millis(self) -> Option<u64> {
        match self {
            Self::Forever => None,
            Self::Idle => Some(IDLE_TIMEOUT_MS),
            Self::Quiet => Some(QUIET_MS),
        }
    }
}

#[derive(Clone, Copy)]
enum State {
    AwaitingMagic { window: [u8; 4] },
    Header { bytes: [u8; 8], received: u32 },
    Image { size: u32, expected: u32, received: u32, crc: Crc32 },
    Discarding,
}

/// The loader's side of the protocol: [`byte`](Self::byte) for each byte
/// received, [`silence`](Self::silence) when the line has been quiet for
/// [`patience`](Self::patience); the image's bytes go to a `store` function.
pub struct Receiver {
    capacity: u32,
    state: State,
}

impl Receiver {
    /// A receiver waiting for a transfer of at most `capacity` bytes.
    pub const fn new(capacity: u32) -> Self {
        Self { capacity, state: State::AwaitingMagic { window: [0; 4] } }
    }

    /// How long a silence to wait before calling [`silence`](Self::silence).
    pub fn patience(&self) -> Patience {
        match self.state {
            State::AwaitingMagic { .. } => Patience::Forever,
            State::Header { .. } | State::Image { .. } => Patience::Idle,
            State::Discarding => Patience::Quiet,
        }
    }

    /// Takes one byte; image bytes go to `store(offset, byte)`.
    pub fn byte(&mut self, byte: u8, store: &mut dyn FnMut(u32, u8)) -> Event {
        match &mut self.state {
            State::AwaitingMagic { window } => {
                *window = [window[1], window[2], window[3], byte];
                if *window == MAGIC {
                    self.state = State::Header { bytes: [0; 8], received: 0 };
                } else if byte == ENQUIRY {
                    return Event::Announce;
                }
                Event::Nothing
            }
            State::Header { bytes, received } => {
                bytes[*received as usize] = byte;
                *received += 1;
                if *received < 8 {
                    return Event::Nothing;
                }
                let size = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                let expected = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
                if size == 0 || size > self.capacity {
                    return self.reject(Rejection::BadSize { size, capacity: self.capacity });
                }
                self.state = State::Image { size, expected, received: 0, crc: Crc32::new() };
                Event::Nothing
            }
            State::Image { size, expected, received, crc } => {
                store(*received, byte);
                crc.update(byte);
                *received += 1;
                if *received < *size {
                    return Event::Nothing;
                }
                let (size, expected, actual) = (*size, *expected, crc.finish());
                if actual != expected {
                    return self.reject(Rejection::CrcMismatch { expected, received: actual });
                }
                self.state = State::AwaitingMagic { window: [0; 4] };
                Event::Complete { size }
            }
            State::Discarding => Event::Nothing,
        }
    }

    /// The line has been quiet for [`patience`](Self::patience).
    pub fn silence(&mut self) -> Event {
        match self.state {
            State::AwaitingMagic { .. } => Event::Nothing,
            State::Header { received, .. } => self.reject(Rejection::HeaderTimedOut { received }),
            State::Image { received, size, .. } => self.reject(Rejection::ImageTimedOut { received, size }),
            State::Discarding => {
                self.state = State::AwaitingMagic { window: [0; 4] };
                Event::Announce
            }
        }
    }

    fn reject(&mut self, why: Rejection) -> Event {
        self.state = State::Discarding;
        Event::Rejected(why)
    }
}
