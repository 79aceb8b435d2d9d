//! Reads back a schedule trace dump (src/trace) from a guest's output, as
//! the host tool does, and checks it: the frame, the counts, the FNV-1a
//! sum, timestamps in order, and the events of one core in the exact
//! order a known scenario must give (tests/guest/trace_schedule.rs).

/// The most tasks a dump names (`MAX_NAMED` in src/trace/record.rs).
const MAX_NAMED: usize = 256;

/// One event as the test compares it: its kind and arguments, task ids
/// replaced by their names, without core and timestamp.
#[derive(Debug)]
pub struct Dump {
    /// `(core, timestamp, "kind args")`.
    pub events: Vec<(usize, u64, String)>,
    pub lost: u64,
}

fn fnv1a(sum: &mut u32, bytes: &[u8]) {
    for &b in bytes {
        *sum = (*sum ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
}

/// Parses the `n`th dump in `output` (from 0), checking its frame, counts and sum.
pub fn parse(output: &str, n: usize) -> Result<Dump, String> {
    let mut lines = output.lines().map(|l| l.trim_end_matches('\r'));
    let header = lines
        .by_ref()
        .filter(|l| l.starts_with("@@ilusion-trace "))
        .nth(n)
        .ok_or(format!("no dump {n} (`@@ilusion-trace` line)"))?;
    if !header.starts_with("@@ilusion-trace v1 cores=") || !header.contains(" hz=") || !header.contains(" start=") {
        return Err(format!("bad header {header:?}"));
    }
    let mut names = std::collections::HashMap::new();
    let mut raw = Vec::new();
    let mut sum = 0x811c_9dc5u32;
    let end = loop {
        let line = lines.next().ok_or("no `@@end` line")?;
        if line.starts_with("@@end ") {
            break line;
        }
        let fields: Vec<&str> = line.splitn(3, ' ').collect();
        match fields[..] {
            ["t", id, name] => {
                names.insert(id.to_string(), name.to_string());
            }
            ["e", core, rest] => {
                let (time, event) = rest.split_once(' ').ok_or(format!("event without kind: {line:?}"))?;
                let core = core.parse().map_err(|_| format!("bad core in {line:?}"))?;
                let time = u64::from_str_radix(time, 16).map_err(|_| format!("bad timestamp in {line:?}"))?;
                raw.push((core, time, event.to_string()));
            }
            // Other console output may come between the frame lines.
            _ => continue,
        }
        fnv1a(&mut sum, line.as_bytes());
        fnv1a(&mut sum, b"\n");
    };
    let field = |name: &str| {
        end.split(' ')
            .find_map(|f| f.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .ok_or(format!("{end:?} lacks {name}="))
    };
    let events: usize = field("events")?.parse().map_err(|_| "bad events=")?;
    let lost: u64 = field("lost")?.parse().map_err(|_| "bad lost=")?;
    let told_sum = u32::from_str_radix(field("sum")?, 16).map_err(|_| "bad sum=")?;
    if events != raw.len() {
        return Err(format!("@@end says {events} events, the dump has {}", raw.len()));
    }
    if told_sum != sum {
        return Err(format!("@@end says sum={told_sum:08x}, the lines add up to {sum:08x}"));
    }
    if raw.windows(2).any(|w| w[1].1 < w[0].1) {
        return Err("events are not in timestamp order".into());
    }
    // Task ids become names: every task in an event has a `t` line, unless
    // the dump named as many as it names at most (the others show their ids).
    let capped = names.len() >= MAX_NAMED;
    let mut events = Vec::new();
    for (core, time, event) in raw {
        let mut words: Vec<String> = event.split(' ').map(String::from).collect();
        let task_args: &[usize] = match words[0].as_str() {
            "sw" | "sp" | "kl" => &[1, 2],
            "wk" | "bl" | "se" | "sx" | "pf" | "ex" => &[1],
            _ => &[],
        };
        for &i in task_args {
            words[i] = match names.get(&words[i]) {
                Some(name) => name.clone(),
                None if capped => format!("#{}", words[i]),
                None => return Err(format!("task {} has no `t` line", words[i])),
            };
        }
        events.push((core, time, words.join(" ")));
    }
    Ok(Dump { events, lost })
}

/// Checks the dump of tests/guest/trace_schedule.rs: the events of the
/// core it names, with its interrupt numbers, against the expected ones.
pub fn check_schedule(output: &str) -> Vec<String> {
    let dump = match parse(output, 0) {
        Ok(d) => d,
        Err(e) => return vec![format!("trace dump: {e}")],
    };
    let Some(scenario) = output.lines().find_map(|l| l.trim_end_matches('\r').strip_prefix("trace scenario: ")) else {
        return vec!["no `trace scenario:` line".into()];
    };
    let words: Vec<&str> = scenario.split(' ').collect();
    let (Some(core), Some(irq), Some(timer)) = (words.get(1), words.get(3), words.get(5)) else {
        return vec![format!("bad scenario line {scenario:?}")];
    };
    let core: usize = core.parse().unwrap_or(usize::MAX);
    let mut problems = Vec::new();
    if dump.lost != 0 {
        problems.push(format!("{} events lost", dump.lost));
    }
    let got: Vec<String> = dump
        .events
        .iter()
        .filter(|(c, ..)| *c == core)
        .map(|(.., e)| e.replace(&format!("ie {irq}"), "ie IRQ").replace(&format!("ix {irq}"), "ix IRQ"))
        .map(|e| e.replace(&format!("ie {timer}"), "ie TIMER").replace(&format!("ix {timer}"), "ix TIMER"))
        .collect();
    check_overflow(output, core, &mut problems);
    check_isolated(output, &mut problems);
    if got != SCHEDULE {
        let first = got.iter().zip(SCHEDULE).position(|(g, e)| g != e).unwrap_or(got.len().min(SCHEDULE.len()));
        problems.push(format!(
            "core {core}'s events differ from event {first} on:\n      got:      {:?}\n      expected: {:?}",
            &got[first.min(got.len())..],
            &SCHEDULE[first.min(SCHEDULE.len())..]
        ));
    }
    problems
}

/// The second dump: core `core`'s ring overflowed. It keeps the newest
/// 4096 events, the others are counted as lost, the oldest kept are the
/// two yielders switching to each other and the last ones their ends.
/// (Interrupts may come in between: the console's, as the first dump drains.)
fn check_overflow(output: &str, core: usize, problems: &mut Vec<String>) {
    let dump = match parse(output, 1) {
        Ok(d) => d,
        Err(e) => return problems.push(format!("overflow trace dump: {e}")),
    };
    let on_core: Vec<&str> = dump.events.iter().filter(|(c, ..)| *c == core).map(|(.., e)| e.as_str()).collect();
    if on_core.len() != 4096 {
        problems.push(format!("overflow: core {core} kept {} events, expected 4096", on_core.len()));
    }
    // 2 spawns, 2 wakes, 6000 yields and 3 other switches, 2 ends, a block and a wake.
    let recorded: u64 = 2 + 2 + 6000 + 3 + 2 + 1 + 1;
    if dump.lost < recorded - 4096 || dump.lost > recorded - 4096 + 100 {
        problems.push(format!("overflow: lost={}, expected {} (and a few interrupts)", dump.lost, recorded - 4096));
    }
    let on_core: Vec<&str> = on_core.into_iter().filter(|e| !e.starts_with("ie ") && !e.starts_with("ix ")).collect();
    let yields = on_core.iter().take_while(|e| ["sw ping pong yield", "sw pong ping yield"].contains(e)).count();
    if yields < 3900 {
        problems.push(format!(
            "overflow: only the oldest {yields} kept events are the yields, {:?} next",
            on_core.get(yields)
        ));
    }
    let tail = ["ex ping ok", "wk overflow", "sw ping pong exit", "ex pong ok", "sw pong overflow exit"];
    if !on_core.ends_with(&tail) {
        let last = &on_core[on_core.len().saturating_sub(tail.len())..];
        problems.push(format!("overflow: the newest events are {last:?}, expected {tail:?}"));
    }
}

/// The third dump: what the isolated task `iso` did, but its switches
/// (which depend on where `main` ran) and interrupts.
fn check_isolated(output: &str, problems: &mut Vec<String>) {
    let dump = match parse(output, 2) {
        Ok(d) => d,
        Err(e) => return problems.push(format!("isolated trace dump: {e}")),
    };
    let got: Vec<&str> = dump
        .events
        .iter()
        .map(|(.., e)| e.as_str())
        .filter(|e| !e.starts_with("sw ") && e.split(' ').nth(1) == Some("iso"))
        .collect();
    if got != ISOLATED {
        problems.push(format!("isolated: iso's events are {got:?}, expected {ISOLATED:?}"));
    }
}

/// The isolated task's events: spawned by `main`, its first stack page
/// (below 0x100000) faulted in, the two `memory_info` calls of its heap (its
/// reserve as it is set up, what is left of its limit before it grows),
/// its heap's first 4 pages (at 4 GiB, 16,000 bytes of squares), the
/// yield, the exit call (which does not return) and its end.
const ISOLATED: &[&str] = &[
    "sp iso main",
    "wk iso",
    "pf iso ff000",
    "se iso 11",
    "sx iso 11",
    "se iso 11",
    "sx iso 11",
    "pf iso 100000000",
    "pf iso 100001000",
    "pf iso 100002000",
    "pf iso 100003000",
    "se iso 0",
    "sx iso 0",
    "se iso 2",
    "ex iso ok",
];

/// What tests/guest/trace_schedule.rs must give on its core.
const SCHEDULE: &[&str] = &[
    // Two cooperative tasks of the director's level: ready, not run yet.
    "sp yield-a director",
    "wk yield-a",
    "sp yield-b director",
    "wk yield-b",
    // The director waits for yield-a; the two yield to each other three times each.
    "bl director join",
    "sw director yield-a block",
    "sw yield-a yield-b yield",
    "sw yield-b yield-a yield",
    "sw yield-a yield-b yield",
    "sw yield-b yield-a yield",
    "sw yield-a yield-b yield",
    "sw yield-b yield-a yield",
    "ex yield-a ok",
    "wk director",
    "sw yield-a yield-b exit",
    "ex yield-b ok",
    // Its joiner was woken already: yield-b hands over to it.
    "sw yield-b director exit",
    // The sleeper: the core is idle until the timer's interrupt wakes it.
    "sp sleeper director",
    "wk sleeper",
    "bl director join",
    "sw director sleeper block",
    "bl sleeper sleep",
    "sw sleeper idle sleep",
    "ie TIMER",
    "wk sleeper",
    "ix TIMER",
    "sw idle sleeper preempt",
    "ex sleeper ok",
    "wk director",
    "sw sleeper director exit",
    // The interrupt the director raised on its own core.
    "ie IRQ",
    "ix IRQ",
];
