//! Playing starts with the first cue, while the Piper voice makes the rest
//! ahead of the listener: heard at a real null sink, with the real voice
//! `.ci/setup` installs, on a cold cache; a Piper synthesizer killed
//! mid-session (its PID, found among `play`'s children); and speech that
//! cannot be cached, said after the session.

use std::time::{Duration, Instant};

use crate::support::{Bounded, Guarded, Pulse, RECORD_RATE, Sandbox, onsets, read_raw, stop};

/// Ten cues, each its own sentence, with short pauses: long enough to make
/// that the first is heard well before the last is made.
const ROUTINE: &str = r#"Routine(
    title: "Ahead",
    summary: "Ten cues",
    steps: [
        Say("Sit tall and let your shoulders drop."),
        Pause("400ms"),
        Say("Find the tender spot beside the spine."),
        Pause("400ms"),
        Say("Lean back gently into the ball."),
        Pause("400ms"),
        Say("Breathe out slowly through the mouth."),
        Pause("400ms"),
        Say("Let the muscle soften under the pressure."),
        Pause("400ms"),
        Say("Roll an inch higher along the spine."),
        Pause("400ms"),
        Say("Keep the breath low and easy."),
        Pause("400ms"),
        Say("Ease off and rest for a moment."),
        Pause("400ms"),
        Say("Come back to the first spot once more."),
        Pause("400ms"),
        Say("Well done. Stand up slowly."),
    ],
)"#;

/// Distinct texts the session speaks: ten cues and six control notices.
const TEXTS: usize = 16;

/// The Python of the Piper installation `.ci/setup` made for this user.
fn installed_python() -> std::path::PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share"));
    let python = data.join("backease/piper/bin/python3");
    assert!(python.is_file(), "Piper is not installed at {}: run bash .ci/setup", python.display());
    python
}

/// `play` of the routine with the Piper voice, on a cold cache, with the
/// sink recorded; killed (with the recorder) on drop if the test fails.
struct Session {
    play: Guarded,
    recorder: Guarded,
    recording: std::path::PathBuf,
    started: Instant,
}

impl Session {
    fn start(sb: &Sandbox, pulse: &Pulse) -> Session {
        Session::start_with(sb, pulse, "piper")
    }

    /// As [`Session::start`], with another engine of the same installation.
    fn start_with(sb: &Sandbox, pulse: &Pulse, engine: &str) -> Session {
        let script = sb.write("ahead.ron", ROUTINE);
        let recording = sb.path().join("rec.raw");
        let recorder = pulse.record(&recording, RECORD_RATE);
        std::thread::sleep(Duration::from_millis(300));
        let mut cmd = sb.command(&["play", script.to_str().unwrap(), "--engine", engine]);
        cmd.env("BACKEASE_PIPER_PYTHON", installed_python())
            .env("BACKEASE_TIMING", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        pulse.apply(&mut cmd);
        let play = Guarded::spawn(&mut cmd);
        Session { play, recorder, recording, started: Instant::now() }
    }

    fn pid(&self) -> u32 {
        self.play.id()
    }

    /// Whether the sink has played anything louder than -40 dBFS yet.
    fn heard(&self) -> bool {
        std::fs::read(&self.recording)
            .map(|b| b.chunks_exact(2).any(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() > 330))
            .unwrap_or(false)
    }

    /// Waits (up to `limit`) until something is heard.
    fn wait_to_hear(&self, limit: Duration) {
        while !self.heard() {
            assert!(self.started.elapsed() < limit, "nothing heard within {limit:?}");
            assert!(self.running(), "play ended before a sound");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn running(&self) -> bool {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
    }

    /// Waits for play to end, within `limit`: (exit code, stdout, stderr,
    /// the recording mixed to mono).
    fn finish(self, limit: Duration) -> (i32, String, String, Vec<i16>) {
        let out = self.play.output_within(limit);
        std::thread::sleep(Duration::from_millis(300));
        stop(self.recorder);
        let code = out.status.code().unwrap_or(-1);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (code, text(&out.stdout), text(&out.stderr), read_raw(&self.recording))
    }
}

/// The Piper workers among `pid`'s children.
fn piper_workers(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("resident Piper synthesizer") {
                found.push(child);
            }
        }
    }
    found
}

fn kill(pid: u32) {
    let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

/// Speech cache entries written so far: one per cue made.
fn cached(sb: &Sandbox) -> usize {
    let dir = sb.path().join("cache/backease/speech");
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.filter(|e| e.path().extension().is_some_and(|x| x == "pcm")).count()
}

/// The onsets a render of the routine has, with the cache play left.
fn rendered_onsets(sb: &Sandbox) -> Vec<f64> {
    rendered_onsets_with(sb, "piper")
}

fn rendered_onsets_with(sb: &Sandbox, engine: &str) -> Vec<f64> {
    let o = sb
        .command(&["render", "ahead.ron", "-o", "ahead.wav", "--engine", engine])
        .env("BACKEASE_PIPER_PYTHON", installed_python())
        .output_bounded();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, _, left, right) = crate::support::read_stereo_wav(&sb.path().join("ahead.wav"));
    let mono: Vec<i16> = left.iter().zip(&right).map(|(&l, &r)| ((l as i32 + r as i32) / 2) as i16).collect();
    onsets(&mono)
}

#[test]
fn the_first_cue_is_heard_before_the_rest_is_made() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let session = Session::start(&sb, &pulse);
    session.wait_to_hear(Duration::from_secs(20));
    // Heard while the voice is still at work: not every cue is in the
    // cache yet (the old way made every one before a sound).
    let made = cached(&sb);
    assert!(made < TEXTS, "all {made} cues were made before the first sound");
    let (code, stdout, stderr, heard) = session.finish(Duration::from_secs(90));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
    // Its length is a guess while the speech is made, and says so.
    assert!(stdout.contains("Playing ahead (≈"), "{stdout}");
    assert_eq!(stderr.matches("timing: Piper voice en_US-joe-medium loaded").count(), 1, "{stderr}");
    assert_eq!(cached(&sb), TEXTS);
    // Every cue heard, once, in full: as many onsets as the render has.
    let expected = rendered_onsets(&sb);
    // Ten cues (Piper's pauses inside a cue vary from one making to the
    // next, so a cue may be two onsets; play and render share the clips).
    assert!(expected.len() >= 10, "{expected:?}");
    assert_eq!(onsets(&heard).len(), expected.len(), "heard {:?}, rendered {expected:?}", onsets(&heard));
}

#[test]
fn the_first_hibari_cue_is_heard_quickly_before_the_rest_is_made() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let session = Session::start_with(&sb, &pulse, "hibari");
    // Its model and pronunciation front end load while the device opens.
    session.wait_to_hear(Duration::from_secs(10));
    let heard_after = session.started.elapsed();
    let (code, stdout, stderr, heard) = session.finish(Duration::from_secs(90));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // hibari makes these 16 cues in about half a second, so the sink may
    // well hear the first after the last is made: what shows the session
    // did not wait for them all is its own clock.
    let at = |what: &str| -> u64 {
        let line = stderr.lines().find(|l| l.starts_with(what)).unwrap_or_else(|| panic!("no {what:?}:\n{stderr}"));
        line[what.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    let (start, all) = (at("timing: the session can start "), at("timing: all speech ready "));
    assert!(start < all, "the session started at {start} ms, all speech was ready at {all} ms:\n{stderr}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
    assert_eq!(stderr.matches("timing: hibari voice heart loaded").count(), 1, "{stderr}");
    assert_eq!(cached(&sb), TEXTS);
    // hibari's cues are the same every time they are made: the render
    // (from the cache) and what was heard have the same onsets.
    let expected = rendered_onsets_with(&sb, "hibari");
    assert!(expected.len() >= 10, "{expected:?}");
    assert_eq!(onsets(&heard).len(), expected.len(), "heard {:?}, rendered {expected:?}", onsets(&heard));
    eprintln!("hibari: first sound {heard_after:?} after play started");
}

#[test]
fn a_piper_voice_killed_mid_session_is_started_again_and_the_session_plays_through() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let session = Session::start(&sb, &pulse);
    session.wait_to_hear(Duration::from_secs(20));
    let workers = piper_workers(session.pid());
    assert_eq!(workers.len(), 1, "one resident worker: {workers:?}");
    kill(workers[0]);
    // The rest of the cues are made by a new worker.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = piper_workers(session.pid());
        if now.iter().any(|w| *w != workers[0]) {
            break;
        }
        assert!(Instant::now() < deadline && session.running(), "no new worker after the kill");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, stdout, stderr, heard) = session.finish(Duration::from_secs(90));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
    assert_eq!(stderr.matches("timing: Piper voice en_US-joe-medium loaded").count(), 2, "{stderr}");
    let expected = rendered_onsets(&sb);
    assert_eq!(onsets(&heard).len(), expected.len(), "heard {:?}, rendered {expected:?}", onsets(&heard));
}

#[test]
fn a_piper_voice_that_keeps_dying_mid_session_ends_it_with_a_clear_error() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let session = Session::start(&sb, &pulse);
    session.wait_to_hear(Duration::from_secs(20));
    // Every worker is killed as soon as it is seen, while play runs.
    let mut killed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while session.running() && Instant::now() < deadline {
        for w in piper_workers(session.pid()) {
            if !killed.contains(&w) {
                kill(w);
                killed.push(w);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (code, stdout, stderr, _) = session.finish(Duration::from_secs(10));
    assert_eq!(code, 5, "the speech exit code: {stdout}\n{stderr}");
    assert!(stderr.contains("error: speech failed: the Piper voice"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!stdout.contains("Session complete."), "{stdout}");
    assert!(killed.len() >= 2, "{killed:?}");
}

#[test]
fn speech_that_cannot_be_cached_is_said_after_the_session() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    sb.write(
        "short.ron",
        r#"Routine(title: "Short", summary: "S", steps: [Say("One."), Pause("300ms"), Say("Two.")])"#,
    );
    // The cache folder's place is taken by a file: nothing can be saved.
    sb.write("cache", "not a folder");
    let mut cmd = sb.command(&["play", "short.ron", "--engine", "espeak"]);
    pulse.apply(&mut cmd);
    let run = crate::support::run_within(Duration::from_secs(30), &mut cmd);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n"), "{}", run.stdout);
    assert_eq!(run.stderr.matches("warning: could not save speech to the cache").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("it will be made again next time"), "{}", run.stderr);
}

#[test]
fn a_session_that_catches_up_with_its_speech_says_so_on_screen() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let script = sb.write("slow.ron", r#"Routine(title: "Slow", summary: "s", steps: [Say("First."), Say("Third.")])"#);
    // A voice that makes every text but the first slowly: the session
    // starts with the first, then stands at the next while it is made.
    let template = r#"t=$(cat); case "$t" in First*) ;; *) sleep 1 ;; esac; espeak-ng -w {out} "$t""#;
    let mut cmd = sb.command(&["play", script.to_str().unwrap(), "--engine", "command", "--command", template]);
    pulse.apply(&mut cmd);
    let run = sb.run_within(Duration::from_secs(90), &mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let waiting = run.stdout.find("waiting for the voice: the next words are still being made");
    let waiting = waiting.unwrap_or_else(|| panic!("the wait is shown:\n{}", run.stdout));
    // Between the first cue and the next, which then plays.
    assert!(run.stdout[..waiting].contains("First."), "{}", run.stdout);
    assert!(run.stdout[waiting..].contains("Third."), "{}", run.stdout);
}
