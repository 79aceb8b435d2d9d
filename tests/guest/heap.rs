//! QEMU test: `alloc` collections on the kernel heap; every byte comes back.
#![no_std]
#![no_main]

extern crate alloc;
use alloc::{boxed::Box, collections::BTreeMap, string::String, vec::Vec};
use ilusion::mm::heap;

ilusion::entry!(main);

fn check(ok: bool, what: &str) {
    if !ok {
        ilusion::println!("FAILED: {what}");
        ilusion::exit(1);
    }
}

fn main() {
    let before = heap::stats();
    ilusion::println!("heap: {} MiB total, {} bytes in use", before.total >> 20, before.allocated);
    {
        let b = Box::new(41u64 + 1);
        let v: Vec<u32> = (0..10_000).collect();
        let mut s = String::new();
        for word in ["memory", "is", "an", "illusion"] {
            s.push_str(word);
            s.push(' ');
        }
        let mut m = BTreeMap::new();
        for i in 0..1000u32 {
            m.insert(i, i * i);
        }
        let big: Vec<u8> = alloc::vec![0xa5; 64 << 20];
        check(*b == 42, "Box");
        check(v.iter().map(|&x| x as u64).sum::<u64>() == 49_995_000, "Vec");
        check(s.trim_end() == "memory is an illusion", "String");
        check(m[&999] == 998_001 && m.len() == 1000, "BTreeMap");
        check(big.iter().all(|&b| b == 0xa5), "64 MiB Vec");
        let during = heap::stats();
        ilusion::println!("in use while holding them: {} bytes", during.allocated);
        check(during.allocated >= (64 << 20), "usage grows");
    }
    let after = heap::stats();
    ilusion::println!("in use after dropping them: {} bytes", after.allocated);
    check(after.allocated == before.allocated, "all memory returned");
    ilusion::println!("heap ok");
}
