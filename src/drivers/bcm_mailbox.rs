//! The VideoCore mailbox's *property* channel (channel 8) on the Raspberry
//! Pi 3 and 4: how the ARM asks the firmware running on the VideoCore
//! what it knows (board model and revision, the ARM's share of RAM), and to
//! drive the pins of its GPIO expander (the Pi 3's activity LED).
//!
//! A request is a message in RAM: a header (total size, request code), a
//! list of *tags* (id, size of the value buffer, request/response code,
//! value words) and an end tag. The ARM writes the message's bus address,
//! which must be 16-byte aligned, with the channel in the low four bits to
//! the mailbox's WRITE register; the firmware answers in place and posts the
//! same word to READ. See the firmware wiki's "Mailbox property interface".
//!
//! Coherency: the VideoCore does not look into the ARM's caches. The message
//! lives in ordinary cacheable kernel memory, in cache lines of its own
//! (nothing else is written to them while the firmware answers), so
//! [`Mailbox::call`] cleans it
//! to the point of coherency (`dc civac`) before handing it over, and
//! invalidates it again (`dc civac`, the lines are clean) once the firmware
//! has answered, before reading the answer. The address handed over is the
//! bus alias 0xC000_0000 + physical (the VideoCore's uncached view of RAM),
//! so the firmware's side does not cache it either.

use super::mmio::Mmio;
use crate::arch::mmu::virt_to_phys;
use crate::critical::SpinLock;
use crate::mm::layout::PhysRange;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    STATUS [
        /// No message to read.
        EMPTY OFFSET(30) NUMBITS(1) [],
        /// No room to write.
        FULL OFFSET(31) NUMBITS(1) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    Registers {
        /// Mailbox 0 (VideoCore to ARM).
        (0x00 => READ: ReadOnly<u32>),
        (0x04 => _reserved0),
        (0x18 => STATUS0: ReadOnly<u32, STATUS::Register>),
        (0x1c => _reserved1),
        /// Mailbox 1 (ARM to VideoCore).
        (0x20 => WRITE: WriteOnly<u32>),
        (0x24 => _reserved2),
        (0x38 => STATUS1: ReadOnly<u32, STATUS::Register>),
        (0x3c => @END),
    }
}

const PROPERTY_CHANNEL: u32 = 8;
/// Where the VideoCore sees physical RAM uncached.
const BUS_ALIAS: u64 = 0xc000_0000;
const REQUEST: u32 = 0;
const RESPONSE_OK: u32 = 0x8000_0000;
const END_TAG: u32 = 0;
/// Polls of a mailbox status before giving up (the firmware answers in microseconds).
const MAX_POLLS: u32 = 10_000_000;

const GET_BOARD_MODEL: u32 = 0x0001_0001;
const GET_BOARD_REVISION: u32 = 0x0001_0002;
const GET_ARM_MEMORY: u32 = 0x0001_0005;
const SET_GPIO_STATE: u32 = 0x0003_8041;

/// The first pin of the firmware's GPIO expander (Linux's `RPI_EXP_GPIO_BASE`).
pub const EXPANDER_BASE: u32 = 128;
/// The Pi 3's activity LED: expander pin 2.
pub const PI3_ACTIVITY_LED: u32 = EXPANDER_BASE + 2;

/// Words in the message buffer: header (2), one tag's header (3), up to
/// [`MAX_VALUE_WORDS`] of value, the end tag (1), and padding to a whole
/// cache line.
const MESSAGE_WORDS: usize = CACHE_LINE / 4;
const MAX_VALUE_WORDS: usize = 6;
/// The data cache line of the Cortex-A53 (Pi 3) and Cortex-A72 (Pi 4).
const CACHE_LINE: usize = 64;

/// The one message buffer: aligned to a cache line (the mailbox needs 16
/// bytes: the address's low four bits carry the channel) and whole lines
/// long, so the lines [`flush_data_cache`] cleans and invalidates hold
/// nothing else. Were another variable in one of them (the lock beside
/// the buffer, a neighbouring static), an ARM write to it while the
/// firmware answers would make the line dirty with the *old* message, and
/// cleaning it after the answer would write that over the firmware's reply.
/// A static in the image, so its kernel address is in the linear map and
/// [`virt_to_phys`] gives its physical one.
#[repr(C, align(64))]
struct Message([u32; MESSAGE_WORDS]);

const _: () = {
    assert!(core::mem::align_of::<Message>() == CACHE_LINE, "the message starts a cache line");
    assert!(core::mem::size_of::<Message>().is_multiple_of(CACHE_LINE), "the message fills whole cache lines");
    assert!(2 + 3 + MAX_VALUE_WORDS < MESSAGE_WORDS, "the longest request fits, and its end tag");
};

/// Held for a whole request: one message in flight at a time.
static MESSAGE: SpinLock<Message> = SpinLock::new("mailbox message", Message([0; MESSAGE_WORDS]));

/// Why a property request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxError {
    /// The mailbox stayed full or empty: nobody is answering.
    NoAnswer,
    /// The firmware answered, but not with success for this tag.
    Refused { tag: u32, code: u32 },
}

/// The board revision code the firmware reports, decoded in its new-style
/// layout (bit 23 set): board type in bits 4..12, revision in bits 0..4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardRevision(pub u32);

impl BoardRevision {
    /// The board's name, e.g. `Raspberry Pi 4 Model B`, if the code is known.
    pub fn name(self) -> Option<&'static str> {
        if self.0 & (1 << 23) == 0 {
            return None;
        }
        Some(match (self.0 >> 4) & 0xff {
            0x04 => "Raspberry Pi 2 Model B",
            0x08 => "Raspberry Pi 3 Model B",
            0x0d => "Raspberry Pi 3 Model B+",
            0x0e => "Raspberry Pi 3 Model A+",
            0x11 => "Raspberry Pi 4 Model B",
            0x13 => "Raspberry Pi 400",
            0x14 => "Raspberry Pi Compute Module 4",
            _ => return None,
        })
    }

    /// The board's revision, `1.x`.
    pub fn minor(self) -> u32 {
        self.0 & 0xf
    }
}

/// What a Pi board reports as its `Board::model`.
impl From<BoardRevision> for crate::board::Model {
    fn from(revision: BoardRevision) -> Self {
        Self { name: revision.name(), minor: revision.minor(), code: revision.0 }
    }
}

/// The mailbox block (peripherals + 0xB880). One request at a time: the
/// message buffer's lock is held from writing the request to reading the answer.
pub struct Mailbox {
    regs: Mmio<Registers>,
}

impl Mailbox {
    /// # Safety
    /// `base` is the kernel address of the mailbox block, mapped as device
    /// memory for good, and no other driver instance uses it.
    pub const unsafe fn new(base: u64) -> Self {
        // SAFETY: passed on from our caller.
        Self { regs: unsafe { Mmio::new(base) } }
    }

    /// The board model number (firmware tag 0x00010001).
    pub fn board_model(&self) -> Result<u32, MailboxError> {
        Ok(self.request::<1>(GET_BOARD_MODEL)?[0])
    }

    /// The board revision code (tag 0x00010002).
    pub fn board_revision(&self) -> Result<BoardRevision, MailboxError> {
        Ok(BoardRevision(self.request::<1>(GET_BOARD_REVISION)?[0]))
    }

    /// The RAM the firmware leaves the ARM (tag 0x00010005): base and size.
    pub fn arm_memory(&self) -> Result<PhysRange, MailboxError> {
        let [base, size] = self.request::<2>(GET_ARM_MEMORY)?;
        Ok(PhysRange { base: u64::from(base), size: u64::from(size) })
    }

    /// Drives pin `pin` of the firmware's GPIO expander (numbered from
    /// [`EXPANDER_BASE`], as Linux does) high or low (tag 0x00038041):
    /// the Pi 3's activity LED is [`PI3_ACTIVITY_LED`].
    pub fn set_gpio_state(&self, pin: u32, high: bool) -> Result<(), MailboxError> {
        self.request_with(SET_GPIO_STATE, [pin, u32::from(high)]).map(|_| ())
    }

    /// Sends a one-tag request with an `N`-word value buffer and returns the answer's value.
    fn request<const N: usize>(&self, tag: u32) -> Result<[u32; N], MailboxError> {
        self.request_with(tag, [0; N])
    }

    /// As [`Mailbox::request`], with the value buffer holding `values` (the request's arguments).
    fn request_with<const N: usize>(&self, tag: u32, values: [u32; N]) -> Result<[u32; N], MailboxError> {
        const { assert!(N <= MAX_VALUE_WORDS) };
        let mut message = MESSAGE.lock();
        let words = &mut message.0;
        let size = 4 * (6 + N);
        words[..5].copy_from_slice(&[size as u32, REQUEST, tag, (4 * N) as u32, REQUEST]);
        words[5..5 + N].copy_from_slice(&values);
        words[5 + N] = END_TAG;
        let address = words.as_mut_ptr();
        self.call(address as u64, size)?;
        // SAFETY: the buffer is ours (locked) and in bounds; the firmware wrote
        // it before answering, so read it volatile (the compiler did not see that write).
        let word = |i: usize| unsafe { core::ptr::read_volatile(address.add(i)) };
        let (code, tag_code) = (word(1), word(4));
        if code != RESPONSE_OK {
            return Err(MailboxError::Refused { tag, code });
        }
        if tag_code & RESPONSE_OK == 0 {
            return Err(MailboxError::Refused { tag, code: tag_code });
        }
        Ok(core::array::from_fn(|i| word(5 + i)))
    }

    /// Hands the message at kernel address `message` (`size` bytes, 16-byte
    /// aligned) to the firmware and waits for its answer.
    fn call(&self, message: u64, size: usize) -> Result<(), MailboxError> {
        flush_data_cache(message, size);
        let word = (virt_to_phys(message) | BUS_ALIAS) as u32 | PROPERTY_CHANNEL;
        self.wait_until(|| !self.regs.STATUS1.is_set(STATUS::FULL))?;
        self.regs.WRITE.set(word);
        loop {
            self.wait_until(|| !self.regs.STATUS0.is_set(STATUS::EMPTY))?;
            if self.regs.READ.get() == word {
                break;
            }
        }
        flush_data_cache(message, size);
        Ok(())
    }

    fn wait_until(&self, ready: impl Fn() -> bool) -> Result<(), MailboxError> {
        for _ in 0..MAX_POLLS {
            if ready() {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(MailboxError::NoAnswer)
    }
}

/// Cleans and invalidates `[start, start + size)` to the point of coherency,
/// so the VideoCore reads what the ARM wrote and the ARM then reads what the
/// VideoCore wrote (cache lines of 64 bytes on the Cortex-A53 and A72).
fn flush_data_cache(start: u64, size: usize) {
    const LINE: u64 = CACHE_LINE as u64;
    let mut line = start & !(LINE - 1);
    while line < start + size as u64 {
        // SAFETY: cache maintenance of mapped kernel memory changes no values.
        unsafe { core::arch::asm!("dc civac, {0}", in(reg) line, options(nostack)) };
        line += LINE;
    }
    // SAFETY: a barrier only orders memory accesses.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}
