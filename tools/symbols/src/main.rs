//! `ilusion-symbols`: puts an image's function names into the image.
//!
//! Run by `tools/symbols/link` (the linker cargo calls for ilusion images)
//! between and after its two links:
//!
//! ```text
//! ilusion-symbols table ELF TABLE   encode ELF's functions into TABLE, print its size
//!                                   (`none` if ELF reserves no .ilusion.symbols)
//! ilusion-symbols fill ELF TABLE    write TABLE into ELF's .ilusion.symbols section,
//!                                   after checking ELF's functions give the same table
//! ```
//!
//! Names are demangled and lose their hash (`hello::main`). The table's
//! layout is `src/symbols/format.rs` in ilusion, shared with the kernel
//! that reads it, so writer and reader cannot disagree.

extern crate alloc;

mod demangle;
mod elf;
// The kernel's reader of the format is used here to check what was written.
#[allow(dead_code)]
#[path = "../../../src/symbols/format.rs"]
mod format;

use elf::Elf;
use std::process::ExitCode;

/// The section `linker/ilusion.ld` reserves for the table.
const SECTION: &str = ".ilusion.symbols";

/// The table for an ELF's functions.
fn table_of(elf: &Elf) -> Result<Vec<u8>, String> {
    let functions = elf.functions()?;
    let names: Vec<String> = functions.iter().map(|f| demangle::demangle(&f.name)).collect();
    let entries: Vec<(u64, u64, &str)> =
        functions.iter().zip(&names).map(|(f, name)| (f.addr, f.size, name.as_str())).collect();
    let table = format::encode(&entries);
    // What the kernel will read must parse: check it here, where an error can stop the build.
    format::Table::parse(&table).map_err(|e| format!("the encoded table does not parse: {e}"))?;
    Ok(table)
}

fn read_elf(path: &str) -> Result<Elf, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Elf::parse(bytes).map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [command, elf, table] if command == "table" => {
            let elf_file = read_elf(elf)?;
            if elf_file.section(SECTION).is_none() {
                // Not an ilusion image (the chainloader has its own linker script): nothing to do.
                println!("none");
                return Ok(());
            }
            let bytes = table_of(&elf_file)?;
            std::fs::write(table, &bytes).map_err(|e| format!("cannot write {table}: {e}"))?;
            println!("{}", bytes.len());
            Ok(())
        }
        [command, elf, table] if command == "fill" => {
            let mut elf_file = read_elf(elf)?;
            let expected = std::fs::read(table).map_err(|e| format!("cannot read {table}: {e}"))?;
            // Reserving the table's room must have moved no function.
            if table_of(&elf_file)? != expected {
                return Err(format!(
                    "{elf}: the functions moved between the two links, so the table would lie; \
                     is {SECTION} still after .text and .rodata in the linker script?"
                ));
            }
            elf_file.fill_section(SECTION, &expected).map_err(|e| format!("{elf}: {e}"))?;
            std::fs::write(elf, elf_file.into_bytes()).map_err(|e| format!("cannot write {elf}: {e}"))
        }
        _ => Err("usage: ilusion-symbols table ELF TABLE | ilusion-symbols fill ELF TABLE".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("ilusion-symbols: error: {why}");
            ExitCode::from(2)
        }
    }
}
