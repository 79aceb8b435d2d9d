//! The shell's commands: a table of names, one-line descriptions and
//! handlers, and the parser that splits a line into a command and its
//! arguments.
//!
//! A line is split on whitespace (no quoting): the first word names the
//! command, the rest (at most [`MAX_ARGS`]) are its arguments. A handler
//! gets the arguments and returns `()` or a `Result<(), E>` with `E:
//! Display` ([`CommandResult`]); an error is printed as one line,
//! `name: error`, and the shell goes on. Like the editor, this knows
//! nothing of the console: it is tested on the host.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// The most arguments a command takes.
pub const MAX_ARGS: usize = 8;
/// The longest command name.
pub const MAX_NAME: usize = 16;

/// What a command returns: `()` (it cannot fail), or a `Result` whose error
/// the shell prints.
pub trait CommandResult {
    fn into_result(self) -> Result<(), String>;
}

impl CommandResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> CommandResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A command's handler, as the table keeps it.
pub type Handler = Arc<dyn Fn(&[&str]) -> Result<(), String> + Send + Sync>;

/// One command.
#[derive(Clone)]
pub struct Command {
    pub name: &'static str,
    pub help: &'static str,
    pub handler: Handler,
}

/// Why a command could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Empty, longer than [`MAX_NAME`], or not printable ASCII without spaces.
    BadName(&'static str),
    /// A command with this name exists (a built-in one, or added before).
    Taken(&'static str),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::BadName(n) => {
                write!(f, "shell: {n:?} is not a command name (1 to {MAX_NAME} printable characters, no spaces)")
            }
            Self::Taken(n) => write!(f, "shell: there is a command named {n:?} already"),
        }
    }
}

/// Why a line could not be run (printed as one line).
#[derive(Debug, PartialEq, Eq)]
pub enum LineError {
    Unknown(String),
    TooManyArguments(String),
    /// The command said what went wrong.
    Failed(String, String),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "{name}: unknown command (`help` lists them)"),
            Self::TooManyArguments(name) => write!(f, "{name}: too many arguments (at most {MAX_ARGS})"),
            Self::Failed(name, why) => write!(f, "{name}: {why}"),
        }
    }
}

/// A line split into words: the command's name and its arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub name: &'a str,
    pub args: Vec<&'a str>,
}

/// Splits `line`; `Ok(None)` for a blank line.
pub fn parse(line: &str) -> Result<Option<Parsed<'_>>, LineError> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else { return Ok(None) };
    let args: Vec<&str> = words.by_ref().take(MAX_ARGS).collect();
    if words.next().is_some() {
        return Err(LineError::TooManyArguments(name.to_string()));
    }
    Ok(Some(Parsed { name, args }))
}

/// The commands, in the order they were added.
#[derive(Default, Clone)]
pub struct Registry {
    commands: Vec<Command>,
}

impl Registry {
    pub const fn new() -> Self {
        Self { commands: Vec::new() }
    }

    /// Adds a command (see [`CommandError`] for what is refused).
    pub fn add<F, R>(&mut self, name: &'static str, help: &'static str, f: F) -> Result<(), CommandError>
    where
        F: Fn(&[&str]) -> R + Send + Sync + 'static,
        R: CommandResult,
    {
        let printable = name.bytes().all(|b| b.is_ascii_graphic());
        if name.is_empty() || name.len() > MAX_NAME || !printable {
            return Err(CommandError::BadName(name));
        }
        if self.find(name).is_some() {
            return Err(CommandError::Taken(name));
        }
        let handler: Handler = Arc::new(move |args: &[&str]| f(args).into_result());
        self.commands.push(Command { name, help, handler });
        Ok(())
    }

    pub fn find(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter()
    }

    /// What `help` prints: one line per command, the names in a column.
    pub fn help_text(&self) -> String {
        let width = self.commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for c in &self.commands {
            text += &alloc::format!("  {:width$}  {}\n", c.name, c.help);
        }
        text
    }
}

/// A line ready to run: its command's handler and the arguments, owned,
/// so that it can be handed to another task (the shell runs each command
/// in a task of its own, see `shell::run_line`).
pub struct Invocation {
    pub name: String,
    pub handler: Handler,
    pub args: Vec<String>,
}

impl Invocation {
    /// Runs the handler here, in the calling task.
    pub fn run(&self) -> Result<(), LineError> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        (self.handler)(&args).map_err(|why| LineError::Failed(self.name.clone(), why))
    }
}

/// Looks `line`'s command up with `lookup` (which must not hold a lock
/// while the handler runs: the handler is copied out of it); `Ok(None)` for
/// a blank line.
pub fn prepare(line: &str, lookup: impl FnOnce(&str) -> Option<Handler>) -> Result<Option<Invocation>, LineError> {
    let Some(parsed) = parse(line)? else { return Ok(None) };
    let handler = lookup(parsed.name).ok_or_else(|| LineError::Unknown(parsed.name.to_string()))?;
    let args = parsed.args.iter().map(|a| a.to_string()).collect();
    Ok(Some(Invocation { name: parsed.name.to_string(), handler, args }))
}

/// Runs `line` with the commands of `lookup`, in the calling task.
pub fn run_line(line: &str, lookup: impl FnOnce(&str) -> Option<Handler>) -> Result<(), LineError> {
    prepare(line, lookup)?.map_or(Ok(()), |call| call.run())
}

/// Reads a task id (decimal) from a command's arguments: exactly one. A
/// number too large to be an id is no task's, and said so as for any id
/// that names none (`kill 99999999999999999999`).
pub fn one_id(args: &[&str]) -> Result<u64, String> {
    match args {
        [id] => id.parse().map_err(|_| match !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            true => alloc::format!("no task #{id} (ids go up to {})", u64::MAX),
            false => alloc::format!("{id:?} is not a task id (a number, as `ps` shows)"),
        }),
        [] => Err(String::from("which task? give its id (as `ps` shows)")),
        _ => Err(String::from("one task id only")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn lines_split_on_any_whitespace_and_blank_lines_are_nothing() {
        assert_eq!(parse("  kill \t 12  ").unwrap(), Some(Parsed { name: "kill", args: alloc::vec!["12"] }));
        assert_eq!(parse("   ").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn more_than_max_args_is_an_error_naming_the_command() {
        let ok = alloc::format!("x{}", " a".repeat(MAX_ARGS));
        assert_eq!(parse(&ok).unwrap().unwrap().args.len(), MAX_ARGS);
        let too_many = alloc::format!("x{}", " a".repeat(MAX_ARGS + 1));
        let e = parse(&too_many).unwrap_err();
        assert_eq!(e.to_string(), "x: too many arguments (at most 8)");
    }

    #[test]
    fn commands_run_with_their_arguments_and_errors_are_one_line() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut r = Registry::new();
        let s = seen.clone();
        r.add("blink", "toggle the LED", move |args| s.lock().unwrap().push(args.join(","))).unwrap();
        r.add("kill", "end a task", |args| one_id(args).map(|_| ())).unwrap();
        let lookup = |r: &Registry, n: &str| r.find(n).map(|c| c.handler.clone());
        run_line("blink  on fast", |n| lookup(&r, n)).unwrap();
        assert_eq!(*seen.lock().unwrap(), ["on,fast"]);
        assert_eq!(run_line("kill 3", |n| lookup(&r, n)), Ok(()));
        let e = run_line("kill three", |n| lookup(&r, n)).unwrap_err();
        assert_eq!(e.to_string(), "kill: \"three\" is not a task id (a number, as `ps` shows)");
        let e = run_line("kill 99999999999999999999", |n| lookup(&r, n)).unwrap_err();
        assert_eq!(e.to_string(), "kill: no task #99999999999999999999 (ids go up to 18446744073709551615)");
        let e = run_line("kill -3", |n| lookup(&r, n)).unwrap_err();
        assert_eq!(e.to_string(), "kill: \"-3\" is not a task id (a number, as `ps` shows)");
        let e = run_line("kill", |n| lookup(&r, n)).unwrap_err();
        assert_eq!(e.to_string(), "kill: which task? give its id (as `ps` shows)");
        let e = run_line("frobnicate now", |n| lookup(&r, n)).unwrap_err();
        assert_eq!(e.to_string(), "frobnicate: unknown command (`help` lists them)");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn bad_and_taken_names_are_refused() {
        let mut r = Registry::new();
        r.add("help", "", |_| ()).unwrap();
        assert_eq!(r.add("help", "", |_| ()), Err(CommandError::Taken("help")));
        assert_eq!(r.add("", "", |_| ()), Err(CommandError::BadName("")));
        assert_eq!(r.add("two words", "", |_| ()), Err(CommandError::BadName("two words")));
        assert_eq!(
            r.add("a-very-long-command-name", "", |_| ()),
            Err(CommandError::BadName("a-very-long-command-name"))
        );
        assert_eq!(r.iter().count(), 1);
    }

    #[test]
    fn help_lists_every_command_in_a_column() {
        let mut r = Registry::new();
        r.add("ps", "list the tasks", |_| ()).unwrap();
        r.add("uptime", "time since boot", |_| ()).unwrap();
        assert_eq!(r.help_text(), "  ps      list the tasks\n  uptime  time since boot\n");
    }
}
