//! The console: `print!`/`println!` output and line input over the board's
//! serial port.
//!
//! Output is written synchronously. `print!` first formats into a buffer on
//! the caller's stack, with no lock held and interrupts as they were: the
//! formatting runs application code (`Display` impls), which may panic,
//! print, or take long, and must never run inside a kernel critical section.
//! Then the buffer goes to the port under the console's spin lock, so the
//! output of one `print!` is never split by another's unless it is longer
//! than the buffer ([`LINE_BUFFER`] bytes); even then it is split only
//! between lines ([`crate::line_writer`]), never inside one; raw bytes
//! ([`write_bytes`]) go out the same way, a buffer's worth at a time. Input is
//! interrupt-driven: the serial port's interrupt moves received bytes into
//! a ring buffer ([`INPUT_BUFFER`] bytes), which [`read_byte`] (polling),
//! [`read_byte_blocking`] and [`read_byte_timeout`] take from; what comes
//! while it is full is lost, and [`take_lost_input`] says where and how
//! much (the shell tells the user), as it does of what the port itself
//! lost ([`SerialPort::read_with_overrun`]). A task waiting for input blocks (its
//! core runs others, and a kill ends it there); where nothing may block
//! (an interrupt handler, interrupts masked) the core waits instead, and
//! with the reader's interrupts masked, where that interrupt cannot come,
//! the reader drains the port itself. An isolated task cannot
//! reach that buffer: in one, the reads (and [`read_line`]) are system calls (`console_read`,
//! `console_read_line`), in which the task blocks as in
//! [`read_byte_timeout`].

use crate::critical::{SetOnce, SpinLock};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

/// What the board's UART driver provides.
pub trait SerialPort: Sync {
    fn write_byte(&self, byte: u8);
    /// Writes `text`, each line end as CR LF (what a serial terminal
    /// needs). A provided method, so each driver's copy calls its own
    /// `write_byte` directly, inlined: one call per piece, not per byte.
    fn write_text(&self, text: &[u8]) {
        for &b in text {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }
    /// A received byte, if the hardware has one.
    fn read_byte(&self) -> Option<u8>;
    /// As [`Self::read_byte`], and whether the port lost input just after
    /// this byte (more came while its receive FIFO was full: its interrupt
    /// waited, masked, longer than the FIFO lasts). A port that cannot
    /// tell says `false`.
    fn read_with_overrun(&self) -> Option<(u8, bool)> {
        self.read_byte().map(|b| (b, false))
    }
    /// Waits until everything written has left the wire.
    fn flush(&self);
    /// Clears the port's interrupt after the receive FIFO was drained.
    fn acknowledge_interrupt(&self);
}

static PORT: SetOnce<&'static dyn SerialPort> = SetOnce::new();
static WRITER: SpinLock<()> = SpinLock::new("console output", ());

pub use crate::line_writer::LINE_BUFFER;

mod ring_buffer;
pub use ring_buffer::RingBuffer;

/// How many received bytes wait for a reader at most; more, and the
/// newest are lost (counted, and the shell says so).
pub const INPUT_BUFFER: usize = 1024;

static RECEIVED: SpinLock<RingBuffer<INPUT_BUFFER>> = SpinLock::new("console input", RingBuffer::new());

/// Takes every byte the port's receive FIFO holds, acknowledging its
/// interrupt first: a byte that arrives after the last read raises the
/// interrupt again. (Acknowledged after the drain, such a byte's interrupt
/// was cleared unseen; a PL011 that interrupts when its FIFO *reaches* the
/// trigger level, as QEMU's does, then never interrupted again, and typed
/// input stopped: seen in the shell test on a busy host.) Input the port
/// lost after a byte (its FIFO overflowed) is a loss there, as one to a
/// full buffer is: the reader is told where ([`RingBuffer::take_gap`]).
fn drain(port: &dyn SerialPort, mut take: impl FnMut(Received)) {
    port.acknowledge_interrupt();
    while let Some((b, overrun)) = port.read_with_overrun() {
        take(Received::Byte(b));
        if overrun {
            take(Received::Lost);
        }
    }
}

/// What [`drain`] hands on: a byte, or news that input was lost just here.
#[derive(Debug, PartialEq, Eq)]
enum Received {
    Byte(u8),
    Lost,
}

/// While set (the shell waits for a command), a Ctrl-C received is not
/// input: it is noted in [`CTRL_C_TYPED`] for `take_ctrl_c`, so that a
/// command reading the console cannot take it first.
static WATCH_CTRL_C: AtomicBool = AtomicBool::new(false);
static CTRL_C_TYPED: AtomicBool = AtomicBool::new(false);

/// A byte from the port: into the buffer, or, watched for, the Ctrl-C
/// noted. Bytes the port lost count as one at least (how many is unknown).
fn receive(rx: &mut RingBuffer<INPUT_BUFFER>, received: Received) {
    match received {
        Received::Byte(0x03) if WATCH_CTRL_C.load(Ordering::Relaxed) => CTRL_C_TYPED.store(true, Ordering::Relaxed),
        Received::Byte(byte) => rx.push(byte),
        Received::Lost => rx.note_lost(1),
    }
}

/// The serial port's interrupt handler: drain the FIFO into the buffer.
pub(crate) fn receive_interrupt(_: crate::irq::IntId) {
    if let Some(port) = PORT.get() {
        let mut rx = RECEIVED.lock();
        drain(*port, |r| receive(&mut rx, r));
        drop(rx);
        // A reader may wait on another core: the port interrupts core 0 only.
        #[cfg(target_os = "none")]
        {
            crate::arch::cpu::wake_waiters();
            target::tell_blocked_reader();
        }
    }
}

#[cfg(any(test, target_os = "none"))]
mod line_input;
#[cfg(target_os = "none")]
use line_input::LineInput;

struct PortWriter<'a>(&'a dyn SerialPort);

impl Write for PortWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_text(s.as_bytes());
        Ok(())
    }
}

/// Waits until all output has been sent.
pub fn flush() {
    if let Some(port) = PORT.get() {
        port.flush();
    }
}

#[cfg(not(target_os = "none"))]
pub use host::*;
#[cfg(target_os = "none")]
pub use target::*;

/// The port itself: set up, read, write (on the target only).
#[cfg(target_os = "none")]
mod target {
    use super::*;
    use crate::line_writer::LineWriter;

    pub(crate) fn init(port: &'static dyn SerialPort) {
        PORT.get_or_set(|| port);
    }

    /// A received byte, if one is waiting.
    pub fn read_byte() -> Option<u8> {
        if crate::arch::user_mode::running_at_el0() {
            return read_at_el0(0);
        }
        take_received(!crate::arch::cpu::interrupts_enabled())
    }

    /// Was Ctrl-C (`0x03`) typed? If so it is taken, with everything typed
    /// before it (as a terminal's interrupt key): for the shell, to stop
    /// the command it runs, which may be reading the console itself (so
    /// the shell watches for it, [`watch_ctrl_c`]: a reader woken by the
    /// key's interrupt took it before the shell looked). Not in an
    /// isolated task (`false`).
    #[cfg(feature = "shell")]
    pub(crate) fn take_ctrl_c() -> bool {
        if crate::arch::user_mode::running_at_el0() {
            return false;
        }
        let mut rx = RECEIVED.lock();
        if CTRL_C_TYPED.swap(false, Ordering::Relaxed) {
            while rx.pop().is_some() {}
            let _ = rx.take_gap();
            return true;
        }
        rx.take_through(0x03)
    }

    /// While `on`, a Ctrl-C received is kept for [`take_ctrl_c`], out of
    /// the input other readers take from.
    #[cfg(feature = "shell")]
    pub(crate) fn watch_ctrl_c(on: bool) {
        WATCH_CTRL_C.store(on, Ordering::Relaxed);
        if !on {
            CTRL_C_TYPED.store(false, Ordering::Relaxed);
        }
    }

    /// How many bytes of input were lost just before the next byte to be
    /// read (they came while [`INPUT_BUFFER`] bytes waited unread: a paste
    /// while nobody read; or the port's own FIFO overflowed, counted as
    /// one byte, the least it lost), if any; told once. For a reader that must not
    /// join what came before and after a loss (the shell). Not in an
    /// isolated task (`None`).
    pub fn take_lost_input() -> Option<usize> {
        if crate::arch::user_mode::running_at_el0() {
            return None;
        }
        RECEIVED.lock().take_gap()
    }

    /// The oldest received byte. With this core's interrupts masked (an
    /// interrupt handler, a spin lock held, a critical section), the port's
    /// interrupt cannot move what arrives into the buffer (on core 0, where
    /// it is routed, or on a machine of one core), and a reader waiting
    /// for it waited for ever: so then the port is drained here first.
    fn take_received(interrupts_masked: bool) -> Option<u8> {
        let mut rx = RECEIVED.lock();
        if interrupts_masked {
            if let Some(port) = PORT.get() {
                drain(*port, |r| receive(&mut rx, r));
            }
        }
        rx.pop()
    }

    /// A byte read by system call (in an isolated task), waiting at most
    /// `nanoseconds` for it.
    fn read_at_el0(nanoseconds: u64) -> Option<u8> {
        let mut byte = [0];
        crate::syscall::user::console_read(&mut byte, nanoseconds).ok().map(|_| byte[0])
    }

    /// Waits until a byte arrives. A task blocks until the port's interrupt
    /// says one came ([`read_byte_timeout`]): its core runs other tasks
    /// meanwhile, and a kill ends it there, as in any other wait (an
    /// isolated task's system call does the same). As there, one task at a
    /// time should read: an interrupt wakes one blocked reader, which may
    /// leave bytes for the next interrupt to wake another. Where nothing may
    /// block (an interrupt handler, interrupts masked, the idle task,
    /// before tasks start) the
    /// core waits instead, in `wfe`: the port's interrupt, on core 0, wakes
    /// waiters on every core with an event once it has stored what came;
    /// with interrupts masked (a handler, a spin lock held) no interrupt
    /// would bring the byte, so the core polls the port.
    pub fn read_byte_blocking() -> u8 {
        use crate::arch::cpu;
        while crate::arch::user_mode::running_at_el0() {
            if let Some(b) = read_at_el0(crate::syscall::abi::TIMEOUT_FOREVER) {
                return b;
            }
        }
        if cpu::interrupts_enabled() && !cpu::in_exception_handler() && task_may_block() {
            return read_byte_in_task();
        }
        loop {
            // Check with interrupts masked, then wait: an event or an
            // interrupt arriving in between ends the `wfe` at once.
            let was = cpu::disable_interrupts();
            let byte = take_received(!was);
            match byte {
                Some(_) => {}
                None if was => cpu::wait_for_event(),
                // Masked: no interrupt or event is sure to end a `wfe`.
                None => cpu::spin_hint(),
            }
            cpu::restore_interrupts(was);
            if let Some(b) = byte {
                return b;
            }
        }
    }

    /// Released by the receive interrupt when input came and no permit
    /// was waiting already: a task in [`read_byte_timeout`] blocks on it.
    static INPUT_ARRIVED: crate::sync::Semaphore = crate::sync::Semaphore::new(0);

    pub(super) fn tell_blocked_reader() {
        // At most one permit kept: a reader takes it and then drains the
        // ring, however many interrupts filled it. (Two interrupts on two
        // cores racing here leave two; the reader loops once more.)
        if INPUT_ARRIVED.available() == 0 {
            INPUT_ARRIVED.release();
        }
    }

    /// A received byte, blocking the calling task (the core runs other
    /// tasks meanwhile) until one arrives or `timeout` has passed (`None`:
    /// as long as it takes). One task at a time should read this way: two
    /// readers share the bytes between them. Not in an interrupt handler.
    pub fn read_byte_timeout(timeout: Option<crate::time::Duration>) -> Option<u8> {
        use crate::time::{deadline_from_now, Instant};
        if crate::arch::user_mode::running_at_el0() {
            let forever = crate::syscall::abi::TIMEOUT_FOREVER;
            return read_at_el0(timeout.map_or(forever, crate::syscall::abi::timeout_to_nanos));
        }
        let deadline = timeout.and_then(deadline_from_now);
        loop {
            if let Some(b) = read_byte() {
                return Some(b);
            }
            // No deadline: no timeout, or one too long to represent.
            match deadline {
                None => INPUT_ARRIVED.acquire(),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if !INPUT_ARRIVED.acquire_timeout(left) {
                        return read_byte();
                    }
                }
            }
        }
    }

    /// The last byte [`read_line`] took was `\r`: a `\n` first in the
    /// next line is the rest of that line's end.
    static LINE_AFTER_CR: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

    /// Reads a line (without its end) into `buf`, echoing it; returns its
    /// length. The line ends at `\r`, `\n` or `\r\n` (the `\n` is not
    /// left to end the next line as an empty one); backspace (BS or DEL)
    /// erases the last character (all its bytes, in UTF-8), on the screen
    /// too; escape sequences (arrow keys...) and other control characters
    /// (Tab...) are neither kept nor echoed, so the line read is the line
    /// shown; a character past `buf`'s end is dropped whole. It waits for input as [`read_byte_blocking`] does: the
    /// task blocks (its core runs other tasks; a kill ends it there), or,
    /// where nothing may block, the core waits. In an isolated task it is
    /// a system call, which keeps at most 256 bytes of a line.
    pub fn read_line(buf: &mut [u8]) -> usize {
        if crate::arch::user_mode::running_at_el0() {
            return crate::syscall::user::console_read_line(buf).map_or(0, |n| n as usize);
        }
        read_line_from(buf, read_byte_blocking)
    }

    /// [`read_line`] for a task in a system call (on its kernel stack,
    /// where [`read_byte_blocking`] would not block): the
    /// `console_read_line` system call.
    pub(crate) fn read_line_blocking_task(buf: &mut [u8]) -> usize {
        read_line_from(buf, read_byte_in_task)
    }

    /// Does a task run here that may block: tasks have started, and this is
    /// not the core's idle task (which must never block: it is what runs
    /// when nothing else can)?
    fn task_may_block() -> bool {
        use crate::sched::scheduler;
        scheduler::is_started() && !scheduler::running_is_idle()
    }

    /// A byte, the calling task blocked until one comes.
    fn read_byte_in_task() -> u8 {
        loop {
            if let Some(b) = read_byte_timeout(None) {
                return b;
            }
        }
    }

    /// [`read_line`], taking each byte from `next_byte`.
    fn read_line_from(buf: &mut [u8], mut next_byte: impl FnMut() -> u8) -> usize {
        use core::sync::atomic::Ordering;
        let mut line = LineInput::new(buf);
        let mut after_cr = LINE_AFTER_CR.load(Ordering::Relaxed);
        loop {
            let byte = next_byte();
            let done = line.feed(byte, after_cr, &mut write_bytes);
            after_cr = byte == b'\r';
            if done {
                LINE_AFTER_CR.store(after_cr, Ordering::Relaxed);
                return line.len;
            }
        }
    }

    /// Writes raw bytes to the console (`\n` becomes `\r\n`), as
    /// `print!` writes its output: a piece of at most [`LINE_BUFFER`] bytes
    /// at a time under the console lock (cut at a line end where there is
    /// one), so that interrupts wait for one piece, never for the whole of
    /// a long buffer (the shell's echo of a paste, say).
    pub fn write_bytes(bytes: &[u8]) {
        if crate::arch::user_mode::running_at_el0() {
            let _ = crate::syscall::user::console_write(bytes);
            return;
        }
        if let Some(port) = PORT.get() {
            let mut rest = bytes;
            while !rest.is_empty() {
                let piece = crate::line_writer::next_piece(rest, LINE_BUFFER);
                let _guard = WRITER.lock();
                port.write_text(piece);
                rest = &rest[piece.len()..];
            }
        }
    }

    /// Formats to the console; what `print!` calls.
    pub fn write_fmt(args: fmt::Arguments) {
        if crate::arch::user_mode::running_at_el0() {
            return crate::syscall::user::write_fmt(args);
        }
        if let Some(port) = PORT.get() {
            let mut sink = |piece: &[u8]| {
                let _guard = WRITER.lock();
                port.write_text(piece);
            };
            let mut out = LineWriter::<LINE_BUFFER>::new(&mut sink);
            let _ = out.write_fmt(args);
            out.flush();
        }
    }

    /// Formats to the console without taking the writer lock: for reports
    /// that stop the machine (a fault in the kernel, a panic outside a
    /// task), which may interrupt a writer that holds it. A task's own
    /// failure report goes through [`write_fmt`], under the lock, so it
    /// does not cut into lines other cores are printing.
    pub fn write_fmt_emergency(args: fmt::Arguments) {
        if let Some(port) = PORT.get() {
            let _ = PortWriter(*port).write_fmt(args);
        }
    }
}

/// On the host (unit tests) there is no port: `print!` writes nothing.
#[cfg(not(target_os = "none"))]
mod host {
    pub fn write_fmt(_: core::fmt::Arguments) {}
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::{drain, receive, Received, RingBuffer, SerialPort, INPUT_BUFFER};
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;

    /// A receive FIFO that interrupts as QEMU's PL011 does: when a byte
    /// brings it *to* the trigger level (1), not while it is above it. A
    /// byte waiting in `late` arrives just after a read finds it empty.
    struct FifoAtLevel {
        state: crate::critical::SpinLock<(VecDeque<u8>, Vec<u8>, bool)>, // FIFO, late bytes, interrupt raised
    }

    impl SerialPort for FifoAtLevel {
        fn write_byte(&self, _: u8) {}
        fn flush(&self) {}
        fn read_byte(&self) -> Option<u8> {
            let mut s = self.state.lock();
            let (fifo, late, raised) = &mut *s;
            match fifo.pop_front() {
                Some(b) => {
                    *raised &= !fifo.is_empty();
                    Some(b)
                }
                None => {
                    // The empty answer is given; meanwhile the next byte comes in.
                    if let Some(b) = late.pop() {
                        fifo.push_back(b);
                        *raised = true; // the FIFO reached the level
                    }
                    None
                }
            }
        }
        fn acknowledge_interrupt(&self) {
            self.state.lock().2 = false;
        }
    }

    #[test]
    fn a_byte_arriving_after_the_drain_is_not_lost() {
        let port = FifoAtLevel {
            state: crate::critical::SpinLock::new("fake FIFO", (VecDeque::from([b'h', b'e']), alloc::vec![b'l'], true)),
        };
        let mut got = Vec::new();
        drain(&port, |r| got.push(r));
        assert_eq!(got, [Received::Byte(b'h'), Received::Byte(b'e')]);
        let (fifo, _, raised) = &*port.state.lock();
        // The late byte waits in the FIFO: its interrupt must still be raised,
        // or no interrupt ever comes for it (nor for the bytes after it).
        assert_eq!(fifo.len(), 1);
        assert!(raised, "the late byte's interrupt was acknowledged unseen");
    }

    /// A receive FIFO that overflowed after its second byte (a PL011 marks
    /// the byte read just before the loss with its overrun bit).
    struct Overflowed {
        fifo: crate::critical::SpinLock<VecDeque<u8>>,
    }

    impl SerialPort for Overflowed {
        fn write_byte(&self, _: u8) {}
        fn flush(&self) {}
        fn acknowledge_interrupt(&self) {}
        fn read_byte(&self) -> Option<u8> {
            self.read_with_overrun().map(|(b, _)| b)
        }
        fn read_with_overrun(&self) -> Option<(u8, bool)> {
            self.fifo.lock().pop_front().map(|b| (b, b == b'b'))
        }
    }

    #[test]
    fn input_the_port_lost_is_told_where_it_was_lost() {
        let port = Overflowed { fifo: crate::critical::SpinLock::new("fake FIFO", VecDeque::from(*b"abc")) };
        let mut got = Vec::new();
        drain(&port, |r| got.push(r));
        assert_eq!(got, [Received::Byte(b'a'), Received::Byte(b'b'), Received::Lost, Received::Byte(b'c')]);
        // Into the buffer as the console's interrupt puts it: the reader is
        // told of the loss after 'b', before 'c'.
        let mut r = RingBuffer::<INPUT_BUFFER>::new();
        got.into_iter().for_each(|received| receive(&mut r, received));
        assert_eq!((r.take_gap(), r.pop()), (None, Some(b'a')));
        assert_eq!((r.take_gap(), r.pop()), (None, Some(b'b')));
        assert_eq!((r.take_gap(), r.pop(), r.dropped()), (Some(1), Some(b'c'), 1));
    }
}
