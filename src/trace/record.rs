//! The trace on the machine: a ring of events per core, the names of the
//! tasks spawned, and the dump.
//!
//! Each core writes only its own ring, with interrupts masked, so an
//! interrupt handler that records cannot cut into an event being written;
//! no lock is taken and nothing is allocated, so recording is safe inside
//! the scheduler's critical sections and in handlers. While it writes, a
//! core holds its `writing` flag up; [`stop_recording`] turns recording off, then
//! waits for every flag to come down, after which nobody writes the rings
//! and the dump reads them in place (no copy, no critical section: the
//! console may block). Task names are kept whether recording or not (a
//! task spawned before `start` may run in the trace); the dump raises
//! `DUMPING`, which holds their writers off, and waits for the flags too.
//! Starting, stopping and dumping take turns ([`CONTROL`]), so no `start`
//! clears the rings, and no second dump lowers `DUMPING`, under a dump.

use super::event::{merge_by_time, write_name_line, Event, Fnv1a, Kind, Line, Ring};
use crate::arch::cpu;
use crate::percpu::{self, MAX_CPUS};
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{fence, AtomicBool, Ordering};

/// Events kept per core.
const EVENTS_PER_CORE: usize = 4096;
/// Task names kept per core (the latest spawned on it).
const NAMES_PER_CORE: usize = 64;
const NAME_BYTES: usize = 31;

#[derive(Clone, Copy)]
struct NameSlot {
    id: u64,
    len: u8,
    bytes: [u8; NAME_BYTES],
}

/// One core's part of the trace.
struct CoreTrace {
    writing: AtomicBool,
    ring: UnsafeCell<Ring<EVENTS_PER_CORE>>,
    names: UnsafeCell<([NameSlot; NAMES_PER_CORE], usize)>,
}

// SAFETY: a core's rings are written only by that core (with interrupts
// masked, its `writing` flag up): its events only while recording, read or
// cleared only by `dump` and `start` once `stop` has waited for the flags;
// its names only while not `DUMPING`, read only by `dump` once it has
// raised `DUMPING` and waited for the flags.
unsafe impl Sync for CoreTrace {}

static CORES: [CoreTrace; MAX_CPUS] = [const {
    CoreTrace {
        writing: AtomicBool::new(false),
        ring: UnsafeCell::new(Ring::new()),
        names: UnsafeCell::new(([NameSlot { id: 0, len: 0, bytes: [0; NAME_BYTES] }; NAMES_PER_CORE], 0)),
    }
}; MAX_CPUS];

static RECORDING: AtomicBool = AtomicBool::new(false);
/// A dump is reading the names: nobody writes one meanwhile.
static DUMPING: AtomicBool = AtomicBool::new(false);

/// Runs `f` on this core's trace, with interrupts masked and its
/// `writing` flag up, if `may_write` says so (checked with the flag up).
#[inline(always)]
fn with_own(may_write: fn() -> bool, f: impl FnOnce(&CoreTrace)) {
    let were_enabled = cpu::disable_interrupts();
    let own = &CORES[percpu::cpu_index()];
    own.writing.store(true, Ordering::Relaxed);
    // The flag is up before we look at `RECORDING` (`stop` does the reverse).
    fence(Ordering::SeqCst);
    if may_write() {
        f(own);
    }
    own.writing.store(false, Ordering::Release);
    cpu::restore_interrupts(were_enabled);
}

/// Records an event on this core.
#[inline(never)]
pub(super) fn push(kind: Kind, a: u64, b: u64, detail: u8) {
    with_own(recording, |own| {
        let e = Event::new(cpu::counter(), kind, a, b, detail);
        // SAFETY: our own core's ring, interrupts masked, flag up (see `CoreTrace`).
        unsafe { (*own.ring.get()).push(e) };
    });
}

fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Records a spawn, and the new task's name for the dump (even while not
/// recording: the task may run in a later trace).
#[inline(never)]
pub(super) fn spawn(task: u64, parent: u64, name: Option<&str>) {
    push(Kind::Spawn, task, parent, 0);
    let Some(name) = name else { return };
    with_own(
        || !DUMPING.load(Ordering::Relaxed),
        |own| {
            let mut slot = NameSlot { id: task, len: 0, bytes: [0; NAME_BYTES] };
            let mut len = name.len().min(NAME_BYTES);
            while !name.is_char_boundary(len) {
                len -= 1;
            }
            slot.bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
            slot.len = len as u8;
            // SAFETY: as in `push`.
            let (slots, next) = unsafe { &mut *own.names.get() };
            slots[*next % NAMES_PER_CORE] = slot;
            *next += 1;
        },
    );
}

/// The running task's id (0 before tasks start).
pub(super) fn running_id() -> u64 {
    let task = crate::sched::scheduler::running_task_address() as *const crate::sched::tcb::Tcb;
    if task.is_null() {
        return 0;
    }
    // SAFETY: the running task is alive while it runs; `id` never changes.
    unsafe { (*task).id }
}

/// One of [`start`], [`stop`] and the dumps at a time, on any core: a dump
/// reads the rings and the names in place, so a `start` elsewhere (which
/// clears the rings and lets events in) or a second dump (whose end lets
/// names be written, and whose lines would mix with the first's) must wait
/// until it is done. Not a spin lock: a dump prints for a long time, with
/// interrupts enabled.
static CONTROL: AtomicBool = AtomicBool::new(false);

/// Holding [`CONTROL`]; dropping it lets the next one have it.
struct Control;

impl Drop for Control {
    fn drop(&mut self) {
        CONTROL.store(false, Ordering::Release);
    }
}

fn try_control() -> Option<Control> {
    CONTROL.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok().map(|_| Control)
}

/// Takes [`CONTROL`] for `what`: a task waits for it (sleeping a
/// millisecond between looks, so that the holder runs, whatever its
/// priority); where nothing may wait (an interrupt handler, interrupts
/// masked), `None` if another has it, said on the console.
fn control(what: &str) -> Option<Control> {
    loop {
        if let Some(control) = try_control() {
            return Some(control);
        }
        if !cpu::interrupts_enabled() || cpu::in_exception_handler() {
            crate::println!("trace: {what} not done: the trace is being started, stopped or dumped elsewhere, and this context cannot wait");
            return None;
        }
        crate::time::sleep(core::time::Duration::from_millis(1));
    }
}

/// Clears the events (not the names: tasks spawned earlier still run) and
/// starts recording.
pub(super) fn start() {
    let Some(_control) = control("start") else { return };
    stop_recording();
    for core in &CORES {
        // SAFETY: recording is off and no core is writing (`stop`).
        unsafe { (*core.ring.get()).clear() };
    }
    fence(Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
}

/// Stops recording (see [`stop_recording`]).
pub(super) fn stop() {
    if let Some(_control) = control("stop") {
        stop_recording();
    }
}

/// Stops recording, then prints the trace (see [`dump`]).
pub(super) fn stop_and_dump(out: Output) {
    if let Some(_control) = control("dump") {
        stop_recording();
        dump(out);
    }
}

/// When the program ends: stops recording and, if it was on, prints the
/// trace. Waits for nothing: if a task on another core is starting,
/// stopping or dumping the trace, it is left to it.
pub(super) fn at_exit(out: Output) {
    let Some(_control) = try_control() else { return };
    if stop_recording() {
        dump(out);
    }
}

/// Stops recording, and waits until no other core is writing. Was it on?
/// (Not our own: if it is writing, it was stopped in the middle of an
/// event by a panic or fault, and will never finish. Nor a core that does
/// not finish within [`WRITER_PATIENCE_MS`]: stopped for a report, say.)
fn stop_recording() -> bool {
    let was = RECORDING.swap(false, Ordering::SeqCst);
    wait_for_writers();
    was
}

/// How long [`wait_for_writers`] waits for a core to finish its event, in
/// milliseconds of the counter. An event takes a few hundred instructions,
/// but a core may be stopped in the middle of one for far longer than that
/// takes: under QEMU on a busy host, its thread descheduled. A million
/// spins, the bound before, were not enough there: the dump went on, the
/// core then wrote into a full ring, and the dump printed an event of a
/// task it had given no `t` line (trace_races, once, with the host loaded).
const WRITER_PATIENCE_MS: u64 = 1000;

/// Waits until no other core is writing its part of the trace.
fn wait_for_writers() {
    let own = percpu::cpu_index();
    let patience = crate::time::frequency() / 1000 * WRITER_PATIENCE_MS;
    for (cpu, core) in CORES.iter().enumerate().filter(|(cpu, _)| *cpu != own) {
        let since = cpu::counter();
        while core.writing.load(Ordering::Acquire) {
            if cpu::counter().wrapping_sub(since) > patience {
                crate::console::write_fmt_emergency(format_args!("trace: core {cpu} never finished its event\n"));
                break;
            }
            core::hint::spin_loop();
        }
    }
}

fn ring(core: usize) -> &'static Ring<EVENTS_PER_CORE> {
    // SAFETY: only read while recording is off (the dump, after `stop`).
    unsafe { &*CORES[core].ring.get() }
}

/// The name of task `id`, if it was spawned with one (its latest record).
/// Only while `DUMPING` (and the writers waited for).
fn name_of(id: u64) -> Option<NameSlot> {
    if id == 0 {
        let mut idle = NameSlot { id: 0, len: 4, bytes: [0; NAME_BYTES] };
        idle.bytes[..4].copy_from_slice(b"idle");
        return Some(idle);
    }
    CORES.iter().find_map(|core| {
        // SAFETY: read while dumping: nobody writes names (see `spawn`).
        let (slots, next) = unsafe { &*core.names.get() };
        slots[..(*next).min(NAMES_PER_CORE)].iter().find(|s| s.id == id).copied()
    })
}

/// Task ids named with a `t` line in one dump, at most.
const MAX_NAMED: usize = 256;

/// How the dump reaches the console.
#[derive(Clone, Copy)]
pub(super) enum Output {
    /// `print!`'s way, under the console's lock (task context).
    Normal,
    /// Without the lock: the machine is stopping (a panic, a fault), and
    /// the lock may be held by the code that failed.
    Emergency,
}

impl Output {
    fn line(self, args: core::fmt::Arguments) {
        match self {
            Self::Normal => crate::console::write_fmt(format_args!("{args}\n")),
            Self::Emergency => crate::console::write_fmt_emergency(format_args!("{args}\n")),
        }
    }
}

/// Prints `line` and adds it, with its newline, to `sum`.
fn emit(out: Output, line: &Line, sum: &mut Fnv1a) {
    sum.add(line.as_str().as_bytes());
    sum.add(b"\n");
    out.line(format_args!("{}", line.as_str()));
}

/// Prints the trace (recording is off): the header, a `t` line per task
/// named in the events, the events of every core merged by time, and the
/// end line with the counts and the checksum. Nothing is allocated (the
/// heap may be what failed) and no lock is taken but, with
/// [`Output::Normal`], the console's. The caller holds [`CONTROL`].
fn dump(out: Output) {
    let cores = percpu::up_count().max(1);
    let events: usize = (0..MAX_CPUS).map(|c| ring(c).len()).sum();
    let lost: u64 = (0..MAX_CPUS).map(|c| ring(c).lost()).sum();
    let first = (0..MAX_CPUS).filter_map(|c| ring(c).events().next().map(|e| e.time)).min().unwrap_or(0);
    out.line(format_args!("@@ilusion-trace v1 cores={cores} hz={} start={first:x}", crate::time::frequency()));

    // Task ids in the events, each once, sorted (past `MAX_NAMED` of
    // them, the others get no `t` line and the tool shows their ids).
    let mut ids = [0u64; MAX_NAMED];
    let mut named = 0;
    for c in 0..MAX_CPUS {
        for e in ring(c).events() {
            let (a, b) = e.tasks();
            for id in [a, b].into_iter().flatten() {
                if let Err(at) = ids[..named].binary_search(&id) {
                    if named < MAX_NAMED {
                        ids.copy_within(at..named, at + 1);
                        ids[at] = id;
                        named += 1;
                    }
                }
            }
        }
    }
    let mut sum = Fnv1a::new();
    let mut line = Line::new();
    DUMPING.store(true, Ordering::SeqCst);
    wait_for_writers();
    for &id in &ids[..named] {
        line.clear();
        let _ = match name_of(id) {
            Some(slot) => {
                write_name_line(&mut line, id, core::str::from_utf8(&slot.bytes[..slot.len as usize]).unwrap_or("?"))
            }
            None => write!(line, "t {id} #{id}"),
        };
        emit(out, &line, &mut sum);
    }
    DUMPING.store(false, Ordering::SeqCst);

    let mut sources: [_; MAX_CPUS] = core::array::from_fn(|c| ring(c).events().peekable());
    merge_by_time(&mut sources, |core, e| {
        line.clear();
        let _ = e.write_line(&mut line, core);
        emit(out, &line, &mut sum);
    });
    out.line(format_args!("@@end events={events} lost={lost} sum={:08x}", sum.0));
}
