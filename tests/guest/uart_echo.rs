//! QEMU test: console input is interrupt-driven; read two lines and echo
//! them. The harness types `\r\n` after the first (one line end, not an
//! empty second line) and erases in the second with DEL.
#![no_std]
#![no_main]

ilusion::entry!(main);

fn main() {
    ilusion::println!("type a line:");
    for _ in 0..2 {
        let mut buf = [0u8; 64];
        let n = ilusion::console::read_line(&mut buf);
        let line = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
        ilusion::println!("echo: [{line}]");
    }
}
