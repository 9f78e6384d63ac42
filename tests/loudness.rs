//! Even loudness, measured as broadcasters do (EBU R128, by ffmpeg's
//! `ebur128` filter, not by our own meter): every cue of a rendered routine
//! at one level, the chimes under it, no true peak above -1 dBTP.

use std::path::Path;

use crate::support::{Sandbox, read_stereo_wav};

/// (integrated loudness in LUFS, true peak in dBTP) of a WAV file.
fn measure(path: &Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed (bash .ci/setup)");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |label: &str| -> f64 {
        let line = summary.lines().find(|l| l.trim_start().starts_with(label)).expect(label);
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

fn write_wav(path: &Path, samples: &[i16]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        backease::audio::wav::WavStream::new(file, backease::script::timeline::SAMPLE_RATE, 1, samples.len() as u64)
            .unwrap();
    w.write(samples).unwrap();
    w.finish().unwrap();
}

#[test]
fn cues_share_one_loudness_and_chimes_sit_under_it() {
    let sb = Sandbox::new();
    // hibari and Piper are found where `.ci/setup` installs them.
    let python = crate::piper::installed_python();
    let backease = |args: &[&str]| {
        crate::support::run_within(crate::support::RUN_LIMIT, sb.command(args).env("BACKEASE_PIPER_PYTHON", &python))
    };
    // Every voice, over every built-in cue (full-back has them all):
    // hibari and Piper's sharpest consonants stand 20 dB over their
    // loudness, and are limited rather than the cue turned down.
    for engine in ["espeak", "flite", "hibari", "piper"] {
        let routine = "full-back";
        let run = backease(&["render", routine, "--engine", engine, "-o", "r.wav"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (_, _, left, right) = read_stereo_wav(&sb.path().join("r.wav"));
        let (_, peak) = measure(&sb.path().join("r.wav"));
        assert!(peak <= -1.0, "{engine}: true peak {peak} dBTP");

        sb.write("config/backease/config.ron", &format!("Config(engine: \"{engine}\")"));
        let show = backease(&["show", routine, "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        let mut cues = Vec::new();
        let mut chimes = Vec::new();
        for (i, e) in doc["events"].as_array().unwrap().iter().enumerate() {
            let (start, len) =
                (e["start_sample"].as_u64().unwrap() as usize, e["length_samples"].as_u64().unwrap() as usize);
            // R128's integrated loudness needs a few of its 400 ms blocks.
            if len < backease::script::timeline::SAMPLE_RATE as usize * 3 / 2 {
                continue;
            }
            // What the nearer ear hears: the cues of Sides come from their
            // side, at the voice's level there (the far ear 9.8 dB under).
            let mut loudness = f64::MIN;
            for (c, channel) in [&left, &right].into_iter().enumerate() {
                let slice = sb.path().join(format!("event{i}-{c}.wav"));
                write_wav(&slice, &channel[start..start + len]);
                loudness = loudness.max(measure(&slice).0);
            }
            match e["kind"].as_str().unwrap() {
                "say" => cues.push(loudness),
                "chime" => chimes.push(loudness),
                _ => {}
            }
        }
        assert!(cues.len() >= 10, "{engine}: {cues:?}");
        let (low, high) = cues.iter().fold((f64::MAX, f64::MIN), |(l, h), &c| (l.min(c), h.max(c)));
        assert!(high - low <= 1.0, "{engine}: cue loudness from {low} to {high} LUFS");
        let voice = (low + high) / 2.0;
        assert!((voice - backease::audio::loudness::SPEECH_LUFS).abs() <= 1.0, "{engine}: voice at {voice} LUFS");
        assert!(!chimes.is_empty());
        for c in chimes {
            assert!((2.0..8.0).contains(&(voice - c)), "{engine}: a chime at {c} LUFS, the voice at {voice}");
        }
    }
}
