//! Reminders across the day: a systemd user timer and service
//! (`~/.config/systemd/user/backease-remind.{timer,service}`) that run
//! `backease remind --fire`, which shows a desktop notification naming the
//! trigger point that is due, with a "Start" action that plays it.
//!
//! The timer has one `OnCalendar=` line per reminder of the day (09:00,
//! 11:00, … for `--every 2h --between 09:00-21:00`), so the times are exact
//! whatever the step; the schedule itself is kept as a comment in the timer
//! file, which is the only state. `--fire` checks the window again (a
//! machine that wakes late) and the practice log ([`crate::practice::today`]):
//! no notification once today's goal is met.
//!
//! The notification is a freedesktop `Notify` call on the session D-Bus,
//! made here directly with the `dbus` crate. "Start" runs `backease play
//! POINT --quiet` as a child of the service, so its sound goes to the user's
//! sound server and its controls are the media buttons (MPRIS); stopping the
//! service stops the session. This module does not talk to systemd beyond
//! `systemctl --user`, and works without it: the files are written and the
//! way to enable them said.

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
    let d = crate::duration::parse(text).map_err(|e| e.to_string())?;
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
        format!("# backease remind --every {} --between {}", crate::duration::short(self.every), self.between)
    }

    /// The schedule a timer file was written with, if it is one of ours.
    pub fn read(timer: &str) -> Option<Schedule> {
        let line = timer.lines().find_map(|l| l.strip_prefix("# backease remind --every "))?;
        let (every, between) = line.split_once(" --between ")?;
        Some(Schedule { every: parse_every(every).ok()?, between: parse_between(between).ok()? })
    }

    pub fn timer_text(&self) -> String {
        let mut text = format!(
            "# Written by `backease remind`; `backease remind --off` removes it.\n{}\n\n\
             [Unit]\nDescription=backease reminders, every {} between {} and {}\n\n[Timer]\n",
            self.comment(),
            crate::duration::short(self.every),
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
/// log.
pub fn service_text(exe: &Path, env: &[(&str, String)]) -> String {
    let mut text = "# Written by `backease remind`; `backease remind --off` removes it.\n\n\
                    [Unit]\nDescription=backease reminder: the trigger point that is due\n\n\
                    [Service]\nType=exec\n"
        .to_string();
    for (key, value) in env {
        text += &format!("Environment={}\n", quote_value(&format!("{key}={value}")));
    }
    text += &format!("ExecStart={} remind --fire\n", quote(&exe.to_string_lossy()));
    // `systemctl --user stop` is SIGTERM: stopped as asked, not failed.
    text += "SuccessExitStatus=143\n";
    text
}

/// A word quoted for a unit file's command line: double quotes, with `\`,
/// `"`, `%` (specifiers) and `$` (variables) escaped.
fn quote(word: &str) -> String {
    quoted(word, true)
}

/// A value quoted for `Environment=`, where `$` has no special meaning
/// (`$$` would stay two dollar signs): as [`quote`], `$` as it is.
fn quote_value(word: &str) -> String {
    quoted(word, false)
}

fn quoted(word: &str, dollars: bool) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => out += "\\\\",
            '"' => out += "\\\"",
            '%' => out += "%%",
            '$' if dollars => out += "$$",
            '\n' => out += "\\n",
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The program a service file of ours runs: its `ExecStart=`'s first
/// word, unquoted.
fn exec_path(service: &str) -> Option<PathBuf> {
    let line = service.lines().find_map(|l| l.strip_prefix("ExecStart="))?;
    let quoted = line.strip_prefix('"')?;
    let mut path = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('"', _) => return Some(PathBuf::from(path)),
            ('\\', Some(n)) => {
                path.push(if n == 'n' { '\n' } else { n });
                chars.next();
            }
            ('%', Some('%')) | ('$', Some('$')) => {
                path.push(c);
                chars.next();
            }
            _ => path.push(c),
        }
    }
    None
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
    let dir = unit_dir()?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::io(format!("cannot make {}: {}", dir.display(), crate::error::io_reason(&e))))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::io(format!("cannot tell where backease is: {}", crate::error::io_reason(&e))))?;
    let env: Vec<(&str, String)> = ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    replace(&dir.join(SERVICE), &service_text(&exe, &env))?;
    replace(&dir.join(TIMER), &schedule.timer_text())?;
    let times = schedule.times();
    let mut text = format!(
        "Reminders every {} between {} and {}: {} a day, the first at {}.\nWrote {} and {}.\n",
        crate::duration::spoken(schedule.every),
        clock(schedule.between.from),
        clock(schedule.between.to),
        times.len(),
        clock(times[0]),
        dir.join(TIMER).display(),
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

/// Stops and removes the units.
pub fn off(out: &mut dyn std::io::Write) -> Result<u8, Failure> {
    let dir = unit_dir()?;
    let (timer, service) = (dir.join(TIMER), dir.join(SERVICE));
    if !timer.exists() && !service.exists() {
        write(out, "No reminders were set.\n")?;
        return Ok(code::OK);
    }
    let stopped = systemctl(&["disable", "--now", TIMER]);
    for path in [&timer, &service] {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Failure::io(format!("cannot remove {}: {}", path.display(), crate::error::io_reason(&e))));
            }
        }
    }
    let _ = systemctl(&["daemon-reload"]);
    let text = match stopped {
        Ok(_) => "Reminders off: stopped the timer and removed its files.\n".to_string(),
        Err(why) => format!("Reminders off: removed their files (systemd was not told: {why}).\n"),
    };
    write(out, &text)?;
    Ok(code::OK)
}

/// The state: set or not, the schedule, the next reminder, and what
/// systemd says.
pub fn status(out: &mut dyn std::io::Write) -> Result<u8, Failure> {
    let dir = unit_dir()?;
    let timer = dir.join(TIMER);
    let text = match crate::fsutil::read_regular(&timer, 64 * 1024) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write(out, "No reminders are set.\nSet them with: backease remind --every 2h --between 09:00-21:00\n")?;
            return Ok(code::OK);
        }
        Err(e) => return Err(Failure::io(format!("cannot read {}: {}", timer.display(), crate::error::io_reason(&e)))),
    };
    let Some(schedule) = Schedule::read(&text) else {
        return Err(Failure::invalid(format!("{} was not written by backease remind", timer.display()))
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
    // A backease moved or reinstalled elsewhere leaves the service running nothing.
    let service = std::fs::read_to_string(dir.join(SERVICE)).ok();
    let gone = match service.as_deref().map(exec_path) {
        Some(Some(exe)) if exe.is_file() => String::new(),
        Some(Some(exe)) => format!(
            "The service runs {}, which is not there any more: set the reminders again to run this backease.\n",
            exe.display()
        ),
        _ => format!("{SERVICE} is missing or not backease's: set the reminders again.\n"),
    };
    let text = format!(
        "Reminders every {} between {} and {}.\nNext: {} {}.\n{known}\n{gone}Files: {} and {SERVICE}\n",
        crate::duration::spoken(schedule.every),
        clock(schedule.between.from),
        clock(schedule.between.to),
        clock(next),
        if today { "today" } else { "tomorrow" },
        timer.display(),
    );
    write(out, &text)?;
    Ok(code::OK)
}

/// Minutes since local midnight.
pub fn now_minute() -> u32 {
    use chrono::Timelike;
    let now = chrono::Local::now();
    now.hour() * 60 + now.minute()
}

/// The schedule the timer was written with, if there is one.
fn current() -> Option<Schedule> {
    let bytes = crate::fsutil::read_regular(&unit_dir().ok()?.join(TIMER), 64 * 1024).ok()?;
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
    let (point, name, done, goal) = match crate::practice::today(settings) {
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
            let (id, name) = crate::practice::POINTS[0];
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
    let shown = crate::notify::notify(&summary, &body, wait);
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
    let exe = std::env::current_exe()
        .map_err(|e| Failure::io(format!("cannot tell where backease is: {}", crate::error::io_reason(&e))))?;
    let mut child = std::process::Command::new(exe)
        .args(["play", point, "--quiet"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Failure::io(format!("cannot start the session: {}", crate::error::io_reason(&e))))?;
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

/// Writes `text` to `path` through a temporary file, replacing what is
/// there only when it is complete.
fn replace(path: &Path, text: &str) -> Result<(), Failure> {
    let temp = crate::fsutil::temp_path(path);
    let result = std::fs::write(&temp, text).and_then(|_| std::fs::rename(&temp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Failure::io(format!("cannot write {}: {}", path.display(), crate::error::io_reason(&e))));
    }
    Ok(())
}

fn write(out: &mut dyn std::io::Write, text: &str) -> Result<(), Failure> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::io(format!("cannot write output: {}", crate::error::io_reason(&e)))),
    }
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
        let odd = r#"/home/a b/50%"x"$y\z"#;
        assert_eq!(quote(odd), r#""/home/a b/50%%\"x\"$$y\\z""#);
        // In Environment=, `$` is itself: `$$` would stay two.
        assert_eq!(quote_value(odd), r#""/home/a b/50%%\"x\"$y\\z""#);
        let service = service_text(Path::new(odd), &[("XDG_DATA_HOME", "/d/$data".into())]);
        assert!(service.contains("Environment=\"XDG_DATA_HOME=/d/$data\"\n"), "{service}");
        assert_eq!(exec_path(&service), Some(PathBuf::from(odd)));
        assert_eq!(exec_path("[Service]\nExecStart=/bin/true\n"), None);
    }
}
