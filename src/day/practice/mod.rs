//! The practice log: every session recorded as it happens, in a SQLite
//! file in backease's data folder (`~/.local/share/backease/log.sqlite`).
//!
//! A session is a row written when it starts (routine, start, and the
//! length of the holds it plays: the longest when they differ, 0 when it
//! plays none — logs from before kept the routine's hold there); each
//! point and side is a row written the moment it is done (its hold ran out)
//! or cut short (skipped, stopped, the session ended inside it); the end
//! time is written at the end; a tenderness answer after it. Each is its own
//! committed transaction, so a session killed outright keeps what was done.
//! The writes happen on a thread of their own ([`Recorder`]): the player
//! and the display never wait for the disk. The file is in WAL mode with a
//! busy timeout, so two sessions at once both record. A file that cannot be
//! opened or written (locked too long, damaged, not a database, not a file
//! at all, stamped by a newer backease) gives one warning, and the session
//! plays unrecorded — the log never stops a session.
//!
//! Reading (`backease log`, [`today`]) opens the log read-only, and takes
//! each value as SQLite holds it: what backease never writes there (a log
//! edited by hand) is unknown, a row with nothing to show is counted and
//! left out, and one odd row never makes the whole log unreadable.
//!
//! It also answers "where do I stand today" ([`today`]): per point, the
//! sessions since the day began (`day_starts`, local time) against the
//! daily goal, and the point to do next. It does not decide what plays.
//!
//! The files: `store` (the SQLite file: opening, the schema and its
//! version, reading), `recorder` (the thread that writes a session's rows),
//! `tracker` (which side is done or cut short, from the player's events),
//! `daily` (where the person stands today) and `words` (what is said after
//! a session, and the `log` and `today` commands). The paths callers use
//! are the ones below.

mod daily;
mod recorder;
mod store;
mod tracker;
mod words;

pub use daily::{DEFAULT_DAY_STARTS, DEFAULT_GOAL, PointDay, Today, day_bounds, today, today_at};
pub use recorder::{FINISH_WAIT, Recorder};
pub use store::{BUSY_TIMEOUT, LOG_VERSION, Logged, LoggedSide, Recent, Tender, default_path, open, recent};
pub use tracker::{Tracker, Worked};
pub use words::{ordinal, question, show_log, show_today, standing};
