//! The `Recorder`: a session's rows written into the log as it plays, on a
//! thread of its own, so the player and the display never wait for the
//! disk. A log that cannot be opened or written gives one warning and the
//! session plays unrecorded; the end of a session waits for the thread at
//! most [`FINISH_WAIT`]. What is done or cut short is the tracker's to say,
//! not this file's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Local;
use rusqlite::{Connection, params};

use super::daily::{Today, today_at};
use super::store::{LogError, default_path, open, reason};
use super::tracker::Worked;
use crate::config::Settings;
use crate::script::Side;

/// What the recorder thread is asked to do.
enum Msg {
    Worked(Worked),
    Tender {
        point: String,
        value: u8,
    },
    End {
        stopped: bool,
    },
    /// Sessions today per point, once what came before is written.
    Today(Settings, crossbeam_channel::Sender<Option<Today>>),
}

/// Writes one session into the log, on a thread of its own. Dropping it (or
/// [`Recorder::finish`]) lets the thread write what is queued and end.
pub struct Recorder {
    tx: Option<crossbeam_channel::Sender<Msg>>,
    thread: Option<crate::threads::Bounded>,
    warning: Arc<Mutex<Option<String>>>,
    /// The log, for saying it did not answer.
    path: Option<PathBuf>,
}

/// How long the end of a session waits for the log thread to write what
/// is queued: a log held by another program must not hold the process.
pub const FINISH_WAIT: Duration = Duration::from_secs(1);

impl Recorder {
    /// Starts recording a session of `routine` whose holds are `hold` long
    /// (the longest, when they differ; zero for a session without a hold)
    /// into the log at `path` (the default log when `None`).
    pub fn start(path: Option<PathBuf>, routine: &str, hold: Duration) -> Recorder {
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let warning = Arc::new(Mutex::new(None));
        let warn = warning.clone();
        let routine = routine.to_string();
        let started = now_unix();
        let path = path.or_else(default_path);
        let log = path.clone();
        let thread = crate::threads::Bounded::spawn("backease-log", move || {
            let path = match log {
                Some(p) => p,
                None => {
                    *warn.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some("this system has no data folder for the practice log".into());
                    return rx.iter().for_each(answer_none);
                }
            };
            let mut writer = match Writer::start(&path, &routine, started, hold) {
                Ok(w) => Some(w),
                Err(e) => {
                    *warn.lock().unwrap_or_else(|p| p.into_inner()) = Some(describe(&path, &e));
                    None
                }
            };
            for msg in rx {
                let Some(w) = writer.as_mut() else {
                    answer_none(msg);
                    continue;
                };
                if let Err(e) = w.handle(msg) {
                    *warn.lock().unwrap_or_else(|p| p.into_inner()) = Some(describe(&path, &e));
                    writer = None;
                }
            }
        })
        .expect("spawn the log thread");
        Recorder { tx: Some(tx), thread: Some(thread), warning, path }
    }

    /// A recorder that writes nothing (`play --no-log`): no thread, no
    /// file opened, no warning; [`Recorder::today`] knows nothing.
    pub fn off() -> Recorder {
        Recorder { tx: None, thread: None, warning: Arc::new(Mutex::new(None)), path: None }
    }

    pub fn worked(&self, w: Worked) {
        self.send(Msg::Worked(w));
    }

    pub fn tender(&self, point: &str, value: u8) {
        self.send(Msg::Tender { point: point.to_string(), value });
    }

    pub fn end(&self, stopped: bool) {
        self.send(Msg::End { stopped });
    }

    /// Where the person stands now, this session included; `None` if the
    /// log could not be written or read in `within`.
    pub fn today(&self, settings: &Settings, within: Duration) -> Option<Today> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Msg::Today(settings.clone(), tx));
        rx.recv_timeout(within).ok().flatten()
    }

    /// The warning, once something could not be written (at most one).
    pub fn warning(&self) -> Option<String> {
        self.warning.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Lets the thread write what is queued, and waits for it up to
    /// [`FINISH_WAIT`]; a thread still waiting on the log then is left
    /// behind (SQLite keeps the log whole however the process ends), and
    /// the warning says so.
    pub fn finish(mut self) -> Option<String> {
        self.tx = None;
        let finished = self.thread.take().is_none_or(|t| t.join_within(FINISH_WAIT));
        match (self.warning(), finished, &self.path) {
            (Some(w), _, _) => Some(w),
            (None, false, Some(path)) => Some(format!(
                "the practice log {} did not answer within {} s (another program holds it?); \
                 this session may not be recorded in full",
                path.display(),
                FINISH_WAIT.as_secs()
            )),
            (None, _, _) => None,
        }
    }

    fn send(&self, msg: Msg) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(msg);
        }
    }
}

fn answer_none(msg: Msg) {
    if let Msg::Today(_, reply) = msg {
        let _ = reply.send(None);
    }
}

fn describe(path: &Path, e: &LogError) -> String {
    format!("the practice log {} cannot be written ({}); this session is not recorded", path.display(), reason(e))
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    session: i64,
}

impl Writer {
    fn start(path: &Path, routine: &str, started: i64, hold: Duration) -> Result<Writer, LogError> {
        let conn = open(path)?;
        conn.execute(
            "INSERT INTO sessions (routine, started, hold_ms) VALUES (?1, ?2, ?3)",
            params![routine, started, hold.as_millis() as i64],
        )?;
        let session = conn.last_insert_rowid();
        Ok(Writer { conn, path: path.to_path_buf(), session })
    }

    fn handle(&mut self, msg: Msg) -> Result<(), LogError> {
        match msg {
            Msg::Worked(w) => {
                self.conn.execute(
                    "INSERT INTO worked (session, point, side, round, done, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![self.session, w.point, w.side.map(side_name), w.round, w.done as i64, now_unix()],
                )?;
            }
            Msg::Tender { point, value } => {
                self.conn.execute(
                    "INSERT OR REPLACE INTO tenderness (session, point, value) VALUES (?1, ?2, ?3)",
                    params![self.session, point, value],
                )?;
            }
            Msg::End { stopped } => {
                self.conn.execute(
                    "UPDATE sessions SET ended = ?1, stopped = ?2 WHERE id = ?3",
                    params![now_unix(), stopped as i64, self.session],
                )?;
            }
            Msg::Today(settings, reply) => {
                let _ = reply.send(today_at(&self.path, &settings, Local::now()).ok());
            }
        }
        Ok(())
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Left => "left",
        Side::Right => "right",
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day::practice::store::open_read;

    /// Sessions that start together on a log nobody has made yet all
    /// record: making the file, turning on WAL and the tables race.
    #[test]
    fn sessions_starting_together_on_a_new_log_all_record() {
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log.sqlite");
            let together = Arc::new(std::sync::Barrier::new(4));
            let starts: Vec<_> = (0..4)
                .map(|_| {
                    let (path, together) = (path.clone(), together.clone());
                    std::thread::spawn(move || {
                        together.wait();
                        let mut w = Writer::start(&path, "x", 0, Duration::from_secs(30)).map_err(|e| reason(&e))?;
                        for side in [Side::Left, Side::Right] {
                            let done = Worked { point: "deep-spinal".into(), side: Some(side), round: 1, done: true };
                            w.handle(Msg::Worked(done)).map_err(|e| reason(&e))?;
                        }
                        w.handle(Msg::End { stopped: false }).map_err(|e| reason(&e))
                    })
                })
                .collect();
            for s in starts {
                assert_eq!(s.join().unwrap(), Ok(()), "round {round}");
            }
            let (conn, _) = open_read(&path).unwrap().unwrap();
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM worked", [], |r| r.get(0)).unwrap();
            assert_eq!(n, 8, "round {round}");
        }
    }
}
