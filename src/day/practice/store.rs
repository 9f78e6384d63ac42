//! The SQLite file of the practice log: where it is, opening it (for
//! writing: WAL, a busy timeout, the tables, the version stamp; for
//! reading: read-only, or immutable where no -shm can be made), refusing
//! what is not a regular file at its path, and reading it leniently (each
//! value as SQLite holds it; an odd row counted and left out, never fatal).
//! It does not write a session's rows (the recorder does) nor say anything
//! to the person (the words do).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Local, TimeZone};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::script::diagnostic::escape_controls;

/// How long a write waits for another session's write to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(3);
/// The version of the log's tables this backease writes, stamped in the
/// file (`PRAGMA user_version`) so that a later backease knows what it
/// reads. 0 is a log from before the stamp: the same tables, stamped when
/// next written.
pub const LOG_VERSION: i64 = 1;

/// Where the log is: `backease/log.sqlite` in the data folder.
pub fn default_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("backease").join("log.sqlite"))
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
/// the tables, the version stamped. A log a newer backease stamped is left
/// as it is ([`Newer`]).
pub fn open(path: &Path) -> Result<Connection, LogError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| LogError::Io(format!("cannot create {}", dir.display()), e))?;
    }
    present(path)?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reading the version is what first touches the file: a file that is
    // not a database fails here, and is left as it was, as is a newer log.
    let version = version(&conn)?;
    if version > LOG_VERSION {
        return Err(Newer(version).into());
    }
    turn_on_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)?;
    if version < LOG_VERSION {
        conn.pragma_update(None, "user_version", LOG_VERSION)?;
    }
    Ok(conn)
}

/// Turning WAL on takes the file for itself without asking the busy
/// handler, so when another session opens a new log at the same moment,
/// this waits for it (within [`BUSY_TIMEOUT`]).
fn turn_on_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            mode => return mode.map(drop),
        }
    }
}

/// The log, opened to read only, and its version; `None` when there is no
/// log yet.
pub(super) fn open_read(path: &Path) -> Result<Option<(Connection, i64)>, LogError> {
    if !present(path)? {
        return Ok(None);
    }
    let conn = read_only(path, false)?;
    match version(&conn) {
        Ok(v) => Ok(Some((conn, v))),
        // A reader of a log in WAL mode makes its -shm file when none is
        // there, and cannot where it may not write (a read-only folder).
        // Without a -wal holding rows, the file itself holds every row:
        // it is then read as it is, as a file nobody changes.
        Err(e) if cannot_write(&e) && wal_is_empty(path) => {
            let conn = read_only(path, true)?;
            let v = version(&conn)?;
            Ok(Some((conn, v)))
        }
        Err(e) => Err(e.into()),
    }
}

fn read_only(path: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let conn = if immutable {
        Connection::open_with_flags(immutable_uri(path), OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)?
    } else {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// `path` as an SQLite URI that opens it read-only and immutable.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri += &format!("%{b:02X}");
        }
    }
    uri + "?mode=ro&immutable=1"
}

fn cannot_write(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{CannotOpen, ReadOnly};
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, ReadOnly | CannotOpen))
}

fn wal_is_empty(path: &Path) -> bool {
    std::fs::metadata(beside(path, "-wal")).map_or(true, |m| m.len() == 0)
}

/// The file SQLite keeps beside the log: `log.sqlite-wal`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The version the log is stamped with.
fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Whether the log is there. Anything at its path, or its journals', that
/// is not a regular file is refused before SQLite opens it: SQLite would
/// wait for ever on a named pipe, and take a device for an empty log.
fn present(path: &Path) -> Result<bool, LogError> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let journal = beside(path, suffix);
        if let Err(why) = regular_or_absent(&journal) {
            return Err(NotAFile { journal: Some(journal), why }.into());
        }
    }
    regular_or_absent(path).map_err(|why| NotAFile { journal: None, why }.into())
}

/// `true` for a regular file, `false` for nothing there, an error for what
/// is not a file (the error says what it is).
///
/// A regular file is only looked at, never opened here: this process may
/// have it open in SQLite already (the recorder, asked for today), and
/// closing any descriptor of a file drops every lock the process holds on
/// it (POSIX locks are per process), SQLite's included. What is not a
/// regular file goes through [`crate::fsutil::open_regular`] for its
/// words, which refuses it before opening it, and would not block if it did.
fn regular_or_absent(path: &Path) -> std::io::Result<bool> {
    use std::io::ErrorKind::{InvalidInput, IsADirectory, NotADirectory, NotFound};
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => return Ok(true),
        // A link to nothing: SQLite would make the file it names, wherever
        // that is.
        Err(e) if e.kind() == NotFound => {
            return match std::fs::read_link(path) {
                Ok(target) => Err(std::io::Error::new(
                    InvalidInput,
                    format!("it is a link to {}, which does not exist", escape_controls(&target.display().to_string())),
                )),
                Err(_) => Ok(false),
            };
        }
        _ => {}
    }
    match crate::fsutil::open_regular(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == NotFound => Ok(false),
        Err(e) if matches!(e.kind(), IsADirectory | InvalidInput | NotADirectory) => Err(e),
        // Anything else (no permission to look, say) is SQLite's to report.
        Err(_) => Ok(true),
    }
}

/// Something other than a file is where the log, or one of the files
/// SQLite keeps beside it, belongs.
#[derive(Debug)]
pub struct NotAFile {
    /// The file beside the log, when it is that one; `None`: the log.
    pub(super) journal: Option<PathBuf>,
    why: std::io::Error,
}

impl std::fmt::Display for NotAFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.journal {
            Some(j) => write!(f, "{}: {}", escape_controls(&j.display().to_string()), self.why),
            None => write!(f, "{}", self.why),
        }
    }
}

impl std::error::Error for NotAFile {}

/// A log stamped by a newer backease, whose tables this one may not know:
/// it is never written.
#[derive(Debug)]
pub struct Newer(i64);

impl std::fmt::Display for Newer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it is from a newer backease (log version {}, this one knows {LOG_VERSION}): update backease", self.0)
    }
}

impl std::error::Error for Newer {}

/// Sessions in `[from, to)` with at least one side of the point done, per
/// point. A row edited into something else (a start that is not a time, a
/// point that is not text) is not one of them.
pub(super) fn sessions_per_point(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Vec<(String, u32)>> {
    if !has_tables(conn)? {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare(
        "SELECT w.point, COUNT(DISTINCT s.id) FROM sessions s JOIN worked w ON w.session = s.id
         WHERE typeof(s.started) = 'integer' AND s.started >= ?1 AND s.started < ?2
           AND w.done = 1 AND typeof(w.point) = 'text'
         GROUP BY w.point",
    )?;
    let rows = st.query_map(params![from, to], |r| Ok((text(r.get_ref(0)?), integer(r.get_ref(1)?))))?;
    let mut counts = Vec::new();
    for row in rows {
        if let (Some(point), Some(n)) = row? {
            counts.push((point, u32::try_from(n).unwrap_or(u32::MAX)));
        }
    }
    Ok(counts)
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'worked'", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// One session as `backease log` shows it. A value the log holds that
/// backease never writes there (a log edited by hand) is `None`: unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logged {
    pub id: i64,
    pub routine: Option<String>,
    /// Local time, `YYYY-MM-DD HH:MM`.
    pub started: Option<String>,
    /// Local time; `None` when the session never ended (killed).
    pub ended: Option<String>,
    pub hold_seconds: Option<f64>,
    pub stopped: bool,
    pub worked: Vec<LoggedSide>,
    pub tenderness: Vec<Tender>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedSide {
    pub point: String,
    pub side: Option<String>,
    pub round: Option<u32>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tender {
    pub point: String,
    pub value: Option<u8>,
}

/// What [`recent`] read.
#[derive(Debug, Default)]
pub struct Recent {
    /// Newest first.
    pub sessions: Vec<Logged>,
    /// Rows left out, as nothing could be made of them (a side with no
    /// point).
    pub skipped: u32,
    /// The log's version (0 when there is no log).
    pub version: i64,
}

/// The last `limit` sessions, newest first. Each value is read as whatever
/// SQLite holds, and what backease never writes there is shown as unknown:
/// one row edited by hand never makes the whole log unreadable.
pub fn recent(path: &Path, limit: u32) -> Result<Recent, LogError> {
    let mut found = Recent::default();
    let Some((conn, version)) = open_read(path)? else { return Ok(found) };
    found.version = version;
    if !has_tables(&conn)? {
        return Ok(found);
    }
    let (mut sessions, skipped) = read_rows(
        &conn,
        "SELECT id, routine, started, ended, hold_ms, stopped FROM sessions
         ORDER BY typeof(started) <> 'integer', started DESC, id DESC LIMIT ?1",
        limit.into(),
        |r| {
            let Some(id) = integer(r.get_ref(0)?) else { return Ok(None) };
            Ok(Some(Logged {
                id,
                routine: text(r.get_ref(1)?),
                started: integer(r.get_ref(2)?).and_then(local_time),
                ended: integer(r.get_ref(3)?).and_then(local_time),
                hold_seconds: integer(r.get_ref(4)?).filter(|ms| *ms >= 0).map(|ms| ms as f64 / 1000.0),
                stopped: integer(r.get_ref(5)?) == Some(1),
                worked: Vec::new(),
                tenderness: Vec::new(),
            }))
        },
    )?;
    found.skipped = skipped;
    for s in &mut sessions {
        found.skipped += read_sides(&conn, s)?;
    }
    found.sessions = sessions;
    Ok(found)
}

/// Reads the sides and the tenderness of `s` into it; how many of their
/// rows were left out.
fn read_sides(conn: &Connection, s: &mut Logged) -> rusqlite::Result<u32> {
    let (worked, skipped) =
        read_rows(conn, "SELECT point, side, round, done FROM worked WHERE session = ?1 ORDER BY id", s.id, |r| {
            let Some(point) = text(r.get_ref(0)?) else { return Ok(None) };
            let side = match r.get_ref(1)? {
                ValueRef::Null => None,
                v => Some(text(v).unwrap_or_else(|| "unknown side".into())),
            };
            let round = integer(r.get_ref(2)?).and_then(|n| u32::try_from(n).ok());
            Ok(Some(LoggedSide { point, side, round, done: integer(r.get_ref(3)?) == Some(1) }))
        })?;
    let (tenderness, unread) =
        read_rows(conn, "SELECT point, value FROM tenderness WHERE session = ?1 ORDER BY rowid", s.id, |r| {
            let value = integer(r.get_ref(1)?).filter(|v| (0..=10).contains(v)).map(|v| v as u8);
            Ok(text(r.get_ref(0)?).map(|point| Tender { point, value }))
        })?;
    (s.worked, s.tenderness) = (worked, tenderness);
    Ok(skipped + unread)
}

/// The rows `sql` selects (given one parameter), each made by `read`; a
/// row `read` can make nothing of (`None`) is counted, not fatal.
fn read_rows<T>(
    conn: &Connection,
    sql: &str,
    param: i64,
    read: impl Fn(&rusqlite::Row) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<(Vec<T>, u32)> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query([param])?;
    let (mut out, mut skipped) = (Vec::new(), 0);
    while let Some(row) = rows.next()? {
        match read(row)? {
            Some(v) => out.push(v),
            None => skipped += 1,
        }
    }
    Ok((out, skipped))
}

/// A column's text, if it holds text (bytes that are not UTF-8 shown as �).
fn text(v: ValueRef) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

/// A column's whole number, if it holds one.
fn integer(v: ValueRef) -> Option<i64> {
    match v {
        ValueRef::Integer(n) => Some(n),
        _ => None,
    }
}

fn local_time(unix: i64) -> Option<String> {
    Local.timestamp_opt(unix, 0).single().map(|t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// SQLite's own words for a failure ("database is locked"), without the
/// error codes and the statement rusqlite adds.
pub(super) fn reason(e: &LogError) -> String {
    match e {
        LogError::Sqlite(
            rusqlite::Error::SqliteFailure(_, Some(message)) | rusqlite::Error::SqlInputError { msg: message, .. },
        ) => message.clone(),
        LogError::Sqlite(rusqlite::Error::SqliteFailure(failure, None)) => failure.to_string(),
        _ => e.to_string(),
    }
}

/// Why the log could not be read or written, kept apart so that each has
/// its own words and hint ([`reason`], and `words.rs`).
#[derive(Debug)]
pub enum LogError {
    NotAFile(NotAFile),
    Newer(Newer),
    Sqlite(rusqlite::Error),
    /// What could not be done, and the error that stopped it.
    Io(String, std::io::Error),
    /// The same error, after what it was about (the log's path).
    About(String, Box<LogError>),
    /// Nowhere to keep the log.
    NoDataFolder,
}

impl std::fmt::Display for LogError {
    /// The error and every cause below it, each after a colon.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (head, cause): (String, &dyn std::error::Error) = match self {
            LogError::NotAFile(e) => return write!(f, "{e}"),
            LogError::Newer(e) => return write!(f, "{e}"),
            LogError::About(what, e) => return write!(f, "{what}: {e}"),
            LogError::NoDataFolder => return write!(f, "this system has no data folder for the practice log"),
            LogError::Sqlite(e) => (e.to_string(), e),
            LogError::Io(what, e) => (format!("{what}: {e}"), e),
        };
        write!(f, "{head}")?;
        let mut source = cause.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl From<rusqlite::Error> for LogError {
    fn from(e: rusqlite::Error) -> LogError {
        LogError::Sqlite(e)
    }
}

impl From<NotAFile> for LogError {
    fn from(e: NotAFile) -> LogError {
        LogError::NotAFile(e)
    }
}

impl From<Newer> for LogError {
    fn from(e: Newer) -> LogError {
        LogError::Newer(e)
    }
}
