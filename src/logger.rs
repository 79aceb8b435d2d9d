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
        // Seconds and microseconds as u64 and u32 (`as_micros` is a u128,
        // whose formatting and division would be linked in for this alone).
        let uptime = crate::time::Instant::now().since_boot();
        crate::console::write_fmt(format_args!(
            "[{:>5}.{:06} {:<5} {}] {}\n",
            uptime.as_secs(),
            uptime.subsec_micros(),
            record.level(),
            record.module_path().unwrap_or(""),
            record.args()
        ));
    }

    fn flush(&self) {}
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
    fn levels() {
        assert_eq!(parse_level("debug"), LevelFilter::Debug);
        assert_eq!(parse_level("off"), LevelFilter::Off);
        assert_eq!(parse_level("nonsense"), LevelFilter::Info);
    }
}
