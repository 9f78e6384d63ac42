//! The live controls, pressed for real: the binary runs in a terminal
//! (tmux), keys are sent to it, and what it played is recorded from a
//! PulseAudio null sink.

use std::time::{Duration, Instant};

use crate::support::{Pulse, RECORD_RATE, Sandbox, onsets, read_raw, stop};

struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    /// Runs `command` in a new detached tmux session on a private server.
    fn start(sb: &Sandbox, command: &str) -> Tmux {
        let t = Tmux { socket: sb.path().join("tmux.sock") };
        let ok = t.tmux(&["new-session", "-d", "-s", "s", "-x", "100", "-y", "20", command]).status.success();
        assert!(ok, "tmux starts");
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux is installed")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "s"]).stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "s", keys]);
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {text:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// The shell command that runs backease in the pane with this sandbox's
/// environment and the test's sound server, then reports how it ended.
fn pane_command(sb: &Sandbox, pulse: &Pulse, args: &str) -> String {
    let mut cmd = sb.command(&[]);
    pulse.apply(&mut cmd);
    let env: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}='{}'", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    format!(
        "cd '{}' && env {} '{}' {args}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' ; sleep 60",
        sb.path().display(),
        env.join(" "),
        env!("CARGO_BIN_EXE_backease")
    )
}

/// A routine written, its speech made once (so the session starts at
/// once), and played in a terminal with its own sound server.
fn play_in_terminal(sb: &Sandbox, name: &str, routine: &str) -> (Pulse, Tmux) {
    let file = format!("{name}.ron");
    sb.write(&file, routine);
    assert_eq!(sb.run(&["render", &file, "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(sb);
    let tmux = Tmux::start(sb, &pane_command(sb, &pulse, &format!("play {file}")));
    (pulse, tmux)
}

#[test]
fn space_pauses_a_hold_which_then_finishes_its_time() {
    let sb = Sandbox::new();
    let (pulse, tmux) = play_in_terminal(
        &sb,
        "pause",
        r#"Routine(title: "Pause", summary: "s", steps: [Chime("tick"), Hold(length: "3s"), Chime("tick"), Pause("500ms")])"#,
    );
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    tmux.wait_for("hold", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1000));
    tmux.keys("Space");
    tmux.wait_for("PAUSED", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(2000));
    tmux.keys("Space");
    let screen = tmux.wait_for("icanon", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    assert!(screen.contains("Session complete.\nEXIT=0\nicanon"), "ends well, terminal restored:\n{screen}");

    // tick, "Paused.", "Resuming.", tick.
    let heard = onsets(&read_raw(&recording));
    assert_eq!(heard.len(), 4, "{heard:?}");
    let (tick, paused, resuming, last) = (heard[0], heard[1], heard[2], heard[3]);
    assert!(resuming - paused > 1.8, "silence while paused: {heard:?}");
    // The hold went on for exactly what was left of it after the lead-in.
    let tick_len = backease::sound::chime(backease::script::Chime::Tick).len() as f64 / RECORD_RATE as f64;
    let engine = backease::speech::espeak::Espeak::new(Default::default()).unwrap();
    let resuming_len =
        backease::speech::Engine::synthesize(&engine, "Resuming.").unwrap().len() as f64 / RECORD_RATE as f64;
    let held_before = paused - (tick + tick_len);
    let expected = resuming_len + backease::player::LEAD_IN.as_secs_f64() + (3.0 - held_before);
    let got = last - resuming;
    assert!((got - expected).abs() < 0.05, "after resuming: {got:.3} s, expected {expected:.3} s ({heard:?})");
}

#[test]
fn n_skips_and_q_stops_with_a_restored_terminal() {
    let sb = Sandbox::new();
    let (pulse, tmux) = play_in_terminal(
        &sb,
        "skip",
        r#"Routine(title: "Skip", summary: "s", steps: [Chime("tick"), Pause("20s"), Chime("soft"), Pause("20s")])"#,
    );
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    tmux.wait_for("pause 20s", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys("n");
    tmux.wait_for("chime soft", Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(1500));
    tmux.keys("q");
    let screen = tmux.wait_for("icanon", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    assert!(screen.contains("Stopped.\nEXIT=0\nicanon"), "q exits 0 and restores the terminal:\n{screen}");
    // The tick, then "Next." over the soft chime well before the 20 s
    // pause would have ended, then "Stopping."; nothing after the stop
    // (the chime's quiet tail may cross the detector's threshold more than
    // once, so onsets are counted by when, not how many).
    let heard = onsets(&read_raw(&recording));
    assert!(heard.len() >= 2, "{heard:?}");
    assert!(heard[1] - heard[0] < 3.0, "skipped: {heard:?}");
    assert!(heard.iter().all(|&t| t - heard[0] < 5.0), "nothing after the stop: {heard:?}");
}

#[test]
fn ctrl_c_stops_like_q_with_exit_130() {
    let sb = Sandbox::new();
    let (_pulse, tmux) =
        play_in_terminal(&sb, "long", r#"Routine(title: "Long", summary: "s", steps: [Chime("tick"), Pause("30s")])"#);
    tmux.wait_for("pause 30s", Duration::from_secs(20));
    tmux.keys("C-c");
    let screen = tmux.wait_for("icanon", Duration::from_secs(10));
    assert!(screen.contains("Stopped.\nEXIT=130\nicanon"), "{screen}");
}
