//! The failures a user sees, each with its exit code and a hint of what to
//! do next.
//!
//! Everything the program reports on the way out is a [`Failure`]; other
//! errors are wrapped into one at the edge, so `main` needs no knowledge of
//! where they came from.

use std::fmt;

/// Exit codes, documented in `--help` and the README.
pub mod code {
    pub const OK: u8 = 0;
    /// A script (or the config file) has errors.
    pub const INVALID: u8 = 1;
    /// The command line is wrong, or names no routine or no output device.
    pub const USAGE: u8 = 2;
    /// A file could not be read or written (missing, no permission, disk full).
    pub const IO: u8 = 3;
    /// No audio output device could be opened, or it went away while
    /// playing (the sound server died, the device was unplugged).
    pub const NO_DEVICE: u8 = 4;
    /// The speech engine is missing or failed.
    pub const SPEECH: u8 = 5;
    /// The terminal hung up (SIGHUP).
    pub const HANGUP: u8 = 129;
    /// Stopped by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
    /// Stopped by SIGQUIT.
    pub const QUIT: u8 = 131;
    /// Stopped by SIGTERM.
    pub const TERMINATED: u8 = 143;
}

/// Shown at the end of `backease --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    a script or the settings file has errors (each at file:line:column)
  2    usage error: bad option, no routine or --device by that name
  3    a file could not be read or written (missing, permissions, disk full)
  4    no audio output device, or it went away while playing
  5    the speech engine is missing or failed
  129  the terminal hung up (SIGHUP)
  130  stopped with Ctrl-C
  131  stopped by SIGQUIT
  143  stopped by SIGTERM";

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into(), hint: None }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(code::INVALID, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(code::USAGE, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(code::IO, message)
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An I/O error as a failure: what was being done (`cannot write x.wav`),
/// then the plain reason — `cannot write x.wav: the disk is full`. The one
/// place an I/O failure's message is put together.
pub fn io_failure(doing: impl fmt::Display, e: &std::io::Error) -> Failure {
    Failure::io(format!("{doing}: {}", io_reason(e)))
}

/// A short, plain reason for an I/O error; a full disk says so in words.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(28) => "the disk is full".into(),
        Some(122) => "the disk quota is exceeded".into(),
        _ => match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or folder".into(),
            std::io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string(),
        },
    }
}
