//! Reminders for real: the unit files checked by systemd's own
//! `systemd-analyze`, and `remind --fire` against a notification service
//! of the test's own on a private D-Bus, its "Start" seen as a session on
//! the test's sound server.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Timelike;

use crate::support::{PrivateBus, Pulse, Sandbox, Service};

fn units(sb: &Sandbox) -> std::path::PathBuf {
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
    let conn = backease::practice::open(&sb.path().join("data/backease/log.sqlite")).unwrap();
    let now = chrono::Utc::now().timestamp();
    for (i, (point, _)) in backease::practice::POINTS.iter().enumerate() {
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
