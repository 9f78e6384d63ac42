//! The system voice against a real speech-dispatcher, started by the test
//! on a socket of its own (and stopped after), speaking into the test's
//! PulseAudio server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Guarded, Pulse, Sandbox};

struct SpeechDaemon {
    child: Guarded,
    socket: std::path::PathBuf,
}

impl SpeechDaemon {
    fn start(sb: &Sandbox, pulse: &Pulse) -> SpeechDaemon {
        let socket = sb.path().join("speechd.sock");
        let logs = sb.path().join("speechd-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let mut cmd = Command::new("speech-dispatcher");
        pulse.apply(&mut cmd);
        let child = Guarded::spawn(
            cmd.args(["-s", "-t", "0", "-c", "unix_socket", "-S"])
                .arg(&socket)
                .arg("-P")
                .arg(sb.path().join("speechd.pid"))
                .arg("-L")
                .arg(&logs)
                .env("HOME", sb.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "speech-dispatcher did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        SpeechDaemon { child, socket }
    }

    fn address(&self) -> String {
        format!("unix_socket:{}", self.socket.display())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ROUTINE: &str = r#"Routine(title: "System", summary: "s", steps: [
    Chime("tick"),
    Say("Place the ball beside your spine."),
    Hold(length: "3s", cues: [At("1s", "breathe")]),
    Say("Done."),
    Chime("tick"),
])"#;

fn play(sb: &Sandbox, pulse: &Pulse, address: &str) -> (Guarded, Instant) {
    let script = sb.write("sys.ron", ROUTINE);
    let mut cmd = sb.command(&["play", script.to_str().unwrap(), "--engine", "system", "--verbose"]);
    pulse.apply(&mut cmd);
    let child = Guarded::spawn(cmd.env("SPEECHD_ADDRESS", address).stdout(Stdio::piped()).stderr(Stdio::piped()));
    (child, Instant::now())
}

#[test]
fn the_system_voice_speaks_each_step_and_waits_for_it() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let daemon = SpeechDaemon::start(&sb, &pulse);
    let (child, started) = play(&sb, &pulse, &daemon.address());
    let out = child.output_within(Duration::from_secs(60));
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("speech: the system voice"), "{stderr}");
    assert!(stdout.contains("say      “Place the ball beside your spine.”"), "{stdout}");
    assert!(stdout.contains("say      “Done.”"), "{stdout}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
    // The hold is 3 s; the speech adds a few seconds. Waiting out the
    // give-up bounds instead of the callbacks would take over 10 s.
    assert!(elapsed > Duration::from_secs(4), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "the end callbacks were not used: {elapsed:?}");
}

#[test]
fn a_session_finishes_when_the_daemon_dies_midway() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let mut daemon = SpeechDaemon::start(&sb, &pulse);
    let (child, _) = play(&sb, &pulse, &daemon.address());
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill();
    let out = child.output_within(Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
}

#[test]
fn no_daemon_falls_back_to_espeak_with_one_warning() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let missing = format!("unix_socket:{}", sb.path().join("nobody-listens.sock").display());
    let (child, _) = play(&sb, &pulse, &missing);
    let out = child.output_within(Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("warning: the system voice is not available").count(), 1, "{stderr}");
    assert!(stderr.contains("using espeak-ng instead"), "{stderr}");
    assert!(stderr.contains("speech: espeak-ng"), "{stderr}");
}

#[test]
fn a_daemon_that_hangs_on_connect_is_given_up_on() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    // A socket that accepts connections and never answers.
    let socket = sb.path().join("silent.sock");
    let silent = crate::support::SilentSocket::start(&socket);
    let (child, started) = play(&sb, &pulse, &format!("unix_socket:{}", socket.display()));
    let out = child.output_within(Duration::from_secs(60));
    drop(silent);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("(the speech service did not answer within 5 s); using espeak-ng instead"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn ctrl_c_while_a_hung_daemon_is_connected_to_stops_at_once() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    // A socket that says when it has a caller, and never answers.
    let socket = sb.path().join("silent.sock");
    let mut silent = crate::support::SilentSocket::start(&socket);
    let (mut child, _) = play(&sb, &pulse, &format!("unix_socket:{}", socket.display()));
    silent.wait_for_a_caller();
    let sent = Instant::now();
    child.signal("INT");
    child.wait_timeout(Duration::from_secs(4));
    let took = sent.elapsed();
    let _ = child.kill();
    let out = child.output_within(Duration::from_secs(60));
    drop(silent);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(1), "stopped {took:?} after Ctrl-C: {stderr}");
    assert!(stderr.contains("stopped by Ctrl-C while connecting to the system voice"), "{stderr}");
}

#[test]
fn render_says_plainly_it_cannot_use_the_system_voice() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "deep-spinal", "--engine", "system", "-o", "x.wav"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("render cannot use the system voice"), "{}", run.stderr);
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn voices_of_the_system_voice_are_your_language_and_english_unless_all() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let daemon = SpeechDaemon::start(&sb, &pulse);
    let voices = |all: bool| {
        let mut args = vec!["voices", "--engine", "system"];
        if all {
            args.push("--all");
        }
        let mut cmd = sb.command(&args);
        let run = crate::support::run_within(
            Duration::from_secs(30),
            cmd.env("SPEECHD_ADDRESS", daemon.address()).env("LANG", "de_DE.UTF-8"),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    let some = voices(false);
    let all = voices(true);
    let heads = |text: &str| text.lines().filter(|l| l.ends_with(':') && !l.starts_with(' ')).count();
    assert_eq!(heads(&some), 2, "German, then English:\n{some}");
    assert!(some.lines().any(|l| l == "de:") && some.lines().any(|l| l == "en:"), "{some}");
    assert!(heads(&all) > 10, "{}", all.lines().take(20).collect::<Vec<_>>().join("\n"));
    let rows = |text: &str| text.lines().filter(|l| l.contains(" system ")).count();
    let left: usize = some
        .lines()
        .find_map(|l| l.strip_suffix(" voices in other languages than de and English left out: --all shows them"))
        .unwrap_or_else(|| panic!("no count of the voices left out:\n{some}"))
        .parse()
        .unwrap();
    assert_eq!(rows(&some) + left, rows(&all));
    assert!(rows(&some) < rows(&all) / 5, "{} of {}", rows(&some), rows(&all));
    drop(daemon);
}
