//! What lies around the sessions of a day: the practice log and what is
//! said after a session, and the reminders (a systemd user timer and a
//! desktop notification) that bring the next one.
//!
//! The rule of this layer: it may import `play/` and everything below it,
//! never `cli/`.

pub mod afterwards;
#[cfg(target_os = "linux")]
pub mod notify;
pub mod practice;
pub mod remind;
