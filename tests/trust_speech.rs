//! What reaches the speech engines from outside, through the real binary:
//! a working folder that holds Python modules, a speech program that never
//! stops writing, voice files whose names and settings carry terminal
//! escapes, and a voice config far larger than any voice's.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::piper::{installed_python, piper_sandbox, render};
use crate::support::{Bounded, RUN_LIMIT, Run, Sandbox};

#[test]
fn the_piper_worker_runs_no_module_from_the_working_folder() {
    let sb = piper_sandbox();
    let python = installed_python();
    // Modules the worker and Piper import, planted where backease runs:
    // each would leave a mark if Python imported it.
    let marks = sb.path().join("marks");
    for module in ["json", "piper", "numpy", "onnxruntime"] {
        sb.write(&format!("{module}.py"), &format!("open({:?}, 'a').write('{module}\\n')\n", marks.to_str().unwrap()));
    }
    let run = render(&sb, &python, &["--engine", "piper"], "a.wav");
    assert!(!marks.exists(), "imported from the working folder: {}", std::fs::read_to_string(&marks).unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Piper, voice en_US-joe-medium"), "{}", run.stderr);
}

#[test]
fn a_speech_command_that_never_stops_writing_is_stopped_at_the_cap() {
    let sb = piper_sandbox();
    // 400 MB of "WAV" on its standard output, more than any cue can be.
    let (run, peak) = peak_memory(
        &sb,
        &["render", "short.ron", "-o", "x.wav", "--engine", "command", "--command", "head -c 400M /dev/zero"],
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("`the speech command` wrote more than 256 MiB to its standard output"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: the command was: head -c 400M /dev/zero"), "{}", run.stderr);
    // Two workers make speech, each holding at most the cap (it was the
    // whole stream, twice: 803 MiB).
    assert!(peak < 600 * 1024 * 1024, "peak memory {} MiB", peak / 1024 / 1024);
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn voices_shows_what_a_voice_file_says_escaped() {
    let sb = Sandbox::new();
    let voices = sb.path().join(".local/share/backease/voices");
    std::fs::create_dir_all(&voices).unwrap();
    let name = "en_US-evil\u{1b}[31m\u{7}\r-low";
    std::fs::write(voices.join(format!("{name}.onnx")), b"x").unwrap();
    std::fs::write(
        voices.join(format!("{name}.onnx.json")),
        r#"{"language": {"code": "en\u001b]0;owned\u0007"}, "speaker_id_map": {"a\u001b[2Jb": 0, "c\rd": 1}}"#,
    )
    .unwrap();
    let o = sb.command(&["voices", "--all"]).env("BACKEASE_PIPER_PYTHON", installed_python()).output_bounded();
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(controls(&stdout), "", "{stdout:?}");
    assert_eq!(
        crate::voices::row(&stdout, r"en_US-evil\u{1b}[31m\u{7}\u{d}-low", "piper")[2..].join(" "),
        r"en\u{1b}]0;owned\u{7} - yes yours, 2 speakers: a\u{1b}[2Jb c\u{d}d",
        "{stdout}"
    );
}

#[test]
fn voices_shows_what_espeak_says_escaped_and_does_not_wait_for_it_forever() {
    let sb = Sandbox::new();
    let espeak = fake_program(
        &sb,
        "espeak",
        "printf 'Pty Language Age/Gender VoiceName File Other\\n 5  en\\033[2J  M  bad\\007name  x\\n'",
    );
    let o = sb.command(&["voices", "--engine", "espeak", "--all"]).env("BACKEASE_ESPEAK", &espeak).output_bounded();
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(controls(&stdout), "", "{stdout:?}");
    assert_eq!(
        crate::voices::row(&stdout, r"en\u{1b}[2J", "espeak")[2..].join(" "),
        r"en\u{1b}[2J male yes bad\u{7}name",
        "{stdout}"
    );

    // One that never answers is given up on.
    let espeak = fake_program(&sb, "espeak-hangs", "exec sleep 600");
    let mut cmd = sb.command(&["voices", "--engine", "espeak"]);
    let run = crate::support::run_within(Duration::from_secs(30), cmd.env("BACKEASE_ESPEAK", &espeak));
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("did not finish"), "{}", run.stderr);
}

#[test]
fn a_voice_config_larger_than_any_voice_is_not_read() {
    let sb = Sandbox::new();
    let voices = sb.path().join(".local/share/backease/voices");
    std::fs::create_dir_all(&voices).unwrap();
    std::fs::write(voices.join("en_US-huge-low.onnx"), b"x").unwrap();
    // A gigabyte of nothing (sparse: it takes no room on disk).
    let config = std::fs::File::create(voices.join("en_US-huge-low.onnx.json")).unwrap();
    config.set_len(1 << 30).unwrap();
    let python = installed_python();
    let (run, peak) =
        peak_memory_with(&sb, &["voices", "--engine", "piper"], &[("BACKEASE_PIPER_PYTHON", python.as_os_str())]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches(" piper ").count(), 1, "{}", run.stdout);
    assert!(!run.stdout.contains("huge"), "{}", run.stdout);
    assert!(peak < 200 * 1024 * 1024, "peak memory {} MiB", peak / 1024 / 1024);
}

/// The control characters in `text` other than newlines, escaped.
fn controls(text: &str) -> String {
    text.chars().filter(|c| c.is_control() && *c != '\n').flat_map(char::escape_default).collect()
}

/// A shell script in the sandbox that runs `body`.
fn fake_program(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    let path = sb.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

fn peak_memory(sb: &Sandbox, args: &[&str]) -> (Run, u64) {
    peak_memory_with(sb, args, &[])
}

/// Runs the binary under GNU time and gives its run and its peak resident
/// memory in bytes.
fn peak_memory_with(sb: &Sandbox, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> (Run, u64) {
    let report = sb.path().join("time.txt");
    let mut cmd = sb.command_through(&["/usr/bin/time", "-v", "-o", report.to_str().unwrap()], args);
    cmd.envs(env.iter().copied());
    let run = within_group(&mut cmd);
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let kib = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no peak memory in the report: {text}"));
    (run, kib * 1024)
}

/// Runs `cmd` (here `time`, and the binary under it) in a process group of
/// its own, which is killed when the run ends however the test ends: a
/// wrapper killed alone would leave the binary running.
fn within_group(cmd: &mut Command) -> Run {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let child = crate::support::Guarded::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let _group = GroupGuard(child.id());
    let out = child.output_within(RUN_LIMIT);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Kills a process group the test started, when dropped.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.0 as i32), nix::sys::signal::Signal::SIGKILL);
    }
}

#[test]
fn an_error_that_quotes_words_from_outside_reaches_the_terminal_escaped() {
    // The program named by the environment is quoted in the error: its
    // escapes (a window title, a bell, a colour, a carriage return that
    // would hide the line) are shown, never acted on.
    let sb = Sandbox::new();
    let hostile = "/nonexistent/\u{1b}]0;owned\u{7}\u{1b}[31mespeak\rX";
    let out = sb
        .command(&["render", "deep-spinal", "-o", "x.wav", "--engine", "espeak"])
        .env("BACKEASE_ESPEAK", hostile)
        .output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "{stderr:?}");
    assert!(stderr.contains(r"/nonexistent/\u{1b}]0;owned\u{7}\u{1b}[31mespeak\u{d}X"), "{stderr}");
}
