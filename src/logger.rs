//! The `log` backend: `[  seconds.micros LEVEL module] message` on the console.
//!
//! The level is chosen when the image is built: `ILUSION_LOG=debug just run`
//! (error, warn, info, debug, trace or off; default info).

use log::{LevelFilter, Log, Metadata, Record};

struct ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let uptime = crate::time::Instant::now().since_boot();
        let prefix = Prefix::new(uptime.as_secs(), uptime.subsec_micros(), record.level());
        crate::console::write_fmt(format_args!(
            "{}{}] {}\n",
            prefix.as_str(),
            record.module_path().unwrap_or(""),
            record.args()
        ));
    }

    fn flush(&self) {}
}

/// A line's start, `[  seconds.micros LEVEL `: what `"[{:>5}.{:06} {:<5} "`
/// writes, written digit by digit (`core::fmt`'s padding and integer
/// formatting cost about 600 instructions a line; `as_micros` would be a
/// `u128`, whose division and formatting would be linked in for this alone).
struct Prefix {
    text: [u8; Self::CAPACITY],
    len: usize,
}

impl Prefix {
    /// `[`, up to 20 digits of seconds, `.`, 6 of microseconds, a space, a
    /// level of 5 letters, a space.
    const CAPACITY: usize = 1 + 20 + 1 + 6 + 1 + 5 + 1;

    fn new(seconds: u64, micros: u32, level: log::Level) -> Self {
        let mut p = Self { text: [b' '; Self::CAPACITY], len: 0 };
        p.text[0] = b'[';
        // Seconds right-aligned in at least 5 columns: digits from the right.
        let digits = decimal_digits(seconds);
        let width = digits.max(5);
        write_digits(&mut p.text[width - digits + 1..=width], seconds);
        let mut at = width + 1;
        p.text[at] = b'.';
        write_digits(&mut p.text[at + 1..at + 7], u64::from(micros % 1_000_000));
        at += 8; // the dot, six digits, a space
        let name = level.as_str().as_bytes(); // 4 or 5 letters; padded with the spaces already there
        p.text[at..at + name.len()].copy_from_slice(name);
        p.len = at + 6;
        p
    }

    fn as_str(&self) -> &str {
        // SAFETY: only ASCII is ever in `text` (spaces, the bracket, digits,
        // the dot and a level's name), so any prefix of it is UTF-8: no
        // check at every line (about 50 instructions).
        unsafe { core::str::from_utf8_unchecked(&self.text[..self.len]) }
    }
}

/// Writes the last `out.len()` decimal digits of `n` into `out`, zero-padded.
fn write_digits(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// How many decimal digits `n` has (1 for 0).
fn decimal_digits(mut n: u64) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// The level named by `ILUSION_LOG` at build time.
pub fn build_time_level() -> LevelFilter {
    parse_level(env!("ILUSION_LOG_LEVEL"))
}

/// Parses a level name; unknown names give `Info`.
pub fn parse_level(name: &str) -> LevelFilter {
    match name.as_bytes() {
        b"off" => LevelFilter::Off,
        b"error" => LevelFilter::Error,
        b"warn" => LevelFilter::Warn,
        b"debug" => LevelFilter::Debug,
        b"trace" => LevelFilter::Trace,
        _ => LevelFilter::Info,
    }
}

pub(crate) fn init() {
    static LOGGER: ConsoleLogger = ConsoleLogger;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(build_time_level());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_what_the_format_string_gave() {
        use log::Level::*;
        for (secs, micros) in
            [(0, 0), (0, 25), (1, 999_999), (12_345, 10), (99_999, 1), (123_456, 7), (u64::MAX, 999_999)]
        {
            for level in [Error, Warn, Info, Debug, Trace] {
                let expected = format!("[{secs:>5}.{micros:06} {level:<5} ");
                assert_eq!(Prefix::new(secs, micros, level).as_str(), expected);
            }
        }
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), LevelFilter::Debug);
        assert_eq!(parse_level("off"), LevelFilter::Off);
        assert_eq!(parse_level("nonsense"), LevelFilter::Info);
    }
}
