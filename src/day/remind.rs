//! Reminders across the day: a systemd user timer and service
//! (`~/.config/systemd/user/backease-remind.{timer,service}`) that run
//! `backease remind --fire`, which shows a desktop notification naming the
//! trigger point that is due, with a "Start" action that plays it.
//!
//! The timer has one `OnCalendar=` line per reminder of the day (09:00,
//! 11:00, … for `--every 2h --between 09:00-21:00`), so the times are exact
//! whatever the step; the schedule itself is kept as a comment in the timer
//! file, which is the only state. `--fire` checks the window again (a
//! machine that wakes late) and the practice log ([`crate::day::practice::today`]):
//! no notification once today's goal is met.
//!
//! The notification is a freedesktop `Notify` call on the session D-Bus,
//! made here directly with the `dbus` crate. "Start" runs `backease play
//! POINT --quiet` as a child of the service, so its sound goes to the user's
//! sound server and its controls are the media buttons (MPRIS); stopping the
//! service stops the session. This module does not talk to systemd beyond
//! `systemctl --user`, and works without it: the files are written and the
//! way to enable them said.
//!
//! The units' first line ([`MARK`]) says backease wrote them: units of the
//! same names that someone else wrote are never replaced or removed, only
//! named. The two are written as a pair, both or neither. What goes into
//! them (this program's path, the `XDG_*` folders) is written so that
//! systemd reads back exactly that, or refused with a reason when systemd
//! cannot take it (a control character, a quote or backslash in the
//! program's path, a name that is not UTF-8): a unit systemd would reject
//! or misread is never reported as set.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Failure, code};

/// The units' names, in the user's systemd folder.
pub const TIMER: &str = "backease-remind.timer";
pub const SERVICE: &str = "backease-remind.service";

/// The shortest and longest step between reminders.
pub const MIN_EVERY: Duration = Duration::from_secs(15 * 60);
pub const MAX_EVERY: Duration = Duration::from_secs(12 * 3600);
/// Without `--every` / `--between`.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(2 * 3600);
pub const DEFAULT_BETWEEN: Window = Window { from: 9 * 60, to: 21 * 60 };

/// The first line of every unit file backease writes: what tells its units
/// from others of the same names.
const MARK: &str = "# Written by `backease remind`; `backease remind --off` removes it.";

/// A unit of ours is a few KiB (the timer has at most 96 `OnCalendar=`
/// lines): a larger file is not ours, and is not read further.
const UNIT_CAP: u64 = 64 * 1024;

/// Set by the service to the program its `ExecStart=` runs, so that
/// "Start" runs that program as it is then (see [`program`]).
pub const PROGRAM_VAR: &str = "BACKEASE_PROGRAM";

/// How long `systemctl` may take before it is given up on.
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a notification waits for "Start" when no schedule says (a
/// `--fire` by hand).
const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

/// The part of the day reminders come in: minutes since midnight, `to`
/// included (at most 24:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Duration,
    pub between: Window,
}

/// `--every`: whole minutes, from 15 minutes to 12 hours.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let d = crate::script::duration::parse(text).map_err(|e| e.to_string())?;
    if d.as_secs() % 60 != 0 || d.subsec_nanos() != 0 {
        return Err("reminders come in whole minutes, e.g. 90m or 2h".into());
    }
    if !(MIN_EVERY..=MAX_EVERY).contains(&d) {
        return Err("a reminder comes every 15 minutes at the most often, every 12 hours at the least".into());
    }
    Ok(d)
}

/// `--between`: `HH:MM-HH:MM`, within one day (`24:00` is its end).
pub fn parse_between(text: &str) -> Result<Window, String> {
    let example = "write it as HH:MM-HH:MM, e.g. 09:00-21:00";
    let (from, to) = text.trim().split_once('-').ok_or_else(|| format!("no `-` in {text:?}: {example}"))?;
    let clock = |t: &str| -> Result<u32, String> {
        let bad = || format!("{t:?} is not a time of day: {example}");
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m > 59 || h > 24 || (h == 24 && m > 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let window = Window { from: clock(from)?, to: clock(to)? };
    if window.from >= window.to {
        return Err(format!("{text:?} ends before it starts: reminders come within one day, e.g. 09:00-21:00"));
    }
    Ok(window)
}

/// `HH:MM`.
pub fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl Window {
    pub fn contains(&self, minute: u32) -> bool {
        (self.from..=self.to).contains(&minute)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", clock(self.from), clock(self.to))
    }
}

impl Schedule {
    /// The reminders of a day, in minutes since midnight.
    pub fn times(&self) -> Vec<u32> {
        let step = (self.every.as_secs() / 60) as u32;
        (self.between.from..=self.between.to.min(24 * 60 - 1)).step_by(step as usize).collect()
    }

    /// The next reminder after `minute` (now): its time, and whether it is
    /// today (else tomorrow's first).
    pub fn next_after(&self, minute: u32) -> (u32, bool) {
        let times = self.times();
        match times.iter().find(|t| **t > minute) {
            Some(t) => (*t, true),
            None => (times[0], false),
        }
    }

    /// The line kept in the timer file, and read back by [`Schedule::read`].
    fn comment(&self) -> String {
        format!("# backease remind --every {} --between {}", crate::script::duration::short(self.every), self.between)
    }

    /// The schedule a timer file was written with, if it is one of ours.
    pub fn read(timer: &str) -> Option<Schedule> {
        let line = timer.lines().find_map(|l| l.strip_prefix("# backease remind --every "))?;
        let (every, between) = line.split_once(" --between ")?;
        Some(Schedule { every: parse_every(every).ok()?, between: parse_between(between).ok()? })
    }

    pub fn timer_text(&self) -> String {
        let mut text = format!(
            "{MARK}\n{}\n\n[Unit]\nDescription=backease reminders, every {} between {} and {}\n\n[Timer]\n",
            self.comment(),
            crate::script::duration::short(self.every),
            clock(self.between.from),
            clock(self.between.to),
        );
        for t in self.times() {
            text += &format!("OnCalendar=*-*-* {}:00\n", clock(t));
        }
        text += &format!("AccuracySec=30s\nUnit={SERVICE}\n\n[Install]\nWantedBy=timers.target\n");
        text
    }
}

/// The service: `backease remind --fire`, with the folders backease was
/// told of when the reminders were set, so it reads the same settings and
/// log, and its own program in [`PROGRAM_VAR`]. `exe` and the values are
/// what [`program_path`] and [`folders`] allow.
pub fn service_text(exe: &str, env: &[(&str, String)]) -> String {
    let mut text = format!(
        "{MARK}\n\n[Unit]\nDescription=backease reminder: the trigger point that is due\n\n[Service]\nType=exec\n"
    );
    for (key, value) in env.iter().map(|(k, v)| (*k, v.as_str())).chain([(PROGRAM_VAR, exe)]) {
        text += &format!("Environment={}\n", env_word(key, value));
    }
    text += &format!("ExecStart={} remind --fire\n", program_word(exe));
    // `systemctl --user stop` is SIGTERM: stopped as asked, not failed.
    text += "SuccessExitStatus=143\n";
    text
}

/// The program's path as `ExecStart=`'s first word: in double quotes, `%`
/// doubled (specifiers are expanded there too), nothing else escaped.
/// systemd never expands `$` in the program's path (`$$` would stay two),
/// and refuses one with a quote, a backslash or a control character
/// however it is written, so [`program_path`] refuses those first.
fn program_word(exe: &str) -> String {
    format!("\"{}\"", exe.replace('%', "%%"))
}

/// `KEY=value` for `Environment=`: in double quotes, with `\\` and `"`
/// escaped and `%` doubled; `$` is itself there. The value has no control
/// character ([`folders`]): systemd refuses most in a variable.
fn env_word(key: &str, value: &str) -> String {
    let mut out = format!("\"{key}=");
    for c in value.chars() {
        match c {
            '\\' => out += "\\\\",
            '"' => out += "\\\"",
            '%' => out += "%%",
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The program a service file of ours runs: its `ExecStart=`'s first
/// word, as [`program_word`] wrote it.
fn exec_path(service: &str) -> Option<PathBuf> {
    let line = service.lines().find_map(|l| l.strip_prefix("ExecStart="))?;
    let (word, _) = line.strip_prefix('"')?.split_once('"')?;
    Some(PathBuf::from(word.replace("%%", "%")))
}

/// This program's path, if systemd can run it from there: UTF-8 (it is
/// also the value of [`PROGRAM_VAR`]), with no quote, backslash or
/// control character, which systemd refuses in a program's path.
fn program_path() -> Result<String, Failure> {
    let exe = std::env::current_exe().map_err(|e| crate::error::io_failure("cannot tell where backease is", &e))?;
    let refuse = |what: String| {
        Failure::io(format!("systemd cannot run backease from {}: {what}", shown(&exe))).hint(
            "install backease at a path without quotes, backslashes or control characters, \
             whose name is UTF-8 (e.g. ~/.local/bin/backease), and set the reminders from there",
        )
    };
    let text = exe.to_str().ok_or_else(|| refuse("the path is not UTF-8".into()))?;
    match text.chars().find(|c| c.is_control() || matches!(c, '"' | '\'' | '\\')) {
        Some(c) => Err(refuse(format!("the path has {}", what_char(c)))),
        None => Ok(text.to_string()),
    }
}

/// The folders backease was told of, to pass on to the service: the
/// `XDG_*` variables that name an absolute path (backease ignores the
/// others), each refused if systemd cannot be given it exactly (not UTF-8,
/// or a control character).
fn folders() -> Result<Vec<(&'static str, String)>, Failure> {
    let mut env = Vec::new();
    for key in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"] {
        let Some(value) = std::env::var_os(key).map(PathBuf::from).filter(|v| v.is_absolute()) else { continue };
        let refuse = |what: String| {
            Failure::io(format!(
                "{key} names a folder the reminders' service cannot be given: {} {what}",
                shown(&value)
            ))
            .hint(format!("set {key} to a folder whose name is UTF-8, without control characters, or unset it"))
        };
        let text = value.to_str().ok_or_else(|| refuse("is not UTF-8".into()))?;
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(refuse(format!("has {}", what_char(c))));
        }
        env.push((key, text.to_string()));
    }
    Ok(env)
}

/// A character that cannot go into a unit, in words.
fn what_char(c: char) -> String {
    match c {
        '"' => "a double quote".into(),
        '\'' => "a single quote".into(),
        '\\' => "a backslash".into(),
        c => format!("a control character (U+{:04X})", c as u32),
    }
}

/// A path as it is printed: control characters escaped.
fn shown(path: &Path) -> String {
    crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned()
}

/// What is at a unit's name.
enum Found {
    Nothing,
    /// A unit of ours, and its text.
    Ours(Vec<u8>),
    /// Something else, left alone: why it is not ours, in parentheses (or
    /// nothing, for another's unit file).
    Theirs(String),
}

/// What is at `path`: read only if it is a regular file of at most
/// [`UNIT_CAP`], so a pipe or a device there neither hangs nor floods.
fn found(path: &Path) -> Result<Found, Failure> {
    use std::io::ErrorKind::{FileTooLarge, InvalidInput, IsADirectory, NotFound};
    match crate::fsutil::read_regular(path, UNIT_CAP) {
        Ok(bytes) if bytes.starts_with(MARK.as_bytes()) => Ok(Found::Ours(bytes)),
        Ok(_) => Ok(Found::Theirs(String::new())),
        Err(e) if e.kind() == NotFound && std::fs::symlink_metadata(path).is_err() => Ok(Found::Nothing),
        Err(e) if e.kind() == NotFound => Ok(Found::Theirs(" (it is a link to nothing)".into())),
        Err(e) if matches!(e.kind(), InvalidInput | IsADirectory | FileTooLarge) => {
            Ok(Found::Theirs(format!(" ({})", crate::error::io_reason(&e))))
        }
        Err(e) => Err(crate::error::io_failure(format!("cannot read {}", shown(path)), &e)),
    }
}

/// "PATH was not written by backease (why)".
fn not_ours(path: &Path, why: &str) -> String {
    format!("{} was not written by backease{why}", shown(path))
}

/// The text of our unit at `path`, or `None` if there is none; refused,
/// and left alone, if it is not ours.
fn ours_or_none(path: &Path) -> Result<Option<Vec<u8>>, Failure> {
    match found(path)? {
        Found::Nothing => Ok(None),
        Found::Ours(bytes) => Ok(Some(bytes)),
        Found::Theirs(why) => Err(Failure::io(format!("{}: left it alone", not_ours(path, &why)))
            .hint("move it away if it is not needed, then set the reminders again")),
    }
}

/// The user's systemd unit folder (under `XDG_CONFIG_HOME`).
pub fn unit_dir() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|d| d.join("systemd").join("user"))
        .ok_or_else(|| Failure::io("this system has no config folder").hint("set HOME or XDG_CONFIG_HOME"))
}

/// Runs `systemctl --user ARGS` within [`SYSTEMCTL_TIMEOUT`]: its stdout,
/// or why it failed.
pub fn systemctl(args: &[&str]) -> Result<String, String> {
    use std::process::Stdio;
    let mut child = std::process::Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("systemctl: {}", crate::error::io_reason(&e)))?;
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let stdout = read(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = read(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + SYSTEMCTL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("systemctl did not answer within {} s", SYSTEMCTL_TIMEOUT.as_secs()));
            }
        }
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    if status.success() {
        Ok(stdout)
    } else {
        let why = stderr.lines().chain(stdout.lines()).find(|l| !l.trim().is_empty()).unwrap_or("it failed");
        Err(why.trim().to_string())
    }
}

const ENABLE: &str = "systemctl --user daemon-reload && systemctl --user enable --now backease-remind.timer";

/// Writes the units and starts the timer if a user manager answers.
pub fn set(schedule: Schedule, out: &mut dyn std::io::Write) -> Result<u8, Failure> {
    let exe = program_path()?;
    let env = folders()?;
    let dir = unit_dir()?;
    let (service, timer) = (dir.join(SERVICE), dir.join(TIMER));
    let (old_service, old_timer) = (ours_or_none(&service)?, ours_or_none(&timer)?);
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::io_failure(format!("cannot make {}", shown(&dir)), &e))?;
    write_pair(
        Unit { path: &service, text: service_text(&exe, &env).as_bytes(), old: old_service.as_deref() },
        Unit { path: &timer, text: schedule.timer_text().as_bytes(), old: old_timer.as_deref() },
    )?;
    let times = schedule.times();
    let mut text = format!(
        "Reminders every {} between {} and {}: {} a day, the first at {}.\nWrote {} and {}.\n",
        crate::script::duration::spoken(schedule.every),
        clock(schedule.between.from),
        clock(schedule.between.to),
        times.len(),
        clock(times[0]),
        shown(&timer),
        SERVICE,
    );
    let started = systemctl(&["daemon-reload"])
        .and_then(|_| systemctl(&["enable", TIMER]))
        .and_then(|_| systemctl(&["restart", TIMER]));
    match started {
        Ok(_) => text += "Started them with systemctl --user.\n",
        Err(why) => {
            text += &format!("systemd did not start them ({why}).\nTo start them in your desktop session: {ENABLE}\n")
        }
    }
    write(out, &text)?;
    Ok(code::OK)
}

/// Stops and removes our units; another's of the same name is left, and
/// named.
pub fn off(out: &mut dyn std::io::Write) -> Result<u8, Failure> {
    let dir = unit_dir()?;
    let (timer, service) = (dir.join(TIMER), dir.join(SERVICE));
    let units = [(&timer, found(&timer)?), (&service, found(&service)?)];
    let theirs: String = units
        .iter()
        .filter_map(|(path, f)| match f {
            Found::Theirs(why) => Some(format!("{}: left it alone.\n", not_ours(path, why))),
            _ => None,
        })
        .collect();
    let ours: Vec<&Path> =
        units.iter().filter(|(_, f)| matches!(f, Found::Ours(_))).map(|(p, _)| p.as_path()).collect();
    if ours.is_empty() {
        write(out, &format!("No reminders were set.\n{theirs}"))?;
        return Ok(code::OK);
    }
    let timer_ours = matches!(units[0].1, Found::Ours(_));
    let stopped = if timer_ours { systemctl(&["disable", "--now", TIMER]) } else { Ok(String::new()) };
    for path in &ours {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(crate::error::io_failure(format!("cannot remove {}", shown(path)), &e));
            }
        }
    }
    let _ = systemctl(&["daemon-reload"]);
    let text = match stopped {
        Ok(_) if !timer_ours => format!("Reminders off: removed {}.\n", shown(&service)),
        Ok(_) => "Reminders off: stopped the timer and removed its files.\n".to_string(),
        Err(why) => format!("Reminders off: removed their files (systemd was not told: {why}).\n"),
    };
    write(out, &format!("{text}{theirs}"))?;
    Ok(code::OK)
}

/// The state: set or not, the schedule, the next reminder, and what
/// systemd says.
pub fn status(json: bool, out: &mut dyn std::io::Write) -> Result<u8, Failure> {
    let dir = unit_dir()?;
    let timer = dir.join(TIMER);
    let schedule = match found(&timer)? {
        Found::Nothing if json => {
            crate::ui::write_json(out, &State { set: false, schedule: None })?;
            return Ok(code::OK);
        }
        Found::Nothing => {
            write(out, "No reminders are set.\nSet them with: backease remind --every 2h --between 09:00-21:00\n")?;
            return Ok(code::OK);
        }
        Found::Theirs(why) => {
            return Err(Failure::invalid(not_ours(&timer, &why))
                .hint("move it away, then set the reminders with `backease remind --every 2h`"));
        }
        Found::Ours(bytes) => Schedule::read(&String::from_utf8_lossy(&bytes)),
    };
    let Some(schedule) = schedule else {
        return Err(Failure::invalid(format!("the schedule in {} cannot be read", shown(&timer)))
            .hint("set the reminders again with `backease remind --every 2h`, or remove them with `--off`"));
    };
    let (next, today) = schedule.next_after(now_minute());
    let known = match systemctl(&["is-active", TIMER]) {
        Ok(state) => format!("systemd: the timer is {}", state.trim()),
        Err(why) if matches!(why.as_str(), "inactive" | "failed") => {
            format!("systemd: the timer is {why}; to start it: {ENABLE}")
        }
        Err(why) => format!("systemd: not reachable ({why}); to start the reminders in your desktop session: {ENABLE}"),
    };
    if json {
        let problem = service_problem(&dir.join(SERVICE));
        let schedule = Set {
            every_s: schedule.every.as_secs(),
            between: format!("{}-{}", clock(schedule.between.from), clock(schedule.between.to)),
            next: clock(next),
            next_day: if today { "today" } else { "tomorrow" },
            systemd: known.trim_start_matches("systemd: ").to_string(),
            problem: (!problem.is_empty()).then(|| problem.trim_end().to_string()),
            timer: timer.display().to_string(),
            service: dir.join(SERVICE).display().to_string(),
        };
        crate::ui::write_json(out, &State { set: true, schedule: Some(schedule) })?;
        return Ok(code::OK);
    }
    let text = format!(
        "Reminders every {} between {} and {}.\nNext: {} {}.\n{known}\n{}Files: {} and {SERVICE}\n",
        crate::script::duration::spoken(schedule.every),
        clock(schedule.between.from),
        clock(schedule.between.to),
        clock(next),
        if today { "today" } else { "tomorrow" },
        service_problem(&dir.join(SERVICE)),
        shown(&timer),
    );
    write(out, &text)?;
    Ok(code::OK)
}

/// The reminders' state, as `remind --json` prints it.
#[derive(serde::Serialize)]
struct State {
    set: bool,
    #[serde(flatten)]
    schedule: Option<Set>,
}

/// Reminders that are set: how often, between which hours, the next one,
/// what systemd says of the timer, and what is wrong with the files, if
/// anything.
#[derive(serde::Serialize)]
struct Set {
    every_s: u64,
    between: String,
    next: String,
    next_day: &'static str,
    systemd: String,
    problem: Option<String>,
    timer: String,
    service: String,
}

/// What is wrong with the service beside a timer of ours, in a line, if
/// anything: a backease moved or reinstalled elsewhere leaves it running
/// nothing.
fn service_problem(service: &Path) -> String {
    let bytes = match found(service) {
        Ok(Found::Ours(bytes)) => bytes,
        Ok(Found::Nothing) => return format!("{SERVICE} is missing: set the reminders again.\n"),
        Ok(Found::Theirs(why)) => {
            return format!("{}: move it away, then set the reminders again.\n", not_ours(service, &why));
        }
        Err(e) => return format!("{e}\n"),
    };
    match exec_path(&String::from_utf8_lossy(&bytes)) {
        Some(exe) if exe.is_file() => String::new(),
        Some(exe) => format!(
            "The service runs {}, which is not there any more: set the reminders again to run this backease.\n",
            shown(&exe)
        ),
        None => format!("{SERVICE} does not say what it runs: set the reminders again.\n"),
    }
}

/// Minutes since local midnight.
pub fn now_minute() -> u32 {
    use chrono::Timelike;
    let now = chrono::Local::now();
    now.hour() * 60 + now.minute()
}

/// The schedule the timer was written with, if there is one.
fn current() -> Option<Schedule> {
    let bytes = crate::fsutil::read_regular(&unit_dir().ok()?.join(TIMER), UNIT_CAP).ok()?;
    Schedule::read(&String::from_utf8_lossy(&bytes))
}

/// What a fired reminder does: nothing outside the window or once the goal
/// is met; else the notification, and the session if "Start" is chosen.
pub fn fire(
    settings: &crate::config::Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<u8, Failure> {
    let schedule = current();
    if let Some(s) = schedule.filter(|s| !s.between.contains(now_minute())) {
        write(out, &format!("No reminder: it is outside {}.\n", s.between))?;
        return Ok(code::OK);
    }
    let (point, name, done, goal) = match crate::day::practice::today(settings) {
        Ok(today) => {
            let Some(next) = today.next.clone() else {
                write(out, &format!("No reminder: today's goal is met ({} of every point).\n", today.goal))?;
                return Ok(code::OK);
            };
            let day = today.points.iter().find(|p| p.point == next);
            let name = day.map_or_else(|| next.clone(), |p| p.name.clone());
            (next, name, day.map_or(0, |p| p.sessions), Some(today.goal))
        }
        Err(e) => {
            // A log that cannot be read must not silence the reminders.
            let _ = writeln!(err, "warning: the practice log could not be read ({e:#}); reminding of the first point");
            let (id, name) = crate::script::POINTS[0];
            (id.to_string(), name.to_string(), 0, None)
        }
    };
    let summary = format!("Time for the {name}");
    let body = match goal {
        Some(goal) => format!("{done} of {goal} sessions today. Start plays it now."),
        None => "Start plays it now.".to_string(),
    };
    // Given up on a minute before the next is due: a service still running
    // then would make systemd skip the next reminder.
    let wait = schedule.map_or(DEFAULT_WAIT, |s| s.every.saturating_sub(Duration::from_secs(60)));
    let signals = crate::signals::listen();
    #[cfg(target_os = "linux")]
    let shown = crate::day::notify::notify(&summary, &body, wait);
    #[cfg(not(target_os = "linux"))]
    let shown: Result<bool, String> = Err(format!("notifications go through D-Bus, on Linux only ({wait:?})"));
    let chosen = shown.map_err(|e| {
        Failure::io(format!("cannot show the reminder: {e}"))
            .hint("is a desktop session (and its notification service) running?")
    })?;
    write(out, &format!("Reminded of the {name} ({done} today).\n"))?;
    if !chosen {
        // Stopped while waiting: the shell's code, as a session stopped so.
        return Ok(crate::signals::received().map_or(code::OK, crate::signals::exit_code));
    }
    write(out, &format!("Starting {point}.\n"))?;
    start(&point, &signals)
}

/// Plays `point` as a child (`backease play POINT --quiet`) and waits for
/// it, passing on a signal that asks the service to stop.
fn start(point: &str, signals: &crossbeam_channel::Receiver<i32>) -> Result<u8, Failure> {
    let mut child = std::process::Command::new(program()?)
        .args(["play", point, "--quiet"])
        .env_remove(PROGRAM_VAR)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| crate::error::io_failure("cannot start the session", &e))?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut signalled = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            if let Some(sig) = signalled {
                return Ok(crate::signals::exit_code(sig));
            }
            return Ok(status.code().map_or(code::TERMINATED, |c| c.clamp(0, 255) as u8));
        }
        if let Ok(sig) = signals.recv_timeout(Duration::from_millis(50)) {
            signalled.get_or_insert(sig);
            if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
                let _ = nix::sys::signal::kill(pid, s);
            }
        }
    }
}

/// The program "Start" runs: the one the unit names, in [`PROGRAM_VAR`],
/// as it is now; run by hand, with no unit, this one.
///
/// Not `current_exe()`: once an upgrade has replaced the program while a
/// reminder waited, that names the running one's old file, deleted (`…
/// (deleted)`). Nor `argv[0]`: systemd expands `${…}` and `$$` in it,
/// though never in the path it runs, and by hand it may be a bare name.
/// The variable is set by systemd from the unit, exactly as written.
fn program() -> Result<PathBuf, Failure> {
    match std::env::var_os(PROGRAM_VAR).map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(program) => Ok(program),
        None => std::env::current_exe().map_err(|e| crate::error::io_failure("cannot tell where backease is", &e)),
    }
}

/// A unit to put in place: its path, its text, and its text before (if
/// there was one, ours).
struct Unit<'a> {
    path: &'a Path,
    text: &'a [u8],
    old: Option<&'a [u8]>,
}

/// Puts the units in place as a pair: both written out completely to
/// temporary files first, then renamed over their names; if the second
/// cannot be, the first is put back as it was (`old`, or removed if it
/// was not there), so the folder never holds half a pair.
fn write_pair(first: Unit, second: Unit) -> Result<(), Failure> {
    let cannot = |path: &Path, e: std::io::Error| crate::error::io_failure(format!("cannot write {}", shown(path)), &e);
    let (Unit { path: first, text, old }, Unit { path: second, text: second_text, .. }) = (first, second);
    let temp = crate::fsutil::write_temp(first, text).map_err(|e| cannot(first, e))?;
    let second_temp = crate::fsutil::write_temp(second, second_text).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        cannot(second, e)
    })?;
    if let Err(e) = std::fs::rename(&temp, first) {
        let _ = std::fs::remove_file(&temp);
        let _ = std::fs::remove_file(&second_temp);
        return Err(cannot(first, e));
    }
    if let Err(e) = std::fs::rename(&second_temp, second) {
        let _ = std::fs::remove_file(&second_temp);
        let _ = match old {
            Some(old) => crate::fsutil::write_temp(first, old).and_then(|t| {
                std::fs::rename(&t, first).inspect_err(|_| {
                    let _ = std::fs::remove_file(&t);
                })
            }),
            None => std::fs::remove_file(first),
        };
        return Err(cannot(second, e));
    }
    Ok(())
}

fn write(out: &mut dyn std::io::Write, text: &str) -> Result<(), Failure> {
    crate::ui::write_out(out, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_is_whole_minutes_from_15m_to_12h() {
        assert_eq!(parse_every("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_every("15m"), Ok(MIN_EVERY));
        assert_eq!(parse_every("12h"), Ok(MAX_EVERY));
        for bad in ["14m", "13h", "90s30s", "1h30s", "0m", "soon"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn between_is_a_window_within_a_day() {
        assert_eq!(parse_between("09:00-21:00"), Ok(Window { from: 540, to: 1260 }));
        assert_eq!(parse_between("7:30-24:00"), Ok(Window { from: 450, to: 1440 }));
        for (bad, says) in [
            ("21:00-09:00", "ends before it starts"),
            ("09:00", "no `-`"),
            ("9-21", "not a time of day"),
            ("09:60-21:00", "not a time of day"),
            ("25:00-26:00", "not a time of day"),
            ("24:30-24:40", "not a time of day"),
            ("09:00-09:00", "ends before it starts"),
        ] {
            let e = parse_between(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_times_of_a_day_and_the_next() {
        let s = Schedule { every: DEFAULT_EVERY, between: DEFAULT_BETWEEN };
        let times: Vec<String> = s.times().into_iter().map(clock).collect();
        assert_eq!(times, ["09:00", "11:00", "13:00", "15:00", "17:00", "19:00", "21:00"]);
        assert_eq!(s.next_after(11 * 60), (13 * 60, true));
        assert_eq!(s.next_after(21 * 60), (9 * 60, false));
        assert_eq!(s.next_after(0), (9 * 60, true));
        let late = Schedule { every: Duration::from_secs(45 * 60), between: Window { from: 22 * 60 + 30, to: 1440 } };
        assert_eq!(late.times().into_iter().map(clock).collect::<Vec<_>>(), ["22:30", "23:15"]);
    }

    #[test]
    fn the_schedule_is_read_back_from_the_timer() {
        let s = Schedule { every: Duration::from_secs(90 * 60), between: Window { from: 450, to: 1200 } };
        assert_eq!(Schedule::read(&s.timer_text()), Some(s));
        assert_eq!(Schedule::read("[Timer]\nOnCalendar=daily\n"), None);
    }

    #[test]
    fn unit_words_are_quoted() {
        // `$` as it is in both: systemd expands it in neither place.
        assert_eq!(program_word("/opt/a b/50%$y;z"), r#""/opt/a b/50%%$y;z""#);
        assert_eq!(env_word("XDG_DATA_HOME", r#"/d/"x"$y\z%"#), r#""XDG_DATA_HOME=/d/\"x\"$y\\z%%""#);
        let service = service_text("/opt/50%/backease", &[("XDG_DATA_HOME", "/d/$data".into())]);
        assert!(service.starts_with(MARK), "{service}");
        assert!(service.contains("Environment=\"XDG_DATA_HOME=/d/$data\"\n"), "{service}");
        assert!(service.contains("Environment=\"BACKEASE_PROGRAM=/opt/50%%/backease\"\n"), "{service}");
        assert_eq!(exec_path(&service), Some(PathBuf::from("/opt/50%/backease")));
        assert_eq!(exec_path("[Service]\nExecStart=/bin/true\n"), None);
    }

    /// The second unit cannot be renamed into place (a folder has its
    /// name): the first is put back as it was, or removed if it was new.
    #[test]
    fn a_pair_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.service"), dir.path().join("a.timer"));
        std::fs::create_dir(&second).unwrap();
        let unit = |path, old| Unit { path, text: b"new", old };
        assert!(write_pair(unit(&first, None), unit(&second, None)).is_err());
        assert!(!first.exists());
        std::fs::write(&first, "old").unwrap();
        let e = write_pair(unit(&first, Some(b"old")), unit(&second, None)).unwrap_err();
        assert!(e.message.starts_with(&format!("cannot write {}: ", second.display())), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "old");
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["a.service", "a.timer"], "temporary files left");
    }
}
