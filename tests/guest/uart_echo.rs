//! QEMU test: console input is interrupt-driven; read a line and echo it.
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("type a line:");
    let mut buf = [0u8; 64];
    let n = ilusion::console::read_line(&mut buf);
    let line = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
    ilusion::println!("echo: [{line}]");
}
