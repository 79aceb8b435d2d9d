//! Turning Rust's legacy mangled names back into paths, without the hash:
//! `_ZN5hello4main17h0123456789abcdefE` is `hello::main`.
//!
//! A legacy name is `_ZN`, then each path segment as its length in decimal
//! and its bytes, then `E`. The last segment is `h` and 16 hex digits (a
//! hash telling apart builds of the same path), dropped here. Characters
//! a symbol cannot hold are escaped: `$LT$` is `<`, `$u7b$` is `{`, `..` is
//! `::`.
//!
//! The newer v0 scheme (`_R`, used by the prebuilt `core` and `alloc`) is
//! read for plain paths: `_RNvNtCs1a_5alloc7raw_vec12handle_error` is
//! `alloc::raw_vec::handle_error`. Anything else (generic instances in v0,
//! C names, assembly labels) is kept as it is.

/// The readable name of `symbol`.
pub fn demangle(symbol: &str) -> String {
    let symbol = symbol.split_once(".llvm.").map_or(symbol, |(name, _)| name);
    legacy(symbol).or_else(|| v0(symbol)).unwrap_or_else(|| symbol.to_string())
}

/// The path of a v0 name made only of nested paths (`N`) over a crate root
/// (`C`), or `None`.
fn v0(symbol: &str) -> Option<String> {
    let mut rest = symbol.strip_prefix("_R")?.as_bytes();
    let path = v0_path(&mut rest)?;
    // What may follow is the instantiating crate: ignore it.
    Some(path)
}

/// One v0 path: `C [disambiguator] ident` or `N namespace path [disambiguator] ident`.
fn v0_path(rest: &mut &[u8]) -> Option<String> {
    let (&tag, tail) = rest.split_first()?;
    *rest = tail;
    match tag {
        b'C' => {
            v0_disambiguator(rest)?;
            v0_ident(rest)
        }
        b'N' => {
            let (&namespace, tail) = rest.split_first()?;
            *rest = tail;
            let parent = v0_path(rest)?;
            v0_disambiguator(rest)?;
            let ident = v0_ident(rest)?;
            Some(match namespace {
                b'C' => format!("{parent}::{{closure}}"),
                b'A'..=b'Z' => format!("{parent}::{{shim}}"),
                _ => format!("{parent}::{ident}"),
            })
        }
        _ => None, // generic arguments, impls, back-references: not read here
    }
}

/// An optional `s <base-62 number> _`: tells apart items of the same name.
fn v0_disambiguator(rest: &mut &[u8]) -> Option<()> {
    if let Some(tail) = rest.strip_prefix(b"s") {
        let end = tail.iter().position(|&b| b == b'_')?;
        *rest = &tail[end + 1..];
    }
    Some(())
}

/// `<decimal length> [_] <bytes>` (the `_` when the bytes start with a digit or `_`).
fn v0_ident(rest: &mut &[u8]) -> Option<String> {
    if rest.first() == Some(&b'u') {
        return None; // Punycode (non-ASCII identifiers): not read here
    }
    let digits = rest.iter().position(|b| !b.is_ascii_digit())?;
    let len: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let mut tail = &rest[digits..];
    if tail.first() == Some(&b'_') {
        tail = &tail[1..];
    }
    let ident = std::str::from_utf8(tail.get(..len)?).ok()?.to_string();
    *rest = &tail[len..];
    Some(ident)
}

/// The path of a legacy Rust name, or `None` if `symbol` is not one.
fn legacy(symbol: &str) -> Option<String> {
    // LLVM may add a suffix after the `E` (`.llvm.123`): ignore it.
    let mut rest = symbol.strip_prefix("_ZN").or_else(|| symbol.strip_prefix("__ZN"))?;
    let mut segments = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let len: usize = rest[..digits].parse().ok()?;
        let segment = rest.get(digits..digits + len)?;
        segments.push(segment);
        rest = &rest[digits + len..];
    }
    if let Some(last) = segments.last() {
        let is_hash = last.len() == 17 && last.starts_with('h') && last[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if is_hash && segments.len() > 1 {
            segments.pop();
        }
    }
    let segments: Option<Vec<String>> = segments.iter().map(|s| unescape(s)).collect();
    Some(segments?.join("::"))
}

/// Undoes the escapes of one segment.
fn unescape(segment: &str) -> Option<String> {
    // A segment cannot start with `$`, so an escape there gets a `_` before it.
    let mut rest = if segment.starts_with("_$") { &segment[1..] } else { segment };
    let mut out = String::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("..") {
            out.push_str("::");
            rest = after;
        } else if let Some(after) = rest.strip_prefix('$') {
            let end = after.find('$')?;
            let code = &after[..end];
            out.push(match code {
                "SP" => '@',
                "BP" => '*',
                "RF" => '&',
                "LT" => '<',
                "GT" => '>',
                "LP" => '(',
                "RP" => ')',
                "C" => ',',
                _ => char::from_u32(u32::from_str_radix(code.strip_prefix('u')?, 16).ok()?)?,
            });
            rest = &after[end + 1..];
        } else {
            let c = rest.chars().next()?;
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn a_plain_path_loses_its_hash() {
        assert_eq!(demangle("_ZN5hello4main17h0123456789abcdefE"), "hello::main");
        assert_eq!(demangle("_ZN7ilusion5power4exit17hfedcba9876543210E"), "ilusion::power::exit");
    }

    #[test]
    fn escapes_become_characters() {
        assert_eq!(
            demangle("_ZN60_$LT$alloc..string..String$u20$as$u20$core..fmt..Display$GT$3fmt17h0a1b2c3d4e5f6a7bE"),
            "<alloc::string::String as core::fmt::Display>::fmt"
        );
        assert_eq!(demangle("_ZN4core3ptr13drop_in_place17h0000000000000000E.llvm.42"), "core::ptr::drop_in_place");
        assert_eq!(
            demangle("_ZN5hello4main28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE"),
            "hello::main::{{closure}}"
        );
        assert_eq!(demangle("_ZN3foo3RefE"), "foo::Ref");
    }

    #[test]
    fn v0_plain_paths_are_read() {
        assert_eq!(demangle("_RNvNtCs7ZrHeqepHkI_5alloc7raw_vec12handle_error"), "alloc::raw_vec::handle_error");
        assert_eq!(
            demangle("_RNvCsfLfy6EI15iL_7___rustc25___rdl_alloc_error_handler"),
            "__rustc::__rdl_alloc_error_handler"
        );
        assert_eq!(demangle("_RNCNvCs1234_5hello4main0B3_"), "hello::main::{closure}");
        assert_eq!(demangle("_RNvCs1234_5hello4main.llvm.7"), "hello::main");
    }

    #[test]
    fn other_names_stay_as_they_are() {
        assert_eq!(demangle("_start"), "_start");
        assert_eq!(demangle("memcpy"), "memcpy");
        assert_eq!(demangle("_RINvCs1234_5hello4mainpEB2_"), "_RINvCs1234_5hello4mainpEB2_");
        // Malformed: a length running past the end, a bad escape.
        assert_eq!(demangle("_ZN99hello4mainE"), "_ZN99hello4mainE");
        assert_eq!(demangle("_ZN4$u$x4mainE"), "_ZN4$u$x4mainE");
    }
}
