//! The trace as Chrome trace-event JSON, which ui.perfetto.dev and
//! chrome://tracing open.
//!
//! Two processes: "cores", one thread (track) per core with a complete
//! (`X`) event for each stretch a task ran there, and one more per core for
//! its interrupt handlers; and "tasks", one thread per task (named by the
//! `M` metadata events) with an `X` event for each state it was in.
//! Instants (`i`): interrupts taken (on the core), wakes, page faults,
//! system calls, spawns, ends and kills (on the task). Times (`ts`, `dur`)
//! are microseconds, as the format wants.

use crate::states::{State, Timeline};
use crate::trace::{Kind, Trace, IDLE};
use std::fmt::Write;

const CORES_PID: u64 = 1;
const TASKS_PID: u64 = 2;
/// The interrupt track of core `c` is thread `IRQ_TID + c` of the cores process.
const IRQ_TID: u64 = 1000;

/// `s` as a JSON string (quoted, escaped).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A time in microseconds, as a JSON number (nanosecond precision).
fn micros(trace: &Trace, ticks: u64) -> String {
    format!("{:.3}", nanos(trace, ticks) as f64 / 1000.0)
}

/// A time in whole nanoseconds: slices' starts and ends are rounded the
/// same way, so one ending where the next begins never overlaps it.
fn nanos(trace: &Trace, ticks: u64) -> u64 {
    (trace.micros(ticks) * 1000.0).round() as u64
}

struct Events<'a> {
    trace: &'a Trace,
    lines: Vec<String>,
}

impl Events<'_> {
    fn metadata(&mut self, what: &str, pid: u64, tid: u64, name: &str) {
        self.lines.push(format!(
            r#"{{"ph":"M","name":"{what}","pid":{pid},"tid":{tid},"ts":0,"args":{{"name":{}}}}}"#,
            json_string(name)
        ));
    }

    fn sort_index(&mut self, pid: u64, tid: u64, index: u64) {
        self.lines.push(format!(
            r#"{{"ph":"M","name":"thread_sort_index","pid":{pid},"tid":{tid},"ts":0,"args":{{"sort_index":{index}}}}}"#
        ));
    }

    fn complete(&mut self, (pid, tid): (u64, u64), name: &str, cat: &str, start: u64, end: u64, args: &str) {
        let dur = nanos(self.trace, end) - nanos(self.trace, start);
        let (ts, dur) = (micros(self.trace, start), format!("{}.{:03}", dur / 1000, dur % 1000));
        self.lines.push(format!(
            r#"{{"ph":"X","name":{},"cat":"{cat}","pid":{pid},"tid":{tid},"ts":{ts},"dur":{dur},"args":{{{args}}}}}"#,
            json_string(name)
        ));
    }

    fn instant(&mut self, pid: u64, tid: u64, name: &str, cat: &str, at: u64, args: &str) {
        self.lines.push(format!(
            r#"{{"ph":"i","s":"t","name":{},"cat":"{cat}","pid":{pid},"tid":{tid},"ts":{},"args":{{{args}}}}}"#,
            json_string(name),
            micros(self.trace, at)
        ));
    }
}

/// The trace-event JSON of `trace` (whose timeline is `timeline`).
pub fn to_json(trace: &Trace, timeline: &Timeline) -> String {
    let mut events = Events { trace, lines: Vec::new() };
    events.metadata("process_name", CORES_PID, 0, "cores");
    events.metadata("process_name", TASKS_PID, 0, "tasks");
    for core in 0..trace.cores as u64 {
        events.metadata("thread_name", CORES_PID, core, &format!("core {core}"));
        events.sort_index(CORES_PID, core, 2 * core);
        events.metadata("thread_name", CORES_PID, IRQ_TID + core, &format!("core {core} interrupts"));
        events.sort_index(CORES_PID, IRQ_TID + core, 2 * core + 1);
    }
    for &task in timeline.tasks.keys() {
        events.metadata("thread_name", TASKS_PID, task, &format!("{} (#{task})", trace.name(task)));
        events.sort_index(TASKS_PID, task, task);
    }
    for (core, intervals) in timeline.cores.iter().enumerate() {
        for i in intervals.iter().filter(|i| i.what != IDLE) {
            let args = format!(r#""task":{}"#, i.what);
            events.complete((CORES_PID, core as u64), &trace.name(i.what), "running", i.start, i.end, &args);
        }
    }
    for (core, intervals) in timeline.irqs.iter().enumerate() {
        for i in intervals {
            let args = format!(r#""intid":{}"#, i.what);
            events.complete(
                (CORES_PID, IRQ_TID + core as u64),
                &format!("irq {}", i.what),
                "irq",
                i.start,
                i.end,
                &args,
            );
        }
    }
    for (&task, intervals) in &timeline.tasks {
        for i in intervals {
            let cat = match i.what {
                State::Running { .. } => "running",
                State::Ready => "ready",
                State::Blocked { .. } => "blocked",
                State::Sleeping => "sleeping",
            };
            events.complete((TASKS_PID, task), &i.what.label(), cat, i.start, i.end, "");
        }
    }
    for event in &trace.events {
        let at = event.ticks;
        match &event.kind {
            Kind::IrqEnter { intid } => {
                let args = format!(r#""intid":{intid}"#);
                events.instant(CORES_PID, event.core as u64, &format!("irq {intid}"), "irq", at, &args);
            }
            Kind::Wake { task } if *task != IDLE => {
                events.instant(TASKS_PID, *task, "woken", "wake", at, &format!(r#""core":{}"#, event.core));
            }
            Kind::PageFault { task, address } => {
                let args = format!(r#""address":"{address:#x}""#);
                events.instant(TASKS_PID, *task, &format!("page fault {address:#x}"), "fault", at, &args);
            }
            Kind::SyscallEnter { task, nr } => {
                events.instant(TASKS_PID, *task, &format!("system call {nr}"), "syscall", at, &format!(r#""nr":{nr}"#));
            }
            Kind::Spawn { task, parent } => {
                let name = format!("spawned by {}", trace.name(*parent));
                events.instant(TASKS_PID, *task, &name, "spawn", at, &format!(r#""parent":{parent}"#));
            }
            Kind::Exit { task, how } => {
                events.instant(TASKS_PID, *task, &format!("exit: {how}"), "exit", at, "");
            }
            Kind::Kill { task, by } => {
                let name = format!("killed by {}", trace.name(*by));
                events.instant(TASKS_PID, *task, &name, "kill", at, &format!(r#""by":{by}"#));
            }
            _ => {}
        }
    }
    let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"otherData\":{");
    let _ = write!(
        out,
        "\"source\":\"ilusion-trace\",\"cores\":{},\"counter_hz\":{},\"lost_events\":{}",
        trace.cores, trace.hz, trace.lost
    );
    out.push_str("},\"traceEvents\":[\n");
    out.push_str(&events.lines.join(",\n"));
    out.push_str("\n]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::derive;
    use crate::trace::{framed, parse_log};
    use serde_json::Value;

    fn json(body: &[&str]) -> Value {
        let trace = parse_log(&framed("", "@@ilusion-trace v1 cores=2 hz=1000000 start=0", body, "")).unwrap();
        serde_json::from_str(&to_json(&trace, &derive(&trace))).expect("valid JSON")
    }

    fn sample() -> Value {
        json(&[
            "t 1 a \"quoted\"",
            "t 2 b",
            "e 0 a sw 1 2 yield",
            "e 0 14 sw 2 1 preempt",
            "e 1 15 ie 27",
            "e 1 16 wk 2",
            "e 1 18 ix 27",
            "e 0 1e pf 1 1000",
            "e 0 28 sw 1 0 sleep",
        ])
    }

    #[test]
    fn every_event_has_the_trace_event_formats_required_fields() {
        let doc = sample();
        assert_eq!(doc["displayTimeUnit"], "ns");
        let events = doc["traceEvents"].as_array().expect("traceEvents is an array");
        assert!(!events.is_empty());
        for e in events {
            let ph = e["ph"].as_str().unwrap_or_else(|| panic!("ph missing: {e}"));
            assert!(["X", "i", "M"].contains(&ph), "{e}");
            assert!(e["name"].is_string(), "name: {e}");
            assert!(e["ts"].is_number(), "ts: {e}");
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "pid/tid: {e}");
            if ph == "X" {
                assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "dur: {e}");
            }
            if ph == "i" {
                assert_eq!(e["s"], "t", "instant scoped to its track: {e}");
            }
        }
    }

    fn find(doc: &Value, pred: impl Fn(&Value) -> bool) -> Vec<&Value> {
        doc["traceEvents"].as_array().unwrap().iter().filter(|e| pred(e)).collect()
    }

    #[test]
    fn tracks_are_named_one_per_core_and_one_per_task() {
        let doc = sample();
        let names: Vec<(u64, u64, &str)> = find(&doc, |e| e["name"] == "thread_name")
            .iter()
            .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap(), e["args"]["name"].as_str().unwrap()))
            .collect();
        assert!(names.contains(&(CORES_PID, 0, "core 0")) && names.contains(&(CORES_PID, 1, "core 1")));
        assert!(names.contains(&(TASKS_PID, 1, "a \"quoted\" (#1)")), "{names:?}");
        assert!(names.contains(&(TASKS_PID, 2, "b (#2)")));
        assert_eq!(names.iter().filter(|n| n.0 == TASKS_PID).count(), 2, "no idle task track");
    }

    #[test]
    fn running_stretches_states_and_instants_are_at_the_right_times() {
        let doc = sample();
        // 1 MHz counter: one tick is 1 µs.
        let core0: Vec<(f64, f64, &str)> = find(&doc, |e| e["ph"] == "X" && e["pid"] == CORES_PID && e["tid"] == 0)
            .iter()
            .map(|e| (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap(), e["name"].as_str().unwrap()))
            .collect();
        assert_eq!(core0, [(0.0, 10.0, "a \"quoted\""), (10.0, 10.0, "b"), (20.0, 20.0, "a \"quoted\"")]);
        let sleeping = find(&doc, |e| e["ph"] == "X" && e["cat"] == "sleeping");
        assert!(sleeping.is_empty(), "the trace ends at the switch: no time asleep in it");
        let ready = find(&doc, |e| e["ph"] == "X" && e["tid"] == 2 && e["pid"] == TASKS_PID && e["cat"] == "ready");
        assert_eq!(ready.len(), 1);
        assert_eq!((ready[0]["ts"].as_f64(), ready[0]["dur"].as_f64()), (Some(20.0), Some(20.0)));
        let irq = find(&doc, |e| e["ph"] == "X" && e["cat"] == "irq");
        assert_eq!(irq.len(), 1);
        assert_eq!(
            (irq[0]["tid"].as_u64(), irq[0]["ts"].as_f64(), irq[0]["dur"].as_f64()),
            (Some(IRQ_TID + 1), Some(21.0), Some(3.0))
        );
        assert_eq!(find(&doc, |e| e["ph"] == "i" && e["name"] == "irq 27").len(), 1);
        assert_eq!(find(&doc, |e| e["ph"] == "i" && e["name"] == "woken" && e["tid"] == 2).len(), 1);
        assert_eq!(find(&doc, |e| e["ph"] == "i" && e["name"] == "page fault 0x1000").len(), 1);
    }

    #[test]
    fn back_to_back_slices_never_overlap_after_rounding() {
        // At 3 MHz a tick is 333.33 ns: every time falls between two whole nanoseconds.
        let body =
            ["t 1 a", "t 2 b", "e 0 1 sw 1 2 yield", "e 0 2 sw 2 1 yield", "e 0 4 sw 1 2 yield", "e 0 7 sw 2 1 yield"];
        let trace = parse_log(&framed("", "@@ilusion-trace v1 cores=1 hz=3000000 start=0", &body, "")).unwrap();
        let doc: Value = serde_json::from_str(&to_json(&trace, &derive(&trace))).unwrap();
        let mut core0: Vec<(f64, f64)> = find(&doc, |e| e["ph"] == "X" && e["pid"] == CORES_PID && e["tid"] == 0)
            .iter()
            .map(|e| (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap()))
            .collect();
        core0.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(core0.len(), 4);
        for pair in core0.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0 + 1e-9, "{pair:?}");
        }
        assert_eq!(core0[1], (0.333, 0.334), "333.33 ns to 666.67 ns: 333 to 667");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
    }
}
