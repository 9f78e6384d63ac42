//! The practice log: every session recorded as it happens, in a SQLite
//! file in backease's data folder (`~/.local/share/backease/log.sqlite`).
//!
//! A session is a row written when it starts (routine, start, hold); each
//! point and side is a row written the moment it is done (its hold ran out)
//! or cut short (skipped, stopped, the session ended inside it); the end
//! time is written at the end; a tenderness answer after it. Each is its own
//! committed transaction, so a session killed outright keeps what was done.
//! The writes happen on a thread of their own ([`Recorder`]): the player
//! and the display never wait for the disk. The file is in WAL mode with a
//! busy timeout, so two sessions at once both record. A file that cannot be
//! opened or written (locked too long, damaged, not a database) gives one
//! warning, and the session plays unrecorded — the log never stops a session.
//!
//! It also answers "where do I stand today" ([`today`]): per point, the
//! sessions since the day began (`day_starts`, local time) against the
//! daily goal, and the point to do next. It does not decide what plays.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Local, NaiveDate, TimeZone};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::config::Settings;
use crate::error::Failure;
use crate::script::Side;
use crate::timeline::{Event, Sound};

/// The three trigger points of the built-in routines: the id (the name of
/// the routine that works it alone) and the name as spoken.
pub const POINTS: [(&str, &str); 3] = [
    ("deep-spinal", "deep spinal"),
    ("gluteus-medius", "gluteus medius"),
    ("quadratus-lumborum", "quadratus lumborum"),
];

/// Sessions a day per point, by default: the low end of the guidance's
/// five to seven.
pub const DEFAULT_GOAL: u32 = 5;
/// The hour a day begins, by default: a session at 1 a.m. still counts for
/// the day before.
pub const DEFAULT_DAY_STARTS: u32 = 4;
/// How long a write waits for another session's write to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// The spoken name of a point id, if it is one of [`POINTS`].
pub fn spoken(point: &str) -> Option<&'static str> {
    POINTS.iter().find(|(id, _)| *id == point).map(|(_, name)| *name)
}

/// Where the log is: `backease/log.sqlite` in the data folder.
pub fn default_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("backease").join("log.sqlite"))
}

/// Where the person stands today: `backease today --json` prints exactly
/// this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Today {
    /// The day, `YYYY-MM-DD` (the date it began on).
    pub day: String,
    pub goal: u32,
    pub points: Vec<PointDay>,
    /// The id of the point with the fewest sessions today; `None` when every
    /// point has met the goal.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointDay {
    pub point: String,
    pub name: String,
    pub sessions: u32,
}

/// Today, from the default log, now. A log that is not there yet is a day
/// with nothing done.
pub fn today(settings: &Settings) -> anyhow::Result<Today> {
    let path = default_path().context("this system has no data folder for the practice log")?;
    today_at(&path, settings, Local::now())
}

/// Today as of `now`, from the log at `path` (for tests: any time zone).
pub fn today_at<Tz: TimeZone>(path: &Path, settings: &Settings, now: DateTime<Tz>) -> anyhow::Result<Today> {
    let (day, from, to) = day_bounds(&now, settings.day_starts.unwrap_or(DEFAULT_DAY_STARTS));
    let goal = settings.daily_goal.unwrap_or(DEFAULT_GOAL);
    let counts = if path.exists() {
        let conn = open_read(path)?;
        sessions_per_point(&conn, from, to)
            .with_context(|| format!("cannot read the practice log {}", path.display()))?
    } else {
        Vec::new()
    };
    let points: Vec<PointDay> = POINTS
        .iter()
        .map(|(id, name)| PointDay {
            point: id.to_string(),
            name: name.to_string(),
            sessions: counts.iter().find(|(p, _)| p == id).map_or(0, |(_, n)| *n),
        })
        .collect();
    // The fewest first; among equals, the order of the routine (the spine first).
    let next = points.iter().filter(|p| p.sessions < goal).min_by_key(|p| p.sessions).map(|p| p.point.clone());
    Ok(Today { day: day.format("%Y-%m-%d").to_string(), goal, points, next })
}

/// The day `now` falls in, when days begin at `starts` o'clock in `now`'s
/// time zone: its date and its first and last (exclusive) Unix seconds.
/// Around a clock change a day is 23 or 25 hours, as it is on the wall.
pub fn day_bounds<Tz: TimeZone>(now: &DateTime<Tz>, starts: u32) -> (NaiveDate, i64, i64) {
    let tz = now.timezone();
    let local = now.naive_local();
    let shifted = local - chrono::Duration::hours(i64::from(starts));
    let day = shifted.date();
    let begin = |date: NaiveDate| -> i64 {
        let at = date.and_hms_opt(starts, 0, 0).expect("an hour from 0 to 23");
        match tz.from_local_datetime(&at) {
            chrono::LocalResult::Single(t) => t.timestamp(),
            chrono::LocalResult::Ambiguous(first, _) => first.timestamp(),
            // The hour was skipped by a clock change: the day begins an
            // hour later, when the clock shows a time again.
            chrono::LocalResult::None => tz
                .from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
                .map_or_else(|| at.and_utc().timestamp(), |t| t.timestamp()),
        }
    };
    let next = day.succ_opt().unwrap_or(day);
    (day, begin(day), begin(next))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    routine TEXT NOT NULL,
    started INTEGER NOT NULL,      -- Unix seconds
    ended INTEGER,                 -- NULL: still playing, or killed
    hold_ms INTEGER NOT NULL,
    stopped INTEGER                -- 1: stopped before the end
);
CREATE TABLE IF NOT EXISTS worked (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    point TEXT NOT NULL,
    side TEXT,                     -- 'left', 'right', or NULL
    round INTEGER NOT NULL,
    done INTEGER NOT NULL,         -- 1: the hold ran out; 0: cut short
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tenderness (
    session INTEGER NOT NULL REFERENCES sessions(id),
    point TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value BETWEEN 0 AND 10),
    PRIMARY KEY (session, point)
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions(started);
CREATE INDEX IF NOT EXISTS worked_session ON worked(session);
";

/// Opens (making it if needed) the log for writing: WAL, a busy timeout,
/// the tables.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reading the mode back is what first touches the file: a file that is
    // not a database fails here, and is left as it was. Turning WAL on takes
    // the file for itself without asking the busy handler, so when another
    // session opens a new log at the same moment, it waits here instead.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let _mode: String = loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            mode => break mode?,
        }
    };
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn open_read(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open the practice log {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Sessions in `[from, to)` with at least one side of the point done, per point.
fn sessions_per_point(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Vec<(String, u32)>> {
    if !has_tables(conn)? {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare(
        "SELECT w.point, COUNT(DISTINCT s.id) FROM sessions s JOIN worked w ON w.session = s.id
         WHERE s.started >= ?1 AND s.started < ?2 AND w.done = 1 GROUP BY w.point",
    )?;
    st.query_map(params![from, to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?.collect()
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'worked'", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// One session as `backease log` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logged {
    pub id: i64,
    pub routine: String,
    /// Local time, `YYYY-MM-DD HH:MM`.
    pub started: String,
    /// Local time; `None` when the session never ended (killed).
    pub ended: Option<String>,
    pub hold_seconds: f64,
    pub stopped: bool,
    pub worked: Vec<LoggedSide>,
    pub tenderness: Vec<Tender>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedSide {
    pub point: String,
    pub side: Option<String>,
    pub round: u32,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tender {
    pub point: String,
    pub value: u8,
}

/// The last `limit` sessions, newest first.
pub fn recent(path: &Path, limit: u32) -> anyhow::Result<Vec<Logged>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = open_read(path)?;
    let read = || -> rusqlite::Result<Vec<Logged>> {
        if !has_tables(&conn)? {
            return Ok(Vec::new());
        }
        let mut st = conn.prepare(
            "SELECT id, routine, started, ended, hold_ms, stopped FROM sessions ORDER BY started DESC, id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, routine, started, ended, hold_ms, stopped) = row?;
            let mut w = conn.prepare("SELECT point, side, round, done FROM worked WHERE session = ?1 ORDER BY id")?;
            let worked = w
                .query_map([id], |r| {
                    Ok(LoggedSide {
                        point: r.get(0)?,
                        side: r.get(1)?,
                        round: r.get(2)?,
                        done: r.get::<_, i64>(3)? == 1,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut t = conn.prepare("SELECT point, value FROM tenderness WHERE session = ?1 ORDER BY rowid")?;
            let tenderness = t
                .query_map([id], |r| Ok(Tender { point: r.get(0)?, value: r.get(1)? }))?
                .collect::<rusqlite::Result<_>>()?;
            out.push(Logged {
                id,
                routine,
                started: local_time(started),
                ended: ended.map(local_time),
                hold_seconds: hold_ms as f64 / 1000.0,
                stopped: stopped == Some(1),
                worked,
                tenderness,
            });
        }
        Ok(out)
    };
    read().with_context(|| format!("cannot read the practice log {}", path.display()))
}

fn local_time(unix: i64) -> String {
    Local.timestamp_opt(unix, 0).single().map_or_else(|| unix.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

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
    thread: Option<std::thread::JoinHandle<()>>,
    warning: Arc<Mutex<Option<String>>>,
}

impl Recorder {
    /// Starts recording a session of `routine` with holds of `hold` into
    /// the log at `path` (the default log when `None`).
    pub fn start(path: Option<PathBuf>, routine: &str, hold: Duration) -> Recorder {
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let warning = Arc::new(Mutex::new(None));
        let warn = warning.clone();
        let routine = routine.to_string();
        let started = now_unix();
        let thread = std::thread::Builder::new()
            .name("backease-log".into())
            .spawn(move || {
                let path = match path.or_else(default_path) {
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
        Recorder { tx: Some(tx), thread: Some(thread), warning }
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

    /// Lets the thread write what is queued, and waits for it.
    pub fn finish(mut self) -> Option<String> {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.warning()
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

fn describe(path: &Path, e: &anyhow::Error) -> String {
    format!("the practice log {} cannot be written ({}); this session is not recorded", path.display(), reason(e))
}

/// SQLite's own words for a failure ("database is locked"), without the
/// error codes rusqlite adds.
fn reason(e: &anyhow::Error) -> String {
    match e.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(_, Some(message))) => message.clone(),
        Some(rusqlite::Error::SqliteFailure(failure, None)) => failure.to_string(),
        _ => format!("{e:#}"),
    }
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    session: i64,
}

impl Writer {
    fn start(path: &Path, routine: &str, started: i64, hold: Duration) -> anyhow::Result<Writer> {
        let conn = open(path)?;
        conn.execute(
            "INSERT INTO sessions (routine, started, hold_ms) VALUES (?1, ?2, ?3)",
            params![routine, started, hold.as_millis() as i64],
        )?;
        let session = conn.last_insert_rowid();
        Ok(Writer { conn, path: path.to_path_buf(), session })
    }

    fn handle(&mut self, msg: Msg) -> anyhow::Result<()> {
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

/// A point and side done or cut short.
#[derive(Debug, Clone, PartialEq)]
pub struct Worked {
    pub point: String,
    pub side: Option<Side>,
    pub round: u32,
    /// The hold ran out (`true`), or the side was cut short.
    pub done: bool,
}

/// Follows a session's steps as they play and says when a point and side
/// is done or cut short. Pure: fed the player's events and the skips.
#[derive(Debug, Default)]
pub struct Tracker {
    unit: Option<Unit>,
    /// The points with a side done, in the order first done.
    pub done_points: Vec<String>,
}

#[derive(Debug)]
struct Unit {
    segment: u32,
    round: u32,
    point: Arc<str>,
    side: Option<Side>,
    /// Where the hold (or the strokes) ends, once it has begun.
    work_end: Option<u64>,
    /// Skipped or gone back since the hold began (or since the side began,
    /// before its hold).
    moved: bool,
    recorded: bool,
}

impl Tracker {
    /// A step began in segment `segment`.
    pub fn step(&mut self, segment: u32, event: &Event) -> Vec<Worked> {
        let mut out = Vec::new();
        if event.overlay {
            return out;
        }
        // The hold ran out: this step starts where it ends, or later.
        if let Some(u) = self.unit.as_mut()
            && !u.recorded
            && u.segment == segment
            && u.work_end.is_some_and(|end| event.start >= end)
        {
            u.recorded = true;
            let w = Worked { point: u.point.to_string(), side: u.side, round: u.round, done: !u.moved };
            out.push(w);
        }
        let same = self.unit.as_ref().is_some_and(|u| {
            u.segment == segment
                && u.round == event.round
                && u.side == event.side
                && event.point.as_deref() == Some(&*u.point)
        });
        if !same {
            out.extend(self.close(false));
            if let Some(point) = &event.point {
                self.unit = Some(Unit {
                    segment,
                    round: event.round,
                    point: point.clone(),
                    side: event.side,
                    work_end: None,
                    moved: false,
                    recorded: false,
                });
            }
        }
        if let Some(u) = self.unit.as_mut()
            && matches!(event.sound, Sound::Hold | Sound::Strokes(_))
        {
            u.work_end = Some(event.end());
            u.moved = false;
        }
        for w in &out {
            if w.done && !self.done_points.contains(&w.point) {
                self.done_points.push(w.point.clone());
            }
        }
        out
    }

    /// The person skipped on or went back.
    pub fn moved(&mut self) {
        if let Some(u) = self.unit.as_mut() {
            u.moved = true;
        }
    }

    /// The session ended: played through, or stopped.
    pub fn finished(&mut self, stopped: bool) -> Vec<Worked> {
        let out = self.close(stopped);
        for w in &out {
            if w.done && !self.done_points.contains(&w.point) {
                self.done_points.push(w.point.clone());
            }
        }
        out
    }

    fn close(&mut self, stopped: bool) -> Vec<Worked> {
        match self.unit.take() {
            Some(u) if !u.recorded => {
                vec![Worked { point: u.point.to_string(), side: u.side, round: u.round, done: !stopped && !u.moved }]
            }
            _ => Vec::new(),
        }
    }
}

/// "third", for saying where a person stands.
pub fn ordinal(n: u32) -> String {
    const WORDS: [&str; 12] = [
        "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
        "eleventh",
    ];
    match WORDS.get(n as usize) {
        Some(w) => w.to_string(),
        None => {
            let suffix = match (n % 10, n % 100) {
                (1, r) if r != 11 => "st",
                (2, r) if r != 12 => "nd",
                (3, r) if r != 13 => "rd",
                _ => "th",
            };
            format!("{n}{suffix}")
        }
    }
}

/// What the end of a session says: "That was your third deep spinal
/// session today." — for each point worked, in the order worked.
pub fn standing(today: &Today, worked: &[String]) -> Option<String> {
    let parts: Vec<String> = worked
        .iter()
        .filter_map(|p| today.points.iter().find(|d| &d.point == p))
        .map(|d| format!("your {} {} session", ordinal(d.sessions), d.name))
        .collect();
    let mut text = match parts.as_slice() {
        [] => return None,
        [one] => format!("That was {one} today."),
        [init @ .., last] => format!("That was {} and {last} today.", init.join(", ")),
    };
    let met = today.points.iter().filter(|d| worked.contains(&d.point)).all(|d| d.sessions >= today.goal);
    if met {
        text += &format!(" That meets today's goal of {}.", today.goal);
    }
    Some(text)
}

/// The after-session question, naming the point when the session worked
/// more than one.
pub fn question(point: &str, several: bool) -> String {
    match (several, spoken(point)) {
        (true, Some(name)) => format!("How tender was the {name}, from zero to ten?"),
        _ => "How tender was it, from zero to ten?".to_string(),
    }
}

/// `backease log`: the last sessions, newest first.
pub fn show_log(last: u32, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let _ = err;
    let path = default_path().ok_or_else(|| Failure::io("this system has no data folder for the practice log"))?;
    let sessions = recent(&path, last).map_err(|e| unreadable(&path, &e))?;
    let text = if json {
        serde_json::to_string_pretty(&sessions).expect("sessions serialize") + "\n"
    } else if sessions.is_empty() {
        format!("No sessions recorded yet in {}.\nEvery `backease play` is recorded as it happens.\n", path.display())
    } else {
        sessions.iter().map(log_text).collect()
    };
    write(out, &text)
}

fn log_text(s: &Logged) -> String {
    let until = match &s.ended {
        Some(end) => format!("–{}", end.get(11..).unwrap_or(end)),
        None => " (never ended)".into(),
    };
    let stopped = if s.stopped { "  stopped" } else { "" };
    // The file is the user's: a hold edited to -1 is shown as 0, not a crash.
    let hold = crate::duration::short(Duration::try_from_secs_f64(s.hold_seconds).unwrap_or_default());
    let mut text = format!("{}{until}  {}  hold {hold}{stopped}\n", s.started, s.routine);
    let mut points: Vec<&str> = Vec::new();
    for w in &s.worked {
        if !points.contains(&w.point.as_str()) {
            points.push(&w.point);
        }
    }
    for p in points {
        let sides: Vec<String> = s
            .worked
            .iter()
            .filter(|w| w.point == p)
            .map(|w| {
                let what = if w.done { "done" } else { "cut short" };
                match &w.side {
                    Some(side) => format!("{side} {what}"),
                    None => what.to_string(),
                }
            })
            .collect();
        let tender = s
            .tenderness
            .iter()
            .find(|t| t.point == p)
            .map_or_else(String::new, |t| format!(" · tender {}/10", t.value));
        text += &format!("    {}: {}{tender}\n", spoken(p).unwrap_or(p), sides.join(", "));
    }
    if s.worked.is_empty() {
        text += "    nothing done\n";
    }
    text
}

/// `backease today`: each point's sessions today against the goal.
pub fn show_today(json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let settings = crate::config::load(err)?.settings;
    let path = default_path().ok_or_else(|| Failure::io("this system has no data folder for the practice log"))?;
    let t = today_at(&path, &settings, Local::now()).map_err(|e| unreadable(&path, &e))?;
    let text = if json {
        serde_json::to_string_pretty(&t).expect("today serializes") + "\n"
    } else {
        today_text(&t, &settings)
    };
    write(out, &text)
}

fn today_text(t: &Today, settings: &Settings) -> String {
    let starts = settings.day_starts.unwrap_or(DEFAULT_DAY_STARTS);
    let mut text = format!("Today ({}, from {starts:02}:00): {} sessions a point is the goal\n", t.day, t.goal);
    for p in &t.points {
        let met = if p.sessions >= t.goal { "  goal met" } else { "" };
        text += &format!("  {:<20} {} of {}{met}\n", p.name, p.sessions, t.goal);
    }
    text += &match &t.next {
        Some(id) => format!("Next: {} (backease play {id})\n", spoken(id).unwrap_or(id)),
        None => "Every point has met today's goal: rest these muscles now, over-working them undoes the good.\n".into(),
    };
    text
}

fn unreadable(path: &Path, e: &anyhow::Error) -> Failure {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked, PermissionDenied, ReadOnly};
    let code = match e.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(failure, _)) => Some(failure.code),
        _ => None,
    };
    let hint = match code {
        Some(DatabaseBusy | DatabaseLocked) => format!(
            "another program has held it for over {} s (a sqlite3 shell, a backup or sync tool?): \
             try again once it lets go",
            BUSY_TIMEOUT.as_secs()
        ),
        Some(CannotOpen | PermissionDenied | ReadOnly) => {
            "check that you may read the file and write in its folder (ls -l)".to_string()
        }
        _ => "if the file is damaged, move it away: a new log is started at the next session".to_string(),
    };
    Failure::io(format!("cannot read the practice log {}: {}", path.display(), reason(e))).hint(hint)
}

fn write(out: &mut dyn Write, text: &str) -> Result<u8, Failure> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(crate::error::code::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(crate::error::code::OK),
        Err(e) => Err(Failure::io(format!("cannot write output: {}", crate::error::io_reason(&e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    #[test]
    fn a_day_runs_from_its_start_hour_to_the_next() {
        // 03:59 local is still yesterday when days start at 4.
        let (day, from, to) = day_bounds(&at("2026-11-24T03:59:00+01:00"), 4);
        assert_eq!(day.to_string(), "2026-11-23");
        assert_eq!(from, at("2026-11-23T04:00:00+01:00").timestamp());
        assert_eq!(to, at("2026-11-24T04:00:00+01:00").timestamp());
        let (day, from, _) = day_bounds(&at("2026-11-24T04:00:00+01:00"), 4);
        assert_eq!(day.to_string(), "2026-11-24");
        assert_eq!(from, at("2026-11-24T04:00:00+01:00").timestamp());
        let (day, ..) = day_bounds(&at("2026-11-24T23:30:00-05:00"), 0);
        assert_eq!(day.to_string(), "2026-11-24");
    }

    /// A log edited by hand still lists: what cannot be a hold is shown as none.
    #[test]
    fn a_log_with_a_hold_no_session_has_still_lists() {
        let logged = |hold_seconds| Logged {
            id: 1,
            routine: "deep-spinal".into(),
            started: "2026-12-07 10:00".into(),
            ended: None,
            hold_seconds,
            stopped: false,
            worked: Vec::new(),
            tenderness: Vec::new(),
        };
        for hold in [-1.0, f64::NAN, 1e300] {
            assert!(
                log_text(&logged(hold)).starts_with("2026-12-07 10:00 (never ended)  deep-spinal  hold 0s"),
                "{hold}"
            );
        }
        assert!(log_text(&logged(45.0)).contains("hold 45s"));
    }

    /// A log another program holds is not called damaged: the hint says to
    /// wait for it, not to move the file away.
    #[test]
    fn a_log_held_by_another_program_says_so_not_that_it_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sqlite");
        drop(open(&path).unwrap());
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;
                 INSERT INTO sessions (routine, started, hold_ms) VALUES ('x', 0, 1);",
            )
            .unwrap();
        let failure = recent(&path, 5).map_err(|e| unreadable(&path, &e)).unwrap_err();
        assert!(failure.message.ends_with("log.sqlite: database is locked"), "{}", failure.message);
        let hint = failure.hint.unwrap_or_default();
        assert!(hint.starts_with("another program has held it for over 3 s"), "{hint}");
        holder.execute_batch("COMMIT").unwrap();
    }

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
            let conn = open_read(&path).unwrap();
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM worked", [], |r| r.get(0)).unwrap();
            assert_eq!(n, 8, "round {round}");
        }
    }

    fn session(conn: &Connection, started: i64, points: &[(&str, bool)]) {
        conn.execute("INSERT INTO sessions (routine, started, hold_ms) VALUES ('x', ?1, 30000)", [started]).unwrap();
        let id = conn.last_insert_rowid();
        for (p, done) in points {
            conn.execute(
                "INSERT INTO worked (session, point, side, round, done, at) VALUES (?1, ?2, 'left', 1, ?3, ?4)",
                params![id, p, *done as i64, started],
            )
            .unwrap();
        }
    }

    #[test]
    fn today_counts_sessions_since_the_day_began() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sqlite");
        let conn = open(&path).unwrap();
        let now = at("2026-11-24T10:00:00+00:00");
        // Before 04:00: yesterday's.
        session(&conn, at("2026-11-24T03:59:59+00:00").timestamp(), &[("deep-spinal", true)]);
        session(&conn, at("2026-11-24T04:00:00+00:00").timestamp(), &[("deep-spinal", true)]);
        // Two sides in one session count once; a side cut short does not count.
        session(&conn, at("2026-11-24T08:00:00+00:00").timestamp(), &[("deep-spinal", true), ("deep-spinal", true)]);
        session(&conn, at("2026-11-24T09:00:00+00:00").timestamp(), &[("gluteus-medius", false)]);
        let settings = Settings { daily_goal: Some(2), ..Settings::default() };
        let t = today_at(&path, &settings, now).unwrap();
        assert_eq!(t.day, "2026-11-24");
        assert_eq!(t.goal, 2);
        let counts: Vec<u32> = t.points.iter().map(|p| p.sessions).collect();
        assert_eq!(counts, [2, 0, 0]);
        assert_eq!(t.next.as_deref(), Some("gluteus-medius"));
        // Days starting at midnight take the 03:59 session in.
        let settings = Settings { daily_goal: Some(3), day_starts: Some(0), ..Settings::default() };
        let t = today_at(&path, &settings, now).unwrap();
        assert_eq!(t.points[0].sessions, 3);
        // Every point at the goal: nothing next.
        session(&conn, now.timestamp() - 60, &[("gluteus-medius", true), ("quadratus-lumborum", true)]);
        let settings = Settings { daily_goal: Some(1), ..Settings::default() };
        assert_eq!(today_at(&path, &settings, now).unwrap().next, None);
    }

    fn builtin(name: &str) -> crate::script::Script {
        let (_, source) = crate::library::BUILTINS.iter().find(|(n, _)| *n == name).unwrap();
        crate::library::load_builtin(name, source).script.unwrap()
    }

    fn timeline(script: &crate::script::Script) -> crate::timeline::Timeline {
        crate::timeline::compile(script, &crate::timeline::Options::default(), &crate::timeline::Estimate::default())
    }

    #[test]
    fn events_carry_their_point() {
        // full-back names a point for each Sides; the single-point routines
        // work their own (their name); outside Sides, no point.
        let t = timeline(&builtin("full-back"));
        let mut seen: Vec<(Option<&str>, Option<Side>)> = Vec::new();
        for e in &t.events {
            let key = (e.point.as_deref(), e.side);
            if seen.last() != Some(&key) {
                seen.push(key);
            }
        }
        let (l, r) = (Some(Side::Left), Some(Side::Right));
        let expect = [
            (None, None),
            (Some("deep-spinal"), l),
            (Some("deep-spinal"), r),
            (None, None),
            (Some("gluteus-medius"), l),
            (Some("gluteus-medius"), r),
            (None, None),
            (Some("quadratus-lumborum"), l),
            (Some("quadratus-lumborum"), r),
            (None, None),
        ];
        assert_eq!(seen, expect);
        for (id, _) in POINTS {
            let t = timeline(&builtin(id));
            assert!(t.events.iter().filter(|e| e.side.is_some()).all(|e| e.point.as_deref() == Some(id)), "{id}");
        }
    }

    /// The records a session of `routine` makes when its steps play in
    /// order, with `skip` pressed at the steps whose indexes are given.
    fn track(routine: &str, skips: &[usize], stopped_at: Option<usize>) -> Vec<(String, Option<Side>, bool)> {
        let t = timeline(&builtin(routine));
        let mut tracker = Tracker::default();
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.events.len() {
            if stopped_at == Some(i) {
                out.extend(tracker.finished(true));
                return out.into_iter().map(|w| (w.point, w.side, w.done)).collect();
            }
            out.extend(tracker.step(1, &t.events[i]));
            if skips.contains(&i) {
                tracker.moved();
                // A skip goes on to the next step that moves time on.
                i += 1;
                while i < t.events.len() && t.events[i].overlay {
                    i += 1;
                }
                continue;
            }
            i += 1;
        }
        out.extend(tracker.finished(false));
        out.into_iter().map(|w| (w.point, w.side, w.done)).collect()
    }

    #[test]
    fn the_tracker_records_sides_done_and_cut_short() {
        let (l, r) = (Some(Side::Left), Some(Side::Right));
        let ds = |side, done| ("deep-spinal".to_string(), side, done);
        assert_eq!(track("deep-spinal", &[], None), [ds(l, true), ds(r, true)]);
        let t = timeline(&builtin("deep-spinal"));
        let holds: Vec<usize> = (0..t.events.len()).filter(|&i| t.events[i].sound == Sound::Hold).collect();
        // n during the left hold: the left side was cut short.
        assert_eq!(track("deep-spinal", &[holds[0]], None), [ds(l, false), ds(r, true)]);
        // Stopped during the right hold: done, then cut.
        assert_eq!(track("deep-spinal", &[], Some(holds[1] + 1)), [ds(l, true), ds(r, false)]);
        // A skip before the hold (a cue passed over) does not cut the side.
        let first_left = t.events.iter().position(|e| e.side == l).unwrap();
        assert_eq!(track("deep-spinal", &[first_left], None), [ds(l, true), ds(r, true)]);
        // Strokes count like holds.
        let g = track("gluteus-medius", &[], None);
        assert_eq!(g.iter().filter(|(p, _, done)| p == "gluteus-medius" && *done).count(), 2);
    }

    #[test]
    fn no_log_is_a_day_with_nothing_done() {
        let dir = tempfile::tempdir().unwrap();
        let t = today_at(&dir.path().join("none.sqlite"), &Settings::default(), Local::now()).unwrap();
        assert_eq!(t.goal, DEFAULT_GOAL);
        assert!(t.points.iter().all(|p| p.sessions == 0));
        assert_eq!(t.next.as_deref(), Some("deep-spinal"));
        assert!(!dir.path().join("none.sqlite").exists());
    }

    #[test]
    fn ordinals_and_standing() {
        assert_eq!(ordinal(3), "third");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(22), "22nd");
        let t = Today {
            day: "2026-11-24".into(),
            goal: 5,
            points: POINTS
                .iter()
                .zip([3, 5, 1])
                .map(|((id, name), n)| PointDay { point: id.to_string(), name: name.to_string(), sessions: n })
                .collect(),
            next: Some("quadratus-lumborum".into()),
        };
        assert_eq!(standing(&t, &["deep-spinal".into()]).unwrap(), "That was your third deep spinal session today.");
        assert_eq!(
            standing(&t, &["gluteus-medius".into()]).unwrap(),
            "That was your fifth gluteus medius session today. That meets today's goal of 5."
        );
        assert_eq!(
            standing(&t, &POINTS.map(|(id, _)| id.to_string())).unwrap(),
            "That was your third deep spinal session, your fifth gluteus medius session and your first quadratus lumborum session today."
        );
        assert_eq!(standing(&t, &[]), None);
    }
}
