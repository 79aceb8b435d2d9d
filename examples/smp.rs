//! Every core at work: a Mandelbrot set drawn by one task per core, then by
//! one core alone, with both times (`just run smp`; any board, any number
//! of cores: `QEMU_EXTRA="-smp 8" just run smp`).
//!
//! What to look at:
//!
//! 1. **One task per core.** `Builder::cpu(n)` pins task `n` to core `n`,
//!    for every core online (`task::cpus_online()`); each prints the core
//!    it ran on (`task::current_cpu()`), which rows it drew, how many
//!    iterations of `z = z² + c` that took and how long. The lines come in
//!    the order the tasks finish, not the order they were spawned: they
//!    ran at the same time.
//! 2. **Sharing the work.** Rows near the middle of the picture cost far
//!    more than rows at the edges (points inside the set iterate to the
//!    limit). Giving each core a band of neighbouring rows would leave the
//!    cores with the edges idle early; dealing rows out like cards (row
//!    `r` to core `r % n`) gives each core a fair share of the costly
//!    ones, so the iteration counts come out close. This is static load
//!    balancing: decided before the work starts, at no cost while it runs.
//! 3. **The picture.** The left margin says which core drew each row.
//! 4. **The times.** The same picture drawn again by one task on core 0,
//!    then both times and the speed-up. On a Raspberry Pi, expect close to
//!    the number of cores: the work is independent, the tasks share
//!    nothing but the final join. Under QEMU it depends on how QEMU runs
//!    the cores: on `virt` each core is a host thread (MTTCG), so the
//!    speed-up is bounded by the host's free processors; the `raspi3b`
//!    and `raspi4b` machines run their cores one after the other on a
//!    single host thread (`-accel tcg,thread=single` in
//!    `boards/rpi*/qemu.args`), so there is no speed-up at all, and each
//!    core's share takes about as long as the whole picture on one core:
//!    the clock keeps running while the other cores take their turns.
//!    (Under QEMU the first drawing also pays for translating the code, so
//!    the second, on one core, starts with an advantage.)
//!
//! Time is read with `ilusion::time::Instant`, which every core reads from
//! the same system counter, so times taken on different cores compare.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use ilusion::println;
use ilusion::task::{self, Builder};
use ilusion::time::{Duration, Instant};

ilusion::entry!(main);

/// The picture, in characters.
const COLUMNS: usize = 64;
const ROWS: usize = 24;
/// Points computed per character, in each direction (their mean makes the character).
const SAMPLES: usize = 8;
/// Iterations after which a point counts as inside the set.
const LIMIT: u32 = 1000;
/// Darker characters for points that take longer to escape.
const SHADES: &[u8] = b" .:-=+*#%@";

/// What one task drew: its rows (number and text), the iterations and time they took, its core.
struct Share {
    rows: Vec<(usize, String)>,
    iterations: u64,
    time: Duration,
    core: usize,
}

fn main() {
    let cores = task::cpus_online();
    println!("smp: drawing a {COLUMNS}x{ROWS} Mandelbrot set on {}, row r on core r % {cores}", cores_text(cores));

    let start = Instant::now();
    let tasks: Vec<_> = (0..cores)
        .map(|core| {
            Builder::new()
                .name("painter")
                .cpu(core)
                .spawn(move || {
                    let share = draw((core..ROWS).step_by(cores));
                    println!(
                        "  core {}: {} rows ({}), {} iterations in {} ms",
                        share.core,
                        share.rows.len(),
                        row_list(&share.rows),
                        share.iterations,
                        share.time.as_millis()
                    );
                    share
                })
                .expect("spawning a painter")
        })
        .collect();
    let shares: Vec<Share> = tasks.into_iter().map(|t| t.join().expect("a painter failed")).collect();
    let parallel = start.elapsed();

    let mut picture: Vec<(usize, usize, String)> =
        shares.iter().flat_map(|s| s.rows.iter().map(|(row, text)| (*row, s.core, text.clone()))).collect();
    picture.sort_by_key(|(row, _, _)| *row);
    for (_, core, text) in &picture {
        println!("  {core} |{text}|");
    }

    let alone = Builder::new().name("alone").cpu(0).spawn(|| draw(0..ROWS)).expect("spawning").join().expect("failed");
    let same = alone.rows.iter().zip(&picture).all(|((_, a), (_, _, b))| a == b);
    println!(
        "one core: all {ROWS} rows on core {}, {} iterations in {} ms (same picture: {same})",
        alone.core,
        alone.iterations,
        alone.time.as_millis()
    );
    let speedup_tenths = alone.time.as_micros() * 10 / parallel.as_micros().max(1);
    println!(
        "{}: {} ms; one core: {} ms; speed-up {}.{}x",
        cores_text(cores),
        parallel.as_millis(),
        alone.time.as_millis(),
        speedup_tenths / 10,
        speedup_tenths % 10
    );
    let pinned = shares.iter().enumerate().all(|(core, s)| s.core == core);
    println!("smp: done (every painter on the core it was pinned to: {pinned})");
}

/// Draws `rows` of the picture, on the calling core.
fn draw(rows: impl Iterator<Item = usize>) -> Share {
    let start = Instant::now();
    let mut iterations = 0;
    let rows = rows
        .map(|row| {
            let text = (0..COLUMNS)
                .map(|column| {
                    let (shade, spent) = cell(column, row);
                    iterations += spent;
                    shade
                })
                .collect();
            (row, text)
        })
        .collect();
    Share { rows, iterations, time: start.elapsed(), core: task::current_cpu() }
}

/// The character for one cell, from the mean escape time of its
/// [`SAMPLES`]² points; and the iterations that took.
fn cell(column: usize, row: usize) -> (char, u64) {
    let mut total = 0u64;
    for sy in 0..SAMPLES {
        for sx in 0..SAMPLES {
            // The picture spans -2.2..0.8 (real) by -1.2..1.2 (imaginary).
            let x = -2.2 + 3.0 * (column * SAMPLES + sx) as f64 / (COLUMNS * SAMPLES) as f64;
            let y = -1.2 + 2.4 * (row * SAMPLES + sy) as f64 / (ROWS * SAMPLES) as f64;
            total += u64::from(escape_time(x, y));
        }
    }
    let mean = total / (SAMPLES * SAMPLES) as u64;
    let shade = SHADES[(mean as usize * (SHADES.len() - 1)).div_ceil(LIMIT as usize)];
    (shade as char, total)
}

/// Iterations of `z = z² + c` from 0 until `|z| > 2`, at most [`LIMIT`].
fn escape_time(cx: f64, cy: f64) -> u32 {
    let (mut x, mut y) = (0.0f64, 0.0f64);
    for n in 0..LIMIT {
        if x * x + y * y > 4.0 {
            return n;
        }
        (x, y) = (x * x - y * y + cx, 2.0 * x * y + cy);
    }
    LIMIT
}

/// "0, 4, 8, ..." for the rows of a share.
fn row_list(rows: &[(usize, String)]) -> String {
    let mut list = String::new();
    for (i, (row, _)) in rows.iter().enumerate() {
        if i == 3 && rows.len() > 4 {
            list.push_str(", ...");
            break;
        }
        if i > 0 {
            list.push_str(", ");
        }
        list.push_str(&alloc::format!("{row}"));
    }
    list
}

/// "1 core", "4 cores".
fn cores_text(cores: usize) -> String {
    alloc::format!("{cores} core{}", if cores == 1 { "" } else { "s" })
}
