//! `play` through a real sound server: PulseAudio with a null sink, started
//! by the test, its output recorded from the sink's monitor with `parec`
//! and compared with `render` of the same routine.

use std::time::Duration;

use crate::support::{Pulse, RECORD_RATE, Sandbox, onsets, read_raw, stop};

/// Single words and chimes with clear gaps between them, so each sound is
/// one onset.
const ROUTINE: &str = r#"Routine(
    title: "Live",
    summary: "Short sounds with gaps",
    defaults: (hold: "2500ms"),
    steps: [
        Chime("tick"),
        Pause("700ms"),
        Say("one"),
        Pause("800ms"),
        Chime("soft"),
        Pause("400ms"),
        Hold(cues: [At("1s", "two")]),
        Say("three"),
        Pause("600ms"),
        Chime("tick"),
        Pause("500ms"),
    ],
)"#;

#[test]
fn play_sounds_like_render() {
    let sb = Sandbox::new();
    let script = sb.write("live.ron", ROUTINE);
    let render = sb.run(&["render", script.to_str().unwrap(), "-o", "live.wav"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    let rendered = backease::wav::parse(&std::fs::read(sb.path().join("live.wav")).unwrap()).unwrap();
    assert_eq!(rendered.rate, RECORD_RATE);
    let expected = onsets(&rendered.samples);
    assert_eq!(expected.len(), 6, "tick, one, soft, two, three, tick: {expected:?}");

    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    std::thread::sleep(Duration::from_millis(300));
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    // The audio thread prints the time of its first sample: it must not
    // stall behind the main thread's use of stderr.
    cmd.env("BACKEASE_TIMING", "1");
    pulse.apply(&mut cmd);
    let out = cmd.output().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("“three”"), "one line per step: {stdout}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timing: first sample taken"));
    // No session bus here: one warning, and the session plays all the same.
    assert_eq!(stderr.matches("warning: headset and media buttons will not work").count(), 1, "{stderr}");

    let heard = onsets(&read_raw(&recording));
    assert_eq!(heard.len(), expected.len(), "heard {heard:?}, rendered {expected:?}");
    let shift = heard[0] - expected[0];
    let errors: Vec<String> =
        heard.iter().zip(&expected).map(|(h, e)| format!("{:.1}", ((h - shift) - e) * 1000.0)).collect();
    eprintln!("onset errors after aligning the first (ms): {}", errors.join(", "));
    for (h, e) in heard.iter().zip(&expected) {
        let error_ms = ((h - shift) - e).abs() * 1000.0;
        assert!(
            error_ms <= 20.0,
            "onset at {e:.3} s heard {error_ms:.1} ms off (heard {heard:?}, rendered {expected:?})"
        );
    }
}
