//! One length everywhere: `list`, `check`, `show` and `render` give the same
//! length for a routine once its speech exists, mark a guess as one before,
//! and measure sound files from the start.

use crate::support::Sandbox;

/// The `mm:ss` (with its `≈`, if any) that follows `before` in `text`.
#[track_caller]
fn length_after(text: &str, before: &str) -> String {
    let at = text.find(before).unwrap_or_else(|| panic!("{before:?} in {text}")) + before.len();
    text[at..].chars().skip_while(|c| *c == ' ').take_while(|c| *c == '≈' || *c == ':' || c.is_ascii_digit()).collect()
}

#[test]
fn every_command_gives_the_same_length_once_speech_exists() {
    let sb = Sandbox::new();
    let lengths = |sb: &Sandbox| {
        let list = sb.run(&["list"]).stdout;
        let check = sb.run(&["check", "gluteus-medius"]).stdout;
        let show = sb.run(&["show", "gluteus-medius"]).stdout;
        let json: serde_json::Value =
            serde_json::from_str(&sb.run(&["show", "gluteus-medius", "--json"]).stdout).unwrap();
        (
            length_after(&list, "gluteus-medius"),
            length_after(&check, "ok ("),
            length_after(&show, "1 round · "),
            json["estimated"].as_bool().unwrap(),
        )
    };
    // Before any speech is made: an estimate, marked as one everywhere.
    let (list, check, show, estimated) = lengths(&sb);
    assert!(list.starts_with('≈'), "{list}");
    assert_eq!((&check, &show, estimated), (&list, &list, true));
    let run = sb.run(&["render", "gluteus-medius", "-o", "g.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rendered = length_after(&run.stdout, "wrote g.wav (");
    // After: the real length, the same everywhere.
    let (list, check, show, estimated) = lengths(&sb);
    assert!(!rendered.starts_with('≈'));
    assert_eq!((list, check, show, estimated), (rendered.clone(), rendered.clone(), rendered, false));
}

#[test]
fn headers_claim_only_what_the_routine_has() {
    let sb = Sandbox::new();
    // Strokes only: no hold to speak of.
    let show = sb.run(&["show", "gluteus-medius"]).stdout;
    assert!(!show.lines().nth(2).unwrap().contains("hold"), "{show}");
    let show = sb.run(&["show", "deep-spinal", "--hold", "30s"]).stdout;
    assert!(show.lines().nth(2).unwrap().starts_with("hold 30s · 1 round · ≈"), "{show}");
}

#[test]
fn sound_files_have_their_real_length_from_the_start() {
    let sb = Sandbox::new();
    // The bell is 2.5 s long; a guess would have said 1 s.
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds/bell.wav"), sb.path().join("b.wav")).unwrap();
    let script = sb.write("s.ron", r#"Routine(title: "T", summary: "S", steps: [Sound("b.wav"), Pause("1s")])"#);
    let json: serde_json::Value =
        serde_json::from_str(&sb.run(&["show", script.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(json["events"][0]["length_ms"], 2500);
    // No speech at all: nothing to guess, so the length is exact.
    assert_eq!((json["total_ms"].as_u64(), json["estimated"].as_bool()), (Some(3500), Some(false)));
}

#[test]
fn sides_inside_sides_is_warned_about_where_it_is_written() {
    let sb = Sandbox::new();
    let script = sb.write(
        "n.ron",
        "Routine(title: \"T\", summary: \"S\", steps: [\n  Sides([\n    Sides([Say(\"{side}\")]),\n  ]),\n])\n",
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 0, "a warning, not an error: {}", run.stderr);
    assert!(
        run.stderr.contains("n.ron:3:5: warning: Sides inside Sides plays these steps four times"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("ok (") && run.stdout.contains("1 warning"), "{}", run.stdout);
}

#[test]
fn a_session_announces_the_length_it_plays_once_its_speech_is_cached() {
    use crate::support::{Pulse, Watched};
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    sb.write("config/backease/config.ron", r#"Config(engine: "espeak")"#);
    for name in ["deep-spinal", "gluteus-medius", "quadratus-lumborum", "full-back"] {
        let file = format!("{name}.wav");
        let run = sb.run(&["render", name, "-o", &file]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (_, rate, left, _) = crate::support::read_stereo_wav(&sb.path().join(&file));
        let frames = left.len() as u64;
        // The file is the timeline to the frame (`show` counts it in samples).
        let show: serde_json::Value = serde_json::from_str(&sb.run(&["show", name, "--json"]).stdout).unwrap();
        assert_eq!(show["estimated"], false, "{name}: the speech is cached");
        assert!(show["total_samples"].as_u64().unwrap().abs_diff(frames) <= 1, "{name}: {frames} frames, {show}");
        let length = backease::script::duration::clock(std::time::Duration::from_secs(frames / u64::from(rate)));
        // Reading a whole routine's speech from the cache may take longer
        // than the session waits to start: the length it announces is the
        // real one all the same, not the estimate.
        let mut cmd = sb.command(&["play", name]);
        pulse.apply(&mut cmd);
        let session = Watched::spawn(&mut cmd);
        let line = session.wait_for("Playing", std::time::Duration::from_secs(60));
        assert!(line.starts_with(&format!("Playing {name} ({length}) on ")), "{line}, rendered {length}");
    }
}

#[test]
fn a_hold_far_outside_the_advised_range_is_warned_about_once() {
    let sb = Sandbox::new();
    let warned = |args: &[&str]| {
        let run = sb.run(args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stderr.lines().filter(|l| l.starts_with("warning:")).map(str::to_string).collect::<Vec<_>>()
    };
    let advised = "the 30 s to a minute a point is advised to be held; it plays as asked";
    assert_eq!(
        warned(&["show", "deep-spinal", "--hold", "1s"]),
        [format!("warning: --hold 1s is far shorter than {advised}")]
    );
    assert_eq!(
        warned(&["show", "deep-spinal", "--hold", "10m"]),
        [format!("warning: --hold 10m is far longer than {advised}")]
    );
    assert!(warned(&["show", "deep-spinal", "--hold", "45s"]).is_empty());
    assert!(warned(&["show", "deep-spinal", "--hold", "2m"]).is_empty());
    // Strokes only: no hold takes it, so there is nothing to advise.
    assert!(!warned(&["show", "gluteus-medius", "--hold", "1s"]).iter().any(|w| w.contains("advised")));
    sb.write("config/backease/config.ron", r#"Config(hold: "5s")"#);
    assert_eq!(
        warned(&["show", "deep-spinal"]),
        [format!("warning: the settings file's hold of 5s is far shorter than {advised}")]
    );
}

#[test]
fn a_long_hold_says_the_time_left_in_a_render_too() {
    let sb = Sandbox::new();
    let script = sb.write("h.ron", r#"Routine(title: "H", summary: "S", steps: [Hold(length: "3m")])"#);
    let heard = |extra: &[&str]| {
        let run =
            sb.run(&[&["render", script.to_str().unwrap(), "--engine", "espeak", "-o", "h.wav"][..], extra].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (_, _, left, _) = crate::support::read_stereo_wav(&sb.path().join("h.wav"));
        crate::support::onsets(&left)
    };
    // Three minutes of silence would say nothing; each minute, the time left.
    let onsets = heard(&[]);
    assert_eq!(onsets.len(), 2, "{onsets:?}");
    assert!((onsets[0] - 60.0).abs() < 0.1 && (onsets[1] - 120.0).abs() < 0.1, "{onsets:?}");
    let show = sb.run(&["show", script.to_str().unwrap()]).stdout;
    assert!(show.contains("“2 minutes left.”") && show.contains("“1 minute left.”"), "{show}");
    assert!(heard(&["--hold-reminder", "off"]).is_empty());
    // Every 30 s, from the settings: from 2:30 left down to 0:30.
    sb.write("config/backease/config.ron", r#"Config(hold_reminder: "30s")"#);
    let onsets = heard(&[]);
    assert_eq!(onsets.len(), 5, "{onsets:?}");
    for (onset, at) in onsets.iter().zip([30.0, 60.0, 90.0, 120.0, 150.0]) {
        assert!((onset - at).abs() < 0.1, "{onsets:?}");
    }
}
