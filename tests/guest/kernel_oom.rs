//! QEMU test: running the kernel heap dry ends only the task that asked.
//!
//! 1. A kernel task ("hog") takes every byte of the kernel heap, then
//!    allocates once more: it alone ends, with `OutOfKernelMemory`. With
//!    the heap still exhausted, each of these fails alone, reported, while a
//!    bystander keeps counting: a kernel task's `Box::new`, a kernel task's
//!    panic (the report allocates nothing), a kernel task's `mpsc` send (the
//!    queue cannot grow), an isolated task's panic (the `panic` call) and
//!    its first `channel_send` (an error for that call: the task goes on and
//!    sends again once memory is back). `Builder::spawn` and
//!    `spawn_isolated` return `Err(OutOfMemory)`, and what the isolated
//!    builder had granted is released (its peer sees `Disconnected`).
//! 2. An isolated task touches heap pages until the kernel has no frame
//!    left (the heap's big blocks taken first): it ends with
//!    `OutOfMemory`, the others go on.
//!
//! 3. A task name too long for the heap to hold a copy of it:
//!    `Builder::spawn` and `spawn_isolated` return `Err(OutOfMemory)`, the
//!    spawner goes on.
//! 4. A shared region made with room in the heap for the list of its
//!    frames but none for the region's own block: the task that asked ends
//!    (`OutOfKernelMemory`) with no frame taken.
//! 5. `task::list` and `task::dump_address_space_of` out of memory at each
//!    stage: every task they held is given back, and the dump says it had
//!    no room for its table.
//! 6. Allocations no heap could serve (`Vec::with_capacity(usize::MAX / 2)`,
//!    2^61 bytes aligned to 2^61): `OutOfKernelMemory` names the exact size
//!    and alignment asked for.
//!
//! After each, once the hog is gone, the kernel heap and the frames in use
//! are exactly where they were before (bytes, not a margin; the frames
//! pooled for reuse left out, see [`usage`]).
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::boxed::Box;
use alloc::vec::Vec;
use common::{check, finish, take_blocks_down_to};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ilusion::ipc::{self, ChannelError};
use ilusion::mm::heap::HeapStats;
use ilusion::sync::{mpsc, Mutex};
use ilusion::task::{self, Builder, JoinHandle, SpawnError, TaskFailure};
use ilusion::time::{self, Duration};

ilusion::entry!(main);

/// Every stack in this test is one page, like an isolated task's kernel-side
/// stack, so the OS's cache of freed stacks holds the same bytes throughout.
const STACK: usize = 4096;
/// What the hog takes: kept outside the hog, so it can be given back.
static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Which kernel victim may act now (1, 2, ...; 0: none).
static GO: AtomicU64 = AtomicU64::new(0);
static HEARTBEAT: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// The sender the "queuer" uses. Not captured by its closure: what a failed
/// kernel task's closure captured is the application's, and is leaked.
static QUEUE: Mutex<Option<mpsc::Sender<u64>>> = Mutex::new(None);

fn builder(name: &str) -> Builder {
    Builder::new().name(name).stack_size(STACK)
}

/// Takes blocks of every size, largest first, until not even 8 bytes are left.
fn take_everything(hoard: &mut Vec<Vec<u8>>) {
    take_blocks_down_to(hoard, 8)
}

/// The kernel heap in use and the frames in use. The heap's figures leave
/// out the freed frames the per-core frame pools keep for the next isolated
/// task (`mm::pooled_frames`: kept for reuse on purpose, at most
/// `frames::CAPACITY` a core). A task that ends on another core leaves its
/// frames in that core's pool, so with tasks on every core the pools fill
/// one after another, and what they hold is not a leak.
fn usage() -> (HeapStats, usize) {
    let heap = ilusion::mm::heap::stats();
    let pooled = ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize;
    let in_use = HeapStats { requested: heap.requested - pooled, allocated: heap.allocated - pooled, ..heap };
    (in_use, ilusion::mm::frames_in_use())
}

/// A kernel task that waits (parked) for its turn `id`, then runs `f`.
fn victim<T: Send + 'static>(id: u64, name: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    builder(name)
        .spawn(move || {
            while GO.load(Ordering::Acquire) != id {
                task::park();
            }
            f()
        })
        .expect("spawn victim")
}

/// Takes whatever the heap got back since (a joined task's control block...).
/// A task's last switch frees it, on its core and under the kernel lock, so
/// a joined task's memory is back before `join` returns; what other cores
/// free meanwhile (tasks ending there) comes a moment later: so take what
/// there is, give the other cores a moment, and take what came back.
fn top_up() {
    for _ in 0..3 {
        take_everything(&mut HOARD.lock().unwrap());
        time::sleep(Duration::from_millis(1));
    }
    take_everything(&mut HOARD.lock().unwrap());
}

/// Lets victim `id` act with the heap exhausted; what it ended with.
fn act<T>(id: u64, victim: JoinHandle<T>) -> Result<T, TaskFailure> {
    top_up();
    GO.store(id, Ordering::Release);
    victim.unpark();
    victim.join()
}

/// Runs the OS through a few spawns of every kind, so that its caches
/// (freed stacks, freed frames, stack slots) are as full as they get.
fn warm_up() {
    let tasks: Vec<_> = (0..16).map(|k| builder("warm").spawn(move || k).unwrap()).collect();
    tasks.into_iter().for_each(|t| drop(t.join()));
    let pages = Builder::new()
        .memory_limit(4 << 20)
        .spawn_isolated(|| {
            for k in 0..100u64 {
                // SAFETY: the task's own heap range, backed on first touch; no allocator uses it.
                unsafe { ((ilusion::mm::user_layout::HEAP_BASE + k * 4096) as *mut u8).write_volatile(1) };
            }
        })
        .unwrap();
    drop(pages.join());
    let (tx, rx) = ipc::channel::<u64>(0);
    let mut b = builder("warm isolated");
    let tx = b.grant(tx);
    let t = b
        .spawn_isolated(move || {
            let _ = tx.send(1);
        })
        .unwrap();
    let _ = rx.recv();
    drop(t.join());
    drop(mpsc::channel::<u64>());
    HOARD.lock().unwrap().reserve(4096);
}

/// How many spawns of each kind [`spawn_as_memory_comes_back`] tries at most.
const SWEEP: usize = 200;

/// Gives the hoard back a block at a time, smallest first, and tries a spawn
/// of each kind after each: every stage of a spawn (stacks, closure, name,
/// control block, address space...) meets an exhausted heap on the way, and
/// each must be an `Err` (giving back what it took) until one runs.
fn spawn_as_memory_comes_back(kernel_builders: &mut Vec<Builder>, isolated_builders: &mut Vec<Builder>) {
    let (mut kernel, mut isolated) = ((0, None), (0, None));
    while kernel.1.is_none() || isolated.1.is_none() {
        let Some(block) = HOARD.lock().unwrap().pop() else { break };
        drop(block);
        if kernel.1.is_none() {
            let Some(b) = kernel_builders.pop() else { break };
            match b.spawn(|| 5) {
                Ok(t) => kernel.1 = Some(t.join()),
                Err(SpawnError::OutOfMemory) => kernel.0 += 1,
                Err(e) => return check(false, "spawn_as_memory_comes_back", format_args!("{e:?}")),
            }
        }
        if isolated.1.is_none() {
            let Some(b) = isolated_builders.pop() else { break };
            match b.spawn_isolated(|| {}) {
                Ok(t) => isolated.1 = Some(t.join()),
                Err(SpawnError::OutOfMemory) => isolated.0 += 1,
                Err(e) => return check(false, "spawn_as_memory_comes_back", format_args!("{e:?}")),
            }
        }
    }
    ilusion::println!("spawns refused until memory came back: kernel {kernel:?}, isolated {isolated:?}");
    let ok = kernel.0 > 0 && kernel.1 == Some(Ok(5)) && isolated.0 > 0 && isolated.1 == Some(Ok(()));
    check(ok, "spawn_as_memory_comes_back", format_args!("{kernel:?} {isolated:?}"));
}

/// A task that counts heartbeats every 500 us until `STOP`.
fn spawn_bystander() -> JoinHandle<()> {
    builder("bystander")
        .spawn(|| {
            while !STOP.load(Ordering::Relaxed) {
                HEARTBEAT.fetch_add(1, Ordering::Relaxed);
                time::sleep(Duration::from_micros(500));
            }
        })
        .unwrap()
}

/// Checks that the bystander's heartbeat advances. It beats every 500 us
/// of its own, but a host as busy as CI can hold a virtual core back for
/// milliseconds, so the check waits up to two seconds: a bystander that
/// was harmed never beats again, one that is merely slow beats well within.
fn check_bystander_counts_on(name: &str) {
    let beat = HEARTBEAT.load(Ordering::Relaxed);
    let mut later = beat;
    for _ in 0..2000 {
        time::sleep(Duration::from_millis(1));
        later = HEARTBEAT.load(Ordering::Relaxed);
        if later > beat {
            break;
        }
    }
    check(later > beat, name, format_args!("{beat} -> {later}"));
}

fn kernel_hog() {
    let baseline = usage();
    let bystander = spawn_bystander();

    // The victims are made while memory is there; they act once it is gone.
    let boxer = victim(1, "boxer", || core::hint::black_box(Box::new([1u8; 64]))[0]);
    let panicker = victim(2, "panicker", || -> u8 { panic!("kernel victim {} panicked with the heap full", 1) });
    let (queue_tx, queue_rx) = mpsc::channel::<u64>();
    *QUEUE.lock().unwrap() = Some(queue_tx);
    // Fails holding the lock: the mutex is poisoned, and released.
    let queuer = victim(3, "queuer", || QUEUE.lock().map(|q| q.as_ref().map(|tx| tx.send(9).is_ok())).is_ok());
    let (ipc_tx, ipc_rx) = ipc::channel::<u64>(4);
    let ipc_sender = victim(4, "ipc sender", move || ipc_tx.send(3));

    let (go_tx, go_rx) = ipc::channel::<u64>(0);
    let mut b = builder("isolated panicker");
    let go = b.grant(go_rx);
    let isolated_panicker = b
        .spawn_isolated::<_, ()>(move || {
            let _ = go.recv(); // memory is there
            let _ = go.recv(); // memory is gone
            panic!("isolated victim {}", 7);
        })
        .unwrap();
    go_tx.send(0).unwrap();

    // The sender answers on `answer`, whose queue has room for a message
    // already (one went through it while memory was there): so the spawner
    // knows the first send was tried before it gives memory back.
    let (go2_tx, go2_rx) = ipc::channel::<u64>(0);
    let (out_tx, out_rx) = ipc::channel::<u64>(1);
    let (answer_tx, answer_rx) = ipc::channel::<u64>(1);
    let mut b = builder("isolated sender");
    let (go2, out, answer) = (b.grant(go2_rx), b.grant(out_tx), b.grant(answer_tx));
    let isolated_sender = b
        .spawn_isolated(move || {
            let _ = go2.recv();
            answer.send(0).unwrap(); // memory is there: the answer queue gets its room
            let _ = go2.recv(); // memory is gone: the queue of `out` cannot grow
            time::sleep(Duration::from_millis(20)); // held back, as by a busy host: the spawner waits
            let first = out.send(1);
            answer.send((first == Err(ChannelError::OutOfMemory)) as u64).unwrap();
            let _ = go2.recv(); // memory is back
            if out.send(2).is_err() {
                panic!("second send refused");
            }
        })
        .unwrap();
    go2_tx.send(0).unwrap();
    check(answer_rx.recv() == Ok(0), "isolated_sender_ready", format_args!(""));

    // Spawns tried with the heap exhausted: the builders are made now.
    let late = builder("late");
    let (orphan_tx, orphan_rx) = ipc::channel::<u64>(1);
    let mut late_isolated = builder("late isolated");
    let orphan = late_isolated.grant(orphan_rx);
    let mut kernel_builders: Vec<Builder> = (0..SWEEP).map(|_| builder("sweeper")).collect();
    let mut isolated_builders: Vec<Builder> = (0..SWEEP).map(|_| builder("isolated sweeper")).collect();

    let hog = builder("hog")
        .spawn(|| {
            take_everything(&mut HOARD.lock().unwrap());
            core::hint::black_box(Box::new([0u8; 64]))[0] // never returns: the heap is empty
        })
        .unwrap();
    let r = hog.join();
    check(r == Err(TaskFailure::OutOfKernelMemory { size: 64, align: 1 }), "hog_fails_alone", format_args!("{r:?}"));
    top_up(); // what the joined hog gave back
    let free = ilusion::mm::heap::stats().free();
    check(free == 0, "heap_exhausted", format_args!("{free} bytes free"));

    let r = late.spawn(|| 5);
    check(matches!(r, Err(SpawnError::OutOfMemory)), "spawn_refused", format_args!("{:?}", r.as_ref().err()));
    let r = late_isolated.spawn_isolated(move || {
        let _ = orphan.recv();
    });
    check(matches!(r, Err(SpawnError::OutOfMemory)), "spawn_isolated_refused", format_args!("{:?}", r.as_ref().err()));
    let sent = orphan_tx.send(1);
    check(sent == Err(ChannelError::Disconnected), "refused_spawn_released_its_grants", format_args!("{sent:?}"));

    let r = act(1, boxer);
    check(r == Err(TaskFailure::OutOfKernelMemory { size: 64, align: 1 }), "box_fails_alone", format_args!("{r:?}"));
    let r = act(2, panicker);
    let want = TaskFailure::Panic { message: "kernel victim 1 panicked with the heap full".into() };
    check(r == Err(want), "panic_reported_without_memory", format_args!("{r:?}"));
    let r = act(3, queuer);
    check(matches!(r, Err(TaskFailure::OutOfKernelMemory { .. })), "mpsc_send_fails_alone", format_args!("{r:?}"));
    let r = act(4, ipc_sender);
    check(r == Ok(Err(ChannelError::OutOfMemory)), "kernel_ipc_send_refused", format_args!("{r:?}"));

    top_up();
    go_tx.send(1).unwrap();
    let r = isolated_panicker.join();
    let want = TaskFailure::Panic { message: "isolated victim 7".into() };
    check(r == Err(want), "isolated_panic_reported_without_memory", format_args!("{r:?}"));
    top_up();
    go2_tx.send(1).unwrap();
    // Waited for: the sender may be slow to send once it has the word, and
    // memory must still be gone when it does.
    let refused = answer_rx.recv();
    check(refused == Ok(1), "isolated_first_send_refused", format_args!("{refused:?}"));
    check_bystander_counts_on("bystander_counts_on");

    spawn_as_memory_comes_back(&mut kernel_builders, &mut isolated_builders);

    HOARD.lock().unwrap().clear();
    go2_tx.send(2).unwrap();
    let got = out_rx.recv();
    let r = isolated_sender.join();
    check(got == Ok(2) && r == Ok(()), "isolated_send_refused_then_ok", format_args!("{got:?}, {r:?}"));
    STOP.store(true, Ordering::Relaxed);
    let r = bystander.join();
    check(r == Ok(()), "bystander_unharmed", format_args!("{r:?}"));
    STOP.store(false, Ordering::Relaxed);
    GO.store(0, Ordering::Relaxed);
    let poisoned = QUEUE.is_poisoned();
    check(poisoned, "queue_mutex_poisoned", format_args!("{poisoned}"));
    QUEUE.lock().unwrap_or_else(|e| e.into_inner()).take();
    QUEUE.clear_poison();
    drop((queue_rx, ipc_rx, go_tx, go2_tx, out_rx, answer_rx, orphan_tx, kernel_builders, isolated_builders));
    let now = usage();
    check(now == baseline, "kernel_hog_heap_back_to_baseline", format_args!("{baseline:?} -> {now:?}"));
}

fn isolated_hog() {
    let baseline = usage();
    let bystander = spawn_bystander();
    let total = ilusion::mm::heap::stats().total as u64;
    // The heap's big blocks go first (cheaply, untouched); the hog takes
    // what is left (a few MiB) page by page, as frames.
    take_blocks_down_to(&mut HOARD.lock().unwrap(), 4 << 20);
    let left = ilusion::mm::heap::stats().free();
    // Frames kept for reuse in the cores' pools are not in `left`, and the
    // hog may take them on each core it runs on (every core, by default).
    let pooled = (ilusion::mm::pooled_frames() * 4096) as u64;
    let hog = builder("isolated hog")
        .heap_reserve(4 * total.next_power_of_two())
        .memory_limit(4 * total)
        .spawn_isolated::<_, ()>(|| {
            let mut page = ilusion::mm::user_layout::HEAP_BASE;
            loop {
                // SAFETY: the task's own heap range, backed on first touch; no allocator uses it.
                unsafe { (page as *mut u8).write_volatile(1) };
                page += 4096;
            }
        })
        .unwrap();
    let r = hog.join();
    let ok = matches!(r, Err(TaskFailure::OutOfMemory { held, limit, .. })
        if limit == 4 * total && held > left as u64 / 2 && held <= left as u64 + pooled + (256 << 10));
    check(ok, "isolated_hog_fails_alone", format_args!("{r:?}, {left} bytes were left, {pooled} pooled"));
    HOARD.lock().unwrap().clear();
    check_bystander_counts_on("bystander_counts_on_after_isolated_hog");
    STOP.store(true, Ordering::Relaxed);
    drop(bystander.join());
    STOP.store(false, Ordering::Relaxed);
    let now = usage();
    check(now == baseline, "isolated_hog_heap_back_to_baseline", format_args!("{baseline:?} -> {now:?}"));
}

/// The least size of the long task name.
const LONG_NAME: usize = 1 << 20;

/// A name as long as the smallest block of at least [`LONG_NAME`] bytes the
/// heap has, with no other block that large left for a copy of it: both
/// spawns are refused with `OutOfMemory` (the task's name is copied once
/// more, as its control block's `TaskName`), in a kernel task that goes
/// on. `spawn_isolated` copied the builder's name first with an allocation
/// that could not fail softly: the spawner ended with `OutOfKernelMemory`.
fn long_name_refused() {
    let baseline = usage();
    let spawner = builder("namer").spawn(|| {
        let len = {
            let mut hoard = HOARD.lock().unwrap();
            // Every block of LONG_NAME bytes or more; the smallest back, for the name.
            take_blocks_down_to(&mut hoard, LONG_NAME);
            let (at, block) = hoard.iter().enumerate().min_by_key(|(_, b)| b.capacity()).expect("a block");
            let len = block.capacity();
            drop(hoard.swap_remove(at));
            len
        };
        // In that block (given back when the builder drops it).
        let long_name = || {
            let mut name = alloc::string::String::new();
            name.try_reserve_exact(len).expect("the block left for the name");
            name.extend(core::iter::repeat_n('n', len));
            name
        };
        let isolated = builder("").name(long_name()).spawn_isolated(|| ()).err();
        let kernel = builder("").name(long_name()).spawn(|| ()).err();
        HOARD.lock().unwrap().clear();
        (kernel, isolated)
    });
    let r = spawner.expect("spawn namer").join();
    let refused = Some(SpawnError::OutOfMemory);
    check(r == Ok((refused, refused)), "long_name_spawns_refused", format_args!("{r:?}"));
    HOARD.lock().unwrap_or_else(|e| e.into_inner()).clear();
    HOARD.clear_poison();
    let now = usage();
    check(now == baseline, "long_name_heap_back_to_baseline", format_args!("{baseline:?} -> {now:?}"));
}

/// Part 4: `SharedRegion::new` took its frames, then made the block they
/// are shared through (an `Arc`, which cannot be made fallibly); with no
/// room for that block the task ended there, and the frames it had taken
/// were never given back (a page each time).
fn region_without_room_takes_no_frame() {
    let baseline = usage();
    let sharer = builder("sharer").spawn(|| {
        {
            let mut hoard = HOARD.lock().unwrap();
            take_everything(&mut hoard);
            // One 8-byte block back: room for the list of a one-page
            // region's frames, and for nothing larger.
            let at = hoard.iter().position(|b| b.capacity() == 8).expect("an 8-byte block");
            drop(hoard.swap_remove(at));
        }
        ilusion::mm::SharedRegion::new(4096).map(drop)
    });
    let r = sharer.expect("spawn sharer").join();
    check(
        matches!(r, Err(TaskFailure::OutOfKernelMemory { .. })),
        "region_without_room_ends_its_task",
        format_args!("{r:?}"),
    );
    HOARD.lock().unwrap_or_else(|e| e.into_inner()).clear();
    HOARD.clear_poison();
    let now = usage();
    check(now == baseline, "region_without_room_takes_no_frame", format_args!("{baseline:?} -> {now:?}"));
}

/// Part 5: `task::list` and `task::dump_address_space_of` (the shell's
/// `ps` and `maps`) hold the tasks they read. Run with the heap cut down to
/// blocks under 64 bytes, then 128, ... 16 KiB, `list` gives its answer or
/// ends its task (`OutOfKernelMemory`), and the dump prints its table or
/// says that there was no room for it; both give back every task they held
/// and all they took. `list`, failing for its table, held itself for ever
/// (its block and stacks were never freed), and the dump ended its task
/// writing the table while it held the task it showed.
fn holders_give_back_when_out_of_memory() {
    let (go_tx, go_rx) = ipc::channel::<u64>(0);
    let mut b = builder("mapped");
    let go = b.grant(go_rx);
    let mapped = b
        .spawn_isolated(move || {
            let _ = go.recv();
        })
        .expect("spawn mapped");
    let id = mapped.task().id();
    // `maps` writes its table on the stack: two pages. A holder runs first
    // with memory there, so that the cache of freed stacks has its stacks.
    let hold = move |cut_to: Option<usize>, dump: bool| {
        let holder = builder("holder").stack_size(2 * STACK).spawn(move || {
            if let Some(smallest) = cut_to {
                take_blocks_down_to(&mut HOARD.lock().unwrap(), smallest);
            }
            if dump {
                task::dump_address_space_of(id);
            } else {
                drop(task::list());
            }
        });
        let r = holder.expect("spawn holder").join();
        HOARD.lock().unwrap().clear();
        r
    };
    let warm = (hold(None, false), hold(None, true));
    check(warm == (Ok(()), Ok(())), "holders_answer", format_args!("{warm:?}"));
    let baseline = usage();
    let mut failed = 0;
    for shift in 6..=14 {
        for dump in [false, true] {
            match (hold(Some(1 << shift), dump), dump) {
                (Ok(()), _) => {}
                (Err(TaskFailure::OutOfKernelMemory { .. }), false) => failed += 1,
                (Err(e), _) => check(false, "holder_fails_only_list_for_memory", format_args!("{e:?}")),
            }
        }
    }
    let now = usage();
    check(failed > 0, "list_ran_out_of_memory", format_args!("{failed} of 9 failed"));
    check(now == baseline, "holders_give_back_when_out_of_memory", format_args!("{baseline:?} -> {now:?}"));
    go_tx.send(0).unwrap();
    let r = mapped.join();
    check(r == Ok(()), "held_task_unharmed", format_args!("{r:?}"));
}

/// Part 6: allocations no heap could serve, as a careless program makes
/// them (`Vec::with_capacity(usize::MAX / 2)`, a layout of 2^61 bytes
/// aligned to 2^61, one of exactly 2^58 bytes): each task ends with
/// `OutOfKernelMemory` naming the size and alignment it asked for. The
/// record kept 58 bits of size: `Vec::with_capacity(usize::MAX / 2)` was
/// reported as a failed allocation of 288230376151711743 bytes.
fn absurd_sizes_reported_exactly() {
    let baseline = usage();
    let layouts = [(isize::MAX as usize, 1), (1 << 61, 1 << 61), (1 << 58, 8), (1, 1 << 40)];
    let failures = layouts.map(|(size, align)| {
        builder("absurd")
            .spawn(move || {
                if align == 1 {
                    // The standard library's own path: `handle_alloc_error` from `RawVec`.
                    return core::hint::black_box(Vec::<u8>::with_capacity(size)).capacity();
                }
                let layout = core::alloc::Layout::from_size_align(size, align).unwrap();
                // SAFETY: a layout of non-zero size; nothing is returned to free.
                let block = unsafe { alloc::alloc::alloc(layout) };
                if block.is_null() {
                    alloc::alloc::handle_alloc_error(layout);
                }
                block as usize
            })
            .expect("spawn absurd")
            .join()
    });
    let expected =
        layouts.map(|(size, align)| Err(TaskFailure::OutOfKernelMemory { size: size as u64, align: align as u64 }));
    check(failures == expected, "absurd_sizes_reported_exactly", format_args!("{failures:?}"));
    let now = usage();
    check(now == baseline, "absurd_sizes_heap_back_to_baseline", format_args!("{baseline:?} -> {now:?}"));
}

fn main() {
    warm_up();
    kernel_hog();
    isolated_hog();
    kernel_hog();
    long_name_refused();
    region_without_room_takes_no_frame();
    holders_give_back_when_out_of_memory();
    absurd_sizes_reported_exactly();
    finish()
}
