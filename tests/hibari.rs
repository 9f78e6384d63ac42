//! hibari's voice `heart` (installed by `.ci/setup` beside Piper), through
//! the real binary: the default voice, its cues trimmed of hibari's own
//! silence, the same sound every time it is made, the words a person says
//! for "3x", and its worker killed mid-session.

use std::time::Duration;

use crate::piper::{installed_python, piper_sandbox, render, samples};
use crate::support::Sandbox;

/// 10 ms blocks at the session's rate.
const BLOCK: usize = backease::script::timeline::SAMPLE_RATE as usize / 100;

/// Silence is under -60 dBFS: hibari's own is at -110 dBFS, and the quiet
/// end of a word (its last 40 ms fall from -35 to -50 dB under the peak)
/// is sound, not silence.
const SILENT: i32 = 33;

/// The say events of the rendered `short.ron` (exact, from the cache):
/// (start, length) in samples.
fn cues(sb: &Sandbox, python: &std::path::Path) -> Vec<(usize, usize)> {
    sb.write("config/backease/config.ron", "Config(engine: \"hibari\")");
    let o = sb.command(&["show", "short.ron", "--json"]).env("BACKEASE_PIPER_PYTHON", python).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let events = doc["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "say");
    events
        .map(|e| (e["start_sample"].as_u64().unwrap() as usize, e["length_samples"].as_u64().unwrap() as usize))
        .collect()
}

/// Seconds of silence at the start and at the end of `clip`.
fn silence_around(clip: &[i16]) -> (f64, f64) {
    let loud = |v: &i16| (*v as i32).abs() > SILENT;
    let first = clip.iter().position(loud).unwrap_or(clip.len());
    let last = clip.iter().rposition(loud).map_or(0, |i| i + 1);
    let rate = backease::script::timeline::SAMPLE_RATE as f64;
    (first as f64 / rate, (clip.len() - last) as f64 / rate)
}

/// The longest run of silent 10 ms blocks inside `clip`, in seconds.
fn longest_gap(clip: &[i16]) -> f64 {
    let (mut run, mut longest) = (0, 0);
    for block in clip.chunks(BLOCK) {
        run = if block.iter().all(|v| (*v as i32).abs() <= SILENT) { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest as f64 / 100.0
}

#[test]
fn hibari_is_the_default_voice_its_cues_are_trimmed_and_made_the_same_every_time() {
    let sb = piper_sandbox();
    let python = installed_python();
    let run = render(&sb, &python, &[], "a.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("hibari, voice heart (picked by auto), the default voice"), "{}", run.stderr);
    // One model load for the whole session, not one per cue.
    assert_eq!(run.stderr.matches("timing: hibari voice heart loaded").count(), 1, "{}", run.stderr);
    let a = samples(&sb, "a.wav");
    // hibari's quiet voice brought up to the others' level, with room to spare.
    let peak = a.iter().map(|v| (*v as i32).abs()).max().unwrap();
    assert!((12_000..30_000).contains(&peak), "peak {peak}");

    // Each cue starts and ends with its words, not hibari's 0.3 s and 0.46 s
    // of silence; the two sentences of the second are one gap apart (0.35 s,
    // not hibari's 0.8 s).
    let (_, _, left, right) = crate::support::read_stereo_wav(&sb.path().join("a.wav"));
    let mono: Vec<i16> = left.iter().zip(&right).map(|(&l, &r)| l.max(r)).collect();
    let cues = cues(&sb, &python);
    assert_eq!(cues.len(), 2, "{cues:?}");
    for &(start, len) in &cues {
        let (before, after) = silence_around(&mono[start..start + len]);
        assert!(before < 0.05 && after < 0.05, "{before} s of silence before the cue, {after} s after");
    }
    let (start, len) = cues[1];
    let gap = longest_gap(&mono[start..start + len]);
    assert!((0.25..0.5).contains(&gap), "{gap} s between the sentences");

    // From the cache the second time: no model load, the same sound.
    let run = render(&sb, &python, &[], "b.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("loaded"), "{}", run.stderr);
    assert_eq!(samples(&sb, "b.wav"), a);
    // Made again on a cold cache: the same sound, sample for sample (its
    // random part has a fixed seed), so the cache holds what it would make.
    std::fs::remove_dir_all(sb.path().join("cache")).unwrap();
    let run = render(&sb, &python, &[], "c.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("timing: hibari voice heart loaded").count(), 1, "{}", run.stderr);
    assert_eq!(samples(&sb, "c.wav"), a, "made again, the cues differ");
}

#[test]
fn hibari_says_what_a_person_would_for_numbers_and_units() {
    let sb = Sandbox::new();
    let python = installed_python();
    let routine = |text: &str| format!("Routine(title: \"N\", summary: \"n\", steps: [Say(\"{text}\")])");
    // Written for the eye, and as it is said: the same sound.
    for (name, text) in
        [("eye.ron", "Roll 3x, 30s each, from T12–L1."), ("ear.ron", "Roll 3 times, 30 seconds each, from T12 to L1.")]
    {
        sb.write(name, &routine(text));
        let out = name.replace(".ron", ".wav");
        let run = crate::support::run_within(
            crate::support::RUN_LIMIT,
            sb.command(&["render", name, "--engine", "hibari", "-o", &out]).env("BACKEASE_PIPER_PYTHON", &python),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(samples(&sb, "eye.wav"), samples(&sb, "ear.wav"));
}

#[test]
fn the_hibari_voice_killed_mid_session_is_started_again() {
    let (code, stderr) = crate::piper::render_killing_the_worker("hibari", "resident hibari", Duration::from_secs(90));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("hibari voice heart loaded").count(), 2, "{stderr}");
}

#[test]
fn voices_lists_hibaris_heart() {
    let sb = Sandbox::new();
    let o = sb.command(&["voices"]).env("BACKEASE_PIPER_PYTHON", installed_python()).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let heart = crate::voices::row(&stdout, "heart", "hibari");
    assert_eq!(heart[2..5].join(" "), "en-US female yes", "{stdout}");
    assert!(stdout.contains("hibari-tts 0.2.1"), "{stdout}");
    // First in the table: the voice auto speaks with.
    assert!(stdout.lines().nth(3).is_some_and(|l| l.trim_start().starts_with("heart ")), "{stdout}");
}
