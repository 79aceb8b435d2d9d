//! How the shell writes sizes, shares and times: short, fixed-width where
//! it goes in a column, and exact (integer arithmetic, no floats).

use alloc::format;
use alloc::string::String;
use core::time::Duration;

/// `part` as a percentage of `whole`, with one decimal: "12.5"; "-" if
/// `whole` is zero. Above 100 % when `part` ran on several cores.
pub fn percent(part: Duration, whole: Duration) -> String {
    let whole = whole.as_nanos();
    if whole == 0 {
        return String::from("-");
    }
    // Tenths of a percent, rounded to the nearest.
    let tenths = (part.as_nanos() * 1000 + whole / 2) / whole;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `part`, the time one task or one core ran, as a share of `whole`, the
/// time it was measured over: at most 100 %. (Read at slightly different
/// moments, a task's time over `top`'s second came out a hair longer than
/// the second: a spinning task, or its core, was "100.1" % busy.)
pub fn share_of_one_core(part: Duration, whole: Duration) -> String {
    percent(part.min(whole), whole)
}

/// A size in bytes: "512 B", "16 KiB", "1.5 MiB" (one decimal unless whole).
pub fn bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let tenths = (u128::from(n) * 10 + u128::from(size) / 2) / u128::from(size);
            return if tenths % 10 == 0 {
                format!("{} {unit}", tenths / 10)
            } else {
                format!("{}.{} {unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{n} B")
}

/// `n` things, the noun in the plural unless `n` is one: "1 core",
/// "4 cores", "0 tasks" (`ps` printed "1 cores" on a one-core machine).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A time since boot: "3.042 s", or "2 h 03 min 04.500 s" once long.
pub fn uptime(d: Duration) -> String {
    let ms = d.as_millis();
    let (s, ms) = (ms / 1000, ms % 1000);
    let (min, s) = (s / 60, s % 60);
    let (h, min) = (min / 60, min % 60);
    match (h, min) {
        (0, 0) => format!("{s}.{ms:03} s"),
        (0, _) => format!("{min} min {s:02}.{ms:03} s"),
        _ => format!("{h} h {min:02} min {s:02}.{ms:03} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_to_a_tenth() {
        let ms = Duration::from_millis;
        assert_eq!(percent(ms(1), ms(8)), "12.5");
        assert_eq!(percent(ms(2), ms(3)), "66.7");
        assert_eq!(percent(ms(0), ms(3)), "0.0");
        assert_eq!(percent(ms(3), ms(3)), "100.0");
        assert_eq!(percent(ms(8), ms(4)), "200.0");
        assert_eq!(percent(ms(1), Duration::ZERO), "-");
        assert_eq!(percent(Duration::MAX, Duration::MAX), "100.0");
    }

    #[test]
    fn one_task_or_core_is_never_busier_than_the_time_measured() {
        let ms = Duration::from_millis;
        assert_eq!(percent(ms(1001), ms(1000)), "100.1");
        assert_eq!(share_of_one_core(ms(1001), ms(1000)), "100.0");
        assert_eq!(share_of_one_core(ms(500), ms(1000)), "50.0");
        assert_eq!(share_of_one_core(ms(1), Duration::ZERO), "-");
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(16 * 1024), "16 KiB");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(bytes(3 << 30), "3 GiB");
        assert_eq!(bytes(u64::MAX), "17179869184 GiB");
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(1, "core"), "1 core");
        assert_eq!(count(4, "core"), "4 cores");
        assert_eq!(count(0, "task"), "0 tasks");
        assert_eq!(count(1, "task"), "1 task");
    }

    #[test]
    fn uptimes_read_naturally() {
        assert_eq!(uptime(Duration::from_millis(3042)), "3.042 s");
        assert_eq!(uptime(Duration::from_millis(61_005)), "1 min 01.005 s");
        assert_eq!(uptime(Duration::from_millis(7_384_500)), "2 h 03 min 04.500 s");
    }
}
