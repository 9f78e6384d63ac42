//! Headset and media buttons for real: a private D-Bus session bus started
//! by the test, MPRIS calls sent with dbus-send, and the player's own
//! account of what happened.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{PrivateBus, Pulse, Sandbox, Watched};

/// Calls backease's MPRIS player method on the test's bus; retries while
/// backease registers.
fn call(bus: &PrivateBus, method: &str) {
    let start = Instant::now();
    loop {
        let ok = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .args(["--session", "--print-reply", "--dest=org.mpris.MediaPlayer2.backease", "/org/mpris/MediaPlayer2"])
            .arg(format!("org.mpris.MediaPlayer2.Player.{method}"))
            .output()
            .unwrap()
            .status
            .success();
        if ok {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "backease never answered {method} on the bus");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn media_buttons_pause_resume_skip_and_stop() {
    let sb = Sandbox::new();
    let script = sb.write(
        "mp.ron",
        r#"Routine(title: "Media", summary: "s", steps: [Say("One."), Pause("20s"), Say("Two."), Pause("4s")])"#,
    );
    assert_eq!(sb.run(&["render", script.to_str().unwrap(), "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let play = Watched::spawn(cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address));
    let wait_for = |needle: &str| play.wait_for(needle, Duration::from_secs(20));
    wait_for("pause    20s");
    call(&bus, "PlayPause");
    wait_for("paused");
    call(&bus, "Play");
    wait_for("resumed");
    let started = Instant::now();
    call(&bus, "Next");
    let two = wait_for("“Two.”");
    assert!(started.elapsed() < Duration::from_secs(10), "skipped, not waited out: {two}");
    // Two quick presses of play/pause: "where am I", not pause and resume.
    call(&bus, "PlayPause");
    call(&bus, "PlayPause");
    assert!(wait_for("to go.").contains("One round."));
    // Stop finishes the round (the last here) and its closing (none).
    call(&bus, "Stop");
    wait_for("last round: the closing follows");
    assert_eq!(wait_for("Session complete."), "Session complete.");
    let (status, stderr) = play.end(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("media buttons will not work"), "{stderr}");
}

#[test]
fn a_session_bus_that_hangs_does_not_hold_the_start() {
    let sb = Sandbox::new();
    let script = sb.write("mp.ron", r#"Routine(title: "Media", summary: "s", steps: [Chime("tick"), Pause("20s")])"#);
    assert_eq!(sb.run(&["render", script.to_str().unwrap(), "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    // A bus that takes the connection and never answers.
    let socket = sb.path().join("silent-bus.sock");
    let silent = crate::support::SilentSocket::start(&socket);
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let started = Instant::now();
    let play = Watched::spawn(cmd.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", socket.display())));
    play.wait_for("pause", Duration::from_secs(8));
    let took = started.elapsed();
    play.signal("INT");
    let (status, stderr) = play.end(Duration::from_secs(20));
    drop(silent);
    assert!(took < Duration::from_secs(8), "playing after {took:?}: {stderr}");
    assert!(stderr.contains("the session bus did not answer within 2 s"), "{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
}

#[test]
fn a_session_bus_that_stops_answering_mid_session_does_not_hold_the_end() {
    let sb = Sandbox::new();
    let script = sb.write("mp.ron", r#"Routine(title: "Media", summary: "s", steps: [Chime("tick"), Pause("20s")])"#);
    assert_eq!(sb.run(&["render", script.to_str().unwrap(), "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let bus = PrivateBus::start();
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let mut play = Watched::spawn(cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address));
    play.wait_for("pause", Duration::from_secs(20));
    call(&bus, "PlayPause");
    play.wait_for("paused", Duration::from_secs(20));
    // The bus freezes; then the session is stopped.
    let frozen = Command::new("kill").args(["-STOP", &bus.pid().to_string()]).status().unwrap();
    assert!(frozen.success());
    let sent = Instant::now();
    play.signal("INT");
    let ended = play.wait_timeout(Duration::from_secs(10)).is_some();
    let took = sent.elapsed();
    let _ = Command::new("kill").args(["-CONT", &bus.pid().to_string()]).status();
    let (status, _) = play.end(Duration::from_secs(10));
    assert!(ended, "still running {took:?} after Ctrl-C");
    assert_eq!(status.code(), Some(130), "after {took:?}");
    assert!(took < Duration::from_secs(4), "ended {took:?} after Ctrl-C");
}
