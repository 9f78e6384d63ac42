//! What the practice log says to the person: where they stand after a
//! session and the tenderness question, and the `backease log` and
//! `backease today` commands (text and JSON, every text from the log
//! escaped), with a hint for a log that cannot be read. It reads through
//! `store` and `daily`; it writes nothing to the log.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::Local;

use super::daily::{DEFAULT_DAY_STARTS, PointDay, Today, read_today};
use super::store::{BUSY_TIMEOUT, LOG_VERSION, LogError, Logged, Tender, default_path, reason, recent};
use crate::config::Settings;
use crate::error::Failure;
use crate::script::diagnostic::escape_controls;
use crate::script::point_name;

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
    let worked_today: Vec<&PointDay> = today.points.iter().filter(|d| worked.contains(&d.point)).collect();
    let over: Vec<String> =
        worked_today.iter().filter(|d| d.sessions > GUIDANCE_MOST).map(|d| format!("the {}", d.name)).collect();
    if !over.is_empty() {
        // Past the guidance a muscle is over-worked: the goal is beside the point.
        let which = match over.split_last() {
            Some((last, init)) if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            Some((one, _)) if worked_today.len() > 1 => one.clone(),
            _ => "this muscle".to_string(),
        };
        text += &format!(
            " That is more than the five to seven a day the guidance gives: give {which} a rest until tomorrow."
        );
    } else if worked_today.iter().all(|d| d.sessions >= today.goal) {
        text += &format!(" That meets today's goal of {}.", today.goal);
    }
    Some(text)
}

/// The most sessions a day the guidance gives for a point (five to seven):
/// past it, the words after a session say to let the muscle rest.
pub const GUIDANCE_MOST: u32 = 7;

/// The after-session question, naming the point when the session worked
/// more than one.
pub fn question(point: &str, several: bool) -> String {
    match (several, point_name(point)) {
        (true, Some(name)) => format!("How tender was the {name}, from zero to ten?"),
        _ => "How tender was it, from zero to ten?".to_string(),
    }
}

/// `backease log`: the last sessions, newest first.
pub fn show_log(last: u32, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let path = default_path().ok_or_else(|| Failure::io("this system has no data folder for the practice log"))?;
    let found = recent(&path, last).map_err(|e| unreadable(&path, &e))?;
    note_read(err, &path, found.version, found.skipped);
    let sessions = found.sessions;
    let text = if json {
        serde_json::to_string_pretty(&sessions).expect("sessions serialize") + "\n"
    } else if sessions.is_empty() {
        format!(
            "No sessions recorded yet in {}.\nEvery `backease play` is recorded as it happens.\n",
            escape_controls(&path.display().to_string())
        )
    } else {
        sessions.iter().map(log_text).collect()
    };
    write(out, &text)
}

/// Notes on stderr, beside what is shown: a log from a newer backease,
/// rows left out.
fn note_read(err: &mut dyn Write, path: &Path, version: i64, skipped: u32) {
    let path = escape_controls(&path.display().to_string()).into_owned();
    if version > LOG_VERSION {
        let _ = writeln!(
            err,
            "note: the practice log {path} is from a newer backease (log version {version}, this one knows \
             {LOG_VERSION}): what this one cannot read is not shown; update backease"
        );
    }
    if skipped > 0 {
        let (rows, are) = if skipped == 1 { ("row", "is") } else { ("rows", "are") };
        let _ = writeln!(
            err,
            "note: {skipped} {rows} could not be read and {are} not shown (the practice log {path} holds values \
             backease does not write: edited by hand?)"
        );
    }
}

/// One session, as `backease log` shows it. Every text from the log is
/// escaped: the file is the user's, and could hold a terminal's controls.
fn log_text(s: &Logged) -> String {
    let until = match &s.ended {
        Some(end) => format!("–{}", end.get(11..).unwrap_or(end)),
        None => " (never ended)".into(),
    };
    let stopped = if s.stopped { "  stopped" } else { "" };
    let started = s.started.as_deref().unwrap_or("unknown start");
    let routine = s.routine.as_deref().map_or("unknown routine".into(), escape_controls);
    // A session without a hold is logged with a hold of zero.
    let hold = match s.hold_seconds.and_then(|h| Duration::try_from_secs_f64(h).ok()) {
        Some(Duration::ZERO) => "no hold".into(),
        Some(h) => format!("hold {}", crate::script::duration::short(h)),
        None => "hold unknown".into(),
    };
    let mut text = format!("{started}{until}  {routine}  {hold}{stopped}\n");
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
                    Some(side) => format!("{} {what}", escape_controls(side)),
                    None => what.to_string(),
                }
            })
            .collect();
        let tender = match s.tenderness.iter().find(|t| t.point == p) {
            Some(Tender { value: Some(v), .. }) => format!(" · tender {v}/10"),
            Some(Tender { value: None, .. }) => " · tender unknown".into(),
            None => String::new(),
        };
        text += &format!("    {}: {}{tender}\n", escape_controls(point_name(p).unwrap_or(p)), sides.join(", "));
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
    let (t, version) = read_today(&path, &settings, Local::now()).map_err(|e| unreadable(&path, &e))?;
    note_read(err, &path, version, 0);
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
        Some(id) => format!("Next: {} (backease play {id})\n", point_name(id).unwrap_or(id)),
        None => "Every point has met today's goal: rest these muscles now, over-working them undoes the good.\n".into(),
    };
    text
}

/// Why the log cannot be read, and what to do: wait for a program holding
/// it, let backease read the file, or move away what is not a log. Only
/// a file that is not a log at all is to be moved: a row backease cannot
/// make sense of is shown as unknown ([`recent`]), never a reason to.
fn unreadable(path: &Path, e: &LogError) -> Failure {
    use rusqlite::ErrorCode::{
        CannotOpen, DatabaseBusy, DatabaseCorrupt, DatabaseLocked, NotADatabase, PermissionDenied, ReadOnly,
    };
    let shown = escape_controls(&path.display().to_string()).into_owned();
    if let LogError::NotAFile(n) = e {
        let hint = match &n.journal {
            None => format!(
                "backease keeps its log in a file of that name: move it away (mv {shown} {shown}.old), and a new \
                 log is started at the next session"
            ),
            Some(j) => {
                let j = escape_controls(&j.display().to_string()).into_owned();
                format!("SQLite keeps a file of that name beside the log: move it away (mv {j} {j}.old)")
            }
        };
        return Failure::io(format!("cannot read the practice log {shown}: {n}")).hint(hint);
    }
    let code = match e {
        LogError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => Some(failure.code),
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
        Some(NotADatabase | DatabaseCorrupt) => {
            "if the file is damaged, move it away (keep it: sqlite3's .recover may save what it holds); a new log \
             is started at the next session"
                .to_string()
        }
        _ => format!("its tables may have been changed by hand: sqlite3 {shown} .schema shows them"),
    };
    Failure::io(format!("cannot read the practice log {shown}: {}", reason(e))).hint(hint)
}

fn write(out: &mut dyn Write, text: &str) -> Result<u8, Failure> {
    crate::ui::write_out(out, text).map(|()| crate::error::code::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day::practice::daily::PointDay;
    use crate::day::practice::store::open;
    use crate::script::POINTS;
    use rusqlite::Connection;

    /// A log edited by hand still lists: what cannot be a hold is shown as
    /// unknown.
    #[test]
    fn a_log_with_a_hold_no_session_has_still_lists() {
        let logged = |hold_seconds| Logged {
            id: 1,
            routine: Some("deep-spinal".into()),
            started: Some("2026-12-07 10:00".into()),
            ended: None,
            hold_seconds,
            stopped: false,
            worked: Vec::new(),
            tenderness: Vec::new(),
        };
        for hold in [None, Some(-1.0), Some(f64::NAN), Some(1e300)] {
            assert!(
                log_text(&logged(hold)).starts_with("2026-12-07 10:00 (never ended)  deep-spinal  hold unknown\n"),
                "{hold:?}"
            );
        }
        assert!(log_text(&logged(Some(45.0))).contains("hold 45s"));
        // A session of strokes alone played no hold.
        assert!(log_text(&logged(Some(0.0))).contains("  deep-spinal  no hold\n"));
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

    #[test]
    fn past_the_guidance_the_standing_says_to_rest() {
        let day = |sessions: [u32; 3], goal| Today {
            day: "2026-11-24".into(),
            goal,
            points: POINTS
                .iter()
                .zip(sessions)
                .map(|((id, name), n)| PointDay { point: id.to_string(), name: name.to_string(), sessions: n })
                .collect(),
            next: None,
        };
        let rest = "That is more than the five to seven a day the guidance gives: give";
        // Seven is still within it; the eighth is past it, whatever the goal.
        let seventh = standing(&day([7, 0, 0], 5), &["deep-spinal".into()]).unwrap();
        assert_eq!(seventh, "That was your seventh deep spinal session today. That meets today's goal of 5.");
        assert_eq!(
            standing(&day([11, 0, 0], 5), &["deep-spinal".into()]).unwrap(),
            format!("That was your eleventh deep spinal session today. {rest} this muscle a rest until tomorrow.")
        );
        assert_eq!(
            standing(&day([8, 9, 2], 12), &POINTS.map(|(id, _)| id.to_string())).unwrap(),
            "That was your eighth deep spinal session, your ninth gluteus medius session and your second \
             quadratus lumborum session today. That is more than the five to seven a day the guidance gives: \
             give the deep spinal and the gluteus medius a rest until tomorrow."
        );
    }
}
