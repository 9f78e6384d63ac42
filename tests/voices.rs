//! `backease voices`: every engine's voices in one table, grouped by
//! language, the chosen one marked; and `--try`, a sample said through the
//! sound output, heard on a PulseAudio null sink.

use std::time::Duration;

use crate::piper::installed_python;
use crate::support::{Pulse, RECORD_RATE, Sandbox, read_raw, run_within, stop};

/// The line of the table that names `name` of `engine`, its words apart.
pub(crate) fn row<'a>(stdout: &'a str, name: &str, engine: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| {
            let w: Vec<&str> = l.trim_start_matches(['*', ' ']).split_whitespace().collect();
            w.len() > 1 && w[0] == name && w[1] == engine
        })
        .unwrap_or_else(|| panic!("no row for {name} ({engine}):\n{stdout}"));
    line.split_whitespace().collect()
}

#[test]
fn voices_lists_every_engines_voices_in_one_table() {
    let sb = Sandbox::new();
    let run = run_within(
        Duration::from_secs(60),
        sb.command(&["voices"]).env("BACKEASE_PIPER_PYTHON", installed_python()).env("LANG", "C.UTF-8"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("  NAME ") && out.contains(" ENGINE ") && out.contains(" GENDER ") && out.contains(" INSTALLED ")
    );
    assert_eq!(row(out, "en_US-joe-medium", "piper")[2..5], ["en_US", "-", "yes"], "{out}");
    assert_eq!(row(out, "en-gb", "espeak")[2..5], ["en-gb", "male", "yes"], "{out}");
    assert_eq!(row(out, "slt", "flite")[2..5], ["en", "female", "yes"], "{out}");
    // No speech service in the sandbox: said, not hidden.
    assert!(out.contains("not listed: system (the system voice is not available"), "{out}");
    // Only English: espeak-ng's German is counted, not shown.
    assert!(!out.contains("\nde:"), "{out}");
    assert!(out.contains(" voices in other languages than English left out: --all shows them"), "{out}");
    assert!(out.contains("Choose by ear: backease voices --try NAME"), "{out}");
    // None chosen: the voice that speaks is named, as play names it.
    assert!(out.contains("\nWith no voice chosen, backease speaks with hibari, voice heart\n"), "{out}");
}

#[test]
fn voices_shows_your_language_first_then_english_and_the_rest_with_all() {
    let sb = Sandbox::new();
    let voices = |all: bool| {
        let mut args = vec!["voices", "--engine", "espeak"];
        if all {
            args.push("--all");
        }
        let run = run_within(Duration::from_secs(30), sb.command(&args).env("LANG", "de_DE.UTF-8"));
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    let out = voices(false);
    let heads: Vec<&str> = out.lines().filter(|l| l.ends_with(':') && !l.starts_with(' ')).collect();
    assert_eq!(heads, ["de:", "en:"], "{out}");
    assert_eq!(row(&out, "de", "espeak")[2..5], ["de", "male", "yes"], "{out}");
    assert!(!out.lines().any(|l| l.contains(" fr-fr ")), "{out}");
    let left: usize = out
        .lines()
        .find_map(|l| l.strip_suffix(" voices in other languages than de and English left out: --all shows them"))
        .unwrap_or_else(|| panic!("no count of the voices left out:\n{out}"))
        .parse()
        .unwrap();
    let all = voices(true);
    assert!(!all.contains("left out"), "{all}");
    assert!(all.lines().any(|l| l == "fr:"), "{all}");
    // Every voice left out is in the whole list.
    let rows = |text: &str| text.lines().filter(|l| l.contains(" espeak ")).count();
    assert_eq!(rows(&all), rows(&out) + left, "{all}");
}

#[test]
fn the_voice_the_settings_chose_is_marked() {
    let sb = Sandbox::new();
    sb.write("config/backease/config.ron", r#"Config(voice: "en-gb")"#);
    let run = run_within(Duration::from_secs(30), &mut sb.command(&["voices", "--engine", "espeak"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let marked: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{}", run.stdout);
    assert_eq!(marked[0].split_whitespace().take(3).collect::<Vec<_>>(), ["*", "en-gb", "espeak"]);
    assert!(!run.stdout.contains("With no voice chosen"), "{}", run.stdout);
    // Without the natural voices and with nothing chosen, espeak-ng speaks.
    sb.write("config/backease/config.ron", "Config()");
    let run = run_within(Duration::from_secs(30), &mut sb.command(&["voices", "--engine", "espeak"]));
    assert!(run.stdout.contains("\nWith no voice chosen, backease speaks with espeak-ng\n"), "{}", run.stdout);
}

/// Seconds of a recording louder than about -40 dBFS, in 5 ms windows.
fn sounding(samples: &[i16]) -> f64 {
    let win = (RECORD_RATE / 200) as usize;
    samples.chunks(win).filter(|w| w.iter().any(|s| s.unsigned_abs() > 330)).count() as f64 / 200.0
}

/// `voices --try NAME` on a null sink: the run, and the seconds of sound
/// recorded from the sink meanwhile.
fn tried(name: &str) -> (crate::support::Run, f64, Sandbox) {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("try.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    let mut cmd = sb.command(&["voices", "--try", name]);
    pulse.apply(&mut cmd);
    let run = run_within(Duration::from_secs(90), cmd.env("BACKEASE_PIPER_PYTHON", installed_python()));
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    let heard = sounding(&read_raw(&recording));
    (run, heard, sb)
}

#[test]
fn try_says_a_sample_in_the_voice_through_the_sound_output() {
    for (name, engine) in [("en-gb", "espeak"), ("joe", "piper")] {
        let (run, heard, sb) = tried(name);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with(&format!("Saying a sample in {name} ({engine}) on ")), "{}", run.stdout);
        let config = sb.config_dir().join("backease/config.ron");
        let keep = format!("To keep this voice, put voice: \"{name}\" into {}\n", config.display());
        assert!(run.stdout.ends_with(&keep), "{}", run.stdout);
        // The sample is two sentences: seconds of speech, heard on the sink.
        assert!(heard > 2.5, "{name}: {heard:.2} s of sound recorded");
    }
}

#[test]
fn sample_is_try_and_a_voice_nobody_has_is_a_clear_error() {
    let sb = Sandbox::new();
    let run = run_within(Duration::from_secs(30), &mut sb.command(&["voices", "--sample", "nobody"]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no voice called \"nobody\" was found"), "{}", run.stderr);
    assert!(run.stderr.contains("`backease voices --all` lists every voice"), "{}", run.stderr);
    // Without a sound output (an empty ALSA configuration), it says so.
    let conf = sb.write("alsa.conf", "");
    let run =
        run_within(Duration::from_secs(30), sb.command(&["voices", "--try", "slt"]).env("ALSA_CONFIG_PATH", &conf));
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("no audio output device found"), "{}", run.stderr);
}
