//! QEMU test: `ilusion::power::reboot()` resets the machine. Run with
//! `-no-reboot`, QEMU exits on the reset, so the line shows exactly once;
//! a reboot that only halted would hang until the harness's timeout.
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("rebooting the machine");
    ilusion::power::reboot();
}
