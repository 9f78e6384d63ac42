//! Timing traces for the benches and the tests: with `BACKEASE_TIMING`
//! set, the stream, the output and the speech worker say on stderr when
//! they act, in milliseconds since backease started. Nothing else.

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
