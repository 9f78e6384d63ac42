//! The real binary, driven as a user would: every command, its output,
//! its exit code, and what it leaves on disk.

use expect_test::{expect, expect_file};

use crate::support::Sandbox;

const BUILTINS: [&str; 4] = ["deep-spinal", "gluteus-medius", "quadratus-lumborum", "full-back"];

/// `show deep-spinal --json` with more arguments, parsed.
#[track_caller]
fn show_json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["show", "deep-spinal", "--json"];
    all.extend_from_slice(args);
    let run = sb.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn show_every_builtin() {
    let sb = Sandbox::new();
    for name in BUILTINS {
        let run = sb.run(&["show", name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr, "", "a built-in must have no warnings");
        expect_file![format!("snapshots/show-{name}.txt")].assert_eq(&run.stdout);
    }
}

#[test]
fn show_json_is_consistent_with_the_timeline() {
    let sb = Sandbox::new();
    let run = sb.run(&["show", "deep-spinal", "--json", "--hold", "30s", "--rounds", "2", "--rest", "5s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["hold_ms"], 30_000);
    assert_eq!(doc["rounds"], 2);
    let events = doc["events"].as_array().unwrap();
    // Steps follow each other without gaps, and the last ends at the total.
    let mut cursor = 0;
    for e in events.iter().filter(|e| e["overlay"] == false) {
        assert_eq!(e["start_sample"].as_u64().unwrap(), cursor, "{e}");
        cursor += e["length_samples"].as_u64().unwrap();
    }
    assert_eq!(cursor, doc["total_samples"].as_u64().unwrap());
    let holds: Vec<_> = events.iter().filter(|e| e["kind"] == "hold").collect();
    assert_eq!(holds.len(), 4, "two sides, two rounds");
    assert!(holds.iter().all(|h| h["length_ms"] == 30_000));
    let rests: Vec<_> = events.iter().filter(|e| e["kind"] == "rest").collect();
    assert_eq!(rests.len(), 1);
    assert_eq!(rests[0]["length_ms"], 5_000);
    let sides: Vec<_> = holds.iter().map(|h| h["side"].as_str().unwrap()).collect();
    assert_eq!(sides, ["left", "right", "left", "right"]);
}

#[test]
fn hold_changes_only_the_holds() {
    let sb = Sandbox::new();
    let total = |hold: &str| show_json(&sb, &["--hold", hold])["total_ms"].as_u64().unwrap() as i64;
    // Two holds (left and right), each 15 s longer; the spoken "{hold}"
    // text is the same length in words.
    assert_eq!(total("45s") - total("30s"), 30_000);
}

#[test]
fn list_shows_builtins_and_user_scripts_with_shadowing() {
    let sb = Sandbox::new();
    let starter = |name: &str| {
        format!("Routine(title: \"Mine\", summary: \"My {name}\", steps: [Say(\"hello\"), Pause(\"1m\")])")
    };
    std::fs::create_dir_all(sb.scripts_dir()).unwrap();
    std::fs::write(sb.scripts_dir().join("deep-spinal.ron"), starter("deep spinal")).unwrap();
    std::fs::write(sb.scripts_dir().join("evening.ron"), starter("evening")).unwrap();
    std::fs::write(sb.scripts_dir().join("broken.ron"), "Routine(").unwrap();
    let run = sb.run(&["list"]);
    expect![[r#"
        exit 0
        --- stdout
        Built-in routines (length at the default hold):
          deep-spinal           ≈04:23  Tennis ball against a wall on the muscle beside the spine, left then right  (shadowed by your script)
          gluteus-medius        ≈02:41  Thumb strokes below the hip bone, one direction like ironing, left then right
          quadratus-lumborum    ≈05:19  Thumb, then ball, worked across the low back just under the ribs, left then right
          full-back             ≈07:52  All three points in a row: beside the spine, below the hip, under the ribs

        Your scripts, in <tmp>/config/backease/scripts:
          broken                     -  has errors: run `backease check <tmp>/config/backease/scripts/broken.ron`
          deep-spinal           ≈01:00  My deep spinal  (shadows the built-in)
          evening               ≈01:00  My evening
        --- stderr
    "#]]
    .assert_eq(&run.snapshot(&sb));
    // The user's script now answers to the built-in's name.
    let run = sb.run(&["show", "deep-spinal"]);
    assert!(run.stdout.contains("My deep spinal"), "{}", run.stdout);
}

#[test]
fn new_writes_a_starter_that_checks_and_never_overwrites() {
    let sb = Sandbox::new();
    let run = sb.run(&["new", "evening"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = sb.scripts_dir().join("evening.ron");
    assert_eq!(run.stdout.lines().next().unwrap(), path.display().to_string());
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("name: \"evening\""));

    let check = sb.run(&["check", path.to_str().unwrap()]);
    assert_eq!((check.code, check.stderr.as_str()), (0, ""), "{}", check.stderr);
    // By name too, since it is in the scripts folder.
    assert_eq!(sb.run(&["check", "evening"]).code, 0);

    std::fs::write(&path, "my edits").unwrap();
    let again = sb.run(&["new", "evening"]);
    assert_eq!(again.code, 3);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "my edits");

    let bad = sb.run(&["new", "My Routine"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("`My Routine` is not a routine name"), "{}", bad.stderr);
}

#[test]
fn new_on_a_full_disk_fails_cleanly() {
    // A tiny filesystem of our own, filled up, in a private mount namespace.
    let sb = Sandbox::new();
    let config = sb.config_dir();
    std::fs::create_dir_all(&config).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=16k none '{c}' && mkdir -p '{c}/backease/scripts' && \
         (dd if=/dev/zero of='{c}/fill' bs=1k count=64 2>/dev/null; true) && \
         '{bin}' new evening; echo \"exit=$?\"; ls -A '{c}/backease/scripts'",
        c = config.display(),
        bin = env!("CARGO_BIN_EXE_backease")
    );
    let (stdout, stderr) = sb.unshared(&script);
    assert!(stdout.starts_with("exit=3\n"), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("the disk is full"), "{stderr}");
    // Neither the script nor a temporary file is left behind.
    assert_eq!(stdout.trim_end(), "exit=3", "left behind: {stdout}");
}

#[test]
fn check_reports_every_file_and_sets_the_exit_code() {
    let sb = Sandbox::new();
    let good = sb.write("good.ron", "Routine(title: \"G\", summary: \"s\", steps: [Say(\"hi\")])");
    let bad = sb.write(
        "bad.ron",
        "Routine(\n  title: \"B\",\n  summary: \"s\",\n  steps: [\n    Sya(\"hi\"),\n    Chime(\"bel\"),\n  ],\n)\n",
    );
    let run = sb.run(&["check", good.to_str().unwrap(), bad.to_str().unwrap()]);
    expect![[r#"
        exit 1
        --- stdout
        <tmp>/good.ron: ok (≈00:00)
        --- stderr
        <tmp>/bad.ron:5:5: error: unknown step `Sya`
          |
        5 |     Sya("hi"),
          |     ^^^
          = help: did you mean `Say`?
        <tmp>/bad.ron:6:11: error: unknown chime "bel"
          |
        6 |     Chime("bel"),
          |           ^^^^^
          = help: did you mean "bell"?
        <tmp>/bad.ron has 2 errors

    "#]]
    .assert_eq(&run.snapshot(&sb));

    let missing = sb.run(&["check", "nowhere.ron"]);
    assert_eq!(missing.code, 3);
    assert!(
        missing.stderr.contains("backease: error: cannot read nowhere.ron: no such file or folder"),
        "{}",
        missing.stderr
    );
}

#[test]
fn huge_and_binary_files_are_refused_plainly() {
    let sb = Sandbox::new();
    let huge = sb.path().join("huge.ron");
    std::fs::File::create(&huge).unwrap().set_len(100 * 1024 * 1024).unwrap();
    let run = sb.run(&["check", huge.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("is 102400 KiB; a script is at most 1024 KiB"), "{}", run.stderr);

    let junk = sb.path().join("junk.ron");
    std::fs::write(&junk, b"Routine(\n  title: \"\xff\xfe\x00\x01\"").unwrap();
    let run = sb.run(&["show", junk.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("junk.ron:2:11: error: the file is not UTF-8 text"), "{}", run.stderr);
}

#[test]
fn unknown_routine_is_a_usage_error_with_a_suggestion() {
    let sb = Sandbox::new();
    let run = sb.run(&["show", "deep-spinl"]);
    expect![[r#"
        exit 2
        --- stdout
        --- stderr
        backease: error: no routine named `deep-spinl`
        hint: did you mean `deep-spinal`? `backease list` shows every routine
    "#]]
    .assert_eq(&run.snapshot(&sb));
}

#[test]
fn bad_options_are_usage_errors() {
    let sb = Sandbox::new();
    for (args, needle) in [
        (&["show", "deep-spinal", "--hold", "45"][..], "\"45\" has no unit"),
        (&["show", "deep-spinal", "--hold", "20m"][..], "a hold is at most 10 minutes"),
        (&["show", "deep-spinal", "--hold", "0s"][..], "must be longer than zero"),
        (&["show", "deep-spinal", "--rounds", "0"][..], "0 is not in 1..=1000"),
        (&["frobnicate"][..], "unrecognized subcommand"),
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn help_documents_examples_and_exit_codes() {
    let sb = Sandbox::new();
    let top = sb.run(&["--help"]);
    assert_eq!(top.code, 0);
    assert!(top.stdout.contains("130  stopped with Ctrl-C"), "{}", top.stdout);
    assert!(top.stdout.contains("backease play deep-spinal --hold 45s --loop"));
    let play = sb.run(&["play", "--help"]);
    assert!(play.stdout.contains("While playing: space pauses and resumes"), "{}", play.stdout);
    for cmd in ["list", "show", "check", "new", "play", "render", "voices", "config", "devices", "log", "today"] {
        let run = sb.run(&[cmd, "--help"]);
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("Example"), "{cmd} --help has no example:\n{}", run.stdout);
    }
    let v = sb.run(&["--version"]);
    assert_eq!(v.stdout, format!("backease {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_config_file_sets_defaults_that_flags_override() {
    let sb = Sandbox::new();
    let hold_ms = |args: &[&str]| show_json(&sb, args)["hold_ms"].as_u64().unwrap();
    assert_eq!(hold_ms(&[]), 45_000);
    let config = sb.run(&["config"]);
    assert!(
        config.stdout.contains("pan      true: the cues of Sides from their side (default)\n"),
        "{}",
        config.stdout
    );
    sb.write("config/backease/config.ron", "// mine\nConfig(hold: \"30s\", chime: \"soft\", pan: false)\n");
    assert_eq!(hold_ms(&[]), 30_000);
    assert_eq!(hold_ms(&["--hold", "40s"]), 40_000);
    let shown = sb.run(&["show", "deep-spinal"]).stdout;
    assert!(!shown.contains("chime    bell"), "the config's chime replaces the bell:\n{shown}");
    let config = sb.run(&["config"]);
    assert!(config.stdout.contains("hold     30s\n"), "{}", config.stdout);
    assert!(config.stdout.contains("chime    soft\n"), "{}", config.stdout);
    assert!(config.stdout.contains("pan      false\n"), "{}", config.stdout);

    sb.write("config/backease/config.ron", "Config(\n  hold: \"30s\",\n  volume: 7,\n)\n");
    let run = sb.run(&["show", "deep-spinal"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("config.ron:3:11: error: the volume must be a number from 0.0 to 2.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn voices_lists_the_engines_voices() {
    let sb = Sandbox::new();
    let run = sb.run(&["voices"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // No Piper in the sandbox's data folder: its voice is listed as not
    // installed, with how to install it.
    let joe = crate::voices::row(&run.stdout, "en_US-joe-medium", "piper");
    assert_eq!(joe[2..6].join(" "), "en_US - no Piper", "{}", run.stdout);
    assert!(run.stdout.contains("Piper is not installed: backease setup installs it"), "{}", run.stdout);
    assert_eq!(crate::voices::row(&run.stdout, "en-gb", "espeak")[4], "yes", "{}", run.stdout);
    // Nor hibari: its one voice is listed, not installed.
    assert_eq!(crate::voices::row(&run.stdout, "heart", "hibari")[4], "no", "{}", run.stdout);
}

#[test]
fn a_scripts_folder_that_cannot_be_read_is_said_not_taken_for_empty() {
    let sb = Sandbox::new();
    // The scripts folder's place is taken by a file.
    sb.write("config/backease/scripts", "not a folder");
    let list = sb.run(&["list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("scripts is a file, not a folder\n"), "{}", list.stdout);
    assert!(!list.stdout.contains("none yet"), "{}", list.stdout);
    let new = sb.run(&["new", "evening"]);
    assert_eq!(new.code, 3, "{}", new.stderr);
    assert!(new.stderr.contains("scripts is a file, not a folder"), "{}", new.stderr);
    assert!(new.stderr.contains("hint: move that file away"), "{}", new.stderr);
}

#[test]
fn script_names_reach_the_terminal_escaped_and_a_hint_lists_a_few() {
    let sb = Sandbox::new();
    for i in 0..30 {
        sb.write(&format!("config/backease/scripts/mine-{i:02}.ron"), "not RON");
    }
    sb.write("config/backease/scripts/\u{1b}]0;pwned\u{7}.ron", "not RON");
    let list = sb.run(&["list"]);
    assert!(!list.stdout.contains('\u{1b}') && !list.stdout.contains('\u{7}'), "{:?}", list.stdout);
    let play = sb.run(&["play", "qqqqqqqqqq"]);
    assert_eq!(play.code, 2, "{}", play.stderr);
    assert!(play.stderr.contains("… (35 in all); `backease list` shows them all"), "{}", play.stderr);
    assert!(!play.stderr.contains("mine-29") && !play.stderr.contains('\u{1b}'), "{:?}", play.stderr);
}

/// A broken settings file stops every command the same way: its mistake at
/// file:line:column, what to do, exit 1, and nothing done.
#[test]
fn every_command_refuses_a_broken_settings_file() {
    let sb = Sandbox::new();
    let script = sb.write("mine.ron", "Routine(title: \"T\", summary: \"S\", steps: [Say(\"hi\")])\n");
    let config = sb.write("config/backease/config.ron", "Config(\n  daily-goal: 6,\n)\n");
    let script = script.to_str().unwrap();
    for args in [
        &["list"][..],
        &["check", script],
        &["show", "deep-spinal"],
        &["log"],
        &["today"],
        &["new", "evening"],
        &["config"],
        &["remind"],
        &["devices"],
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        let at = format!("{}:2:3: error: Config has no field `daily-goal`", config.display());
        assert!(run.stderr.contains(&at), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("help: did you mean `daily_goal`? names are written with _, not -"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("or move the file away to use the defaults"), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}: nothing is done");
    }
    assert!(!sb.scripts_dir().join("evening.ron").exists(), "`new` wrote nothing");
}

#[test]
fn durations_on_the_command_line_read_as_in_a_script() {
    let sb = Sandbox::new();
    let hold_ms = |hold: &str| show_json(&sb, &["--hold", hold])["hold_ms"].as_u64().unwrap();
    assert_eq!(hold_ms("1m30s"), 90_000);
    assert_eq!(hold_ms("1 min 30 sec"), 90_000);
    assert_eq!(hold_ms("45sec"), 45_000);
    assert_eq!(hold_ms("1.5m"), 90_000);
    // One rest between two rounds: 2 minutes is 119 s longer than 1 s.
    let total = |rest: &str| show_json(&sb, &["--rounds", "2", "--rest", rest])["total_ms"].as_u64().unwrap();
    assert_eq!(total("2min") - total("1s"), 119_000);
    for (args, needle) in [
        (&["show", "deep-spinal", "--hold", "1m30"][..], "\"1m30\" ends without a unit; write \"1m30s\""),
        (&["show", "deep-spinal", "--rest", "1:30"][..], "write \"1m30s\" for minutes and seconds"),
        (&["remind", "--every", "1h30"][..], "\"1h30\" ends without a unit; write \"1h30m\""),
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}
