//! The trace on the machine: a ring of events per core, the names of the
//! tasks spawned, and the dump.
//!
//! Each core writes only its own ring, with interrupts masked, so an
//! interrupt handler that records cannot cut into an event being written;
//! no lock is taken and nothing is allocated, so recording is safe inside
//! the scheduler's critical sections and in handlers. While it writes, a
//! core holds its `writing` flag up; [`stop`] turns recording off, then
//! waits for every flag to come down, after which nobody writes the rings
//! and the dump reads them in place (no copy, no critical section: the
//! console may block).

use super::event::{merge_by_time, Event, Fnv1a, Kind, Line, Ring};
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
// masked, its `writing` flag up, and only while recording), and read or
// cleared only by `dump` and `start` once `stop` has waited for the flags.
unsafe impl Sync for CoreTrace {}

static CORES: [CoreTrace; MAX_CPUS] = [const {
    CoreTrace {
        writing: AtomicBool::new(false),
        ring: UnsafeCell::new(Ring::new()),
        names: UnsafeCell::new(([NameSlot { id: 0, len: 0, bytes: [0; NAME_BYTES] }; NAMES_PER_CORE], 0)),
    }
}; MAX_CPUS];

static RECORDING: AtomicBool = AtomicBool::new(false);

/// Runs `f` on this core's trace, with interrupts masked and its
/// `writing` flag up, if recording is on.
#[inline(always)]
fn with_own(f: impl FnOnce(&CoreTrace)) {
    let were_enabled = cpu::disable_interrupts();
    let own = &CORES[percpu::cpu_index()];
    own.writing.store(true, Ordering::Relaxed);
    // The flag is up before we look at `RECORDING` (`stop` does the reverse).
    fence(Ordering::SeqCst);
    if RECORDING.load(Ordering::Relaxed) {
        f(own);
    }
    own.writing.store(false, Ordering::Release);
    cpu::restore_interrupts(were_enabled);
}

/// Records an event on this core.
#[inline(never)]
pub(super) fn push(kind: Kind, a: u64, b: u64, detail: u8) {
    with_own(|own| {
        let e = Event::new(cpu::counter(), kind, a, b, detail);
        // SAFETY: our own core's ring, interrupts masked, flag up (see `CoreTrace`).
        unsafe { (*own.ring.get()).push(e) };
    });
}

/// Records a spawn, and the new task's name for the dump.
#[inline(never)]
pub(super) fn spawn(task: u64, parent: u64, name: Option<&str>) {
    push(Kind::Spawn, task, parent, 0);
    let Some(name) = name else { return };
    with_own(|own| {
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
    });
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

/// Clears the events (not the names: tasks spawned earlier still run) and
/// starts recording.
pub(super) fn start() {
    stop();
    for core in &CORES {
        // SAFETY: recording is off and no core is writing (`stop`).
        unsafe { (*core.ring.get()).clear() };
    }
    fence(Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
}

/// Stops recording, and waits until no core is writing. Was it on?
pub(super) fn stop() -> bool {
    let was = RECORDING.swap(false, Ordering::SeqCst);
    for core in &CORES {
        while core.writing.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    }
    was
}

fn ring(core: usize) -> &'static Ring<EVENTS_PER_CORE> {
    // SAFETY: only read while recording is off (the dump, after `stop`).
    unsafe { &*CORES[core].ring.get() }
}

/// The name of task `id`, if it was spawned with one (its latest record).
fn name_of(id: u64) -> Option<NameSlot> {
    if id == 0 {
        let mut idle = NameSlot { id: 0, len: 4, bytes: [0; NAME_BYTES] };
        idle.bytes[..4].copy_from_slice(b"idle");
        return Some(idle);
    }
    CORES.iter().find_map(|core| {
        // SAFETY: read while recording is off.
        let (slots, next) = unsafe { &*core.names.get() };
        slots[..(*next).min(NAMES_PER_CORE)].iter().find(|s| s.id == id).copied()
    })
}

/// Prints `line` and adds it, with its newline, to `sum`.
fn emit(line: &Line, sum: &mut Fnv1a) {
    sum.add(line.as_str().as_bytes());
    sum.add(b"\n");
    crate::println!("{}", line.as_str());
}

/// Prints the trace (recording is off): the header, a `t` line per task
/// named in the events, the events of every core merged by time, and the
/// end line with the counts and the checksum.
pub(super) fn dump() {
    let cores = percpu::up_count().max(1);
    let events: usize = (0..MAX_CPUS).map(|c| ring(c).len()).sum();
    let lost: u64 = (0..MAX_CPUS).map(|c| ring(c).lost()).sum();
    let first = (0..MAX_CPUS).filter_map(|c| ring(c).events().next().map(|e| e.time)).min().unwrap_or(0);
    crate::println!("@@ilusion-trace v1 cores={cores} hz={} start={first:x}", crate::time::frequency());

    // Task ids in the events, each once (a sorted list; if the heap has no
    // room for it, the names are left out and the tool shows ids).
    let mut ids: alloc::vec::Vec<u64> = alloc::vec::Vec::new();
    for c in 0..MAX_CPUS {
        for e in ring(c).events() {
            let (a, b) = e.tasks();
            for id in [a, b].into_iter().flatten() {
                if let Err(at) = ids.binary_search(&id) {
                    if ids.try_reserve(1).is_ok() {
                        ids.insert(at, id);
                    }
                }
            }
        }
    }
    let mut sum = Fnv1a::new();
    let mut line = Line::new();
    for &id in &ids {
        line.clear();
        let _ = match name_of(id) {
            Some(slot) => {
                write!(line, "t {id} {}", core::str::from_utf8(&slot.bytes[..slot.len as usize]).unwrap_or("?"))
            }
            None => write!(line, "t {id} #{id}"),
        };
        emit(&line, &mut sum);
    }
    drop(ids);

    let mut sources: [_; MAX_CPUS] = core::array::from_fn(|c| ring(c).events().peekable());
    merge_by_time(&mut sources, |core, e| {
        line.clear();
        let _ = e.write_line(&mut line, core);
        emit(&line, &mut sum);
    });
    crate::println!("@@end events={events} lost={lost} sum={:08x}", sum.0);
}
