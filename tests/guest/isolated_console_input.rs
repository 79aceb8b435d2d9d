//! QEMU test: console input in an isolated task. `console::read_line`,
//! `read_byte` and `read_byte_timeout` read kernel data (the receive
//! buffer), which EL0 cannot reach: there they go through system calls
//! (`console_read`, `console_read_line`), the task blocking while it waits,
//! and a bad buffer is an error code, not a fault. The harness types the
//! same lines as for `uart_echo` (`\r\n` after the first: one line end, not
//! an empty second line; DEL erasing in the second). A kernel task ticks
//! all the while: nothing else stops while the reader waits.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use ilusion::console;
use ilusion::syscall::abi::{decode, Syscall, TIMEOUT_FOREVER};
use ilusion::syscall::user::raw_syscall;
use ilusion::task::Builder;

ilusion::entry!(main);

static TICKS: AtomicU64 = AtomicU64::new(0);

/// An address in the kernel's half: never a user buffer.
const KERNEL_ADDRESS: u64 = 0xffff_ff80_4000_0000;

fn main() {
    Builder::new()
        .name("ticker")
        .spawn(|| loop {
            TICKS.fetch_add(1, Ordering::Relaxed);
            ilusion::time::sleep(Duration::from_millis(1));
        })
        .expect("spawn ticker");
    let reader = Builder::new().name("reader").spawn_isolated(|| {
        ilusion::println!("nothing typed yet: {:?}", console::read_byte());
        ilusion::println!("type a line:");
        for _ in 0..2 {
            let mut buf = [0u8; 64];
            let n = console::read_line(&mut buf);
            let line = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
            ilusion::println!("isolated echo: [{line}]");
        }
        ilusion::println!("no more input: {:?}", console::read_byte_timeout(Some(Duration::from_millis(50))));
        bad_buffers();
    });
    let before = TICKS.load(Ordering::Relaxed);
    ilusion::println!("reader: {:?}", reader.expect("spawn reader").join());
    ilusion::println!("ticker kept running: {}", TICKS.load(Ordering::Relaxed) > before);
}

/// The calls themselves, with buffers no task may pass: refused, the task goes on.
fn bad_buffers() {
    let line = decode(raw_syscall(Syscall::ConsoleReadLine as u64, 0, 16, 0));
    ilusion::println!("console_read_line to null: {line:?}");
    let kernel = decode(raw_syscall(Syscall::ConsoleRead as u64, KERNEL_ADDRESS, 16, TIMEOUT_FOREVER));
    ilusion::println!("console_read to a kernel address: {kernel:?}");
    let mut byte = [0u8; 1];
    let nothing = decode(raw_syscall(Syscall::ConsoleRead as u64, byte.as_mut_ptr() as u64, 0, TIMEOUT_FOREVER));
    ilusion::println!("console_read of nothing: {nothing:?}");
}
