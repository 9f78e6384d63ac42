//! The signals that end a session early: Ctrl-C outside raw mode (SIGINT),
//! SIGTERM, SIGHUP (the terminal hung up) and SIGQUIT.
//!
//! Each is caught rather than left to kill the process, so the terminal is
//! restored, a speech program in progress is killed and nothing is left
//! half-written; the process then exits with the shell's code for the
//! signal, 128 + its number. Work that waits on something slow (a speech
//! program) asks [`stopping`] as it waits. This module only records that a
//! stop was asked for; what stopping means is up to the command.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crossbeam_channel::Receiver;

pub use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

/// The first signal received, or 0.
static FIRST: AtomicI32 = AtomicI32::new(0);
/// Set by a signal, or by [`stop`].
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Starts catching the signals (once per process) and returns a channel
/// that receives each as it comes. Without it, they keep their default
/// actions.
pub fn listen() -> Receiver<i32> {
    static CHANNEL: OnceLock<Receiver<i32>> = OnceLock::new();
    CHANNEL
        .get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded();
            // Registering fails only for forbidden signals, which these are not;
            // should it fail, the defaults still end the process.
            if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]) {
                let spawned = std::thread::Builder::new().name("backease-signals".into()).spawn(move || {
                    for sig in signals.forever() {
                        let _ = FIRST.compare_exchange(0, sig, Ordering::AcqRel, Ordering::Acquire);
                        STOPPING.store(true, Ordering::Release);
                        let _ = tx.send(sig);
                    }
                });
                drop(spawned);
            }
            rx
        })
        .clone()
}

/// The first signal received, if any.
pub fn received() -> Option<i32> {
    match FIRST.load(Ordering::Acquire) {
        0 => None,
        sig => Some(sig),
    }
}

/// Asks work in progress to stop, as a signal would, without one: at the
/// end of a session, for the speech of rounds that will never play.
pub fn stop() {
    STOPPING.store(true, Ordering::Release);
}

/// Whether a signal came or [`stop`] was called.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Acquire)
}

/// The shell's exit code for a process ended by `sig`: 130 for SIGINT.
pub fn exit_code(sig: i32) -> u8 {
    (128 + sig).clamp(0, 255) as u8
}

/// The signal in words, for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "Ctrl-C",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_shells() {
        use crate::error::code;
        let table =
            [(SIGHUP, code::HANGUP), (SIGINT, code::INTERRUPTED), (SIGQUIT, code::QUIT), (SIGTERM, code::TERMINATED)];
        for (sig, code) in table {
            assert_eq!(exit_code(sig), code, "{}", name(sig));
        }
    }
}
