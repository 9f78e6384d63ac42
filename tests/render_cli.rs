//! `render`, `play` and `devices` through the real binary, at their edges:
//! interrupted, out of disk, no device, no speech engine, a hung engine.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::Sandbox;

fn wav_samples(path: &std::path::Path) -> usize {
    backease::wav::parse(&std::fs::read(path).unwrap()).unwrap().samples.len()
}

#[test]
fn render_writes_exactly_the_timeline_that_show_gives() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "gluteus-medius", "--rate", "220", "-o", "g.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("wrote g.wav ("), "{}", run.stdout);
    assert!(run.stderr.contains("rendering: 100%"), "progress is shown: {}", run.stderr);
    // With the speech now cached, `show` knows the exact length (at the
    // script's own voice settings, so render those again to compare).
    let run = sb.run(&["render", "gluteus-medius", "-o", "plain.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let show = sb.run(&["show", "gluteus-medius", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(wav_samples(&sb.path().join("plain.wav")) as u64, doc["total_samples"].as_u64().unwrap());
    // A faster voice makes a shorter session.
    assert!(wav_samples(&sb.path().join("g.wav")) < wav_samples(&sb.path().join("plain.wav")));
    // Nothing temporary is left behind.
    let names: Vec<String> =
        std::fs::read_dir(sb.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
}

#[test]
fn render_refuses_loop() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "deep-spinal", "--loop", "-o", "x.wav"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("render cannot --loop: an endless session has no end to write"), "{}", run.stderr);
    assert!(run.stderr.contains("--rounds 3"));
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn an_interrupted_render_leaves_no_file() {
    let sb = Sandbox::new();
    // Two hours of session: long enough to interrupt part-way.
    let mut child = sb
        .command(&["render", "deep-spinal", "--rounds", "28", "-o", "long.wav"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().starts_with("rendering:") {
            break;
        }
    }
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(sb.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!sb.path().join("long.wav").exists());
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("long.wav")), "{left:?}");
}

#[test]
fn render_on_a_full_disk_fails_cleanly() {
    let sb = Sandbox::new();
    let out = sb.path().join("small");
    std::fs::create_dir_all(&out).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m none '{o}' && cd '{o}' && '{bin}' render gluteus-medius -o session.wav; \
         echo \"exit=$?\"; ls -A '{o}'",
        o = out.display(),
        bin = env!("CARGO_BIN_EXE_backease")
    );
    let (stdout, stderr) = sb.unshared(&script);
    assert_eq!(stdout.trim_end(), "exit=3", "stderr: {stderr}");
    assert!(stderr.contains("cannot write session.wav: the disk is full"), "{stderr}");
}

#[test]
fn no_audio_device_is_one_clear_error() {
    let sb = Sandbox::new();
    // An empty ALSA configuration: no device at all, whatever the machine has.
    let conf = sb.write("alsa.conf", "");
    let out = sb.command(&["play", "deep-spinal"]).env("ALSA_CONFIG_PATH", &conf).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "no ALSA noise: {stderr}");
    assert!(lines[0].starts_with("backease: error: no audio output device found"), "{stderr}");
    assert!(lines[1].contains("backease render ROUTINE -o session.wav"), "{stderr}");
}

#[test]
fn a_missing_speech_engine_is_named() {
    let sb = Sandbox::new();
    let out = sb
        .command(&["render", "deep-spinal", "-o", "x.wav", "--engine", "espeak"])
        .env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("the speech engine `/nonexistent/espeak-ng` is not installed"), "{stderr}");
    assert!(stderr.contains("apt-get install espeak-ng"), "{stderr}");
}

#[test]
fn a_hung_speech_engine_times_out() {
    let sb = Sandbox::new();
    let fake = sb.write("hang.sh", "#!/bin/sh\nexec sleep 600\n");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let out = sb.command(&["render", "gluteus-medius", "-o", "x.wav"]).env("BACKEASE_ESPEAK", &fake).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("did not finish speaking within"), "{stderr}");
    assert!(started.elapsed().as_secs() < 60);
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn the_command_engine_speaks_through_any_program() {
    let sb = Sandbox::new();
    // sox stands in for Piper: a third of a second of tone for every cue.
    let template = "cat > /dev/null; sox -n -r 16000 -b 16 -c 1 {out} synth 0.3 sine 300";
    let script =
        sb.write("r.ron", r#"Routine(title: "T", summary: "S", steps: [Say("one"), Pause("1s"), Say("two")])"#);
    let run = sb.run(&[
        "render",
        script.to_str().unwrap(),
        "--engine",
        "command",
        "--command",
        template,
        "--verbose",
        "-o",
        "c.wav",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("speech: the command `{template}`")), "{}", run.stderr);
    // Two cues of 0.3 s and a second of silence.
    assert_eq!(wav_samples(&sb.path().join("c.wav")), 2 * 6_615 + 22_050);

    let broken = sb.run(&["render", script.to_str().unwrap(), "--engine", "command", "-o", "x.wav"]);
    assert_eq!(broken.code, 5);
    assert!(broken.stderr.contains("the command engine needs a command"), "{}", broken.stderr);
}

#[test]
fn a_timeline_warning_is_reported_once() {
    let sb = Sandbox::new();
    sb.write(
        "w.ron",
        r#"Routine(title: "W", summary: "s", steps: [Hold(length: "5s", cues: [At("1s", "a long sentence with many many words"), At("2s", "b")])])"#,
    );
    for args in [&["show", "w.ron"][..], &["render", "w.ron", "-o", "w.wav"][..]] {
        let run = sb.run(args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr.matches("is still sounding when the next starts").count(), 1, "{args:?}: {}", run.stderr);
    }
}
