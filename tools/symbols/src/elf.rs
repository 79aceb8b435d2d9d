//! Just enough of the ELF64 format (little-endian) to read an image's
//! function symbols and to overwrite one section's bytes in place.
//!
//! An ELF file starts with a header that says where the section headers
//! are; each section header gives a name (an offset into the section-name
//! string table), a type, flags, an address and where its bytes are in the
//! file. The symbol table (`SHT_SYMTAB`) is an array of 24-byte entries
//! whose names are in the string table its `sh_link` names.

/// `SHT_SYMTAB`: the section type of the full symbol table.
const SHT_SYMTAB: u32 = 2;
/// `SHT_PROGBITS`: a section whose bytes are in the file.
const SHT_PROGBITS: u32 = 1;
/// `SHF_EXECINSTR`: the section holds instructions.
const SHF_EXECINSTR: u64 = 4;
/// Symbol types (low 4 bits of `st_info`).
const STT_NOTYPE: u8 = 0;
const STT_FUNC: u8 = 2;
/// Symbol binding (high 4 bits of `st_info`).
const STB_GLOBAL: u8 = 1;
/// `st_shndx` values below this name a real section.
const SHN_LORESERVE: u16 = 0xff00;

/// One section header, the fields this tool needs.
#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
}

/// A function symbol: where it starts, its size (0 if unknown) and its raw (mangled) name.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub addr: u64,
    pub size: u64,
    pub name: String,
}

/// An ELF file's bytes and section headers.
pub struct Elf {
    bytes: Vec<u8>,
    pub sections: Vec<Section>,
}

fn field<const N: usize>(bytes: &[u8], at: usize, what: &str) -> Result<[u8; N], String> {
    bytes
        .get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("truncated ELF file: {what} at byte {at} is past the end"))
}
fn u16_at(bytes: &[u8], at: usize, what: &str) -> Result<u16, String> {
    field(bytes, at, what).map(u16::from_le_bytes)
}
fn u32_at(bytes: &[u8], at: usize, what: &str) -> Result<u32, String> {
    field(bytes, at, what).map(u32::from_le_bytes)
}
fn u64_at(bytes: &[u8], at: usize, what: &str) -> Result<u64, String> {
    field(bytes, at, what).map(u64::from_le_bytes)
}

/// The NUL-terminated string at `at` in a string table.
fn string_at(table: &[u8], at: usize) -> Result<String, String> {
    let rest = table.get(at..).ok_or_else(|| format!("string offset {at} is past its string table"))?;
    let end = rest.iter().position(|&b| b == 0).ok_or("string table entry without its NUL")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

impl Elf {
    /// Reads the header and section headers of an ELF64 little-endian file.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err("not an ELF file (no \\x7fELF at the start)".into());
        }
        if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
            return Err("not a 64-bit little-endian ELF file".into());
        }
        let shoff = u64_at(&bytes, 0x28, "e_shoff")? as usize;
        let shentsize = u16_at(&bytes, 0x3a, "e_shentsize")? as usize;
        let shnum = u16_at(&bytes, 0x3c, "e_shnum")? as usize;
        let shstrndx = u16_at(&bytes, 0x3e, "e_shstrndx")? as usize;
        if shentsize < 64 {
            return Err(format!("section headers of {shentsize} bytes (ELF64 has 64)"));
        }
        let mut raw = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let at = shoff + i * shentsize;
            raw.push((
                u32_at(&bytes, at, "sh_name")?,
                Section {
                    name: String::new(),
                    kind: u32_at(&bytes, at + 4, "sh_type")?,
                    flags: u64_at(&bytes, at + 8, "sh_flags")?,
                    addr: u64_at(&bytes, at + 16, "sh_addr")?,
                    offset: u64_at(&bytes, at + 24, "sh_offset")?,
                    size: u64_at(&bytes, at + 32, "sh_size")?,
                    link: u32_at(&bytes, at + 40, "sh_link")?,
                },
            ));
        }
        let mut elf = Elf { bytes, sections: raw.iter().map(|(_, s)| s.clone()).collect() };
        if let Some(names) = elf.sections.get(shstrndx).cloned() {
            let table = elf.contents(&names)?.to_vec();
            for (section, (name, _)) in elf.sections.iter_mut().zip(&raw) {
                section.name = string_at(&table, *name as usize)?;
            }
        }
        Ok(elf)
    }

    /// The bytes of `section` in the file.
    fn contents(&self, section: &Section) -> Result<&[u8], String> {
        let (from, len) = (section.offset as usize, section.size as usize);
        self.bytes
            .get(from..from + len)
            .ok_or_else(|| format!("section {:?} runs past the end of the file", section.name))
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Every function: `STT_FUNC` symbols first, then global untyped
    /// symbols inside code (assembly entry points such as `_start`), but
    /// not the linker script's markers (`__text_end`, `_start_phys`...:
    /// named `__*`, or outside their section). Empty if the file has no
    /// symbol table (a stripped image).
    pub fn functions(&self) -> Result<Vec<Function>, String> {
        let Some(symtab) = self.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
            return Ok(Vec::new());
        };
        let strtab = self.sections.get(symtab.link as usize).ok_or("symbol table names no string table")?;
        let (symbols, names) = (self.contents(symtab)?, self.contents(strtab)?);
        let (mut typed, mut untyped) = (Vec::new(), Vec::new());
        for entry in symbols.chunks_exact(24).skip(1) {
            let info = entry[4];
            let (kind, binding) = (info & 0xf, info >> 4);
            let shndx = u16::from_le_bytes([entry[6], entry[7]]);
            let addr = u64::from_le_bytes(entry[8..16].try_into().unwrap());
            let size = u64::from_le_bytes(entry[16..24].try_into().unwrap());
            let section = match shndx {
                0 | SHN_LORESERVE.. => None,
                i => self.sections.get(i as usize),
            };
            let Some(section) = section.filter(|s| s.flags & SHF_EXECINSTR != 0) else {
                continue;
            };
            let inside = (section.addr..section.addr + section.size).contains(&addr);
            let name = string_at(names, u32::from_le_bytes(entry[0..4].try_into().unwrap()) as usize)?;
            if name.is_empty() {
                continue;
            }
            if kind == STT_FUNC {
                typed.push(Function { addr, size, name });
            } else if kind == STT_NOTYPE && binding == STB_GLOBAL && inside && !name.starts_with("__") {
                untyped.push(Function { addr, size, name });
            }
        }
        typed.sort_by(|a, b| a.name.cmp(&b.name));
        untyped.sort_by(|a, b| a.name.cmp(&b.name));
        typed.extend(untyped);
        Ok(typed)
    }

    /// Overwrites section `name`'s bytes with `contents`, which must be
    /// exactly the section's size (the linker reserved it).
    pub fn fill_section(&mut self, name: &str, contents: &[u8]) -> Result<(), String> {
        let section =
            self.section(name).ok_or_else(|| format!("no section {name} (is the linker script ilusion's?)"))?;
        if section.kind != SHT_PROGBITS {
            return Err(format!("section {name} has type {} and no bytes in the file", section.kind));
        }
        if section.size != contents.len() as u64 {
            return Err(format!(
                "section {name} is {} bytes, the table {} bytes (was it linked with --defsym=__ilusion_symbols_size?)",
                section.size,
                contents.len()
            ));
        }
        // The header's offset may be anything: a section past the end of
        // the file is an error, not a panic.
        let at = section.offset as usize;
        let place = at.checked_add(contents.len()).and_then(|end| self.bytes.get_mut(at..end)).ok_or_else(|| {
            format!("section {name} (at byte {at}, {} bytes) runs past the end of the file", contents.len())
        })?;
        place.copy_from_slice(contents);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes with one PROGBITS section `.t` of 4 bytes at `offset`.
    fn with_section_at(len: usize, offset: u64) -> Elf {
        let section = Section { name: ".t".into(), kind: SHT_PROGBITS, flags: 0, addr: 0, offset, size: 4, link: 0 };
        Elf { bytes: vec![0; len], sections: vec![section] }
    }

    #[test]
    fn fill_section_past_the_end_of_the_file_is_an_error() {
        for offset in [14, 100, u64::MAX - 1] {
            let err = with_section_at(16, offset).fill_section(".t", &[1, 2, 3, 4]).unwrap_err();
            assert!(err.contains("runs past the end of the file"), "{err}");
        }
        let mut fits = with_section_at(16, 12);
        fits.fill_section(".t", &[1, 2, 3, 4]).unwrap();
        assert_eq!(&fits.into_bytes()[12..], &[1, 2, 3, 4]);
    }
}
