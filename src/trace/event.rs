//! The schedule trace's portable half: what an event is, the ring buffer
//! that keeps a core's latest events, merging cores' events by time, and
//! the text each event is dumped as (with its FNV-1a checksum). No
//! hardware here: it is unit-tested on the host; `record.rs` puts it on
//! the machine.
//!
//! An event is 32 bytes: a timestamp (generic-counter ticks), two
//! arguments and what happened. Its text form is one line of the dump:
//! `e <core> <timestamp hex> <kind> <args>` (docs/03-virtualizing-the-cpu.md,
//! "Seeing the schedule: the trace").

use core::fmt::{self, Write};

/// Why a core switched from one task to another (`sw ... <why>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SwitchWhy {
    /// The task yielded to an equal or more urgent one.
    #[default]
    Yield,
    /// A more urgent task became ready.
    Preempt,
    /// The task's time slice ran out and an equal one was ready.
    Slice,
    /// The task blocked (a lock, a channel, a join, parking...).
    Block,
    /// The task went to sleep until a time.
    Sleep,
    /// The task ended.
    Exit,
    /// The core's idle task found a ready task.
    Idle,
}

impl SwitchWhy {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Yield => "yield",
            Self::Preempt => "preempt",
            Self::Slice => "slice",
            Self::Block => "block",
            Self::Sleep => "sleep",
            Self::Exit => "exit",
            Self::Idle => "idle",
        }
    }
}

/// What a task blocked on (`bl <task> <on>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum BlockOn {
    Mutex,
    Semaphore,
    Condvar,
    Channel,
    Join,
    Sleep,
    Park,
    Ipc,
    #[default]
    Other,
}

impl BlockOn {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mutex => "mutex",
            Self::Semaphore => "semaphore",
            Self::Condvar => "condvar",
            Self::Channel => "channel",
            Self::Join => "join",
            Self::Sleep => "sleep",
            Self::Park => "park",
            Self::Ipc => "ipc",
            Self::Other => "other",
        }
    }

    /// The switch that follows blocking on this: a sleep, or any other block.
    pub const fn switch_why(self) -> SwitchWhy {
        match self {
            Self::Sleep => SwitchWhy::Sleep,
            _ => SwitchWhy::Block,
        }
    }
}

/// How a task ended (`ex <task> <how>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ExitHow {
    /// It returned (or exited with status 0).
    Ok,
    Panic,
    /// A processor exception it caused (memory access, stack overflow...).
    Fault,
    Killed,
    /// Out of memory (its own limit, or the kernel's heap).
    Oom,
    #[default]
    Other,
}

impl ExitHow {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Panic => "panic",
            Self::Fault => "fault",
            Self::Killed => "killed",
            Self::Oom => "oom",
            Self::Other => "other",
        }
    }
}

/// What happened: the event's kind, with the meaning of its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Kind {
    /// `sw a b why`: the core switched from task `a` to task `b`.
    #[default]
    Switch,
    /// `wk a`: task `a` was made ready (woken, unparked, spawned).
    Wake,
    /// `bl a on`: task `a` blocked.
    Block,
    /// `ie a` / `ix a`: the handler of interrupt `a` begins / ends.
    IrqEnter,
    IrqExit,
    /// `se a b` / `sx a b`: task `a` makes system call `b` / returns from it.
    SyscallEnter,
    SyscallExit,
    /// `pf a b`: task `a` faulted at address `b` (demand paging).
    PageFault,
    /// `sp a b`: task `b` spawned task `a`.
    Spawn,
    /// `ex a how`: task `a` ended.
    Exit,
    /// `kl a b`: task `b` asked for task `a` to be killed.
    Kill,
}

/// One event: 32 bytes, copied as is into the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Event {
    /// Generic-counter ticks (CNTVCT).
    pub time: u64,
    pub a: u64,
    pub b: u64,
    pub kind: Kind,
    /// The why, on or how of a switch, block or exit.
    pub detail: u8,
}

impl Event {
    pub const fn new(time: u64, kind: Kind, a: u64, b: u64, detail: u8) -> Self {
        Self { time, a, b, kind, detail }
    }

    /// The tasks this event names (for the dump's `t` lines).
    pub fn tasks(&self) -> (Option<u64>, Option<u64>) {
        match self.kind {
            Kind::Switch | Kind::Spawn | Kind::Kill => (Some(self.a), Some(self.b)),
            Kind::Wake | Kind::Block | Kind::SyscallEnter | Kind::SyscallExit | Kind::PageFault | Kind::Exit => {
                (Some(self.a), None)
            }
            Kind::IrqEnter | Kind::IrqExit => (None, None),
        }
    }

    /// Writes the event's line, `e <core> <time hex> <kind> <args>`, without the newline.
    pub fn write_line(&self, out: &mut impl Write, core: usize) -> fmt::Result {
        let (a, b) = (self.a, self.b);
        write!(out, "e {core} {:x} ", self.time)?;
        match self.kind {
            Kind::Switch => write!(out, "sw {a} {b} {}", switch_why(self.detail).name()),
            Kind::Wake => write!(out, "wk {a}"),
            Kind::Block => write!(out, "bl {a} {}", block_on(self.detail).name()),
            Kind::IrqEnter => write!(out, "ie {a}"),
            Kind::IrqExit => write!(out, "ix {a}"),
            Kind::SyscallEnter => write!(out, "se {a} {b}"),
            Kind::SyscallExit => write!(out, "sx {a} {b}"),
            Kind::PageFault => write!(out, "pf {a} {b:x}"),
            Kind::Spawn => write!(out, "sp {a} {b}"),
            Kind::Exit => write!(out, "ex {a} {}", exit_how(self.detail).name()),
            Kind::Kill => write!(out, "kl {a} {b}"),
        }
    }
}

/// Writes the dump's line naming task `id`, `t <id> <name>`, without the
/// newline. The name is the application's: its control characters are
/// escaped (`\x0a`, as reports print it), so a line end in it cannot end
/// the line and forge events or the end line.
pub fn write_name_line(out: &mut impl Write, id: u64, name: &str) -> fmt::Result {
    write!(out, "t {id} {}", crate::task::Printable(name))
}

fn switch_why(d: u8) -> SwitchWhy {
    const ALL: [SwitchWhy; 7] = [
        SwitchWhy::Yield,
        SwitchWhy::Preempt,
        SwitchWhy::Slice,
        SwitchWhy::Block,
        SwitchWhy::Sleep,
        SwitchWhy::Exit,
        SwitchWhy::Idle,
    ];
    ALL.get(d as usize).copied().unwrap_or_default()
}

fn block_on(d: u8) -> BlockOn {
    use BlockOn::*;
    const ALL: [BlockOn; 9] = [Mutex, Semaphore, Condvar, Channel, Join, Sleep, Park, Ipc, Other];
    ALL.get(d as usize).copied().unwrap_or_default()
}

fn exit_how(d: u8) -> ExitHow {
    use ExitHow::*;
    const ALL: [ExitHow; 6] = [Ok, Panic, Fault, Killed, Oom, Other];
    ALL.get(d as usize).copied().unwrap_or_default()
}

/// A core's latest events: `N` slots, the oldest overwritten when full.
/// Only its own core writes it (interrupts masked meanwhile); it is read
/// when recording has stopped.
pub struct Ring<const N: usize> {
    slots: [Event; N],
    /// Events pushed since the last clear (the next goes at `written % N`).
    written: u64,
}

impl<const N: usize> Ring<N> {
    pub const fn new() -> Self {
        Self { slots: [Event::new(0, Kind::Switch, 0, 0, 0); N], written: 0 }
    }

    pub fn clear(&mut self) {
        self.written = 0;
    }

    #[inline(always)]
    pub fn push(&mut self, e: Event) {
        self.slots[(self.written % N as u64) as usize] = e;
        self.written += 1;
    }

    /// How many events were overwritten before anyone read them.
    pub fn lost(&self) -> u64 {
        self.written.saturating_sub(N as u64)
    }

    pub fn len(&self) -> usize {
        self.written.min(N as u64) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> + Clone {
        let start = if self.written > N as u64 { (self.written % N as u64) as usize } else { 0 };
        let (newer, older) = self.slots.split_at(start);
        let kept = self.len();
        older.iter().chain(newer.iter()).take(kept)
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls `f(core, event)` for the events of every core (`sources[core]`,
/// each oldest first) in timestamp order; on equal timestamps the lower
/// core first. No allocation: the dump runs it when the program ends,
/// maybe with the heap exhausted.
pub fn merge_by_time<'a, I>(sources: &mut [core::iter::Peekable<I>], mut f: impl FnMut(usize, &'a Event))
where
    I: Iterator<Item = &'a Event>,
{
    loop {
        let mut earliest: Option<(usize, u64)> = None;
        for (core, source) in sources.iter_mut().enumerate() {
            if let Some(e) = source.peek() {
                if earliest.is_none_or(|(_, t)| e.time < t) {
                    earliest = Some((core, e.time));
                }
            }
        }
        let Some((core, _)) = earliest else { return };
        if let Some(e) = sources[core].next() {
            f(core, e);
        }
    }
}

/// 32-bit FNV-1a of everything written through it: the dump's checksum.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a(pub u32);

impl Fnv1a {
    pub const fn new() -> Self {
        Self(0x811c_9dc5)
    }

    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Fnv1a {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.add(s.as_bytes());
        Ok(())
    }
}

/// A line of the dump, built in place (no allocation), at most 128 bytes
/// (a longer one is cut: task names are the only variable part).
pub struct Line {
    bytes: [u8; 128],
    len: usize,
}

impl Line {
    pub const fn new() -> Self {
        Self { bytes: [0; 128], len: 0 }
    }

    pub fn as_str(&self) -> &str {
        // Only whole `str`s are copied in (`write_str` cuts at a char boundary).
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn at(time: u64) -> Event {
        Event::new(time, Kind::Wake, time, 0, 0)
    }

    fn times<const N: usize>(r: &Ring<N>) -> Vec<u64> {
        r.events().map(|e| e.time).collect()
    }

    #[test]
    fn ring_keeps_everything_until_full() {
        let mut r = Ring::<4>::new();
        assert!(r.is_empty());
        for t in 1..=3 {
            r.push(at(t));
        }
        assert_eq!(times(&r), [1, 2, 3]);
        assert_eq!(r.lost(), 0);
        r.push(at(4));
        assert_eq!(times(&r), [1, 2, 3, 4]);
        assert_eq!(r.lost(), 0);
    }

    #[test]
    fn ring_overwrites_the_oldest_and_counts_them() {
        let mut r = Ring::<4>::new();
        for t in 1..=10 {
            r.push(at(t));
        }
        assert_eq!(times(&r), [7, 8, 9, 10], "the newest four, oldest first");
        assert_eq!(r.lost(), 6);
        assert_eq!(r.len(), 4);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.lost(), 0);
        assert_eq!(times(&r), [] as [u64; 0]);
        r.push(at(11));
        assert_eq!(times(&r), [11]);
    }

    #[test]
    fn merge_orders_cores_by_timestamp() {
        let (mut a, mut b, mut c) = (Ring::<4>::new(), Ring::<4>::new(), Ring::<4>::new());
        for t in [1, 4, 5, 9] {
            a.push(at(t));
        }
        for t in [2, 3, 5, 10] {
            b.push(at(t));
        }
        for t in [0, 6, 7, 8, 11] {
            c.push(at(t)); // 0 is overwritten: the ring wrapped
        }
        let mut out = Vec::new();
        let mut sources = [a.events().peekable(), b.events().peekable(), c.events().peekable()];
        merge_by_time(&mut sources, |core, e| out.push((core, e.time)));
        let expected =
            [(0, 1), (1, 2), (1, 3), (0, 4), (0, 5), (1, 5), (2, 6), (2, 7), (2, 8), (0, 9), (1, 10), (2, 11)];
        assert_eq!(out, expected, "by time; equal times: the lower core first");
    }

    #[test]
    fn events_have_their_text_form() {
        let line = |e: Event, core| {
            let mut s = String::new();
            e.write_line(&mut s, core).unwrap();
            s
        };
        let sw = Event::new(0x1a2b, Kind::Switch, 3, 0, SwitchWhy::Sleep as u8);
        assert_eq!(line(sw, 1), "e 1 1a2b sw 3 0 sleep");
        assert_eq!(line(Event::new(16, Kind::Block, 7, 0, BlockOn::Mutex as u8), 0), "e 0 10 bl 7 mutex");
        assert_eq!(line(Event::new(1, Kind::Wake, 9, 0, 0), 2), "e 2 1 wk 9");
        assert_eq!(line(Event::new(1, Kind::IrqEnter, 30, 0, 0), 0), "e 0 1 ie 30");
        assert_eq!(line(Event::new(1, Kind::IrqExit, 30, 0, 0), 0), "e 0 1 ix 30");
        assert_eq!(line(Event::new(1, Kind::SyscallEnter, 4, 2, 0), 0), "e 0 1 se 4 2");
        assert_eq!(line(Event::new(1, Kind::SyscallExit, 4, 2, 0), 0), "e 0 1 sx 4 2");
        assert_eq!(line(Event::new(1, Kind::PageFault, 4, 0x40_1000, 0), 0), "e 0 1 pf 4 401000");
        assert_eq!(line(Event::new(1, Kind::Spawn, 5, 1, 0), 0), "e 0 1 sp 5 1");
        assert_eq!(line(Event::new(1, Kind::Exit, 5, 0, ExitHow::Oom as u8), 0), "e 0 1 ex 5 oom");
        assert_eq!(line(Event::new(1, Kind::Kill, 5, 1, 0), 0), "e 0 1 kl 5 1");
        // Every detail byte names itself; an unknown one is the default.
        for why in [SwitchWhy::Yield, SwitchWhy::Preempt, SwitchWhy::Slice, SwitchWhy::Exit, SwitchWhy::Idle] {
            assert_eq!(switch_why(why as u8), why);
        }
        assert_eq!(block_on(BlockOn::Park as u8), BlockOn::Park);
        assert_eq!(exit_how(ExitHow::Killed as u8), ExitHow::Killed);
        assert_eq!(exit_how(200), ExitHow::Other);
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // Published FNV-1a 32-bit test vectors.
        let sum = |s: &str| {
            let mut h = Fnv1a::new();
            h.add(s.as_bytes());
            h.0
        };
        assert_eq!(sum(""), 0x811c_9dc5);
        assert_eq!(sum("a"), 0xe40c_292c);
        assert_eq!(sum("foobar"), 0xbf9c_f968);
        // Written in pieces, the same sum as at once.
        let mut h = Fnv1a::new();
        let bar = "bar";
        write!(h, "foo{bar}").unwrap();
        assert_eq!(h.0, 0xbf9c_f968);
    }

    #[test]
    fn a_line_cuts_long_text_at_a_char_boundary() {
        let mut l = Line::new();
        write!(l, "t 5 {}", "é".repeat(100)).unwrap();
        assert!(l.as_str().len() <= 128);
        assert!(l.as_str().starts_with("t 5 éé"));
        l.clear();
        write!(l, "e 0 1 wk 2").unwrap();
        assert_eq!(l.as_str(), "e 0 1 wk 2");
    }

    #[test]
    fn a_task_name_stays_on_its_line() {
        // The name is the application's: a line end in it would forge
        // events, or the end line with its counts and checksum.
        let mut l = Line::new();
        write_name_line(&mut l, 7, "w\n@@end events=0\r\ne 0 1 wk 9\x1b[2J").unwrap();
        assert_eq!(l.as_str(), "t 7 w\\x0a@@end events=0\\x0d\\x0ae 0 1 wk 9\\x1b[2J");
        assert_eq!(l.as_str().lines().count(), 1);
        l.clear();
        write_name_line(&mut l, 2, "alpha worker").unwrap();
        assert_eq!(l.as_str(), "t 2 alpha worker");
    }
}
