//! QEMU test: a shared region mapped into isolated tasks on purpose.
//!
//! A writer task (read-write) fills two pages of the region; a reader task
//! (read-only) finds exactly that, and so does the kernel. A reader that
//! writes ends with `MemoryAccess { access: Write }` at the address it
//! wrote, twice in a row, while a watchdog task keeps counting. Once the
//! region and every task are gone, the frame count is back at its start.
//! More regions shared than a task's shared segment holds: the spawn is
//! refused with `SharedSegmentFull` (it said `OutOfMemory`), and what the
//! builder held is released.
//!
//! Everything runs on one core ([`CORE`]): the watchdog must keep counting
//! on the very core where the vandals fault (on another core it would count
//! whatever the fault path did).
#![no_std]
#![no_main]

extern crate alloc;
#[path = "common/mod.rs"]
mod common;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::mm::{Access, RegionError, SharedRegion};
use ilusion::syscall::user::exit;
use ilusion::task::{Builder, FaultAccess, SpawnError, TaskFailure};

ilusion::entry!(main);

/// The core every task of this test runs on.
const CORE: usize = 0;

static WATCHDOG: AtomicU64 = AtomicU64::new(0);
const LEN: usize = 6000; // two pages, the second partly

fn pattern(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// More regions shared than a task's shared segment holds (here one of 64
/// MiB, 257 times: 16 GiB and 257 pages over): the spawn is refused with
/// `SharedSegmentFull`, naming the bytes asked for and the segment's size
/// (it said `OutOfMemory`, "out of memory for the task's stacks and
/// control block", with most of the memory free). What the builder held
/// is released: the endpoint granted with the regions disconnects.
fn shared_segment_full() {
    const BIG: usize = 64 << 20;
    const SHARES: u64 = 257;
    let big = SharedRegion::new(BIG).expect("a 64 MiB region");
    let (tx, rx) = ilusion::ipc::channel::<u8>(1);
    let mut builder = Builder::new().name("greedy").cpu(CORE);
    let rx = builder.grant(rx);
    for _ in 0..SHARES {
        let _ = builder.share(&big, Access::ReadOnly);
    }
    let got = builder.spawn_isolated(move || drop(rx)).map(|_| ());
    let expected = SpawnError::SharedSegmentFull {
        requested: SHARES * (BIG as u64 + 4096),
        max: ilusion::mm::user_layout::SHARED_RESERVE,
    };
    let released = tx.send(1) == Err(ilusion::ipc::ChannelError::Disconnected);
    match got {
        Err(e) => ilusion::println!("shared segment full: {e:?}: {e}; endpoint released: {released}"),
        Ok(()) => ilusion::println!("shared segment full: spawned"),
    }
    if got != Err(expected) || !released {
        fail("shared segment full");
    }
}

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

fn main() {
    common::on_core(CORE, share_and_fault)
}

fn share_and_fault() {
    let _watchdog = Builder::new()
        .cpu(CORE)
        .spawn(|| loop {
            WATCHDOG.fetch_add(1, Ordering::Relaxed);
            ilusion::time::sleep(Duration::from_millis(1));
        })
        .expect("watchdog");
    let frames = ilusion::mm::frames_in_use();
    let region = SharedRegion::new(LEN).expect("shared region");
    ilusion::println!("region of {} bytes: {} frames", region.len(), ilusion::mm::frames_in_use() - frames);

    let mut builder = Builder::new().name("writer").cpu(CORE);
    let view = builder.share(&region, Access::ReadWrite);
    let writer = builder
        .spawn_isolated(move || {
            for i in 0..LEN {
                if view.write(i, &[pattern(i)]).is_err() {
                    exit(2);
                }
            }
        })
        .expect("spawn writer");
    let written = writer.join();

    let mut builder = Builder::new().name("reader").cpu(CORE);
    let view = builder.share(&region, Access::ReadOnly);
    let reader = builder
        .spawn_isolated(move || {
            let mut byte = [0u8];
            for i in 0..LEN {
                if view.read(i, &mut byte).is_err() || byte[0] != pattern(i) {
                    exit(3);
                }
            }
            // Past the end of the region: refused, not read.
            if view.read(LEN - 1, &mut [0u8; 2]).is_ok() {
                exit(4);
            }
            // The map_shared call itself: idempotent for the granted address,
            // refused for a misaligned one and for one where nothing was granted.
            use ilusion::syscall::abi::{decode, Syscall, SyscallError};
            let map =
                |address: u64| decode(ilusion::syscall::user::raw_syscall(Syscall::MapShared as u64, address, 0, 0));
            let granted = view.as_ptr() as u64;
            if view.map().is_err()
                || map(granted) != Ok(0)
                || map(granted + 8) != Err(SyscallError::Misaligned)
                || map(granted + (1 << 30)) != Err(SyscallError::NoSuchObject)
            {
                exit(5);
            }
        })
        .expect("spawn reader");
    let read = reader.join();
    let mut seen = [0u8; LEN];
    region.read(0, &mut seen).expect("kernel read");
    let kernel_sees = seen.iter().enumerate().all(|(i, b)| *b == pattern(i));
    ilusion::println!("writer {written:?}, reader {read:?}, kernel sees the data: {kernel_sees}");
    if written != Ok(()) || read != Ok(()) || !kernel_sees {
        fail("sharing");
    }

    for attempt in 1..=2 {
        let before = WATCHDOG.load(Ordering::Relaxed);
        let mut builder = Builder::new().name("vandal").cpu(CORE);
        let view = builder.share(&region, Access::ReadOnly);
        let target = view.as_ptr() as u64 + 4100;
        let vandal = builder
            .spawn_isolated(move || {
                let _ = view.write(4100, &[0xff]);
            })
            .expect("spawn vandal");
        let got = vandal.join();
        let progressed = common::counter_advances(&WATCHDOG, before);
        let mut byte = [0u8];
        region.read(4100, &mut byte).expect("kernel read");
        let exact =
            matches!(got, Err(TaskFailure::MemoryAccess { addr, access: FaultAccess::Write, .. }) if addr == target);
        let unchanged = byte[0] == pattern(4100);
        ilusion::println!(
            "read-only write #{attempt}: {got:?}, exact {exact}, data unchanged {unchanged}, watchdog {progressed}"
        );
        if !exact || !unchanged || !progressed {
            fail("read-only write");
        }
    }

    // A task at its memory limit: the tables that mapping the region needs
    // count against it, so the mapping is refused (it went past the limit
    // before, by up to two tables).
    let min = match Builder::new().memory_limit(1).spawn_isolated(|| ()) {
        Err(SpawnError::MemoryLimitTooSmall { min, .. }) => min,
        other => {
            ilusion::println!("limit 1: {:?}", other.map(|_| ()));
            fail("memory limit");
        }
    };
    let mut builder = Builder::new().name("at its limit").cpu(CORE).memory_limit(min);
    let view = builder.share(&region, Access::ReadOnly);
    let at_limit = builder
        .spawn_isolated(move || {
            let refused = view.map() == Err(RegionError::OutOfMemory);
            let usage = ilusion::syscall::user::memory_usage();
            [refused as u8, (usage.resident + usage.tables <= usage.limit) as u8]
        })
        .expect("spawn at its limit")
        .join();
    ilusion::println!("map at the limit: [refused (out of memory), within the limit]: {at_limit:?}");
    if at_limit != Ok([1, 1]) {
        fail("shared region past the limit");
    }

    shared_segment_full();

    drop(region);
    let frames_back = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("frames back to start: {frames_back}");
    if !frames_back {
        fail("frames");
    }
    ilusion::println!("shared regions ok");
}
