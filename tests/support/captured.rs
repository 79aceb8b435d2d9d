//! The output of a child process (QEMU, `boards/run`, a tool), gathered from
//! its stdout and stderr as it comes, so a test can read what was printed
//! even when it has to kill the child at its timeout.

use std::io::Read;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What `child` prints on stdout and stderr (both piped), interleaved.
pub struct Captured {
    text: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Captured {
    /// Starts reading both pipes of `child`.
    pub fn start(child: &mut Child) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        let readers = pipes
            .into_iter()
            .map(|mut pipe| {
                let text = text.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = pipe.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                })
            })
            .collect();
        Self { text, readers }
    }

    /// Everything printed so far.
    #[allow(dead_code)] // each test crate includes this file; not all wait for a prompt
    pub fn so_far(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything printed, once the child has ended (both pipes closed).
    pub fn finish(self) -> String {
        for r in self.readers {
            let _ = r.join();
        }
        let text = self.text.lock().unwrap().clone();
        text
    }
}
