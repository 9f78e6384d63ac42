//! `--pause-others` for real: a session bus of the test's own, media
//! players of the test's own on it (MPRIS services that record the calls
//! they get), and the real binary playing on a null sink.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{PrivateBus, Pulse, Sandbox, Service, Watched};

/// An MPRIS player: it answers `PlaybackStatus`, `Pause` and `Play`, and
/// records each `Pause` and `Play` it is sent.
struct Player {
    calls: Arc<Mutex<Vec<String>>>,
    status: Arc<Mutex<String>>,
    _service: Service,
}

impl Player {
    fn start(bus: &PrivateBus, name: &str, status: &str) -> Player {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(status.to_string()));
        let (c, s) = (calls.clone(), status.clone());
        let service = Service::start(bus, &format!("org.mpris.MediaPlayer2.{name}"), move |msg| {
            let reply = match msg.member().as_deref() {
                Some("Get") if msg.read2::<&str, &str>().is_ok_and(|(_, p)| p == "PlaybackStatus") => {
                    msg.method_return().append1(dbus::arg::Variant(s.lock().unwrap().clone()))
                }
                Some(m @ ("Pause" | "Play")) => {
                    c.lock().unwrap().push(m.to_string());
                    *s.lock().unwrap() = if m == "Pause" { "Paused" } else { "Playing" }.to_string();
                    msg.method_return()
                }
                _ => msg.error(&"org.freedesktop.DBus.Error.UnknownMethod".into(), c"not in this test"),
            };
            vec![reply]
        });
        Player { calls, status, _service: service }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn status(&self) -> String {
        self.status.lock().unwrap().clone()
    }
}

/// backease playing, killed on drop.
struct Session(Watched);

impl Session {
    fn start(sb: &Sandbox, pulse: &Pulse, bus: &PrivateBus, args: &[&str]) -> Session {
        let mut cmd = sb.command(args);
        pulse.apply(&mut cmd);
        Session(Watched::spawn(cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address)))
    }

    /// Waits for the session's first pause: it is playing.
    fn wait_playing(&self) {
        self.0.wait_for("pause", Duration::from_secs(20));
    }

    /// Waits (at most 20 s) for the end: the exit code and stderr.
    fn end(self) -> (i32, String) {
        let (status, stderr) = self.0.end(Duration::from_secs(20));
        (status.code().unwrap_or(-1), stderr)
    }
}

fn routine(sb: &Sandbox, pause: &str) -> String {
    let text = format!(r#"Routine(title: "Music", summary: "s", steps: [Chime("tick"), Pause("{pause}")])"#);
    sb.write("music.ron", &text).to_str().unwrap().to_string()
}

#[test]
fn the_players_playing_are_paused_for_the_session_and_resumed_after() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let music = Player::start(&bus, "music", "Playing");
    let idle = Player::start(&bus, "idle", "Paused");
    let script = routine(&sb, "2s");

    // Not asked for: nothing is touched.
    let (code, stderr) = Session::start(&sb, &pulse, &bus, &["play", &script]).end();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(music.calls(), Vec::<String>::new());

    let session = Session::start(&sb, &pulse, &bus, &["play", &script, "--pause-others"]);
    session.wait_playing();
    assert_eq!((music.calls(), music.status()), (vec!["Pause".to_string()], "Paused".to_string()));
    let (code, stderr) = session.end();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((music.calls(), music.status()), (vec!["Pause".to_string(), "Play".to_string()], "Playing".into()));
    // A player that was not playing is left alone, before and after.
    assert_eq!((idle.calls(), idle.status()), (Vec::<String>::new(), "Paused".to_string()));
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn the_setting_pauses_too_and_sigterm_resumes() {
    let sb = Sandbox::new();
    sb.write("config/backease/config.ron", "Config(pause_others: true)");
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let music = Player::start(&bus, "music", "Playing");
    let session = Session::start(&sb, &pulse, &bus, &["play", &routine(&sb, "30s")]);
    session.wait_playing();
    assert_eq!(music.calls(), ["Pause"]);
    session.0.signal("TERM");
    let (code, stderr) = session.end();
    assert_eq!(code, 143, "{stderr}");
    assert_eq!((music.calls(), music.status()), (vec!["Pause".to_string(), "Play".to_string()], "Playing".into()));
}

#[test]
fn a_player_that_hangs_costs_a_moment_and_one_warning() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    // Asked first (the names are sorted), and it never answers.
    let _stuck = Service::silent(&bus, "org.mpris.MediaPlayer2.astuck");
    let music = Player::start(&bus, "music", "Playing");
    let started = Instant::now();
    let session = Session::start(&sb, &pulse, &bus, &["play", &routine(&sb, "1s"), "--pause-others"]);
    session.wait_playing();
    assert_eq!(music.calls(), ["Pause"], "the others are still asked");
    let (code, stderr) = session.end();
    let took = started.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(music.calls(), ["Pause", "Play"]);
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(stderr.contains("warning: a media player was not paused (astuck: it did not answer in time)"), "{stderr}");
    // A 1 s session; the player that hangs may cost a quarter of a second.
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[test]
fn no_session_bus_is_one_warning_and_the_session_plays() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", &routine(&sb, "1s"), "--pause-others"]);
    pulse.apply(&mut cmd);
    let run = sb.run_within(Duration::from_secs(20), &mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("warning").count(), 2, "{}", run.stderr);
    assert!(run.stderr.contains("warning: other media players were not paused ("), "{}", run.stderr);
    assert!(run.stderr.contains("media buttons will not work"), "{}", run.stderr);
}

#[test]
fn the_sound_server_lost_ends_the_session_and_resumes_the_players() {
    let sb = Sandbox::new();
    let mut pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let music = Player::start(&bus, "music", "Playing");
    let session = Session::start(&sb, &pulse, &bus, &["play", &routine(&sb, "30s"), "--pause-others"]);
    session.wait_playing();
    assert_eq!(music.calls(), ["Pause"]);
    pulse.kill();
    let (code, stderr) = session.end();
    assert_eq!(code, 4, "{stderr}");
    assert_eq!((music.calls(), music.status()), (vec!["Pause".to_string(), "Play".to_string()], "Playing".into()));
}

#[test]
fn a_bus_that_hangs_costs_at_most_its_budget() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let socket = sb.path().join("silent-bus.sock");
    let _silent = crate::support::SilentSocket::start(&socket);
    let script = routine(&sb, "1s");
    let timed = |pause_others: bool| {
        let mut args = vec!["play", script.as_str()];
        if pause_others {
            args.push("--pause-others");
        }
        let mut cmd = sb.command(&args);
        pulse.apply(&mut cmd);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", socket.display()));
        let started = Instant::now();
        let run = sb.run_within(Duration::from_secs(30), &mut cmd);
        assert_eq!(run.code, 0, "{}", run.stderr);
        (started.elapsed(), run.stderr)
    };
    let (without, _) = timed(false);
    let (with, stderr) = timed(true);
    assert_eq!(stderr.matches("warning: other media players").count(), 1, "{stderr}");
    assert!(stderr.contains("(the session bus did not answer within 1 s)"), "{stderr}");
    // The budget is 1 s, and a little for the thread's own calls to end.
    let cost = with.saturating_sub(without);
    assert!(cost < Duration::from_millis(1600), "pausing cost {cost:?} ({with:?} against {without:?})");
}
