//! Tests of the protocol the loader runs (`protocol.rs`'s [`Receiver`]),
//! fed bytes and silences as the loader's main loop feeds them.

use crate::protocol::*;

/// An image of `len` bytes that contains ENQUIRY and MAGIC's letters.
pub fn test_image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// Feeds `bytes`; the events other than `Nothing`, and the memory written.
fn feed(receiver: &mut Receiver, bytes: &[u8], memory: &mut [u8]) -> Vec<Event> {
    let mut events = Vec::new();
    for &b in bytes {
        match receiver.byte(b, &mut |offset, byte| memory[offset as usize] = byte) {
            Event::Nothing => {}
            event => events.push(event),
        }
    }
    events
}

fn transfer(image: &[u8]) -> Vec<u8> {
    let mut bytes = header(image).to_vec();
    bytes.extend_from_slice(image);
    bytes
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(crc32(b""), 0, "empty input");
}

#[test]
fn the_header_is_magic_size_and_crc_little_endian() {
    assert_eq!(header(b"123456789"), *b"ILCL\x09\x00\x00\x00\x26\x39\xf4\xcb");
}

#[test]
fn a_good_transfer_is_stored_and_completed() {
    let image = test_image(3000);
    let mut memory = vec![0u8; 4096];
    let mut r = Receiver::new(4096);
    assert_eq!(r.patience(), Patience::Forever);
    // Noise before the magic number is ignored (no announcement for it).
    let mut bytes = b"xyILC".to_vec();
    bytes.extend(transfer(&image));
    assert_eq!(feed(&mut r, &bytes, &mut memory), [Event::Complete { size: 3000 }]);
    assert_eq!(&memory[..3000], &image[..]);
}

#[test]
fn an_enquiry_while_waiting_is_answered() {
    let mut r = Receiver::new(64);
    assert_eq!(feed(&mut r, &[ENQUIRY, b'a', ENQUIRY], &mut [0; 64]), [Event::Announce, Event::Announce]);
    assert_eq!(r.silence(), Event::Nothing, "waiting never times out");
    assert_eq!(r.patience(), Patience::Forever);
}

#[test]
fn a_crc_mismatch_is_refused_then_the_loader_waits_again() {
    let image = test_image(500);
    let mut bad = transfer(&image);
    bad[12 + 100] ^= 0x40;
    let mut memory = vec![0u8; 512];
    let mut r = Receiver::new(512);
    let expected = crc32(&image);
    let mut corrupted = image.clone();
    corrupted[100] ^= 0x40;
    assert_eq!(
        feed(&mut r, &bad, &mut memory),
        [Event::Rejected(Rejection::CrcMismatch { expected, received: crc32(&corrupted) })]
    );
    // Quiet for QUIET_MS, then ready again, and a good transfer is taken.
    assert_eq!(r.patience(), Patience::Quiet);
    assert_eq!(feed(&mut r, &[ENQUIRY, 1, 2], &mut memory), [], "bytes after a refusal are discarded");
    assert_eq!(r.silence(), Event::Announce);
    assert_eq!(feed(&mut r, &transfer(&image), &mut memory), [Event::Complete { size: 500 }]);
    assert_eq!(&memory[..500], &image[..]);
}

#[test]
fn sizes_of_zero_or_beyond_the_capacity_are_refused() {
    for size in [0u32, 65, u32::MAX] {
        let mut r = Receiver::new(64);
        let mut bytes = MAGIC.to_vec();
        bytes.extend(size.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        let events = feed(&mut r, &bytes, &mut [0; 64]);
        assert_eq!(events, [Event::Rejected(Rejection::BadSize { size, capacity: 64 })]);
        assert_eq!(r.patience(), Patience::Quiet);
    }
    assert_eq!(Rejection::BadSize { size: 0, capacity: 64 }.to_string(), "image size 0 bytes; it must be 1 to 64");
}

#[test]
fn a_truncated_transfer_times_out_and_the_next_one_is_taken() {
    let image = test_image(1000);
    let mut memory = vec![0u8; 1024];
    let mut r = Receiver::new(1024);
    assert_eq!(feed(&mut r, &transfer(&image)[..12 + 400], &mut memory), []);
    assert_eq!(r.patience(), Patience::Idle);
    assert_eq!(r.patience().millis(), Some(IDLE_TIMEOUT_MS));
    let timed_out = r.silence();
    assert_eq!(timed_out, Event::Rejected(Rejection::ImageTimedOut { received: 400, size: 1000 }));
    let Event::Rejected(why) = timed_out else { unreachable!() };
    assert_eq!(why.to_string(), "timed out: no data for 2000 ms after 400 of 1000 image bytes");
    assert_eq!(r.patience().millis(), Some(QUIET_MS));
    assert_eq!(r.silence(), Event::Announce);
    assert_eq!(feed(&mut r, &transfer(&image), &mut memory), [Event::Complete { size: 1000 }]);
}

#[test]
fn a_transfer_stopped_in_the_header_times_out() {
    let mut r = Receiver::new(64);
    assert_eq!(feed(&mut r, b"ILCL\x10\x00", &mut [0; 64]), []);
    assert_eq!(r.silence(), Event::Rejected(Rejection::HeaderTimedOut { received: 2 }));
}

/// A host restarted mid-transfer: its enquiry becomes image data, but the
/// silence until its next one makes the loader time out and announce.
#[test]
fn a_new_host_in_the_middle_of_a_transfer_resynchronises_the_loader() {
    let image = test_image(1000);
    let mut memory = vec![0u8; 1024];
    let mut r = Receiver::new(1024);
    assert_eq!(feed(&mut r, &transfer(&image)[..12 + 300], &mut memory), []);
    assert_eq!(feed(&mut r, &[ENQUIRY], &mut memory), [], "taken as image data");
    assert!(matches!(r.silence(), Event::Rejected(Rejection::ImageTimedOut { received: 301, size: 1000 })));
    assert_eq!(r.silence(), Event::Announce);
    assert_eq!(feed(&mut r, &transfer(&image), &mut memory), [Event::Complete { size: 1000 }]);
}

#[test]
fn the_timing_and_the_size_limit_are_as_documented() {
    // protocol.rs asserts ENQUIRY_INTERVAL_MS > IDLE_TIMEOUT_MS + QUIET_MS at compile time.
    assert_eq!((ENQUIRY_INTERVAL_MS, IDLE_TIMEOUT_MS, QUIET_MS), (4000, 2000, 500));
    assert_eq!(MAX_IMAGE_SIZE, 0x0200_0000 - 0x80000);
}
