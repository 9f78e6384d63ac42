//! `devices` through a real sound server: it lists only the outputs that
//! open, marks the default, and every name it prints is one `--device`
//! takes.

use crate::support::{Bounded, Pulse, Sandbox};

/// ALSA plugins that wrap or convert another output, or need a server
/// that is not there: listed by ALSA, never an output to pick here.
const NEVER: [&str; 10] =
    ["lavrate", "samplerate", "speexrate", "speex", "upmix", "vdownmix", "jack", "oss", "null", "a52"];

/// The names `devices` printed, and the lines marked as the default.
fn listed(stdout: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    let names = lines.iter().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    let marked = lines.iter().filter(|l| l.ends_with("(default)")).map(|l| l.to_string()).collect();
    (names, marked)
}

#[test]
fn devices_lists_outputs_that_open_and_marks_the_default() {
    let sb = Sandbox::new();
    sb.write("tick.ron", r#"Routine(title: "T", summary: "S", steps: [Chime("tick")])"#);
    let pulse = Pulse::start(&sb);
    let run = |args: &[&str]| {
        let mut cmd = sb.command(args);
        pulse.apply(&mut cmd);
        let out = cmd.output_bounded();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["devices"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("Audio outputs (use with --device NAME):\n"), "{stdout}");
    let (names, marked) = listed(&stdout);
    assert_eq!(names.first().map(String::as_str), Some("default"), "the default first:\n{stdout}");
    assert_eq!(marked.len(), 1, "one default:\n{stdout}");
    assert!(marked[0].starts_with("  default "), "{stdout}");
    for never in NEVER {
        assert!(!names.iter().any(|n| n == never), "{never} is listed:\n{stdout}");
    }
    // The server's own name would be the default again.
    assert!(!names.iter().any(|n| n == "pulse"), "pulse duplicates the default:\n{stdout}");
    // Every name printed plays, and so does the server's name.
    for name in names.iter().map(String::as_str).chain(["pulse"]) {
        let (code, stdout, stderr) = run(&["play", "tick.ron", "--device", name]);
        assert_eq!(code, Some(0), "--device {name}: {stderr}");
        assert!(stdout.ends_with("Session complete.\n"), "--device {name}: {stdout}");
    }
}

#[test]
fn devices_with_no_output_is_one_clear_error() {
    let sb = Sandbox::new();
    // An empty ALSA configuration: no device at all, whatever the machine has.
    let conf = sb.write("alsa.conf", "");
    let out = sb.command(&["devices"]).env("ALSA_CONFIG_PATH", &conf).output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.starts_with("backease: error: no audio output device found"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "one line and a hint: {stderr}");
}

#[test]
fn device_names_from_outside_reach_the_terminal_escaped() {
    let sb = Sandbox::new();
    // An output whose description (ALSA's, from the user's own settings
    // file) sets the terminal's title and rings its bell.
    sb.write(
        ".asoundrc",
        "pcm.evil {\n type null\n hint { show on\n description \"Evil \\033]0;pwned\\007 out\" }\n}\n",
    );
    let raw = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    let out = sb.command(&["devices"]).output_bounded();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Evil \\u{1b}]0;pwned\\u{7} out"), "shown escaped:\n{stdout}");
    assert!(!raw(&stdout), "a control character reached the terminal:\n{stdout:?}");
}
