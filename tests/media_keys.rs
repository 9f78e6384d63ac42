//! Headset and media buttons for real: a private D-Bus session bus started
//! by the test, MPRIS calls sent with dbus-send, and the player's own
//! account of what happened.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Pulse, Sandbox};

/// A session bus of the test's own, stopped on drop.
struct Bus {
    address: String,
    pid: u32,
}

impl Bus {
    fn start() -> Bus {
        let out = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .output()
            .expect("dbus-daemon is installed (bash .ci/setup)");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let address = lines.next().expect("an address").to_string();
        let pid = lines.next().expect("a pid").trim().parse().unwrap();
        Bus { address, pid }
    }

    /// Calls an MPRIS player method; retries while the player registers.
    fn call(&self, method: &str) {
        let start = Instant::now();
        loop {
            let ok = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.mpris.MediaPlayer2.backease",
                    "/org/mpris/MediaPlayer2",
                ])
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
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
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
    let bus = Bus::start();
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let mut child = cmd
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = crossbeam_channel::unbounded();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let line = lines.recv_deadline(deadline).unwrap_or_else(|_| panic!("no line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    wait_for("pause    20s");
    bus.call("PlayPause");
    wait_for("paused");
    bus.call("Play");
    wait_for("resumed");
    let started = Instant::now();
    bus.call("Next");
    let two = wait_for("“Two.”");
    assert!(started.elapsed() < Duration::from_secs(10), "skipped, not waited out: {two}");
    // Two quick presses of play/pause: "where am I", not pause and resume.
    bus.call("PlayPause");
    bus.call("PlayPause");
    assert!(wait_for("to go.").contains("One round."));
    // Stop finishes the round (the last here) and its closing (none).
    bus.call("Stop");
    wait_for("last round: the closing follows");
    assert_eq!(wait_for("Session complete."), "Session complete.");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
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
    let mut child = cmd
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", socket.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let playing = lines.any(|l| l.is_ok_and(|l| l.contains("pause")));
    let took = started.elapsed();
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    drop(silent);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(playing && took < Duration::from_secs(8), "playing after {took:?}: {stderr}");
    assert!(stderr.contains("the session bus did not answer within 2 s"), "{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
}

#[test]
fn a_session_bus_that_stops_answering_mid_session_does_not_hold_the_end() {
    let sb = Sandbox::new();
    let script = sb.write("mp.ron", r#"Routine(title: "Media", summary: "s", steps: [Chime("tick"), Pause("20s")])"#);
    assert_eq!(sb.run(&["render", script.to_str().unwrap(), "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let bus = Bus::start();
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let mut child =
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains("pause"))));
    bus.call("PlayPause");
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains("paused"))));
    // The bus freezes; then the session is stopped.
    let _ = Command::new("kill").args(["-STOP", &bus.pid.to_string()]).status();
    let sent = Instant::now();
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    while child.try_wait().unwrap().is_none() && sent.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    let _ = child.kill();
    let status = child.wait().unwrap();
    let _ = Command::new("kill").args(["-CONT", &bus.pid.to_string()]).status();
    assert_eq!(status.code(), Some(130), "after {took:?}");
    assert!(took < Duration::from_secs(4), "ended {took:?} after Ctrl-C");
}
