//! Isolated tasks talking: a producer and a consumer, each in its own
//! address space, joined by a channel; the consumer publishes a summary in
//! a shared region that a third isolated task may only read.
//!
//! Neither task can reach the other's memory: each message is copied by
//! the kernel from the producer's stack into the consumer's, and the region
//! is the only memory they share, mapped on purpose with the access each
//! was given. `just run ipc`
#![no_std]
#![no_main]

use ilusion::ipc::{self, ChannelError, Message};
use ilusion::mm::{Access, SharedRegion};
use ilusion::task::Builder;

ilusion::entry!(main);

/// One message: plain data, no pointers, no padding.
#[derive(Clone, Copy)]
#[repr(C)]
struct Reading {
    sequence: u64,
    celsius_milli: i64,
}

// SAFETY: two integers: no pointers, no padding, every bit pattern valid.
unsafe impl Message for Reading {}

/// Where in the summary the filter says it has mapped it.
const MAPPED: usize = 16;

fn main() {
    let frames_at_start = ilusion::mm::frames_in_use();
    let (tx, rx) = ipc::channel::<Reading>(2);
    // The summary: count (bytes 0-7), mean (8-15), and a flag the filter
    // sets once it has mapped the region (byte 16).
    let summary = SharedRegion::new(17).expect("shared region");

    let mut producer = Builder::new().name("sensor");
    let tx = producer.grant(tx);
    let producer = producer
        .spawn_isolated(move || {
            for sequence in 1..=5 {
                let reading = Reading { sequence, celsius_milli: 20_000 + 250 * sequence as i64 };
                tx.send(reading).ok();
            }
            ilusion::println!("[sensor] 5 readings sent; done");
        })
        .expect("spawn sensor");

    let mut consumer = Builder::new().name("filter");
    let rx = consumer.grant(rx);
    let out = consumer.share(&summary, Access::ReadWrite);
    let consumer = consumer
        .spawn_isolated(move || {
            // Map the summary now (the `map_shared` call), so it shows in the dump below.
            out.map().expect("map the summary region");
            let _ = out.write(MAPPED, &[1]); // tell main
            let (mut count, mut total) = (0i64, 0i64);
            loop {
                match rx.recv() {
                    Ok(r) => {
                        ilusion::println!("[filter] reading #{}: {} m°C", r.sequence, r.celsius_milli);
                        count += 1;
                        total += r.celsius_milli;
                    }
                    Err(ChannelError::Disconnected) => break, // the sensor is gone
                    Err(e) => ilusion::println!("[filter] {e:?}"),
                }
            }
            let _ = out.write(0, &count.to_le_bytes());
            let _ = out.write(8, &(total / count.max(1)).to_le_bytes());
        })
        .expect("spawn filter");
    // Wait for the filter to map the summary (it then sets byte 16), on
    // whichever core it runs, so that the dump below shows the mapping.
    let mut mapped = [0u8];
    while summary.read(MAPPED, &mut mapped).is_ok() && mapped[0] == 0 {
        ilusion::time::sleep(core::time::Duration::from_micros(100));
    }
    ilusion::mm::dump(&consumer);
    ilusion::println!("sensor joined: {:?}", producer.join());
    ilusion::println!("filter joined: {:?}", consumer.join());

    let mut reporter = Builder::new().name("display");
    let view = reporter.share(&summary, Access::ReadOnly);
    let reporter = reporter
        .spawn_isolated(move || {
            let (mut count, mut mean) = ([0u8; 8], [0u8; 8]);
            let _ = view.read(0, &mut count);
            let _ = view.read(8, &mut mean);
            let (count, mean) = (i64::from_le_bytes(count), i64::from_le_bytes(mean));
            ilusion::println!("[display] {count} readings, mean {mean} m°C (read-only view)");
        })
        .expect("spawn display");
    ilusion::println!("display joined: {:?}", reporter.join());
    drop(summary);
    ilusion::println!("frames back to start: {}", ilusion::mm::frames_in_use() == frames_at_start);
}
