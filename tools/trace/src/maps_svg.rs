//! An address space as an SVG picture: the course's figure of a process in
//! memory (code, constants, globals, heap, stack), drawn from a real task's
//! tables. Highest addresses on top, a box per region with its addresses on
//! the left and its kind, permissions and size on the right; dark is
//! resident (pages mapped now), light is reserved (room the region may grow
//! into, backed on first touch). Not to scale: a box's height grows with
//! the logarithm of its size, and unmapped gaps are cut short (their size
//! is written in them), as the picture says.

use crate::maps::{AddressSpace, Region};
use crate::svg::{escape, Svg};

const WIDTH: f64 = 960.0;
const BAR_X: f64 = 380.0;
const BAR_W: f64 = 190.0;
const TOP: f64 = 70.0;
const GAP_H: f64 = 30.0;
const PAGE: u128 = 4096;
/// The user half ends here (39-bit lower half, TTBR0); the kernel half starts at 2^64 - 2^39.
const KERNEL_HALF: u128 = 1 << 63;

/// (resident colour, reserved colour, what the kind is, in words).
fn style(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "code" => ("#4e79a7", "#a9c4e2", "code: the image's, shared by every task"),
        "rodata" => ("#76b7b2", "#bfe0dd", "constants (rodata), shared"),
        "data" => ("#59a14f", "#b5dbae", "globals: the closure's captured state (data)"),
        "bss" => ("#8cd17d", "#d3efcc", "heap allocator's state (bss: zero until touched)"),
        "heap" => ("#f28e2b", "#fbd5ae", "heap (grows up, backed on first touch)"),
        "shared" => ("#b07aa1", "#dcc3d6", "shared region"),
        "guard" => ("url(#guard)", "url(#guard)", "stack guard: never mapped, a push here faults"),
        "stack" => ("#e15759", "#f6bcbc", "stack (grows down)"),
        _ => ("#595959", "#595959", "kernel: no access from EL0"),
    }
}

/// `bytes` in the largest unit that keeps it readable.
pub fn size(bytes: u128) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{} {}", value.round(), units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

fn height(region: &Region) -> f64 {
    let pages = ((region.end - region.start) / PAGE).max(1) as f64;
    (38.0 + 6.0 * pages.log2()).clamp(38.0, 120.0)
}

fn address(a: u128) -> String {
    if a >= 1 << 64 {
        "0x1_0000_0000_0000_0000".into()
    } else {
        let hex = format!("{a:016x}");
        format!("0x{}_{}_{}_{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16])
    }
}

/// The picture of `space`.
pub fn to_svg(space: &AddressSpace) -> String {
    // Top to bottom: highest address first, with the gaps between regions.
    enum Row<'a> {
        Region(&'a Region),
        Gap { start: u128, end: u128 },
    }
    let mut rows = Vec::new();
    let mut regions: Vec<&Region> = space.regions.iter().collect();
    regions.sort_by_key(|r| std::cmp::Reverse(r.start));
    for (k, region) in regions.iter().enumerate() {
        rows.push(Row::Region(region));
        let below = regions.get(k + 1).map_or(0, |r| r.end);
        if below < region.start {
            rows.push(Row::Gap { start: below, end: region.start });
        }
    }
    let bar_height: f64 = rows.iter().map(|row| if let Row::Region(r) = row { height(r) } else { GAP_H }).sum();
    let total = TOP + bar_height + 120.0;
    let title = format!("Address space of task {} ({})", space.task, space.name);
    let mut svg = Svg::new(WIDTH, total, &title);
    svg.raw(
        r##"<defs><pattern id="guard" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fbe3e3"/><rect width="3" height="8" fill="#d62728"/></pattern></defs>"##,
    );
    svg.text(20.0, 24.0, "start", r#"font-size="16" font-weight="bold""#, &title);
    svg.text(
        20.0,
        44.0,
        "start",
        r##"fill="#555""##,
        "as EL0 sees it; permissions r w x; dark: resident pages (mapped now), light: reserved (may grow into)",
    );
    svg.text(BAR_X - 10.0, TOP - 8.0, "end", r##"fill="#333" font-weight="bold""##, "address");

    let mut y = TOP;
    let mut after_gap = true; // the top of the bar, or a gap above: the region's end gets a label
    let mut half_marks: Vec<(f64, f64, bool)> = Vec::new(); // (top, bottom, kernel half?)
    for row in &rows {
        match row {
            Row::Region(r) => {
                let h = height(r);
                let (dark, light, what) = style(&r.kind);
                let bytes = r.end - r.start;
                let tip = format!(
                    "{} {}–{} {} {}, {} of {} pages resident",
                    r.kind,
                    address(r.start),
                    address(r.end),
                    r.perms,
                    size(bytes),
                    r.resident,
                    r.reserved
                );
                svg.raw(&format!(
                    r#"<g class="region" data-kind="{}"><title>{}</title>"#,
                    escape(&r.kind),
                    escape(&tip)
                ));
                let fraction = if r.reserved == 0 { 1.0 } else { (r.resident as f64 / r.reserved as f64).min(1.0) };
                // Nothing to reserve (guard, kernel): the region's own colour; else light, the resident part dark.
                svg.rect(BAR_X, y, BAR_W, h, if r.reserved == 0 { dark } else { light }, None);
                if r.reserved > 0 && r.resident > 0 {
                    // The resident part, at the end the region grows from: a stack grows down from its top.
                    let resident_h = (h * fraction).max(3.0);
                    let ry = if r.kind == "stack" { y } else { y + h - resident_h };
                    svg.rect(BAR_X, ry, BAR_W, resident_h, dark, None);
                }
                svg.raw(&format!(
                    r##"<rect x="{BAR_X}" y="{y:.2}" width="{BAR_W}" height="{h:.2}" fill="none" stroke="#222" stroke-width="1"/>"##
                ));
                let text_colour = if r.kind == "kernel" { "white" } else { "#111" };
                svg.text(
                    BAR_X + BAR_W / 2.0,
                    y + h / 2.0 + 5.0,
                    "middle",
                    &format!(r#"font-weight="bold" fill="{text_colour}""#),
                    &r.kind,
                );
                // A boundary shared with the region above is written once, as that region's start.
                if after_gap {
                    svg.text(
                        BAR_X - 8.0,
                        y + 11.0,
                        "end",
                        r#"font-family="monospace" font-size="11""#,
                        &address(r.end),
                    );
                }
                after_gap = false;
                svg.text(
                    BAR_X - 8.0,
                    y + h - 3.0,
                    "end",
                    r#"font-family="monospace" font-size="11""#,
                    &address(r.start),
                );
                let rx = BAR_X + BAR_W + 12.0;
                svg.text(rx, y + h / 2.0 - 3.0, "start", "", what);
                let detail = if r.reserved == 0 {
                    format!("{}   {}", r.perms, size(bytes))
                } else if r.resident == r.reserved {
                    format!("{}   {}, all resident", r.perms, size(bytes))
                } else {
                    format!(
                        "{}   {} reserved, {} resident ({} of {} pages)",
                        r.perms,
                        size(u128::from(r.reserved) * PAGE),
                        size(u128::from(r.resident) * PAGE),
                        r.resident,
                        r.reserved
                    )
                };
                svg.text(
                    rx,
                    y + h / 2.0 + 13.0,
                    "start",
                    r##"font-family="monospace" font-size="11" fill="#444""##,
                    &detail,
                );
                svg.raw("</g>");
                half_marks.push((y, y + h, r.start >= KERNEL_HALF));
                y += h;
            }
            Row::Gap { start, end } => {
                svg.raw(r#"<g class="gap">"#);
                svg.raw(&format!(
                    r##"<rect x="{BAR_X}" y="{y:.2}" width="{BAR_W}" height="{GAP_H}" fill="#fafafa" stroke="#999" stroke-dasharray="4 3"/>"##
                ));
                let label = if *start < KERNEL_HALF && *end > KERNEL_HALF {
                    format!("≈ {} not addressable", size(end - start))
                } else {
                    format!("≈ {} unmapped", size(end - start))
                };
                if *start == 0 {
                    svg.text(
                        BAR_X - 8.0,
                        y + GAP_H - 3.0,
                        "end",
                        r#"font-family="monospace" font-size="11""#,
                        &address(0),
                    );
                    svg.text(
                        BAR_X + BAR_W + 12.0,
                        y + GAP_H / 2.0 + 4.0,
                        "start",
                        "",
                        "never mapped: null pointers fault",
                    );
                }
                after_gap = true;
                svg.text(
                    BAR_X + BAR_W / 2.0,
                    y + GAP_H / 2.0 + 4.0,
                    "middle",
                    r##"fill="#777" font-style="italic""##,
                    &label,
                );
                svg.raw("</g>");
                y += GAP_H;
            }
        }
    }
    // Brackets for the two halves.
    for kernel in [true, false] {
        let spans: Vec<&(f64, f64, bool)> = half_marks.iter().filter(|m| m.2 == kernel).collect();
        if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
            let (top, bottom) = (first.0, last.1);
            let x = 22.0;
            svg.line(x, top + 2.0, x, bottom - 2.0, "#333", 2.0);
            svg.line(x, top + 2.0, x + 8.0, top + 2.0, "#333", 2.0);
            svg.line(x, bottom - 2.0, x + 8.0, bottom - 2.0, "#333", 2.0);
            let (label, sub) = if kernel {
                ("kernel half", ["TTBR1: the same", "for every task"])
            } else {
                ("user half", ["TTBR0: this task's", "own tables"])
            };
            let mid = (top + bottom) / 2.0;
            svg.text(x + 14.0, mid - 10.0, "start", r#"font-weight="bold""#, label);
            svg.text(x + 14.0, mid + 6.0, "start", r##"fill="#555" font-size="11""##, sub[0]);
            svg.text(x + 14.0, mid + 20.0, "start", r##"fill="#555" font-size="11""##, sub[1]);
        }
    }
    let ny = y + 28.0;
    svg.text(
        20.0,
        ny,
        "start",
        r##"fill="#a00" font-style="italic""##,
        "Not to scale: a box's height grows with the logarithm of its size, and unmapped gaps are cut short (their size is written in them).",
    );
    svg.text(
        20.0,
        ny + 20.0,
        "start",
        r##"fill="#555""##,
        "Drawn by tools/trace (`just maps`) from the kernel's @@ilusion-maps dump (ilusion::mm::dump_maps).",
    );
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::{parse_log, SAMPLE};

    #[test]
    fn the_picture_is_well_formed_and_names_every_region_top_down() {
        let space = &parse_log(SAMPLE).unwrap()[0];
        let doc = to_svg(space);
        let parsed = roxmltree::Document::parse(&doc).expect("well-formed XML");
        let kinds: Vec<&str> = parsed
            .descendants()
            .filter(|n| n.attribute("class") == Some("region"))
            .map(|n| n.attribute("data-kind").unwrap())
            .collect();
        assert_eq!(kinds, ["kernel", "rodata", "code", "kernel", "stack", "guard", "shared", "heap", "data", "bss"]);
        let texts: Vec<&str> = parsed.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.iter().any(|t| t.starts_with("Not to scale")), "says it is not to scale");
        assert!(texts.contains(&"0x0000_0001_0000_0000"), "addresses written: {texts:?}");
        assert!(texts.contains(&"rw-   1 GiB reserved, 8 KiB resident (2 of 262144 pages)"), "{texts:?}");
        assert!(texts.contains(&"--x   124 KiB, all resident"));
        assert!(texts.contains(&"kernel half") && texts.contains(&"user half"));
        assert!(texts.iter().any(|t| t.contains("not addressable")), "the hole between the halves");
        assert!(parsed.descendants().all(|n| n.tag_name().name() != "script"));
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(100), "100 bytes");
        assert_eq!(address(0x1000), "0x0000_0000_0000_1000");
        assert_eq!(address(1 << 64), "0x1_0000_0000_0000_0000");
    }
}
