//! `ilusion-trace`: draws what an ilusion run printed on its console.
//!
//! ```text
//! ilusion-trace timeline LOG --json OUT.json --svg OUT.svg [--from-us T --to-us T]
//!     the schedule trace (`@@ilusion-trace v1`, built with --features trace)
//!     as Perfetto / Chrome trace-event JSON and an SVG timeline (of the
//!     window from T to T microseconds after the trace's start, if given)
//! ilusion-trace maps LOG --out-dir DIR
//!     each address-space dump (`@@ilusion-maps v1`, from mm::dump_maps)
//!     as DIR/<task id>-<name>.svg
//! ```
//!
//! LOG is a captured console log: the frames are found among whatever else
//! the program printed (of several trace dumps, the last is drawn). A bad log is one line naming its line number and
//! what was wrong, exit status 1; a bad command line (also an output that
//! is the log, or both outputs one file), exit status 2. Used
//! by `just trace` and `just maps`.

mod frame;
mod maps;
mod maps_svg;
mod perfetto;
mod states;
mod svg;
mod timeline_svg;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str =
    "usage: ilusion-trace timeline LOG --json OUT.json --svg OUT.svg [--from-us T --to-us T]\n       ilusion-trace maps LOG --out-dir DIR";

/// Why the tool stopped: a bad command line (exit 2) or bad input or output (exit 1).
enum Failure {
    Usage(String),
    Input(String),
}

fn read(path: &str) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::Input(format!("cannot read {path}: {e}")))?;
    // A console log may hold a stray non-UTF-8 byte (line noise): keep the rest readable.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Failure::Input(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| Failure::Input(format!("cannot write {}: {e}", path.display())))
}

/// The options `--name value` of `args`, each of `names` at most once; the
/// first `required` of them must be there.
fn options<'a>(args: &'a [String], names: &[&str], required: usize) -> Result<Vec<Option<&'a str>>, Failure> {
    let mut values: Vec<Option<&str>> = vec![None; names.len()];
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(k) = names.iter().position(|n| n == arg) else {
            return Err(Failure::Usage(format!("unknown argument `{arg}`")));
        };
        let value = rest.next().ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))?;
        if values[k].replace(value).is_some() {
            return Err(Failure::Usage(format!("{arg} given twice")));
        }
    }
    if let Some(k) = (0..required).find(|&k| values[k].is_none()) {
        return Err(Failure::Usage(format!("missing {}", names[k])));
    }
    Ok(values)
}

/// A task's name as part of a file name: letters, digits, `-` and `_` only.
fn file_name_part(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if cleaned.is_empty() {
        "unnamed".into()
    } else {
        cleaned
    }
}

/// Whether two paths name the same file (the same text, or one file reached two ways).
fn same_file(a: &str, b: &str) -> bool {
    let plain =
        |p: &str| -> PathBuf { Path::new(p).components().filter(|c| *c != std::path::Component::CurDir).collect() };
    plain(a) == plain(b) || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

fn run(args: &[String]) -> Result<(), Failure> {
    let input_error = |log: &str, e: frame::InputError| Failure::Input(format!("{log}: {e}"));
    match args {
        [command, log, rest @ ..] if command == "timeline" => {
            let given = options(rest, &["--json", "--svg", "--from-us", "--to-us"], 2)?;
            let [Some(json), Some(svg), from, to] = given[..] else { unreachable!("--json and --svg are required") };
            let window = match (from, to) {
                (None, None) => None,
                (Some(from), Some(to)) => {
                    let micros = |text: &str, name: &str| {
                        text.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0).ok_or_else(|| {
                            Failure::Usage(format!("{name} needs a number of microseconds, not `{text}`"))
                        })
                    };
                    let (from_us, to_us) = (micros(from, "--from-us")?, micros(to, "--to-us")?);
                    if to_us <= from_us {
                        return Err(Failure::Usage("--to-us must be after --from-us".into()));
                    }
                    Some(timeline_svg::Window { from_us, to_us })
                }
                _ => return Err(Failure::Usage("--from-us and --to-us go together".into())),
            };
            // An output written over the log (or over the other output) lost it.
            if same_file(log, json) || same_file(log, svg) {
                return Err(Failure::Usage(format!("--json and --svg must not name the log {log} (it would be lost)")));
            }
            if same_file(json, svg) {
                return Err(Failure::Usage(format!("--json and --svg name the same file {json}")));
            }
            let trace = trace::parse_log(&read(log)?).map_err(|e| input_error(log, e))?;
            // A window that starts after the trace's last event shows nothing
            // (and far enough out, past the 64-bit tick range, cannot be drawn).
            let end_us = trace.micros(trace.end_ticks());
            if let Some(w) = &window {
                if w.from_us >= end_us {
                    return Err(Failure::Usage(format!(
                        "--from-us {} is at or after the trace's end ({end_us:.3} µs after its start)",
                        from.unwrap_or_default()
                    )));
                }
            }
            let timeline = states::derive(&trace);
            write(Path::new(json), &perfetto::to_json(&trace, &timeline))?;
            write(Path::new(svg), &timeline_svg::to_svg(&trace, &timeline, window))?;
            println!(
                "{} events, {} tasks, {} cores{}: wrote {json} (open in ui.perfetto.dev) and {svg}",
                trace.events.len(),
                timeline.tasks.len(),
                trace.cores,
                if trace.lost > 0 { format!(" ({} older events lost)", trace.lost) } else { String::new() }
            );
            Ok(())
        }
        [command, log, rest @ ..] if command == "maps" => {
            let [Some(dir)] = options(rest, &["--out-dir"], 1)?[..] else { unreachable!("--out-dir is required") };
            let spaces = maps::parse_log(&read(log)?).map_err(|e| input_error(log, e))?;
            for space in &spaces {
                let path: PathBuf = Path::new(dir).join(format!("{}-{}.svg", space.task, file_name_part(&space.name)));
                write(&path, &maps_svg::to_svg(space))?;
                println!("task {} ({}): {} regions -> {}", space.task, space.name, space.regions.len(), path.display());
            }
            Ok(())
        }
        [command, ..] if command == "timeline" || command == "maps" => {
            Err(Failure::Usage(format!("{command} needs a log file")))
        }
        [command, ..] if command == "-h" || command == "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        [command, ..] => Err(Failure::Usage(format!("unknown command `{command}`"))),
        [] => Err(Failure::Usage("no command".into())),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            eprintln!("ilusion-trace: {why}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Input(why)) => {
            eprintln!("ilusion-trace: error: {why}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn usage_error(list: &[&str]) -> String {
        match run(&args(list)) {
            Err(Failure::Usage(why)) => why,
            _ => panic!("{list:?} should be a usage error"),
        }
    }

    #[test]
    fn the_usage_names_every_option() {
        // It left out the window, so "--from-us needs a value" came with a usage that had no --from-us.
        for option in ["--json", "--svg", "--from-us", "--to-us", "--out-dir"] {
            assert!(USAGE.contains(option), "{option} missing from:\n{USAGE}");
        }
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        assert_eq!(usage_error(&[]), "no command");
        assert_eq!(usage_error(&["draw"]), "unknown command `draw`");
        assert_eq!(usage_error(&["maps"]), "maps needs a log file");
        assert_eq!(usage_error(&["timeline", "log", "--json", "a.json"]), "missing --svg");
        assert_eq!(usage_error(&["timeline", "log", "--json"]), "--json needs a value");
        assert_eq!(usage_error(&["maps", "log", "--out", "d"]), "unknown argument `--out`");
        assert_eq!(usage_error(&["maps", "log", "--out-dir", "d", "--out-dir", "e"]), "--out-dir given twice");
        let window = ["timeline", "log", "--json", "a", "--svg", "b", "--from-us"];
        assert_eq!(usage_error(&[&window[..], &["5"]].concat()), "--from-us and --to-us go together");
        assert_eq!(
            usage_error(&[&window[..], &["x", "--to-us", "5"]].concat()),
            "--from-us needs a number of microseconds, not `x`"
        );
        assert_eq!(usage_error(&[&window[..], &["5", "--to-us", "5"]].concat()), "--to-us must be after --from-us");
        assert_eq!(
            usage_error(&["timeline", "run.log", "--json", "run.log", "--svg", "b"]),
            "--json and --svg must not name the log run.log (it would be lost)"
        );
        assert_eq!(
            usage_error(&["timeline", "log", "--json", "t.out", "--svg", "./t.out"]),
            "--json and --svg name the same file t.out"
        );
    }

    #[test]
    fn files_are_written_and_bad_logs_are_input_errors() {
        let dir = std::env::temp_dir().join(format!("ilusion-trace-test-{}", std::process::id()));
        let log = dir.join("run.log");
        write(&log, maps::SAMPLE).ok().unwrap();
        let out = dir.join("maps");
        let ok = run(&args(&["maps", log.to_str().unwrap(), "--out-dir", out.to_str().unwrap()]));
        assert!(ok.is_ok());
        assert!(out.join("2-alpha.svg").exists() && out.join("3-beta_two.svg").exists());
        let missing = dir.join("missing.log");
        match run(&args(&["timeline", missing.to_str().unwrap(), "--json", "a", "--svg", "b"])) {
            Err(Failure::Input(why)) => assert!(why.starts_with("cannot read"), "{why}"),
            _ => panic!("a missing log is an input error"),
        }
        match run(&args(&["timeline", log.to_str().unwrap(), "--json", "a", "--svg", "b"])) {
            Err(Failure::Input(why)) => assert!(why.contains("no trace in the log"), "{why}"),
            _ => panic!("a log without a trace is an input error"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_window_after_the_trace_is_refused() {
        let dir = std::env::temp_dir().join(format!("ilusion-trace-window-test-{}", std::process::id()));
        let log = dir.join("run.log");
        let body = ["t 1 main", "e 0 0 sp 1 0", "e 0 3e8 sw 0 1 idle"];
        write(&log, &trace::framed("", "@@ilusion-trace v1 cores=1 hz=1000000 start=0", &body, "")).ok().unwrap();
        let (json, svg) = (dir.join("t.json"), dir.join("t.svg"));
        let timeline = |from: &str, to: &str| {
            let (log, json, svg) = (log.to_str().unwrap(), json.to_str().unwrap(), svg.to_str().unwrap());
            run(&args(&["timeline", log, "--json", json, "--svg", svg, "--from-us", from, "--to-us", to]))
        };
        // Past the 64-bit tick range this looped for ever drawing the axis.
        for (from, to) in [("3e17", "4e17"), ("1000", "2000")] {
            match timeline(from, to) {
                Err(Failure::Usage(why)) => {
                    assert!(why.contains("is at or after the trace's end (1000.000 µs after its start)"), "{why}")
                }
                _ => panic!("a window from {from} µs is after the trace"),
            }
        }
        assert!(timeline("0", "4e17").is_ok() && timeline("500", "2000").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
