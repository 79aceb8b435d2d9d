//! The trace as an SVG timeline: a band per core showing which task it
//! ran (interrupt handlers marked on it), then a lane per task coloured by
//! its state, over a time axis in microseconds (top) and in instructions
//! (bottom: under the icount benchmark command one instruction is 1 ns).

use crate::states::{Interval, State, Timeline};
use crate::svg::Svg;
use crate::trace::{Kind, Trace, IDLE};

const LEFT: f64 = 170.0;
const PLOT: f64 = 1000.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 78.0;
const CORE_BAND: f64 = 24.0;
const TASK_LANE: f64 = 18.0;
const GAP: f64 = 5.0;

const RUNNING: &str = "#2ca02c";
const READY: &str = "#f5c542";
const BLOCKED: &str = "#d62728";
const SLEEPING: &str = "#1f77b4";
const IDLE_FILL: &str = "#eeeeee";
const IRQ: &str = "#7b1fa2";
const FAULT: &str = "#ff7f0e";

/// Colours for the tasks on the core bands (by task id): none of them a state's colour.
const PALETTE: [&str; 10] =
    ["#8c564b", "#17becf", "#7f7f7f", "#bcbd22", "#e377c2", "#393b79", "#637939", "#843c39", "#5254a3", "#9c9ede"];

fn state_colour(state: &State) -> &'static str {
    match state {
        State::Running { .. } => RUNNING,
        State::Ready => READY,
        State::Blocked { .. } => BLOCKED,
        State::Sleeping => SLEEPING,
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving at most `most` steps over `span`.
pub fn tick_step(span: f64, most: f64) -> f64 {
    let raw = (span / most).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&s| s >= raw).unwrap_or(10.0 * power)
}

/// `value` without needless decimals.
fn number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        let s = format!("{value:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `number` with its whole part in groups of three digits (thin spaces between).
fn grouped(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').map_or((number, None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (k, c) in whole.chars().enumerate() {
        if k > 0 && (whole.len() - k) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// The part of a trace to draw, in microseconds since its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from_us: f64,
    pub to_us: f64,
}

/// The SVG timeline of `trace` (whose timeline is `timeline`): all of it,
/// or only `window` (intervals cut at its edges).
pub fn to_svg(trace: &Trace, timeline: &Timeline, window: Option<Window>) -> String {
    let window = window.unwrap_or(Window { from_us: 0.0, to_us: trace.micros(timeline.end) });
    let ticks_at = |us: f64| (us.max(0.0) * trace.hz as f64 / 1e6).round() as u64;
    let (from, to) = (ticks_at(window.from_us), ticks_at(window.to_us));
    let timeline = &clip(timeline, from, to);
    let origin_us = trace.micros(from);
    let total_us = (trace.micros(to) - origin_us).max(1e-3);
    let x = |ticks: u64| LEFT + (trace.micros(ticks) - origin_us) / total_us * PLOT;
    let cores = timeline.cores.len();
    let tasks: Vec<u64> = timeline.tasks.keys().copied().collect();
    let lanes_top = TOP + cores as f64 * (CORE_BAND + GAP) + 14.0;
    let plot_bottom = lanes_top + tasks.len() as f64 * (TASK_LANE + GAP);
    let height = plot_bottom + 120.0;
    let width = LEFT + PLOT + RIGHT;
    let span = if from == 0 && to == timeline.end {
        format!("{} µs", number((total_us * 1000.0).round() / 1000.0))
    } else {
        format!("{}–{} µs", number(origin_us.round()), number((origin_us + total_us).round()))
    };
    let title = format!(
        "ilusion schedule timeline: {cores} core{}, {} task{}, {span}",
        if cores == 1 { "" } else { "s" },
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
    );
    let mut svg = Svg::new(width, height, &title);
    svg.text(LEFT, 20.0, "start", r#"font-size="15" font-weight="bold""#, &title);
    let note = format!("counter {} Hz; task lanes coloured by state, core bands by the task each core ran", trace.hz);
    svg.text(LEFT, 36.0, "start", r##"fill="#555""##, &note);
    if trace.lost > 0 {
        let lost = format!(
            "{} older events were lost (the ring was overwritten): the picture starts at the oldest kept",
            trace.lost
        );
        svg.text(LEFT, 50.0, "start", r##"fill="#a00""##, &lost);
    }

    // Time axes: µs above the bands, instructions below the lanes.
    let step = tick_step(total_us, 10.0);
    svg.text(10.0, TOP - 14.0, "start", r##"fill="#333""##, "time (µs)");
    svg.text(10.0, plot_bottom + 26.0, "start", r##"fill="#333""##, "instructions");
    // A count of ticks, not `t += step`: far from zero a small step no
    // longer moves a float, and the loop would never end.
    let first = (origin_us / step).ceil();
    let count = ((origin_us + total_us + step * 1e-6) / step).floor() - first;
    let marks = if count < 0.0 { 0 } else { count.min(100.0) as u32 + 1 };
    for i in 0..marks {
        let t = (first + f64::from(i)) * step;
        let tx = LEFT + (t - origin_us) / total_us * PLOT;
        svg.line(tx, TOP - 8.0, tx, plot_bottom, "#dddddd", 1.0);
        svg.text(tx, TOP - 14.0, "middle", r##"fill="#333""##, &grouped(&number(t)));
        svg.text(tx, plot_bottom + 26.0, "middle", r##"fill="#333""##, &grouped(&number(t * 1000.0)));
    }
    svg.text(
        LEFT,
        plot_bottom + 44.0,
        "start",
        r##"fill="#555" font-style="italic""##,
        "instructions: under the icount benchmark command (icount shift=0) one instruction takes 1 ns",
    );

    // Core bands.
    for (core, intervals) in timeline.cores.iter().enumerate() {
        let y = TOP + core as f64 * (CORE_BAND + GAP);
        svg.raw(&format!(r#"<g class="core-band" data-core="{core}">"#));
        svg.text(LEFT - 8.0, y + CORE_BAND / 2.0 + 4.0, "end", r#"font-weight="bold""#, &format!("core {core}"));
        svg.rect(LEFT, y, PLOT, CORE_BAND, IDLE_FILL, None);
        for i in intervals.iter().filter(|i| i.what != IDLE) {
            let (x0, x1) = (x(i.start), x(i.end));
            let name = trace.name(i.what);
            let tip = format!(
                "core {core}: {name} (#{}) {}–{} µs",
                i.what,
                number(trace.micros(i.start)),
                number(trace.micros(i.end))
            );
            svg.rect(x0, y, (x1 - x0).max(0.5), CORE_BAND, PALETTE[i.what as usize % PALETTE.len()], Some(&tip));
            if x1 - x0 > 7.0 * name.chars().count() as f64 + 6.0 {
                svg.text(x0 + 3.0, y + CORE_BAND / 2.0 + 4.0, "start", r#"fill="white""#, &name);
            }
        }
        for irq in &timeline.irqs[core] {
            let (x0, x1) = (x(irq.start), x(irq.end));
            let tip = format!(
                "interrupt {} on core {core}, {}–{} µs",
                irq.what,
                number(trace.micros(irq.start)),
                number(trace.micros(irq.end))
            );
            svg.rect(x0, y - 3.0, (x1 - x0).max(1.5), 6.0, IRQ, Some(&tip));
        }
        svg.raw("</g>");
    }

    // Task lanes.
    svg.text(LEFT - 8.0, lanes_top - 4.0, "end", r##"fill="#555""##, "tasks");
    for (k, &task) in tasks.iter().enumerate() {
        let y = lanes_top + k as f64 * (TASK_LANE + GAP);
        let name = trace.name(task);
        svg.raw(&format!(r#"<g class="task-lane" data-task="{task}">"#));
        svg.text(LEFT - 8.0, y + TASK_LANE / 2.0 + 4.0, "end", "", &format!("{name} (#{task})"));
        svg.rect(LEFT, y + TASK_LANE / 2.0 - 0.5, PLOT, 1.0, "#cccccc", None);
        for i in &timeline.tasks[&task] {
            let (x0, x1) = (x(i.start), x(i.end));
            let tip = format!(
                "{name}: {} {}–{} µs",
                i.what.label(),
                number(trace.micros(i.start)),
                number(trace.micros(i.end))
            );
            svg.rect(x0, y, (x1 - x0).max(0.5), TASK_LANE, state_colour(&i.what), Some(&tip));
        }
        for event in &trace.events {
            if let Kind::PageFault { task: t, address } = event.kind {
                if t == task && (from..=to).contains(&event.ticks) {
                    let ex = x(event.ticks);
                    svg.rect(
                        ex - 1.0,
                        y - 2.0,
                        2.0,
                        TASK_LANE + 4.0,
                        FAULT,
                        Some(&format!("page fault at {address:#x}")),
                    );
                }
            }
        }
        svg.raw("</g>");
    }

    // Legend.
    let ly = plot_bottom + 64.0;
    let items: [(&str, &str); 7] = [
        (RUNNING, "running"),
        (READY, "ready"),
        (BLOCKED, "blocked"),
        (SLEEPING, "sleeping"),
        (IDLE_FILL, "core idle"),
        (IRQ, "interrupt handler"),
        (FAULT, "page fault"),
    ];
    svg.raw(r#"<g class="legend">"#);
    svg.text(LEFT - 8.0, ly + 11.0, "end", r#"font-weight="bold""#, "legend");
    let mut lx = LEFT;
    for (colour, label) in items {
        svg.rect(lx, ly, 14.0, 14.0, colour, None);
        svg.text(lx + 19.0, ly + 11.0, "start", "", label);
        lx += 30.0 + 7.0 * label.len() as f64;
    }
    svg.text(
        LEFT,
        ly + 34.0,
        "start",
        r##"fill="#555""##,
        "core bands show each task in its own colour; hover for names and times",
    );
    svg.raw("</g>");
    svg.finish()
}

/// `timeline` between `from` and `to` (ticks): intervals outside dropped, the others cut at the edges.
fn clip(timeline: &Timeline, from: u64, to: u64) -> Timeline {
    fn cut<T: Clone>(intervals: &[Interval<T>], from: u64, to: u64) -> Vec<Interval<T>> {
        intervals
            .iter()
            .filter(|i| i.end > from && i.start < to)
            .map(|i| Interval { start: i.start.max(from), end: i.end.min(to), what: i.what.clone() })
            .collect()
    }
    Timeline {
        tasks: timeline.tasks.iter().map(|(&id, i)| (id, cut(i, from, to))).collect(),
        cores: timeline.cores.iter().map(|i| cut(i, from, to)).collect(),
        irqs: timeline.irqs.iter().map(|i| cut(i, from, to)).collect(),
        end: timeline.end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::derive;
    use crate::trace::{framed, parse_log};

    fn svg(body: &[&str]) -> String {
        let trace = parse_log(&framed("", "@@ilusion-trace v1 cores=2 hz=1000000 start=0", body, "")).unwrap();
        to_svg(&trace, &derive(&trace), None)
    }

    const BODY: [&str; 10] = [
        "t 0 idle",
        "t 1 main",
        "t 2 a<b>&c",
        "t 3 sleeper",
        "e 0 0 sw 0 1 idle",
        "e 0 a sw 1 2 yield",
        "e 1 c ie 30",
        "e 1 d ix 30",
        "e 0 f pf 2 1000",
        "e 1 32 sw 3 0 sleep",
    ];

    #[test]
    fn the_svg_is_well_formed_with_one_lane_per_task_and_a_band_per_core() {
        let doc = svg(&BODY);
        let parsed = roxmltree::Document::parse(&doc).expect("well-formed XML");
        let root = parsed.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let class = |c: &str| parsed.descendants().filter(|n| n.attribute("class") == Some(c)).collect::<Vec<_>>();
        let lanes: Vec<&str> = class("task-lane").iter().map(|n| n.attribute("data-task").unwrap()).collect();
        assert_eq!(lanes, ["1", "2", "3"], "one lane per task, none for idle");
        assert_eq!(class("core-band").len(), 2);
        assert!(parsed.descendants().all(|n| n.tag_name().name() != "script"), "no scripts");
        let texts: Vec<&str> = parsed.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"a<b>&c (#2)"), "names escaped and read back: {texts:?}");
        assert!(texts.iter().any(|t| t.contains("one instruction takes 1 ns")));
        assert!(texts.contains(&"time (µs)") && texts.contains(&"instructions"));
        for label in ["running", "ready", "blocked", "sleeping", "interrupt handler"] {
            assert!(texts.contains(&label), "legend has {label}");
        }
    }

    #[test]
    fn lanes_are_coloured_by_state_and_interrupts_are_marked() {
        let doc = svg(&BODY);
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        let lane = |task: &str| {
            parsed
                .descendants()
                .find(|n| n.attribute("data-task") == Some(task))
                .unwrap()
                .children()
                .filter(|n| n.tag_name().name() == "rect")
                .filter_map(|n| n.attribute("fill"))
                .collect::<Vec<_>>()
        };
        // main: running 0..10, ready 10..50; sleeper: running 0..50 on core 1 (then asleep at the end).
        assert_eq!(lane("1")[1..], [RUNNING, READY]);
        assert_eq!(lane("2")[1..], [RUNNING, FAULT]);
        assert_eq!(lane("3")[1..], [RUNNING]);
        let irqs = parsed.descendants().filter(|n| n.attribute("fill") == Some(IRQ)).count();
        assert_eq!(irqs, 2, "one on core 1's band, one in the legend");
    }

    #[test]
    fn a_window_draws_only_its_part_cut_at_the_edges() {
        let trace = parse_log(&framed("", "@@ilusion-trace v1 cores=2 hz=1000000 start=0", &BODY, "")).unwrap();
        let timeline = derive(&trace);
        let doc = to_svg(&trace, &timeline, Some(Window { from_us: 5.0, to_us: 12.0 }));
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        let tips: Vec<&str> =
            parsed.descendants().filter(|n| n.tag_name().name() == "title").filter_map(|n| n.text()).collect();
        assert!(tips.contains(&"main: running on core 0 5–10 µs"), "{tips:?}");
        assert!(tips.contains(&"main: ready 10–12 µs"), "{tips:?}");
        assert!(!tips.iter().any(|t| t.starts_with("interrupt")), "the interrupt starts as the window ends");
        let doc = to_svg(&trace, &timeline, Some(Window { from_us: 12.0, to_us: 20.0 }));
        assert!(doc.contains("interrupt 30 on core 1, 12–13 µs"), "in the next window");
        assert!(!tips.iter().any(|t| t.contains("page fault")), "the fault at 15 µs is outside");
        assert!(tips[0].ends_with("5–12 µs"), "{}", tips[0]);
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(1000.0, 10.0), 100.0);
        assert_eq!(tick_step(1234.0, 10.0), 200.0);
        assert_eq!(tick_step(3.0, 10.0), 0.5);
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(3.0), "3");
        assert_eq!(grouped("120000000"), "120\u{2009}000\u{2009}000");
        assert_eq!(grouped("1500.25"), "1\u{2009}500.25");
        assert_eq!(grouped("999"), "999");
    }
}
