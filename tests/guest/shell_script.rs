//! QEMU test: the serial shell, driven by scripted keystrokes (tests/qemu.rs
//! types them). Tasks for `ps` and `kill` to find: a spinner, a sleeper and
//! an isolated task (detached), each with a known id; application
//! commands: one that fails, one that panics (its task ends, the shell goes
//! on), one that waits for ever and one that reads a line (Ctrl-C ends
//! them), one that spins for ever (Ctrl-C leaves it), one that says which task runs it. The script ends with `poweroff`
//! (exit status 0); `main` waits on the shell until then.
#![no_std]
#![no_main]

use core::time::Duration;
use ilusion::task::{Builder, Priority};

ilusion::entry!(main);

fn spin() {
    loop {
        core::hint::spin_loop();
    }
}

fn sleep_forever(period: Duration) {
    loop {
        ilusion::time::sleep(period);
    }
}

fn main() {
    let spinner = Builder::new().name("spinner").priority(Priority::Preemptive(20)).spawn(spin).expect("spawn spinner");
    let sleeper =
        Builder::new().name("sleeper").spawn(|| sleep_forever(Duration::from_millis(10))).expect("spawn sleeper");
    let victim =
        Builder::new().name("victim").spawn_isolated(|| sleep_forever(Duration::from_millis(5))).expect("spawn victim");
    // The script types these ids: spawn order fixes them (main is 1).
    for (task, id) in [(spinner.task(), 2), (sleeper.task(), 3), (victim.task(), 4)] {
        if task.id() != id {
            ilusion::println!("shell test: {task} has id {}, the script expects {id}", task.id());
            ilusion::exit(1);
        }
    }
    // Detached: once killed, nothing waits to join it, so it is freed and
    // `ps` no longer lists it.
    drop(victim);
    ilusion::shell::command("hello", "greet: hello <names>", |args| ilusion::println!("hello, {}!", args.join(" ")))
        .expect("add hello");
    ilusion::shell::command("fail", "always fails", |_| Err::<(), _>("failed on purpose")).expect("add fail");
    ilusion::shell::command("boom", "careless: boom <number>", |args| {
        let n: u32 = args[0].parse().unwrap();
        ilusion::println!("n = {n}");
    })
    .expect("add boom");
    ilusion::shell::command("hang", "waits for ever (Ctrl-C stops it)", |_| {
        ilusion::println!("hang: waiting for ever");
        ilusion::time::sleep(Duration::MAX);
    })
    .expect("add hang");
    ilusion::shell::command("ask", "reads a line (Ctrl-C stops it)", |_| {
        ilusion::println!("ask: type a line");
        let mut line = [0u8; 32];
        let n = ilusion::console::read_line(&mut line);
        ilusion::println!("ask: got {:?}", core::str::from_utf8(&line[..n]));
    })
    .expect("add ask");
    ilusion::shell::command("loop", "spins for ever (Ctrl-C cannot end it)", |_| {
        ilusion::println!("loop: spinning");
        spin();
    })
    .expect("add loop");
    ilusion::shell::command("whoami", "the task running this command", |_| {
        ilusion::println!("this command runs in {}", ilusion::task::current());
    })
    .expect("add whoami");
    // A built-in name, and a bad one, are refused.
    ilusion::println!("{}", ilusion::shell::command("ps", "", |_| ()).unwrap_err());
    ilusion::println!("{}", ilusion::shell::command("two words", "", |_| ()).unwrap_err());
    let shell = ilusion::shell::spawn();
    if shell.task().id() != 5 {
        ilusion::println!("shell test: the shell is {}, the script expects task 5", shell.task());
        ilusion::exit(1);
    }
    let _ = shell.join();
    let _ = (spinner, sleeper);
}
