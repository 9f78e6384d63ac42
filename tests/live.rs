//! `play` through a real sound server: PulseAudio with a null sink, started
//! by the test, its output recorded from the sink's monitor with `parec`
//! and compared with `render` of the same routine, each channel.

use std::time::Duration;

use crate::support::{Bounded, Pulse, RECORD_RATE, Sandbox, onsets, read_raw_stereo, stop};

/// Single words and chimes with clear gaps between them, so each sound is
/// one onset; the last two words from the left, then the right.
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
        Sides([Say("{side}"), Pause("500ms")]),
    ],
)"#;

#[test]
fn play_sounds_like_render() {
    let sb = Sandbox::new();
    let script = sb.write("live.ron", ROUTINE);
    let render = sb.run(&["render", script.to_str().unwrap(), "-o", "live.wav"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    // The WAV as written: 44 bytes of header, then interleaved frames.
    let wav = std::fs::read(sb.path().join("live.wav")).unwrap();
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), RECORD_RATE);
    let frames =
        wav[44..].chunks_exact(4).map(|c| (i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])));
    let (left, right): (Vec<i16>, Vec<i16>) = frames.unzip();
    let expected = onsets(&left);
    assert_eq!(expected.len(), 8, "tick, one, soft, two, three, tick, left, right: {expected:?}");
    // The far ear hears a side cue quieter, so its onsets may come a window later.
    assert_eq!(onsets(&right).len(), expected.len(), "{:?}", onsets(&right));

    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    std::thread::sleep(Duration::from_millis(300));
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    // The audio thread prints the time of its first sample: it must not
    // stall behind the main thread's use of stderr.
    cmd.env("BACKEASE_TIMING", "1");
    pulse.apply(&mut cmd);
    let out = cmd.output_bounded();
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

    let (heard_left, heard_right) = read_raw_stereo(&recording);
    let heard = onsets(&heard_left);
    assert_eq!(heard.len(), expected.len(), "heard {heard:?}, rendered {expected:?}");
    assert_eq!(onsets(&heard_right).len(), expected.len(), "the right channel: {:?}", onsets(&heard_right));
    // Each channel heard as rendered: the side cues lean to their side by
    // the same figure (a device that mixed down would give 0 dB).
    let energy = |x: &[i16]| x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
    let balance = |l: &[i16], r: &[i16], at: f64| {
        let from = (at * RECORD_RATE as f64) as usize;
        let to = (from + RECORD_RATE as usize / 2).min(l.len());
        10.0 * (energy(&l[from..to]) / energy(&r[from..to])).log10()
    };
    for i in [6, 7] {
        let want = balance(&left, &right, expected[i]);
        let got = balance(&heard_left, &heard_right, heard[i]);
        assert!(want.abs() > 9.0, "the side cue leans: {want:.1} dB");
        assert!((got - want).abs() < 0.5, "a side cue heard at {got:.1} dB left over right, rendered {want:.1}");
    }
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

#[test]
fn no_session_bus_is_no_warning_and_a_broken_one_is_one_plain_sentence() {
    let sb = Sandbox::new();
    let script = sb.write("t.ron", r#"Routine(title: "T", summary: "S", steps: [Chime("tick"), Pause("200ms")])"#);
    let pulse = Pulse::start(&sb);
    let play = |bus_file: bool| {
        let runtime = sb.path().join(if bus_file { "with-bus" } else { "without-bus" });
        std::fs::create_dir_all(&runtime).unwrap();
        if bus_file {
            // Where a bus would listen, a socket nobody listens on (a bus
            // that died). A file that is no socket is not looked at.
            std::fs::write(runtime.join("not-a-socket"), "").unwrap();
            let bind = "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])";
            let made = std::process::Command::new("python3").args(["-I", "-c", bind]).arg(runtime.join("bus")).status();
            assert!(made.unwrap().success());
        }
        let mut cmd = sb.command(&["play", script.to_str().unwrap(), "--engine", "espeak"]);
        pulse.apply(&mut cmd);
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").env("XDG_RUNTIME_DIR", &runtime).env_remove("DISPLAY");
        let out = cmd.output_bounded();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // No address and no bus socket: none is expected, so nothing is said.
    let stderr = play(false);
    assert!(!stderr.contains("warning"), "{stderr}");
    // One is expected but cannot be reached: one warning, in plain words.
    let stderr = play(true);
    assert_eq!(
        stderr.trim_end(),
        "warning: headset and media buttons will not work: the session bus (D-Bus) could not be reached"
    );
}
