#!/usr/bin/env python3
"""The course book's consistency checks (docs/, both editions).

The book points into the code; these checks keep the pointers true, so a
renamed file, a removed function or a dropped example fails `just test`
instead of leaving the book wrong:

- every `just run X` names an example (examples/X.rs, or an [[example]]
  named X in Cargo.toml) that a QEMU test in tests/qemu.rs boots
  (its image name appears there as "X");
- every repository path the book names (src/..., examples/..., tests/...,
  benches/..., boards/..., linker/..., tools/..., templates/..., docs/...)
  exists;
- every function named in backticks as `name()` or `path::name` (not from
  core, alloc or std, and not a method of the standard library: see
  STD_NAMES) is defined somewhere in the repository's Rust sources
  (`fn name`, `macro_rules! name`, or a re-export `as name`);
- every chapter of the English edition (docs/NN-*.md) names its example
  in a line "Run it: `just run X`" and ends with exercises
  ("## Exercises") whose answers are hidden (<details>);
- every relative Markdown link resolves: the file exists and, when an
  #anchor is given, the target Markdown file has a heading with that id
  (GitHub's and mdBook's rule: lower case, spaces to '-', punctuation
  dropped).

Usage: tools/bookcheck/bookcheck.py [REPO_ROOT]   (default: the repository
this file is in). Prints one line per problem ("docs/x.md:12: ...") and a
summary "bookcheck: N files, N problems"; exits 1 if there is a problem,
2 (with a message) if REPO_ROOT has no docs/ folder or the command line is bad.
Unit tests: python3 -m unittest discover -s tools/bookcheck
"""

import os
import re
import sys

PATH_PREFIXES = ("src", "examples", "tests", "benches", "boards", "linker", "tools", "templates", "docs")
# Names of the standard library's methods and of other crates that the
# book uses in backticks; they are not ours to check.
STD_NAMES = {
    "unwrap", "expect", "clone", "drop", "into_inner", "iter", "map", "collect", "len", "is_empty",
    "unwrap_or_else", "read_volatile", "write_volatile", "spin_loop", "main", "new", "ok", "get",
    "set", "as_ptr", "from_le_bytes", "to_le_bytes", "min", "max", "format", "println", "print",
    "panic", "assert", "eret", "from_millis", "from_micros", "null",
}
RUN_RE = re.compile(r"just run ([a-z0-9_]+)")
PATH_RE = re.compile(r"(?<![A-Za-z0-9_./-])((?:%s)/[A-Za-z0-9_./-]*)" % "|".join(PATH_PREFIXES))
CODE_SPAN_RE = re.compile(r"`([^`\n]+)`")
FUNCTION_RE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*::)*([a-z_][a-z0-9_]*)(\(\))?$")
LINK_RE = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING_RE = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def anchor_of(heading):
    """The id GitHub and mdBook give a heading: lower case, whitespace to
    '-', letters, digits, '-' and '_' kept, everything else dropped."""
    text = re.sub(r"`|\*\*?|__?", "", heading).strip()  # markup is not part of the id
    out = []
    for ch in text.lower():
        if ch.isalnum() or ch in "-_":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def split_code(text):
    """(prose lines, all lines) with line numbers: prose excludes fenced code
    blocks, where links are not links."""
    prose, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            prose.append((number, line))
    return prose


def anchors_in(text):
    found = set()
    for _, line in split_code(text):
        m = HEADING_RE.match(line)
        if m:
            base = anchor_of(m.group(1))
            # Repeated headings get -1, -2, ... as on GitHub.
            anchor, n = base, 1
            while anchor in found:
                anchor, n = "%s-%d" % (base, n), n + 1
            found.add(anchor)
    return found


def run_names(text):
    return [(n, m.group(1)) for n, line in enumerate(text.splitlines(), 1) for m in RUN_RE.finditer(line)]


def paths_in(text):
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in PATH_RE.finditer(line):
            path = m.group(1).rstrip(".,;:")
            if path.rstrip("/") in PATH_PREFIXES:
                continue  # a bare "src/" names the folder, or a placeholder followed (boards/<name>/)
            out.append((n, path))
    return out


def functions_in(text):
    """(line, name) for each code span that names a function of ours."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for span in CODE_SPAN_RE.findall(line):
            m = FUNCTION_RE.match(span.strip())
            if not m:
                continue
            name, called = m.group(1), m.group(2)
            has_path = "::" in span
            if not (called or has_path):
                continue
            if span.split("::")[0] in ("core", "alloc", "std") or name in STD_NAMES:
                continue
            out.append((n, name))
    return out


def links_in(text):
    out = []
    for n, line in split_code(text):
        line = CODE_SPAN_RE.sub("", line)
        for m in LINK_RE.finditer(line):
            target = m.group(2) or m.group(3)
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            out.append((n, target))
    return out


class Repo:
    def __init__(self, root):
        self.root = root
        self._defined = None

    def exists(self, rel):
        return os.path.exists(os.path.join(self.root, rel))

    def exists_or_prefix(self, rel):
        """`rel` exists, or names the start of an entry of its folder, as
        "docs/06" for the chapter or "tests/guest/lock_check_*.rs"."""
        if self.exists(rel):
            return True
        parent, stem = os.path.split(rel)
        folder = os.path.join(self.root, parent)
        return bool(stem) and os.path.isdir(folder) and any(e.startswith(stem) for e in os.listdir(folder))

    def examples(self):
        names = set()
        ex = os.path.join(self.root, "examples")
        if os.path.isdir(ex):
            names |= {f[:-3] for f in os.listdir(ex) if f.endswith(".rs")}
        cargo = os.path.join(self.root, "Cargo.toml")
        if os.path.exists(cargo):
            names |= set(re.findall(r'^name = "([a-z0-9_]+)"', read(cargo), re.M))
        return names

    def qemu_tests(self):
        path = os.path.join(self.root, "tests/qemu.rs")
        return read(path) if os.path.exists(path) else ""

    def defined(self):
        """Every name defined as a function or macro, or re-exported, in the Rust sources."""
        if self._defined is None:
            names = set()
            for top in ("src", "examples", "benches", "tests", "tools"):
                for dirpath, dirnames, files in os.walk(os.path.join(self.root, top)):
                    dirnames[:] = [d for d in dirnames if d != "target"]
                    for f in files:
                        if f.endswith(".rs"):
                            text = read(os.path.join(dirpath, f))
                            names |= set(re.findall(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", text))
                            names |= set(re.findall(r"macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)", text))
                            names |= set(re.findall(r"\bas\s+([a-z_][a-z0-9_]*)\s*[,;}]", text))
                            # Fields (`Tcb::refs`): declared at the start of a line.
                            names |= set(re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?([a-z_][a-z0-9_]*)\s*:[^:]", text, re.M))
                        if top == "src":
                            # Modules (`mm::user_access`): files and folders.
                            names.add(os.path.splitext(f)[0])
                    if top == "src":
                        names |= set(dirnames)
            self._defined = names
        return self._defined


def check_file(repo, rel, text):
    """The problems in one Markdown file (rel: its path from the root)."""
    problems = []
    examples, qemu = None, None
    for n, name in run_names(text):
        if examples is None:
            examples, qemu = repo.examples(), repo.qemu_tests()
        if name not in examples:
            problems.append("%s:%d: `just run %s`: no example named %s" % (rel, n, name, name))
        elif '"%s"' % name not in qemu:
            problems.append("%s:%d: `just run %s`: no QEMU test in tests/qemu.rs boots %s" % (rel, n, name, name))
    for n, path in paths_in(text):
        if not repo.exists_or_prefix(path):
            problems.append("%s:%d: %s does not exist" % (rel, n, path))
    for n, name in functions_in(text):
        if name not in repo.defined():
            problems.append("%s:%d: function `%s` is not defined in the sources" % (rel, n, name))
    if re.match(r"^docs/\d\d-[^/]*\.md$", rel):
        if not re.search(r"^Run it: .*`[^`\n]*just run [a-z0-9_]+", text, re.M):
            problems.append("%s: no line \"Run it: `just run X`\" naming the chapter's example" % rel)
        if not re.search(r"^## Exercises\s*$", text, re.M) or "<details>" not in text:
            problems.append("%s: no \"## Exercises\" with hidden answers (<details>)" % rel)
    here = os.path.dirname(rel)
    for n, target in links_in(text):
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(here, file_part)) if file_part else rel
        if file_part and not repo.exists(dest):
            problems.append("%s:%d: link to %s: no such file" % (rel, n, target))
            continue
        if anchor and dest.endswith(".md"):
            dest_text = text if dest == rel else read(os.path.join(repo.root, dest))
            if anchor not in anchors_in(dest_text):
                problems.append("%s:%d: link to %s: no heading with id #%s in %s" % (rel, n, target, anchor, dest))
    return problems


def markdown_files(root):
    out = []
    for dirpath, _, files in os.walk(os.path.join(root, "docs")):
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in files if f.endswith(".md")]
    return sorted(out)


def main(argv):
    if len(argv) > 2:
        print("bookcheck: error: too many arguments (usage: tools/bookcheck/bookcheck.py [REPO_ROOT])", file=sys.stderr)
        return 2
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # A root without a book (a typo, or not the repository) checked nothing and passed.
    if not os.path.isdir(os.path.join(root, "docs")):
        print("bookcheck: error: %s has no docs/ folder: REPO_ROOT is ilusion's checkout" % root, file=sys.stderr)
        return 2
    repo = Repo(root)
    files = markdown_files(root)
    problems = []
    for rel in files:
        problems += check_file(repo, rel, read(os.path.join(root, rel)))
    for p in problems:
        print(p)
    print("bookcheck: %d files, %d problems" % (len(files), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
