//! A shell on the serial console (cargo feature `shell`): a person types
//! commands to look at the running system and act on it, as in Zephyr's
//! shell.
//!
//! ```ignore
//! ilusion::shell::command("blink", "toggle the LED", move |_args| led.toggle())?;
//! ilusion::shell::spawn().join();
//! ```
//!
//! [`spawn`] starts the shell as a task (named "shell", preemptive priority
//! 0, so busy tasks at the usual priorities do not starve it); it blocks
//! reading the console (`console::read_byte_timeout`), so it costs no
//! processor time while nobody types. The parts, each usable alone:
//! - `editor`: bytes from the terminal to lines (backspace, Ctrl-C,
//!   Ctrl-U, history on the arrows), portable and tested on the host;
//! - `commands`: the table of commands and the line parser, portable too;
//! - `builtins` and `tasks`: the commands every shell has (`help` lists
//!   them): `ps`, `top`, `mem`, `kill`, `maps`, `trace`, `irq`, `uptime`,
//!   `reboot`, `poweroff`.
//!
//! A command that fails prints one line, `name: what went wrong`, and the
//! shell goes on; so do unknown commands and bad arguments. Each command
//! runs in a short-lived task of its own, named for it, at the shell's
//! priority, with a stack of the shell's size and on the shell's core,
//! while the shell waits for it: one at a time, with no lock held, so it may block, sleep, or add
//! commands. A command that panics or faults ends only its task (the
//! kernel reports it as any task's failure); the shell prints
//! `name: panicked: message` (or the fault) and goes on. Ctrl-C typed
//! while a command runs kills it (kept out of the console input, so the
//! command cannot read it; the shell looks for it every 50 ms) and prints
//! `name: interrupted (Ctrl-C)`; a kernel task ends at its next block or
//! yield, so one that never does is left running, and the shell, saying
//! so, goes on without it. A handler owns
//! what it uses (it is `Send + Sync + 'static`), so it needs nothing of the
//! shell's task.

pub mod commands;
pub mod editor;
mod format;

pub use commands::{CommandError, CommandResult, MAX_ARGS};

#[cfg(target_os = "none")]
mod builtins;
#[cfg(target_os = "none")]
mod tasks;

#[cfg(target_os = "none")]
pub use on_target::*;

#[cfg(target_os = "none")]
mod on_target {
    use super::commands::{self, CommandError, CommandResult, Handler, Registry};
    use super::editor::{Feed, LineEditor};
    use crate::sync::{Mutex, PoisonError};
    use crate::task::{self, Builder, JoinHandle, Priority, TaskFailure};
    use crate::time::Duration;
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicU64, Ordering};

    /// What the shell prints when it is ready for a line.
    pub const PROMPT: &str = "ilusion> ";

    /// The commands: built-in ones first (added on first use), then the application's.
    static COMMANDS: Mutex<Option<Registry>> = Mutex::new(None);

    fn with_commands<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut table = COMMANDS.lock().unwrap_or_else(PoisonError::into_inner);
        let table = table.get_or_insert_with(|| {
            let mut r = Registry::new();
            super::builtins::add(&mut r).expect("the built-in commands have distinct, valid names");
            r
        });
        f(table)
    }

    /// Adds a command: `name` (1 to 16 printable characters, no spaces,
    /// not a built-in command's), a one-line description for `help`, and
    /// the handler, which gets the words after the name. It returns `()`
    /// or a `Result<(), E: Display>`; the shell prints an error as
    /// `name: error`. Any time, also while the shell runs.
    pub fn command<F, R>(name: &'static str, help: &'static str, f: F) -> Result<(), CommandError>
    where
        F: Fn(&[&str]) -> R + Send + Sync + 'static,
        R: CommandResult,
    {
        with_commands(|r| r.add(name, help, f))
    }

    /// What `help` prints.
    pub(super) fn help_text() -> String {
        with_commands(|r| r.help_text())
    }

    /// The task running the shell (0, the idle tasks' id: none yet), for
    /// `kill` to refuse it.
    static SHELL_TASK: AtomicU64 = AtomicU64::new(0);

    /// The id of the task that runs the shell, if it has started.
    pub(super) fn shell_task() -> Option<u64> {
        Some(SHELL_TASK.load(Ordering::Relaxed)).filter(|&id| id != 0)
    }

    /// Runs one line as if typed (without echo), in a task of its own named
    /// for the command, at the caller's priority and stack size, and waits
    /// for it; errors come back as one line, a panic or fault too
    /// (`name: panicked: message`), and Ctrl-C typed meanwhile stops it
    /// (`name: interrupted (Ctrl-C)`).
    pub fn run_line(line: &str) -> Result<(), commands::LineError> {
        let lookup = |name: &str| -> Option<Handler> { with_commands(|r| r.find(name).map(|c| c.handler.clone())) };
        let Some(call) = commands::prepare(line, lookup)? else { return Ok(()) };
        let mut builder = Builder::new().name(call.name.as_str());
        if let Some(me) = task::stats(task::current().id()) {
            builder = builder.priority(me.priority).stack_size(me.stack_size);
        }
        // On the shell's core, which it leaves to the command as it waits
        // for it: with several cores the command would start elsewhere at
        // once, and `ps` would find the shell still on its way to the join.
        builder = builder.cpu(task::current_cpu());
        let name = call.name.clone();
        let failed = |why: String| commands::LineError::Failed(name.clone(), why);
        let command = builder.spawn(move || call.run()).map_err(|e| failed(alloc::format!("cannot start it: {e}")))?;
        match wait_for(command) {
            Waited::Ended(Ok(outcome)) => outcome,
            Waited::Ended(Err(failure)) => Err(failed(alloc::format!("{failure}"))),
            Waited::Stopped => Err(failed(String::from("interrupted (Ctrl-C)"))),
            Waited::Left => {
                Err(failed(String::from("interrupted (Ctrl-C), but it runs on: it ends at its next block or yield")))
            }
        }
    }

    /// How often the shell looks for Ctrl-C while a command runs.
    const CTRL_C_POLL: Duration = Duration::from_millis(50);
    /// How long a command stopped by Ctrl-C has to end before the shell
    /// goes on without it (a kernel task ends at its next block or yield).
    const STOP_WAIT: Duration = Duration::from_millis(500);

    /// How waiting for a command ended.
    enum Waited<T> {
        /// It ended by itself: its outcome.
        Ended(Result<T, TaskFailure>),
        /// Ctrl-C killed it.
        Stopped,
        /// Ctrl-C asked it to end, but it did not within [`STOP_WAIT`] (a
        /// loop that never blocks or yields): the shell goes on without it.
        Left,
    }

    /// Waits for `command`; Ctrl-C typed meanwhile (kept out of the console
    /// input, so that the command cannot read it) kills it.
    fn wait_for<T>(mut command: JoinHandle<T>) -> Waited<T> {
        /// Watches for Ctrl-C while it lives.
        struct Watch;
        impl Drop for Watch {
            fn drop(&mut self) {
                crate::console::watch_ctrl_c(false);
            }
        }
        crate::console::watch_ctrl_c(true);
        let _watch = Watch;
        loop {
            match command.join_timeout(CTRL_C_POLL) {
                Ok(outcome) => return Waited::Ended(outcome),
                Err(running) => command = running,
            }
            // Killed too late (it has just ended): its own outcome, next round.
            if crate::console::take_ctrl_c() && command.kill().is_ok() {
                return match command.join_timeout(STOP_WAIT) {
                    Ok(_) => Waited::Stopped,
                    Err(_) => Waited::Left,
                };
            }
        }
    }

    /// Starts the shell as a task on the console.
    ///
    /// # Panics
    /// If out of memory (as `task::spawn`).
    pub fn spawn() -> JoinHandle<()> {
        Builder::new()
            .name("shell")
            .priority(Priority::Preemptive(0))
            .spawn(run)
            .expect("failed to spawn the shell task")
    }

    /// What the shell reads: a byte, or how many bytes were lost before the next.
    enum Input {
        Byte(u8),
        Lost(usize),
    }

    /// The next input, waiting for it if `wait`: a loss is told before the
    /// byte that came after it.
    fn next_input(wait: bool) -> Option<Input> {
        if let Some(lost) = crate::console::take_lost_input() {
            return Some(Input::Lost(lost));
        }
        let byte = if wait { crate::console::read_byte_timeout(None) } else { crate::console::read_byte() };
        byte.map(Input::Byte)
    }

    /// Feeds `input` to the editor. A loss drops the line being typed (a
    /// part of it may be gone) and says so, on a line of its own.
    fn feed(editor: &mut LineEditor, input: Input, echo: &mut Vec<u8>) -> Feed {
        match input {
            Input::Byte(byte) => editor.feed(byte, echo),
            Input::Lost(n) => {
                editor.abandon();
                let why = alloc::format!(
                    "\nconsole: at least {n} bytes of input lost (they came faster than they were read: more \
                     than the {} the input buffer holds while nobody read, or than the serial port's FIFO holds \
                     while its interrupt waited); the line being typed is dropped\n",
                    crate::console::INPUT_BUFFER
                );
                echo.extend_from_slice(why.as_bytes());
                Feed::Cancelled
            }
        }
    }

    /// The shell itself, in the calling task: reads lines from the console
    /// and runs them, for ever (`poweroff` and `reboot` end the machine).
    pub fn run() {
        SHELL_TASK.store(task::current().id(), Ordering::Relaxed);
        crate::println!("ilusion shell: `help` lists the commands");
        crate::print!("{PROMPT}");
        let mut editor = LineEditor::new();
        let mut echo = Vec::new();
        loop {
            let Some(input) = next_input(true) else { continue };
            let mut outcome = feed(&mut editor, input, &mut echo);
            // Take what else came (a paste, an escape sequence) before echoing.
            while outcome == Feed::Editing {
                let Some(input) = next_input(false) else { break };
                outcome = feed(&mut editor, input, &mut echo);
            }
            crate::console::write_bytes(&echo);
            echo.clear();
            match outcome {
                Feed::Editing => continue,
                Feed::Line(line) => {
                    if let Err(e) = run_line(&line) {
                        crate::println!("{e}");
                    }
                }
                Feed::Cancelled => {}
            }
            crate::print!("{PROMPT}");
        }
    }
}
