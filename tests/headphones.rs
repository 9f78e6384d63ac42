//! Sound made for headphones, checked in what `render` writes: every source
//! resampled to the session's 48 kHz without dulling or aliasing, and the
//! cues of `Sides` from the side being worked on.

use crate::support::{Sandbox, read_stereo_wav};

use backease::script::timeline::SAMPLE_RATE;

/// A rendered WAV: its channels and rate, and each channel's samples.
struct Wav {
    channels: u16,
    rate: u32,
    left: Vec<i16>,
    right: Vec<i16>,
}

fn read(sb: &Sandbox, name: &str) -> Wav {
    let (channels, rate, left, right) = read_stereo_wav(&sb.path().join(name));
    Wav { channels, rate, left, right }
}

/// The level of the `hz` component of `x`, in dB of a full-scale sine
/// (Goertzel's filter over a Hann window).
fn level_db(x: &[i16], rate: u32, hz: f64) -> f64 {
    let n = x.len() as f64;
    let w = 2.0 * std::f64::consts::PI * hz / rate as f64;
    let (mut s1, mut s2) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
        let s = v as f64 / 32767.0 * hann + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    20.0 * (power.sqrt() / (n / 4.0)).log10()
}

/// The sounding stretches of `x`: runs louder than -40 dBFS, apart by at
/// least 100 ms of quiet.
fn sounding(x: &[i16]) -> Vec<std::ops::Range<usize>> {
    let gap = SAMPLE_RATE as usize / 10;
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, &v) in x.iter().enumerate() {
        if v.unsigned_abs() > 328 {
            match runs.last_mut() {
                Some(r) if i - r.end < gap => r.end = i + 1,
                _ => runs.push(i..i + 1),
            }
        }
    }
    runs
}

fn render(sb: &Sandbox, args: &[&str]) -> Wav {
    let mut all = vec!["render", "r.ron", "-o", "r.wav"];
    all.extend(args);
    let run = sb.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let wav = read(sb, "r.wav");
    assert_eq!((wav.channels, wav.rate), (2, SAMPLE_RATE));
    wav
}

#[test]
fn a_high_tone_in_a_sound_file_keeps_its_pitch() {
    let sb = Sandbox::new();
    // A 15 kHz tone at 44.1 kHz: linear resampling made it a 7 kHz tone.
    crate::support::tone_file(&sb.path().join("tone.wav"), 44_100, 1, 1.0, 15_000.0);
    sb.write("r.ron", r#"Routine(title: "T", summary: "S", steps: [Sound("tone.wav")])"#);
    let wav = render(&sb, &[]);
    assert_eq!(wav.left, wav.right, "a sound file plays from the middle");
    let middle = &wav.left[SAMPLE_RATE as usize / 10..SAMPLE_RATE as usize * 9 / 10];
    let tone = level_db(middle, SAMPLE_RATE, 15_000.0);
    let alias = level_db(middle, SAMPLE_RATE, 7_050.0);
    eprintln!("15 kHz at {tone:.1} dBFS, 7.05 kHz {:.1} dB under it", tone - alias);
    assert!(tone > -40.0, "the tone is there: {tone:.1} dBFS");
    assert!(alias - tone < -60.0, "a 7 kHz alias at {:.1} dB", alias - tone);
}

#[test]
fn a_voices_highs_keep_their_level_and_leave_no_images() {
    let sb = Sandbox::new();
    // A "voice" that says a 10 kHz tone, at the engines' 22.05 kHz.
    let template = "cat > /dev/null; sox -n -r 22050 -b 16 -c 1 {out} synth 1 sine 10000 vol 0.3";
    sb.write("r.ron", r#"Routine(title: "T", summary: "S", steps: [Say("tone")])"#);
    let wav = render(&sb, &["--engine", "command", "--command", template]);
    // What the engine made, levelled as speech is, at its own rate.
    let made: Vec<i16> = (0..22_050)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 10_000.0 / 22_050.0).sin() * 0.3 * 32767.0).round() as i16)
        .collect();
    let made = backease::audio::loudness::normalize(
        &made,
        22_050,
        backease::audio::loudness::SPEECH_LUFS,
        backease::audio::loudness::SPEECH_PEAK_LIMIT_DB,
    );
    let want = level_db(&made[2_205..19_845], 22_050, 10_000.0);
    let middle = &wav.left[SAMPLE_RATE as usize / 10..SAMPLE_RATE as usize * 9 / 10];
    let got = level_db(middle, SAMPLE_RATE, 10_000.0);
    eprintln!("10 kHz made at {want:.2} dBFS, played at {got:.2} dBFS");
    assert!((got - want).abs() < 0.5, "10 kHz made at {want:.2} dBFS, played at {got:.2}");
    for image in [12_050.0, 14_000.0, 16_000.0, 20_000.0] {
        let l = level_db(middle, SAMPLE_RATE, image) - got;
        eprintln!("{image} Hz: {l:.1} dB under the tone");
        assert!(l < -60.0, "an image at {image} Hz, {l:.1} dB under the tone");
    }
}

#[test]
fn the_side_you_work_on_is_the_side_you_hear() {
    let sb = Sandbox::new();
    sb.write(
        "r.ron",
        r#"Routine(title: "T", summary: "S", steps: [
            Sides([Say("Press on the {side} side."), Pause("500ms"), Chime("tick"), Pause("500ms")]),
        ])"#,
    );
    let wav = render(&sb, &["--engine", "espeak"]);
    let energy = |x: &[i16]| x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
    let mut heard = Vec::new();
    for run in sounding(&wav.left) {
        let (l, r) = (&wav.left[run.clone()], &wav.right[run]);
        heard.push((10.0 * (energy(l) / energy(r)).log10(), l == r));
    }
    eprintln!("left over right, dB: {heard:?}");
    let [(left_cue, _), (_, tick1), (right_cue, _), (_, tick2)] = heard[..] else { panic!("{heard:?}") };
    // Constant-power pan at ±0.6: 9.8 dB between the ears.
    assert!((left_cue - 9.76).abs() < 0.2, "the left cue: {left_cue:.2} dB");
    assert!((right_cue + 9.76).abs() < 0.2, "the right cue: {right_cue:.2} dB");
    assert!(tick1 && tick2, "chimes from the middle");

    // pan: false in the settings: everything from the middle.
    sb.write("config/backease/config.ron", "Config(pan: false)");
    let wav = render(&sb, &["--engine", "espeak"]);
    assert_eq!(wav.left, wav.right);
}
