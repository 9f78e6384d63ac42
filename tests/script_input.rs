//! Whatever a user points backease at — a script of any shape, a FIFO, a
//! device, a file that is not UTF-8 or not named in UTF-8 — every command
//! that reads it ends promptly with a located, plain message. The limits
//! here are generous bounds that catch a hang, not performance targets
//! (`benches/load.sh` measures those).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{Run, Sandbox};

/// Long enough for a debug build on a busy machine; a hang never ends.
const PROMPT: Duration = Duration::from_secs(20);

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Runs the binary with these arguments, within [`PROMPT`].
#[track_caller]
fn within(sb: &Sandbox, args: &[&str]) -> Run {
    sb.run_within(PROMPT, &mut sb.command(args))
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 test path")
}

/// `inner` wrapped in `depth` repeats of `times` each.
fn nest(inner: &str, times: u32, depth: usize) -> String {
    (0..depth).fold(inner.to_string(), |inner, _| format!("Repeat(times: {times}, steps: [{inner}])"))
}

fn routine(steps: &str) -> String {
    format!("Routine(title: \"T\", summary: \"S\", steps: [{steps}])\n")
}

#[test]
fn empty_repeats_nested_deep_are_an_error_not_a_hang() {
    let sb = Sandbox::new();
    let text = routine(&nest("Repeat(times: 1000, steps: [])", 1000, 7));
    let file = sb.write("empty.ron", &text);
    let run = within(&sb, &["check", path_arg(&file)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("empty.ron:1:266: error: Repeat has no steps"), "{}", run.stderr);

    // `list` reads every script in the folder, this one too.
    std::fs::create_dir_all(sb.scripts_dir()).unwrap();
    std::fs::write(sb.scripts_dir().join("empty.ron"), &text).unwrap();
    let run = within(&sb, &["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("  empty                      -  has errors"), "{}", run.stdout);
}

#[test]
fn a_mebibyte_of_nested_repeats_is_refused_before_it_is_built() {
    let sb = Sandbox::new();
    let one = nest(r#"Strokes(count: 1000, every: "1ms")"#, 1000, 7);
    let text = routine(&vec![one; 1024 * 1024 / 260].join(",\n"));
    assert!(text.len() <= 1024 * 1024, "{}", text.len());
    let file = sb.write("nested.ron", &text);
    for cmd in ["check", "show"] {
        let run = within(&sb, &[cmd, path_arg(&file)]);
        assert_eq!(run.code, 1, "{cmd}: {}", run.stderr);
        assert!(
            run.stderr.contains(
                "nested.ron:1:211: error: this Repeat expands to 1001000 steps and cues; a session holds at most 100000"
            ),
            "{cmd}: {}",
            run.stderr
        );
    }
}

#[test]
fn options_that_make_a_session_too_large_are_blamed_not_the_script() {
    let sb = Sandbox::new();
    let run = within(&sb, &["show", "deep-spinal", "--hold", "9m59s", "--rounds", "1000"]);
    expect_test::expect![[r#"
        exit 2
        --- stdout
        --- stderr
        backease: error: --hold 9m59s and --rounds 1000 make the session longer than 12 hours, the longest backease plays
        hint: lower --hold or --rounds
    "#]]
    .assert_eq(&run.snapshot(&sb));
    let run = within(&sb, &["show", "deep-spinal", "--rest", "999999h", "--rounds", "2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("a rest is at most 10 minutes"), "{}", run.stderr);
    // Too many events for the rounds asked for: said as such.
    let file = sb.write("big.ron", &routine(&nest(r#"Say("a")"#, 1000, 1)));
    let run = within(&sb, &["show", path_arg(&file), "--rounds", "101"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: --rounds 101 makes the session 101100 steps and cues; a session holds at most 100000"),
        "{}",
        run.stderr
    );
}

#[test]
fn only_regular_files_are_read_as_scripts() {
    let sb = Sandbox::new();
    let fifo = sb.path().join("pipe.ron");
    mkfifo(&fifo);
    let dir = sb.path().join("folder.ron");
    std::fs::create_dir(&dir).unwrap();
    for (path, what) in [
        (fifo.as_path(), "it is a named pipe (FIFO), not a file"),
        (Path::new("/dev/zero"), "it is a device, not a file"),
        (dir.as_path(), "it is a folder, not a file"),
    ] {
        for cmd in ["check", "show"] {
            let run = within(&sb, &[cmd, path_arg(path)]);
            assert_eq!(run.code, 3, "{cmd} {}: {}", path.display(), run.stderr);
            let expect = format!("cannot read {}: {what}", path.display());
            assert!(run.stderr.contains(&expect), "{cmd} {}: {}", path.display(), run.stderr);
        }
    }
    // In the scripts folder, a FIFO is not a script at all.
    std::fs::create_dir_all(sb.scripts_dir()).unwrap();
    mkfifo(&sb.scripts_dir().join("pipe.ron"));
    let run = within(&sb, &["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("none yet"), "{}", run.stdout);
    let run = within(&sb, &["check", "pipe"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn only_a_regular_file_is_read_as_the_settings() {
    let sb = Sandbox::new();
    let config = sb.config_dir().join("backease").join("config.ron");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    mkfifo(&config);
    for args in [&["show", "deep-spinal"][..], &["config"], &["voices"]] {
        let run = within(&sb, args);
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        let expect =
            format!("cannot read the settings file {}: it is a named pipe (FIFO), not a file", config.display());
        assert!(run.stderr.contains(&expect), "{args:?}: {}", run.stderr);
    }
    std::fs::remove_file(&config).unwrap();
    std::fs::File::create(&config).unwrap().set_len(2 * 1024 * 1024).unwrap();
    let run = within(&sb, &["config"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("config.ron: it is larger than 1 MiB"), "{}", run.stderr);
}

#[test]
fn a_fifo_in_the_speech_cache_is_not_read() {
    let sb = Sandbox::new();
    let file = sb.write("short.ron", &routine(r#"Say("Lean in."), Pause("200ms")"#));
    let wav = sb.path().join("out.wav");
    let render = |sb: &Sandbox| within(sb, &["render", path_arg(&file), "-o", path_arg(&wav)]);
    let first = render(&sb);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Every entry becomes a FIFO with no writer: reading one would block.
    let cache = sb.path().join("cache").join("backease").join("speech");
    let mut entries = 0;
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        std::fs::remove_file(&path).unwrap();
        mkfifo(&path);
        entries += 1;
    }
    assert!(entries > 0, "the first render filled the cache");
    let show = within(&sb, &["show", path_arg(&file)]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let again = render(&sb);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn home_that_is_a_file_is_named() {
    let sb = Sandbox::new();
    let home = sb.write("not-a-folder", "x");
    let mut cmd = sb.command(&["show", "deep-spinal"]);
    cmd.env("HOME", &home).env_remove("XDG_CONFIG_HOME");
    let run = sb.run_within(PROMPT, &mut cmd);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let expect = format!("{} is a file, not a folder", home.display());
    assert!(run.stderr.contains(&expect), "{}", run.stderr);
    assert!(!run.stderr.contains("os error"), "{}", run.stderr);
    // Nor can a starter script be written under it.
    let mut cmd = sb.command(&["new", "evening"]);
    cmd.env("HOME", &home).env_remove("XDG_CONFIG_HOME");
    let run = sb.run_within(PROMPT, &mut cmd);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&expect), "{}", run.stderr);
    assert!(!run.stderr.contains("os error"), "{}", run.stderr);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let sb = Sandbox::new();
    let brackets = sb.write("brackets.ron", &"[".repeat(1024 * 1024));
    let repeats = sb.write(
        "repeats.ron",
        &format!("Routine(title: \"T\", summary: \"S\", steps: [{}", "Repeat(times: 2, steps: [".repeat(40_000)),
    );
    for (file, expect) in [
        (&brackets, "brackets.ron:1:65: error: brackets nest more than 64 deep"),
        (&repeats, "repeats.ron:1:818: error: brackets nest more than 64 deep"),
    ] {
        let run = within(&sb, &["check", path_arg(file)]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(expect), "{}", run.stderr);
    }
}

#[test]
fn settings_that_are_not_utf8_are_located() {
    let sb = Sandbox::new();
    let config = sb.config_dir().join("backease").join("config.ron");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, b"Config(\n  voice: \"caf\xe9\",\n)\n").unwrap();
    let run = within(&sb, &["config"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expect = format!("{}:2:14: error: the file is not UTF-8 text", config.display());
    assert!(run.stderr.contains(&expect), "{}", run.stderr);
    assert!(!run.stderr.contains("stream did not contain valid UTF-8"), "{}", run.stderr);
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let sb = Sandbox::new();
    let file = sb.write("bom.ron", &format!("\u{feff}{}", routine(r#"Say("hi")"#)));
    let run = within(&sb, &["check", path_arg(&file)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    sb.write("config/backease/config.ron", "\u{feff}Config(hold: \"30s\")\n");
    let run = within(&sb, &["config"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("hold     30s\n"), "{}", run.stdout);
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let sb = Sandbox::new();
    // A title with an escape sequence, and a sound file whose name has one.
    let sound = sb.path().join("\u{1b}[2J.wav");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/tick.wav"), &sound).unwrap();
    let bad = sb
        .write("bad.ron", "Routine(title: \"\\u{1b}]0;pwned\\u{7}\", summary: \"S\", steps: [Chime(\"\\u{1b}[31m\")])");
    let run = within(&sb, &["check", path_arg(&bad)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains(['\u{1b}', '\u{7}']), "{:?}", run.stderr);
    assert!(run.stderr.contains(r#"unknown chime "\u{1b}[31m""#), "{}", run.stderr);
    assert!(run.stderr.contains("the title has a control character"), "{}", run.stderr);
    let good = sb.write("good.ron", "Routine(title: \"T\", summary: \"S\", steps: [Sound(\"\\u{1b}[2J.wav\")])");
    let run = within(&sb, &["show", path_arg(&good)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(r"\u{1b}[2J.wav"), "{}", run.stdout);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
}

#[test]
fn file_names_that_are_not_utf8_work() {
    let sb = Sandbox::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.ron");
    let file: PathBuf = sb.path().join(name);
    std::fs::write(&file, routine(r#"Pause("200ms")"#)).unwrap();
    for cmd in ["check", "show"] {
        let mut command = sb.command(&[cmd]);
        command.arg(&file);
        let run = sb.run_within(PROMPT, &mut command);
        assert_eq!(run.code, 0, "{cmd}: {}", run.stderr);
    }
    // A mistake in it is located under its name, made readable.
    std::fs::write(&file, routine(r#"Pause("0s")"#)).unwrap();
    let mut command = sb.command(&["check"]);
    command.arg(&file);
    let run = sb.run_within(PROMPT, &mut command);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("caf\u{fffd}.ron:1:49: error: a pause is zero"), "{}", run.stderr);
}

#[test]
fn play_reads_a_file_whose_name_is_not_utf8() {
    let sb = Sandbox::new();
    let pulse = crate::support::Pulse::start(&sb);
    let file = sb.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.ron"));
    std::fs::write(&file, routine(r#"Pause("300ms")"#)).unwrap();
    let mut command = sb.command(&["play", "--quiet"]);
    command.arg(&file);
    pulse.apply(&mut command);
    let run = sb.run_within(Duration::from_secs(60), &mut command);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn check_and_play_agree_on_an_unknown_routine() {
    let sb = Sandbox::new();
    let expect = "backease: error: no routine named `deep-spinl`\nhint: did you mean `deep-spinal`? `backease list` shows every routine\n";
    for cmd in ["check", "play", "show"] {
        let run = within(&sb, &[cmd, "deep-spinl"]);
        assert_eq!((run.code, run.stderr.as_str()), (2, expect), "{cmd}");
    }
    // Among other files, each is reported and the exit code is the same.
    let run = within(&sb, &["check", "deep-spinal", "deep-spinl"]);
    expect_test::expect![[r#"
        exit 2
        --- stdout
        <built-in deep-spinal>: ok (≈04:23)
        --- stderr
        deep-spinl: error: no routine named `deep-spinl`
        hint: did you mean `deep-spinal`? `backease list` shows every routine
        backease: error: 1 of 2 scripts could not be read
    "#]]
    .assert_eq(&run.snapshot(&sb));
}

#[test]
fn show_decodes_each_sound_file_once() {
    let sb = Sandbox::new();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/gong.wav"), sb.path().join("gong.wav")).unwrap();
    // With nothing to speak, `show` takes every length from the files; it
    // used to decode the file again for each of these steps (22 s for 5000).
    let file = sb.write("sounds.ron", &routine(&vec![r#"Sound("gong.wav")"#; 2000].join(",\n")));
    let run = within(&sb, &["show", path_arg(&file)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("sound    "), "{}", run.stdout);
}

/// Runs `check` on `script` with at most `mib` MiB of address space.
#[track_caller]
fn check_within_memory(sb: &Sandbox, script: &Path, mib: u32) -> Run {
    let limit = format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024);
    sb.run_within(PROMPT, &mut sb.command_through(&["sh", "-c", &limit], &["check", path_arg(script)]))
}

/// Ten thousand characters said a hundred thousand times (the most events a
/// session holds) is a small script: the timeline holds the text once,
/// and a session too long is known before it is built. Each used to take
/// ten kilobytes an event, 673 MB for the first and over a gigabyte for
/// the second.
#[test]
fn a_long_text_said_many_times_is_held_once() {
    let sb = Sandbox::new();
    let text = "a".repeat(10_000);
    let repeat = |inner: u32| {
        routine(&format!(r#"Repeat(times: 1000, steps: [Repeat(times: {inner}, steps: [Say("{text}")])])"#))
    };
    // 100 000 cues of about 0.64 s: past the 12 hours a session may last.
    let too_long = sb.write("too-long.ron", &repeat(100));
    let run = check_within_memory(&sb, &too_long, 200);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("the session would last more than 12 hours"), "{}", run.stderr);
    // 60 000 of them: 10 hours 42 minutes, so checked in full.
    let legal = sb.write("legal.ron", &repeat(60));
    let run = check_within_memory(&sb, &legal, 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("legal.ron: ok (≈10:42:"), "{}", run.stdout);
}

/// The routine that once took four runs of `check` to put right: a `#`
/// comment, a string never closed, a `Sides(` never closed, a misspelt
/// chime, a duration without its last unit and a `.ogg` that is no sound.
/// One run reports them all, each at its place.
#[test]
fn check_reports_every_kind_of_mistake_in_one_run() {
    let sb = Sandbox::new();
    sb.write("rain.ogg", "this is not audio\n");
    let file = sb.write(
        "mine.ron",
        "Routine(\n\
         \x20   title: \"T\",\n\
         \x20   summary: \"S\",\n\
         \x20   # the steps\n\
         \x20   steps: [\n\
         \x20       Say(\"Hello),\n\
         \x20       Sides([\n\
         \x20           Hold,\n\
         \x20       ],\n\
         \x20       Chime(\"bel\"),\n\
         \x20       Pause(\"1m30\"),\n\
         \x20       Sound(\"rain.ogg\"),\n\
         \x20   ],\n\
         )\n",
    );
    let run = within(&sb, &["check", path_arg(&file)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let at = |line_col: &str, message: &str| format!("{}:{line_col}: error: {message}", file.display());
    let expected = [
        at("4:5", "comments start with //, not #"),
        at("6:13", "this string is never closed with \""),
        at("7:9", "`Sides(` is never closed"),
        at("10:15", "unknown chime \"bel\""),
        at("11:15", "\"1m30\" ends without a unit; write \"1m30s\""),
        at("12:15", "cannot decode"),
    ];
    let heads: Vec<&str> = run.stderr.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(heads.len(), expected.len(), "{}", run.stderr);
    for (head, want) in heads.iter().zip(&expected) {
        assert!(head.starts_with(want.as_str()), "{head}\nwanted {want}\n{}", run.stderr);
    }
    for hint in [
        "write // in place of #",
        "end the text with a double quote on its line: \"Hello\"",
        "line 10 is indented as if outside it",
    ] {
        assert!(run.stderr.contains(hint), "{hint}: {}", run.stderr);
    }
    assert!(run.stderr.contains("mine.ron has 6 errors"), "{}", run.stderr);
}
