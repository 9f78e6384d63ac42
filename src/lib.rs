//! backease: voice-guided trigger-point sessions, played from RON scripts.
//!
//! The flow is script text → [`syntax`] tree → [`script::Script`] →
//! [`timeline::Timeline`] (pure) → sound. `ARCHITECTURE.md` has the map.

pub mod afterwards;
pub mod ahead;
pub mod chapters;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod duration;
pub mod encode;
pub mod error;
pub mod fsutil;
pub mod library;
pub mod live;
pub mod loudness;
pub mod media_keys;
#[cfg(target_os = "linux")]
pub mod notify;
pub mod output;
#[cfg(target_os = "linux")]
pub mod pause_others;
pub mod player;
pub mod practice;
pub mod remind;
pub mod render;
pub mod resample;
pub mod script;
pub mod session;
pub mod show;
pub mod signals;
pub mod sound;
pub mod speech;
pub mod syntax;
pub mod timeline;
pub mod ui;
pub mod wav;

use std::ffi::OsString;

use clap::Parser;

/// When this process started running backease, for timing figures.
pub fn started() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

/// Whether `BACKEASE_TIMING` asks for timing traces on stderr (read once).
pub fn timing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("BACKEASE_TIMING").is_some())
}

/// Runs backease with these arguments and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    started();
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { error::code::USAGE } else { error::code::OK };
        }
    };
    // Unlocked handles: each write takes the lock for just that write. The
    // audio thread may print (rodio reports stream errors on stderr), and a
    // lock held here for the whole command would stall it.
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match commands::dispatch(cli.command, &mut out, &mut err) {
        Ok(code) => code,
        Err(failure) => {
            use std::io::Write;
            if failure.code >= 128 {
                // Stopped by a signal: asked for, not an error.
                let _ = writeln!(err, "backease: {}", failure.message);
            } else {
                let _ = writeln!(err, "backease: error: {}", failure.message);
            }
            if let Some(hint) = &failure.hint {
                let _ = writeln!(err, "hint: {hint}");
            }
            failure.code
        }
    }
}
