//! Threads that touch the outside world (the sound device, the terminal,
//! the practice log's database, a D-Bus peer), waited for with a bound: a
//! thread that has not ended in time is left behind, and the process goes
//! on, and exits, without it.
//!
//! It never stops a thread, only the waiting for it; a thread left behind
//! ends with the process. Whoever waits says so when it gives up.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

/// A thread, and a channel that closes when it ends, however it ends (a
/// panic included): the sender goes with the thread's closure.
pub struct Bounded {
    thread: JoinHandle<()>,
    done: Receiver<()>,
}

impl Bounded {
    /// Starts `work` on a thread named `name`.
    pub fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> std::io::Result<Bounded> {
        let (tx, done) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let _done = tx;
            work();
        })?;
        Ok(Bounded { thread, done })
    }

    /// Waits up to `limit` for the thread to end: `true` if it did (it is
    /// joined), `false` if it is left behind.
    pub fn join_within(self, limit: Duration) -> bool {
        match self.done.recv_timeout(limit) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = self.thread.join();
                true
            }
        }
    }
}

/// Does `work` (a close or a drop that may wait on something outside) on
/// a thread of its own, for up to `limit`: `true` if it was done in time.
pub fn finish_within(name: &str, limit: Duration, work: impl FnOnce() + Send + 'static) -> bool {
    Bounded::spawn(name, work).is_ok_and(|t| t.join_within(limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_thread_is_waited_for_up_to_the_limit_and_no_longer() {
        let quick = Bounded::spawn("quick", || {}).unwrap();
        assert!(quick.join_within(Duration::from_secs(5)));
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let stuck = Bounded::spawn("stuck", move || {
            let _ = held.recv();
        })
        .unwrap();
        let started = Instant::now();
        assert!(!stuck.join_within(Duration::from_millis(100)), "left behind");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        drop(release);
        // A panic ends the thread too.
        let panicked = Bounded::spawn("panics", || panic!("on purpose")).unwrap();
        assert!(panicked.join_within(Duration::from_secs(5)));
        assert!(finish_within("drop", Duration::from_secs(5), || {}));
    }
}
