"""Unit tests of the book's consistency checks, on a small repository made
in a temporary folder: each check passes on good text and names the
problem on bad text."""

import os
import tempfile
import unittest

import bookcheck


class FakeRepo(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        files = {
            "src/task/restart.rs": "pub fn supervise() {}\nstruct Tcb {\n    pub refs: u32,\n}\n",
            "src/mm/mod.rs": "pub use crate::task::dump_address_space as dump;\nmacro_rules! entry { () => {} }\n",
            "examples/hello.rs": "fn main() {}\n",
            "examples/untested.rs": "fn main() {}\n",
            "tests/qemu.rs": 'case("hello", "hello", 0, &[]),\n',
            "docs/01-intro.md": "# Chapter 1 — From reset to `main`\n\n## 2. The `Tcb` and its refs\n",
            "Cargo.toml": '[[example]]\nname = "guest_only"\n',
        }
        for rel, text in files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        self.repo = bookcheck.Repo(self.root)

    def tearDown(self):
        self.dir.cleanup()

    def problems(self, text, rel="docs/page.md"):
        return bookcheck.check_file(self.repo, rel, text)

    def test_a_tested_example_passes(self):
        self.assertEqual(self.problems("Run it: `just run hello`\n"), [])

    def test_an_unknown_example_is_named(self):
        self.assertEqual(self.problems("`just run helo`\n"), ["docs/page.md:1: `just run helo`: no example named helo"])

    def test_an_example_no_qemu_test_boots_is_named(self):
        p = self.problems("x\n`just run untested`\n")
        self.assertEqual(p, ["docs/page.md:2: `just run untested`: no QEMU test in tests/qemu.rs boots untested"])
        # An [[example]] of Cargo.toml is an example too (tests/guest images).
        self.assertIn("no QEMU test", self.problems("`just run guest_only`")[0])

    def test_paths_must_exist(self):
        self.assertEqual(self.problems("see `src/task/restart.rs`, and src/mm/.\n"), [])
        self.assertEqual(self.problems("see src/task/restrat.rs.\n"), ["docs/page.md:1: src/task/restrat.rs does not exist"])
        # A prefix of an entry (a chapter "docs/01", a pattern "examples/hel*.rs") is fine; a path inside another word is not a path.
        self.assertEqual(self.problems("docs/01 and examples/hel*.rs; target/src/nothing.rs\n"), [])

    def test_functions_must_be_defined(self):
        ok = "`supervise()`, `task::supervise`, `mm::dump`, `Tcb::refs`, `mm::restart`, `core::hint::spin_loop()`, `x.unwrap()`, `Policy`\n"
        self.assertEqual(self.problems(ok), [])
        self.assertEqual(
            self.problems("`supervize()` and `task::respawn`\n"),
            [
                "docs/page.md:1: function `supervize` is not defined in the sources",
                "docs/page.md:1: function `respawn` is not defined in the sources",
            ],
        )

    def test_links_must_resolve_with_their_anchors(self):
        good = "[1](01-intro.md) [2](01-intro.md#2-the-tcb-and-its-refs) [3](01-intro.md#chapter-1--from-reset-to-main) [web](https://example.org/x.md)\n"
        self.assertEqual(self.problems(good), [])
        self.assertEqual(self.problems("[gone](07-nothing.md)\n"), ["docs/page.md:1: link to 07-nothing.md: no such file"])
        self.assertEqual(
            self.problems("text\n[bad anchor](01-intro.md#3-nothing)\n"),
            ["docs/page.md:2: link to 01-intro.md#3-nothing: no heading with id #3-nothing in docs/01-intro.md"],
        )
        # Same-file anchors; links inside code are not links.
        self.assertEqual(self.problems("## Here\n[up](#here)\n```\n[no](nowhere.md)\n```\n`[no](nowhere.md)`\n"), [])
        self.assertIn("no heading with id #there", self.problems("## Here\n[up](#there)\n")[0])

    def test_a_chapter_names_its_example_and_has_exercises(self):
        chapter = "# 3\nRun it: `just run hello`\n\n## Exercises\n\n1. x\n<details><summary>Answer</summary>y</details>\n"
        self.assertEqual(self.problems(chapter, "docs/03-cpu.md"), [])
        self.assertEqual(
            self.problems("# 3\n## Exercises\n<details></details>\n", "docs/03-cpu.md"),
            ['docs/03-cpu.md: no line "Run it: `just run X`" naming the chapter\'s example'],
        )
        self.assertEqual(
            self.problems("Run it: `just run hello`\n## Exercises\n1. no answer\n", "docs/03-cpu.md"),
            ['docs/03-cpu.md: no "## Exercises" with hidden answers (<details>)'],
        )
        # Other pages (the introduction, design notes, the other edition) need neither.
        self.assertEqual(self.problems("# Notes\n", "docs/notes-x.md"), [])
        self.assertEqual(self.problems("# Capítulo\n", "docs/es/03-cpu.md"), [])

    def test_anchors_follow_githubs_rule(self):
        self.assertEqual(bookcheck.anchor_of("5. The switch — `src/arch/aarch64/switch.s`, `context.rs`"),
                         "5-the-switch--srcarchaarch64switchs-contextrs")
        self.assertEqual(bookcheck.anchor_of("Aislamiento frente a fallas: ¿qué pasa?"), "aislamiento-frente-a-fallas-qué-pasa")
        self.assertEqual(bookcheck.anchors_in("# A\n## A\n"), {"a", "a-1"})


if __name__ == "__main__":
    unittest.main()
