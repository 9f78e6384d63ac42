//! Reminders for real: the unit files checked by systemd's own
//! `systemd-analyze`, and `remind --fire` against a notification service
//! of the test's own on a private D-Bus, its "Start" seen as a session on
//! the test's sound server.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Timelike;

use crate::support::{Bounded, PrivateBus, Pulse, Sandbox, Service};

fn units(sb: &Sandbox) -> PathBuf {
    sb.config_dir().join("systemd/user")
}

/// backease with no systemd user manager to reach, as on CI.
fn remind(sb: &Sandbox, args: &[&str]) -> crate::support::Run {
    let mut cmd = sb.command(&[&["remind"], args].concat());
    cmd.env("XDG_RUNTIME_DIR", sb.path().join("no-runtime")).env("TZ", "UTC");
    sb.run_within(Duration::from_secs(30), &mut cmd)
}

#[test]
fn the_units_are_what_systemd_accepts_and_fire_at_the_times_asked() {
    let sb = Sandbox::new();
    let run = remind(&sb, &["--every", "90m", "--between", "07:30-22:00"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("10 a day, the first at 07:30"), "{}", run.stdout);
    assert!(run.stdout.contains("systemctl --user enable --now backease-remind.timer"), "{}", run.stdout);
    let (timer, service) = (units(&sb).join("backease-remind.timer"), units(&sb).join("backease-remind.service"));
    let verify = Command::new("systemd-analyze").arg("verify").args([&timer, &service]).output().unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(text.contains(&format!("ExecStart=\"{}\" remind --fire\n", env!("CARGO_BIN_EXE_backease"))), "{text}");

    // Each OnCalendar line, as systemd reads it.
    let text = std::fs::read_to_string(&timer).unwrap();
    let mut times = Vec::new();
    for spec in text.lines().filter_map(|l| l.strip_prefix("OnCalendar=")) {
        let out = Command::new("systemd-analyze").args(["calendar", spec]).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let normal = out.lines().find_map(|l| l.trim().strip_prefix("Normalized form: ")).expect(&out).to_string();
        times.push(normal.strip_prefix("*-*-* ").expect("every day").to_string());
    }
    let expected: Vec<String> =
        (0..10).map(|i| 450 + 90 * i).map(|m| format!("{:02}:{:02}:00", m / 60, m % 60)).collect();
    assert_eq!(times, expected);

    let state = remind(&sb, &[]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    assert!(state.stdout.contains("Reminders every 1 hour 30 minutes between 07:30 and 22:00."), "{}", state.stdout);
    assert!(state.stdout.contains("systemd: not reachable ("), "{}", state.stdout);
    let now = chrono::Utc::now();
    let minute = now.hour() * 60 + now.minute();
    let next =
        expected.iter().map(|t| &t[..5]).find(|t| *t > format!("{:02}:{:02}", minute / 60, minute % 60).as_str());
    let line = match next {
        Some(t) => format!("Next: {t} today."),
        None => "Next: 07:30 tomorrow.".into(),
    };
    assert!(state.stdout.contains(&line), "{line} in {}", state.stdout);

    assert!(!state.stdout.contains("not there any more"), "{}", state.stdout);
    // The program moved away: said, with what to do.
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, text.replace("/backease\" remind", "/moved-away\" remind")).unwrap();
    let state = remind(&sb, &[]);
    assert!(
        state.stdout.contains("moved-away, which is not there any more: set the reminders again"),
        "{}",
        state.stdout
    );

    // Set again: replaced, not added to.
    assert_eq!(remind(&sb, &["--every", "12h"]).code, 0);
    let text = std::fs::read_to_string(&timer).unwrap();
    assert_eq!(text.matches("OnCalendar=").count(), 2, "{text}");
    assert!(text.contains("OnCalendar=*-*-* 09:00:00\nOnCalendar=*-*-* 21:00:00\n"), "{text}");

    let off = remind(&sb, &["--off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(!timer.exists() && !service.exists());
    assert!(remind(&sb, &[]).stdout.starts_with("No reminders are set."));
    assert!(remind(&sb, &["--off"]).stdout.starts_with("No reminders were set."));
}

#[test]
fn bad_schedules_are_usage_errors_and_write_nothing() {
    let sb = Sandbox::new();
    for (args, says) in [
        (&["--every", "5m"][..], "every 15 minutes at the most often"),
        (&["--every", "13h"], "every 12 hours at the least"),
        (&["--every", "1h30s"], "whole minutes"),
        (&["--between", "21:00-09:00"], "ends before it starts"),
        (&["--between", "9-21"], "not a time of day: write it as HH:MM-HH:MM"),
        (&["--between", "09:00-25:00"], "not a time of day"),
        (&["--off", "--every", "2h"], "cannot be used with"),
    ] {
        let run = remind(&sb, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert!(!units(&sb).exists());
}

/// What the notification service was sent: summary, body, actions, the
/// sound asked for and the expiry; and each id it was asked to close.
type Shown = Arc<Mutex<Vec<(String, String, Vec<String>, Option<String>, i32)>>>;
type Closed = Arc<Mutex<Vec<u32>>>;

/// What the person does with the notification.
#[derive(Clone, Copy)]
enum Then {
    Choose(&'static str),
    Dismiss,
    Nothing,
}

/// A notification service that records each `Notify` and answers id 7,
/// then sends what the person did.
fn notifications(bus: &PrivateBus, then: Then) -> (Service, Shown, Closed) {
    notifications_with(bus, then, || {})
}

/// [`notifications`], doing `meanwhile` before it answers each `Notify`.
fn notifications_with(
    bus: &PrivateBus,
    then: Then,
    mut meanwhile: impl FnMut() + Send + 'static,
) -> (Service, Shown, Closed) {
    let (shown, closed): (Shown, Closed) = Default::default();
    let (s, c) = (shown.clone(), closed.clone());
    let service = Service::start(bus, "org.freedesktop.Notifications", move |msg| {
        if msg.member().as_deref() == Some("CloseNotification") {
            c.lock().unwrap().push(msg.read1().expect("an id"));
            return vec![msg.method_return()];
        }
        if msg.member().as_deref() != Some("Notify") {
            return vec![msg.error(&"org.freedesktop.DBus.Error.UnknownMethod".into(), c"not in this test")];
        }
        type Args = (String, u32, String, String, String, Vec<String>, dbus::arg::PropMap, i32);
        let (_, _, _, summary, body, actions, hints, expire): Args = msg.read_all().expect("Notify's arguments");
        let sound = hints.get("sound-name").and_then(|v| v.0.as_str()).map(str::to_string);
        s.lock().unwrap().push((summary, body, actions, sound, expire));
        meanwhile();
        let path = "/org/freedesktop/Notifications";
        let iface = "org.freedesktop.Notifications";
        let mut answer = vec![msg.method_return().append1(7u32)];
        match then {
            Then::Choose(key) => {
                answer.push(dbus::Message::new_signal(path, iface, "ActionInvoked").unwrap().append2(7u32, key))
            }
            Then::Dismiss => {
                answer.push(dbus::Message::new_signal(path, iface, "NotificationClosed").unwrap().append2(7u32, 2u32))
            }
            Then::Nothing => {}
        }
        answer
    });
    (service, shown, closed)
}

/// `remind --fire` on `bus` and `pulse`, killed on drop.
struct Fire(Child);

impl Fire {
    fn start(sb: &Sandbox, bus: &PrivateBus, pulse: Option<&Pulse>) -> Fire {
        let mut cmd = sb.command(&["remind", "--fire"]);
        if let Some(p) = pulse {
            p.apply(&mut cmd);
        }
        let child = cmd
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("XDG_DATA_HOME", sb.path().join("data"))
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Fire(child)
    }

    /// Waits (at most 20 s): the exit code, stdout and stderr.
    fn end(mut self) -> (i32, String, String) {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "remind --fire did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        let (mut out, mut err) = (String::new(), String::new());
        self.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        self.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code().unwrap_or(-1), out, err)
    }
}

impl Drop for Fire {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The practice log with one finished session of every point, today.
fn one_session_of_each(sb: &Sandbox) {
    let conn = backease::day::practice::open(&sb.path().join("data/backease/log.sqlite")).unwrap();
    let now = chrono::Utc::now().timestamp();
    for (i, (point, _)) in backease::script::POINTS.iter().enumerate() {
        conn.execute(
            "INSERT INTO sessions (id, routine, started, ended, hold_ms, stopped) VALUES (?1, ?2, ?3, ?3, 30000, 0)",
            rusqlite::params![i as i64 + 1, point, now],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO worked (session, point, side, round, done, at) VALUES (?1, ?2, NULL, 1, 1, ?3)",
            rusqlite::params![i as i64 + 1, point, now],
        )
        .unwrap();
    }
}

#[test]
fn a_reminder_names_the_point_due_and_start_plays_it() {
    let sb = Sandbox::new();
    // The point's routine, short and speechless: the user's own shadows the built-in.
    sb.write(
        "config/backease/scripts/deep-spinal.ron",
        r#"Routine(title: "Deep spinal", summary: "s", steps: [Chime("tick"), Pause("30s")])"#,
    );
    assert_eq!(remind(&sb, &["--every", "15m", "--between", "00:00-24:00"]).code, 0);
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let (_service, shown, _) = notifications(&bus, Then::Choose("start"));
    let fire = Fire::start(&sb, &bus, Some(&pulse));

    // The session appears on the sound server: which process, run how.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        let out = pulse.command("pactl").args(["list", "sink-inputs"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ours = text.split("Sink Input #").find(|s| s.contains("application.process.binary = \"backease\""));
        if let Some(pid) =
            ours.and_then(|s| s.lines().find_map(|l| l.trim().strip_prefix("application.process.id = \"")))
        {
            break pid.trim_end_matches('"').parse::<u32>().unwrap();
        }
        assert!(Instant::now() < deadline, "no session started: {:?}", shown.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> =
        cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
    assert_eq!(args, [env!("CARGO_BIN_EXE_backease"), "play", "deep-spinal", "--quiet"]);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let parent: u32 = stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(parent, fire.0.id(), "the session is the service's child");
    assert_eq!(
        shown.lock().unwrap().clone(),
        [(
            "Time for the deep spinal".to_string(),
            "0 of 5 sessions today. Start plays it now.".to_string(),
            vec!["start".to_string(), "Start".to_string()],
            Some("message-new-instant".to_string()),
            0
        )]
    );

    // Stopping the service stops the session with it.
    let _ = Command::new("kill").args(["-TERM", &fire.0.id().to_string()]).status();
    let (code, out, err) = fire.end();
    assert_eq!(code, 143, "{out}{err}");
    assert!(out.contains("Reminded of the deep spinal (0 today).\nStarting deep-spinal.\n"), "{out}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the session outlived the service");
}

#[test]
fn no_reminder_outside_the_hours_or_once_the_goal_is_met() {
    let sb = Sandbox::new();
    let bus = PrivateBus::start();
    let (_service, shown, closed) = notifications(&bus, Then::Dismiss);

    // A window that is not now.
    let hour = chrono::Utc::now().hour();
    let window = if hour < 20 { format!("{:02}:00-{:02}:00", hour + 2, hour + 3) } else { "00:00-01:00".into() };
    assert_eq!(remind(&sb, &["--between", &window]).code, 0);
    let (code, out, err) = Fire::start(&sb, &bus, None).end();
    assert_eq!((code, out), (0, format!("No reminder: it is outside {window}.\n")), "{err}");
    assert!(shown.lock().unwrap().is_empty());

    // All day; one session of every point done.
    assert_eq!(remind(&sb, &["--between", "00:00-24:00"]).code, 0);
    one_session_of_each(&sb);
    sb.write("config/backease/config.ron", "Config(daily_goal: 1)");
    let (code, out, err) = Fire::start(&sb, &bus, None).end();
    assert_eq!((code, out), (0, "No reminder: today's goal is met (1 of every point).\n".into()), "{err}");
    assert!(shown.lock().unwrap().is_empty());

    // A goal of two: reminded, and the notification closed unanswered starts nothing.
    sb.write("config/backease/config.ron", "Config(daily_goal: 2)");
    let (code, out, err) = Fire::start(&sb, &bus, None).end();
    assert_eq!((code, out), (0, "Reminded of the deep spinal (1 today).\n".into()), "{err}");
    let shown = shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].0.as_str(), shown[0].1.as_str()),
        ("Time for the deep spinal", "1 of 2 sessions today. Start plays it now.")
    );
    assert!(closed.lock().unwrap().is_empty(), "closed by the person, not by backease");
}

#[test]
fn a_reminder_stopped_while_it_waits_is_closed_not_left_stale() {
    let sb = Sandbox::new();
    let bus = PrivateBus::start();
    let (_service, shown, closed) = notifications(&bus, Then::Nothing);
    let fire = Fire::start(&sb, &bus, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while shown.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no notification");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Still waiting for the person.
    std::thread::sleep(Duration::from_millis(300));
    assert!(closed.lock().unwrap().is_empty());
    let _ = Command::new("kill").args(["-TERM", &fire.0.id().to_string()]).status();
    let sent = Instant::now();
    let (code, out, err) = fire.end();
    assert!(sent.elapsed() < Duration::from_secs(2), "{:?}", sent.elapsed());
    assert_eq!(code, 143, "{out}{err}");
    assert_eq!(*closed.lock().unwrap(), [7]);
}

/// What systemd makes of a service file, read from the unit dump of
/// `systemd-analyze verify` (at debug level): the program its `ExecStart=`
/// runs, and its environment, one `NAME=value` each.
struct Parsed {
    program: Vec<u8>,
    env: Vec<String>,
}

fn parsed(service: &Path) -> Parsed {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(service)
        .env("SYSTEMD_LOG_LEVEL", "debug")
        .stderr(Stdio::null())
        .output_bounded();
    let dump = String::from_utf8_lossy(&out.stdout).into_owned();
    let unit = dump.split("-> Unit ").find(|u| u.starts_with("backease-remind.service:")).expect(&dump);
    let fields = || unit.lines().map(str::trim_start);
    let env = fields().filter_map(|l| l.strip_prefix("Environment: ")).map(str::to_string).collect();
    let line = fields().find_map(|l| l.strip_prefix("Command Line: ")).expect(unit);
    Parsed { program: first_word(line), env }
}

/// The first word of a command line as systemd prints it: bare, or in
/// double quotes with `\` before `"`, `\`, `$` and C escapes (`\377`) for
/// the bytes it does not print.
fn first_word(line: &str) -> Vec<u8> {
    let Some(quoted) = line.strip_prefix('"') else {
        return line.split(' ').next().unwrap().as_bytes().to_vec();
    };
    let (mut word, mut bytes) = (Vec::new(), quoted.bytes());
    while let Some(b) = bytes.next() {
        match b {
            b'"' => return word,
            b'\\' => match bytes.next().unwrap() {
                d @ b'0'..=b'7' => {
                    let rest: Vec<u8> = bytes.by_ref().take(2).collect();
                    word.push(u8::from_str_radix(std::str::from_utf8(&[&[d][..], &rest].concat()).unwrap(), 8).unwrap())
                }
                b'n' => word.push(b'\n'),
                b'r' => word.push(b'\r'),
                b't' => word.push(b'\t'),
                other => word.push(other),
            },
            b => word.push(b),
        }
    }
    panic!("no closing quote in {line}")
}

/// `systemd-analyze verify` on the units: nothing said against them.
#[track_caller]
fn verified(dir: &Path) {
    let units = [dir.join("backease-remind.timer"), dir.join("backease-remind.service")];
    let verify = Command::new("systemd-analyze").arg("verify").args(&units).output_bounded();
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
}

/// The units (and their temporary files) in `dir`, by name: none when
/// there is no such folder.
fn unit_names(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    crate::support::names(dir).into_iter().filter(|n| n.contains("backease-remind")).collect()
}

/// backease installed as `folder/backease` (a hard link to the built
/// binary, or a copy), folder under a temporary folder of the target's.
fn installed(under: &Path, folder: &OsStr) -> PathBuf {
    let dir = under.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("backease");
    let built = env!("CARGO_BIN_EXE_backease");
    if std::fs::hard_link(built, &program).is_err() {
        std::fs::copy(built, &program).unwrap();
    }
    program
}

fn install_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// `program remind ARGS` in the sandbox, with the folders given.
fn remind_as(sb: &Sandbox, program: &Path, folders: [&OsStr; 3], args: &[&str]) -> crate::support::Run {
    let mut cmd = Command::new(program);
    cmd.arg("remind")
        .args(args)
        .current_dir(sb.path())
        .env("HOME", sb.path())
        .env("XDG_CONFIG_HOME", folders[0])
        .env("XDG_DATA_HOME", folders[1])
        .env("XDG_CACHE_HOME", folders[2])
        .env("XDG_RUNTIME_DIR", sb.path().join("no-runtime"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/backease-test-bus")
        .env("TZ", "UTC")
        .stdin(Stdio::null());
    sb.run_within(Duration::from_secs(30), &mut cmd)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Runs,
    Refused,
}

/// Hostile names for the folder backease is installed in, and for the
/// folders the XDG variables name: what `remind` must do with each, as
/// the program's path and as a folder. systemd takes no quote or
/// backslash in a program's path, however written, and no control
/// character in a variable; a variable must be UTF-8.
fn hostile() -> Vec<(Vec<u8>, Expect, Expect)> {
    use Expect::*;
    let mut cases: Vec<(Vec<u8>, Expect, Expect)> = [
        ("a\rExecStartPre=/bin/false", Refused, Refused),
        ("a\nExecStart=/bin/false", Refused, Refused),
        ("a\tb", Refused, Refused),
        ("a\x1bb", Refused, Refused),
        ("a\x7fb", Refused, Refused),
        ("a\u{85}b", Refused, Refused),
        ("a\"b", Refused, Runs),
        ("a'b", Refused, Runs),
        ("a\\b", Refused, Runs),
        ("a\\nb", Refused, Runs),
        ("a$b", Runs, Runs),
        ("a$$b", Runs, Runs),
        ("a${HOME}b", Runs, Runs),
        ("a%b", Runs, Runs),
        ("a%hb", Runs, Runs),
        ("a b", Runs, Runs),
        ("a;b", Runs, Runs),
        ("-a", Runs, Runs),
        ("@a", Runs, Runs),
        ("+a", Runs, Runs),
        ("!!a", Runs, Runs),
        ("é ü", Runs, Runs),
    ]
    .into_iter()
    .map(|(name, program, folder)| (name.as_bytes().to_vec(), program, folder))
    .collect();
    cases.push((b"a\xffb".to_vec(), Refused, Refused));
    cases
}

#[test]
fn a_program_path_is_written_as_systemd_runs_it_or_refused() {
    use std::os::unix::ffi::OsStrExt;
    let under = install_dir();
    for (name, expect, _) in hostile() {
        let sb = Sandbox::new();
        let program = installed(under.path(), OsStr::from_bytes(&name));
        let folders = [sb.config_dir(), sb.path().join("data"), sb.path().join("cache")];
        let run = remind_as(&sb, &program, folders.each_ref().map(|f| f.as_os_str()), &["--every", "2h"]);
        let case = format!("{:?}: {}{}", OsStr::from_bytes(&name), run.stdout, run.stderr);
        let dir = units(&sb);
        if expect == Expect::Refused {
            assert_ne!(run.code, 0, "{case}");
            assert!(run.stderr.contains("systemd cannot run backease from"), "{case}");
            assert!(run.stderr.contains("install backease at a path"), "{case}");
            assert_eq!(unit_names(&dir), Vec::<String>::new(), "{case}");
            continue;
        }
        assert_eq!(run.code, 0, "{case}");
        verified(&dir);
        let unit = parsed(&dir.join("backease-remind.service"));
        assert_eq!(OsStr::from_bytes(&unit.program), program.as_os_str(), "{case}");
        let want = |k: &str, v: &Path| format!("{k}={}", v.display());
        let mut expected = vec![
            want("XDG_CONFIG_HOME", &folders[0]),
            want("XDG_DATA_HOME", &folders[1]),
            want("XDG_CACHE_HOME", &folders[2]),
            want("BACKEASE_PROGRAM", &program),
        ];
        let mut env = unit.env;
        expected.sort();
        env.sort();
        assert_eq!(env, expected, "{case}");
    }
}

#[test]
fn folders_are_passed_on_exactly_or_refused() {
    use std::os::unix::ffi::OsStrExt;
    const VARS: [&str; 3] = ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"];
    let program = Path::new(env!("CARGO_BIN_EXE_backease"));
    for (name, _, expect) in hostile() {
        // Each variable in turn names a hostile folder, the others plain ones.
        for (hostile, var) in VARS.iter().enumerate() {
            let sb = Sandbox::new();
            let folders: Vec<PathBuf> = (0..VARS.len())
                .map(|i| {
                    let plain = format!("folder-{i}-").into_bytes();
                    let odd = if i == hostile { &name[..] } else { b"plain" };
                    sb.path().join(OsStr::from_bytes(&[&plain[..], odd].concat()))
                })
                .collect();
            let given = [0, 1, 2].map(|i| folders[i].as_os_str());
            let run = remind_as(&sb, program, given, &["--every", "2h"]);
            let case = format!("{var} {:?}: {}{}", OsStr::from_bytes(&name), run.stdout, run.stderr);
            let dir = folders[0].join("systemd/user");
            if expect == Expect::Refused {
                assert_ne!(run.code, 0, "{case}");
                assert!(run.stderr.contains(&format!("{var} names a folder")), "{case}");
                assert_eq!(unit_names(&dir), Vec::<String>::new(), "{case}");
                continue;
            }
            assert_eq!(run.code, 0, "{case}");
            verified(&dir);
            let mut env = parsed(&dir.join("backease-remind.service")).env;
            let mut expected: Vec<String> = VARS
                .iter()
                .zip(&folders)
                .map(|(k, v)| format!("{k}={}", v.display()))
                .chain([format!("BACKEASE_PROGRAM={}", program.display())])
                .collect();
            expected.sort();
            env.sort();
            assert_eq!(env, expected, "{case}");
        }
    }
}

/// Units of the same names that someone else wrote: `--every` does not
/// replace them and `--off` does not remove them; both say so.
#[test]
fn units_backease_did_not_write_are_left_alone() {
    let sb = Sandbox::new();
    let dir = units(&sb);
    let theirs = "[Unit]\nDescription=someone else's\n\n[Service]\nExecStart=/bin/true\n";
    let (timer, service) = (dir.join("backease-remind.timer"), dir.join("backease-remind.service"));
    sb.write("config/systemd/user/backease-remind.service", theirs);
    let run = remind(&sb, &["--every", "2h"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("backease-remind.service was not written by backease"), "{}", run.stderr);
    assert!(run.stderr.contains("left it alone"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&service).unwrap(), theirs);
    assert!(!timer.exists(), "half a pair written");

    let off = remind(&sb, &["--off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(
        off.stdout.contains("backease-remind.service was not written by backease: left it alone"),
        "{}",
        off.stdout
    );
    assert_eq!(std::fs::read_to_string(&service).unwrap(), theirs);

    // Our timer beside their service: ours goes, theirs stays.
    std::fs::remove_file(&service).unwrap();
    assert_eq!(remind(&sb, &["--every", "2h"]).code, 0);
    std::fs::write(&service, theirs).unwrap();
    let off = remind(&sb, &["--off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(!timer.exists(), "{}", off.stdout);
    assert_eq!(std::fs::read_to_string(&service).unwrap(), theirs);
    assert!(off.stdout.contains("was not written by backease: left it alone"), "{}", off.stdout);
}

/// A folder where the timer goes: nothing is written, not the service
/// alone.
#[test]
fn the_units_are_written_both_or_neither() {
    let sb = Sandbox::new();
    let dir = units(&sb);
    std::fs::create_dir_all(dir.join("backease-remind.timer")).unwrap();
    let run = remind(&sb, &["--every", "2h"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("backease-remind.timer"), "{}", run.stderr);
    assert!(!run.stdout.contains("Wrote"), "{}", run.stdout);
    assert_eq!(unit_names(&dir), ["backease-remind.timer"]);
    assert!(dir.join("backease-remind.timer").is_dir());
}

/// A named pipe, or a link to `/dev/zero`, at the service's name: said,
/// at once, by each of `remind`, `--every` and `--off`.
#[test]
fn a_pipe_or_a_device_at_a_unit_name_is_refused_at_once() {
    for odd in ["fifo", "zero"] {
        let sb = Sandbox::new();
        assert_eq!(remind(&sb, &["--every", "2h"]).code, 0);
        let service = units(&sb).join("backease-remind.service");
        std::fs::remove_file(&service).unwrap();
        let what = if odd == "fifo" {
            nix::unistd::mkfifo(&service, nix::sys::stat::Mode::S_IRWXU).unwrap();
            "it is a named pipe (FIFO), not a file"
        } else {
            std::os::unix::fs::symlink("/dev/zero", &service).unwrap();
            "it is a device, not a file"
        };
        for args in [&[][..], &["--every", "2h"], &["--off"]] {
            let started = Instant::now();
            let run = remind(&sb, args);
            assert!(started.elapsed() < Duration::from_secs(5), "{odd} {args:?}: {:?}", started.elapsed());
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(
                said.contains(&format!("backease-remind.service was not written by backease ({what})")),
                "{odd} {args:?}: {said}"
            );
        }
        let kind = std::fs::symlink_metadata(&service).unwrap().file_type();
        assert!(!kind.is_file(), "{odd}: replaced");
    }
}

/// "Start" runs the program the unit names, as it is now: after an
/// upgrade replaced it while the reminder waited, the new one, not the
/// running one's deleted file.
#[test]
fn start_runs_the_program_the_unit_names_even_once_replaced() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let under = install_dir();
    let program = installed(under.path(), OsStr::new("bin"));
    let data = sb.path().join("data");
    let folders = [sb.config_dir().into_os_string(), data.into_os_string(), sb.path().join("cache").into_os_string()];
    let set = remind_as(&sb, &program, folders.each_ref().map(|f| f.as_os_str()), &["--between", "00:00-24:00"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let unit = parsed(&units(&sb).join("backease-remind.service"));

    // The upgrade, as the notification is shown: a new program at the
    // same path, which says how it was run.
    let started = sb.path().join("started");
    let (path, said) = (program.clone(), started.clone());
    let upgrade = move || {
        let new = path.with_file_name(".backease.new");
        std::fs::write(&new, format!("#!/bin/sh\necho \"$0 $*\" > '{}'\n", said.display())).unwrap();
        std::fs::set_permissions(&new, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::rename(&new, &path).unwrap();
    };
    let bus = PrivateBus::start();
    let (_service, shown, _) = notifications_with(&bus, Then::Choose("start"), upgrade);

    // As systemd runs it: the unit's program and environment.
    let mut cmd = Command::new(OsStr::from_bytes(&unit.program));
    cmd.args(["remind", "--fire"])
        .envs(unit.env.iter().map(|e| e.split_once('=').unwrap()))
        .env("HOME", sb.path())
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("TZ", "UTC")
        .current_dir(sb.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, out, err) = Fire(cmd.spawn().unwrap()).end();
    assert_eq!(shown.lock().unwrap().len(), 1);
    assert_eq!((code, out.as_str()), (0, "Reminded of the deep spinal (0 today).\nStarting deep-spinal.\n"), "{err}");
    let ran = std::fs::read_to_string(&started).unwrap();
    assert_eq!(ran, format!("{} play deep-spinal --quiet\n", program.display()));
}
