//! QEMU tests: boot real ilusion images and check what they print and their
//! exit status, on every board in `ILUSION_TEST_BOARDS` (default: qemu-virt).
//!
//! Images come from `target/images/<board>/<image>.elf`, which `just test`
//! builds first. Each [`Case`] names an image, extra QEMU arguments, console
//! input, the exit status it must end with and lines its output must
//! contain. A guest that hangs is killed after [`TIMEOUT`] and reported with
//! the output seen so far. Run a subset with a name filter:
//! `cargo test --target x86_64-unknown-linux-gnu --test qemu -- timer`.
//! For the Raspberry Pi boards the SD card image and the serial chainloader
//! are checked too (`support/sdcard.rs`, `support/chainload.rs`).

#[path = "support/captured.rs"]
mod captured;
#[path = "support/chainload.rs"]
mod chainload;
#[path = "support/direct.rs"]
mod direct;
#[path = "support/fast_syscall.rs"]
mod fast_syscall;
#[path = "support/sdcard.rs"]
mod sdcard;
#[path = "support/trace_dump.rs"]
mod trace_dump;

use captured::Captured;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a guest may run before it counts as hung (the longest case takes about 30 s).
const TIMEOUT: Duration = Duration::from_secs(120);
/// How long the harness self-test waits for its deliberately hung guest.
const HANG_TIMEOUT: Duration = Duration::from_secs(3);

/// Which boards a case runs on.
#[derive(Clone, Copy, PartialEq)]
enum On {
    AllBoards,
    /// Only this board (e.g. QEMU-virt-specific machine options).
    Board(&'static str),
}

struct Case {
    name: &'static str,
    image: &'static str,
    on: On,
    /// Extra QEMU arguments.
    qemu: &'static [&'static str],
    /// Boot the raw image (`.img`) instead of the ELF.
    raw: bool,
    /// Console input, sent once the output contains the first string.
    input: Option<(&'static str, &'static str)>,
    /// The exit status it must end with; `None`: it must hang until [`HANG_TIMEOUT`].
    exit: Option<i32>,
    expect: &'static [&'static str],
}

/// Cases whose output lines must come out whole: `(case name, prefix,
/// suffix, count)`: exactly `count` lines contain `prefix`, and each is
/// `prefix`, a 4-digit number, a space and `suffix`, with nothing cut into it.
const WHOLE_LINES: &[(&str, &str, &str, usize)] = &[
    (SMP_CONSOLE_CASE, "[printer] ", SMP_CONSOLE_PATTERN, 400),
    (SMP_CONSOLE_CASE, "[poet] ", SMP_CONSOLE_PATTERN, 200),
];
const SMP_CONSOLE_CASE: &str =
    "smp (MTTCG): a task's lines come out whole, printed one or four at a time, while isolated tasks on the other cores fail, are reported and print";
/// What `smp_console`'s printer puts after each line's number.
const SMP_CONSOLE_PATTERN: &str = "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Cases that type a script, step by step: `(case name, steps)`. Each
/// step types `send`, then waits until what the guest prints after that
/// contains `then` (the response), which must not contain `not` if it is
/// not empty; a step that waits more than [`STEP_TIMEOUT`] ends the run.
const SCRIPTS: &[(&str, &[Step])] = &[
    (SHELL_CASE, SHELL_SCRIPT),
    (SHELL_EXAMPLE_CASE, SHELL_EXAMPLE_SCRIPT),
    (CONSOLE_MASKED_INPUT_CASE, CONSOLE_MASKED_INPUT_SCRIPT),
];
/// How long one script step may wait for its response.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One step of a script: type `send`, expect `then`, and not `not` before it.
struct Step {
    send: &'static str,
    then: &'static str,
    not: &'static str,
    /// Typed again every [`RETYPE_AFTER`] (at most [`RETYPES`] times) until
    /// `then` comes: for a harmless line typed where input may still be
    /// lost (just after a paste that overflowed the input buffer, whose
    /// tail QEMU may still be delivering on a loaded host).
    retype: bool,
}

const fn step(send: &'static str, then: &'static str) -> Step {
    Step { send, then, not: "", retype: false }
}

/// A step whose line is typed again until its response comes (see [`Step::retype`]).
const fn retyped(send: &'static str, then: &'static str) -> Step {
    Step { send, then, not: "", retype: true }
}
/// How long a [`retyped`] step waits before it types its line again, and how many times.
const RETYPE_AFTER: Duration = Duration::from_secs(5);
const RETYPES: u32 = 6;

const CONSOLE_MASKED_INPUT_CASE: &str =
    "console: a line read on core 0 with interrupts masked (a spin lock held, an interrupt handler) arrives";
/// Each line typed once its reader waits, its interrupts masked (tests/guest/console_masked_input.rs).
const CONSOLE_MASKED_INPUT_SCRIPT: &[Step] = &[
    step("", "holding a spin lock, type a line:"),
    step("masked\r", "in an interrupt handler, type a line:"),
    step("handler\r", "read in a handler: [handler]"),
];
const SHELL_CASE: &str = "shell: scripted keystrokes (commands, errors, ps, kill, editing, history)";
/// The shell's prompt (src/shell/mod.rs).
const PROMPT: &str = "ilusion> ";
const SHELL_EXAMPLE_CASE: &str = "shell example: blink, ps, kill the isolated task, poweroff";
/// `just run shell` as a person would try it (examples/shell.rs).
const SHELL_EXAMPLE_SCRIPT: &[Step] = &[
    step("", PROMPT),
    step("blink\r", "LED on"),
    step("ps\r", " tasks, "),
    step("kill 5\r", "killed task 5 (counter)"),
    Step { send: "ps\r", then: " tasks, ", not: " counter ", retype: false },
    step("poweroff\r", "powering off"),
];
/// `s` four times, as one literal.
macro_rules! times4 {
    ($s:expr) => {
        concat!($s, $s, $s, $s)
    };
}

const SHELL_SCRIPT: &[Step] = &[
    step("", PROMPT),
    // The shell is task 5; each command runs in a task of its own, spawned
    // as it is typed: this first one is 6, the next 7. Neither is killed.
    step("kill 5\r", "kill: task #5 is the shell: it cannot be killed (poweroff stops the machine)"),
    step("kill 7\r", "kill: task #7 is this `kill` command's own"),
    step("help\r", "  poweroff  stop the machine"),
    // An application's commands, with arguments, and one that fails.
    step("hello world\r", "hello, world!"),
    step("fail\r", "fail: failed on purpose"),
    // A command that panics ends its own task, not the shell's: the shell
    // says so and goes on (a bad index, then a bad unwrap).
    step("boom\r", "boom: panicked: index out of bounds"),
    step("boom x\r", "boom: panicked: called `Result::unwrap()` on an `Err` value"),
    step("boom 7\r", "n = 7"),
    step("whoami\r", "this command runs in task 'whoami'"),
    // Ctrl-C ends a command that waits for ever; the shell goes on.
    step("hang\r", "hang: waiting for ever"),
    step("\x03", "hang: interrupted (Ctrl-C)"),
    step("uptime\r", "up "),
    // Also one that reads the console itself: the shell sees the Ctrl-C first.
    step("ask\r", "ask: type a line"),
    Step { send: "\x03", then: "ask: interrupted (Ctrl-C)", not: "ask: got", retype: false },
    step("ask\r", "ask: type a line"),
    step("yes\r", "ask: got Ok(\"yes\")"),
    // Unknown commands and bad arguments: one line each, and the shell goes on.
    step("frobnicate 1 2\r", "frobnicate: unknown command (`help` lists them)"),
    step("kill\r", "kill: which task? give its id (as `ps` shows)"),
    step("kill x9\r", "kill: \"x9\" is not a task id (a number, as `ps` shows)"),
    step("uptime now\r", "uptime: takes no arguments"),
    step("hello 1 2 3 4 5 6 7 8 9\r", "hello: too many arguments (at most 8)"),
    step("trace begin\r", "trace: usage: trace start|stop|dump"),
    step("uptime\r", "up "),
    step("irq\r", "timer"),
    step("mem\r", "kernel heap: "),
    // The tasks (`ps`'s numbers are checked in `check_ps`), an isolated
    // task's address space, a second of `top`.
    step("ps\r", " tasks, "),
    step("mem\r", "   4 victim "),
    // The table ends with its last row, the prompt right after it (a blank line came between).
    step("maps 4\r", "task 'victim' (#4): address space"),
    step("maps 4\r", "constants (shared)\"\r\nilusion> "),
    step("maps 2\r", "task 'spinner' (#2): not an isolated task"),
    step("maps 99\r", "maps: no task #99"),
    // Zero is a number: the message says what is asked for (it said "\"0\" is not a number of seconds").
    step("top 0\r", "top: \"0\" is not a whole number of seconds, 1 or more"),
    step("top 1\r", "top: up "),
    // An arrow key stops `top`, and all of it is taken: no `[A` typed at the prompt.
    step("top\r", "top: up "),
    step("\x1b[A", PROMPT),
    Step { send: "hello top\r", then: "hello, top!", not: "unknown command", retype: false },
    // Kill: the victim goes, and `ps` no longer lists it; what cannot be killed is refused.
    step("kill 4\r", "killed task 4 (victim)"),
    Step { send: "ps\r", then: " tasks, ", not: " victim ", retype: false },
    step("kill 4\r", "kill: no task #4"),
    // A sleeping kernel task ends as its sleep is cut short; its handle
    // (main's) keeps it listed, ended, so a second kill is refused. A
    // spinning one never blocks or yields: asked, not killed, after a second.
    step("kill 3\r", "killed task 3 (sleeper)"),
    step("kill 3\r", "kill: task #3 has ended already"),
    step("kill 2\r", "asked task 2 (spinner) to end: it will at its next block or yield"),
    // A paste of 3 KiB while a command runs (asking the spinner again
    // takes a second): the input buffer holds 1 KiB, the rest is lost and
    // the shell says so, dropping the line it cut (run, it was garbage).
    Step {
        send: concat!("kill 2\r", times4!(times4!(times4!(times4!("hello paste\r"))))),
        then: "bytes of input lost (they came faster than they were read: more than the 1024 the input buffer holds while nobody read",
        not: "unknown command",
        retype: false,
    },
    // The paste's tail may still be arriving (slowly, on a loaded host), and
    // a line typed into a full buffer is lost with it: typed again until it is read.
    retyped("kill 0\r", "kill: the idle task (#0) cannot be killed"),
    step("kill 1\r", "kill: main (#1) cannot be killed"),
    // Editing: Ctrl-U erases the line, both backspaces a character.
    step("junk\x15hello bo\x7fxx\x08\x08ob\r", "hello, bob!"),
    // Ctrl-C abandons a line (not run: the machine stays on).
    step("poweroff\x03", "^C"),
    Step { send: "hello again\r", then: "hello, again!", not: "powering off", retype: false },
    // History: up runs the last line again; up twice the one before; down goes back one.
    step("\x1b[A\r", "hello, again!"),
    step("\x1b[A\x1b[A\r", "hello, bob!"),
    step("\x1b[A\x1b[A\x1b[A\x1b[B\r", "hello, again!"),
    // Other escape sequences (left, right, F5) are swallowed.
    step("hel\x1b[D\x1b[C\x1b[15~lo arrows\r", "hello, arrows!"),
    // Backspace (DEL, as terminals send it) after a lone Esc, or inside a sequence cut short, erases.
    step("hello abx\x1b\x7fy\x1b[\x7fc\r", "hello, abc!"),
    // An overlong line rings the bell (see the expected output) and is cut at 128 characters.
    step(concat!("hello ", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "yyy\r"), concat!("hello, ", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "!")),
    // A command that never blocks or yields cannot be killed: Ctrl-C
    // leaves it running (it shares the shell's core and priority) and the
    // shell goes on.
    step("loop\r", "loop: spinning"),
    step("\x03", "loop: interrupted (Ctrl-C), but it runs on: it ends at its next block or yield"),
    step("uptime\r", "up "),
    step("poweroff\r", "powering off"),
];

const fn case(name: &'static str, image: &'static str, exit: i32, expect: &'static [&'static str]) -> Case {
    Case { name, image, on: On::AllBoards, qemu: &[], raw: false, input: None, exit: Some(exit), expect }
}

const fn virt(name: &'static str, qemu: &'static [&'static str], expect: &'static [&'static str]) -> Case {
    Case { name, image: "hello", on: On::Board("qemu-virt"), qemu, raw: false, input: None, exit: Some(0), expect }
}

/// A case for one Raspberry Pi board: `raw` boots `<image>.img` like the
/// firmware's kernel8.img (EL2, cores 1-3 in the spin table) instead of the
/// ELF (every core at EL3, cores 1-3 parked by boot.s).
const fn pi(
    board: &'static str,
    name: &'static str,
    image: &'static str,
    raw: bool,
    input: Option<(&'static str, &'static str)>,
    expect: &'static [&'static str],
) -> Case {
    Case { name, image, on: On::Board(board), qemu: &[], raw, input, exit: Some(0), expect }
}

/// What tests/guest/firmware_calls.rs prints started at EL2 (QEMU virt with
/// virtualization=on, a Pi's raw image): both calls answered on every core.
const FIRMWARE_CALLS_EL2: &[&str] = &[
    "(EL2 at boot",
    "hvc #0 on core 0: x0 = -1",
    "hvc #0 on core 3: x0 = -1",
    "smc #0 on core 0: x0 = -1",
    "smc #0 on core 3: x0 = -1",
    "the machine goes on",
];
/// The same started at EL3 (Secure EL1 below: hvc is undefined there).
const FIRMWARE_CALLS_EL3: &[&str] = &[
    "(EL3 at boot",
    "hvc #0 on core 0: the task failed: illegal instruction",
    "hvc #0 on core 3: the task failed: illegal instruction",
    "smc #0 on core 0: x0 = -1",
    "smc #0 on core 3: x0 = -1",
    "the machine goes on",
];

/// A stand-in firmware that forgets the counter frequency: QEMU's loader
/// device writes four words at `$at` and starts core 0 there, at EL3 (an
/// ELF boot; `secure=on` on qemu-virt): `msr cntfrq_el0, xzr`, `ldr x1, entry`, `br x1`, and at `$at
/// + 16` the kernel's entry (the image's physical load address). Only the
/// highest level may write CNTFRQ_EL0; QEMU itself never leaves it at 0
/// (`cntfrq=0` on the CPU means its default).
macro_rules! cntfrq_zeroing_firmware {
    ([$($machine:literal),*] $at:literal, $at4:literal, $at8:literal, $at16:literal, $entry:literal) => {
        &[
            $($machine,)*
            "-device", concat!("loader,addr=", $at, ",data=0xd51be01f,data-len=4"),
            "-device", concat!("loader,addr=", $at4, ",data=0x58000061,data-len=4"),
            "-device", concat!("loader,addr=", $at8, ",data=0xd61f0020,data-len=4"),
            "-device", concat!("loader,addr=", $at16, ",data=", $entry, ",data-len=8"),
            "-device", concat!("loader,addr=", $at, ",cpu-num=0"),
        ]
    };
}
/// What tests/guest/counter_frequency.rs prints after [`cntfrq_zeroing_firmware`].
macro_rules! cntfrq_zero_expect {
    ($hz:literal) => {
        &[
            concat!("CNTFRQ_EL0 is 0: the firmware did not set the counter frequency; using the board's ", $hz, " Hz"),
            concat!("CNTFRQ_EL0 reads 0 Hz; time counts in ", $hz, " Hz"),
            "ok el0_counts_in_the_right_frequency",
            "all checks passed",
        ]
    };
}

/// What tests/guest/gpio.rs prints on both Pis, and per Pi.
const GPIO_PI3: &[&str] = &[
    "GPIO 14 is reserved for the console UART's TXD",
    "GPIO 15 is reserved for the console UART's RXD",
    "gpio: GPIO 54: GPIO 54 does not exist (this board has GPIO 0 to 53)",
    "gpio: GPIO 58: GPIO 58 does not exist (this board has GPIO 0 to 53)",
    "gpio: activity LED again: the activity LED is taken (another ActivityLed owns it; drop that one first)",
    "GPIO 17 is taken",
    "gpio: output ok",
    "not readable on the BCM2837",
    "reached its handler by a direct call of the bank handler",
    "gpio: every pin's edge reached its handler (GPIO 0 to 53 but the reserved)",
    "gpio: all ok",
];
const GPIO_PI4: &[&str] = &[
    "GPIO 14 is reserved for the console UART's TXD",
    "GPIO 15 is reserved for the console UART's RXD",
    "gpio: GPIO 54 taken",
    "gpio: GPIO 58: GPIO 58 does not exist (this board has GPIO 0 to 57)",
    "gpio: activity LED again: GPIO 42 is taken (another Pin owns it; drop that one first)",
    "GPIO 17 is taken",
    "gpio: output ok",
    "pulls read back from GPIO_PUP_PDN_CNTRL: up, down, none",
    "reached its handler through the interrupt controller",
    "gpio: every pin's edge reached its handler (GPIO 0 to 57 but the reserved)",
    "gpio: all ok",
];

const BANNER: &str = "ilusion 0.1.0 on";
/// QEMU counts instructions and the generic timer follows them (1 ns each):
/// timing becomes deterministic.
const ICOUNT: &[&str] = &["-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm"];
/// As [`ICOUNT`], on a CPU whose generic timer counts at 1 GHz (Armv8.6 and later).
const ICOUNT_1GHZ: &[&str] =
    &["-cpu", "max", "-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm"];
/// What `irq_private_cores` must print, on each GIC.
const IRQ_PRIVATE_CORES: &[&str] = &[
    "ok registered_on_core_1",
    "ok handler_runs_on_every_core",
    "ok unregistered_runs_nowhere",
    "ok registered_again_runs_on_every_core",
    "ok still_registered_once",
    "all checks passed",
];
/// What `time_limits` must print (item: time arithmetic saturates).
const TIME_LIMITS: &[&str] = &[
    "ok instant_arithmetic_saturates",
    "ok kernel_tasks_sleep_forever",
    "ok past_deadline_returns",
    "ok isolated_tasks_sleep_forever",
    "ok isolated_short_sleep",
    "ok semaphore_timeout_max",
    "ok condvar_timeout_max",
    "ok recv_timeout_max",
    "ok recv_timeout_huge",
    "ok lock_timeout_max",
    "ok send_timeout_max",
    "ok join_timeout_max",
    "ok ipc_recv_timeout_max",
    "ok isolated_recv_timeout_max",
    "ok zero_timeouts_return_at_once",
    "ok periodic_too_short_refused",
    "set_periodic(0): period 0ns is shorter than the minimum 5µs",
    "ok periodic_max_never_fires",
    "ok periodic_huge_never_fires",
    "ok periodic_min_period_runs",
    "all checks passed",
];
/// What `timeouts` must print (item: the API's timeouts, exact under icount).
const TIMEOUTS: &[&str] = &[
    "ok lock_timeout_fires",
    "ok lock_timeout_succeeds_in_time",
    "ok lock_after_timeouts_uncontended",
    "ok lock_timeout_poisoned",
    "ok lock_timeout_inheritance_dropped",
    "ok lock_timeout_inheritance_dropped_along_chain",
    "ok join_timeout_fires",
    "ok join_timeout_succeeds_in_time",
    "ok join_timeout_ended_task",
    "ok join_timeout_failed_task",
    "ok send_timeout_full",
    "ok send_timeout_room_in_time",
    "ok send_timeout_disconnected",
    "ok send_timeout_rendezvous_taken_back",
    "ok send_timeout_rendezvous_in_time",
    "ok ipc_kernel_try_recv_recv_timeout",
    "ok ipc_isolated_try_recv_recv_timeout",
    "ok ipc_isolated_recv_in_time",
    "ok ipc_close",
    "all checks passed",
];
/// What `ipi` must print.
const IPI: &[&str] = &[
    "ok ipi_ids_distinct",
    "ok ipi_handlers_registered",
    "ok ipi_to_self_sent",
    "ok ipi_to_self_taken_once_unmasked",
    "ok ipi_each_taken",
    "self-IPI round trip: ",
    "ok ipi_no_stray_interrupts",
    "ok ipi_no_stop_received",
    "send_ipi(8): core 8 cannot be interrupted (no such core, or not up)",
    "ok ipi_bad_core_refused",
    "all checks passed",
];
/// What `ipi_cores` must print.
const IPI_CORES: &[&str] = &[
    "ok other_cores_online",
    "ok ipi_reaches_core",
    "ok stop_ipi_taken",
    "ok stopped_core_stays_stopped",
    "ok other_cores_still_run",
    "all checks passed",
];
/// Real parallelism: QEMU runs each core as a host thread (multi-threaded
/// TCG), with no instruction counting (which would run the cores one
/// after the other). No case gets `-icount` unless it lists it ([`ICOUNT`]);
/// QEMU refuses the two together.
const MTTCG: &[&str] = &["-accel", "tcg,thread=multi", "-smp", "4"];
/// What `smp_priority` must print with 4 cores online (5 spinners).
const SMP_PRIORITY_4: &[&str] = &[
    "cores: 4 online (running tasks) of 4 up",
    "ok cores_online",
    "round 5: 4 cores, 5 spinners: counts [",
    "ok least_urgent_never_runs",
    "ok every_core_runs_a_spinner",
    "all checks passed",
];
/// What `smp_ipi_preemption` must print (4 cores, the task on core 2).
const SMP_IPI_PREEMPTION: &[&str] = &[
    "cores: 4 online (running tasks) of 4 up",
    "IPI preemption latency (interrupt on core 0 -> task on core 2): worst ",
    "ok handler_on_waker_core",
    "ok woken_task_on_its_core",
    "ok spinner_preempted_each_time",
    "ok ipi_preemption_latency_bounded",
    "ok reschedule_ipis_taken",
    "all checks passed",
];
/// What `smp_pinning` must print (4 cores).
const SMP_PINNING: &[&str] = &[
    "cores: 4 online (running tasks) of 4 up",
    "pinned to core 3: 4000 samples on cores 0b1000; restricted to 0b110: 4000 samples on cores 0b",
    "ok pinned_task_stays_on_its_core",
    "ok restricted_task_stays_in_its_mask",
    "cpu(4): none of the cores asked for is online (asked: core 4; online: cores 0, 1, 2 and 3)",
    "cpu(8): no core asked for: Builder::cpu(n) takes a core from 0 to 7 (percpu::MAX_CPUS is 8), Builder::cpus a mask with a core's bit set (online: cores 0, 1, 2 and 3)",
    "ok offline_cores_refused",
    "all checks passed",
];
/// What the smp example must print with 4 cores.
const SMP_EXAMPLE_4: &[&str] = &[
    "smp: drawing a 64x24 Mandelbrot set on 4 cores, row r on core r % 4",
    "  core 0: 6 rows (0, 4, 8, ...), ",
    "  core 1: 6 rows (1, 5, 9, ...), ",
    "  core 2: 6 rows (2, 6, 10, ...), ",
    "  core 3: 6 rows (3, 7, 11, ...), ",
    "  3 |",
    "one core: all 24 rows on core 0, ",
    "(same picture: true)",
    "4 cores: ",
    "smp: done (every painter on the core it was pinned to: true)",
];
const PI3_IRQ: &str = "BCM2836 local + BCM2835 interrupt controller)";
const PI4_IRQ: &str = "GIC-400 (GICv2))";
const ECHO: Option<(&str, &str)> = Some(("type a line:", "ping pong\r\nsecond\x7f\x7fnd\r"));

/// What `isolated_faults` must print: each fault twice, each with the watchdog
/// running and the task's frames freed (the guest exits 1 otherwise).
const ISOLATED_FAULTS: &[&str] = &[
    "*** task 'reader' (#4) failed: memory access fault: Read of 0xffffff80",
    "read OS memory #2: Err(MemoryAccess {",
    "*** task 'stomper' (#6) failed: memory access fault: Write of 0xffff",
    "write another task's stack #2: Err(MemoryAccess {",
    "write own code #2: Err(MemoryAccess {",
    "*** task 'stack exec' (#11) failed: memory access fault: Execute of 0x3fffffffc0 at pc 0x3fffffffc0",
    "execute from own stack #2: Err(MemoryAccess { addr: 274877906880, access: Execute",
    "*** task 'null jumper' (#13) failed: memory access fault: Execute of 0x0 at pc 0x0",
    "jump to null #2: Err(MemoryAccess { addr: 0, access: Execute, pc: 0 })",
    "*** task 'udf' (#15) failed: illegal instruction at pc 0xffffff80",
    "undefined instruction #2: Err(IllegalInstruction {",
    "*** task 'recursion' (#17) failed: stack overflow",
    "stack overflow #2: Err(StackOverflow), watchdog true, frames freed true: ok",
    "*** task 'misaligned' (#19) failed: misaligned access to 0x3fffffffcf at pc 0xffffff80",
    "misaligned exclusive load #2: Err(Misaligned { addr: 274877906895, pc: ",
    "*** task 'misaligned jump' (#21) failed: misaligned access to 0xffffff80",
    "jump to a misaligned address #2: Err(Misaligned {",
    "*** task 'bad call' (#23) failed: bad system call number 999",
    "unknown system call #2: Err(BadSyscall { number: 999,",
    "bad console_write arguments #2: Ok(()), watchdog true, frames freed true: ok",
    "failed: memory access fault: Execute of 0x100000000 at pc 0x100000000",
    "execute from own heap #1: Err(MemoryAccess { addr: 4294967296, access: Execute, pc: 4294967296 }), watchdog true, frames freed true: ok",
    "execute from own heap #2: Err(MemoryAccess { addr: 4294967296, access: Execute, pc: 4294967296 }), watchdog true, frames freed true: ok",
    "failed: privileged instruction at pc 0xffffff80",
    ": read of system register TTBR1_EL1",
    "read TTBR1_EL1 #2: Err(PrivilegedInstruction { operation: SystemRegister { read: true, register: SystemEncoding { op0: 3, op1: 0, crn: 2, crm: 0, op2: 1 } }, pc: ",
    ": write of system register SCTLR_EL1",
    ": write of processor state (DAIFSet, #2)",
    "mask interrupts #2: Err(PrivilegedInstruction { operation: ProcessorState { field: SystemEncoding { op0: 0, op1: 3, crn: 4, crm: 2, op2: 6 } }, pc: ",
    ": WFI/WFE (waiting for an interrupt)",
    "wait for interrupt #2: Err(PrivilegedInstruction { operation: WaitForInterrupt, pc: ",
    "exception return #2: Err(PrivilegedInstruction { operation: ExceptionReturn, pc: ",
    "secure monitor call #2: Err(PrivilegedInstruction { operation: SecureMonitorCall, pc: ",
    "hypervisor call #2: Err(PrivilegedInstruction { operation: HypervisorCall, pc: ",
    ": cache, TLB or address-translation maintenance (S1_0_C7_C6_1)",
    "invalidate data cache #2: Err(PrivilegedInstruction { operation: SystemOperation",
    "zero a cache block #2: Err(PrivilegedInstruction { operation: SystemOperation { operation: SystemEncoding { op0: 1, op1: 3, crn: 7, crm: 4, op2: 1 } }, pc: ",
    "invalidate TLB #2: Err(PrivilegedInstruction { operation: SystemOperation { operation: SystemEncoding { op0: 1, op1: 0, crn: 8, crm: 7, op2: 0 } }, pc: ",
    ": read of system register CNTPCT_EL0",
    "read the physical counter #2: Err(PrivilegedInstruction",
    ": write of system register CNTV_CVAL_EL0",
    "set the kernel's timer deadline #2: Err(PrivilegedInstruction",
    ": read of system register PMCCNTR_EL0",
    "reset the PMU counters #2: Err(PrivilegedInstruction { operation: SystemRegister { read: false, register: SystemEncoding { op0: 3, op1: 3, crn: 9, crm: 12, op2: 0 } }, pc: ",
    ": read of system register MDCCSR_EL0",
    "read the debug channel status #2: Err(PrivilegedInstruction { operation: SystemRegister { read: true, register: SystemEncoding { op0: 2, op1: 3, crn: 0, crm: 1, op2: 0 } }, pc: ",
    "write to the debug channel #2: Err(PrivilegedInstruction { operation: SystemRegister { read: false, register: SystemEncoding { op0: 2, op1: 3, crn: 0, crm: 5, op2: 0 } }, pc: ",
    ": debug halt (HLT/DCPS)",
    "semihosting exit #2: Err(PrivilegedInstruction { operation: DebugHalt, pc: ",
    "failed: breakpoint (BRK #0x5) at pc 0xffffff80",
    "breakpoint #2: Err(Breakpoint { imm: 5, pc: ",
    "SVE instruction #2: Err(",
    "SME instruction #2: Err(",
    "isolated faults ok",
];

/// What `isolated_values` must print on every board.
const ISOLATED_VALUES: &[&str] = &[
    "u64: Ok(42)",
    "array: Ok([0, 1, 4, 9, 16, 25, 36, 49])",
    "1 KiB value: true",
    "unit: Ok(())",
    "4 KiB result on a 4 KiB stack: Some(ResultTooLarge { size: 4096, stack: 4096 })",
    "stack_size(0): Ok(Ok(5))",
    "exit(0) before its value: Err(Exited { status: 0 })",
    "ilusion::exit(7): Err(Exited { status: 7 })",
    "ilusion::exit(-1): Err(Exited { status: 4294967295 })",
    "ilusion::exit(0): Ok(())",
    "exit with a bad value: refused, task went on: Ok(99)",
    "EL0 clock: inside the kernel's readings true, busy 2 ms and 5 ms in all true, since_boot agrees true",
    "frames back: true",
    "isolated values ok",
];

const CASES: &[Case] = &[
    case("hello", "hello", 0, &[BANNER, "hello from "]),
    // QEMU virt runs 4 cores by default (boards/qemu-virt/qemu.args): started
    // by PSCI CPU_ON (HVC at EL1, SMC at EL2) or from the holding pen (EL3).
    virt("boot at EL1, GICv2", &[], &["(EL1 at boot, 4 cores,", "RAM, GICv2", "hello from qemu-virt"]),
    virt("boot at EL2", &["-machine", "virtualization=on"], &["(EL2 at boot, 4 cores,", "hello from qemu-virt"]),
    virt("boot at EL3", &["-machine", "secure=on"], &["(EL3 at boot, 4 cores,", "hello from qemu-virt"]),
    virt("GICv3 at EL1", &["-machine", "gic-version=3"], &["(EL1 at boot, 4 cores,", "RAM, GICv3"]),
    virt("GICv3 at EL2", &["-machine", "virtualization=on,gic-version=3"], &["(EL2 at boot, 4 cores,", "RAM, GICv3"]),
    virt("GICv3 at EL3", &["-machine", "secure=on,gic-version=3"], &["(EL3 at boot, 4 cores,", "RAM, GICv3"]),
    virt("one core (-smp 1)", &["-smp", "1"], &["(EL1 at boot, 1 core, 1024 MiB", "hello from qemu-virt"]),
    virt("eight cores (-smp 8, GICv3)", &["-smp", "8", "-machine", "gic-version=3"], &["(EL1 at boot, 8 cores,", "hello from"]),
    virt("2 GiB of RAM from the device tree", &["-m", "2G"], &["2048 MiB RAM", "hello from"]),
    Case {
        name: "raw image boot",
        image: "hello",
        on: On::Board("qemu-virt"),
        qemu: &[],
        raw: true,
        input: None,
        exit: Some(0),
        expect: &[BANNER, "hello from qemu-virt"],
    },
    pi(
        "rpi3",
        "ELF boot at EL3",
        "hello",
        false,
        None,
        &["rpi3 (EL3 at boot, 4 cores, 960 MiB RAM", PI3_IRQ, "hello from rpi3"],
    ),
    pi("rpi3", "raw image boot at EL2", "hello", true, None, &["rpi3 (EL2 at boot, 4 cores,", PI3_IRQ, "hello from rpi3"]),
    pi("rpi3", "raw image: console input", "uart_echo", true, ECHO, &["echo: [ping pong]", "echo: [second]"]),
    Case { qemu: ICOUNT, ..pi("rpi3", "raw image: timer interrupts", "timer", true, None, &["timer ok"]) },
    pi(
        "rpi4",
        "ELF boot at EL3",
        "hello",
        false,
        None,
        &["rpi4 (EL3 at boot, 4 cores, 960 MiB RAM", PI4_IRQ, "hello from rpi4"],
    ),
    pi("rpi4", "raw image boot at EL2", "hello", true, None, &["rpi4 (EL2 at boot, 4 cores,", PI4_IRQ, "hello from rpi4"]),
    pi("rpi4", "raw image: console input", "uart_echo", true, ECHO, &["echo: [ping pong]", "echo: [second]"]),
    Case { qemu: ICOUNT, ..pi("rpi4", "raw image: timer interrupts", "timer", true, None, &["timer ok"]) },
    // A kernel task's hvc #0 and smc #0 (tests/guest/firmware_calls.rs), on
    // every core: x0 = -1 (NOT_SUPPORTED) from QEMU's PSCI or boot.s's
    // EL2/EL3 stub, or an undefined instruction that ends the task alone.
    // A call into an EL2 or EL3 without vectors hung the machine before.
    // Four cores on virt whatever ILUSION_TEST_CORES says: core 3's lines
    // are expected (the secondary cores' own stub is what is checked).
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "4"],
        ..case("firmware calls at EL1: hvc answered by QEMU, smc undefined", "firmware_calls", 0, &[
            "hvc #0 on core 0: x0 = -1", "hvc #0 on core 3: x0 = -1",
            "smc #0 on core 0: the task failed: illegal instruction", "smc #0 on core 3: the task failed: illegal instruction",
            "the machine goes on",
        ])
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "4", "-machine", "virtualization=on"],
        ..case("firmware calls from a kernel started at EL2: hvc answered by boot.s's stub", "firmware_calls", 0, FIRMWARE_CALLS_EL2)
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "4", "-machine", "secure=on"],
        ..case("firmware calls from a kernel started at EL3: smc answered by boot.s's stub", "firmware_calls", 0, FIRMWARE_CALLS_EL3)
    },
    Case { exit: Some(0), ..pi("rpi3", "firmware calls (ELF, EL3): smc answered, hvc undefined", "firmware_calls", false, None, FIRMWARE_CALLS_EL3) },
    Case { exit: Some(0), ..pi("rpi3", "firmware calls (raw image, EL2): hvc and smc answered", "firmware_calls", true, None, FIRMWARE_CALLS_EL2) },
    Case { exit: Some(0), ..pi("rpi4", "firmware calls (ELF, EL3): smc answered, hvc undefined", "firmware_calls", false, None, FIRMWARE_CALLS_EL3) },
    Case { exit: Some(0), ..pi("rpi4", "firmware calls (raw image, EL2): hvc and smc answered", "firmware_calls", true, None, FIRMWARE_CALLS_EL2) },
    // The counter frequency (tests/guest/counter_frequency.rs): CNTFRQ_EL0
    // as set, or the board's crystal, with a warning, where a firmware left
    // it at 0 (time was counted in 1 Hz: boot waited a million seconds for
    // the other cores, and sleeps never ended).
    // (The sleep is checked against the counter at 62.5 MHz only: on
    // `-cpu max`, 1 GHz, the other checks.)
    case("counter frequency: time counts in CNTFRQ_EL0", "counter_frequency", 0, &[
        "ok counts_in_the_right_frequency",
        "ok instant_counts_100_ms",
        "ok el0_counts_in_the_right_frequency",
        "all checks passed",
    ]),
    Case {
        on: On::Board("qemu-virt"),
        // cortex-a72 whatever ILUSION_TEST_CPU says: its counter runs at
        // the 62.5 MHz the board falls back to (`-cpu max`'s at 1 GHz).
        qemu: cntfrq_zeroing_firmware!(["-machine", "secure=on", "-cpu", "cortex-a72"] "0x40100000", "0x40100004", "0x40100008", "0x40100010", "0x40200000"),
        ..case("counter frequency: a firmware that left CNTFRQ_EL0 at 0 (the board's, with a warning)", "counter_frequency", 0, &[
            "CNTFRQ_EL0 is 0: the firmware did not set the counter frequency; using the board's 62500000 Hz",
            "CNTFRQ_EL0 reads 0 Hz; time counts in 62500000 Hz",
            "ok sleep_takes_100_ms",
            "ok el0_counts_in_the_right_frequency",
            "all checks passed",
        ])
    },
    Case {
        qemu: cntfrq_zeroing_firmware!([] "0x70000", "0x70004", "0x70008", "0x70010", "0x80000"),
        ..pi("rpi3", "counter frequency: a firmware that left CNTFRQ_EL0 at 0 (the board's, with a warning)", "counter_frequency", false, None, cntfrq_zero_expect!("19200000"))
    },
    Case {
        qemu: cntfrq_zeroing_firmware!([] "0x70000", "0x70004", "0x70008", "0x70010", "0x80000"),
        ..pi("rpi4", "counter frequency: a firmware that left CNTFRQ_EL0 at 0 (the board's, with a warning)", "counter_frequency", false, None, cntfrq_zero_expect!("54000000"))
    },
    case("exit(42)", "exit_code", 42, &["exiting with 42"]),
    // The image benches/profile-pairs profiles: every unpark found the task parked.
    case("profiling image: park/unpark pairs", "park_pairs_unchecked", 0, &["park_pairs: 1000 pairs, count 2000"]),
    // No device tree: RAM and model come from the firmware's mailbox. QEMU gives
    // the ARM its 1 GiB low RAM minus the VideoCore's 64 MiB (vcram-size), 960 MiB.
    pi("rpi3", "mailbox: RAM and model from the firmware", "hello", false, None, &[
        "rpi3 (EL3 at boot, 4 cores, 960 MiB RAM",
        "board: Raspberry Pi 3 Model B rev 1.2 (revision code 0xa02082)",
    ]),
    pi("rpi4", "mailbox: RAM and model from the firmware", "hello", true, None, &[
        "rpi4 (EL2 at boot, 4 cores, 960 MiB RAM",
        "board: Raspberry Pi 4 Model B rev 1.5 (revision code 0xb03115)",
    ]),
    Case {
        qemu: &["-global", "bcm2835-fb.vcram-size=0x8000000"],
        ..pi("rpi3", "mailbox: RAM follows the VideoCore's share", "hello", true, None, &["896 MiB RAM"])
    },
    Case {
        qemu: &["-global", "bcm2835-fb.vcram-size=0x8000000"],
        ..pi("rpi4", "mailbox: RAM follows the VideoCore's share", "hello", false, None, &["896 MiB RAM"])
    },
    // The VideoCore takes all but 512 KiB: the ARM's RAM ends where the image
    // starts. Boot stops saying so (it panicked in the heap allocator's crate
    // with "assertion failed: start <= end", naming nothing).
    Case {
        qemu: &["-global", "bcm2835-fb.vcram-size=0x3ff80000"],
        exit: Some(101),
        ..pi("rpi3", "mailbox: RAM that ends before the image's end is named as the problem", "hello", false, None, &[
            "the firmware leaves the ARM RAM up to 0x80000 (512 KiB), which ends before the image does (at 0x",
        ])
    },
    Case {
        qemu: &["-global", "bcm2835-fb.vcram-size=0x3ff80000"],
        exit: Some(101),
        ..pi("rpi4", "mailbox: RAM that ends before the image's end is named as the problem", "hello", true, None, &[
            "the firmware leaves the ARM RAM up to 0x80000 (512 KiB), which ends before the image does (at 0x",
        ])
    },
    // GPIO (tests/guest/gpio.rs explains how the edge is simulated); blink on every board.
    pi("rpi3", "gpio: pins, errors, edge interrupt", "gpio", false, None, GPIO_PI3),
    pi("rpi3", "raw image: gpio", "gpio", true, None, GPIO_PI3),
    pi("rpi4", "gpio: pins, errors, edge interrupt", "gpio", false, None, GPIO_PI4),
    pi("rpi4", "raw image: gpio", "gpio", true, None, GPIO_PI4),
    Case { on: On::Board("qemu-virt"), ..case("gpio: no GPIO on virt", "gpio", 0, &["gpio: no GPIO: this board (qemu-virt) has no GPIO"]) },
    pi("rpi3", "blink example", "blink", false, None, &["LED behind the firmware's GPIO expander", "blink 5/5: LED off", "blink: done"]),
    pi("rpi4", "blink example", "blink", false, None, &["blink 5/5: LED on (GPIO 42 reads high)", "blink 5/5: LED off (GPIO 42 reads low)", "blink: done"]),
    Case { on: On::Board("qemu-virt"), ..case("blink example", "blink", 0, &["blink: this board (qemu-virt) has no GPIO"]) },
    // QEMU exits on the guest's reset (-no-reboot), status 0; halting instead times out.
    Case {
        name: "reboot resets the machine (-no-reboot: QEMU exits)",
        image: "reboot",
        on: On::AllBoards,
        qemu: &["-no-reboot"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["rebooting the machine"],
    },
    Case {
        name: "reboot from a kernel started at EL2 (PSCI through smc)",
        image: "reboot",
        on: On::Board("qemu-virt"),
        qemu: &["-no-reboot", "-machine", "virtualization=on"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["(EL2 at boot", "rebooting the machine"],
    },
    case(
        "panic exits 101",
        "panic",
        101,
        &[
            "*** on core 0 (4 cores up): stopping the others",
            "*** panicked at tests/guest/panic.rs:",
            "deliberate panic: test",
            "backtrace:",
            "panic::fail",
        ],
    ),
    case(
        "an interrupt handler that runs off its kernel stack stops the machine with a report",
        "kernel_stack_overflow",
        101,
        &[
            "a timer handler with a 16 KiB buffer, every millisecond",
            "*** panicked at src/arch/aarch64/exception.rs:",
            "kernel stack overflow: kernel_stack_overflow::greedy_handler+0x",
            "ran off its task's 8 KiB kernel stack, touching 0x",
            "backtrace:",
            "ilusion::sched::timer::target::interrupt",
        ],
    ),
    case(
        "an interrupt handler that tries to block stops the machine with a report",
        "irq_blocks",
        101,
        &[
            "a timer handler that sleeps, every millisecond",
            "an interrupt handler tried to block",
            "handlers must not wait; wake a task to do it",
            "backtrace:",
            "ilusion::sched::timer::target::interrupt",
        ],
    ),
    // A software interrupt registered by a task on one core reaches its
    // handler raised on any core (GICv3: every redistributor enabled).
    Case {
        on: On::Board("qemu-virt"),
        ..case(
            "irq: a software interrupt registered on one core runs its handler on every core (GICv2)",
            "irq_private_cores",
            0,
            IRQ_PRIVATE_CORES,
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-machine", "gic-version=3"],
        ..case(
            "irq: a software interrupt registered on one core runs its handler on every core (GICv3)",
            "irq_private_cores",
            0,
            IRQ_PRIVATE_CORES,
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-machine", "secure=on,gic-version=3"],
        ..case(
            "irq: a software interrupt registered on one core runs its handler on every core (GICv3 at EL3)",
            "irq_private_cores",
            0,
            IRQ_PRIVATE_CORES,
        )
    },
    // A handler's `park` or `join` about the task it interrupted is a
    // handler's wait, refused as such (software interrupts: GIC boards).
    Case {
        name: "an interrupt handler's park, with the interrupted task's unpark token there, stops the machine with a report",
        image: "handler_waits",
        on: On::Board("qemu-virt"),
        qemu: &[],
        raw: false,
        input: Some(("which misuse (park, join)?", "park\r")),
        exit: Some(101),
        expect: &[
            "raising the interrupt (park handler)",
            "an interrupt handler tried to block",
            "handlers must not wait; wake a task to do it",
            "handler_waits::parking_handler",
        ],
    },
    Case {
        name: "an interrupt handler's join of the interrupted task is reported as a handler's, not a self-join",
        image: "handler_waits",
        on: On::Board("qemu-virt"),
        qemu: &[],
        raw: false,
        input: Some(("which misuse (park, join)?", "join\r")),
        exit: Some(101),
        expect: &[
            "raising the interrupt (join handler)",
            "an interrupt handler tried to block",
            "handlers must not wait; wake a task to do it",
            "handler_waits::joining_handler",
        ],
    },
    case(
        "handlers: a yield or a kill of the interrupted task switches nothing inside; an exception handler's wake runs at its end",
        "irq_handler_switches",
        0,
        &[
            "ok handler_yield_does_not_switch",
            "ok handler_kill_ends_task_after_handler",
            "ok exception_handler_wake_runs_at_its_end",
            "ok handler_spawn_runs_after_handler",
            "all checks passed",
        ],
    ),
    case(
        "null dereference",
        "fault_null",
        102,
        &[
            "*** on core 0 (4 cores up): stopping the others",
            "*** unhandled exception: data abort (read) from EL1: translation fault, level 1",
            "fault address (FAR) 0x0000000000000000 (null pointer)",
            "ELR  0x",
            "x29 0x",
            "backtrace:",
            "fault_null::read_null",
        ],
    ),
    case(
        "write to .text",
        "fault_write_text",
        102,
        &[
            "*** unhandled exception: data abort (write) from EL1: permission fault, level 3",
            "fault_write_text::write_to_code",
        ],
    ),
    case(
        "execute from .data",
        "fault_exec_data",
        102,
        &[
            "*** unhandled exception: instruction abort (execute) from EL1: permission fault, level 3",
            "fault address (FAR) 0xffffff80",
            "(the image's .data or .bss)",
        ],
    ),
    case(
        "undefined instruction",
        "fault_undefined",
        102,
        // main is inlined into ilusion_main; the runner gives its line.
        &["*** unhandled exception: undefined instruction", "ilusion_main+0x", "(inlined: tests/guest/fault_undefined.rs:"],
    ),
    case(
        "stack overflow",
        "stack_overflow",
        102,
        &[
            "*** unhandled exception: data abort (write) from EL1: translation fault, level 3",
            "(stack guard page: stack overflow)",
            "stack_overflow::recurse",
            "more times",
        ],
    ),
    case(
        "breakpoint handler",
        "brk_handler",
        102,
        &["breakpoint handled 1 time(s)", "*** unhandled exception: breakpoint (BRK #0x7)"],
    ),
    // Since tasks, the heap also holds the main task's stacks: the guest checks "as before", not 0.
    case("heap", "heap", 0, &["in use after dropping them:", "heap ok"]),
    case(
        "small blocks: size classes and a block pool shared by every core, contents intact",
        "small_blocks",
        0,
        &[
            "ok heap_locked_on_several_cores",
            "ok pool_blocks_never_shared",
            "ok pool_every_block_free_once",
            "ok foreign_block_refused",
            "ok heap_blocks_never_shared",
            "ok heap_back_to_baseline",
            "all checks passed",
        ],
    ),
    case(
        "out of memory",
        "oom",
        101,
        &["memory allocation of", "out of memory: allocation of", "(align 1) failed; heap:"],
    ),
    // Under icount the generic timer follows the instructions executed, so the
    // count is exact whatever the host's load (without it, a descheduled QEMU
    // can miss the last ticks before the guest stops the timer).
    Case { qemu: ICOUNT, ..case("timer interrupts at 1 kHz", "timer", 0, &["timer ok", "200 ticks in"]) },
    case(
        "irq registration errors",
        "irq_api",
        0,
        &[
            "register(5000): interrupt 5000 is out of range",
            "] refused: true",
            "already has a handler",
            "is the kernel's own (timer, console, IPI or GPIO)",
            "): interrupt", // unregister(100) on a GIC, (42) on the Pi 3
            "has no handler",
            "): Err(NoSuchInterrupt(", // unregister(288) on QEMU virt, (224) on the Pi 4, (96) on the Pi 3
            "raising the IPIs as software interrupts refused: true",
            "own handler registered and unregistered: Ok(())",
            "a sleep still ends: true",
            "irq api ok",
        ],
    ),
    Case {
        name: "console input echo",
        image: "uart_echo",
        on: On::AllBoards,
        qemu: &[],
        raw: false,
        input: ECHO,
        exit: Some(0),
        expect: &["echo: [ping pong]", "echo: [second]"],
    },
    case("isolation: kernel-task APIs in an isolated task end it, reported as kernel-only", "isolated_kernel_api", 0, &[
        "ok mutex_in_an_isolated_task",
        "ok semaphore_in_an_isolated_task",
        "ok set_periodic_in_an_isolated_task",
        "ok irq_register_in_an_isolated_task",
        "ok spawn_in_an_isolated_task",
        " (kernel-only: ilusion's APIs for kernel tasks, such as sync, irq, task::spawn and time::set_periodic, fail so in an isolated task, which reaches the kernel through system calls only: ipc channels, console, time, exit)",
        "ok interrupt_left_free",
        "all checks passed",
    ]),
    Case {
        name: "console input in an isolated task: through system calls, bad buffers refused",
        image: "isolated_console_input",
        on: On::AllBoards,
        qemu: &[],
        raw: false,
        input: ECHO,
        exit: Some(0),
        expect: &[
            "nothing typed yet: None",
            "isolated echo: [ping pong]",
            "isolated echo: [second]",
            "no more input: None",
            "console_read_line to null: Err(BadAddress)",
            "console_read to a kernel address: Err(BadAddress)",
            "console_read of nothing: Err(InvalidArgument)",
            "reader: Ok(())",
            "ticker kept running: true",
        ],
    },
    // The serial shell (tests/guest/shell_script.rs), typed at by SHELL_SCRIPT.
    case(
        SHELL_EXAMPLE_CASE,
        "shell",
        0,
        &["shell example: the isolated task \"counter\" is task 5", "   4 spinner          "],
    ),
    case(
        SHELL_CASE,
        "shell_script",
        0,
        &[
            "shell: there is a command named \"ps\" already",
            "shell: \"two words\" is not a command name (1 to 16 printable characters, no spaces)",
            "ilusion shell: `help` lists the commands",
            // The bell: only the overlong line rings it.
            "\x07",
        ],
    ),
    case(
        "checked user copies refuse bad pointers",
        "user_access",
        0,
        &[
            "null: Err(Fault)",
            "unmapped: Err(Fault)",
            "kernel address: Err(NotUserAddress)",
            "huge length: Err(NotUserAddress)",
            "wrapping range: Err(Overflow)",
            "user access ok",
        ],
    ),
    Case {
        name: "PAN on where the CPU has it",
        image: "user_access",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["PAN on)", "PAN: on", "user access ok"],
    },
    // Tasks (scheduling, sync, per-task stacks). Scheduling runs under
    // instruction counting, so the timing checks do not depend on the host's load.
    Case {
        name: "tasks: priorities, round-robin, slices, preemption, sleep",
        image: "task_scheduling",
        on: On::Board("qemu-virt"),
        qemu: ICOUNT,
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "ok current_is_main",
            "ok current_in_task",
            "ok invalid_priority",
            "ok invalid_priority_names_the_ranges",
            "ok stack_too_large",
            "ok priority_order",
            "ok round_robin_yield",
            "ok cooperative_not_preempted",
            "ok time_slicing",
            "wake latency: worst",
            "ok interrupt_preemption_latency",
            "sleep: worst lateness ",
            "ok sleep_accuracy",
            "ok detached_result_dropped_in_task",
            "all checks passed",
        ],
    },
    case(
        "tasks: failures end only their task",
        "task_faults",
        0,
        &[
            "*** task 'panicker' (#4) panicked at tests/guest/task_faults.rs:",
            "ok panic_gives_err",
            "failed: memory access fault: Read of 0x10",
            "ok null_read_gives_err",
            "ok udf_gives_err",
            "*** task 'recursor' (#7) failed: stack overflow",
            "*** task 'recursor' (#8) failed: stack overflow",
            "ok others_keep_running",
            "ok mutex_poisoned",
            "ok try_lock_poisoned",
            "*** task 'syscaller' (#10) failed: unexpected exception: supervisor call (SVC #0) (ESR 0x56000000) at pc",
            "  a system call from a kernel task: syscall::user is how isolated tasks reach the kernel; a kernel task calls ilusion's APIs directly (time::sleep, task::yield_now, ilusion::exit...), or takes SVCs with exception::set_handler",
            "ok kernel_task_system_call_gives_err",
            "ok bystander_unharmed",
            "all checks passed",
        ],
    ),
    // Isolated tasks (own address spaces at EL0).
    case(
        "isolation: tasks at EL0 print, yield, sleep and give their frames back",
        "isolated_tasks",
        0,
        &[
            "user view: OS data unmapped true, constants EL0-readable true, code EL0 execute-only true",
            "isolated 7: at EL0, stack at 0x3fffffff",
            "isolated 8: at EL0, stack at 0x3fffffff",
            "isolated 7: round 2",
            "isolated 8: round 2",
            "isolated 7: thread register kept: true",
            "isolated 8: thread register kept: true",
            "isolated 7: slept, done",
            "isolated 8: slept, done",
            "task 'seven' (#2) joined: Ok(())",
            "task 'eight' (#3) joined: Ok(())",
            "*** task 'panicky' (#4) panicked at tests/guest/isolated_tasks.rs:",
            "panic #1: Err(Panic { message: \"limit 4 is over 3\" }): ok",
            "panic #2: Err(Panic { message: \"limit 5 is over 3\" }): ok",
            "frames back to start: true",
            "isolated tasks ok",
        ],
    ),
    case("isolation: every fault ends only its task, twice, exact reasons", "isolated_faults", 0, ISOLATED_FAULTS),
    case(
        "isolation: ASIDs run out and are reused while tasks keep their memory",
        "asid_rollover",
        0,
        &["400 short tasks, 0 wrong; long-lived: Ok(()) Ok(()); new ASID generations: ", "asid rollover ok"],
    ),
    // Memory on many cores (issue 12): the same with 4 cores present, and
    // rollovers started on every core online while the others run isolated tasks.
    Case {
        qemu: &["-smp", "4"],
        on: On::Board("qemu-virt"),
        ..case(
            "isolation (-smp 4): ASIDs run out and are reused while tasks keep their memory",
            "asid_rollover",
            0,
            &["400 short tasks, 0 wrong; long-lived: Ok(()) Ok(()); new ASID generations: ", "asid rollover ok"],
        )
    },
    case(
        "isolation: ASIDs roll over on every core while the others run isolated tasks",
        "asid_rollover_cores",
        0,
        &["short tasks, 0 wrong; long-lived failed: 0; new ASID generations: ", "frames freed true", "asid rollover on every core ok"],
    ),
    Case {
        qemu: &["-smp", "4"],
        on: On::Board("qemu-virt"),
        ..case(
            "isolation (-smp 4): ASIDs roll over on every core while the others run isolated tasks",
            "asid_rollover_cores",
            0,
            &["short tasks, 0 wrong; long-lived failed: 0; new ASID generations: ", "frames freed true", "asid rollover on every core ok"],
        )
    },
    case(
        "isolation: heap at EL0, demand paging, memory limit",
        "isolated_heap",
        0,
        &[
            "EL0 collections: box 42, sum of squares 333833500, text 'isolated heap says hello', in own heap true",
            "collections: Ok(())",
            "reserve 1024 MiB, touched 3 pages: resident +12288 bytes (3 pages), tables +0, contents true",
            "three pages: Ok(())",
            "console_write from an untouched heap page: 1 byte, resident +4096",
            "kernel copy: Ok(())",
            "64 KiB reserve: 1 MiB refused true, 32 KiB granted true",
            "small reserve: Ok(())",
            "pools past the limit: Some(OutOfMemory), Some(OutOfMemory); one that fits: Ok(true)",
            "pools: Ok(())",
            "past the limit: refused true, true; 1 MiB granted true",
            "fallible: Ok(())",
            "*** task 'hog' (#9) failed: out of memory at 0x100fea000: 16769024 bytes held, limit 16777216 bytes",
            "  memory allocation of 4096 bytes failed: its heap cannot grow by that within its memory limit",
            "memory limit #1: Err(OutOfMemory { addr: 4311654400, held: 16769024, limit: 16777216 }), watchdog true, frames freed true",
            "*** task 'hog' (#10) failed: out of memory at 0x100fea000",
            "memory limit #2: Err(OutOfMemory { addr: 4311654400, held: 16769024, limit: 16777216 }), watchdog true, frames freed true",
            "*** task 'raw hog' (#11) failed: out of memory at 0x104feb000: 16769024 bytes held, limit 16777216 bytes",
            "  data abort (write) from EL0: translation fault",
            "memory limit #3: Err(OutOfMemory { addr: 4378767360, held: 16769024, limit: 16777216 }), watchdog true, frames freed true",
            "*** task 'huge vec' (#12) failed: out of memory at 0x100000000: ",
            "  memory allocation of 33554432 bytes failed: its heap cannot grow by that within its memory limit",
            "huge vec: Err(OutOfMemory { addr: 4294967296, held: ",
            "console_write of 65600 bytes: Ok(65600)",
            "big write: Ok(())",
            "spawn errors: Some(BadHeapReserve { requested: 0, max: ",
            "Some(MemoryLimitTooSmall { requested: 4096, min: ",
            "frames back to start: true",
            "isolated heap ok",
        ],
    ),
    case(
        "isolation example: dump, fault report, supervised restarts, others unaffected",
        "isolation",
        0,
        &[
            "task 'alpha' (#2): address space",
            "  0x0000003fffffc000-0x0000004000000000     16 KiB  rw-  normal  Stack",
            "--x  normal  \"image code (shared)\"",
            "[vandal] writing to kernel memory at 0xffffff80",
            "*** task 'vandal' (#5) failed: memory access fault: Write of 0xffffff80",
            "[supervisor] 'vandal' failed (memory access fault: Write of",
            "restart 2 (UpTo(2))",
            "*** task 'vandal' (#7) failed: memory access fault: Write of",
            "[alpha] round 4: total 12",
            "[beta] round 4: total 20",
            "[alpha] totals [3, 6, 9, 12]; resident 28672 bytes (8192 more for the heap)",
            "[beta] totals [5, 10, 15, 20]; resident 28672 bytes (8192 more for the heap)",
            "task 'alpha' (#2) joined: Ok(())",
            "task 'beta' (#3) joined: Ok(())",
            // The failure as its report says it, addresses in hex (its Debug printed them in decimal).
            "vandal: 2 restarts, last failure: memory access fault: Write of 0xffffff80",
            "kernel counter untouched: true, frames back to start: true",
            // mm::maps midway, for `just maps`: the regions of the figure.
            "@@ilusion-maps v1 task=2 name=alpha",
            "r ff000 100000 bss rw- ",
            "r 100000 101000 data rw- 1 1",
            "r 100000000 140000000 heap rw- ", // resident: as far as it got by then
            "r 3ffffec000 3fffffc000 guard --- 0 0",
            "r 3fffffc000 4000000000 stack rw- 4 4",
            "kernel --- 0 0",
            " code --x ",
            " rodata r-- ",
            "10000000000000000 kernel --- 0 0",
            "@@end regions=9",
            "@@ilusion-maps v1 task=3 name=beta",
        ],
    ),
    Case {
        name: "isolation: operation costs (instructions, under icount, one core)",
        image: "bench_isolation",
        on: On::Board("qemu-virt"),
        // The budgets are one core's, as `just bench` measures them.
        qemu: &["-smp", "1", "-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "cost isolated_spawn_join_empty ",
            "cost null_syscall ",
            "cost isolated_yield_2_tasks ",
            "cost channel_message_isolated ",
            "cost alloc_free_128_isolated ",
            "cost page_fault_demand_zero ",
            "cost isolated_task_bytes ",
            "isolation costs within budgets: true",
        ],
    },
    case(
        "isolation: an attacker's system calls and faults at EL0, and a storm of them on every core",
        "isolated_attacks",
        0,
        &[
            "ok panic_with_bad_pointers",
            "ok exit_value_past_the_stack_top",
            "ok receive_past_the_stack_top_keeps_the_message",
            "ok system_call_copies_past_the_memory_limit",
            "ok wfe_loop_is_preempted_and_killed",
            "ok frame_larger_than_the_stack_guard",
            "ok allocation_past_the_reserve",
            "ok receive_almost_forever",
            "ok storm_of_attackers_on_every_core",
            "all checks passed",
        ],
    ),
    case(
        "isolation: 100,000 random system calls, no kernel fault",
        "syscall_fuzz",
        0,
        &[
            "channel calls that crossed: Ok(",
            "fuzzer: 100000 random system calls: Ok(()), watchdog true, frames freed true",
            "syscall fuzzer ok",
        ],
    ),
    case(
        "ipc: channels between isolated and kernel tasks (round trip, refused calls, disconnection)",
        "isolated_channels",
        0,
        &[
            "producer: 5 round trips, every answer right",
            "round trip: producer Ok(()), consumer Ok(Ok(5))",
            "refused calls: Ok([-5, -5, -5, -5, -3, -2, -2, -4, -7, -2, -2, -4, 8])",
            "after them: received Ok(42), prober Ok(())",
            "disconnection: receiver Ok(()), sender Ok(())",
            "faulty sender: got Ok(5), then Err(Disconnected); joined Err(MemoryAccess { addr: 16, access: Write,",
            "frames back to start: true, heap back after the second round trip: true",
            "kernel endpoint in an isolated task: Ok(())",
            "1024-byte message there and back: true, echo Ok(())",
            "more urgent receiver ran at once: true, sender Ok(())",
            "isolated channels ok",
        ],
    ),
    case(
        "ipc: a shared region, read-write for one isolated task, read-only for others",
        "shared_regions",
        0,
        &[
            "region of 6000 bytes: 2 frames",
            "writer Ok(()), reader Ok(()), kernel sees the data: true",
            "*** task 'vandal' (#6) failed: memory access fault: Write of 0x3000001004",
            "read-only write #1: Err(MemoryAccess { addr: 206158434308, access: Write,",
            "exact true, data unchanged true, watchdog true",
            "read-only write #2: Err(MemoryAccess { addr: 206158434308, access: Write,",
            "map at the limit: [refused (out of memory), within the limit]: Ok([1, 1])",
            "shared segment full: SharedSegmentFull { requested: 17248030720, max: 17179869184 }: the regions shared with Builder::share need 17248030720 bytes of the task's shared segment (each rounded up to pages, a page apart), which holds 17179869184 bytes; endpoint released: true",
            "frames back to start: true",
            "shared regions ok",
        ],
    ),
    case(
        "ipc example: isolated producer and consumer, shared summary read-only for a third",
        "ipc",
        0,
        &[
            "  0x0000003000000000-0x0000003000001000      4 KiB  rw-  normal  Shared",
            "[filter] reading #1: 20250 m°C",
            "[filter] reading #5: 21250 m°C",
            "sensor joined: Ok(())",
            "filter joined: Ok(())",
            "[display] 5 readings, mean 20750 m°C (read-only view)",
            "display joined: Ok(())",
            "frames back to start: true",
        ],
    ),
    case(
        "lazy FP/SIMD: registers kept over preemption, handlers, yields; new tasks start at zero",
        "fp_lazy",
        0,
        &[
            "a new task starts with zeros: kernel true, isolated true",
            "held over preemption: 0 registers wrong, preempted yes",
            "float handler: 20 or more runs, 0 wrong",
            "d8-d15 across 500 yields: 0 wrong",
            "handler under a task rounding toward zero: 20 or more runs, 0 wrong; task's registers: 0 wrong",
            "lazy FP/SIMD ok",
        ],
    ),
    case(
        "memcpy, memmove, memset: every length to 300, alignment and overlap",
        "mem_routines",
        0,
        &["memcpy, memset: 81872 cases, 0 bytes wrong", "memmove: 24462 cases, 0 bytes wrong", "memory routines ok"],
    ),
    case(
        "interrupts and switches inside them keep x2-x30 (kernel and isolated tasks)",
        "interrupt_registers",
        0,
        &["ok kernel_tasks_keep_x2_x30", "ok isolated_tasks_keep_x2_x30", "ok interrupted_often", "all checks passed"],
    ),
    case(
        "isolation: syscalls keep x1-x30 and q0-q31 (fast path, yield, sleep), faults all",
        "syscall_registers",
        0,
        &[
            "fast calls keep x1-x30, q0-q31: abi 4, id matches, time rises: true",
            "task 0xaaaa000000000000: yield and sleep keep x1-x30, q0-q31",
            "task 0xbbbb000000000000: yield and sleep keep x1-x30, q0-q31",
            "task 0xaaaa000000000000: demand-paging faults keep x0-x30, q0-q31",
            "task 0xbbbb000000000000: demand-paging faults keep x0-x30, q0-q31",
            "switching calls: Ok(()) Ok(())",
            "syscall registers ok",
        ],
    ),
    case(
        "isolation: a frame given back reaches the next task zeroed",
        "frame_reuse",
        0,
        &["writer: Ok(())", "reader: 0 non-zero words of the stack", "reader: Ok(())", "frame reuse ok"],
    ),
    Case {
        name: "isolation with PAN on: tasks format, print and panic (user view of .rodata)",
        image: "isolated_tasks",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "GICv2, PAN on",
            "isolated 7: at EL0, stack at 0x3fffffff",
            "isolated 8: slept, done",
            "panic #2: Err(Panic { message: \"limit 5 is over 3\" }): ok",
            "frames back to start: true",
            "isolated tasks ok",
        ],
    },
    Case {
        name: "isolation with PAN on: 100,000 random system calls, no kernel fault",
        image: "syscall_fuzz",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "GICv2, PAN on",
            "fuzzer: 100000 random system calls: Ok(()), watchdog true, frames freed true",
            "syscall fuzzer ok",
        ],
    },
    Case {
        name: "isolation with PAN on: heap at EL0, demand paging, memory limit",
        image: "isolated_heap",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["GICv2, PAN on", "three pages: Ok(())", "kernel copy: Ok(())", "isolated heap ok"],
    },
    Case {
        name: "isolation with PAN on: channels between address spaces",
        image: "isolated_channels",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["GICv2, PAN on", "producer: 5 round trips, every answer right", "isolated channels ok"],
    },
    Case {
        name: "isolation with PAN on: shared regions",
        image: "shared_regions",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["GICv2, PAN on", "writer Ok(()), reader Ok(()), kernel sees the data: true", "shared regions ok"],
    },
    Case {
        name: "isolation: faults with PAN on",
        image: "isolated_faults",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: ISOLATED_FAULTS,
    },
    case(
        "tasks: mutex, inheritance, semaphore, condvar, channels",
        "task_sync",
        0,
        &[
            "ok mutex_dropped_with_guard_forgotten",
            "ok mutex_dropped_by_another_task_refused",
            "ok mutex_contention",
            "ok priority_inheritance",
            "ok semaphore_timeout",
            "ok semaphore_try_acquire_takes_one",
            "ok semaphore_equal_waiters_in_order",
            "ok semaphore_release_past_max_refused",
            "ok join_itself_fails",
            "tried to join itself: it would wait for its own end for ever",
            "ok condvar_timeout",
            "ok channel_order_and_disconnect",
            "ok recv_timeout",
            "ok send_to_dropped_receiver",
            "ok bounded_blocking_send",
            "ok rendezvous",
            "ok rendezvous_try_send",
            "ok rendezvous_receiver_gone",
            "all checks passed",
        ],
    ),
    case(
        "tasks: a locked mutex moved (guard forgotten) fails only its misusers; at most 32 held; deadlock cycles refused",
        "mutex_misuse",
        0,
        &[
            "ok moved_locked_mutex_dropped",
            "ok moved_locked_mutex_holder_ends",
            "this mutex was moved while locked (its guard forgotten): it can never be unlocked",
            "ok moved_locked_mutex_lock_refused",
            "this task holds 32 mutexes already, the most a task may hold at once",
            "ok held_mutexes_limit",
            "ok own_mutex_with_timeout",
            "Mutex::lock: a deadlock, each task waiting for a mutex the next holds: this task, #10, this task",
            "ok deadlock_cycle_of_2_refused",
            "Mutex::lock: a deadlock, each task waiting for a mutex the next holds: this task, #12, #13, this task",
            "ok deadlock_cycle_of_3_refused",
            "ok deadline_in_the_chain_is_no_deadlock",
            "all checks passed",
        ],
    ),
    Case {
        name: "tasks: FP state, channel stress, 10,000 tasks, no leak",
        image: "task_stress",
        on: On::Board("qemu-virt"),
        qemu: ICOUNT,
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "ok fp_preserved",
            "channel stress: 400000 messages",
            "ok channel_stress_exactly_once_in_order",
            "ok ten_thousand_tasks_alive",
            "ok spawn_join_no_leak",
            "all checks passed",
        ],
    },
    Case {
        name: "tasks: park/unpark (suspend/resume), from an SGI handler too",
        image: "task_park",
        on: On::Board("qemu-virt"),
        qemu: &[],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "ok park_unpark",
            "ok unpark_before_park",
            "ok token_serves_one_park",
            "ok sgi_unparks_urgent_task",
            "ok sgi_number_checked",
            "ok handler_wakes_most_urgent_first",
            "ok handler_wake_waits_for_cooperative_task",
            "all checks passed",
        ],
    },
    case(
        "tasks: a Mutex taken in an interrupt handler is refused, free or not (lock checks)",
        "mutex_in_handler",
        101,
        &["arming a timer handler that takes a free mutex", "a Mutex was locked (lock, try_lock or lock_timeout) in an interrupt handler"],
    ),
    case(
        "tasks: a fault in an interrupt handler stops the machine",
        "task_irq_fault",
        102,
        &[
            "arming a faulty timer handler",
            "*** unhandled exception: data abort (read)",
            "taken from current EL, SP_EL1",
        ],
    ),
    case(
        "tasks: a fault with interrupts masked stops the machine",
        "task_masked_fault",
        102,
        &["faulting with interrupts masked", "*** unhandled exception: data abort (read)", "backtrace:"],
    ),
    // Hardening: time-sharing and locks under careless and hostile use.
    Case {
        qemu: ICOUNT,
        ..case(
            "a preempted task keeps only the rest of its slice",
            "slice_fairness",
            0,
            &[
                "ok equal_spinners_alone_take_turns",
                "ok equal_share_with_1ms_ticker",
                "ok equal_share_with_5ms_ticker",
                "ok equal_share_with_9ms_ticker",
                "ok sleep_next_to_equal_busy_task",
                "ok sleep_next_to_equal_busy_isolated_task",
                "all checks passed",
            ],
        )
    },
    case(
        "application code runs in its task: panics in Display and Drop end only it",
        "app_code_in_task_context",
        0,
        &[
            "ok display_panics_in_println",
            "(printed from inside a Display)",
            "ok display_prints_in_println",
            "*** task #",
            "panicked while formatting its panic message",
            "ok panic_message_panics",
            "result dropping: printing and sleeping",
            "ok detached_result_drops_in_task",
            "ok ended_result_drops_in_dropper",
            "ok panicking_result_drop_fails_the_dropper",
            "ok panicking_result_drop_frees_the_ended_task",
            "ok a_looker_never_drops_a_result",
            "ok a_refused_spawn_gives_back_before_it_drops_the_closure",
            "all checks passed",
        ],
    ),
    Case {
        qemu: ICOUNT,
        ..case(
            "soak: a seeded random mix of tasks, channels, regions and faults; memory back to baseline",
            "soak",
            0,
            &["soak: seed 1", "ok watchdog_kept_running", "ok memory_back_to_baseline", "all checks passed"],
        )
    },
    Case {
        qemu: ICOUNT,
        ..case(
            "spin locks: no deadlock with interrupts or more urgent tasks",
            "lock_stress",
            0,
            &[
                "ok irq_register_20000_pairs",
                "ok spawn_from_two_priorities",
                "ok same_name_locks_on_two_cores",
                "ok one_lock_for_a_handler_and_moving_tasks",
                "all checks passed",
            ],
        )
    },
    // With several cores, sleeping opens a critical section, which the
    // checks refuse inside a spin lock before the switch comes; on one core
    // the kernel lock is not used, and the switch's own check names it.
    case(
        "spin locks: a critical section inside one is caught, by name",
        "lock_check_switch",
        101,
        &[
            "sleeping while holding a spin lock",
            "critical section opened inside spin lock 'careless lock' (spin locks come after the kernel lock)",
        ],
    ),
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "1"],
        ..case(
            "spin locks: held at a context switch is caught, by name (one core)",
            "lock_check_switch",
            101,
            &["sleeping while holding a spin lock", "spin lock 'careless lock' held at a context switch"],
        )
    },
    // A spin lock taken again on the core that holds it: found on the
    // contended path from the holder the lock word records, without the
    // checks too (as an application is built); the checks name the lock.
    case(
        "spin locks: taken again by its holder is caught, without the lock checks",
        "spin_relock_unchecked",
        101,
        &[
            "taking the lock again while holding it",
            "spin lock at 0x",
            " taken again on the core that holds it (a certain deadlock: interrupts are masked while it is held)",
        ],
    ),
    case(
        "spin locks: taken again by its holder is caught, by name (lock checks)",
        "spin_relock",
        101,
        &[
            "taking the lock again while holding it",
            "spin lock 'careless lock' taken again on the core that holds it (a certain deadlock: interrupts are masked while it is held)",
        ],
    ),
    // `with` inside `with` of one lock: the same holder asking again, on
    // one core too (where `with` used to skip the lock word: two `&mut`).
    case(
        "spin locks: with inside with of one lock is caught, without the lock checks",
        "spin_with_nested_unchecked",
        101,
        &["calling with again inside with", "spin lock at 0x", " taken again on the core that holds it"],
    ),
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "1"],
        ..case(
            "spin locks: with inside with of one lock is caught, without the lock checks (one core)",
            "spin_with_nested_unchecked",
            101,
            &["calling with again inside with", "spin lock at 0x", " taken again on the core that holds it"],
        )
    },
    // Without the lock checks too (as an application is built): a task that
    // blocks holding a spin lock is caught at the block, not blamed on the
    // next task that takes the lock.
    case(
        "spin locks: sleeping while holding one is caught at the sleep, without the lock checks",
        "spin_sleep_unchecked",
        101,
        &[
            "sleeper: sleeping while holding a spin lock",
            "tried to block or yield (a sleep, a lock, a channel, a join, a park) with interrupts masked: a spin lock is held",
            "ilusion::time::target::sleep",
        ],
    ),
    case(
        "spin locks: unmasking interrupts while one is held is caught, by name",
        "lock_check_unmask",
        101,
        &["unmasking interrupts while holding", "interrupts were unmasked while spin lock 'careless lock' was held"],
    ),
    // docs/03 shows the summary (its times depend on the host).
    case(
        "tasks example",
        "tasks",
        0,
        &["summary:", "  task           priority          items     worked  finished at", "all messages consumed (900)"],
    ),
    // The lines docs/09 shows.
    case(
        "philosophers example",
        "philosophers",
        0,
        &[
            "Aristotle ate 20 times",
            "Kant ate 20 times",
            "Spinoza ate 20 times",
            "Marx ate 20 times",
            "Russell ate 20 times",
            "every philosopher ate 20 times: no deadlock",
        ],
    ),
    // The micro-benchmark image docs/11 runs with `just run bench_tasks`
    // (one core, instruction counting): it prints each figure it names.
    Case {
        name: "bench_tasks example (docs/11): every figure printed, under icount, one core",
        image: "bench_tasks",
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "1", "-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "bench yield_coop ",
            "bench spawn_join ",
            "bench irq_entry_to_handler ",
            "bench switch_preempt_irq ",
            "bench timer_irq_to_task ",
            "bench mutex_uncontended ",
            "bench mutex_contended_switch ",
            "bench semaphore_give_take ",
            "bench semaphore_with_switch ",
            "bench channel_send_recv ",
            "bench alloc_free_128 ",
            "bench spin_lock_uncontended ",
            "bench critical_section_uncontended ",
        ],
    },
    // Time at its limits and the API's timeouts: instruction counting makes
    // every duration exact; on `-cpu max` the counter runs at 1 GHz, where
    // `u64::MAX` nanoseconds is the whole counter range.
    Case { qemu: ICOUNT, ..case("time: huge durations saturate to forever, nothing overflows", "time_limits", 0, TIME_LIMITS) },
    Case {
        name: "time at 1 GHz (-cpu max): huge durations saturate to forever, nothing overflows",
        image: "time_limits",
        on: On::Board("qemu-virt"),
        qemu: ICOUNT_1GHZ,
        raw: false,
        input: None,
        exit: Some(0),
        expect: TIME_LIMITS,
    },
    Case { qemu: ICOUNT, ..case("timeouts: lock, join, send, ipc receive, close; inheritance given back", "timeouts", 0, TIMEOUTS) },
    Case {
        name: "timeouts at 1 GHz (-cpu max): lock, join, send, ipc receive, close",
        image: "timeouts",
        on: On::Board("qemu-virt"),
        qemu: ICOUNT_1GHZ,
        raw: false,
        input: None,
        exit: Some(0),
        expect: TIMEOUTS,
    },
    case(
        "out of kernel memory: only the task that asked fails, the heap comes back exactly",
        "kernel_oom",
        0,
        &[
            "ok isolated_sender_ready",
            "*** task 'hog' (#",
            "ok hog_fails_alone",
            "ok heap_exhausted",
            "ok spawn_refused",
            "ok spawn_isolated_refused",
            "ok refused_spawn_released_its_grants",
            "ok box_fails_alone",
            "kernel victim 1 panicked with the heap full",
            "ok panic_reported_without_memory",
            "ok mpsc_send_fails_alone",
            "ok kernel_ipc_send_refused",
            "ok isolated_panic_reported_without_memory",
            "ok isolated_first_send_refused",
            "ok bystander_counts_on",
            "ok spawn_as_memory_comes_back",
            "ok isolated_send_refused_then_ok",
            "ok bystander_unharmed",
            "ok queue_mutex_poisoned",
            "ok kernel_hog_heap_back_to_baseline",
            "ok isolated_hog_fails_alone",
            "ok bystander_counts_on_after_isolated_hog",
            "ok isolated_hog_heap_back_to_baseline",
            "ok long_name_spawns_refused",
            "ok long_name_heap_back_to_baseline",
            "ok region_without_room_ends_its_task",
            "ok region_without_room_takes_no_frame",
            "ok holders_answer",
            "task 'mapped' (#",
            "): out of kernel memory for the table of its mappings",
            "ok list_ran_out_of_memory",
            "ok holders_give_back_when_out_of_memory",
            "ok held_task_unharmed",
            "ok absurd_sizes_reported_exactly",
            "ok absurd_sizes_heap_back_to_baseline",
            "all checks passed",
        ],
    ),
    // Under icount: the shares are counted in instructions. In host time a
    // host stall is charged to whichever spinner runs (69 % and 31 % seen
    // on a loaded host, over a second that lasted 1287 ms).
    Case {
        qemu: ICOUNT,
        ..case(
            "statistics: fair shares of a core, stack high-water marks within a page, page faults, task list",
            "task_stats",
            0,
            &[
                "ok equal_spinners_share_the_core",
                "ok spinners_switched_and_preempted",
                "ok core_busy_while_they_spin",
                "ok core_counts_interrupts_and_switches",
                "ok core_switches_outlive_tasks",
                "ok kernel_stack_high_water_within_a_page",
                "ok isolated_stack_high_water_within_a_page",
                "ok isolated_faults_and_memory",
                "ok sleeping_isolated_task",
                "ok idle_listed",
                "ok main_listed_running",
                "ok sleeper_sleeping",
                "ok waiter_blocked",
                "ok ids_unique",
                "ok stats_by_id",
                "ok stats_of_unknown_id",
                "all checks passed",
            ],
        )
    },
    // Under icount: how late a watcher wakes is counted in instructions.
    Case {
        qemu: ICOUNT,
        ..case(
            "address space of an isolated task with 8,192 pages: interrupts never wait for mm::maps, mm::dump or its frames freed",
            "maps_masked_time",
            0,
            &[
                "  0x0000000100000000-0x0000000101800000  24576 KiB  rw-  normal  Heap",
                "ok task_has_many_pages",
                "ok interrupts_never_wait_for_maps",
                "ok interrupts_never_wait_for_the_frames_freed",
                "ok interrupts_never_wait_for_a_detached_tasks_frames",
                "ok interrupts_never_wait_for_dump",
                "all checks passed",
            ],
        )
    },
    case("time: a periodic handler longer than its period leaves its core's tasks running, reported", "periodic_overrun", 0, &[
        "the periodic handler ran past its next period (it took ",
        "): the periods it overran are skipped",
        "ok tasks_run_beside_an_overrunning_handler",
        "ok the_handler_still_runs",
        "ok stopped_handler_runs_no_more",
        "all checks passed",
    ]),
    case(CONSOLE_MASKED_INPUT_CASE, "console_masked_input", 0, &[
        "read holding a spin lock: [masked]",
        "ok line_read_holding_a_spin_lock",
        "read in a handler: [handler]",
        "ok line_read_in_an_interrupt_handler",
        "all checks passed",
    ]),
    case(
        "console: a task waiting for input blocks (a less urgent task runs; a kill ends it)",
        "console_reader_blocks",
        0,
        &[
            "ok worker_runs_while_read_line_waits",
            "ok killed_in_read_line",
            "ok worker_runs_while_read_byte_waits",
            "ok killed_in_read_byte_blocking",
            "all checks passed",
        ],
    ),
    // Under icount: how late a watcher wakes is counted in instructions.
    Case {
        qemu: ICOUNT,
        ..case(
            "console: a long write_bytes never keeps interrupts waiting long",
            "console_masked_time",
            0,
            &[
                "line 0000 ....",
                "line 0767 ....",
                "ok lines_written_with_interrupts_taken",
                "ok long_line_written_with_interrupts_taken",
                "all checks passed",
            ],
        )
    },
    // Under icount: how late a watcher wakes is counted in instructions.
    Case {
        qemu: ICOUNT,
        ..case(
            "statistics of an isolated task with an 8 MiB stack: interrupts never wait for its scan",
            "stats_masked_time",
            0,
            &[
                "ok digger_went_deep",
                "ok deep_high_water_within_a_page",
                "ok interrupts_never_wait_for_the_scan",
                "all checks passed",
            ],
        )
    },
    // Under icount: how late a watcher wakes is counted in instructions.
    Case {
        qemu: ICOUNT,
        ..case(
            "task::list of 2,500 tasks while some end: interrupts never wait for all of them, each listed once, nothing leaked",
            "list_masked_time",
            0,
            &[
                "ok interrupts_never_wait_for_the_list",
                "ok each_list_holds_every_parked_task_once_in_order",
                "ok every_detached_result_dropped_once",
                "ok no_result_dropped_by_the_lister",
                "ok nothing_leaked",
                "all checks passed",
            ],
        )
    },
    Case {
        qemu: ICOUNT,
        ..case(
            "task::stats, kill and maps by id behind 2,500 tasks: the task found once and held, as quick as its handle",
            "find_by_id",
            0,
            &[
                "ok stats_by_id_as_the_handle",
                "ok stats_by_id_as_quick",
                "ok stats_by_id_interrupts_taken",
                "ok maps_by_id_found",
                "ok maps_by_id_as_quick",
                "ok maps_by_id_interrupts_taken",
                "ok unknown_id_refused",
                "ok kill_by_id",
                "ok killed_by_id_ends_killed",
                "ok kill_by_id_interrupts_taken",
                "ok joined_id_unknown",
                "ok nothing_leaked",
                "all checks passed",
            ],
        )
    },
    case(
        "kill: refusals, kernel tasks at their next block or yield, isolated tasks at once, 1,000 cycles leak nothing",
        "task_kill",
        0,
        &[
            "ok kill_idle_refused",
            "ok kill_main_refused",
            "ok kill_unknown_refused",
            "ok kill_ended_refused",
            "ok kernel_sleeper_killed",
            "ok kernel_mutex_waiter_killed",
            "ok mutex_fine_after_waiter_killed",
            "ok kernel_mutex_owner_killed",
            "ok mutex_of_killed_owner_poisoned_and_free",
            "ok kernel_yielder_killed",
            "ok self_kill_ends_at_once",
            "ok permit_waiter_killed_after_hand_over",
            "ok handed_permit_not_lost",
            "ok mutex_waiter_killed_after_hand_over",
            "ok handed_mutex_not_poisoned",
            "ok condvar_waiter_killed_after_notification",
            "ok condvar_notification_passed_on",
            "ok rendezvous_sender_killed",
            "ok killed_rendezvous_message_taken_back",
            "ok rendezvous_received_only_if_sent",
            "ok kernel_killed_before_it_ran",
            "ok kernel_killed_before_it_ran_ran_nothing",
            "ok isolated_spinner_killed",
            "ok isolated_receiver_killed",
            "ok killed_receiver_handle_closed",
            "ok isolated_sleeper_killed",
            "ok isolated_killed_before_it_ran",
            "ok killed_before_it_ran_ran_nothing",
            "ok kill_cycles_outcomes",
            "ok kill_cycles_heap_and_frames_at_baseline",
            "1000 kill cycles",
            "all checks passed",
        ],
    ),
    case(
        "leaks: 10,000 cycles of failing, panicking, faulting and restarted tasks leave heap and frames exactly as they were",
        "leak_cycles",
        0,
        &[
            "ok first_cycle_outcomes",
            "10000 more cycles in",
            "ok every_cycle_outcomes",
            "ok heap_and_frames_exactly_at_baseline",
            "all checks passed",
        ],
    ),
    Case {
        name: "out of kernel memory with PAN on: only the task that asked fails",
        image: "kernel_oom",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["GICv2, PAN on", "ok isolated_panic_reported_without_memory", "ok isolated_send_refused_then_ok", "all checks passed"],
    },
    // The harness itself: a hung guest is killed and its output kept.
    Case {
        name: "hung guest is killed",
        image: "hang",
        on: On::AllBoards,
        qemu: &[],
        raw: false,
        input: None,
        exit: None,
        expect: &["hanging on purpose"],
    },
    Case {
        name: "isolation: SVE and SME at EL0 are unavailable instructions (-cpu max)",
        image: "isolated_faults",
        on: On::Board("qemu-virt"),
        qemu: &["-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "SVE instruction #2: Err(UnavailableInstruction { extension: Sve, pc: ",
            ": SVE instruction at pc 0xffffff80",
            ": SVE is not enabled for tasks",
            "SME instruction #2: Err(UnavailableInstruction { extension: Sme, pc: ",
            "SVE true, SME true",
            "isolated faults ok",
        ],
    },
    Case {
        name: "isolation: values returned, exit(n), Instant at EL0",
        image: "isolated_values",
        on: On::AllBoards,
        qemu: ICOUNT,
        raw: false,
        input: None,
        exit: Some(0),
        expect: ISOLATED_VALUES,
    },
    Case {
        name: "isolation: values returned, exit(n), Instant at EL0 (-cpu max, 1 GHz counter)",
        image: "isolated_values",
        on: On::Board("qemu-virt"),
        qemu: &["-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm", "-cpu", "max"],
        raw: false,
        input: None,
        exit: Some(0),
        expect: &["EL0 clock: counter 1000000000 Hz, frequency() 1000000000 (kernel 1000000000)", "isolated values ok"],
    },
    Case {
        name: "isolation: no cooperative isolated task; a spinning one is preempted",
        image: "isolated_preemption",
        on: On::AllBoards,
        qemu: ICOUNT,
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "refused: isolated tasks must be preemptible: Cooperative(3) is a cooperative priority (use Priority::Preemptive)",
            "Cooperative(0): Some(CooperativeIsolated(Cooperative(0)))",
            "supervise at Cooperative(31): Some(CooperativeIsolated(Cooperative(31)))",
            "spinner at main's priority: watchdog rounds 20, urgent wakes 30, worst lateness under 1 ms true, spinner looked many times",
            "spinner at Preemptive(5): watchdog rounds 20, urgent wakes 30, worst lateness under 1 ms true, spinner looked many times",
            "writer of 65536 bytes: urgent wakes 30, worst lateness under 100 us true",
            "frames back: true",
            "isolated preemption ok",
        ],
    },
    Case {
        name: "isolation: supervise from a Builder, grants kept, failure window (icount)",
        image: "supervise_window",
        on: On::AllBoards,
        qemu: ICOUNT,
        raw: false,
        input: None,
        exit: Some(0),
        expect: &[
            "[supervisor] 'quick' failed (memory access fault: Write of 0x8 at pc 0xffffff80",
            "; restart 1 (Always) in ",
            "giving up: TooManyFailures { failures: 3, span: 22.",
            "3 failures within 25 ms: restarts 2, runs counted in the region 3, jobs reported [1, 2, 3, 0, 0, 0, 0, 0], gave up: 3 failures within 22 ms, last outcome a memory fault true",
            "window 15 ms, up to 4 restarts: restarts 4, runs counted in the region 5, jobs reported [1, 1, 1, 1, 1, 0, 0, 0], gave up: restart limit, last outcome a memory fault true",
            "one slow run: restarts 3, runs counted in the region 4, jobs reported [0, 40, 0, 0, 0, 0, 0, 0], gave up: 3 failures within 10 ms, last outcome a memory fault true",
            "returns on the second run: restarts 1, runs counted in the region 2, jobs reported [0, 18446744073709551615, 0, 0, 0, 0, 0, 0], returned, last outcome a memory fault false",
            "frames back true, kernel heap back true",
            "supervise window ok",
        ],
    },
    // Inter-processor interrupts, sent by a core to itself (tests/guest/ipi.rs).
    Case { qemu: ICOUNT, ..case("ipi: to this core, through the controller", "ipi", 0, IPI) },
    case(
        "trace: two tasks yielding, a sleeper woken by the timer, an interrupt: exactly the expected events",
        "trace_schedule",
        0,
        &[
            "trace scenario: core 0",
            "@@end events=",
            "trace dumped",
            "overflow trace dumped",
            "isolated trace dumped: Ok(3996001)",
        ],
    ),
    // tests/guest/trace_races.rs: every dump is read back whole (`check`).
    Case {
        on: On::Board("qemu-virt"),
        ..case(
            "trace: start, stop and dump from three cores at once: every dump whole and consistent",
            "trace_races",
            0,
            &["trace races: 6 dumps, ", "trace races ok"],
        )
    },
    Case { on: On::Board("qemu-virt"), qemu: &["-machine", "gic-version=3"], ..case("ipi: GICv3", "ipi", 0, IPI) },
    Case { on: On::Board("qemu-virt"), qemu: &["-machine", "secure=on"], ..case("ipi: GICv2 at EL3", "ipi", 0, IPI) },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-machine", "secure=on,gic-version=3"],
        ..case("ipi: GICv3 at EL3", "ipi", 0, IPI)
    },
    Case { on: On::Board("qemu-virt"), qemu: &["-smp", "4"], ..case("ipi: GICv2, 4 cores", "ipi", 0, IPI) },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "4", "-machine", "gic-version=3"],
        ..case("ipi: GICv3, 4 cores", "ipi", 0, IPI)
    },
    pi("rpi3", "ipi: raw image at EL2", "ipi", true, None, IPI),
    pi("rpi4", "ipi: raw image at EL2", "ipi", true, None, IPI),
    // Between cores (tests/guest/ipi_cores.rs), every way of starting them:
    // virt by PSCI over HVC (EL1) and SMC (EL2), or from the holding pen
    // (EL3); the Pis' ELF starts at EL3 (holding pen), the raw image at EL2
    // (the firmware's spin table).
    Case { on: On::Board("qemu-virt"), ..case("ipi: between cores, GICv2", "ipi_cores", 0, IPI_CORES) },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-machine", "virtualization=on"],
        ..case("ipi: between cores, EL2 (PSCI over SMC)", "ipi_cores", 0, IPI_CORES)
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-machine", "secure=on"],
        ..case("ipi: between cores, EL3 (holding pen)", "ipi_cores", 0, IPI_CORES)
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "8", "-machine", "gic-version=3"],
        ..case("ipi: between cores, GICv3", "ipi_cores", 0, IPI_CORES)
    },
    pi("rpi3", "ipi: between cores", "ipi_cores", false, None, IPI_CORES),
    pi("rpi3", "ipi: between cores, raw image", "ipi_cores", true, None, IPI_CORES),
    pi("rpi4", "ipi: between cores", "ipi_cores", false, None, IPI_CORES),
    pi("rpi4", "ipi: between cores, raw image", "ipi_cores", true, None, IPI_CORES),
    // Scheduling on every core (issue 12). Each guest first checks that
    // every core that started runs tasks (`task::cpus_online()`), and fails
    // saying how many do otherwise. The Pis start theirs from the spin table
    // (raw image) or boot.s's holding pen (ELF).
    case("smp: priority contract, 5 spinners on 4 cores: the least urgent never runs", "smp_priority", 0, SMP_PRIORITY_4),
    pi("rpi3", "smp: priority contract, raw image", "smp_priority", true, None, SMP_PRIORITY_4),
    pi("rpi4", "smp: priority contract, raw image", "smp_priority", true, None, SMP_PRIORITY_4),
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "1"],
        ..case(
            "smp: priority contract on one core (-smp 1), 2 spinners",
            "smp_priority",
            0,
            &["cores: 1 online (running tasks) of 1 up", "round 5: 1 cores, 2 spinners: counts [", "ok least_urgent_never_runs", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "8", "-machine", "gic-version=3"],
        ..case(
            "smp: priority contract on eight cores (-smp 8, GICv3), 9 spinners",
            "smp_priority",
            0,
            &["cores: 8 online (running tasks) of 8 up", "round 5: 8 cores, 9 spinners: counts [", "ok least_urgent_never_runs", "ok every_core_runs_a_spinner", "all checks passed"],
        )
    },
    // Under icount the latency is in instructions, the same on every run.
    Case {
        qemu: ICOUNT,
        ..case("smp: a task woken by an interrupt on core 0 preempts core 2 (IPI), latency bounded", "smp_ipi_preemption", 0, SMP_IPI_PREEMPTION)
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-icount", "shift=0,align=off,sleep=off", "-seed", "1", "-rtc", "clock=vm", "-machine", "gic-version=3"],
        ..case("smp: IPI preemption, GICv3", "smp_ipi_preemption", 0, SMP_IPI_PREEMPTION)
    },
    case("smp: a task pinned to core 3 only ever runs there; offline cores refused", "smp_pinning", 0, SMP_PINNING),
    pi("rpi3", "smp: pinning, raw image", "smp_pinning", true, None, SMP_PINNING),
    pi("rpi4", "smp: pinning, raw image", "smp_pinning", true, None, SMP_PINNING),
    case("smp example: one task per core, then one core, both times", "smp", 0, SMP_EXAMPLE_4),
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "1"],
        ..case(
            "smp example on one core (-smp 1)",
            "smp",
            0,
            &["Mandelbrot set on 1 core, row r", "  core 0: 24 rows (0, 1, 2, ...), ", "(same picture: true)", "1 core: ", "pinned to: true"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: &["-smp", "8", "-machine", "gic-version=3"],
        ..case(
            "smp example on eight cores (-smp 8, GICv3)",
            "smp",
            0,
            &["Mandelbrot set on 8 cores, row r", "  core 7: 3 rows (7, 15, 23), ", "  7 |", "(same picture: true)", "8 cores: ", "pinned to: true"],
        )
    },
    // Under real parallelism (MTTCG, 4 host threads on however many host
    // processors): each guest repeats its stress 10 times in a row and
    // stops at the first round that goes wrong.
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): mutex exclusion, 4 tasks x 100,000 increments, 10 rounds",
            "smp_mutex",
            0,
            &["round 10: 4 tasks x 100000 increments on cores 0b1111: total 400000, overlaps 0,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): 4 producers x 100,000 messages to 2 consumers, none lost, duplicated or reordered, 10 rounds",
            "smp_channels",
            0,
            &[
                "round 10: 4 producers x 100000 messages over 2 channels: 400000 received, 0 out of order, complete true,",
                "all checks passed",
            ],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): 10,000 spawn/join cycles over every core, heap and frames back to baseline, 10 rounds",
            "smp_spawn_join",
            0,
            &["round 10: 10000 spawn/join cycles over 4 cores: 0 wrong, heap and frames at baseline true,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): kills from every core race with mutexes, permits, parks, sleeps, channels, detaches and the end, 8 rounds",
            "smp_kill",
            0,
            &[
                "round 8: 48 victims,",
                "detach round 8: 400 tasks,",
                "all checks passed",
            ],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): spawning on every core with the kernel heap nearly exhausted fails cleanly, heap and frames back to baseline, 5 rounds",
            "smp_oom_storm",
            0,
            &["round 5: ", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): task lists and stats read while tasks end and are detached, the periodic timer set and stopped, semaphores with timeouts, receivers dropped under senders, all from every core",
            "smp_crosscore",
            0,
            &[
                "readers round 2: 300 spawns,",
                "0 begun after every core stopped it",
                "periodic set last from core 2: calls per core [0, 0, ",
                "signals: 3000 given, 3000 taken, 0 left",
                "channels: 30 receivers dropped under 8 senders each, 2809 received,",
                "all checks passed",
            ],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): stop_periodic, or a set_periodic that replaces the handler, returns once the old handler runs on no core, 300 times",
            "smp_periodic_stop",
            0,
            &["300 stops: the old handler still running after 0, called again after 0,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): isolated tasks grow their heaps on every core, killed at random or past their limit: frames and heap back to baseline, 8 rounds",
            "smp_isolated_growth",
            0,
            &["round 8: 12 growers:", "0 wrong, frames, pool and heap at baseline true", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): tasks on every core run out of kernel memory at once, amid fallible failures: each ends OutOfKernelMemory with its own size and alignment, 20 rounds",
            "smp_oom_reports",
            0,
            &["round 20: 8 failers,", "0 wrong so far", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): supervised isolated tasks with a granted channel killed at random from every core while restarted: outcomes right, frames and heap back to baseline, 6 rounds",
            "smp_supervise_kill",
            0,
            &["round 6: 4 supervisors,", "0 wrong, frames and heap at baseline true", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): priority inheritance with pinned owners, urgent waiters timing out or killed on every core: no loan outlives its wait, 4 rounds",
            "smp_inherit",
            0,
            &["round 4: ", "owners raised while holding nothing 0,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): a Condvar notification goes on when the waiter it woke is killed before it has its mutex back, 100 cycles",
            "smp_condvar_kill",
            0,
            &["100 cycles: 0 notifications lost, 0 wrong, 100 items taken", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): kills from a periodic interrupt handler of tasks on every core, heap and frames back to baseline, 10 rounds",
            "smp_kill_irq",
            0,
            &["round 10: 32 victims,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): isolated tasks fault on every core while a watchdog on each counts, 10 rounds",
            "smp_faults",
            0,
            &["round 10: 5 faults on each of 4 cores: 0 wrong, watchdogs stalled 0, frames freed true,", "all checks passed"],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): isolated producers and consumer over a channel and a shared region while victims using them are killed on other cores, 10 rounds",
            "smp_isolated_ipc",
            0,
            &[
                "round 10: 4 isolated producers x 2000 messages, 20 victims killed on 4 cores: 0 wrong, heap and frames at baseline true,",
                "all checks passed",
            ],
        )
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(SMP_CONSOLE_CASE, "smp_console", 0, &["400 lines printed on core 0 while", "all checks passed"])
    },
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): every core calls exit(7) at the same moment: the program ends once, with status 7",
            "smp_exit_race",
            7,
            &["cores: 4 online (running tasks) of 4 up"],
        )
    },
    case(
        "smp: every core calls exit(7) at the same moment: the program ends once, with status 7",
        "smp_exit_race",
        7,
        &["cores: 4 online (running tasks) of 4 up"],
    ),
    Case {
        on: On::Board("qemu-virt"),
        qemu: MTTCG,
        ..case(
            "smp (MTTCG): ASIDs roll over on every core while the others run isolated tasks, 10 times",
            "asid_rollover_cores",
            0,
            &["10/10: 4 cores: 400 short tasks, 0 wrong; long-lived failed: 0;", "asid rollover on every core ok"],
        )
    },
];

struct Outcome {
    status: Option<i32>,
    output: String,
    timed_out: bool,
    /// The first script step that went wrong (see [`SCRIPTS`]).
    script_problem: Option<String>,
}

/// `ILUSION_TEST_CORES=N`: boot QEMU `virt` with N cores instead of its 4,
/// to run the suite again on one core (the scheduler compiled for one core)
/// or on eight (`just test` does both). Only `virt` (the Pis always have
/// four), and only the cases that do not depend on the number of cores.
fn cores_override() -> Option<String> {
    std::env::var("ILUSION_TEST_CORES").ok().filter(|c| !c.is_empty())
}

/// `ILUSION_TEST_CPU=NAME`: boot QEMU `virt` on that CPU model instead of
/// its `cortex-a72` (`just test` runs its eight-core pass on `max`: PAN,
/// and a generic timer at 1 GHz, as Armv8.6 hardware has, not 62.5 MHz).
/// Only `virt`, and only the cases that do not choose their own `-cpu`.
fn cpu_override(board: &str, case: &Case) -> Option<String> {
    let cpu = std::env::var("ILUSION_TEST_CPU").ok().filter(|c| !c.is_empty())?;
    (board == "qemu-virt" && !case.qemu.contains(&"-cpu")).then_some(cpu)
}

/// Does `case` hold whatever the number of cores? Not if it chooses its own
/// (`-smp`), if what it must print names the default four, or if it is
/// about several cores (IPIs between them; the kernel lock, which one core
/// does without).
fn any_core_count(case: &Case) -> bool {
    const ABOUT_SEVERAL_CORES: &[&str] = &[
        "ipi_cores",
        "smp_priority",
        "smp_ipi_preemption",
        "smp_pinning",
        "smp",
        "small_blocks",
        "irq_private_cores",
        "isolated_attacks",
    ];
    !case.qemu.contains(&"-smp")
        && !case.expect.iter().any(|l| l.contains("4 cores") || l.contains("4 online"))
        && !ABOUT_SEVERAL_CORES.contains(&case.image)
        && case.name != "spin locks: a critical section inside one is caught, by name"
}

fn run(root: &Path, board: &str, case: &Case) -> Result<Outcome, String> {
    let elf = root.join("target/images").join(board).join(format!("{}.elf", case.image));
    if !elf.exists() {
        return Err(format!("image {} is missing: run `just test` (it builds the images)", elf.display()));
    }
    let mut cmd = Command::new(root.join("boards/run"));
    cmd.arg("--board").arg(board);
    if case.raw {
        cmd.arg("--raw");
    }
    cmd.arg(&elf).args(case.qemu);
    if let Some(cores) = cores_override().filter(|_| board == "qemu-virt") {
        cmd.args(["-smp", cores.as_str()]);
    }
    if let Some(cpu) = cpu_override(board, case) {
        cmd.args(["-cpu", cpu.as_str()]);
    }
    cmd.env_remove("QEMU_EXTRA").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start boards/run: {e}"))?;
    let output = Captured::start(&mut child);
    let mut stdin = child.stdin.take();
    let mut pending_input = case.input;
    let script = SCRIPTS.iter().find(|(name, _)| *name == case.name).map_or(&[][..], |(_, steps)| *steps);
    // The step being waited for, where the output stood when it was typed, and when.
    let (mut step, mut mark, mut typed_at, mut retypes) = (0, None::<usize>, Instant::now(), 0);
    let mut script_problem = None;
    let start = Instant::now();
    let timeout = if case.exit.is_none() { HANG_TIMEOUT } else { TIMEOUT };
    let (status, timed_out) = loop {
        if let Some((prompt, text)) = pending_input {
            if output.so_far().contains(prompt) {
                if let Some(s) = stdin.as_mut() {
                    let _ = s.write_all(text.as_bytes()).and_then(|_| s.flush());
                }
                pending_input = None;
            }
        }
        if let Some(Step { send, then, not, retype }) = script.get(step) {
            let so_far = output.so_far();
            match mark {
                None => {
                    if let Some(s) = stdin.as_mut() {
                        let _ = s.write_all(send.as_bytes()).and_then(|_| s.flush());
                    }
                    (mark, typed_at) = (Some(so_far.len()), Instant::now());
                }
                Some(from) => {
                    let after = &so_far[from..];
                    if let Some(at) = after.find(then) {
                        if !not.is_empty() && after[..at].contains(not) {
                            script_problem =
                                Some(format!("script step {step}: typed {send:?}, got {not:?} before {then:?}"));
                        }
                        (step, mark, retypes) = (step + 1, None, 0);
                    } else if *retype && retypes < RETYPES && typed_at.elapsed() > RETYPE_AFTER {
                        if let Some(s) = stdin.as_mut() {
                            let _ = s.write_all(send.as_bytes()).and_then(|_| s.flush());
                        }
                        (typed_at, retypes) = (Instant::now(), retypes + 1);
                    } else if typed_at.elapsed() > STEP_TIMEOUT {
                        script_problem = Some(format!(
                            "script step {step}: typed {send:?}, no {then:?} in the output within {} s",
                            STEP_TIMEOUT.as_secs()
                        ));
                    }
                }
            }
            if script_problem.is_some() {
                let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
                let _ = child.wait();
                break (None, false);
            }
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break (status.code(), false);
        }
        if start.elapsed() > timeout {
            let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let output = output.finish();
    if script_problem.is_none() && step < script.len() {
        let Step { send, then, .. } = &script[step];
        script_problem = Some(format!("script step {step}: typed {send:?}, the guest ended before {then:?}"));
    }
    Ok(Outcome { status, output, timed_out, script_problem })
}

/// One row of the shell's `ps` (src/shell/tasks.rs): `ID NAME STATE PRIO
/// CORE CPU% USED/SIZE [isolated]`, the sizes as "2.1 KiB", USED "-" if
/// not measured.
struct PsRow {
    id: u64,
    name: String,
    state: String,
    core: usize,
    cpu: f64,
    /// The stack's high-water mark; `None` ("-"): not measured.
    used: Option<f64>,
    size: f64,
    isolated: bool,
}

/// "2.1 KiB" in bytes.
fn size_bytes(s: &str) -> Option<f64> {
    let (n, unit) = s.trim().split_once(' ')?;
    let scale = match unit.trim() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n.parse::<f64>().ok()? * scale)
}

fn ps_row(line: &str) -> Option<PsRow> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() < 8 {
        return None;
    }
    // The stack column: what follows the sixth word.
    let (_, stack) = line.split_once(&format!(" {}  ", words[5]))?;
    let isolated = stack.ends_with(" isolated");
    let (used, size) = stack.trim_end_matches(" isolated").split_once('/')?;
    Some(PsRow {
        id: words[0].parse().ok()?,
        name: words[1].to_string(),
        state: words[2].to_string(),
        core: words[4].parse().ok()?,
        cpu: words[5].parse().ok()?,
        used: if used == "-" { None } else { Some(size_bytes(used)?) },
        size: size_bytes(size)?,
        isolated,
    })
}

/// The first table the shell's `ps` printed has the guest's tasks, with
/// numbers that make sense (tests/guest/shell_script.rs says which).
fn check_ps(output: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lines: Vec<&str> = output.lines().map(|l| l.trim_end_matches('\r')).collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("  ID NAME") && l.ends_with("STACK USED/SIZE")) else {
        return vec!["no `ps` table in the output".into()];
    };
    let mut rows = Vec::new();
    let mut summary = None;
    let mut cores_line = None;
    for l in &lines[start + 1..] {
        if let Some((n, rest)) = l.split_once(" tasks, ") {
            summary = n.parse::<usize>().ok();
            cores_line = rest.split_once("; ").map(|(cores, _)| cores.to_string());
            break;
        }
        match ps_row(l) {
            Some(r) => rows.push(r),
            None => problems.push(format!("ps: cannot read the row {l:?}")),
        }
    }
    if summary != Some(rows.len()) {
        problems.push(format!("ps: {} rows, but the summary says {summary:?}", rows.len()));
    }
    // One idle task per core online: "1 core" for one, "4 cores" for four (it said "1 cores").
    let idle_tasks = rows.iter().filter(|r| r.name == "idle" && r.id == 0).count();
    let cores = if idle_tasks == 1 { "1 core".to_string() } else { format!("{idle_tasks} cores") };
    if cores_line.as_deref() != Some(cores.as_str()) {
        problems.push(format!("ps: {idle_tasks} idle tasks, but the summary says {cores_line:?}, not {cores:?}"));
    }
    if !rows.iter().any(|r| r.name == "idle" && r.id == 0) {
        problems.push("ps: no idle task (id 0)".into());
    }
    let expected = [(1, "main"), (2, "spinner"), (3, "sleeper"), (4, "victim"), (5, "shell")];
    for (id, name) in expected {
        if !rows.iter().any(|r| r.id == id && r.name == name) {
            problems.push(format!("ps: no task {id} named {name}"));
        }
    }
    for r in &rows {
        let mut wrong = |what: &str| problems.push(format!("ps: task {} ({}): {what}", r.id, r.name));
        if !(0.0..=100.05).contains(&r.cpu) {
            wrong(&format!("CPU {} % is not a share of one core", r.cpu));
        }
        if r.core >= 8 {
            wrong(&format!("on core {}", r.core));
        }
        // Idle tasks run on their core's boot stack, not measured; the test
        // images measure every other (the `stack-watermark` feature).
        if r.name != "idle" && !r.used.is_some_and(|used| used > 0.0 && used <= r.size) {
            wrong(&format!("stack high-water {:?} of {} bytes", r.used, r.size));
        }
        match r.name.as_str() {
            "spinner" if !(r.cpu >= 50.0 && (r.state == "running" || r.state == "ready")) => {
                wrong(&format!("spins, but is {} with {} % of a core", r.state, r.cpu))
            }
            "ps" if r.state != "running" => wrong(&format!("runs `ps`, but is {}", r.state)),
            "shell" if r.state != "blocked" => wrong(&format!("waits for `ps`'s task, but is {}", r.state)),
            "main" if r.state != "blocked" => wrong(&format!("waits for the shell, but is {}", r.state)),
            "sleeper" | "victim" if r.cpu >= 10.0 => wrong(&format!("sleeps, but used {} % of a core", r.cpu)),
            "victim" if !r.isolated => wrong("is isolated, but not shown so"),
            _ => {}
        }
    }
    problems
}

fn check(case: &Case, o: &Outcome) -> Vec<String> {
    let mut problems: Vec<String> = o.script_problem.iter().cloned().collect();
    if case.name == SHELL_CASE {
        problems.extend(check_ps(&o.output));
    }
    match (case.exit, o.timed_out) {
        (Some(_), true) => {
            problems.push(format!("timed out after {} s (guest hung and was killed)", TIMEOUT.as_secs()))
        }
        (Some(exit), false) if o.status != Some(exit) => {
            problems.push(format!("exit status {:?}, expected {exit}", o.status))
        }
        (None, false) => problems.push(format!("expected a hang, but it exited with {:?}", o.status)),
        _ => {}
    }
    for line in case.expect {
        if !o.output.contains(line) {
            problems.push(format!("output lacks {line:?}"));
        }
    }
    for &(_, prefix, suffix, count) in WHOLE_LINES.iter().filter(|w| w.0 == case.name) {
        let lines: Vec<&str> =
            o.output.lines().map(|l| l.trim_end_matches('\r')).filter(|l| l.contains(prefix)).collect();
        let whole = |l: &&str| {
            l.len() == prefix.len() + 5 + suffix.len()
                && l.starts_with(prefix)
                && l.ends_with(suffix)
                && l[prefix.len()..prefix.len() + 4].bytes().all(|b| b.is_ascii_digit())
        };
        if let Some(cut) = lines.iter().find(|l| !whole(l)) {
            problems.push(format!("a line starting {prefix:?} was cut into: {cut:?}"));
        }
        if lines.len() != count {
            problems.push(format!("{} lines contain {prefix:?}, expected {count}", lines.len()));
        }
    }
    // The schedule trace's known scenario: its dump, event by event.
    if case.image == "trace_schedule" {
        problems.extend(trace_dump::check_schedule(&o.output));
    }
    if case.image == "trace_races" {
        for n in 0..6 {
            if let Err(e) = trace_dump::parse(&o.output, n) {
                problems.push(format!("trace dump {n}: {e}"));
            }
        }
    }
    // With -no-reboot a guest runs once: a second boot would print its lines again.
    if case.qemu.contains(&"-no-reboot") {
        for line in case.expect {
            let times = o.output.matches(line).count();
            if times > 1 {
                problems.push(format!("output has {line:?} {times} times, expected once (booted again?)"));
            }
        }
    }
    problems
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let boards_var = std::env::var("ILUSION_TEST_BOARDS").unwrap_or_else(|_| "qemu-virt".into());
    let boards: Vec<&str> = boards_var.split([',', ' ']).filter(|b| !b.is_empty()).collect();
    let (mut passed, mut failed) = (0, 0);
    let cores = cores_override();
    for board in &boards {
        for case in CASES {
            if matches!(case.on, On::Board(b) if b != *board) {
                continue;
            }
            if cores.is_some() && (*board != "qemu-virt" || !any_core_count(case)) {
                continue;
            }
            let full = match (&cores, cpu_override(board, case)) {
                (Some(n), Some(cpu)) => format!("{board} (-smp {n}, -cpu {cpu}): {}", case.name),
                (Some(n), None) => format!("{board} (-smp {n}): {}", case.name),
                (None, Some(cpu)) => format!("{board} (-cpu {cpu}): {}", case.name),
                (None, None) => format!("{board}: {}", case.name),
            };
            if !filters.is_empty() && !filters.iter().any(|f| full.contains(f.as_str())) {
                continue;
            }
            let problems = match run(&root, board, case) {
                Ok(o) => {
                    let p = check(case, &o);
                    if !p.is_empty() {
                        println!("---- output of {full} ----\n{}\n----", o.output.trim_end());
                    }
                    p
                }
                Err(e) => vec![e],
            };
            if problems.is_empty() {
                passed += 1;
                println!("qemu test {full} ... ok");
            } else {
                failed += 1;
                println!("qemu test {full} ... FAILED");
                for p in problems {
                    println!("    {p}");
                }
            }
        }
    }
    // Host-side checks: the system-call fast path is a leaf (every board); the
    // SD card image and the chainloader (Raspberry Pi only). Once per board,
    // not again for another number of cores.
    let host_boards = if cores.is_some() { &[][..] } else { &boards[..] };
    for board in host_boards {
        let checks = fast_syscall::checks(&root, board).into_iter().chain(sdcard::checks(&root, board));
        // Images booted without boards/run (no host-side symbolizer, no semihosting): every board.
        let checks = checks.chain(direct::checks(&root, board));
        for (name, result) in checks.chain(chainload::checks(&root, board)) {
            let full = format!("{board}: {name}");
            if !filters.is_empty() && !filters.iter().any(|f| full.contains(f.as_str())) {
                continue;
            }
            match result {
                // A check that cannot run is a failure: `just setup` installs what it needs.
                Err(why) => {
                    failed += 1;
                    println!("qemu test {full} ... FAILED (could not run: {why})");
                }
                Ok(problems) if problems.is_empty() => {
                    passed += 1;
                    println!("qemu test {full} ... ok");
                }
                Ok(problems) => {
                    failed += 1;
                    println!("qemu test {full} ... FAILED");
                    for p in problems {
                        println!("    {p}");
                    }
                }
            }
        }
    }
    println!("qemu: {passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
