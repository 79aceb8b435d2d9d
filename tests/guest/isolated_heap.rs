//! QEMU test: the heap of isolated tasks. `Box`, `Vec` and `String` work at
//! EL0, from the task's own heap; the 1 GiB reserve costs nothing until
//! touched, and touching 3 pages adds exactly 3 pages of resident memory;
//! the kernel copying from a heap page not touched yet faults it in; a
//! task allocating without end fails alone with `OutOfMemory` at its limit
//! (its heap refuses to grow past it), twice, and so does one writing the
//! heap's pages past its allocator (the touch past the limit is refused),
//! while a watchdog runs; every frame comes back. A `console_write` of
//! more than the most one call accepts (64 KiB) is written whole, in as
//! many calls as it takes. Requests the limit cannot back are refused:
//! `try_reserve` says so (the task goes on), `vec!` ends the task with
//! `OutOfMemory` before it touches anything, and a `mm::BlockPool` is
//! `PoolError::OutOfMemory` (as the kernel heap refuses one); a pool that
//! fits is made and used.
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::mm::user_layout::{DEFAULT_MEMORY_LIMIT, HEAP_BASE, HEAP_RESERVE_MAX};
use ilusion::mm::PAGE_SIZE;
use ilusion::syscall::abi::Syscall;
use ilusion::syscall::user::{memory_usage, raw_syscall};
use ilusion::task::{self, Builder, SpawnError, TaskFailure};

ilusion::entry!(main);

static WATCHDOG: AtomicU64 = AtomicU64::new(0);

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

/// `Box`, `Vec` and `String` at EL0, contents checked; the task exits 1 on a mismatch.
fn collections() {
    let boxed = Box::new(41u64);
    let squares: Vec<u64> = (1..=1000).map(|i| i * i).collect();
    let mut text = String::from("isolated");
    text.push_str(" heap");
    for word in ["says", "hello"] {
        text.push(' ');
        text.push_str(word);
    }
    let sum: u64 = squares.iter().sum();
    let in_heap = (HEAP_BASE..HEAP_BASE + (1 << 30)).contains(&(squares.as_ptr() as u64));
    ilusion::println!(
        "EL0 collections: box {}, sum of squares {sum}, text '{text}', in own heap {in_heap}",
        *boxed + 1
    );
    let ok = *boxed == 41 && sum == 333_833_500 && text == "isolated heap says hello" && in_heap;
    ilusion::syscall::user::exit(if ok { 0 } else { 1 });
}

/// Reserve 1 GiB, touch 3 pages: resident memory grows by exactly 3 pages.
fn three_pages() {
    // First use sets up the allocator (its state page and the heap's tables).
    let warm_up = core::hint::black_box(Box::new(1u64));
    let before = memory_usage();
    // Each one page, aligned: three chunks of one page each, each touched in full.
    let pages: [Box<[u8]>; 3] = core::array::from_fn(|i| alloc::vec![i as u8 + 1; PAGE_SIZE as usize].into());
    let after = memory_usage();
    let grew = after.resident - before.resident;
    let tables = after.tables - before.tables;
    let contents_ok = pages.iter().enumerate().all(|(i, p)| p.iter().all(|&b| b == i as u8 + 1));
    ilusion::println!(
        "reserve {} MiB, touched 3 pages: resident +{grew} bytes ({} pages), tables +{tables}, contents {contents_ok}",
        before.heap_reserve >> 20,
        grew / PAGE_SIZE
    );
    let ok = before.heap_reserve == 1 << 30 && grew == 3 * PAGE_SIZE && tables == 0 && contents_ok && *warm_up == 1;
    ilusion::syscall::user::exit(if ok { 0 } else { 1 });
}

/// The kernel copies from a heap page the task never touched: it is faulted in.
fn kernel_copy_from_untouched() {
    let buffer: Vec<u8> = Vec::with_capacity(4 * PAGE_SIZE as usize);
    let untouched = buffer.as_ptr() as u64 + 2 * PAGE_SIZE;
    let before = memory_usage().resident;
    let written = raw_syscall(Syscall::ConsoleWrite as u64, untouched, 1, 0);
    let grew = memory_usage().resident - before;
    ilusion::println!("\nconsole_write from an untouched heap page: {written} byte, resident +{grew}");
    ilusion::syscall::user::exit(if written == 1 && grew == PAGE_SIZE { 0 } else { 1 });
}

/// Lines of 64 bytes, 64 bytes more than one `console_write` call accepts.
const BIG_WRITE: usize = 64 * 1024 + 64;

/// `console_write` of [`BIG_WRITE`] bytes from the heap: all of them are
/// written (it used to be refused whole, `BadLength`, nothing written).
fn big_write() {
    let mut text = alloc::vec![b'.'; BIG_WRITE];
    for line in text.chunks_mut(64) {
        line[63] = b'\n';
    }
    let written = ilusion::syscall::user::console_write(&text);
    ilusion::println!("console_write of {BIG_WRITE} bytes: {written:?}");
    ilusion::syscall::user::exit(if written == Ok(BIG_WRITE as u64) { 0 } else { 1 });
}

/// A reserve smaller than the request: `try_reserve` says so, nothing faults.
fn small_reserve() {
    let mut v: Vec<u8> = Vec::new();
    let refused = v.try_reserve(1 << 20).is_err();
    let fits = v.try_reserve(32 * 1024).is_ok();
    ilusion::println!("64 KiB reserve: 1 MiB refused {refused}, 32 KiB granted {fits}");
    ilusion::syscall::user::exit(if refused && fits { 0 } else { 1 });
}

/// Requests the task's memory limit (16 MiB) cannot back, well inside its
/// 1 GiB reserve: `try_reserve` says so and the task goes on (the heap
/// used to grant them, and the task ended with `OutOfMemory` on the first
/// touch past the limit); one that fits is granted and used.
fn fallible_past_the_limit() {
    let mut v: Vec<u8> = Vec::new();
    let refused = v.try_reserve_exact(2 * DEFAULT_MEMORY_LIMIT as usize).is_err();
    let refused_again = v.try_reserve_exact(DEFAULT_MEMORY_LIMIT as usize).is_err();
    let mut w: Vec<u8> = Vec::new();
    let granted = w.try_reserve_exact(1 << 20).is_ok();
    w.resize(1 << 20, 7);
    ilusion::println!("past the limit: refused {refused}, {refused_again}; 1 MiB granted {granted}");
    let ok = refused && refused_again && granted && w.iter().all(|&b| b == 7);
    ilusion::syscall::user::exit(if ok { 0 } else { 1 });
}

/// An infallible allocation the limit cannot back (`vec!` of 32 MiB).
fn infallible_past_the_limit() {
    let v = alloc::vec![1u8; 2 * DEFAULT_MEMORY_LIMIT as usize];
    ilusion::println!("32 MiB vec made: {}", core::hint::black_box(v).len());
}

/// Allocates pages until the task's memory limit stops it.
fn hog() {
    let mut hoard: Vec<Box<[u8]>> = Vec::new();
    loop {
        hoard.push(alloc::vec![0xa5u8; PAGE_SIZE as usize].into());
    }
}

/// Writes the heap's pages one by one, past its allocator (which would
/// refuse to grow): each write is a first touch, backed until the limit.
fn raw_toucher() {
    let mut page = HEAP_BASE + (64 << 20);
    loop {
        // SAFETY: the task's own heap reserve, backed on first touch; the
        // allocator never reaches this far (the limit stops it first).
        unsafe { (page as *mut u8).write_volatile(1) };
        page += PAGE_SIZE;
    }
}

/// Pools past the memory limit (16 MiB): 2^28 blocks of 16 bytes (1 GiB
/// of links alone) and 8,192 pages (32 MiB); both ended the task with
/// `OutOfMemory` inside `BlockPool::new`, touching their links or zeroing
/// their blocks. Then a pool of 1 MiB, made and used.
fn pools_within_limit() {
    use ilusion::mm::{BlockPool, PoolError};
    let huge = BlockPool::new(16, 1 << 28).err();
    let large = BlockPool::new(4096, 8192).err();
    let fits = BlockPool::new(4096, 256).map(|pool| pool.allocate().map(|mut b| b[4095] = 1).is_some());
    ilusion::println!("pools past the limit: {huge:?}, {large:?}; one that fits: {fits:?}");
    let refused = Some(PoolError::OutOfMemory);
    ilusion::syscall::user::exit(if huge == refused && large == refused && fits == Ok(true) { 0 } else { 1 });
}

fn run(name: &str, builder: Builder, f: fn()) -> Result<(), TaskFailure> {
    builder.name(name).spawn_isolated(f).expect("spawn isolated").join()
}

fn main() {
    let _watchdog = task::spawn(|| loop {
        WATCHDOG.fetch_add(1, Ordering::Relaxed);
        ilusion::time::sleep(Duration::from_millis(1));
    });
    let frames = ilusion::mm::frames_in_use();
    let cases: [(&str, Builder, fn()); 6] = [
        ("collections", Builder::new(), collections),
        ("three pages", Builder::new().heap_reserve(1 << 30), three_pages),
        ("kernel copy", Builder::new(), kernel_copy_from_untouched),
        ("small reserve", Builder::new().heap_reserve(64 * 1024), small_reserve),
        ("pools", Builder::new(), pools_within_limit),
        ("fallible", Builder::new(), fallible_past_the_limit),
    ];
    for (name, builder, f) in cases {
        let got = run(name, builder, f);
        ilusion::println!("{name}: {got:?}");
        if got.is_err() {
            fail(name);
        }
    }
    for (attempt, name, f) in [(1, "hog", hog as fn()), (2, "hog", hog), (3, "raw hog", raw_toucher)] {
        let before = WATCHDOG.load(Ordering::Relaxed);
        let got = run(name, Builder::new(), f);
        let progressed = common::counter_advances(&WATCHDOG, before);
        let freed = ilusion::mm::frames_in_use() == frames;
        let at_limit = matches!(got, Err(TaskFailure::OutOfMemory { held, limit, .. })
            if limit == DEFAULT_MEMORY_LIMIT && held <= limit && held + 3 * PAGE_SIZE > limit);
        ilusion::println!("memory limit #{attempt}: {got:?}, watchdog {progressed}, frames freed {freed}");
        if !(at_limit && progressed && freed) {
            fail("memory limit");
        }
    }
    let got = run("huge vec", Builder::new(), infallible_past_the_limit);
    ilusion::println!("huge vec: {got:?}");
    let refused_whole = matches!(got, Err(TaskFailure::OutOfMemory { held, limit, .. })
        if limit == DEFAULT_MEMORY_LIMIT && held < DEFAULT_MEMORY_LIMIT / 16);
    if !refused_whole {
        fail("huge vec");
    }
    let got = run("big write", Builder::new(), big_write);
    ilusion::println!("big write: {got:?}");
    if got.is_err() {
        fail("big write");
    }
    let bad_reserve = Builder::new().heap_reserve(0).spawn_isolated(|| {}).err();
    let too_big = Builder::new().heap_reserve(HEAP_RESERVE_MAX + PAGE_SIZE).spawn_isolated(|| {}).err();
    let tiny_limit = Builder::new().memory_limit(PAGE_SIZE).spawn_isolated(|| {}).err();
    ilusion::println!("spawn errors: {bad_reserve:?}, {too_big:?}, {tiny_limit:?}");
    let errors_ok = matches!(bad_reserve, Some(SpawnError::BadHeapReserve { requested: 0, .. }))
        && matches!(too_big, Some(SpawnError::BadHeapReserve { .. }))
        && matches!(tiny_limit, Some(SpawnError::MemoryLimitTooSmall { requested: 4096, .. }));
    let freed = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("frames back to start: {freed}");
    if !(errors_ok && freed) {
        fail("spawn errors or frames");
    }
    ilusion::println!("isolated heap ok");
}
