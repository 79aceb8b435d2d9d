//! QEMU test: channels between isolated tasks and kernel tasks.
//!
//! - Round trip: an isolated producer sends requests to a kernel consumer,
//!   which answers on a second channel; the producer checks every answer,
//!   the consumer every request, and when the producer ends the consumer
//!   sees `Disconnected`. Run twice: frames and heap are back to where they
//!   were after the first run.
//! - Refused calls: raw `channel_send` / `channel_receive` with a bad handle
//!   (unknown, another task's, the wrong direction), a wrong length, a
//!   buffer too small, kernel, unmapped and misaligned pointers: each gets
//!   its exact error code, and the task carries on.
//! - Disconnection: an isolated receiver whose senders are dropped, an
//!   isolated sender whose receiver is dropped, and a kernel receiver whose
//!   isolated sender faults (seen before the task is joined).
//! - A kernel endpoint moved into an isolated closure by mistake is refused
//!   (`NotGranted`) without faulting.
//! - The largest message (`ipc::MAX_MESSAGE_SIZE`, 1 KiB) crosses both
//!   ways through the system calls, on the 8 KiB kernel stack, intact.
//! - A send from an isolated task wakes a more urgent kernel receiver on
//!   the same core, which runs at once, not when the sender's slice ends
//!   (the sender goes on spinning at EL0 for longer than a slice).
#![no_std]
#![no_main]

use ilusion::ipc::{self, ChannelError};
use ilusion::syscall::abi::{decode, Syscall, SyscallError};
use ilusion::syscall::user::{exit, raw_syscall};
use ilusion::task::FaultAccess;
use ilusion::task::{self, Builder, TaskFailure};

ilusion::entry!(main);

const ROUNDS: u64 = 5;
/// Kernel data: out of an isolated task's reach.
static KERNEL_DATA: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn fail(what: &str) -> ! {
    ilusion::println!("FAILED: {what}");
    ilusion::exit(1)
}

/// One round-trip run, checked.
fn round_trip() {
    let (request_tx, request_rx) = ipc::channel::<[u64; 2]>(2);
    let (answer_tx, answer_rx) = ipc::channel::<u64>(2);
    let consumer = task::Builder::new()
        .name("consumer")
        .spawn(move || {
            let mut served = 0;
            loop {
                match request_rx.recv() {
                    Ok([a, b]) => {
                        if b != a * a {
                            return Err("bad request");
                        }
                        answer_tx.send(a + b).map_err(|_| "answer refused")?;
                        served += 1;
                    }
                    Err(ChannelError::Disconnected) => return Ok(served),
                    Err(_) => return Err("recv failed"),
                }
            }
        })
        .expect("spawn consumer");
    let mut builder = Builder::new().name("producer");
    let request_tx = builder.grant(request_tx);
    let answer_rx = builder.grant(answer_rx);
    let producer = builder
        .spawn_isolated(move || {
            for i in 1..=ROUNDS {
                if request_tx.send([i, i * i]).is_err() {
                    exit(2);
                }
                match answer_rx.recv() {
                    Ok(sum) if sum == i + i * i => {}
                    _ => exit(3),
                }
            }
            ilusion::println!("producer: {ROUNDS} round trips, every answer right");
        })
        .expect("spawn producer");
    let produced = producer.join();
    let served = consumer.join();
    ilusion::println!("round trip: producer {produced:?}, consumer {served:?}");
    if produced != Ok(()) || served != Ok(Ok(ROUNDS)) {
        fail("round trip");
    }
}

/// Raw system calls with bad arguments, from an isolated task; returns the
/// codes it got, in order, through a channel.
fn refused_calls() {
    let (tx, tx_peer) = ipc::channel::<u64>(4);
    let (rx_peer, rx) = ipc::channel::<u64>(4);
    rx_peer.send(7).expect("queue a message");
    let (results_tx, results_rx) = ipc::channel::<[i64; 13]>(1);
    // A task holding a handle of its own, alive while the prober runs.
    let (hold_tx, hold_rx) = ipc::channel::<u64>(1);
    let mut builder = Builder::new().name("holder");
    let hold_rx = builder.grant(hold_rx);
    let theirs = hold_rx.handle().unwrap().number();
    let holder = builder
        .spawn_isolated(move || match hold_rx.recv() {
            Err(ChannelError::Disconnected) => {}
            _ => exit(2),
        })
        .expect("spawn holder");
    let kernel_address = KERNEL_DATA.as_ptr() as u64;
    let mut builder = Builder::new().name("prober");
    let tx = builder.grant(tx);
    let rx = builder.grant(rx);
    let results_tx = builder.grant(results_tx);
    let (txh, rxh) = (tx.handle().unwrap().number(), rx.handle().unwrap().number());
    let other = results_tx.handle().unwrap().number() + 1000; // nobody's
    let prober = builder
        .spawn_isolated(move || {
            let send = |h, p, n| decode(raw_syscall(Syscall::ChannelSend as u64, h, p, n));
            let receive = |h, p, n| decode(raw_syscall(Syscall::ChannelReceive as u64, h, p, n));
            let code = |r: Result<u64, SyscallError>| match r {
                Ok(v) => v as i64,
                Err(e) => e as i64,
            };
            let mut buf = [0u64; 2];
            let p = buf.as_mut_ptr() as u64;
            let got = [
                code(send(other, p, 8)),            // unknown handle
                code(send(theirs, p, 8)),           // another task's handle
                code(send(0, p, 8)),                // never a handle
                code(send(rxh, p, 8)),              // a receiver, not a sender
                code(send(txh, p, 4)),              // wrong length
                code(send(txh, kernel_address, 8)), // kernel pointer
                code(send(txh, 0x2000_0000, 8)),    // unmapped
                code(send(txh, p + 1, 8)),          // misaligned
                code(receive(rxh, p, 4)),           // buffer too small
                code(receive(rxh, kernel_address, 8)),
                code(receive(rxh, 0x2000_0000, 8)),
                code(receive(rxh, p + 4, 8)), // misaligned
                code(receive(rxh, p, 16)),    // fine: the message is still there
            ];
            // The good calls still work after all that.
            // SAFETY: our own buffer, which the kernel wrote behind the compiler's back.
            let _ = tx.send(unsafe { core::ptr::read_volatile(&buf[0]) } + 35);
            if results_tx.send(got).is_err() {
                exit(2);
            }
        })
        .expect("spawn prober");
    let got = results_rx.recv();
    use SyscallError::*;
    let want = [
        NoSuchObject as i64,
        NoSuchObject as i64,
        NoSuchObject as i64,
        NoSuchObject as i64,
        BadLength as i64,
        BadAddress as i64,
        BadAddress as i64,
        Misaligned as i64,
        BufferTooSmall as i64,
        BadAddress as i64,
        BadAddress as i64,
        Misaligned as i64,
        8,
    ];
    let forwarded = tx_peer.recv();
    let joined = prober.join();
    drop(hold_tx);
    let held = holder.join();
    ilusion::println!("refused calls: {got:?}");
    ilusion::println!("after them: received {forwarded:?}, prober {joined:?}");
    if got != Ok(want) || forwarded != Ok(42) || joined != Ok(()) || held != Ok(()) {
        fail("refused calls");
    }
}

fn disconnection() {
    // An isolated receiver whose only sender is dropped.
    let (tx, rx) = ipc::channel::<u32>(1);
    let mut builder = Builder::new().name("orphan receiver");
    let rx = builder.grant(rx);
    let receiver = builder
        .spawn_isolated(move || match rx.recv() {
            Err(ChannelError::Disconnected) => {}
            _ => exit(2),
        })
        .expect("spawn");
    drop(tx);
    let receiver = receiver.join();

    // An isolated sender whose receiver is dropped.
    let (tx, rx) = ipc::channel::<u32>(1);
    drop(rx);
    let mut builder = Builder::new().name("orphan sender");
    let tx = builder.grant(tx);
    let sender = builder
        .spawn_isolated(move || match tx.send(1) {
            Err(ChannelError::Disconnected) => {}
            _ => exit(2),
        })
        .expect("spawn");
    let sender = sender.join();

    // A kernel receiver whose isolated sender faults: disconnected as the
    // sender ends, before anyone joins it.
    let (tx, rx) = ipc::channel::<u32>(1);
    let mut builder = Builder::new().name("faulty sender");
    let tx = builder.grant(tx);
    let faulty = builder
        .spawn_isolated(move || {
            let _ = tx.send(5);
            // SAFETY: not safe at all: the fault under test.
            unsafe { core::ptr::write_volatile(0x10 as *mut u64, 1) };
        })
        .expect("spawn");
    let first = rx.recv();
    let then = rx.recv();
    let faulted = faulty.join();
    ilusion::println!("disconnection: receiver {receiver:?}, sender {sender:?}");
    ilusion::println!("faulty sender: got {first:?}, then {then:?}; joined {faulted:?}");
    let fault_ok = matches!(faulted, Err(TaskFailure::MemoryAccess { addr: 0x10, access: FaultAccess::Write, .. }));
    if receiver != Ok(()) || sender != Ok(()) || first != Ok(5) || then != Err(ChannelError::Disconnected) || !fault_ok
    {
        fail("disconnection");
    }
}

fn kernel_endpoint_misused() {
    let (tx, _rx) = ipc::channel::<u64>(1);
    let stray = tx.clone();
    let misuse = Builder::new()
        .name("misuser")
        .spawn_isolated(move || match stray.send(1) {
            Err(ChannelError::NotGranted) => {} // and dropping it here must not fault
            _ => exit(2),
        })
        .expect("spawn");
    let joined = misuse.join();
    ilusion::println!("kernel endpoint in an isolated task: {joined:?}");
    if joined != Ok(()) {
        fail("misuse");
    }
}

/// Kernel heap bytes in use, less the freed frames the per-core frame pools
/// keep for the next isolated task (kept for reuse on purpose: a task that
/// ends on another core than last time leaves its frames in that core's pool).
fn heap_in_use() -> usize {
    ilusion::mm::heap::stats().allocated - ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize
}

fn main() {
    let frames = ilusion::mm::frames_in_use();
    round_trip();
    let heap = heap_in_use();
    round_trip();
    let heap_back = heap_in_use() == heap;
    refused_calls();
    disconnection();
    let frames_back = ilusion::mm::frames_in_use() == frames;
    ilusion::println!("frames back to start: {frames_back}, heap back after the second round trip: {heap_back}");
    if !frames_back || !heap_back {
        fail("memory");
    }
    kernel_endpoint_misused();
    the_largest_message_crosses_both_ways();
    a_send_lets_a_more_urgent_receiver_run_at_once();
    ilusion::println!("isolated channels ok");
}

/// An isolated sender, less urgent than the kernel task waiting on the
/// channel, both on core 0: the system call that sends hands the core to
/// the receiver before it returns to EL0. After the send the sender counts,
/// in a shared region, for three slices: a receiver run at once finds the
/// count still 0 (and so does not depend on how fast the host runs QEMU);
/// one left waiting for the end of the sender's slice finds it in the
/// thousands.
fn a_send_lets_a_more_urgent_receiver_run_at_once() {
    use ilusion::mm::{Access, SharedRegion};
    use ilusion::task::Priority;
    use ilusion::time::{Duration, Instant};
    let region = SharedRegion::new(8).expect("region");
    let (tx, rx) = ipc::channel::<u64>(1);
    let seen = region.clone();
    let receiver = Builder::new()
        .name("urgent receiver")
        .priority(Priority::Preemptive(1))
        .cpu(0)
        .spawn(move || {
            let sent_at = rx.recv().ok()?;
            let late = Instant::now().duration_since(Instant::from_ticks(sent_at));
            let mut count = [0u8; 8];
            seen.read(0, &mut count).ok()?;
            Some((u64::from_le_bytes(count), late))
        })
        .expect("spawn receiver");
    let mut builder = Builder::new().name("lazy sender").priority(Priority::Preemptive(30)).cpu(0);
    let tx = builder.grant(tx);
    let counter = builder.share(&region, Access::ReadWrite);
    let sender = builder
        .spawn_isolated(move || {
            if tx.send(Instant::now().ticks()).is_err() {
                exit(2);
            }
            let until = Instant::now() + Duration::from_millis(30); // three slices (10 ms each)
            let mut count = 0u64;
            while Instant::now() < until {
                count += 1;
                let _ = counter.write(0, &count.to_le_bytes());
            }
        })
        .expect("spawn sender");
    let (count, late) = receiver.join().expect("receiver").expect("message and count");
    let sent = sender.join();
    let at_once = count == 0;
    ilusion::println!("more urgent receiver ran at once: {at_once}, sender {sent:?}");
    if !at_once || sent != Ok(()) {
        ilusion::println!(
            "the sender counted to {count} before the receiver ran, {} us after the send",
            late.as_micros()
        );
        fail("a more urgent receiver waited for the sender's slice to end");
    }
}

/// A message of `ipc::MAX_MESSAGE_SIZE` bytes to an isolated task, which
/// checks it and sends it back reversed (a larger type does not build:
/// `tests/tools.rs` checks that).
fn the_largest_message_crosses_both_ways() {
    type Big = [u64; ipc::MAX_MESSAGE_SIZE / 8];
    let (to_tx, to_rx) = ipc::channel::<Big>(1);
    let (back_tx, back_rx) = ipc::channel::<Big>(0);
    let mut builder = Builder::new().name("big messages");
    let (to_rx, back_tx) = (builder.grant(to_rx), builder.grant(back_tx));
    let echo = builder
        .spawn_isolated(move || {
            let Ok(mut m) = to_rx.recv() else { exit(2) };
            if m.iter().enumerate().any(|(i, &v)| v != i as u64 * 0x0101_0101) {
                exit(3);
            }
            m.reverse();
            if back_tx.send(m).is_err() {
                exit(4);
            }
        })
        .expect("spawn echo");
    let sent: Big = core::array::from_fn(|i| i as u64 * 0x0101_0101);
    let ok = to_tx.send(sent).is_ok() && back_rx.recv().is_ok_and(|m| m.iter().rev().eq(sent.iter()));
    let echoed = echo.join();
    ilusion::println!("{}-byte message there and back: {ok}, echo {echoed:?}", core::mem::size_of::<Big>());
    if !ok || echoed != Ok(()) {
        fail("the largest message");
    }
}
