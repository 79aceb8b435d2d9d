//! QEMU test: an isolated task makes 100,000 system calls with random
//! arguments (every call but `exit` and `panic`; unknown numbers, which end the task by
//! design, are tested in `isolated_faults`). The kernel must refuse every bad
//! pointer and length with an error code, never fault; the task checks that
//! each result is a value or a known error, and the watchdog keeps running.
//! The channel calls get random handles, among them four real ones granted
//! to the fuzzer (a sender and a receiver with a kernel task at the other
//! end, and one of each whose other end is gone), so some calls succeed:
//! the kernel tasks count what crossed. `channel_receive_timeout` gets a
//! random timeout (short, zero, `TIMEOUT_FOREVER` or anything); `close` gets
//! random handles, and the real ones only in the last tenth of the run (so
//! that messages cross before), after which they are `Closed`. The console
//! reads get buffers they refuse, or a short wait for input that never
//! comes (`TimedOut`).
#![no_std]
#![no_main]

#[path = "common/mod.rs"]
mod common;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::ipc;
use ilusion::syscall::abi::{decode, Syscall, SyscallError, TIMEOUT_FOREVER};
use ilusion::syscall::user::{exit, raw_syscall4};
use ilusion::task::{self, Builder};

ilusion::entry!(main);

static WATCHDOG: AtomicU64 = AtomicU64::new(0);
const CALLS: u64 = 100_000;

fn main() {
    let _watchdog = task::spawn(|| loop {
        WATCHDOG.fetch_add(1, Ordering::Relaxed);
        ilusion::time::sleep(Duration::from_millis(1));
    });
    let kernel_address = WATCHDOG.as_ptr() as u64;
    let frames = ilusion::mm::frames_in_use();
    let before = WATCHDOG.load(Ordering::Relaxed);
    let mut builder = Builder::new().name("fuzzer");
    // Live channels, with kernel tasks at the other end, until the fuzzer ends.
    let (to_drainer, from_fuzzer) = ipc::channel::<u64>(4);
    let (to_fuzzer, from_feeder) = ipc::channel::<u64>(4);
    let drainer = task::spawn(move || from_fuzzer.iter().count());
    let feeder = task::spawn(move || (0u64..).take_while(|n| to_fuzzer.send(*n).is_ok()).count());
    // Dead channels: their other end is gone.
    let (dead_tx, _) = ipc::channel::<u64>(1);
    let (_, dead_rx) = ipc::channel::<u64>(1);
    let handles = [
        builder.grant(to_drainer).handle(),
        builder.grant(from_feeder).handle(),
        builder.grant(dead_tx).handle(),
        builder.grant(dead_rx).handle(),
    ]
    .map(|h| h.expect("granted").number());
    let outcome = builder
        .spawn_isolated(move || {
            let mut rng = 0x2545_f491_4f6c_dd1d_u64;
            let mut unexpected = 0;
            for call in 0..CALLS {
                let mut number = common::rng(&mut rng) % Syscall::ALL.len() as u64;
                if number == Syscall::Exit as u64 || number == Syscall::Panic as u64 {
                    number = Syscall::Yield as u64;
                }
                let (mut a0, mut a1, a2) = (common::rng(&mut rng), common::rng(&mut rng), common::rng(&mut rng));
                if number == Syscall::Sleep as u64 {
                    a0 %= 10_000; // nanoseconds: a long sleep is legal, just slow
                }
                if number == Syscall::ConsoleWrite as u64 {
                    // Never a valid buffer: a kernel address, null, or random
                    // (unmapped) user addresses, with small or huge lengths.
                    a0 = [kernel_address, 0, a0 & ((1 << 39) - 1), a0][(a2 % 4) as usize];
                    a1 = if a2 & 4 == 0 { a1 % 256 + 1 } else { a1 };
                }
                let mut buffer = [0u64; 2];
                let (mut a1, mut a2, mut a3) = (a1, a2, common::rng(&mut rng));
                if number == Syscall::ConsoleRead as u64 || number == Syscall::ConsoleReadLine as u64 {
                    // Nothing is typed, so a good buffer would wait for input
                    // (for a line: for ever). A bad one (kernel, null) of any
                    // length but 0, or for `console_read` sometimes our stack
                    // with a short wait (`TimedOut`).
                    let good = number == Syscall::ConsoleRead as u64 && a2 & 8 != 0;
                    a0 = if good { buffer.as_mut_ptr() as u64 } else { [kernel_address, 0][(a2 % 2) as usize] };
                    a1 = if good { a1 % 16 + 1 } else { a1.max(1) };
                    a2 %= 10_000;
                }
                let channel_call = [Syscall::ChannelSend, Syscall::ChannelReceive, Syscall::ChannelReceiveTimeout]
                    .iter()
                    .any(|c| *c as u64 == number);
                if channel_call {
                    // A real handle half the time; a buffer that is sometimes good
                    // (our stack), else kernel, null, misaligned or random; a length
                    // that is sometimes right.
                    let pick = common::rng(&mut rng);
                    a0 = if pick & 1 == 0 { handles[(pick >> 1) as usize % 4] } else { a0 % 64 };
                    let good = buffer.as_mut_ptr() as u64;
                    a1 = [good, good, kernel_address, 0, good + 4, a1][(pick >> 8) as usize % 6];
                    a2 = [8, 8, 16, a2 % 16, a2][(pick >> 16) as usize % 5];
                    // Nanoseconds: short, none, forever or anything at all (no wait is
                    // long: the live channel always has messages, the others answer at once).
                    a3 = [a3 % 10_000, 0, TIMEOUT_FOREVER, a3][(pick >> 24) as usize % 4];
                }
                if number == Syscall::Close as u64 {
                    let pick = common::rng(&mut rng);
                    let real = call >= CALLS / 10 * 9 && pick & 1 == 0;
                    a0 = if real { handles[(pick >> 1) as usize % 4] } else { a0 % 64 };
                    if !real && handles.contains(&a0) {
                        a0 += 64; // not yet: nobody's
                    }
                }
                let result = decode(raw_syscall4(number, a0, a1, a2, a3));
                core::hint::black_box(&mut buffer);
                let known = matches!(
                    result,
                    Ok(_)
                        | Err(SyscallError::BadAddress)
                        | Err(SyscallError::BadLength)
                        | Err(SyscallError::Misaligned)
                        | Err(SyscallError::NoSuchObject)
                        | Err(SyscallError::InvalidArgument)
                        | Err(SyscallError::Disconnected)
                        | Err(SyscallError::BufferTooSmall)
                        | Err(SyscallError::TimedOut)
                        | Err(SyscallError::Closed)
                );
                if !known {
                    unexpected += 1;
                }
            }
            exit(if unexpected == 0 { 0 } else { 1 });
        })
        .expect("spawn fuzzer")
        .join();
    // The fuzzer's handles went with it: both kernel tasks see the disconnection.
    let (drained, fed) = (drainer.join(), feeder.join());
    ilusion::println!("channel calls that crossed: {drained:?} sent by the fuzzer, {fed:?} sent to it");
    let crossed = matches!((drained, fed), (Ok(d), Ok(f)) if d > 0 && f > 0);
    let progressed = common::counter_advances(&WATCHDOG, before);
    let freed = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("fuzzer: {CALLS} random system calls: {outcome:?}, watchdog {progressed}, frames freed {freed}");
    if outcome != Ok(()) || !progressed || !freed || !crossed {
        ilusion::println!("FAILED");
        ilusion::exit(1);
    }
    ilusion::println!("syscall fuzzer ok");
}
