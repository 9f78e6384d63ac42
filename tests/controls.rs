//! The live controls, pressed for real: the binary runs in a terminal
//! (tmux), keys are sent to it, and what it played is recorded from a
//! PulseAudio null sink.

use std::time::Duration;

use crate::support::{Pulse, RECORD_RATE, Sandbox, Tmux, onsets, pane_command, read_raw, stop};

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
    let tick_len = backease::audio::sound::chime(backease::script::Chime::Tick).len() as f64 / RECORD_RATE as f64;
    let engine = backease::speech::espeak::Espeak::new(Default::default()).unwrap();
    let resuming_len = backease::speech::Engine::synthesize(&engine, "Resuming.").unwrap().len() as f64
        / backease::speech::ENGINE_RATE as f64;
    let held_before = paused - (tick + tick_len);
    let expected = resuming_len + backease::play::player::LEAD_IN.as_secs_f64() + (3.0 - held_before);
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

/// `--quiet` quiets the screen, not the keys: `q` still stops, and the
/// terminal is restored.
#[test]
fn the_keys_work_with_quiet() {
    let sb = Sandbox::new();
    sb.write("q.ron", r#"Routine(title: "Q", summary: "s", steps: [Chime("tick"), Pause("30s"), Chime("tick")])"#);
    assert_eq!(sb.run(&["render", "q.ron", "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, "play --quiet q.ron"));
    // The first tick is heard: it is playing.
    let began = std::time::Instant::now();
    while onsets(&read_raw(&recording)).is_empty() {
        assert!(began.elapsed() < Duration::from_secs(20), "nothing heard");
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.keys("q");
    let screen = tmux.wait_for("icanon", Duration::from_secs(10));
    stop(recorder);
    assert!(screen.contains("EXIT=0\nicanon"), "q stopped it, terminal restored:\n{screen}");
    assert!(!screen.contains("Stopped."), "quiet: nothing printed\n{screen}");
}
