//! Where the person stands today: per point, the sessions since the day
//! began (`day_starts`, local time) against the daily goal, and the point
//! to do next. It reads the log; it does not write it, word it, or decide
//! what plays.

use std::path::Path;

use chrono::{DateTime, Local, NaiveDate, TimeZone};
use serde::Serialize;

use super::store::{LogError, default_path, open_read, sessions_per_point};
use crate::config::Settings;
use crate::script::diagnostic::escape_controls;
use crate::script::{POINTS, point_name};

/// Sessions a day per point, by default: the low end of the guidance's
/// five to seven.
pub const DEFAULT_GOAL: u32 = 5;
/// The hour a day begins, by default: a session at 1 a.m. still counts for
/// the day before.
pub const DEFAULT_DAY_STARTS: u32 = 4;

/// Where the person stands today: `backease today --json` prints exactly
/// this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Today {
    /// The day, `YYYY-MM-DD` (the date it began on).
    pub day: String,
    pub goal: u32,
    /// The built-in points, then any other point worked today (a routine
    /// of the person's own, logged under its name).
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
/// with nothing done. An error names the log's path.
pub fn today(settings: &Settings) -> Result<Today, LogError> {
    let path = default_path().ok_or(LogError::NoDataFolder)?;
    today_at(&path, settings, Local::now())
        .map_err(|e| LogError::About(escape_controls(&path.display().to_string()).into_owned(), Box::new(e)))
}

/// Today as of `now`, from the log at `path` (for tests: any time zone).
pub fn today_at<Tz: TimeZone>(path: &Path, settings: &Settings, now: DateTime<Tz>) -> Result<Today, LogError> {
    read_today(path, settings, now).map(|(today, _)| today)
}

/// [`today_at`], and the version of the log (0 when there is none yet).
pub(super) fn read_today<Tz: TimeZone>(
    path: &Path,
    settings: &Settings,
    now: DateTime<Tz>,
) -> Result<(Today, i64), LogError> {
    let (day, from, to) = day_bounds(&now, settings.day_starts.unwrap_or(DEFAULT_DAY_STARTS));
    let goal = settings.daily_goal.unwrap_or(DEFAULT_GOAL);
    let (counts, version) = match open_read(path)? {
        Some((conn, version)) => (sessions_per_point(&conn, from, to)?, version),
        None => (Vec::new(), 0),
    };
    let mut points: Vec<PointDay> = POINTS
        .iter()
        .map(|(id, name)| PointDay {
            point: id.to_string(),
            name: name.to_string(),
            sessions: counts.iter().find(|(p, _)| p == id).map_or(0, |(_, n)| *n),
        })
        .collect();
    // A routine of the person's own is logged under its name: its point
    // is listed after the built-in ones, as it is named.
    let own = counts.into_iter().filter(|(p, _)| point_name(p).is_none());
    points.extend(own.map(|(point, sessions)| PointDay { name: point.replace('-', " "), point, sessions }));
    // The fewest first; among equals, the order of the routine (the spine first).
    let next = points.iter().filter(|p| p.sessions < goal).min_by_key(|p| p.sessions).map(|p| p.point.clone());
    Ok((Today { day: day.format("%Y-%m-%d").to_string(), goal, points, next }, version))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day::practice::store::open;
    use chrono::FixedOffset;
    use rusqlite::{Connection, params};

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
        // A point of the person's own is listed too, after the built-in ones.
        session(&conn, at("2026-11-24T09:30:00+00:00").timestamp(), &[("hip-and-ribs", true)]);
        let t = today_at(&path, &Settings { daily_goal: Some(2), ..Settings::default() }, now).unwrap();
        let own = t.points.last().unwrap();
        assert_eq!((own.point.as_str(), own.name.as_str(), own.sessions), ("hip-and-ribs", "hip and ribs", 1));
        // Every point at the goal: nothing next.
        session(&conn, now.timestamp() - 60, &[("gluteus-medius", true), ("quadratus-lumborum", true)]);
        let settings = Settings { daily_goal: Some(1), ..Settings::default() };
        assert_eq!(today_at(&path, &settings, now).unwrap().next, None);
    }

    #[test]
    fn a_log_that_cannot_be_read_says_why_with_every_cause() {
        // What `remind` prints: each cause after a colon, as the chain of
        // errors gives them (SQLite's words, then its code's).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sqlite");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let e = today_at(&path, &Settings::default(), Local::now()).unwrap_err();
        assert_eq!(e.to_string(), "file is not a database: Error code 26: File opened that is not a database file");
        assert_eq!(super::super::store::reason(&e), "file is not a database");
        // Something else where the log belongs: what it is, in words.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let e = today_at(&path, &Settings::default(), Local::now()).unwrap_err();
        assert_eq!(e.to_string(), "it is a folder, not a file");
        assert_eq!(LogError::NoDataFolder.to_string(), "this system has no data folder for the practice log");
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
}
