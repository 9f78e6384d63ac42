//! The practice log, for real: sessions played by the binary on a sound
//! server of the test's own, recorded into a SQLite file in the sandbox's
//! data folder, read back with the `sqlite3` program and through
//! `backease log` and `backease today`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{Guarded, Pulse, RECORD_RATE, Sandbox, Tmux, pane_command, read_raw, run_within, stop};

/// Two points, both sides each, with short holds.
const TWO_POINTS: &str = r#"Routine(name: "two", title: "Two", summary: "s", steps: [
    Sides(point: "deep-spinal", steps: [Say("{side}"), Hold(length: "1s")]),
    Sides(point: "gluteus-medius", steps: [Say("{side}"), Strokes(count: 2, every: "500ms")]),
])"#;

fn log_path(sb: &Sandbox) -> PathBuf {
    sb.path().join(".local/share/backease/log.sqlite")
}

/// Runs a query on the log with the `sqlite3` program; rows as lines,
/// columns joined by `|`.
#[track_caller]
fn sql(sb: &Sandbox, query: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 5000"])
        .arg(log_path(sb))
        .arg(query)
        .output()
        .expect("sqlite3 is installed (bash .ci/setup)");
    assert!(out.status.success(), "{query}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes the routine and makes its speech once, so sessions start at once.
fn routine(sb: &Sandbox, name: &str, text: &str) -> String {
    let file = format!("{name}.ron");
    sb.write(&file, text);
    let warm = sb.run(&["render", &file, "--engine", "espeak", "-o", "warm.wav"]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    file
}

fn play(sb: &Sandbox, pulse: &Pulse, file: &str) -> std::process::Command {
    let mut cmd = sb.command(&["play", file, "--engine", "espeak"]);
    pulse.apply(&mut cmd);
    cmd
}

#[test]
fn a_session_records_each_point_and_side_and_says_where_you_stand() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    std::thread::sleep(Duration::from_millis(300));
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("practice log"), "{}", run.stderr);
    // Said aloud too, after the session, though no keyboard is there (a
    // session a reminder starts has none): sound goes on past its end.
    let session = backease::wav::parse(&std::fs::read(sb.path().join("warm.wav")).unwrap()).unwrap().samples.len();
    let heard = read_raw(&recording);
    let loud = |s: &i16| s.unsigned_abs() > 330;
    let (first, last) = (heard.iter().position(loud).unwrap(), heard.iter().rposition(loud).unwrap());
    let after = (last - first) as f64 / RECORD_RATE as f64 - session as f64 / RECORD_RATE as f64;
    assert!(after > 1.0, "{after:.2} s of sound after the session's end: the standing was not said");
    assert!(
        run.stdout.ends_with(
            "That was your first deep spinal session and your first gluteus medius session today.\nSession complete.\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(sql(&sb, "PRAGMA journal_mode"), "wal\n");
    assert_eq!(sql(&sb, "SELECT routine, hold_ms, stopped, ended >= started FROM sessions"), "two|45000|0|1\n");
    assert_eq!(
        sql(&sb, "SELECT point, side, round, done FROM worked ORDER BY id"),
        "deep-spinal|left|1|1\ndeep-spinal|right|1|1\ngluteus-medius|left|1|1\ngluteus-medius|right|1|1\n"
    );
    // No keyboard (standard input is not a terminal): nothing was asked.
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM tenderness"), "0\n");

    let today = sb.run(&["today", "--json"]);
    assert_eq!(today.code, 0, "{}", today.stderr);
    let t: serde_json::Value = serde_json::from_str(&today.stdout).unwrap();
    assert_eq!(t["goal"], 5);
    assert_eq!(t["next"], "quadratus-lumborum");
    let counts: Vec<(String, u64)> = t["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["point"].as_str().unwrap().to_string(), p["sessions"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, [("deep-spinal".into(), 1), ("gluteus-medius".into(), 1), ("quadratus-lumborum".into(), 0)]);
    assert_eq!(t["day"].as_str().unwrap().len(), 10);

    let text = sb.run(&["today"]);
    assert!(text.stdout.contains("  deep spinal          1 of 5\n"), "{}", text.stdout);
    assert!(text.stdout.contains("  quadratus lumborum   0 of 5\n"), "{}", text.stdout);
    assert!(text.stdout.ends_with("Next: quadratus lumborum (backease play quadratus-lumborum)\n"), "{}", text.stdout);

    let log = sb.run(&["log"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(log.stdout.contains("  two  hold 45s\n"), "{}", log.stdout);
    assert!(log.stdout.contains("    deep spinal: left done, right done\n"), "{}", log.stdout);
    assert!(log.stdout.contains("    gluteus medius: left done, right done\n"), "{}", log.stdout);
    let json: serde_json::Value = serde_json::from_str(&sb.run(&["log", "--json"]).stdout).unwrap();
    assert_eq!(json[0]["routine"], "two");
    assert_eq!(json[0]["worked"].as_array().unwrap().len(), 4);
    assert_eq!(json[0]["worked"][1]["side"], "right");
    assert_eq!(json[0]["stopped"], false);

    // A second session: the count goes on, and the goal is met at 2.
    sb.write("config/backease/config.ron", "Config(daily_goal: 2)");
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    assert!(
        run.stdout.contains(
            "That was your second deep spinal session and your second gluteus medius session today. That meets today's goal of 2.\n"
        ),
        "{}",
        run.stdout
    );
    let t: serde_json::Value = serde_json::from_str(&sb.run(&["today", "--json"]).stdout).unwrap();
    assert_eq!(t["goal"], 2);
    assert_eq!(t["next"], "quadratus-lumborum");
}

#[test]
fn a_session_killed_outright_keeps_what_was_done() {
    let sb = Sandbox::new();
    let file = routine(
        &sb,
        "long",
        r#"Routine(name: "long", title: "Long", summary: "s", steps: [
            Sides(point: "deep-spinal", steps: [Say("{side}"), Hold(length: "1s")]),
            Sides(point: "quadratus-lumborum", steps: [Say("{side}"), Hold(length: "1m")]),
        ])"#,
    );
    let pulse = Pulse::start(&sb);
    let mut child = Guarded::spawn(
        play(&sb, &pulse, &file).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()),
    );
    let start = Instant::now();
    // Both deep spinal sides are written as they end.
    while !(log_path(&sb).exists() && sql(&sb, "SELECT COUNT(*) FROM worked") == "2\n") {
        assert!(start.elapsed() < Duration::from_secs(30), "the sides were not recorded");
        assert!(child.try_wait().unwrap().is_none(), "the session ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(sql(&sb, "PRAGMA integrity_check"), "ok\n");
    assert_eq!(sql(&sb, "SELECT routine, ended IS NULL FROM sessions"), "long|1\n");
    assert_eq!(
        sql(&sb, "SELECT point, side, done FROM worked ORDER BY id"),
        "deep-spinal|left|1\ndeep-spinal|right|1\n"
    );
    let log = sb.run(&["log"]);
    assert!(log.stdout.contains("(never ended)"), "{}", log.stdout);
    let t: serde_json::Value = serde_json::from_str(&sb.run(&["today", "--json"]).stdout).unwrap();
    assert_eq!(t["points"][0]["sessions"], 1);
}

#[test]
fn two_sessions_at_once_both_record() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    let mut a = play(&sb, &pulse, &file);
    let mut b = play(&sb, &pulse, &file);
    let first = std::thread::spawn(move || run_within(Duration::from_secs(90), &mut a));
    let second = run_within(Duration::from_secs(90), &mut b);
    let first = first.join().unwrap();
    for run in [&first, &second] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("practice log"), "{}", run.stderr);
    }
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions WHERE ended IS NOT NULL AND stopped = 0"), "2\n");
    assert_eq!(sql(&sb, "SELECT session, COUNT(*) FROM worked WHERE done = 1 GROUP BY session"), "1|4\n2|4\n");
    let t: serde_json::Value = serde_json::from_str(&sb.run(&["today", "--json"]).stdout).unwrap();
    assert_eq!(t["points"][1]["sessions"], 2);
}

#[test]
fn a_damaged_log_gives_one_warning_and_the_session_plays() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::create_dir_all(log_path(&sb).parent().unwrap()).unwrap();
    std::fs::write(log_path(&sb), &garbage).unwrap();
    let pulse = Pulse::start(&sb);
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n"), "{}", run.stdout);
    assert_eq!(run.stderr.matches("practice log").count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: the practice log")
            && run.stderr.contains("cannot be written (file is not a database)")
            && run.stderr.contains("this session is not recorded"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(log_path(&sb)).unwrap(), garbage, "the damaged file is left as it was");
    for cmd in ["log", "today"] {
        let r = sb.run(&[cmd]);
        assert_eq!(r.code, 3, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("cannot read the practice log"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("move it away"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn a_log_locked_too_long_gives_one_warning_and_the_session_plays() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    // A first session makes the log.
    assert_eq!(run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file)).code, 0);
    // Another program holds the write lock throughout the next session.
    let lock = rusqlite::Connection::open(log_path(&sb)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n"), "{}", run.stdout);
    assert_eq!(run.stderr.matches("practice log").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("database is locked"), "{}", run.stderr);
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions"), "1\n");
}

#[test]
fn tenderness_is_asked_by_ear_and_a_digit_answers() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    // The questions and the confirmation are made ahead, as the session's are.
    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play {file} --engine espeak")));
    // The question is shown as it starts to be said, after the session's
    // last sound: whatever the output plays from here on is the question.
    tmux.wait_for("How tender was the deep spinal, from zero to ten?", Duration::from_secs(60));
    let asked_at = std::fs::metadata(&recording).unwrap().len() as usize / 4;
    std::thread::sleep(Duration::from_millis(2500));
    tmux.keys("7");
    tmux.wait_for("7, noted.", Duration::from_secs(20));
    stop(recorder);
    let heard = read_raw(&recording);
    let loud = heard[asked_at.min(heard.len())..].iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(loud > RECORD_RATE as usize / 10, "the question is heard: {loud} loud samples after it was shown");
    tmux.wait_for("How tender was the gluteus medius", Duration::from_secs(20));
    // Anything but a digit skips.
    tmux.keys("x");
    let screen = tmux.wait_for("icanon", Duration::from_secs(30));
    assert!(
        screen.contains("Skipped.\r\nSession complete.\nEXIT=0")
            || screen.contains("Skipped.\nSession complete.\nEXIT=0"),
        "{screen}"
    );
    assert_eq!(sql(&sb, "SELECT point, value FROM tenderness"), "deep-spinal|7\n");
    let log = sb.run(&["log"]);
    assert!(log.stdout.contains("    deep spinal: left done, right done · tender 7/10\n"), "{}", log.stdout);
    let json: serde_json::Value = serde_json::from_str(&sb.run(&["log", "--json"]).stdout).unwrap();
    assert_eq!(json[0]["tenderness"], serde_json::json!([{"point": "deep-spinal", "value": 7}]));
}

#[test]
fn n_cuts_a_side_short_and_silence_skips_the_question() {
    let sb = Sandbox::new();
    let file = routine(
        &sb,
        "cut",
        r#"Routine(name: "cut", title: "Cut", summary: "s", steps: [
            Sides(point: "quadratus-lumborum", steps: [Say("The {side} side."), Hold(length: "2s")]),
        ])"#,
    );
    let pulse = Pulse::start(&sb);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play {file} --engine espeak")));
    tmux.wait_for("hold", Duration::from_secs(30));
    tmux.keys("n");
    tmux.wait_for("How tender was it, from zero to ten?", Duration::from_secs(30));
    let asked = Instant::now();
    let screen = tmux.wait_for("icanon", Duration::from_secs(30));
    let waited = asked.elapsed();
    assert!(screen.contains("Skipped."), "{screen}");
    assert!(waited > Duration::from_secs(7) && waited < Duration::from_secs(15), "{waited:?}");
    assert_eq!(sql(&sb, "SELECT side, done FROM worked ORDER BY id"), "left|0\nright|1\n");
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM tenderness"), "0\n");
    assert!(sb.run(&["log"]).stdout.contains("    quadratus lumborum: left cut short, right done\n"));
}

#[test]
fn a_point_that_does_not_exist_is_shown_where_it_is_written() {
    let sb = Sandbox::new();
    sb.write(
        "bad.ron",
        "Routine(title: \"B\", summary: \"s\", steps: [\n  Sides(point: \"deep-spinl\", steps: [Hold]),\n  Sides(pointe: \"x\", steps: [Hold]),\n])",
    );
    let run = sb.run(&["check", "bad.ron"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("bad.ron:2:16: error: unknown point \"deep-spinl\""), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean \"deep-spinal\"?"), "{}", run.stderr);
    assert!(run.stderr.contains("bad.ron:3:9: error: Sides has no field `pointe`"), "{}", run.stderr);
    // The built-in full-back names its three points.
    let show = sb.run(&["check", "full-back"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
}
