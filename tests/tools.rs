//! Tests of the application author's tools (templates, the runner, debugging), run by `just test`:
//! `just new` makes an application that `cargo run --release` builds and
//! boots on every board in `ILUSION_TEST_BOARDS` (default: qemu-virt); the
//! runner (`boards/run`) refuses an image built for another board and says
//! so when QEMU is missing; the GDB script breaks in `main` and `bt` ends
//! at the task's entry (of a kernel task and of an isolated one); a recorded fault replays and reverse-steps back to
//! the store that corrupted memory; `just maps isolation` draws each
//! isolated task's address space, `just trace tasks` writes trace-event
//! JSON and an SVG timeline with a lane per task and a band per core, and
//! `just maps` / `just trace` refuse a missing example or an unknown board;
//! `tools/bench-linux/run --self-test` builds the Linux side's program for
//! the host and reads its output into the table (`just bench-linux` itself
//! downloads, so it is not run here). The host tools refuse bad input with
//! one line naming it and a non-zero status before doing anything, and
//! leave nothing half-made: unknown boards, examples, flags and ports, a
//! missing llvm-objcopy, a cut ELF or a raw image that is not the ELF's,
//! an SD card `--output` that is one of its inputs, a folder without a
//! book; and `just maps` stops a program that waits for input.
//!
//! Each check prints `tools test BOARD: NAME ... ok` or `FAILED` with the
//! reasons, and the run ends with `tools: N passed, N failed`. Run a
//! subset with a name filter:
//! `cargo test --target x86_64-unknown-linux-gnu --test tools -- gdb`.
//! Applications are built in `target/apps` (shared, so ilusion's
//! dependencies are compiled once for every board).

#[path = "support/captured.rs"]
mod captured;

use captured::Captured;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a build and boot may take (a first build of ilusion and its crates).
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a boot, a GDB session or a runner error may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What a command did: its exit status (`None`: killed at the timeout) and
/// its standard output and error, interleaved.
struct Outcome {
    status: Option<i32>,
    output: String,
}

/// Runs `cmd` to completion or until `timeout`, collecting its output.
fn run(mut cmd: Command, timeout: Duration) -> Result<Outcome, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let shown = format!("{cmd:?}");
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {shown}: {e}"))?;
    let output = Captured::start(&mut child);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status.code();
        }
        if start.elapsed() > timeout {
            let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = output.finish();
    Ok(Outcome { status, output })
}

/// Runs `just` with each case's arguments (within `timeout`): each must
/// be refused with exit status 2 and print its line. What went otherwise.
fn refused_by_just(root: &Path, cases: &[(&[&str], &str)], timeout: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    for (args, line) in cases {
        let mut just = Command::new("just");
        just.current_dir(root).args(*args);
        match run(just, timeout) {
            Ok(o) => problems.extend(expect(&format!("just {}", args.join(" ")), &o, 2, &[line])),
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// The problems with an outcome: a status other than `exit`, or missing lines.
fn expect(what: &str, o: &Outcome, exit: i32, lines: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    match o.status {
        None => problems.push(format!("{what}: timed out")),
        Some(s) if s != exit => problems.push(format!("{what}: exit status {s}, expected {exit}")),
        _ => {}
    }
    for line in lines {
        if !o.output.contains(line) {
            problems.push(format!("{what}: output lacks {line:?}"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("---- output of {what} ----\n{}\n----", o.output.trim_end()));
    }
    problems
}

/// A fresh, empty directory for one check, outside the checkout (cargo
/// would apply ilusion's own `.cargo/config.toml` inside it).
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("ilusion-tools-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

/// A cargo command that does not inherit this test's cargo environment.
fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") || key == "RUSTFLAGS" || key == "RUSTC_WRAPPER" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir).env_remove("QEMU_EXTRA");
    cmd
}

/// `just maps isolation BOARD`: one SVG per isolated task, naming every region of the figure.
fn maps_pictures(root: &Path, board: &str) -> Vec<String> {
    let dir = root.join("target/maps/isolation");
    let _ = std::fs::remove_dir_all(&dir);
    let mut maps = Command::new("just");
    maps.current_dir(root).args(["maps", "isolation", board]);
    let outcome = match run(maps, BUILD_TIMEOUT) {
        Ok(o) => o,
        Err(e) => return vec![e],
    };
    let mut problems = expect(
        &format!("just maps isolation {board}"),
        &outcome,
        0,
        &[
            "task 2 (alpha): 9 regions -> target/maps/isolation/2-alpha.svg",
            "task 3 (beta): 9 regions -> target/maps/isolation/3-beta.svg",
        ],
    );
    for (file, title) in
        [("2-alpha.svg", "Address space of task 2 (alpha)"), ("3-beta.svg", "Address space of task 3 (beta)")]
    {
        let Ok(svg) = std::fs::read_to_string(dir.join(file)) else {
            problems.push(format!("no {file} in {}", dir.display()));
            continue;
        };
        // Well-formedness is checked by tools/trace's unit tests (with an XML parser); here, the content.
        if !svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") || !svg.trim_end().ends_with("</svg>") {
            problems.push(format!("{file} is not an SVG document"));
        }
        for kind in ["kernel", "code", "rodata", "stack", "guard", "heap", "data", "bss"] {
            if !svg.contains(&format!("data-kind=\"{kind}\"")) {
                problems.push(format!("{file} has no {kind} region"));
            }
        }
        for text in
            [title, "Not to scale", "1 GiB reserved", "of 262144 pages)", "rw-   16 KiB, all resident", "--x   "]
        {
            if !svg.contains(text) {
                problems.push(format!("{file} lacks {text:?}"));
            }
        }
        if svg.contains("<script") {
            problems.push(format!("{file} has a script"));
        }
    }
    problems
}

/// `just trace tasks BOARD`: the trace-event JSON and an SVG with a lane per task and a band per core.
fn trace_timeline(root: &Path, board: &str) -> Vec<String> {
    let dir = root.join("target/trace");
    for file in ["tasks.log", "tasks.json", "tasks.svg"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let mut trace = Command::new("just");
    trace.current_dir(root).args(["trace", "tasks", board]);
    let outcome = match run(trace, BUILD_TIMEOUT) {
        Ok(o) => o,
        Err(e) => return vec![e],
    };
    let mut problems = expect(
        &format!("just trace tasks {board}"),
        &outcome,
        0,
        &[
            "all messages consumed (900)",
            "wrote target/trace/tasks.json (open in ui.perfetto.dev) and target/trace/tasks.svg",
        ],
    );
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    let (log, json, svg) = (read("tasks.log"), read("tasks.json"), read("tasks.svg"));
    // What the dump says: its cores and its tasks but the idle task.
    let cores: usize = log
        .lines()
        .find_map(|l| l.split(" cores=").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let tasks = log.lines().filter(|l| l.starts_with("t ") && !l.starts_with("t 0 ")).count();
    if cores == 0 || tasks < 6 {
        problems.push(format!("the log's trace has {cores} cores and {tasks} tasks (expected main and five workers)"));
    }
    for text in [
        "{\"displayTimeUnit\":\"ns\"",
        "\"traceEvents\":[",
        "\"ph\":\"X\"",
        "\"ph\":\"M\",\"name\":\"thread_name\"",
        "producer-10 (#",
    ] {
        if !json.contains(text) {
            problems.push(format!("tasks.json lacks {text:?}"));
        }
    }
    if !json.trim_end().ends_with("]}") {
        problems.push("tasks.json does not end its traceEvents array and object".into());
    }
    let lanes = svg.matches("class=\"task-lane\"").count();
    let bands = svg.matches("class=\"core-band\"").count();
    if lanes != tasks || bands != cores {
        problems.push(format!(
            "tasks.svg has {lanes} task lanes and {bands} core bands, the trace {tasks} tasks and {cores} cores"
        ));
    }
    if !svg.trim_end().ends_with("</svg>") || svg.contains("<script") {
        problems.push("tasks.svg is not a plain SVG document".into());
    }
    problems
}

/// `just trace` that draws nothing (here a window after the trace's end)
/// leaves no pictures: an earlier run's JSON and SVG stayed, to be taken
/// for this run's.
fn trace_leaves_no_stale_pictures(root: &Path, board: &str) -> Vec<String> {
    let dir = root.join("target/trace");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["tasks.json", "tasks.svg"] {
        std::fs::write(dir.join(file), "an earlier run's picture\n").unwrap();
    }
    let mut trace = Command::new("just");
    // The default board named by leaving it out: the window options where
    // the board goes (they were taken for an unknown board '--from-us').
    assert_eq!(board, "qemu-virt", "the default board");
    trace.current_dir(root).args(["trace", "tasks", "--from-us", "1e15", "--to-us", "2e15"]);
    let mut problems = match run(trace, BUILD_TIMEOUT) {
        Ok(o) => expect(
            "just trace tasks --from-us 1e15 --to-us 2e15 (no board: the default; a window after the end)",
            &o,
            2,
            &["--from-us 1e15 is at or after the trace's end"],
        ),
        Err(e) => vec![e],
    };
    for file in ["tasks.json", "tasks.svg"] {
        if dir.join(file).exists() {
            problems.push(format!("target/trace/{file} from an earlier run is still there"));
        }
    }
    problems
}

/// `just maps shell`: a program that waits for input (or never ends) is
/// stopped after ILUSION_CAPTURE_TIMEOUT seconds, saying so, and what it
/// printed is drawn (here nothing: the shell dumps no address space); the
/// capture waited for ever.
fn capture_time_limit(root: &Path) -> Vec<String> {
    let mut maps = Command::new("just");
    maps.current_dir(root).args(["maps", "shell"]).env("ILUSION_CAPTURE_TIMEOUT", "15");
    // The hang is the failure looked for: no need to wait long for it.
    match run(maps, Duration::from_secs(240)) {
        Ok(o) => expect(
            "just maps shell (a program that waits for input)",
            &o,
            1,
            &[
                "note: shell did not finish within 15 s (it waits for input or runs for ever",
                "no address space in the log",
            ],
        ),
        Err(e) => vec![e],
    }
}

/// `ilusion-trace timeline` refuses `--json` or `--svg` naming the log (it
/// read the log, then wrote the JSON over it: the captured run was lost)
/// or both naming one file.
fn trace_outputs_not_the_log(root: &Path) -> Vec<String> {
    let mut build = Command::new("just");
    build.current_dir(root).arg("_trace_tool");
    match run(build, BUILD_TIMEOUT) {
        Ok(o) if o.status == Some(0) => {}
        Ok(o) => return vec![format!("just _trace_tool failed:\n{}", o.output)],
        Err(e) => return vec![e],
    }
    let tool = root.join("target/trace-tool/x86_64-unknown-linux-gnu/release/ilusion-trace");
    let dir = scratch_dir("trace-outputs");
    std::fs::create_dir_all(&dir).unwrap();
    // A valid one-core trace: its sum is FNV-1a 32 of the t and e lines, each with its newline.
    let body = ["t 1 main", "e 0 0 sp 1 0", "e 0 3e8 sw 0 1 idle"];
    let sum = body
        .iter()
        .flat_map(|l| l.bytes().chain([b'\n']))
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let log_text = format!(
        "@@ilusion-trace v1 cores=1 hz=1000000 start=0\n{}\n@@end events=2 lost=0 sum={sum:08x}\n",
        body.join("\n")
    );
    let log = dir.join("run.log");
    std::fs::write(&log, &log_text).unwrap();
    let (log_arg, svg) = (log.to_str().unwrap(), dir.join("run.svg"));
    let mut problems = Vec::new();
    let cases: [(&[&str], &str); 2] = [
        (&["--json", log_arg, "--svg", svg.to_str().unwrap()], "--json and --svg must not name the log"),
        (&["--json", svg.to_str().unwrap(), "--svg", svg.to_str().unwrap()], "--json and --svg name the same file"),
    ];
    for (outputs, line) in cases {
        let mut cmd = Command::new(&tool);
        cmd.arg("timeline").arg(&log).args(outputs);
        match run(cmd, RUN_TIMEOUT) {
            Ok(o) => {
                problems.extend(expect(&format!("ilusion-trace timeline LOG {}", outputs.join(" ")), &o, 2, &[line]))
            }
            Err(e) => problems.push(e),
        }
    }
    if std::fs::read_to_string(&log).unwrap_or_default() != log_text {
        problems.push("ilusion-trace wrote over the log".into());
    }
    problems
}

/// `just maps`, `just trace` and every recipe that builds an example
/// refuse what does not exist with one line and exit status 2 (the
/// examples by `boards/example`: before, `run`, `image` and `sdcard` left
/// an unknown one to cargo, whose error listed every test image too).
fn observe_errors(root: &Path) -> Vec<String> {
    let cases: [(&[&str], &str); 7] = [
        (&["maps", "no_such_example"], "error: no example 'no_such_example' (examples: blink hello"),
        (&["trace", "no_such_example"], "error: no example 'no_such_example'"),
        (&["run", "no_such_example"], "error: no example 'no_such_example'"),
        (&["image", "qemu-virt", "no_such_example"], "error: no example 'no_such_example'"),
        (&["sdcard", "rpi4", "no_such_example"], "error: no example 'no_such_example'"),
        (&["maps", "isolation", "no-such-board"], "error: unknown board 'no-such-board'"),
        (&["trace", "tasks", "no-such-board"], "error: unknown board 'no-such-board'"),
    ];
    refused_by_just(root, &cases, RUN_TIMEOUT)
}

/// `just image` and `just sdcard` take the board first, `just run` the
/// example: given an example where the board goes (`just image shell`,
/// as after `just run shell`), they said only "unknown board 'shell'".
/// They name the order and the command meant.
fn board_and_example_swapped(root: &Path) -> Vec<String> {
    let cases: [(&[&str], &str); 3] = [
        (
            &["image", "shell"],
            "error: 'shell' is an example, not a board: just image takes the board first (just image qemu-virt shell)",
        ),
        (
            &["image", "shell", "rpi4"],
            "error: 'shell' is an example, not a board: just image takes the board first (just image rpi4 shell)",
        ),
        (
            &["sdcard", "hello", "rpi4"],
            "error: 'hello' is an example, not a board: just sdcard takes the board first (just sdcard rpi4 hello)",
        ),
    ];
    refused_by_just(root, &cases, RUN_TIMEOUT)
}

/// Every recipe and script that takes a board name accepts only a plain
/// known one (`boards/known`): `../boards/rpi4`, `.` or `rpi4/` passed a
/// bare directory test (`boards/$board` exists), and cargo then failed on
/// the feature `board-../boards/rpi4` (exit 101), or `just new` wrote it
/// into the new app's Cargo.toml.
fn board_names_are_plain(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for name in ["../boards/rpi4", ".", "rpi4/"] {
        let app = scratch_dir("board-names-app");
        let app = app.to_str().unwrap_or("app");
        let calls: [&[&str]; 6] = [
            &["run", "hello", name],
            &["_build", name],
            &["image", name],
            &["trace", "tasks", name],
            &["maps", "isolation", name],
            &["new", app, name],
        ];
        for args in calls {
            let mut just = Command::new("just");
            just.current_dir(root).args(args);
            let line = format!("error: unknown board '{name}' (known: qemu-virt rpi3 rpi4)");
            match run(just, RUN_TIMEOUT) {
                Ok(o) => problems.extend(expect(&format!("just {}", args.join(" ")), &o, 2, &[&line])),
                Err(e) => problems.push(e),
            }
        }
        if Path::new(app).exists() {
            problems.push(format!("just new {app} {name} made the app all the same"));
        }
    }
    problems
}

/// `just new` for `board`, then `cargo run --release` in the new app.
/// Returns the problems and, if it built, the app's image.
fn new_app(root: &Path, board: &str) -> (Vec<String>, Option<PathBuf>) {
    let name = format!("app-{board}");
    let dir = scratch_dir(&name);
    let mut new = Command::new("just");
    new.current_dir(root).arg("new").arg(&dir).arg(board);
    let made = match run(new, RUN_TIMEOUT) {
        Ok(o) => o,
        Err(e) => return (vec![e], None),
    };
    let mut problems = expect("just new", &made, 0, &[&format!("application for {board}")]);
    if !problems.is_empty() {
        return (problems, None);
    }
    // ilusion's own dependencies resolve to the versions in its Cargo.lock.
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_default();
    let ours = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    for package in ours.split("[[package]]").skip(1).filter(|p| p.contains("source = ")) {
        let head: String = package.lines().take(3).collect::<Vec<_>>().join("\n");
        if !lock.contains(&head) {
            problems.push(format!("the app's Cargo.lock does not pin {}", head.trim()));
        }
    }
    let mut build = cargo(&dir);
    build.arg("run").arg("--release").env("CARGO_TARGET_DIR", root.join("target/apps"));
    match run(build, BUILD_TIMEOUT) {
        Ok(o) => problems.extend(expect(
            "cargo run --release",
            &o,
            0,
            &[&format!("ilusion 0.1.0 on {board}"), &format!("hello from {name} on {board}: sum 55")],
        )),
        Err(e) => problems.push(e),
    }
    let elf = root.join("target/apps/aarch64-unknown-none/release").join(&name);
    // The template links with tools/symbols/link: the image names its own functions.
    let table = scratch_dir(&format!("{name}-symbols.bin"));
    let dumped = Command::new("llvm-objcopy")
        .arg(format!("--dump-section=.ilusion.symbols={}", table.display()))
        .arg(&elf)
        .arg("/dev/null")
        .status();
    let names = std::fs::read(&table).unwrap_or_default();
    if !dumped.is_ok_and(|s| s.success()) || !names.windows(12).any(|w| w == b"ilusion_main") {
        problems.push("the app's image has no symbol table naming ilusion_main (.ilusion.symbols)".into());
    }
    (problems, elf.exists().then_some(elf))
}

/// An application whose ipc message type is larger than
/// `ipc::MAX_MESSAGE_SIZE` does not build, and the error names the limit
/// (such a message would run off the 8 KiB kernel stack of a system call).
fn oversized_message_refused(root: &Path) -> Vec<String> {
    let dir = scratch_dir("app-oversized-message");
    let mut new = Command::new("just");
    new.current_dir(root).arg("new").arg(&dir).arg("qemu-virt");
    if let Err(e) = run(new, RUN_TIMEOUT) {
        return vec![e];
    }
    let program = "#![no_std]\n#![no_main]\nilusion::entry!(main);\n\
        fn main() {\n    let (tx, _rx) = ilusion::ipc::channel::<[u8; 1025]>(1);\n    let _ = tx.send([0; 1025]);\n}\n";
    if let Err(e) = std::fs::write(dir.join("src/main.rs"), program) {
        return vec![format!("cannot write the program: {e}")];
    }
    let mut build = cargo(&dir);
    build.arg("build").arg("--release").env("CARGO_TARGET_DIR", root.join("target/apps"));
    match run(build, BUILD_TIMEOUT) {
        Ok(o) => expect(
            "cargo build (a 1025-byte message)",
            &o,
            101,
            &["an ipc message is at most ipc::MAX_MESSAGE_SIZE (1024) bytes"],
        ),
        Err(e) => vec![e],
    }
}

/// The runner refuses an image built for another board and a file that is
/// not an AArch64 ELF (which QEMU would boot as raw bytes, and hang), and
/// names the missing QEMU, each with a clear message and without booting.
fn runner_errors(root: &Path, board: &str, elf: &Path) -> Vec<String> {
    let other = if board == "qemu-virt" { "rpi4" } else { "qemu-virt" };
    let mut problems = Vec::new();
    let mut mismatch = Command::new(root.join("boards/run"));
    mismatch.arg("--board").arg(other).arg(elf).env_remove("QEMU_EXTRA");
    match run(mismatch, RUN_TIMEOUT) {
        Ok(o) => problems.extend(expect(
            "boards/run --board OTHER",
            &o,
            2,
            &[&format!("was built for board '{board}', not '{other}'")],
        )),
        Err(e) => problems.push(e),
    }
    // Not an AArch64 ELF (text; the host's own programs): named, not booted
    // as raw bytes that hang the board. `--board` is given, so the missing
    // board note is not what stops it.
    let scratch = scratch_dir(&format!("runner-errors-{board}"));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let text = scratch.join("notes.elf");
    std::fs::write(&text, "not an image\n").expect("scratch file");
    let host_program = std::env::current_exe().expect("this test's own path");
    for bad in [text.as_path(), host_program.as_path()] {
        let mut not_elf = Command::new(root.join("boards/run"));
        not_elf.arg("--board").arg(board).arg(bad).env_remove("QEMU_EXTRA");
        match run(not_elf, RUN_TIMEOUT) {
            Ok(o) => problems.extend(expect(
                &format!("boards/run --board {board} {}", bad.display()),
                &o,
                2,
                &["is not an AArch64 ELF image"],
            )),
            Err(e) => problems.push(e),
        }
    }
    let mut no_qemu = Command::new(root.join("boards/run"));
    no_qemu.arg(elf).env("QEMU", "/nonexistent/qemu-system-aarch64");
    match run(no_qemu, RUN_TIMEOUT) {
        Ok(o) => problems.extend(expect("boards/run without QEMU", &o, 127, &["qemu-system-aarch64 not found"])),
        Err(e) => problems.push(e),
    }
    problems
}

/// Builds qemu-virt's `hello` image (`target/images/qemu-virt/hello.elf`
/// and `.img`), for the runner's checks; why not, if it fails.
fn build_hello(root: &Path) -> Result<(), String> {
    let mut build = Command::new("just");
    build.current_dir(root).args(["_build_one", "qemu-virt", "hello"]);
    match run(build, BUILD_TIMEOUT)? {
        o if o.status == Some(0) => Ok(()),
        o => Err(format!("just _build_one qemu-virt hello failed:\n{}", o.output)),
    }
}

/// `boards/run` refuses RAM too small to hold the image (`-m 2M` on
/// qemu-virt, whose images are loaded 2 MiB into RAM): QEMU loaded none of
/// it and the board hung without a word. The last `-m` counts, from the
/// arguments or QEMU_EXTRA, in QEMU's forms; enough RAM boots.
fn ram_too_small_refused(root: &Path) -> Vec<String> {
    if let Err(e) = build_hello(root) {
        return vec![e];
    }
    let elf = root.join("target/images/qemu-virt/hello.elf");
    let elf = elf.to_str().unwrap();
    let refusal = ["is too little RAM for", "the board would hang silently); give at least -m "];
    let mut problems = Vec::new();
    for args in [&[elf, "-m", "2M"][..], &[elf, "-m", "size=2,maxmem=4G"], &[elf, "-m", "1G", "-m", "0.002G"]] {
        problems.extend(refuses(root, "boards/run", args, 2, &refusal));
    }
    let mut extra = Command::new(root.join("boards/run"));
    extra.current_dir(root).arg(elf).env("QEMU_EXTRA", "-m 2M");
    match run(extra, RUN_TIMEOUT) {
        Ok(o) => problems.extend(expect("QEMU_EXTRA='-m 2M' boards/run hello.elf", &o, 2, &refusal)),
        Err(e) => problems.push(e),
    }
    problems.extend(refuses(root, "boards/run", &[elf, "-m", "2M", "-m", "3M"], 0, &["hello from qemu-virt"]));
    problems
}

/// `boards/run` refuses a `-machine` (or `-M`) naming another board's
/// machine, from the arguments or QEMU_EXTRA: QEMU took the
/// last one, and an rpi3 image booted on `raspi4b` hung without a word
/// (the runner promises an image never boots on the wrong machine).
/// Machine properties alone, or with the board's own machine, still boot,
/// and so does a machine no board names (`raspi3ap`, a Pi 3 A+).
fn other_machine_refused(root: &Path) -> Vec<String> {
    if let Err(e) = build_hello(root) {
        return vec![e];
    }
    let mut build = Command::new("just");
    build.current_dir(root).args(["_build_one", "rpi3", "hello"]);
    match run(build, BUILD_TIMEOUT) {
        Ok(o) if o.status == Some(0) => {}
        Ok(o) => return vec![format!("just _build_one rpi3 hello failed:\n{}", o.output)],
        Err(e) => return vec![e],
    }
    let (pi, virt) = ("target/images/rpi3/hello.elf", "target/images/qemu-virt/hello.elf");
    let refusal = [
        "error: -machine raspi4b is not the machine of target/images/rpi3/hello.elf",
        "board 'rpi3', QEMU machine raspi3b",
        "raspi4b is board rpi4's: rebuild the image for rpi4",
    ];
    let mut problems = Vec::new();
    for args in [&[pi, "-machine", "raspi4b"][..], &[pi, "-M", "type=raspi4b,usb=off"]] {
        problems.extend(refuses(root, "boards/run", args, 2, &refusal));
    }
    let mut extra = Command::new(root.join("boards/run"));
    extra.current_dir(root).arg(pi).env("QEMU_EXTRA", "-machine raspi4b");
    match run(extra, RUN_TIMEOUT) {
        Ok(o) => problems.extend(expect("QEMU_EXTRA='-machine raspi4b' boards/run hello.elf", &o, 2, &refusal)),
        Err(e) => problems.push(e),
    }
    for args in [&[virt, "-machine", "gic-version=3"][..], &[virt, "-machine", "virt,gic-version=3"]] {
        problems.extend(refuses(root, "boards/run", args, 0, &["hello from qemu-virt"]));
    }
    // A machine no board names, that runs the image: the Pi 3 A+ (512 MiB).
    problems.extend(refuses(
        root,
        "boards/run",
        &[pi, "-machine", "raspi3ap"],
        0,
        &["Pi 3 Model A+", "hello from rpi3"],
    ));
    problems
}

/// `boards/run --raw` boots the `.img` beside the ELF only if it is the
/// ELF's raw image byte for byte: an empty or cut one hung the board (QEMU
/// ran what it had), and a stale one ran another program under the ELF's
/// board check and symbols.
fn raw_image_checked(root: &Path) -> Vec<String> {
    if let Err(e) = build_hello(root) {
        return vec![e];
    }
    let dir = scratch_dir("raw-image");
    std::fs::create_dir_all(&dir).unwrap();
    let (elf, img) = (dir.join("hello.elf"), dir.join("hello.img"));
    std::fs::copy(root.join("target/images/qemu-virt/hello.elf"), &elf).unwrap();
    let raw = std::fs::read(root.join("target/images/qemu-virt/hello.img")).unwrap_or_default();
    let mut problems = Vec::new();
    let boot = |what: &str, contents: &[u8], exit: i32, line: &str| {
        std::fs::write(&img, contents).unwrap();
        let mut cmd = Command::new(root.join("boards/run"));
        cmd.arg("--raw").arg(&elf).env_remove("QEMU_EXTRA");
        // A hang is the failure looked for: no need to wait long for it.
        match run(cmd, Duration::from_secs(30)) {
            Ok(o) => expect(&format!("boards/run --raw ({what} hello.img)"), &o, exit, &[line]),
            Err(e) => vec![e],
        }
    };
    let refused = "hello.img is not the raw image of";
    problems.extend(boot("an empty", b"", 2, refused));
    problems.extend(boot("a cut", &raw[..raw.len() / 2], 2, refused));
    problems.extend(boot("the right", &raw, 0, "hello from qemu-virt"));
    problems
}

/// `boards/run` names an ELF cut short (a copy interrupted) as damaged,
/// with or without `--board`: it said the image had no board note ("not an
/// ilusion image, or built with an older ilusion"), which it had.
fn cut_elf_named(root: &Path) -> Vec<String> {
    if let Err(e) = build_hello(root) {
        return vec![e];
    }
    let whole = std::fs::read(root.join("target/images/qemu-virt/hello.elf")).unwrap_or_default();
    let dir = scratch_dir("cut-elf");
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("hello.elf");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let line = format!("error: {} is a damaged AArch64 ELF image (llvm-objcopy: ", cut.display());
    let mut problems = refuses(root, "boards/run", &[cut.to_str().unwrap()], 2, &[&line]);
    problems.extend(refuses(root, "boards/run", &["--board", "qemu-virt", cut.to_str().unwrap()], 2, &[&line]));
    problems
}

/// Runs `program` (a path under the checkout) with `args` from the checkout,
/// and expects exit status `exit` and each of `lines` in its output.
fn refuses(root: &Path, program: &str, args: &[&str], exit: i32, lines: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(root.join(program));
    cmd.current_dir(root).args(args).env_remove("QEMU_EXTRA");
    match run(cmd, RUN_TIMEOUT) {
        Ok(o) => expect(&format!("{program} {}", args.join(" ")), &o, exit, lines),
        Err(e) => vec![e],
    }
}

/// `boards/sdcard` refuses, before building anything: an `--output` that
/// exists and is not a regular file (it deleted a device node and wrote a
/// file in its place), `--output` without a value, an unknown example
/// with `--no-build`, and arguments after BOARD and EXAMPLE (a late option
/// was silently ignored).
fn sdcard_refusals(root: &Path) -> Vec<String> {
    let dir = scratch_dir("sdcard-output");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("not-a-file");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return vec!["cannot make a named pipe with mkfifo".into()];
    }
    let fifo_arg = fifo.to_str().unwrap();
    let mut problems = refuses(
        root,
        "boards/sdcard",
        &["--no-build", "--output", fifo_arg, "rpi4"],
        2,
        &["exists and is not a regular file"],
    );
    let still_fifo = std::fs::symlink_metadata(&fifo).map(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
    if !still_fifo.unwrap_or(false) {
        problems.push(format!("boards/sdcard replaced the named pipe {fifo_arg}"));
    }
    problems.extend(refuses(root, "boards/sdcard", &["--output"], 2, &["--output needs a file name"]));
    // No image for an unknown example: the example is named as unknown (it
    // said "run 'just image rpi4 nosuch' first", a command that fails too).
    problems.extend(refuses(
        root,
        "boards/sdcard",
        &["--no-build", "rpi4", "nosuch"],
        2,
        &["error: no example 'nosuch'"],
    ));
    problems.extend(refuses(
        root,
        "boards/sdcard",
        &["--no-build", "rpi4", "hello", "--output", fifo_arg],
        2,
        &["unexpected argument(s) after BOARD and EXAMPLE: --output"],
    ));
    problems
}

/// `boards/sdcard --output` never replaces one of the card's inputs (given
/// the kernel's own path, it deleted the kernel, then failed "Disk full"
/// copying the half-written card into itself), and a card it cannot finish
/// (a kernel too big for the boot partition) is removed, not left behind.
/// In a scratch checkout, with stand-in firmware and kernels.
fn sdcard_inputs(root: &Path) -> Vec<String> {
    let copy = scratch_checkout("sdcard-inputs", root);
    let (firmware, images) = (copy.join("firmware"), copy.join("target/images/rpi4"));
    for d in [&firmware, &images] {
        std::fs::create_dir_all(d).unwrap();
    }
    for f in ["start4.elf", "fixup4.dat"] {
        std::fs::write(firmware.join(f), "firmware\n").unwrap();
    }
    let kernel = images.join("hello.img");
    std::fs::write(&kernel, "kernel\n").unwrap();
    std::fs::File::create(images.join("big.img")).unwrap().set_len(70 << 20).unwrap();
    let sdcard = |args: &[&str]| {
        let mut cmd = Command::new(copy.join("boards/sdcard"));
        cmd.current_dir(&copy).arg("--no-build").args(args).env("RPI_FIRMWARE_DIR", &firmware);
        run(cmd, RUN_TIMEOUT)
    };
    let mut problems = Vec::new();
    let inputs = [kernel.clone(), copy.join("boards/rpi4/config.txt"), firmware.join("start4.elf")];
    for input in &inputs {
        let before = std::fs::read(input).unwrap_or_default();
        let output = input.to_str().unwrap();
        match sdcard(&["--output", output, "rpi4", "hello"]) {
            Ok(o) => problems.extend(expect(
                &format!("boards/sdcard --output {output}"),
                &o,
                2,
                &["one of the card's inputs: refusing to replace it"],
            )),
            Err(e) => problems.push(e),
        }
        if std::fs::read(input).unwrap_or_default() != before {
            problems.push(format!("boards/sdcard --output {output} replaced that input"));
        }
    }
    match sdcard(&["rpi4", "big"]) {
        Ok(o) => problems.extend(expect(
            "boards/sdcard rpi4 big (a 70 MiB kernel)",
            &o,
            1,
            &["into the card's 64 MiB boot partition", "the SD card image was not finished"],
        )),
        Err(e) => problems.push(e),
    }
    if images.join("big-sdcard.img").exists() {
        problems.push("boards/sdcard rpi4 big left a half-written big-sdcard.img".into());
    }
    problems
}

/// `benches/run --compare` (the comparison `--check` makes) fails naming
/// each figure of the baseline that was not measured: it used to compare
/// only the figures measured, so a benchmark that stopped printing passed.
fn bench_check_missing(root: &Path) -> Vec<String> {
    let baseline = std::fs::read_to_string(root.join("benches/baseline.json")).unwrap_or_default();
    let figures: Vec<&str> = baseline.lines().filter(|l| l.contains("\": ")).collect();
    if figures.len() < 2 {
        return vec!["benches/baseline.json has fewer than two figures".into()];
    }
    // Only the first figure measured: the second must be reported missing.
    let first = figures[0].trim().trim_end_matches(',');
    let second = figures[1].trim().split('"').nth(1).unwrap_or_default();
    let dir = scratch_dir("bench-check");
    std::fs::create_dir_all(&dir).unwrap();
    let partial = dir.join("partial.json");
    std::fs::write(&partial, format!("{{\n  {first}\n}}\n")).unwrap();
    let mut problems =
        refuses(root, "benches/run", &["--compare", partial.to_str().unwrap()], 1, &[&format!("MISSING: {second}")]);
    let full = root.join("benches/baseline.json");
    problems.extend(refuses(root, "benches/run", &["--compare", full.to_str().unwrap()], 0, &["bench check: every"]));
    problems
}

/// `benches/run` refuses a bad command line before booting anything: a
/// misspelt flag (`--chek` ran every benchmark and checked nothing, exit
/// 0), an unknown board (named as a missing `bench_*.elf`), `--compare`
/// without one file; and a results figure that is no number is reported
/// (it passed the check with a shell error).
fn bench_arguments(root: &Path) -> Vec<String> {
    let baseline = std::fs::read_to_string(root.join("benches/baseline.json")).unwrap_or_default();
    let Some(name) = baseline.lines().find_map(|l| l.trim().strip_prefix('"')?.split('"').next()) else {
        return vec!["benches/baseline.json has no figure".into()];
    };
    let dir = scratch_dir("bench-arguments");
    std::fs::create_dir_all(&dir).unwrap();
    let results = dir.join("not-a-number.json");
    std::fs::write(&results, format!("{{\n  \"{name}\": \"fast\"\n}}\n")).unwrap();
    let usage = "usage: benches/run [BOARD] [--check] | benches/run --compare RESULTS.json";
    let mut problems = refuses(
        root,
        "benches/run",
        &["qemu-virt", "--chek"],
        2,
        &["error: unknown argument(s) after the board: --chek"],
    );
    problems.extend(refuses(root, "benches/run", &["no-such-board"], 2, &["error: unknown board 'no-such-board'"]));
    problems.extend(refuses(
        root,
        "benches/run",
        &["--compare"],
        2,
        &["error: --compare takes one results file", usage],
    ));
    problems.extend(refuses(
        root,
        "benches/run",
        &["--compare", results.to_str().unwrap()],
        1,
        &[&format!("BAD: {name} has no whole number in {}", results.display())],
    ));
    problems
}

/// `benches/profile-pairs` refuses a bad command line before it builds or
/// boots anything, saying what was wrong and how it is used.
fn profile_pairs_arguments(root: &Path) -> Vec<String> {
    let usage = "usage: benches/profile-pairs [--cores N] [OUT_DIR]";
    let mut problems =
        refuses(root, "benches/profile-pairs", &["--pairs=5"], 2, &["error: unknown option '--pairs=5'", usage]);
    problems.extend(refuses(root, "benches/profile-pairs", &["a", "b"], 2, &["error: one OUT_DIR at most", usage]));
    for cores in ["0", "9", "four"] {
        let error = format!("error: --cores takes a number of cores from 1 to 8, not '{cores}'");
        problems.extend(refuses(root, "benches/profile-pairs", &["--cores", cores], 2, &[&error, usage]));
    }
    problems.extend(refuses(
        root,
        "benches/profile-pairs",
        &["--cores"],
        2,
        &["error: --cores takes a number of cores from 1 to 8, not ''", usage],
    ));
    problems
}

/// A `benches/run` whose benchmark fails leaves no results file: the
/// previous run's stayed in `target/bench/`, read as this run's.
fn bench_failure_leaves_no_results(root: &Path) -> Vec<String> {
    let copy = scratch_checkout("bench-failure-checkout", root);
    let images = copy.join("target/images/qemu-virt");
    let results = copy.join("target/bench/qemu-virt.json");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(copy.join("benches")).unwrap();
    std::fs::create_dir_all(results.parent().unwrap()).unwrap();
    std::fs::copy(root.join("benches/run"), copy.join("benches/run")).unwrap();
    std::fs::write(images.join("bench_broken.elf"), "not an image\n").unwrap();
    std::fs::write(&results, "{\n  \"yield_coop\": 1\n}\n").unwrap();
    let mut problems = refuses(&copy, "benches/run", &["qemu-virt"], 1, &["error: benchmark bench_broken.elf failed"]);
    if results.exists() {
        problems.push(format!("a failed benches/run left the previous results in {}", results.display()));
    }
    problems
}

/// `tools/bookcheck/bookcheck.py` given a folder without a book (a typo,
/// or not the checkout) fails naming it: it checked no file and passed
/// ("bookcheck: 0 files, 0 problems", exit 0).
fn bookcheck_root(root: &Path) -> Vec<String> {
    let empty = scratch_dir("bookcheck-root");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    let mut problems = Vec::new();
    for folder in [empty, "/no/such/checkout"] {
        let line = format!("bookcheck: error: {folder} has no docs/ folder");
        problems.extend(refuses(root, "tools/bookcheck/bookcheck.py", &[folder], 2, &[&line]));
    }
    problems.extend(refuses(root, "tools/bookcheck/bookcheck.py", &[".", "docs"], 2, &["too many arguments"]));
    problems
}

/// `.ci/install-deps.sh` when the Pi firmware is missing and apt has no
/// raspi-firmware: it adds Debian's non-free-firmware source on Debian
/// only (it wrote a deb.debian.org line with any system's codename), takes
/// it away again if `apt-get update` fails (a broken list broke every later
/// apt-get), and a firmware it cannot install is a warning, not a failure.
/// apt-get, apt-cache and sudo are stand-ins that log what they were asked.
fn setup_firmware_source(root: &Path) -> Vec<String> {
    let dir = scratch_dir("install-deps");
    let (bin, sources, firmware) = (dir.join("bin"), dir.join("sources.list.d"), dir.join("firmware"));
    for d in [&bin, &sources, &firmware] {
        std::fs::create_dir_all(d).unwrap();
    }
    let log = dir.join("apt.log");
    let stubs = [
        ("apt-cache", "exit 0".to_string()),
        ("apt-get", format!("echo \"$*\" >> '{}'\nexit 100", log.display())),
        ("sudo", "exec \"$@\"".to_string()),
    ];
    for (name, body) in stubs {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, executable).unwrap();
    }
    let mut problems = Vec::new();
    for (id, codename, updates) in [("ubuntu", "noble", false), ("debian", "bookworm", true)] {
        let _ = std::fs::remove_file(&log);
        let os_release = dir.join("os-release");
        std::fs::write(&os_release, format!("ID={id}\nVERSION_CODENAME={codename}\n")).unwrap();
        let mut setup = Command::new("bash");
        setup
            .current_dir(root)
            .arg(".ci/install-deps.sh")
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("RPI_FIRMWARE_DIR", &firmware)
            .env("ILUSION_OS_RELEASE", &os_release)
            .env("ILUSION_APT_SOURCES", &sources);
        let what = format!(".ci/install-deps.sh on {id} {codename} without the firmware");
        match run(setup, RUN_TIMEOUT) {
            Ok(o) => {
                problems.extend(expect(
                    &what,
                    &o,
                    0,
                    &["warning: could not install the Raspberry Pi firmware", "setup: "],
                ));
                // Its last line names the versions once each ("just just 1.59.0" said `just` twice).
                if let Some(line) = o.output.lines().find(|l| l.starts_with("setup: ") && l.contains("just just")) {
                    problems.push(format!("{what}: {line:?} names just twice"));
                }
            }
            Err(e) => problems.push(e),
        }
        let left: Vec<_> = std::fs::read_dir(&sources).unwrap().flatten().map(|e| e.file_name()).collect();
        if !left.is_empty() {
            problems.push(format!("{what}: left {left:?} in sources.list.d"));
        }
        let asked = std::fs::read_to_string(&log).unwrap_or_default();
        if asked.contains("update") != updates {
            problems.push(format!("{what}: apt-get was asked {asked:?}"));
        }
    }
    problems
}

/// A directory holding a stand-in `cargo` that logs its arguments (a
/// line per call) to the returned file and builds nothing: for checking
/// how the scripts call cargo without a full build.
fn logging_cargo(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(name);
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("cargo.log");
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (bin, log)
}

/// A copy of the checkout's `Justfile`, `Cargo.toml` and `boards/` in a
/// scratch directory, for running the build scripts with the stand-in
/// cargo: on the checkout itself, their copies of what was built (nothing,
/// so whatever the last real build left, for another board) would
/// overwrite its images (`target/images/`, which the bench check then boots).
fn scratch_checkout(name: &str, root: &Path) -> PathBuf {
    let copy = scratch_dir(name).join("checkout");
    std::fs::create_dir_all(&copy).unwrap();
    let status =
        Command::new("cp").arg("-r").args(["Justfile", "Cargo.toml", "boards"]).arg(&copy).current_dir(root).status();
    assert!(status.is_ok_and(|s| s.success()), "copying the checkout's build scripts to {}", copy.display());
    copy
}

/// With `bin` first on PATH, runs `cmd` (its outcome does not matter: the
/// stand-in cargo builds nothing) and returns the cargo calls it made.
fn cargo_calls(mut cmd: Command, bin: &Path, log: &Path) -> Result<Vec<String>, String> {
    cmd.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()));
    run(cmd, RUN_TIMEOUT)?;
    Ok(std::fs::read_to_string(log).unwrap_or_default().lines().map(String::from).collect())
}

/// `just _build` names a --target-dir in each cargo build: the first one
/// had none, so with CARGO_TARGET_DIR set the images went there and the
/// copies read stale or missing ones from target/ without a word.
fn build_target_dirs(root: &Path) -> Vec<String> {
    let (bin, log) = logging_cargo("build-target-dirs");
    let copy = scratch_checkout("build-target-dirs-checkout", root);
    let mut build = Command::new("just");
    build.current_dir(&copy).args(["_build", "qemu-virt"]).env("CARGO_TARGET_DIR", bin.join("elsewhere"));
    let calls = match cargo_calls(build, &bin, &log) {
        Ok(calls) => calls,
        Err(e) => return vec![e],
    };
    let mut problems: Vec<String> =
        calls.iter().filter(|c| !c.contains("--target-dir")).map(|c| format!("cargo {c}: no --target-dir")).collect();
    if calls.len() < 2 {
        problems.push(format!("just _build made {} cargo calls, expected the examples' builds", calls.len()));
    }
    problems
}

/// A PATH with `bin` first, then every program of this PATH but `missing`
/// (as links in a scratch directory): a host without that tool.
fn path_without(missing: &str, bin: &Path) -> String {
    let dir = scratch_dir(&format!("path-without-{missing}"));
    std::fs::create_dir_all(&dir).unwrap();
    for folder in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for program in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let link = dir.join(program.file_name());
            if program.file_name() != missing && std::fs::symlink_metadata(&link).is_err() {
                let _ = std::os::unix::fs::symlink(program.path(), link);
            }
        }
    }
    format!("{}:{}", bin.display(), dir.display())
}

/// Without llvm-objcopy, `just _build_one`, `just _build` and
/// `tools/chainloader/build` say so before building: they built, copied
/// the new ELF over the old and then failed with bash's "command not
/// found", leaving the raw image beside it stale (`just sdcard --no-build`,
/// `boards/run --raw` and `just chainload` then used the old program).
fn missing_objcopy(root: &Path) -> Vec<String> {
    let (bin, log) = logging_cargo("missing-objcopy");
    let copy = scratch_checkout("missing-objcopy-checkout", root);
    let path = path_without("llvm-objcopy", &bin);
    let line = "error: llvm-objcopy not found (it makes the raw image)";
    let mut problems = Vec::new();
    let mut commands = Vec::new();
    for args in [&["_build_one", "qemu-virt", "hello"][..], &["_build", "qemu-virt"]] {
        let mut just = Command::new("just");
        just.current_dir(&copy).args(args);
        commands.push((format!("just {}", args.join(" ")), just));
    }
    let mut chainloader = Command::new(root.join("tools/chainloader/build"));
    chainloader.current_dir(root).arg("rpi4");
    commands.push(("tools/chainloader/build rpi4".into(), chainloader));
    for (what, mut cmd) in commands {
        cmd.env("PATH", &path);
        match run(cmd, RUN_TIMEOUT) {
            Ok(o) => problems.extend(expect(&format!("{what} without llvm-objcopy"), &o, 127, &[line])),
            Err(e) => problems.push(e),
        }
    }
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    if !calls.is_empty() {
        problems.push(format!("cargo was called before llvm-objcopy was looked for:\n{calls}"));
    }
    problems
}

/// `tools/chainloader/build` (run by `just chainloader` and `just _build`
/// for the Pis) in a checkout whose path has a space: its RUSTFLAGS split
/// the linker script's path, and rustc failed ("multiple input filenames").
fn chainloader_spaced_path(root: &Path) -> Vec<String> {
    let dir = scratch_dir("chainloader-spaced-path");
    std::fs::create_dir_all(&dir).unwrap();
    let checkout = dir.join("my checkout");
    if let Err(e) = std::os::unix::fs::symlink(root, &checkout) {
        return vec![format!("cannot link {} to the checkout: {e}", checkout.display())];
    }
    let mut build = Command::new(checkout.join("tools/chainloader/build"));
    build.current_dir(&dir).arg("rpi4");
    match run(build, BUILD_TIMEOUT) {
        Ok(o) => expect("tools/chainloader/build rpi4 (checkout path with a space)", &o, 0, &["chainloader.img"]),
        Err(e) => vec![e],
    }
}

/// `boards/image BOARD shell` builds with the shell feature (cargo refused:
/// "requires the features: shell").
fn image_with_shell(root: &Path) -> Vec<String> {
    let (bin, log) = logging_cargo("image-shell");
    let copy = scratch_checkout("image-shell-checkout", root);
    let mut image = Command::new(copy.join("boards/image"));
    image.current_dir(&copy).args(["rpi4", "shell"]);
    match cargo_calls(image, &bin, &log) {
        Ok(calls) if calls.iter().any(|c| c.contains("--features board-rpi4,shell ")) => Vec::new(),
        Ok(calls) => vec![format!("boards/image rpi4 shell called cargo {calls:?}, without the shell feature")],
        Err(e) => vec![e],
    }
}

/// `ILUSION_LOG=verbose just run` (or `just image`) builds with info and
/// says so: the build script's warning was hidden, every build here runs
/// `cargo -q`, which drops build-script warnings.
fn bad_log_level_warned(root: &Path) -> Vec<String> {
    let (bin, _log) = logging_cargo("log-level");
    let copy = scratch_checkout("log-level-checkout", root);
    let warning = "warning: ILUSION_LOG=\"verbose\" is not a log level (use one of: off, error, warn, info, debug, trace); building with info";
    let mut problems = Vec::new();
    let calls: [(&str, &[&str]); 2] =
        [("just", &["_build_one", "qemu-virt", "hello"]), ("boards/image", &["qemu-virt", "hello"])];
    for (program, args) in calls {
        let mut cmd = Command::new(if program == "just" { PathBuf::from("just") } else { copy.join(program) });
        cmd.current_dir(&copy).args(args).env("ILUSION_LOG", "verbose");
        cmd.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()));
        let what = format!("ILUSION_LOG=verbose {program} {}", args.join(" "));
        match run(cmd, RUN_TIMEOUT) {
            Ok(o) if !o.output.contains(warning) => {
                problems.push(format!("{what}: no {warning:?}\n---- output ----\n{}\n----", o.output.trim_end()))
            }
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// Names given to `just run` and `just new` are data, never shell code:
/// `just run 'nosuch$(touch FILE)'` ran the `touch` (recipe arguments were
/// pasted into the script), and a bad example name gets a clear error.
fn names_are_not_code(root: &Path) -> Vec<String> {
    let dir = scratch_dir("names-are-not-code");
    std::fs::create_dir_all(&dir).unwrap();
    let (ran, made) = (dir.join("ran"), dir.join("made"));
    let mut problems = Vec::new();
    let example = format!("nosuch$(touch {})", ran.display());
    let mut just_run = Command::new("just");
    just_run.current_dir(root).args(["run", &example]);
    match run(just_run, BUILD_TIMEOUT) {
        Ok(o) => {
            problems.extend(expect("just run 'nosuch$(touch …)'", &o, 2, &["error: bad example name 'nosuch$(touch"]))
        }
        Err(e) => problems.push(e),
    }
    let app = dir.join(format!("app$(touch {})", made.display()));
    let mut new = Command::new("just");
    new.current_dir(root).arg("new").arg(&app);
    if let Err(e) = run(new, RUN_TIMEOUT) {
        problems.push(e);
    }
    for (file, by) in [(&ran, "just run"), (&made, "just new")] {
        if file.exists() {
            problems.push(format!("{by} ran the shell code in its argument: {} exists", file.display()));
        }
    }
    problems
}

/// `just run` hands each QEMU argument over as typed: `-name 'two words'`
/// was split at the space (QEMU tried to open a disk named `words`), and
/// `'*'` became the names of the checkout's files.
fn run_arguments_as_typed(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    // The command `just run` prints is the one it runs, to be copied: with
    // no QEMU arguments it ended in '' (an empty argument, which QEMU took
    // for a drive: "Device needs media, but drive is empty").
    let mut plain = Command::new("just");
    plain.current_dir(root).args(["run", "hello"]);
    match run(plain, BUILD_TIMEOUT) {
        Ok(o) => {
            let shown = "boards/run --board qemu-virt target/images/qemu-virt/hello.elf";
            problems.extend(expect("just run hello", &o, 0, &["hello from qemu-virt"]));
            if !o.output.lines().any(|l| l.trim_end_matches('\r') == shown) {
                problems.push(format!(
                    "just run hello: no line {shown:?} (the command it runs)\n---- output ----\n{}\n----",
                    o.output.trim_end()
                ));
            }
        }
        Err(e) => problems.push(e),
    }
    let mut spaced = Command::new("just");
    spaced.current_dir(root).args(["run", "hello", "qemu-virt", "-name", "two words"]);
    match run(spaced, BUILD_TIMEOUT) {
        Ok(o) => {
            problems.extend(expect("just run hello qemu-virt -name 'two words'", &o, 0, &["hello from qemu-virt"]))
        }
        Err(e) => problems.push(e),
    }
    let mut pattern = Command::new("just");
    pattern.current_dir(root).args(["run", "hello", "-name", "x", "*"]);
    match run(pattern, BUILD_TIMEOUT) {
        Ok(o) => problems.extend(expect("just run hello -name x '*'", &o, 1, &["Could not open '*'"])),
        Err(e) => problems.push(e),
    }
    problems
}

/// `templates/new` (what `just new` runs): a checkout path with a space,
/// `&` and `|` reaches the new app intact (sed mangled `&`, and a string
/// runner was split at the space); a bad name leaves no folder behind; a
/// folder inside the checkout through a symbolic link is refused; and
/// `new .` in an empty folder takes that folder's name.
fn new_app_paths(root: &Path) -> Vec<String> {
    let dir = scratch_dir("new-app-paths");
    std::fs::create_dir_all(&dir).unwrap();
    let checkout = dir.join("ilusion & co|x");
    let link = dir.join("checkout");
    for l in [&checkout, &link] {
        if let Err(e) = std::os::unix::fs::symlink(root, l) {
            return vec![format!("cannot link {} to the checkout: {e}", l.display())];
        }
    }
    let new = |args: &[&Path], cwd: &Path| {
        let mut cmd = Command::new(checkout.join("templates/new"));
        cmd.current_dir(cwd).args(args);
        run(cmd, RUN_TIMEOUT)
    };
    let mut problems = Vec::new();
    let app = dir.join("spaced");
    match new(&[&app], &dir) {
        Ok(o) => problems.extend(expect("templates/new (checkout path with ' ', & and |)", &o, 0, &["created"])),
        Err(e) => problems.push(e),
    }
    let config = std::fs::read_to_string(app.join(".cargo/config.toml")).unwrap_or_default();
    let runner = format!("runner = [\"{}/boards/run\"]", checkout.display());
    if !config.contains(&runner) {
        problems.push(format!("the app's .cargo/config.toml lacks {runner:?}:\n{config}"));
    }
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains(&format!("path = \"{}\"", checkout.display())) {
        problems.push(format!("the app's Cargo.toml does not name the checkout's path:\n{manifest}"));
    }
    let bad = dir.join("1bad");
    match new(&[&bad], &dir) {
        Ok(o) => problems.extend(expect("templates/new 1bad", &o, 2, &["'1bad' is not a valid package name"])),
        Err(e) => problems.push(e),
    }
    if bad.exists() {
        problems.push("templates/new 1bad left the folder 1bad behind".into());
    }
    let inside = link.join("new-app-through-a-link");
    match new(&[&inside], &dir) {
        Ok(o) => problems.extend(expect("templates/new LINK/app", &o, 2, &["is inside ilusion's checkout"])),
        Err(e) => problems.push(e),
    }
    if root.join("new-app-through-a-link").exists() {
        let _ = std::fs::remove_dir_all(root.join("new-app-through-a-link"));
        problems.push("templates/new made an app inside the checkout through a symbolic link".into());
    }
    let dot = dir.join("dotapp");
    std::fs::create_dir_all(&dot).unwrap();
    match new(&[Path::new(".")], &dot) {
        Ok(o) => problems.extend(expect("templates/new . (in dotapp)", &o, 0, &["created"])),
        Err(e) => problems.push(e),
    }
    let manifest = std::fs::read_to_string(dot.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"dotapp\"") {
        problems.push("templates/new . did not name the package after its folder (dotapp)".into());
    }
    problems
}

/// `just new DIR/ilusion` is refused before anything is made: the app's
/// package collided with the library it depends on, and cargo said only
/// "package collision in the lockfile" at the first build.
fn new_app_named_ilusion(root: &Path) -> Vec<String> {
    let app = scratch_dir("new-app-named").join("ilusion");
    let mut new = Command::new("just");
    new.current_dir(root).arg("new").arg(&app);
    let mut problems = match run(new, RUN_TIMEOUT) {
        Ok(o) => {
            expect("just new DIR/ilusion", &o, 2, &["error: 'ilusion' is the name of the library the app depends on"])
        }
        Err(e) => vec![e],
    };
    if app.exists() {
        problems.push(format!("just new made {} all the same", app.display()));
    }
    problems
}

/// `just new FILE` and `just new LINK` (a link to nothing) say that it is
/// not a folder: a file was reported "not empty", and a dangling link
/// failed in mkdir ("File exists", status 1).
fn new_app_not_a_folder(root: &Path) -> Vec<String> {
    let dir = scratch_dir("new-app-not-a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    let (file, link) = (dir.join("notes.txt"), dir.join("dangling"));
    std::fs::write(&file, "notes\n").unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), &link).unwrap();
    let mut problems = Vec::new();
    for target in [&file, &link] {
        let mut new = Command::new("just");
        new.current_dir(root).arg("new").arg(target);
        let line = format!("error: {} already exists and is not a folder", target.display());
        match run(new, RUN_TIMEOUT) {
            Ok(o) => problems.extend(expect(&format!("just new {}", target.display()), &o, 2, &[&line])),
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// `ILUSION_LOG` is read at build time in any case (DEBUG is debug), and
/// a value that is no level is built as info with a warning naming the
/// levels (it fell back to info without a word).
fn log_level_names(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (value, warned) in [("DEBUGG", true), ("DEBUG", false)] {
        let mut check = cargo(root);
        check.args(["check", "--lib"]).env("ILUSION_LOG", value);
        let what = format!("ILUSION_LOG={value} cargo check --lib");
        match run(check, BUILD_TIMEOUT) {
            Ok(o) if warned => problems.extend(expect(
                &what,
                &o,
                0,
                &["is not a log level (use one of: off, error, warn, info, debug, trace); building with info"],
            )),
            Ok(o) if o.output.contains("is not a log level") || o.status != Some(0) => {
                problems.push(format!("{what}: a warning or a failure:\n{}", o.output))
            }
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// `gdb-multiarch` with its error output merged into its output, in order
/// (GDB's messages about missing source files must not split a line).
fn gdb_command() -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" \"$@\" 2>&1", "gdb-multiarch"]);
    cmd
}

/// A TCP port nobody listens on now, for one GDB stub.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `just <recipe> <args>` (QEMU halted with its GDB stub) in the
/// background, its output in `log`; returns its process-group leader.
fn start_halted(root: &Path, args: &[&str], log: &Path) -> Result<std::process::Child, String> {
    let mut cmd = Command::new("just");
    cmd.current_dir(root).args(args).env_remove("QEMU_EXTRA").stdin(Stdio::null());
    let file = std::fs::File::create(log).map_err(|e| e.to_string())?;
    cmd.stdout(file.try_clone().unwrap()).stderr(file);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().map_err(|e| format!("cannot start just {args:?}: {e}"))
}

/// Ends a process group started by [`start_halted`].
fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
    let _ = child.wait();
}

/// What one GDB backtrace check looks at.
struct Backtrace {
    /// The image `just debug` builds and boots.
    image: &'static str,
    /// A breakpoint set after the script stopped in `main`, then continued
    /// to (`None`: stay in `main`).
    then_break_at: Option<&'static str>,
    /// Where GDB must have stopped.
    stopped: &'static str,
    /// The outermost frame `bt` must end with.
    outermost: &'static str,
}

/// A kernel task (the main task): `bt` ends at `task_trampoline`.
const IN_MAIN: Backtrace = Backtrace {
    image: "hello",
    then_break_at: None,
    stopped: "Breakpoint 1, hello::main ()",
    outermost: "in task_trampoline ()",
};

/// An isolated task at EL0: `bt` ends at `user_task_start`.
const IN_ISOLATED_TASK: Backtrace = Backtrace {
    image: "isolation",
    then_break_at: Some("'isolation::main::{closure#0}::{closure#0}'"),
    stopped: "Breakpoint 2, isolation::main::{closure#0}::{closure#0} ()",
    outermost: "in user_task_start ()",
};

/// `just debug IMAGE BOARD PORT`, then the GDB script (as `just gdb` runs
/// it): it must stop in `main` (and at the check's breakpoint), and `bt`
/// must end at the task's entry, with no frame at address 0 or "corrupt stack".
fn gdb_backtrace(root: &Path, board: &str, check: &Backtrace) -> Vec<String> {
    let port = free_port().to_string();
    let log = std::env::temp_dir().join(format!("ilusion-tools-debug-{board}-{}.log", check.image));
    let debug = match start_halted(root, &["debug", check.image, board, &port], &log) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    // `just debug` builds first (GDB must not read a half-written image),
    // then starts QEMU; GDB retries the connection until QEMU listens.
    let start = Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("attach with:") {
        if start.elapsed() > BUILD_TIMEOUT {
            stop(debug);
            return vec![format!(
                "just debug printed no attach command: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )];
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut gdb = gdb_command();
    gdb.current_dir(root).env("ILUSION_GDB_PORT", &port).args([
        "-q",
        "-batch",
        "-ex",
        "set tcp connect-timeout 300",
        "-x",
        "tools/gdb/ilusion.gdb",
    ]);
    if let Some(place) = check.then_break_at {
        gdb.arg("-ex").arg(format!("hbreak {place}")).args(["-ex", "continue"]);
    }
    gdb.args(["-ex", "bt", "-ex", "kill"]).arg(format!("target/images/{board}/{}.elf", check.image));
    let outcome = run(gdb, BUILD_TIMEOUT);
    stop(debug);
    let o = match outcome {
        Ok(o) => o,
        Err(e) => return vec![e],
    };
    let mut problems = expect("gdb-multiarch -x tools/gdb/ilusion.gdb", &o, 0, &[check.stopped]);
    let frames: Vec<&str> = o.output.lines().filter(|l| l.starts_with('#')).collect();
    match frames.last() {
        Some(last) if last.contains(check.outermost) => {}
        _ => problems.push(format!("bt does not end {}: {frames:#?}", check.outermost)),
    }
    if frames.iter().any(|f| f.contains("??")) || o.output.contains("corrupt stack") {
        problems.push(format!("bt has a bogus frame: {frames:#?}"));
    }
    if !problems.is_empty() {
        let debug_log = std::fs::read_to_string(&log).unwrap_or_default();
        problems.push(format!("---- output of just debug ----\n{}\n----", debug_log.trim_end()));
    }
    problems
}

/// `just replay scribble BOARD PORT` records the scribble example (main
/// panics: its ledger's checksum was overwritten), then replays it under
/// GDB: from the panic, a watchpoint on the checksum and `reverse-continue`
/// must go back into the logger task, `reverse-stepi` must put the program
/// counter on the store (one instruction back), and stepping that store
/// forward again must change the checksum: it is the store that did it.
fn reverse_debugging(root: &Path, board: &str) -> Vec<String> {
    let port = free_port().to_string();
    let log = std::env::temp_dir().join(format!("ilusion-tools-replay-{board}.log"));
    let replay = match start_halted(root, &["replay", "scribble", board, &port], &log) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let start = Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("attach with:") {
        if start.elapsed() > BUILD_TIMEOUT {
            stop(replay);
            return vec![format!(
                "just replay printed no attach command: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )];
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let commands = [
        "set tcp connect-timeout 60",
        "source tools/gdb/ilusion.gdb",
        "hbreak scribble::ledger_corrupted",
        "continue",
        "watch -l scribble::LEDGER.checksum",
        "reverse-continue",
        "bt 1",
        "echo pc after reverse-continue: \n",
        "p/x $pc",
        "reverse-stepi",
        "echo pc after reverse-stepi: \n",
        "p/x $pc",
        "x/i $pc",
        "echo checksum before the store: \\n",
        "x/wx &scribble::LEDGER.checksum",
        "stepi",
        "echo checksum after the store: \\n",
        "x/wx &scribble::LEDGER.checksum",
        "kill",
    ];
    let mut gdb = gdb_command();
    gdb.current_dir(root).env("ILUSION_GDB_PORT", &port).args(["-q", "-batch"]);
    for c in commands {
        gdb.arg("-ex").arg(c);
    }
    gdb.arg(format!("target/images/{board}/scribble.elf"));
    let outcome = run(gdb, RUN_TIMEOUT);
    stop(replay);
    let o = match outcome {
        Ok(o) => o,
        Err(e) => return vec![e],
    };
    let mut problems = expect(
        "the reverse-debugging GDB session",
        &o,
        0,
        &["Breakpoint 2, scribble::ledger_corrupted", "#0  scribble::log_samples ()"],
    );
    let pc_after = |label: &str| -> Option<u64> {
        let rest = &o.output[o.output.find(label)? + label.len()..];
        let hex = rest.split("= 0x").nth(1)?.split_whitespace().next()?;
        u64::from_str_radix(hex, 16).ok()
    };
    match (pc_after("pc after reverse-continue:"), pc_after("pc after reverse-stepi:")) {
        (Some(after), Some(store)) if store + 4 == after => {}
        (after, store) => {
            problems.push(format!("reverse-stepi did not move the pc one instruction back: {after:x?} -> {store:x?}"))
        }
    }
    // The word `x/wx` shows after each label: the checksum, then the ninth sample over it.
    let word_after = |label: &str| o.output.split(label).nth(1).and_then(|r| r.lines().nth(1)).map(str::trim_end);
    if !word_after("checksum before the store:").is_some_and(|l| l.ends_with("0xc0ffee00")) {
        problems.push(format!(
            "at the store the checksum is not yet 0xc0ffee00: {:?}",
            word_after("checksum before the store:")
        ));
    }
    if !word_after("checksum after the store:").is_some_and(|l| l.ends_with("0x0000006c")) {
        problems.push(format!(
            "stepping the store did not write the ninth sample (0x6c) over the checksum: {:?}",
            word_after("checksum after the store:")
        ));
    }
    let store = o.output.lines().find(|l| l.starts_with("=> ")).unwrap_or("");
    if !store.contains("\tstr") && !store.contains("\tstp") {
        problems.push(format!("the instruction reverse-stepi went back to is not a store: {store:?}"));
    }
    if !problems.is_empty() && o.status == Some(0) {
        problems.push(format!("---- output of the GDB session ----\n{}\n----", o.output.trim_end()));
    }
    if !problems.is_empty() {
        let replay_log = std::fs::read_to_string(&log).unwrap_or_default();
        problems.push(format!("---- output of just replay ----\n{}\n----", replay_log.trim_end()));
    }
    problems
}

/// `just debug`, `just gdb` and `just replay` check the example, the board
/// and the port before anything else: `just replay hello BOARD` said the
/// unknown board's machine "has 4 cores", `just gdb` sent an unknown name
/// to `just debug` to be built, and a bad port failed only in QEMU (for
/// `just replay`, after the recording).
fn debug_arguments(root: &Path) -> Vec<String> {
    let cases: [(&[&str], &str); 6] = [
        (&["replay", "hello", "no-such-board"], "error: unknown board 'no-such-board'"),
        (&["gdb", "hello", "no-such-board"], "error: unknown board 'no-such-board'"),
        (&["gdb", "no_such_example"], "error: no example 'no_such_example'"),
        (&["gdb", "hello", "qemu-virt", "abc"], "error: bad port 'abc': GDB's port is a TCP port number, 1 to 65535"),
        (&["debug", "hello", "qemu-virt", "abc"], "error: bad port 'abc'"),
        (&["replay", "hello", "qemu-virt", "99999"], "error: bad port '99999'"),
    ];
    refused_by_just(root, &cases, BUILD_TIMEOUT)
}

/// `just replay` whose recording did not happen (QEMU refused its
/// arguments) says so and stops: it reported "recorded (exit status 1)"
/// and started the replay of nothing.
fn replay_without_recording(root: &Path) -> Vec<String> {
    let mut replay = Command::new("just");
    replay.current_dir(root).args(["replay", "hello"]).env("QEMU_EXTRA", "-no-such-option");
    match run(replay, BUILD_TIMEOUT) {
        Ok(o) => {
            let mut problems = expect(
                "QEMU_EXTRA=-no-such-option just replay hello",
                &o,
                1,
                &["error: nothing was recorded (exit status 1; the message above says why): no replay"],
            );
            if o.output.contains("Replaying it") {
                problems.push(format!("just replay replayed a recording that did not happen:\n{}", o.output));
            }
            problems
        }
        Err(e) => vec![e],
    }
}

/// `just gdb` without an image says so, and GDB with nothing listening on
/// the port says that in one line and fails (it printed a Python traceback
/// and exited 0).
fn gdb_without_debug(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    // A checkout where nothing was built: hello is an example, without an image.
    let copy = scratch_checkout("gdb-without-image", root);
    let mut just_gdb = Command::new("just");
    just_gdb.current_dir(&copy).args(["gdb", "hello"]);
    match run(just_gdb, RUN_TIMEOUT) {
        Ok(o) => problems.extend(expect(
            "just gdb hello (not built)",
            &o,
            2,
            &["error: no image target/images/qemu-virt/hello.elf"],
        )),
        Err(e) => problems.push(e),
    }
    // Any ELF file does: this test's own executable.
    let port = free_port().to_string();
    let mut gdb = gdb_command();
    gdb.current_dir(root).env("ILUSION_GDB_PORT", &port).args(["-q", "-x", "tools/gdb/ilusion.gdb"]);
    gdb.arg(std::env::current_exe().unwrap());
    match run(gdb, RUN_TIMEOUT) {
        Ok(o) => {
            let line = format!("nothing listens on :{port}; start `just debug` first");
            problems.extend(expect("gdb -x ilusion.gdb (nothing listening)", &o, 1, &[&line]));
            if o.output.contains("Traceback") {
                problems.push(format!("gdb printed a Python traceback:\n{}", o.output));
            }
        }
        Err(e) => problems.push(e),
    }
    problems
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let boards_var = std::env::var("ILUSION_TEST_BOARDS").unwrap_or_else(|_| "qemu-virt".into());
    let boards: Vec<String> = boards_var.split([',', ' ']).filter(|b| !b.is_empty()).map(String::from).collect();
    let selected = |full: &str| filters.is_empty() || filters.iter().any(|f| full.contains(f.as_str()));
    let (mut passed, mut failed) = (0, 0);
    let mut report = |full: &str, problems: Vec<String>| {
        if problems.is_empty() {
            passed += 1;
            println!("tools test {full} ... ok");
        } else {
            failed += 1;
            println!("tools test {full} ... FAILED");
            for p in problems {
                println!("    {p}");
            }
        }
    };
    for board in &boards {
        let app = format!("{board}: new app boots with cargo run");
        let errors =
            format!("{board}: runner refuses another board's image, a file not an AArch64 ELF, a missing QEMU");
        if !selected(&app) && !selected(&errors) {
            continue;
        }
        let (problems, elf) = new_app(&root, board);
        if selected(&app) {
            report(&app, problems);
        }
        if selected(&errors) {
            match elf {
                Some(elf) => report(&errors, runner_errors(&root, board, &elf)),
                None => report(&errors, vec!["no image: the new app did not build".into()]),
            }
        }
    }
    for board in &boards {
        let full = format!("{board}: gdb script breaks in main, bt ends at the task entry");
        if selected(&full) {
            report(&full, gdb_backtrace(&root, board, &IN_MAIN));
        }
        let full = format!("{board}: gdb in an isolated task, bt ends at its entry");
        if selected(&full) {
            report(&full, gdb_backtrace(&root, board, &IN_ISOLATED_TASK));
        }
    }
    // QEMU records and replays single-CPU machines only: not the Pis' (4 cores).
    for board in boards.iter().filter(|b| *b == "qemu-virt") {
        let full = format!("{board}: reverse debugging finds the store that corrupted memory");
        if selected(&full) {
            report(&full, reverse_debugging(&root, board));
        }
    }
    for board in &boards {
        let full = format!("{board}: just maps isolation draws each isolated task's address space");
        if selected(&full) {
            report(&full, maps_pictures(&root, board));
        }
    }
    for board in &boards {
        let full = format!("{board}: just trace tasks writes trace-event JSON and an SVG timeline");
        if selected(&full) {
            report(&full, trace_timeline(&root, board));
        }
    }
    for board in boards.iter().filter(|b| *b == "qemu-virt") {
        let full = format!(
            "{board}: just trace that draws nothing (a window given without a board) leaves no earlier pictures"
        );
        if selected(&full) {
            report(&full, trace_leaves_no_stale_pictures(&root, board));
        }
    }
    let full = "ilusion-trace timeline does not write over its log";
    if selected(full) {
        report(full, trace_outputs_not_the_log(&root));
    }
    let full = "just maps stops a program that waits for input, saying so";
    if selected(full) {
        report(full, capture_time_limit(&root));
    }
    let full = "a log level that is none is warned of, under cargo -q too";
    if selected(full) {
        report(full, bad_log_level_warned(&root));
    }
    let full = "just image and sdcard name an example given where the board goes";
    if selected(full) {
        report(full, board_and_example_swapped(&root));
    }
    let full = "just maps, trace, run, image and sdcard refuse a missing example; maps and trace an unknown board";
    if selected(full) {
        report(full, observe_errors(&root));
    }
    let full = "benches/run that fails leaves no earlier results";
    if selected(full) {
        report(full, bench_failure_leaves_no_results(&root));
    }
    let full = "just run hands QEMU its arguments as typed";
    if selected(full) {
        report(full, run_arguments_as_typed(&root));
    }
    let full = "boards/run --raw boots only the ELF's own raw image";
    if selected(full) {
        report(full, raw_image_checked(&root));
    }
    let full = "boards/run refuses RAM too small for the image";
    if selected(full) {
        report(full, ram_too_small_refused(&root));
    }
    let full = "boards/run refuses a -machine of another board";
    if selected(full) {
        report(full, other_machine_refused(&root));
    }
    let full = "boards/run names a cut ELF as damaged";
    if selected(full) {
        report(full, cut_elf_named(&root));
    }
    let full = "just bench takes a flag without a board";
    if selected(full) {
        let mut bench = Command::new("just");
        bench.current_dir(&root).args(["bench", "--no-such-flag"]);
        report(
            full,
            match run(bench, RUN_TIMEOUT) {
                Ok(o) => expect("just bench --no-such-flag", &o, 2, &["unknown flag '--no-such-flag' for just bench"]),
                Err(e) => vec![e],
            },
        );
    }
    let full = "bench-linux: its program builds and runs on the host, its table reads both sides (no network)";
    if selected(full) {
        let mut self_test = Command::new("bash");
        self_test.current_dir(&root).args(["tools/bench-linux/run", "--self-test"]);
        report(
            full,
            match run(self_test, RUN_TIMEOUT) {
                Ok(o) => expect(
                    "tools/bench-linux/run --self-test",
                    &o,
                    0,
                    &["null system call", "bench-linux self-test: ok"],
                ),
                Err(e) => vec![e],
            },
        );
    }
    // A second argument was ignored: the self-test ran and passed.
    let full = "bench-linux refuses arguments after --self-test";
    if selected(full) {
        report(
            full,
            refuses(
                &root,
                "tools/bench-linux/run",
                &["--self-test", "--keep"],
                1,
                &["error: unexpected argument(s) after --self-test: --keep"],
            ),
        );
    }
    let full = "an ipc message larger than MAX_MESSAGE_SIZE does not build, and the error says why";
    if selected(full) {
        report(full, oversized_message_refused(&root));
    }
    let full = "just run refuses an unknown board";
    if selected(full) {
        let mut run_on = Command::new("just");
        run_on.current_dir(&root).args(["run", "hello", "no-such-board"]);
        report(
            full,
            match run(run_on, BUILD_TIMEOUT) {
                Ok(o) => expect("just run hello no-such-board", &o, 2, &["unknown board 'no-such-board'"]),
                Err(e) => vec![e],
            },
        );
    }
    let full = "every recipe and script that takes a board name refuses '..', '.' and 'rpi4/' as unknown boards";
    if selected(full) {
        report(full, board_names_are_plain(&root));
    }
    let full = "boards/sdcard refuses a non-file --output, a missing value, an unknown example and late arguments";
    if selected(full) {
        report(full, sdcard_refusals(&root));
    }
    let full = "boards/sdcard never replaces one of its inputs, and removes a card it cannot finish";
    if selected(full) {
        report(full, sdcard_inputs(&root));
    }
    let full = "benches/run --check fails naming each baseline figure not measured";
    if selected(full) {
        report(full, bench_check_missing(&root));
    }
    let full = "benches/run refuses a misspelt flag, an unknown board, a bad --compare and a figure that is no number";
    if selected(full) {
        report(full, bench_arguments(&root));
    }
    let full = "benches/profile-pairs refuses an unknown option, a second directory and a bad --cores";
    if selected(full) {
        report(full, profile_pairs_arguments(&root));
    }
    let full = "bookcheck refuses a folder without a book";
    if selected(full) {
        report(full, bookcheck_root(&root));
    }
    let full = "just chainload refuses a board without the chainloader";
    if selected(full) {
        let mut chainload = Command::new("just");
        chainload.current_dir(&root).args(["chainload", "qemu-virt"]);
        report(
            full,
            match run(chainload, RUN_TIMEOUT) {
                Ok(o) => expect("just chainload qemu-virt", &o, 2, &["no chainloader on board 'qemu-virt'"]),
                Err(e) => vec![e],
            },
        );
    }
    let full = "setup adds Debian's firmware source on Debian only, and removes it if apt cannot use it";
    if selected(full) {
        report(full, setup_firmware_source(&root));
    }
    let full = "just _build gives every cargo build a --target-dir";
    if selected(full) {
        report(full, build_target_dirs(&root));
    }
    let full = "without llvm-objcopy, the builds say so before building";
    if selected(full) {
        report(full, missing_objcopy(&root));
    }
    let full = "the chainloader builds in a checkout whose path has a space";
    if selected(full) {
        report(full, chainloader_spaced_path(&root));
    }
    let full = "boards/image builds with the shell feature";
    if selected(full) {
        report(full, image_with_shell(&root));
    }
    let full = "just run and just new do not run shell code in names";
    if selected(full) {
        report(full, names_are_not_code(&root));
    }
    let full = "just new: odd checkout paths, bad names, links into the checkout, new .";
    if selected(full) {
        report(full, new_app_paths(&root));
    }
    let full = "just new refuses an app named ilusion";
    if selected(full) {
        report(full, new_app_named_ilusion(&root));
    }
    let full = "just new refuses a file or a dangling link as its folder";
    if selected(full) {
        report(full, new_app_not_a_folder(&root));
    }
    let full = "ILUSION_LOG takes any case and warns about a value that is no level";
    if selected(full) {
        report(full, log_level_names(&root));
    }
    let full = "just debug, gdb and replay refuse an unknown board or example and a bad port first";
    if selected(full) {
        report(full, debug_arguments(&root));
    }
    let full = "just replay stops when nothing was recorded";
    if selected(full) {
        report(full, replay_without_recording(&root));
    }
    let full = "gdb without just debug: a missing image, nothing listening";
    if selected(full) {
        report(full, gdb_without_debug(&root));
    }
    println!("tools: {passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
