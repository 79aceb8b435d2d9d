//! Killers for the stress tests of several cores (`smp_*`): one kernel
//! task pinned to each core, more urgent than the tasks under test, that
//! naps a random while, then kills a task it picks, until it is stopped;
//! and the kernel's memory in use, to compare between rounds.

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};
use ilusion::task::{self, Builder, JoinHandle, Priority};
use ilusion::time::{self, Duration};

/// The killers of one round (see the module documentation).
pub struct Killers {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<usize>>,
}

impl Killers {
    /// A killer on each of `cores` cores, its random stream started from
    /// `seed` and its core: it naps `nap_micros` (a random number of
    /// microseconds in that range), then kills the task `pick` names, if it
    /// names one (`pick` gets the random stream).
    pub fn spawn(cores: usize, seed: u64, nap_micros: Range<u64>, pick: fn(&mut u64) -> Option<u64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..cores)
            .map(|c| {
                let (stop, naps) = (stop.clone(), nap_micros.clone());
                Builder::new()
                    .name("killer")
                    .cpu(c)
                    .priority(Priority::Preemptive(16))
                    .spawn(move || {
                        let mut seed = seed ^ c as u64;
                        let mut kills = 0;
                        while !stop.load(Ordering::SeqCst) {
                            time::sleep(Duration::from_micros(
                                naps.start + super::rng(&mut seed) % (naps.end - naps.start),
                            ));
                            if pick(&mut seed).is_some_and(|id| task::kill(id).is_ok()) {
                                kills += 1;
                            }
                        }
                        kills
                    })
                    .expect("spawn a killer")
            })
            .collect();
        Self { stop, handles }
    }

    /// Stops the killers and waits for them; returns the kills the kernel accepted.
    pub fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.handles.into_iter().map(|k| k.join().expect("a killer failed")).sum()
    }
}

/// Frames in use, and the kernel heap's bytes requested and allocated,
/// less the frames the cores' pools keep (those come and go with the
/// schedule): equal between rounds when nothing leaked.
pub fn memory_in_use() -> (usize, usize, usize) {
    let pooled = ilusion::mm::pooled_frames() * ilusion::mm::PAGE_SIZE as usize;
    let heap = ilusion::mm::heap::stats();
    (ilusion::mm::frames_in_use(), heap.requested - pooled, heap.allocated - pooled)
}
