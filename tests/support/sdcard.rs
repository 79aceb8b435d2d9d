//! Host-side checks of `boards/sdcard` for the Raspberry Pi boards: the
//! disk image it writes (MBR, FAT32 boot partition, firmware, config.txt,
//! kernel8.img identical to the raw image), read back with mtools; and the
//! error it gives when the firmware is missing. Part of tests/qemu.rs's run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the FAT32 partition starts in the image: sector 2048.
const PARTITION_OFFSET: usize = 2048 * 512;

/// The firmware files a board needs on the card.
fn firmware(board: &str) -> Option<&'static [&'static str]> {
    match board {
        "rpi3" => Some(&["bootcode.bin", "start.elf", "fixup.dat"]),
        "rpi4" => Some(&["start4.elf", "fixup4.dat"]),
        _ => None,
    }
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ilusion-test-{}-{name}", std::process::id()))
}

fn sdcard(root: &Path, board: &str, output: &Path, firmware_dir: Option<&Path>) -> Result<String, (i32, String)> {
    let mut cmd = Command::new(root.join("boards/sdcard"));
    cmd.args(["--no-build", "--output"]).arg(output).args([board, "hello"]);
    if let Some(dir) = firmware_dir {
        cmd.env("RPI_FIRMWARE_DIR", dir);
    }
    let out = cmd.output().map_err(|e| (-1, format!("cannot start boards/sdcard: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err((out.status.code().unwrap_or(-1), text))
    }
}

fn missing_firmware_is_reported(root: &Path, board: &str) -> Vec<String> {
    let empty = temp_path("no-firmware");
    let _ = std::fs::create_dir_all(&empty);
    let result = sdcard(root, board, &temp_path("unused.img"), Some(&empty));
    let _ = std::fs::remove_dir(&empty);
    match result {
        Ok(_) => vec!["boards/sdcard succeeded without firmware".into()],
        Err((3, text)) if text.contains("raspi-firmware") && text.contains("RPI_FIRMWARE_DIR") => vec![],
        Err((code, text)) => {
            vec![format!("exit status {code}, expected 3 naming raspi-firmware and RPI_FIRMWARE_DIR:\n{text}")]
        }
    }
}

fn image_layout(root: &Path, board: &str, needed: &[&str]) -> Vec<String> {
    let image = temp_path(&format!("{board}-sdcard.img"));
    let mut problems = Vec::new();
    let text = match sdcard(root, board, &image, None) {
        Ok(text) => text,
        Err((code, text)) => return vec![format!("boards/sdcard failed with status {code}:\n{text}")],
    };
    // A firmware folder without device trees (Debian's): the kernel asks
    // the firmware's mailbox for the RAM. The warning said it would assume
    // the board's default size.
    if text.contains("no device trees") && !text.contains("ask the firmware's mailbox for the RAM") {
        problems.push(format!("the warning about missing device trees does not name the mailbox:\n{text}"));
    }
    let disk = std::fs::read(&image).unwrap_or_default();
    let mbr = disk.get(..512).unwrap_or(&[]);
    if mbr.len() < 512 || mbr[510..512] != [0x55, 0xaa] {
        problems.push("no MBR signature".into());
    } else {
        let entry = &mbr[446..462];
        let start = u32::from_le_bytes(entry[8..12].try_into().unwrap());
        if entry[0] != 0x80 || entry[4] != 0x0c || start as usize * 512 != PARTITION_OFFSET {
            problems.push(format!("partition 1 is not a bootable FAT32 (0x0c) at sector 2048: {entry:02x?}"));
        }
    }
    let fat = format!("{}@@{PARTITION_OFFSET}", image.display());
    let listing = Command::new("mdir").args(["-b", "-i", &fat, "::"]).output();
    let listing = listing.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    for file in needed.iter().chain(&["config.txt", "kernel8.img"]) {
        if !listing.lines().any(|l| l.trim_end() == format!("::/{file}")) {
            problems.push(format!("{file} is not on the boot partition (mdir: {listing:?})"));
        }
    }
    let read = |name: &str| {
        let out = Command::new("mcopy").args(["-n", "-i", &fat, &format!("::{name}"), "-"]).output();
        out.map(|o| o.stdout).unwrap_or_default()
    };
    let raw = std::fs::read(root.join("target/images").join(board).join("hello.img")).unwrap_or_default();
    if raw.is_empty() || read("kernel8.img") != raw {
        problems.push("kernel8.img differs from target/images/<board>/hello.img".into());
    }
    let config = String::from_utf8_lossy(&read("config.txt")).into_owned();
    for line in ["arm_64bit=1", "enable_uart=1", "init_uart_clock=48000000"] {
        if !config.lines().any(|l| l == line) {
            problems.push(format!("config.txt lacks {line}"));
        }
    }
    let _ = std::fs::remove_file(&image);
    problems
}

/// The checks for `board`: (name, problems), or `Err(why)` when skipped.
pub fn checks(root: &Path, board: &str) -> Vec<(String, Result<Vec<String>, String>)> {
    let Some(needed) = firmware(board) else { return vec![] };
    let mut out =
        vec![("sd card: missing firmware is a clear error".into(), Ok(missing_firmware_is_reported(root, board)))];
    let dir = std::env::var_os("RPI_FIRMWARE_DIR").map(PathBuf::from).unwrap_or("/usr/lib/raspi-firmware".into());
    let layout = if needed.iter().all(|f| dir.join(f).exists()) {
        Ok(image_layout(root, board, needed))
    } else {
        Err(format!("no firmware in {} (install raspi-firmware or set RPI_FIRMWARE_DIR)", dir.display()))
    };
    out.push(("sd card: MBR, FAT32, firmware, config.txt, kernel8.img".into(), layout));
    out
}
