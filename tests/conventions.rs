//! The conventions a command-line program is expected to keep, through the
//! real binary: shell completions and a man page made from the command
//! line's definitions, colour only where a terminal takes it, `--json`
//! wherever a command prints a state, and usage errors that exit 2.

use crate::support::{Bounded, Pulse, Sandbox};

/// A `--device` that names no output is a usage error (2), as any wrong
/// option is, and the hint names the outputs there are.
#[test]
fn a_wrong_device_is_a_usage_error_with_the_outputs_listed() {
    let sb = Sandbox::new();
    sb.write("tick.ron", r#"Routine(title: "T", summary: "S", steps: [Chime("tick")])"#);
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", "tick.ron", "--device", "no-such-output"]);
    pulse.apply(&mut cmd);
    let out = cmd.output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: no output device named \"no-such-output\""), "{stderr}");
    let hint = stderr.lines().find(|l| l.starts_with("hint: ")).unwrap_or_else(|| panic!("a hint: {stderr}"));
    assert!(hint.contains("default"), "the outputs there are: {stderr}");
}

/// Every subcommand, as `--help` lists them.
const COMMANDS: [&str; 14] = [
    "list",
    "show",
    "check",
    "play",
    "render",
    "voices",
    "config",
    "devices",
    "remind",
    "new",
    "log",
    "today",
    "completions",
    "man",
];

/// Runs a shell program on `script` (a file) and returns its output.
#[track_caller]
fn shell(program: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(program).args(args).stdin(std::process::Stdio::null()).output_bounded();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn bash_completion_parses_and_completes_subcommands() {
    let sb = Sandbox::new();
    let run = sb.run(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = sb.write("backease.bash", &run.stdout);
    let file = file.to_str().unwrap();
    shell("bash", &["-n", file]);
    // What bash does on Tab after `backease pl`, and after `backease play --dev`.
    let complete = |words: &str| {
        let script = format!(
            "source '{file}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _backease backease \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        String::from_utf8(shell("bash", &["-c", &script]).stdout).unwrap()
    };
    assert_eq!(complete("backease pl").trim(), "play");
    assert_eq!(complete("backease re").lines().collect::<Vec<_>>(), ["render", "remind"]);
    assert!(complete("backease play --dev").lines().any(|l| l == "--device"));
}

#[test]
fn zsh_and_fish_completions_parse() {
    let sb = Sandbox::new();
    for (shell_name, check) in [("zsh", "zsh"), ("fish", "fish")] {
        let run = sb.run(&["completions", shell_name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for command in COMMANDS {
            assert!(run.stdout.contains(command), "{shell_name} completes {command}:\n{}", run.stdout);
        }
        let file = sb.write(&format!("backease.{shell_name}"), &run.stdout);
        shell(check, &["-n", file.to_str().unwrap()]);
    }
    let run = sb.run(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "an unknown shell is a usage error: {}", run.stderr);
}

/// A man page as `man` shows it, with groff's warnings on: none may come.
#[track_caller]
fn read_man_page(sb: &Sandbox, args: &[&str]) -> String {
    let run = sb.run(args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(".ie") || run.stdout.contains(".TH "), "roff:\n{}", run.stdout);
    let file = sb.write("page.1", &run.stdout);
    let out = std::process::Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .stdin(std::process::Stdio::null())
        .output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "man -l: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn man_pages_read_cleanly_and_name_every_command() {
    let sb = Sandbox::new();
    let page = read_man_page(&sb, &["man"]);
    assert!(page.contains("Voice-guided trigger-point sessions"), "{page}");
    for command in COMMANDS {
        assert!(page.contains(&format!("backease-{command}(1)")), "the page names {command}:\n{page}");
    }
    assert!(page.contains("Exit codes"), "{page}");
    let play = read_man_page(&sb, &["man", "play"]);
    assert!(play.contains("backease-play") && play.contains("--device"), "{play}");
    let run = sb.run(&["man", "dance"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("play"), "the commands are named: {}", run.stderr);
}

/// A routine of chimes only: it renders and plays with no voice at all.
const TICK: &str = r#"Routine(title: "T", summary: "S", steps: [Chime("tick")])"#;

#[test]
fn render_quiet_prints_nothing_but_errors() {
    let sb = Sandbox::new();
    sb.write("tick.ron", TICK);
    let loud = sb.run(&["render", "tick.ron", "-o", "loud.wav"]);
    assert_eq!(loud.code, 0, "{}", loud.stderr);
    assert!(loud.stdout.starts_with("wrote loud.wav"), "{}", loud.stdout);
    assert!(loud.stderr.contains("rendering"), "progress without --quiet: {}", loud.stderr);
    let quiet = sb.run(&["render", "tick.ron", "-o", "quiet.wav", "--quiet"]);
    assert_eq!((quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()), (0, "", ""));
    let written = |name: &str| std::fs::read(sb.path().join(name)).unwrap();
    assert_eq!(written("quiet.wav"), written("loud.wav"), "the same file");
    let failed = sb.run(&["render", "nowhere.ron", "-o", "x.wav", "-q"]);
    assert_eq!(failed.code, 3);
    assert!(failed.stderr.starts_with("backease: error: "), "errors still shown: {}", failed.stderr);
}

/// A script with two errors, each with a hint, and a warning.
const BAD: &str = "Routine(\n  title: \"B\",\n  summary: \"s\",\n  steps: [\n    Sya(\"hi\"),\n    Chime(\"bel\"),\n    Sides([Sides([Say(\"x\")])]),\n  ],\n)\n";

#[test]
fn check_with_no_argument_checks_the_scripts_folder() {
    let sb = Sandbox::new();
    let run = sb.run(&["check"]);
    let dir = sb.scripts_dir().display().to_string();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&dir) && run.stdout.contains("No scripts"), "{}", run.stdout);
    sb.write("config/backease/scripts/good.ron", TICK);
    let run = sb.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(&format!("Checking 1 routine in {dir}:\n")), "{}", run.stdout);
    assert!(run.stdout.contains("good.ron: ok"), "{}", run.stdout);
    sb.write("config/backease/scripts/bad.ron", BAD);
    let run = sb.run(&["check"]);
    assert_eq!(run.code, 1, "as for one script with errors: {}", run.stderr);
    assert!(run.stdout.starts_with(&format!("Checking 2 routines in {dir}:\n")), "{}", run.stdout);
    assert!(run.stderr.contains("bad.ron:5:5: error: unknown step `Sya`"), "{}", run.stderr);
}

#[test]
fn check_json_gives_each_diagnostic_with_its_place() {
    let sb = Sandbox::new();
    let good = sb.write("good.ron", TICK);
    let bad = sb.write("bad.ron", BAD);
    let run = sb.run(&["check", "--json", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr, "", "all of it in the JSON");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let found: Vec<String> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap().replace(sb.path().to_str().unwrap(), "<tmp>");
            format!("{file}:{}:{} {} {} [{}]", d["line"], d["column"], d["severity"], d["message"], d["hint"])
        })
        .collect();
    assert_eq!(
        found,
        [
            r#"<tmp>/bad.ron:5:5 "error" "unknown step `Sya`" ["did you mean `Say`?"]"#,
            r#"<tmp>/bad.ron:6:11 "error" "unknown chime \"bel\"" ["did you mean \"bell\"?"]"#,
            r#"<tmp>/bad.ron:7:12 "warning" "Sides inside Sides plays these steps four times: left and right, on each side" ["remove the inner Sides([ … ]) and keep its steps"]"#,
        ],
        "{}",
        run.stdout
    );
    let clean = sb.run(&["check", "--json", good.to_str().unwrap()]);
    assert_eq!((clean.code, clean.stdout.as_str()), (0, "[]\n"), "{}", clean.stderr);
}

/// Runs a command with `--json` and parses what it printed.
#[track_caller]
fn json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let run = sb.run(args);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}:\n{}", run.stdout))
}

#[test]
fn list_config_and_remind_print_json() {
    let sb = Sandbox::new();
    sb.write("config/backease/scripts/mine.ron", TICK);
    sb.write("config/backease/config.ron", "Config(voice: \"en-gb\", daily_goal: 6)");
    let list = json(&sb, &["list", "--json"]);
    assert_eq!(list["scripts_dir"], sb.scripts_dir().display().to_string());
    let routines = list["routines"].as_array().unwrap();
    let names: Vec<&str> = routines.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["deep-spinal", "gluteus-medius", "quadratus-lumborum", "full-back", "mine"]);
    let mine = &routines[4];
    assert_eq!((mine["builtin"].as_bool(), mine["summary"].as_str()), (Some(false), Some("S")), "{mine}");
    assert!(routines[0]["length_ms"].as_u64().unwrap() > 60_000, "{list}");
    let config = json(&sb, &["config", "--json"]);
    assert_eq!(config["exists"], true, "{config}");
    assert_eq!(config["settings"]["voice"], "en-gb", "{config}");
    assert_eq!(config["settings"]["daily_goal"], 6, "{config}");
    assert_eq!(config["settings"]["chime"], serde_json::Value::Null, "not set: {config}");
    let remind = json(&sb, &["remind", "--json"]);
    assert_eq!(remind, serde_json::json!({ "set": false }));
}

#[test]
fn devices_and_voices_print_json() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["devices", "--json"]);
    pulse.apply(&mut cmd);
    let out = cmd.output_bounded();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let devices: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(devices[0]["name"], "default", "{devices}");
    assert_eq!(devices[0]["default"], true, "{devices}");
    let flite = json(&sb, &["voices", "--engine", "flite", "--json"]);
    let names: Vec<&str> = flite["rows"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"slt"), "{flite}");
    assert!(flite["rows"].as_array().unwrap().iter().all(|v| v["engine"] == "flite"), "{flite}");
    // Every engine's voices in one listing, the ones missing with why.
    let all = json(&sb, &["voices", "--json"]);
    let row = |name: &str, engine: &str| {
        all["rows"].as_array().unwrap().iter().find(|v| v["name"] == name && v["engine"] == engine).cloned()
    };
    assert_eq!(row("en-gb", "espeak").expect("en-gb")["installed"], true, "{all}");
    assert_eq!(row("heart", "hibari").expect("heart")["installed"], false, "{all}");
}

/// The escape sequence that starts every colour or style.
const SGR: &str = "\x1b[";

/// `check` of a script with an error and a warning, on a terminal (`script`
/// gives it one), with `NO_COLOR` set to `no_color`: what it printed.
fn check_on_a_terminal(sb: &Sandbox, no_color: &str) -> String {
    let cmd = sb.command(&["check", "bad.ron"]);
    let binary = cmd.get_program().to_str().unwrap().to_string();
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("'{binary}' check bad.ron"), "/dev/null"])
        .current_dir(sb.path())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("NO_COLOR", no_color)
        .env("TERM", "xterm-256color")
        .output_bounded();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn errors_and_warnings_are_coloured_on_a_terminal_only() {
    let sb = Sandbox::new();
    // The script's own text holds an escape sequence: it stays escaped.
    sb.write("bad.ron", &BAD.replace("Sya(\"hi\")", "Sya(\"\x1b[31mhi\")"));
    let coloured = check_on_a_terminal(&sb, "");
    let red_bold = |label: &str| {
        let at = coloured.find(&format!("{label}\x1b[0m")).unwrap_or_else(|| panic!("{label} coloured:\n{coloured:?}"));
        coloured[..at].rfind(SGR).map(|start| coloured[start..at].to_string()).unwrap()
    };
    let error = red_bold("error:");
    assert!(error.contains("31") && error.contains('1'), "error: red and bold: {error:?}");
    assert!(red_bold("warning:").contains("33"), "warning: yellow");
    assert!(red_bold("help:").contains("32"), "help: green");
    // The script's escape is shown as a space, never sent.
    assert!(coloured.contains("Sya(\" [31mhi") && !coloured.contains("\x1b[31mhi"), "{coloured:?}");
    let plain = check_on_a_terminal(&sb, "1");
    assert!(!plain.contains(SGR), "NO_COLOR: {plain:?}");
    assert!(plain.contains("error: unknown step"), "{plain}");
    let piped = sb.run(&["check", "bad.ron"]);
    assert!(!piped.stderr.contains(SGR) && piped.stderr.contains("warning: Sides"), "{:?}", piped.stderr);
}

#[test]
fn the_live_display_is_coloured_unless_no_color() {
    use crate::support::{Tmux, pane_backease};
    let sb = Sandbox::new();
    sb.write("pause.ron", r#"Routine(title: "T", summary: "S", steps: [Chime("tick"), Pause("20s")])"#);
    let pulse = Pulse::start(&sb);
    for (no_color, coloured) in [("''", true), ("'1'", false)] {
        let start = pane_backease(&sb, &pulse).replace("NO_COLOR='1'", &format!("NO_COLOR={no_color}"));
        let tmux = Tmux::start(&sb, &format!("{start} play pause.ron; sleep 60"));
        tmux.wait_for("left", std::time::Duration::from_secs(30));
        let screen = String::from_utf8_lossy(&tmux.tmux(&["capture-pane", "-e", "-p", "-t", "s"]).stdout).into_owned();
        assert_eq!(screen.contains(SGR), coloured, "NO_COLOR={no_color}:\n{screen:?}");
        tmux.keys("q");
    }
}

#[test]
fn remind_json_gives_the_schedule_that_is_set() {
    let sb = Sandbox::new();
    let remind = |args: &[&str]| {
        let mut cmd = sb.command(&[&["remind"], args].concat());
        // No systemd user manager to reach, as on CI.
        cmd.env("XDG_RUNTIME_DIR", sb.path().join("no-runtime"));
        crate::support::run_within(std::time::Duration::from_secs(30), &mut cmd)
    };
    let set = remind(&["--every", "90m", "--between", "07:30-22:00"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let run = remind(&["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let state: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((state["set"].as_bool(), state["every_s"].as_u64()), (Some(true), Some(5400)), "{state}");
    assert_eq!(state["between"], "07:30-22:00", "{state}");
    assert!(state["systemd"].as_str().unwrap().starts_with("not reachable ("), "{state}");
    assert_eq!(state["problem"], serde_json::Value::Null, "{state}");
    let timer = sb.config_dir().join("systemd/user/backease-remind.timer");
    assert_eq!(state["timer"], timer.display().to_string(), "{state}");
    let next = state["next"].as_str().unwrap();
    assert!(next.len() == 5 && next.as_bytes()[2] == b':', "{state}");
    assert_eq!(remind(&["--json", "--off"]).code, 2, "--json only shows");
}
