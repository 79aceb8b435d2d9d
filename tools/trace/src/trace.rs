//! The schedule trace dump (`@@ilusion-trace v1`), read back into events.
//!
//! ```text
//! @@ilusion-trace v1 cores=<n> hz=<counter frequency> start=<first timestamp, hex ticks>
//! t <task id> <name>
//! e <core> <timestamp, hex ticks> <kind> <args...>
//! @@end events=<n> lost=<n> sum=<FNV-1a 32 of the t/e lines, each with its '\n'>
//! ```
//!
//! The sum and the count are checked, so a line lost or garbled on the
//! serial line is an error, not a wrong picture. Lines inside the frame
//! that are neither `t` nor `e` lines are another core's output and are
//! skipped (the sum catches one that cut into a trace line).

use crate::frame::{decimal, field, fields, fnv1a32, frames, hex, InputError, Line};
use std::collections::BTreeMap;

/// The most cores a trace may say it has (ilusion's boards have 4; QEMU
/// virt up to 8): more is a garbled header.
pub const MAX_CORES: usize = 256;

/// The idle task's id, on every core.
pub const IDLE: u64 = 0;

/// What happened (the `<kind> <args...>` of an `e` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `sw <from> <to> <why>`
    Switch { from: u64, to: u64, why: String },
    /// `wk <task>`
    Wake { task: u64 },
    /// `bl <task> <on>`
    Block { task: u64, on: String },
    /// `ie <intid>`
    IrqEnter { intid: u64 },
    /// `ix <intid>`
    IrqExit { intid: u64 },
    /// `se <task> <nr>`
    SyscallEnter { task: u64, nr: u64 },
    /// `sx <task> <nr>`
    SyscallExit { task: u64, nr: u64 },
    /// `pf <task> <address hex>`
    PageFault { task: u64, address: u64 },
    /// `sp <task> <parent>`
    Spawn { task: u64, parent: u64 },
    /// `ex <task> <how>`
    Exit { task: u64, how: String },
    /// `kl <task> <by>`
    Kill { task: u64, by: u64 },
}

/// One `e` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub core: usize,
    /// Counter ticks since the frame's `start`.
    pub ticks: u64,
    pub kind: Kind,
    /// The log line it came from.
    pub line: usize,
}

/// A whole trace dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub cores: usize,
    /// Counter frequency, ticks per second.
    pub hz: u64,
    /// Task names by id (from the `t` lines; a task only in events gets `#id`).
    pub names: BTreeMap<u64, String>,
    /// In time order (a stable sort: same-time events keep the dump's order).
    pub events: Vec<Event>,
    /// Events the ring overwrote before the dump.
    pub lost: u64,
}

impl Trace {
    /// Microseconds since the start for `ticks`.
    pub fn micros(&self, ticks: u64) -> f64 {
        ticks as f64 * 1e6 / self.hz as f64
    }

    /// The name of task `id`.
    pub fn name(&self, id: u64) -> String {
        self.names.get(&id).cloned().unwrap_or_else(|| if id == IDLE { "idle".into() } else { format!("#{id}") })
    }

    /// Every task the trace mentions but the idle task, by id.
    pub fn tasks(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.names.keys().copied().collect();
        for event in &self.events {
            ids.extend(event.kind.tasks());
        }
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|&id| id != IDLE);
        ids
    }

    /// Ticks of the last event (0 for none).
    pub fn end_ticks(&self) -> u64 {
        self.events.iter().map(|e| e.ticks).max().unwrap_or(0)
    }
}

impl Kind {
    /// The tasks this event names.
    pub fn tasks(&self) -> Vec<u64> {
        match *self {
            Kind::Switch { from, to, .. } => vec![from, to],
            Kind::Wake { task }
            | Kind::Block { task, .. }
            | Kind::SyscallEnter { task, .. }
            | Kind::SyscallExit { task, .. }
            | Kind::PageFault { task, .. }
            | Kind::Exit { task, .. } => vec![task],
            Kind::Spawn { task, parent } => vec![task, parent],
            Kind::Kill { task, by } => vec![task, by],
            Kind::IrqEnter { .. } | Kind::IrqExit { .. } => vec![],
        }
    }
}

/// Reads the trace dump in a captured console log (the last one, if it holds several).
pub fn parse_log(log: &str) -> Result<Trace, InputError> {
    let found = frames(log, "@@ilusion-trace")?;
    let Some(frame) = found.last() else {
        return Err(InputError::at(
            0,
            "no trace in the log: no `@@ilusion-trace v1` line (was it built with --features trace?)",
        ));
    };
    let header = fields(frame.header, 2)?;
    let n = frame.header.number;
    let version = frame.header.text.split_whitespace().nth(1).unwrap_or("");
    if version != "v1" {
        return Err(InputError::at(n, format!("unknown trace format version `{version}` (this tool reads v1)")));
    }
    let cores = usize::try_from(decimal(field(&header, "cores", n)?, "cores", n)?).unwrap_or(usize::MAX);
    let hz = decimal(field(&header, "hz", n)?, "hz", n)?;
    if hz == 0 || cores == 0 {
        return Err(InputError::at(n, "cores= and hz= must not be zero"));
    }
    // The tables are per core: a garbled count must not ask for terabytes.
    if cores > MAX_CORES {
        return Err(InputError::at(n, format!("cores={cores}: a trace has at most {MAX_CORES} cores")));
    }
    let start = hex(field(&header, "start", n)?, "start", n)?;

    let mut names = BTreeMap::new();
    let mut events = Vec::new();
    let mut summed = Vec::new();
    for &line in &frame.body {
        if let Some(rest) = line.text.strip_prefix("t ") {
            let (id, name) = rest.split_once(' ').unwrap_or((rest, ""));
            names.insert(decimal(id, "the task id", line.number)?, name.to_string());
        } else if line.text.starts_with("e ") {
            events.push(parse_event(line, start, cores)?);
        } else {
            continue;
        }
        summed.push(line.text);
    }

    let end = fields(frame.end, 1)?;
    let e = frame.end.number;
    let expected = decimal(field(&end, "events", e)?, "events", e)?;
    let lost = decimal(field(&end, "lost", e)?, "lost", e)?;
    let sum = hex(field(&end, "sum", e)?, "sum", e)?;
    if expected != events.len() as u64 {
        return Err(InputError::at(e, format!("the frame says {expected} events but holds {}", events.len())));
    }
    let actual = fnv1a32(&summed);
    if u64::from(actual) != sum {
        return Err(InputError::at(e, format!("bad sum: the frame says {sum:08x}, its lines give {actual:08x}")));
    }
    events.sort_by_key(|event| event.ticks);
    Ok(Trace { cores, hz, names, events, lost })
}

fn parse_event(line: Line, start: u64, cores: usize) -> Result<Event, InputError> {
    let n = line.number;
    let words: Vec<&str> = line.text.split_whitespace().collect();
    let [_, core, ticks, kind, args @ ..] = words.as_slice() else {
        return Err(InputError::at(n, "an event needs `e <core> <timestamp> <kind> ...`"));
    };
    let core = decimal(core, "the core", n)? as usize;
    if core >= cores {
        return Err(InputError::at(n, format!("core {core}, but the trace has {cores} cores")));
    }
    let ticks = hex(ticks, "the timestamp", n)?;
    let ticks = ticks
        .checked_sub(start)
        .ok_or_else(|| InputError::at(n, format!("timestamp {ticks:x} before the trace's start {start:x}")))?;
    let want = |count: usize| {
        if args.len() == count {
            Ok(())
        } else {
            Err(InputError::at(n, format!("`{kind}` takes {count} arguments, found {}", args.len())))
        }
    };
    let id = |k: usize| decimal(args[k], "a task id", n);
    let kind = match *kind {
        "sw" => {
            want(3)?;
            Kind::Switch { from: id(0)?, to: id(1)?, why: args[2].to_string() }
        }
        "wk" => {
            want(1)?;
            Kind::Wake { task: id(0)? }
        }
        "bl" => {
            want(2)?;
            Kind::Block { task: id(0)?, on: args[1].to_string() }
        }
        "ie" | "ix" => {
            want(1)?;
            let intid = decimal(args[0], "the interrupt id", n)?;
            if *kind == "ie" {
                Kind::IrqEnter { intid }
            } else {
                Kind::IrqExit { intid }
            }
        }
        "se" | "sx" => {
            want(2)?;
            let (task, nr) = (id(0)?, decimal(args[1], "the system call number", n)?);
            if *kind == "se" {
                Kind::SyscallEnter { task, nr }
            } else {
                Kind::SyscallExit { task, nr }
            }
        }
        "pf" => {
            want(2)?;
            Kind::PageFault { task: id(0)?, address: hex(args[1], "the fault address", n)? }
        }
        "sp" => {
            want(2)?;
            Kind::Spawn { task: id(0)?, parent: id(1)? }
        }
        "ex" => {
            want(2)?;
            Kind::Exit { task: id(0)?, how: args[1].to_string() }
        }
        "kl" => {
            want(2)?;
            Kind::Kill { task: id(0)?, by: id(1)? }
        }
        other => return Err(InputError::at(n, format!("unknown event kind `{other}`"))),
    };
    Ok(Event { core, ticks, kind, line: n })
}

/// Test logs: a frame around `body` (t/e lines) with the right count and sum.
#[cfg(test)]
pub fn framed(before: &str, header: &str, body: &[&str], after: &str) -> String {
    let events = body.iter().filter(|l| l.starts_with("e ")).count();
    let sum = fnv1a32(body);
    let mut log = String::from(before);
    log += &format!("{header}\n");
    for line in body {
        log += &format!("{line}\n");
    }
    log += &format!("@@end events={events} lost=0 sum={sum:08x}\n{after}");
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "@@ilusion-trace v1 cores=2 hz=62500000 start=1000";

    fn body() -> Vec<&'static str> {
        vec![
            "t 0 idle",
            "t 1 main",
            "t 2 worker two",
            "e 0 1000 sp 2 1",
            "e 0 1010 wk 2",
            "e 1 1020 sw 0 2 idle",
            "e 0 1040 ie 30",
            "e 0 1048 ix 30",
            "e 1 1080 pf 2 100000ff0",
            "e 1 1090 bl 2 mutex",
            "e 1 10a0 sw 2 0 block",
        ]
    }

    #[test]
    fn a_huge_core_count_is_refused_with_its_line() {
        for cores in ["99999999999999", "257"] {
            let header = format!("@@ilusion-trace v1 cores={cores} hz=62500000 start=1000");
            let log = framed("boot\n", &header, &body(), "");
            let Err(e) = parse_log(&log) else { panic!("cores={cores} must be refused") };
            assert_eq!(e.to_string(), format!("line 2: cores={cores}: a trace has at most 256 cores"));
        }
    }

    #[test]
    fn a_trace_is_read_back_with_names_and_times() {
        let log = framed("boot\nhello\n", HEADER, &body(), "after\n");
        let trace = parse_log(&log).unwrap();
        assert_eq!((trace.cores, trace.hz, trace.lost), (2, 62_500_000, 0));
        assert_eq!(trace.name(2), "worker two");
        assert_eq!(trace.name(9), "#9");
        assert_eq!(trace.tasks(), [1, 2], "the idle task has no lane");
        assert_eq!(trace.events.len(), 8);
        assert_eq!(trace.events[0].kind, Kind::Spawn { task: 2, parent: 1 });
        assert_eq!(trace.events[2].kind, Kind::Switch { from: 0, to: 2, why: "idle".into() });
        assert_eq!(trace.events[2].ticks, 0x20);
        assert_eq!(trace.events[5].kind, Kind::PageFault { task: 2, address: 0x1_0000_0ff0 });
        // 62.5 MHz: 16 ns a tick.
        assert!((trace.micros(0x20) - 0.512).abs() < 1e-9);
        assert_eq!(trace.events[2].line, 9, "2 lines before, the header, 3 names, then sp, wk, sw");
    }

    #[test]
    fn other_output_inside_the_frame_is_skipped() {
        let mut lines = body();
        lines.insert(5, "[other core] hello");
        let log = framed("", HEADER, &lines, "");
        // The sum is over t/e lines only, as the kernel writes it.
        let log = log.replace(&format!("sum={:08x}", fnv1a32(&lines)), &format!("sum={:08x}", fnv1a32(&body())));
        assert_eq!(parse_log(&log).unwrap().events.len(), 8);
    }

    fn error(body: &[&str]) -> InputError {
        parse_log(&framed("x\n", HEADER, body, "")).unwrap_err()
    }

    #[test]
    fn bad_inputs_name_the_line_and_what_was_wrong() {
        let e = parse_log("just a boot log\n").unwrap_err();
        assert!(e.what.contains("no trace in the log"), "{e}");
        let e = error(&["e 0 1000 zz 1"]);
        assert_eq!(e.to_string(), "line 3: unknown event kind `zz`");
        let e = error(&["e 0 10g0 wk 1"]);
        assert_eq!(e.to_string(), "line 3: bad number for the timestamp: `10g0` (expected hexadecimal)");
        let e = error(&["e 0 1000 sw 1 x yield"]);
        assert_eq!(e.to_string(), "line 3: bad number for a task id: `x` (expected decimal)");
        let e = error(&["e 0 1000 sw 1 2"]);
        assert_eq!(e.to_string(), "line 3: `sw` takes 3 arguments, found 2");
        let e = error(&["e 5 1000 wk 1"]);
        assert_eq!(e.to_string(), "line 3: core 5, but the trace has 2 cores");
        let e = error(&["e 0 fff wk 1"]);
        assert!(e.what.contains("before the trace's start"), "{e}");
        let e = error(&["e 0"]);
        assert_eq!(e.line, 3);
    }

    #[test]
    fn a_changed_line_a_lost_line_and_a_cut_log_are_caught() {
        let good = framed("", HEADER, &body(), "");
        let changed = good.replace("e 0 1010 wk 2", "e 0 1010 wk 1");
        let e = parse_log(&changed).unwrap_err();
        assert!(e.what.starts_with("bad sum"), "{e}");
        assert_eq!(e.line, 13);
        let lost = good.replace("e 0 1010 wk 2\n", "");
        assert_eq!(parse_log(&lost).unwrap_err().what, "the frame says 8 events but holds 7");
        let cut = &good[..good.find("e 1 1090").unwrap()];
        let e = parse_log(cut).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.what.contains("never ends"), "{e}");
        let e = parse_log(&good.replace("v1", "v2")).unwrap_err();
        assert!(e.what.contains("version `v2`"), "{e}");
        let e = parse_log(&good.replace("hz=62500000", "hz=fast")).unwrap_err();
        assert_eq!(e.to_string(), "line 1: bad number for hz: `fast` (expected decimal)");
    }
}
