//! Tests of the host's session against the fake loader (`fake_board.rs`):
//! both start orders, refusals and retries, a reset and a left-over
//! transfer, a dead line. Timing is scaled down by `fake_board::SCALE`.

use crate::fake_board::{self, Faults, Report, SCALE};
use crate::protocol::{ENQUIRY_INTERVAL_MS, IDLE_TIMEOUT_MS};
use crate::protocol_tests::test_image;
use crate::session::{Session, Timing};
use std::time::Duration;

fn timing() -> Timing {
    Timing {
        enquiry_interval: Duration::from_millis(ENQUIRY_INTERVAL_MS) / SCALE,
        settle: Duration::from_millis(10),
        bytes_per_second: 1_000_000,
        // Generous: a loaded machine may hold the fake loader's thread back.
        verdict_margin: Duration::from_millis(IDLE_TIMEOUT_MS) / SCALE * 10,
    }
}

struct Outcome {
    result: Result<u32, String>,
    console: String,
    log: String,
    board: Report,
}

fn run(faults: Faults, image: &[u8], attempts: u32, ready_timeout: Duration) -> Outcome {
    run_for(None, faults, image, attempts, ready_timeout)
}

/// [`run`], for an image built for `board` (`--board`), if given.
fn run_for(board: Option<&str>, faults: Faults, image: &[u8], attempts: u32, ready_timeout: Duration) -> Outcome {
    let (mut to_board, from_board, fake) = fake_board::start(faults);
    let (mut console, mut log) = (Vec::new(), Vec::new());
    let mut session = Session::new(&from_board, &mut to_board, &mut console, &mut log, timing());
    if let Some(board) = board {
        session = session.for_board(board);
    }
    let result = session.load(image, attempts, ready_timeout);
    let board = fake;
    drop(to_board);
    let board = board.join().unwrap();
    // What the "image" printed after the verdict is on the line still.
    let rest: Vec<u8> = from_board.try_iter().map_while(|b| b).collect();
    let mut console = String::from_utf8(console).unwrap();
    console.push_str(&String::from_utf8_lossy(&rest));
    Outcome { result, console, log: String::from_utf8(log).unwrap(), board }
}

fn check_booted(o: &Outcome, image: &[u8], attempt: u32) {
    assert_eq!(o.result, Ok(attempt), "log:\n{}\nconsole:\n{}", o.log, o.console);
    assert_eq!(o.board.image.as_deref(), Some(image), "the loader's copy of the image");
    assert!(o.console.contains("hello from the fake board"), "{}", o.console);
}

#[test]
fn board_first_the_host_pokes_it() {
    let image = test_image(5000);
    let o = run(Faults { silent_boot: true, ..Faults::default() }, &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 1);
    assert_eq!(o.board.transfers, 1);
    // One, unless the machine held the loader back for an enquiry interval.
    assert!(o.board.enquiries >= 1, "the host poked the waiting loader");
}

#[test]
fn host_first_the_board_announces_itself() {
    let image = test_image(5000);
    let faults = Faults { boot_delay: Duration::from_millis(300), ..Faults::default() };
    let o = run(faults, &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 1);
    assert_eq!(o.board.transfers, 1);
}

#[test]
fn a_corrupted_transfer_is_refused_and_sent_again() {
    let image = test_image(5000);
    let o = run(Faults { corrupt_transfers: 1, ..Faults::default() }, &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 2);
    assert!(o.log.contains("chainload: attempt 1 of 3 refused: CRC-32 mismatch (header "), "{}", o.log);
    assert!(o.log.contains("chainload: sending 5000 bytes, CRC-32 "), "{}", o.log);
    assert!(o.log.contains("(attempt 2 of 3)"), "{}", o.log);
    assert_eq!(o.board.transfers, 2);
}

#[test]
fn the_host_gives_up_after_its_attempts_with_the_last_reason() {
    let image = test_image(5000);
    let o = run(Faults { corrupt_transfers: 99, ..Faults::default() }, &image, 3, Duration::from_secs(5));
    let err = o.result.unwrap_err();
    assert!(
        err.starts_with("the chainloader did not take the image in 3 attempts (last: CRC-32 mismatch (header "),
        "{err}"
    );
    assert_eq!(o.board.transfers, 3, "exactly --attempts transfers");
    assert_eq!(o.log.matches("refused: CRC-32 mismatch").count(), 3, "{}", o.log);
    assert_eq!(o.log.matches("sending the image again").count(), 2, "{}", o.log);
}

#[test]
fn a_transfer_left_unfinished_times_out_and_the_new_one_is_taken() {
    let image = test_image(5000);
    let mut left_over = crate::protocol::header(&image).to_vec();
    left_over.extend_from_slice(&image[..2000]);
    let o = run(Faults { left_over, silent_boot: true, ..Faults::default() }, &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 1);
    assert!(
        o.console.contains("error: timed out: no data for 2000 ms after 2001 of 5000 image bytes"),
        "{}",
        o.console
    );
}

#[test]
fn a_reset_during_the_transfer_is_noticed_and_the_image_sent_again() {
    let image = test_image(5000);
    let faults = Faults { reset_after: Some(1000), ..Faults::default() };
    let o = run(faults, &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 2);
    assert!(o.log.contains("attempt 1 of 3: no answer within"), "{}", o.log);
    assert!(o.log.contains("(was the Pi reset during the transfer?)"), "{}", o.log);
}

#[test]
fn no_loader_is_an_error_after_the_timeout_with_paced_enquiries() {
    let start = std::time::Instant::now();
    let o = run(Faults { dead: true, ..Faults::default() }, &[1, 2, 3], 3, Duration::from_millis(700));
    let err = o.result.unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(700));
    assert_eq!(
        err,
        "no \"ilusion-chainloader: ready\" from the chainloader within 0.7 s (is it running? reset the Pi)"
    );
    assert_eq!(o.board.transfers, 0);
    // Sent at 0, 200 and 400 ms (the interval scaled down), not more often.
    assert!((2..=4).contains(&o.board.enquiries), "{} enquiries", o.board.enquiries);
}

#[test]
fn a_line_that_closes_is_reported() {
    let (mut to_board, from_board) = (Vec::new(), std::sync::mpsc::channel());
    from_board.0.send(Some(b'x')).unwrap();
    from_board.0.send(None).unwrap();
    let (mut console, mut log) = (Vec::new(), Vec::new());
    let result = Session::new(&from_board.1, &mut to_board, &mut console, &mut log, timing()).load(
        &[1],
        3,
        Duration::from_secs(5),
    );
    assert_eq!(result, Err("the line closed".into()));
    assert_eq!(to_board, [crate::protocol::ENQUIRY], "one enquiry, no image");
}

#[test]
fn a_loader_on_another_board_is_refused_before_sending() {
    // The fake loader says "ready (fake)": an image for rpi4 is not sent.
    let image = test_image(1000);
    let o = run_for(Some("rpi4"), Faults::default(), &image, 3, Duration::from_secs(5));
    let error = o.result.unwrap_err();
    assert!(error.contains("runs on fake, but the image was built for rpi4"), "{error}");
    assert!(error.contains("just chainloader rpi4"), "{error}");
    assert_eq!(o.board.transfers, 0, "nothing sent");
    // The same image, built for the loader's board, goes through.
    let o = run_for(Some("fake"), Faults::default(), &image, 3, Duration::from_secs(5));
    check_booted(&o, &image, 1);
}

#[test]
fn the_board_is_read_from_the_ready_line() {
    use crate::session::announced_board;
    assert_eq!(announced_board("ilusion-chainloader: ready (rpi3)"), Some("rpi3"));
    assert_eq!(announced_board("ilusion-chainloader: ready (fake, after a reset)"), Some("fake"));
    assert_eq!(announced_board("ilusion-chainloader: ready"), None, "an older loader names none");
    assert_eq!(announced_board("ilusion-chainloader: ready ()"), None);
    assert_eq!(announced_board("something else"), None);
}
