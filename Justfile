# ilusion's user interface. `just --list` shows the recipes.
#
# Images are release builds (debug info kept in the ELF for GDB) unless
# PROFILE=dev. QEMU_EXTRA appends arguments to QEMU (e.g.
# QEMU_EXTRA="-machine gic-version=3" just run).

set shell := ["bash", "-euo", "pipefail", "-c"]

profile := env_var_or_default("PROFILE", "release")
profile_dir := if profile == "dev" { "debug" } else { profile }
boards := "qemu-virt rpi3 rpi4"
host := "x86_64-unknown-linux-gnu"

# Show the recipes.
default:
    @just --list

# Install what is missing: the Rust target, QEMU 9+ with raspi machines, mtools, llvm (idempotent).
setup:
    @bash .ci/install-deps.sh

# Build and boot an example on a board's QEMU machine (default qemu-virt; rpi3, rpi4); exits with the guest's exit status.
[positional-arguments]
run example="hello" board="qemu-virt" *args: setup
    #!/usr/bin/env bash
    set -euo pipefail
    # Each QEMU argument reaches QEMU as typed: no splitting at spaces, no
    # file-name patterns expanded ('*' was the names of the files here).
    # Quoted by just: a name is never run as shell code.
    example={{quote(example)}}; board={{quote(board)}}; args=("${@:3}")
    # `just run hello -d int`: a QEMU argument where the board goes means the default board.
    if [[ $board == -* ]]; then args=("$board" "${args[@]}"); board=qemu-virt; fi
    boards/known "$board"
    just _build_one "$board" "$example"
    # The command as it runs, to be copied: printf given no arguments printed '' (an empty argument).
    shown=""; [ ${#args[@]} -eq 0 ] || shown=$(printf ' %q' "${args[@]}")
    echo "boards/run --board $board target/images/$board/$example.elf$shown"
    boards/run --board "$board" "target/images/$board/$example.elf" "${args[@]}"

# Make a new application in DIR from templates/app, for BOARD (qemu-virt, rpi3, rpi4); then `cargo run --release` in it.
new dir board="qemu-virt":
    cd {{quote(invocation_directory())}} && {{quote(justfile_directory() / "templates/new")}} {{quote(dir)}} {{quote(board)}}

# Write target/images/<board>/<example>.elf, the raw <example>.img and (Pi boards) config.txt.
image board="qemu-virt" example="hello":
    boards/image {{quote(board)}} {{quote(example)}}

# Write target/images/<board>/<example>-sdcard.img: firmware, config.txt, kernel8.img (rpi3, rpi4).
sdcard board="rpi4" example="hello":
    boards/sdcard {{quote(board)}} {{quote(example)}}

# Build the serial chainloader for a Pi, and an SD card with it as kernel8.img (see docs/04).
chainloader board="rpi4":
    tools/chainloader/build {{quote(board)}}
    boards/sdcard --no-build {{quote(board)}} chainloader

# Send an example to a Pi running the chainloader, then show its console (PORT: /dev/ttyUSB0 or unix:PATH).
chainload board="rpi4" example="hello" port="/dev/ttyUSB0":
    #!/usr/bin/env bash
    set -euo pipefail
    board={{quote(board)}}; example={{quote(example)}}; port={{quote(port)}}
    # Only the Pis run the chainloader: a qemu-virt image would not start on one.
    case "$board" in
        rpi3 | rpi4) ;;
        *) echo "error: no chainloader on board '$board': only rpi3 and rpi4 run it (just chainload rpi4 EXAMPLE PORT)" >&2; exit 2 ;;
    esac
    boards/image "$board" "$example" >/dev/null
    cargo build -q --release --manifest-path tools/chainload/Cargo.toml --target {{host}} --target-dir target/chainload
    target/chainload/{{host}}/release/ilusion-chainload --board "$board" "$port" "target/images/$board/$example.img"

# Host unit tests, lint, the book's consistency checks, every QEMU test on every board, the bench check; ends with "total: N passed, N failed".
test: setup
    #!/usr/bin/env bash
    set -uo pipefail
    echo "== formatting and lints"
    lint_failed=0
    cargo fmt --check || { echo "lint: cargo fmt --check failed (run cargo fmt)"; lint_failed=1; }
    cargo clippy -q --release --examples --features shell -- -D warnings || { echo "lint: clippy (aarch64) failed"; lint_failed=1; }
    for b in rpi3 rpi4; do
        cargo clippy -q --release --examples --no-default-features --features board-$b,shell -- -D warnings || { echo "lint: clippy ($b) failed"; lint_failed=1; }
    done
    cargo clippy -q --lib --tests --target {{host}} -- -D warnings || { echo "lint: clippy (host) failed"; lint_failed=1; }
    # The trace's target half (src/trace/record.rs), built only with its feature.
    cargo clippy -q --release --example trace_schedule --features lock-checks,trace --target-dir target/traced -- -D warnings || { echo "lint: clippy (trace feature) failed"; lint_failed=1; }
    for tool in tools/chainload tools/chainloader tools/symbols tools/trace; do
        (cd $tool && cargo fmt --check) || { echo "lint: cargo fmt --check failed in $tool"; lint_failed=1; }
    done
    (cd tools/chainload && cargo clippy -q --target {{host}} -- -D warnings) || { echo "lint: clippy (tools/chainload) failed"; lint_failed=1; }
    (cd tools/symbols && cargo clippy -q --tests --target {{host}} --target-dir ../../target/symbols -- -D warnings) || { echo "lint: clippy (tools/symbols) failed"; lint_failed=1; }
    (cd tools/trace && cargo clippy -q --tests --target {{host}} --target-dir ../../target/trace-tool -- -D warnings) || { echo "lint: clippy (tools/trace) failed"; lint_failed=1; }
    for b in rpi3 rpi4; do
        (cd tools/chainloader && CARGO_ENCODED_RUSTFLAGS="-C"$'\x1f'"link-arg=-T$PWD/link.ld" CARGO_TARGET_DIR=../../target/chainloader \
            cargo clippy -q --release --target aarch64-unknown-none --features $b -- -D warnings) ||
            { echo "lint: clippy (tools/chainloader, $b) failed"; lint_failed=1; }
    done
    echo "== two boards at once must be refused with a clear message"
    two_boards=$(cargo check -q --lib --features board-rpi4 2>&1 || true)
    if grep -q "more than one board feature is enabled" <<< "$two_boards"; then
        echo "ok: two boards -> compile error naming the problem"
    else
        echo "lint: building with two board features did not give the expected error"; lint_failed=1
    fi
    echo "== host unit tests"
    unit=$(cargo test -q --lib --target {{host}} 2>&1 && cargo test -q --doc --target {{host}} 2>&1 && cd tools/chainload && cargo test -q --target {{host}} 2>&1 && cd ../symbols && cargo test -q --target {{host}} --target-dir ../../target/symbols 2>&1 && cd ../trace && cargo test -q --target {{host}} --target-dir ../../target/trace-tool 2>&1) ; unit_status=$?
    echo "$unit" | tail -n 3
    unit_passed=$(echo "$unit" | sed -n 's/.*test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' | awk '{s+=$1} END {print s+0}')
    unit_failed=$(echo "$unit" | sed -n 's/.*test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' | awk '{s+=$1} END {print s+0}')
    if [ $unit_status -ne 0 ] && [ "$unit_failed" = 0 ]; then echo "$unit"; unit_failed=1; fi
    echo "== the book's consistency checks (tools/bookcheck: examples, paths, functions, links in docs/)"
    book_unit=$(python3 -m unittest discover -s tools/bookcheck 2>&1); book_unit_status=$?
    book_unit_ran=$(echo "$book_unit" | sed -n 's/^Ran \([0-9]*\) tests\? .*/\1/p')
    book_unit_failed=$(echo "$book_unit" | sed -n 's/^FAILED (.*\(failures\|errors\)=\([0-9]*\).*/\2/p' | awk '{s+=$1} END {print s+0}')
    if [ $book_unit_status -ne 0 ] && [ "$book_unit_failed" = 0 ]; then book_unit_failed=1; fi
    if [ $book_unit_status -ne 0 ]; then echo "$book_unit"; fi
    echo "bookcheck unit tests: $(( ${book_unit_ran:-0} - book_unit_failed )) passed, $book_unit_failed failed"
    if python3 tools/bookcheck/bookcheck.py; then book_passed=$(( ${book_unit_ran:-0} - book_unit_failed + 1 )); book_failed=$book_unit_failed;
    else book_passed=$(( ${book_unit_ran:-0} - book_unit_failed )); book_failed=$((book_unit_failed + 1)); fi
    echo "== QEMU tests"
    for b in {{boards}}; do just _build "$b"; done
    qemu_log=$(mktemp)
    ILUSION_TEST_BOARDS="{{boards}}" cargo test -q --target {{host}} --test qemu 2>&1 | tee "$qemu_log"
    runs=1
    # Again on QEMU virt with one core and with eight: the cases that do not
    # depend on the number of cores (tests/qemu.rs, `any_core_count`). The
    # eight run on -cpu max (PAN, a 1 GHz counter), where a case names no CPU.
    if [[ " {{boards}} " == *" qemu-virt "* ]]; then
        for cores in 1 8; do
            runs=$((runs + 1))
            cpu=""; [ "$cores" = 8 ] && cpu=max
            ILUSION_TEST_CPU=$cpu ILUSION_TEST_CORES=$cores ILUSION_TEST_BOARDS=qemu-virt cargo test -q --target {{host}} --test qemu 2>&1 | tee -a "$qemu_log"
        done
    fi
    qemu_passed=$(sed -n 's/^qemu: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$qemu_log" | awk '{s+=$1} END {print s+0}')
    qemu_failed=$(sed -n 's/^qemu: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$qemu_log" | awk '{s+=$1} END {print s+0}')
    # A run that ended without its summary line (it did not build, or crashed) is a failure.
    if [ "$(grep -c '^qemu: ' "$qemu_log")" -ne $runs ]; then qemu_failed=$((qemu_failed + 1)); fi
    # Failed cases again (name and first lines of what was wrong), so that the end of the log says which.
    awk '/^qemu test .* \.\.\. FAILED/ { p = 1; n = 0; print; next } p && /^    / && n < 15 { print; n++; next } { p = 0 }' \
        "$qemu_log" > target/qemu-failures.txt
    rm -f "$qemu_log"
    echo "== tools tests (just new, the runner, GDB, reverse debugging)"
    tools_log=$(mktemp)
    ILUSION_TEST_BOARDS="{{boards}}" cargo test -q --target {{host}} --test tools 2>&1 | tee "$tools_log"
    tools=$(grep '^tools: ' "$tools_log" | tail -n 1); rm -f "$tools_log"
    tools_passed=$(echo "$tools" | sed -n 's/^tools: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    tools_failed=$(echo "$tools" | sed -n 's/^tools: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$tools_passed" ]; then tools_passed=0; tools_failed=1; fi
    echo "== benchmarks (qemu-virt, icount) against benches/baseline.json"
    if bash benches/run qemu-virt --check; then bench_passed=1; bench_failed=0; else bench_passed=0; bench_failed=1; fi
    if [ -s target/qemu-failures.txt ]; then echo "== QEMU cases that failed"; cat target/qemu-failures.txt; fi
    echo "host unit tests: $unit_passed passed, $unit_failed failed; QEMU tests: $qemu_passed passed, $qemu_failed failed; tools tests: $tools_passed passed, $tools_failed failed; bench check: $bench_failed failed; book checks: $book_passed passed, $book_failed failed; lint: $lint_failed failed"
    echo "total: $((unit_passed + qemu_passed + tools_passed + bench_passed + book_passed)) passed, $((unit_failed + qemu_failed + tools_failed + bench_failed + book_failed + lint_failed)) failed"
    [ $((unit_failed + qemu_failed + tools_failed + bench_failed + book_failed + lint_failed)) -eq 0 ]

# Build one example for a board, start QEMU halted with its GDB stub on :port, print how to attach (`just gdb`).
debug example="hello" board="qemu-virt" port="1234": setup
    #!/usr/bin/env bash
    set -euo pipefail
    example={{quote(example)}}; board={{quote(board)}}; port={{quote(port)}}
    [[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
        { echo "error: bad port '$port': GDB's port is a TCP port number, 1 to 65535 (just debug EXAMPLE BOARD PORT)" >&2; exit 2; }
    just _build_one "$board" "$example"
    elf=target/images/$board/$example.elf
    echo "attach with: just gdb $example $board $port"
    echo "   (that is: ILUSION_GDB_PORT=$port gdb-multiarch -q -x tools/gdb/ilusion.gdb $elf)"
    echo "(QEMU waits for GDB; Ctrl-a x quits QEMU; docs/05-debugging.md)"
    boards/run "$elf" -gdb "tcp::$port" -S

# Attach GDB to `just debug` (run in another terminal): symbols loaded, stopped in the example's main.
gdb example="hello" board="qemu-virt" port="1234":
    #!/usr/bin/env bash
    set -euo pipefail
    example={{quote(example)}}; board={{quote(board)}}; port={{quote(port)}}
    # A name that does not exist is named as such, not as an image to build with `just debug`.
    boards/example "$example"
    boards/known "$board"
    [[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
        { echo "error: bad port '$port': GDB's port is a TCP port number, 1 to 65535 (just gdb EXAMPLE BOARD PORT)" >&2; exit 2; }
    elf=target/images/$board/$example.elf
    if [ ! -f "$elf" ]; then
        echo "error: no image $elf: start it with \`just debug $example $board $port\` first (it builds the image)" >&2
        exit 2
    fi
    ILUSION_GDB_PORT=$port exec gdb-multiarch -q -x tools/gdb/ilusion.gdb "$elf"

# Record a run of an example, then replay it halted with the GDB stub on :port, for reverse debugging (docs/05-debugging.md).
replay example="scribble" board="qemu-virt" port="1234": setup
    #!/usr/bin/env bash
    set -uo pipefail
    example={{quote(example)}}; board={{quote(board)}}; port={{quote(port)}}
    # Checked before anything is recorded (a bad port failed only at the replay).
    boards/known "$board" || exit
    [[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
        { echo "error: bad port '$port': GDB's port is a TCP port number, 1 to 65535 (just replay EXAMPLE BOARD PORT)" >&2; exit 2; }
    if [ "$board" != qemu-virt ]; then
        echo "error: QEMU records and replays single-CPU machines only; the $board machine has 4 cores." >&2
        echo "Replay the same program on qemu-virt: just replay $example qemu-virt" >&2
        exit 2
    fi
    just _build_one "$board" "$example" || exit
    elf=target/images/$board/$example.elf
    dir=target/replay/$board/$example
    rm -rf "$dir" && mkdir -p "$dir"
    # Record/replay: instruction counting (deterministic time), the recording
    # file, and a snapshot "init" at the start, stored in a qcow2 image, from
    # which reverse execution replays forward. No network device, and one
    # core (QEMU records and replays one vCPU's run deterministically).
    qemu-img create -q -f qcow2 "$dir/snapshots.qcow2" 64M || exit
    rr="-drive file=$dir/snapshots.qcow2,if=none,id=rr-snapshots -net none -smp 1"
    icount="shift=0,align=off,sleep=off"
    echo "== recording $example on $board into $dir/record.bin"
    boards/run "$elf" -icount "$icount,rr=record,rrfile=$dir/record.bin,rrsnapshot=init" $rr
    status=$?
    # The program's own status may be anything (a fault is what is debugged); no recording at all (QEMU did not start) is an error.
    if [ ! -s "$dir/record.bin" ]; then
        echo "error: nothing was recorded (exit status $status; the message above says why): no replay" >&2
        exit 1
    fi
    echo "== recorded (exit status $status). Replaying it, halted, with the GDB stub on :$port."
    echo "attach with: just gdb $example $board $port"
    echo "   then e.g.: hbreak <where the symptom shows>, continue, watch -l <the corrupted variable>, reverse-continue, reverse-stepi"
    boards/run "$elf" -icount "$icount,rr=replay,rrfile=$dir/record.bin,rrsnapshot=init" $rr -gdb "tcp::$port" -S

# Boot an example and draw each isolated task's address space it dumps (mm::dump_maps) as target/maps/<example>/<task>-<name>.svg.
maps example="isolation" board="qemu-virt": setup
    #!/usr/bin/env bash
    set -euo pipefail
    example={{quote(example)}}; board={{quote(board)}}
    PROFILE={{profile}} tools/trace/capture "$board" "$example" "target/maps/$example.log"
    just _trace_tool
    rm -rf "target/maps/$example"
    target/trace-tool/{{host}}/release/ilusion-trace maps "target/maps/$example.log" --out-dir "target/maps/$example"

# Boot an example built with --features trace; its schedule trace as target/trace/<example>.json (ui.perfetto.dev) and .svg (--from-us T --to-us T: a window).
trace example="tasks" board="qemu-virt" *window: setup
    #!/usr/bin/env bash
    set -euo pipefail
    example={{quote(example)}}; board={{quote(board)}}; window={{quote(window)}}
    # `just trace tasks --from-us A --to-us B`: an option where the board goes means the default board.
    if [[ $board == -* ]]; then window="$board $window"; board=qemu-virt; fi
    PROFILE={{profile}} tools/trace/capture "$board" "$example" "target/trace/$example.log" trace
    just _trace_tool
    # An earlier run's pictures go first: a run that draws nothing (a bad window, a bad log) leaves none to be taken for its own.
    rm -f "target/trace/$example.json" "target/trace/$example.svg"
    target/trace-tool/{{host}}/release/ilusion-trace timeline "target/trace/$example.log" \
        --json "target/trace/$example.json" --svg "target/trace/$example.svg" $window

# Build the host tool that draws traces and address spaces (tools/trace).
_trace_tool:
    cargo build -q --release --manifest-path tools/trace/Cargo.toml --target {{host}} --target-dir target/trace-tool

# Benchmarks under icount (instructions, deterministic); writes target/bench/<board>.json.
bench board="qemu-virt" *flags: setup
    #!/usr/bin/env bash
    set -euo pipefail
    # `just bench --check`: a flag where the board goes means the default board.
    # No file-name patterns: `just bench '*'` names '*', not the files here.
    set -f
    board={{quote(board)}}; flags={{quote(flags)}}
    if [[ $board == -* ]]; then flags="$board $flags"; board=qemu-virt; fi
    for flag in $flags; do
        [ "$flag" = --check ] || { echo "error: unknown flag '$flag' for just bench (usage: just bench [board] [--check])" >&2; exit 2; }
    done
    just _build "$board"
    bash benches/run "$board" $flags

# Linux side by side: the same operations on Debian's arm64 Linux, same QEMU command, one table with `just bench`'s figures (apt downloads ~60 MB; not in `just test`).
bench-linux: setup
    bash tools/bench-linux/run

# Build the course book (docs/, book.toml) into target/book, the Spanish edition (docs/es/) into target/book/es; `just book serve` serves it live.
book *mode:
    #!/usr/bin/env bash
    set -euo pipefail
    mode={{quote(mode)}}
    if [ -n "$mode" ] && [ "$mode" != serve ]; then
        echo "error: unknown argument '$mode' for just book (usage: just book [serve])" >&2; exit 2
    fi
    if ! command -v mdbook >/dev/null; then
        echo "mdbook is missing: installing it with cargo install --locked mdbook (a few minutes, once)"
        mkdir -p target
        cargo install --locked mdbook >target/mdbook-install.log 2>&1 ||
            { echo "error: cargo install --locked mdbook failed (log: target/mdbook-install.log); install mdbook by hand and rerun" >&2; exit 1; }
    fi
    # Live: the English edition at http://localhost:3000, rebuilt on every save.
    if [ "$mode" = serve ]; then exec mdbook serve; fi
    mdbook build
    # The Spanish edition: its own book.toml in docs/es (src = "."), or only a
    # SUMMARY.md there, for which a book.toml is written under target/.
    if [ -f docs/es/book.toml ]; then
        mdbook build docs/es --dest-dir "$PWD/target/book/es"
    elif [ -f docs/es/SUMMARY.md ]; then
        mkdir -p target/book-es
        printf '[book]\ntitle = "ilusion (edición en español)"\nlanguage = "es"\nsrc = "%s"\n\n[build]\ncreate-missing = false\n' "$PWD/docs/es" > target/book-es/book.toml
        mdbook build target/book-es --dest-dir "$PWD/target/book/es"
    fi
    echo "book: target/book/index.html$([ -d target/book/es ] && echo ', target/book/es/index.html' || true)"

# Build every example and test image for a board into target/images/<board>/.
_build board:
    #!/usr/bin/env bash
    set -euo pipefail
    board={{quote(board)}}
    boards/known "$board"
    boards/log-level
    # Checked before building: without it the new ELF was copied and the raw image beside it left stale.
    command -v llvm-objcopy >/dev/null || { echo "error: llvm-objcopy not found (it makes the raw image). Run 'just setup' or install llvm." >&2; exit 127; }
    # Every image with the shell compiled in (only those that start it use it; the rest is left out when linking).
    features="board-$board,shell"
    out=target/images/$board
    mkdir -p "$out"
    # Benchmarks, the hello example and the test images named *_unchecked
    # as an application gets them; every other image (the QEMU tests) with
    # the spin-lock checks on (src/critical.rs); the schedule-trace images
    # (trace_*, `required-features` in Cargo.toml) with the trace as well.
    # Each image is built once, in its own set: building every example in
    # both sets took twice the time and disk (CI ran out of space).
    # Each build names its --target-dir: the copies below read from these
    # directories, whatever CARGO_TARGET_DIR says.
    plain=(); checked=(); traced=()
    for name in $(awk '/^\[\[example\]\]/ {e = 1; next} /^\[/ {e = 0} e && /^name = / {gsub(/"/, "", $3); print $3}' Cargo.toml); do
        case $name in
            trace_*) traced+=("$name") ;;
            bench_* | hello | *_unchecked) plain+=("$name") ;;
            *) checked+=("$name") ;;
        esac
    done
    build_set() { # build_set TARGET_DIR FEATURES NAME...: build these images
        local dir=$1 set_features=$2; shift 2
        [ $# -gt 0 ] || return 0
        cargo build -q --profile {{profile}} --no-default-features --features "$set_features" --target-dir "$dir" $(printf -- '--example %s ' "$@")
    }
    copy_set() { # copy_set TARGET_DIR NAME...: copy the images built there to $out, ELF and raw
        local dir=$1; shift
        for name in "$@"; do
            rm -f "$out/$name.img"
            cp "$dir/aarch64-unknown-none/{{profile_dir}}/examples/$name" "$out/$name.elf"
            llvm-objcopy -O binary "$out/$name.elf" "$out/$name.img"
        done
    }
    build_set target "$features" "${plain[@]}"
    build_set target/checked "$features,lock-checks,stack-watermark" "${checked[@]}"
    build_set target/traced "$features,lock-checks,trace" "${traced[@]}"
    copy_set target "${plain[@]}"
    copy_set target/checked "${checked[@]}"
    copy_set target/traced "${traced[@]}"
    # The Pis' serial chainloader and its host tool (tested by tests/qemu.rs).
    if [ -x tools/chainloader/build ] && [[ "$board" == rpi* ]]; then
        tools/chainloader/build $board >/dev/null
        cargo build -q --release --manifest-path tools/chainload/Cargo.toml --target {{host}} --target-dir target/chainload
    fi

# Build one example (or test image) for a board into target/images/<board>/, as _build would.
_build_one board example:
    #!/usr/bin/env bash
    set -euo pipefail
    board={{quote(board)}}; example={{quote(example)}}
    # Example names are file names in examples/ (or tests/guest/): nothing else.
    boards/example "$example"
    boards/known "$board"
    boards/log-level
    # Checked before building: without it the new ELF was copied and the raw image beside it left stale.
    command -v llvm-objcopy >/dev/null || { echo "error: llvm-objcopy not found (it makes the raw image). Run 'just setup' or install llvm." >&2; exit 127; }
    # As in _build: benchmarks, hello and *_unchecked as an application gets them, test images with the lock checks.
    features="board-$board,shell"; dir=target
    if [[ "$example" != bench_* && "$example" != hello && "$example" != *_unchecked ]]; then features="$features,lock-checks,stack-watermark"; dir=target/checked; fi
    if [[ "$example" == trace_* ]]; then features="$features,trace"; dir=target/traced; fi
    cargo build -q --profile {{profile}} --example "$example" --no-default-features --features "$features" --target-dir $dir
    mkdir -p target/images/$board
    rm -f target/images/$board/$example.img
    cp $dir/aarch64-unknown-none/{{profile_dir}}/examples/$example target/images/$board/$example.elf
    llvm-objcopy -O binary target/images/$board/$example.elf target/images/$board/$example.img
