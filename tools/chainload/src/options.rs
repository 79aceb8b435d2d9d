//! The command line: the options, the help text (which tells users how the
//! protocol behaves: when to reset the Pi, timeouts, retries), and the
//! check of the image before anything is sent.

use crate::protocol::{self, MAX_IMAGE_SIZE};
use std::time::Duration;

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub baud: u32,
    /// How long to wait for the loader's `ready` (and for a `unix:` socket to appear).
    pub timeout: Duration,
    /// How many times to send the image before giving up.
    pub attempts: u32,
    pub port: String,
    pub image: String,
    /// The board the image was built for: a loader on another is refused.
    pub board: Option<String>,
}

/// The longest `--timeout`.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// Why the command line was not run.
#[derive(Debug, PartialEq)]
pub enum ArgsError {
    /// `--help`: print [`help`] and exit 0.
    Help,
    /// A bad command line: print the message and [`USAGE`], exit 2.
    Usage(String),
}

pub const USAGE: &str =
    "usage: ilusion-chainload [--baud N] [--timeout SECONDS] [--attempts N] [--board rpi3|rpi4] PORT IMAGE\n  \
    PORT: a serial device (/dev/ttyUSB0) or unix:PATH; IMAGE: a raw image (.img); --help for more";

/// The `--help` text.
pub fn help() -> String {
    format!(
        "ilusion-chainload: sends an image to a Raspberry Pi running ilusion's serial chainloader
(tools/chainloader), then copies the Pi's console to stdout and stdin to the Pi.

{USAGE}

  PORT    a serial device (/dev/ttyUSB0: set to raw 8N1 at --baud with stty), or
          unix:PATH, a Unix socket such as QEMU's -serial unix:PATH,server=on
          (waited for until --timeout if it does not exist yet)
  IMAGE   a raw image (target/images/<board>/<example>.img), 1 to {MAX_IMAGE_SIZE} bytes

options:
  --baud N            serial speed (default 115200)
  --timeout SECONDS   how long to wait for the chainloader to say it is ready (default 60)
  --attempts N        how many times to send the image if it is refused (default 3)
  --board rpi3|rpi4   the board IMAGE was built for: stop, saying so, if the
                      chainloader says it runs on the other one (`just chainload` passes it)

Start it before or after resetting the Pi. It sends an enquiry (0x05) at once
and every {enquiry} s until the loader says it is ready (\"{ready}\";
the loader also says so when it boots), waits for 0.2 s of quiet, then sends
\"ILCL\", the image's size and CRC-32 (u32, little endian) and the image.
The loader answers \"{ok}\" and starts the image, or
\"{error}: <why>\": a CRC-32 mismatch, a bad size, or no data
for {idle} s in the middle of a transfer. After a refusal it waits for {quiet} s of
quiet and says it is ready again, and the tool sends the image again, up to
--attempts times. No answer within the transfer time plus {margin} s (the Pi was
reset during the transfer) is a failed attempt too. A loader left in the middle
of a transfer by an earlier run times out by itself: enquiries are more than
{idle} s apart.

exit status: 0 when the line closes after the image was accepted; 1 when it
could not be sent (the message says why); 2 for a bad command line.",
        enquiry = protocol::ENQUIRY_INTERVAL_MS / 1000,
        ready = protocol::READY,
        ok = protocol::ACCEPTED,
        error = protocol::REJECTED,
        idle = protocol::IDLE_TIMEOUT_MS / 1000,
        quiet = protocol::QUIET_MS as f64 / 1000.0,
        margin = crate::session::Timing::for_baud(115_200).verdict_margin.as_secs(),
    )
}

fn number<T: std::str::FromStr>(option: &str, value: Option<String>) -> Result<T, ArgsError> {
    let value = value.ok_or_else(|| ArgsError::Usage(format!("{option} needs a value")))?;
    value.parse().map_err(|_| ArgsError::Usage(format!("{option} needs a positive whole number, not {value:?}")))
}

/// Reads the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, ArgsError> {
    let mut args = args.into_iter();
    let (mut baud, mut timeout, mut attempts, mut rest) = (115_200, 60, 3, Vec::new());
    let mut board = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--baud" => baud = number("--baud", args.next())?,
            "--timeout" => timeout = number("--timeout", args.next())?,
            "--attempts" => attempts = number("--attempts", args.next())?,
            "--board" => match args.next() {
                Some(b) if b == "rpi3" || b == "rpi4" => board = Some(b),
                Some(b) => {
                    return Err(ArgsError::Usage(format!(
                        "--board is rpi3 or rpi4 (the Pis that run the chainloader), not {b:?}"
                    )))
                }
                None => return Err(ArgsError::Usage("--board needs a value".into())),
            },
            "-h" | "--help" => return Err(ArgsError::Help),
            _ if a.starts_with('-') && a.len() > 1 => return Err(ArgsError::Usage(format!("unknown option {a}"))),
            _ => rest.push(a),
        }
    }
    if baud == 0 || timeout == 0 || attempts == 0 {
        return Err(ArgsError::Usage("--baud, --timeout and --attempts must be at least 1".into()));
    }
    if timeout > MAX_TIMEOUT_SECONDS {
        return Err(ArgsError::Usage(format!("--timeout is at most {MAX_TIMEOUT_SECONDS} seconds (a day)")));
    }
    let (port, image) = match <[String; 2]>::try_from(rest) {
        Ok([port, image]) => (port, image),
        Err(rest) if rest.is_empty() => return Err(ArgsError::Usage("missing PORT and IMAGE".into())),
        Err(rest) if rest.len() == 1 => {
            return Err(ArgsError::Usage(format!("missing IMAGE (after PORT {})", rest[0])))
        }
        Err(rest) => return Err(ArgsError::Usage(format!("too many arguments: {}", rest[2..].join(" ")))),
    };
    if port.is_empty() || image.is_empty() || port == "unix:" {
        return Err(ArgsError::Usage("PORT and IMAGE must not be empty".into()));
    }
    Ok(Options { baud, timeout: Duration::from_secs(timeout), attempts, port, image, board })
}

/// Reads the image, or says why it cannot be sent.
pub fn read_image(path: &str) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read the image {path}: {e}"))?;
    if metadata.is_dir() {
        return Err(format!("the image {path} is a directory; give a raw image (.img)"));
    }
    if metadata.len() == 0 {
        return Err(format!("the image {path} is empty"));
    }
    if metadata.len() > u64::from(MAX_IMAGE_SIZE) {
        return Err(format!(
            "the image {path} is {} bytes; the chainloader takes at most {MAX_IMAGE_SIZE} (what fits between 0x80000 and the loader)",
            metadata.len()
        ));
    }
    let image = std::fs::read(path).map_err(|e| format!("cannot read the image {path}: {e}"))?;
    // The loader jumps to the first byte it receives: an ELF file's header
    // is not code (`just image` writes both; the .img is the raw one).
    if image.starts_with(b"\x7fELF") {
        return Err(format!("the image {path} is an ELF file: send the .img, not the ELF"));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn port_and_image_with_defaults() {
        let o = parse(args("unix:/tmp/s hello.img")).unwrap();
        assert_eq!(
            o,
            Options {
                baud: 115_200,
                timeout: Duration::from_secs(60),
                attempts: 3,
                port: "unix:/tmp/s".into(),
                image: "hello.img".into(),
                board: None,
            }
        );
        let o = parse(args("--baud 9600 --timeout 5 --attempts 7 --board rpi3 /dev/ttyUSB0 a.img")).unwrap();
        assert_eq!((o.baud, o.timeout, o.attempts), (9600, Duration::from_secs(5), 7));
        assert_eq!(o.board.as_deref(), Some("rpi3"));
    }

    #[test]
    fn missing_or_bad_arguments_are_named() {
        let usage = |text: &str| match parse(args(text)) {
            Err(ArgsError::Usage(message)) => message,
            other => panic!("{text:?} gave {other:?}"),
        };
        assert_eq!(usage(""), "missing PORT and IMAGE");
        assert_eq!(usage("/dev/ttyUSB0"), "missing IMAGE (after PORT /dev/ttyUSB0)");
        assert_eq!(usage("a b c d"), "too many arguments: c d");
        assert_eq!(usage("--baud"), "--baud needs a value");
        assert_eq!(usage("--baud fast p i"), "--baud needs a positive whole number, not \"fast\"");
        assert_eq!(usage("--timeout -1 p i"), "--timeout needs a positive whole number, not \"-1\"");
        assert_eq!(usage("--attempts 0 p i"), "--baud, --timeout and --attempts must be at least 1");
        assert_eq!(usage("--speed 1 p i"), "unknown option --speed");
        assert_eq!(usage("--timeout 18446744073709551615 p i"), "--timeout is at most 86400 seconds (a day)");
        assert_eq!(usage("--attempts 4294967296 p i"), "--attempts needs a positive whole number, not \"4294967296\"");
        assert_eq!(usage("unix: i"), "PORT and IMAGE must not be empty");
        assert_eq!(usage("--board"), "--board needs a value");
        assert_eq!(
            usage("--board qemu-virt p i"),
            "--board is rpi3 or rpi4 (the Pis that run the chainloader), not \"qemu-virt\""
        );
    }

    #[test]
    fn help_documents_timeouts_and_retries() {
        assert_eq!(parse(args("p --help i")), Err(ArgsError::Help));
        let text = help();
        let wants = [
            "every 4 s",
            "for 2 s in the middle",
            "0.5 s of\nquiet",
            "plus 7 s",
            "up to\n--attempts times",
            "unix:PATH",
        ];
        for want in wants {
            assert!(text.contains(want), "help lacks {want:?}:\n{text}");
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ilusion-chainload-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn unusable_images_are_refused_with_a_reason() {
        let missing = temp("missing.img");
        let err = read_image(missing.to_str().unwrap()).unwrap_err();
        assert!(err.starts_with("cannot read the image") && err.contains("No such file"), "{err}");

        let dir = temp("dir");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_image(dir.to_str().unwrap()).unwrap_err().ends_with("is a directory; give a raw image (.img)"));
        std::fs::remove_dir(&dir).unwrap();

        let empty = temp("empty.img");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_image(empty.to_str().unwrap()).unwrap_err().ends_with("is empty"));

        let huge = temp("huge.img");
        std::fs::File::create(&huge).unwrap().set_len(u64::from(MAX_IMAGE_SIZE) + 1).unwrap();
        let err = read_image(huge.to_str().unwrap()).unwrap_err();
        assert!(err.contains("is 33030145 bytes; the chainloader takes at most 33030144"), "{err}");

        let elf = temp("hello.elf");
        std::fs::write(&elf, b"\x7fELF\x02\x01\x01").unwrap();
        let err = read_image(elf.to_str().unwrap()).unwrap_err();
        assert!(err.ends_with("is an ELF file: send the .img, not the ELF"), "{err}");

        let fits = temp("fits.img");
        std::fs::write(&fits, b"abc").unwrap();
        assert_eq!(read_image(fits.to_str().unwrap()).unwrap(), b"abc");
        for f in [empty, huge, elf, fits] {
            std::fs::remove_file(f).unwrap();
        }
    }
}
