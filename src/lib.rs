//! backease: voice-guided trigger-point sessions, played from RON scripts.
//!
//! The flow is script text → [`script::syntax`] tree → [`script::Script`] →
//! [`script::timeline::Timeline`] (pure) → sound. `ARCHITECTURE.md` has
//! the map.

// The layers, bottom up. Each folder's `mod.rs` says what it may import;
// nothing imports a layer above its own.
pub mod script;

pub mod config;
pub mod error;
pub mod fsutil;
pub mod library;
pub mod signals;
pub mod threads;
pub mod trace;
pub mod ui;

pub mod audio;
pub mod cli;
pub mod day;
pub mod play;
pub mod session;
pub mod speech;

use std::ffi::OsString;

use clap::Parser;

/// Runs backease with these arguments and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    trace::started();
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
    let (mut out, mut err) = (std::io::stdout(), ui::Labelled::new(std::io::stderr(), ui::colour(ui::Stream::Stderr)));
    match cli::commands::dispatch(cli.command, &mut out, &mut err) {
        Ok(code) => code,
        Err(failure) => {
            use std::io::Write;
            // A failure may quote words from outside (a path, a program's
            // answer, a setting): whatever they hold, the terminal only shows it.
            let message = script::diagnostic::escape_lines(&failure.message);
            if failure.code >= 128 {
                // Stopped by a signal: asked for, not an error.
                let _ = writeln!(err, "backease: {message}");
            } else {
                let _ = writeln!(err, "backease: error: {message}");
            }
            if let Some(hint) = &failure.hint {
                let _ = writeln!(err, "hint: {}", script::diagnostic::escape_lines(hint));
            }
            failure.code
        }
    }
}
