# GDB for an ilusion image halted in QEMU (`just debug`): connects, has the
# image's symbols, and runs to the application's `main`.
#
#   gdb-multiarch -q -x tools/gdb/ilusion.gdb IMAGE.elf     (`just gdb` does this)
#
# Connects to localhost:$ILUSION_GDB_PORT (default 1234) unless already
# connected. Symbols come from IMAGE.elf (the image as built, with debug
# info). Then breaks in `<crate>::main` (the crate named like the image
# file: `hello.elf` -> hello::main, `my-app` -> my_app::main; or
# `ilusion_main`, the `entry!` function that calls it) and continues there.
#
# The kernel starts with the MMU off, at its physical address, while its
# symbols are upper-half virtual addresses: a software breakpoint would be
# written where nothing is mapped yet, so this uses hardware breakpoints
# (`hbreak`). Use `hbreak` for your own breakpoints before `main` too.
set pagination off
set confirm off
set print pretty on
# Read code and constants from the ELF, not through the CPU: an isolated
# task at EL0 may execute the image's code but not read it, and without
# the code GDB cannot unwind its frames.
set trust-readonly-sections on
python
import os
import sys
import gdb

class IlusionConnect(gdb.Command):
    """Connect to localhost:$ILUSION_GDB_PORT (default 1234) unless connected."""

    def __init__(self):
        super().__init__("ilusion-connect", gdb.COMMAND_RUNNING)

    def invoke(self, argument, from_tty):
        if gdb.selected_inferior().pid != 0:
            return
        port = os.environ.get("ILUSION_GDB_PORT", "1234")
        try:
            gdb.execute("target remote localhost:" + port)
        except gdb.error:
            message = "nothing listens on :" + port + "; start `just debug` first"
            # Without a terminal nobody can use the prompt: say why and fail.
            if not sys.stdin.isatty():
                gdb.write("ilusion.gdb: " + message + "\n", gdb.STDERR)
                gdb.execute("quit 1")
            # A GdbError from a command is one line, and ends this script.
            raise gdb.GdbError(message)

IlusionConnect()

def ilusion_break_in_main():
    image = gdb.current_progspace().filename or ""
    crate = os.path.basename(image)
    if crate.endswith(".elf"):
        crate = crate[:-4]
    crate = crate.replace("-", "_")
    for where in (crate + "::main", "ilusion_main"):
        try:
            gdb.execute("hbreak " + where)
            return where
        except gdb.error:
            pass
    raise gdb.GdbError("ilusion.gdb: found neither " + crate + "::main nor ilusion_main in " + image)

end
ilusion-connect
python ilusion_break_in_main()
continue
