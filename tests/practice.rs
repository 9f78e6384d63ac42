//! The practice log, for real: sessions played by the binary on a sound
//! server of the test's own, recorded into a SQLite file in the sandbox's
//! data folder, read back with the `sqlite3` program and through
//! `backease log` and `backease today`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{Guarded, Pulse, RECORD_RATE, Sandbox, Tmux, Watched, pane_command, read_raw, run_within, stop};

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
    try_sql(sb, query).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// [`sql`], or what went wrong: a log being made may have its file before
/// its tables.
fn try_sql(sb: &Sandbox, query: &str) -> Result<String, String> {
    let out = std::process::Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 5000"])
        .arg(log_path(sb))
        .arg(query)
        .output()
        .expect("sqlite3 is installed (bash .ci/setup)");
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
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
    let session =
        backease::audio::wav::parse(&std::fs::read(sb.path().join("warm.wav")).unwrap()).unwrap().samples.len();
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
    assert_eq!(sql(&sb, "SELECT routine, hold_ms, stopped, ended >= started FROM sessions"), "two|1000|0|1\n");
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
    // The holds played (1 s), not the routine's hold they never took.
    assert!(log.stdout.contains("  two  hold 1s\n"), "{}", log.stdout);
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

/// A routine of the user's own, its sides without a `point`: logged under
/// its name, with the hold it played (not `--hold`), and `today` lists it
/// beside the built-in points.
#[test]
fn a_routine_of_ones_own_is_counted_today_with_the_holds_it_played() {
    let sb = Sandbox::new();
    let file = routine(
        &sb,
        "neck",
        r#"Routine(title: "Neck", summary: "s", steps: [Sides([Say("{side}"), Hold(length: "1s")])])"#,
    );
    let pulse = Pulse::start(&sb);
    let mut cmd = play(&sb, &pulse, &file);
    let run = run_within(Duration::from_secs(60), cmd.args(["--hold", "45s"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: --hold changes nothing: every hold in neck has its own length"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("That was your first neck session today."), "{}", run.stdout);
    assert_eq!(sql(&sb, "SELECT routine, hold_ms FROM sessions"), "neck|1000\n");
    assert_eq!(sql(&sb, "SELECT point, side, done FROM worked ORDER BY id"), "neck|left|1\nneck|right|1\n");

    let text = sb.run(&["today"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("  neck                 1 of 5\n"), "{}", text.stdout);
    let t: serde_json::Value = serde_json::from_str(&sb.run(&["today", "--json"]).stdout).unwrap();
    let points: Vec<&str> = t["points"].as_array().unwrap().iter().map(|p| p["point"].as_str().unwrap()).collect();
    assert_eq!(points, ["deep-spinal", "gluteus-medius", "quadratus-lumborum", "neck"]);
    assert_eq!(t["points"][3]["sessions"], 1);
    assert_eq!(t["next"], "deep-spinal");
    let log = sb.run(&["log"]);
    assert!(log.stdout.contains("  neck  hold 1s\n"), "{}", log.stdout);
    assert!(log.stdout.contains("    neck: left done, right done\n"), "{}", log.stdout);
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
    // (The file comes a moment before its tables: not yet, not an error.)
    while !(log_path(&sb).exists() && try_sql(&sb, "SELECT COUNT(*) FROM worked").is_ok_and(|n| n == "2\n")) {
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

/// Plays a session with `plant` having put something at the log's path:
/// the session completes, with one warning naming the practice log.
#[track_caller]
fn played_with_a_bad_log(sb: &Sandbox, plant: impl FnOnce(&std::path::Path)) -> crate::support::Run {
    let file = routine(sb, "two", TWO_POINTS);
    std::fs::create_dir_all(log_path(sb).parent().unwrap()).unwrap();
    plant(&log_path(sb));
    let pulse = Pulse::start(sb);
    let run = run_within(Duration::from_secs(60), &mut play(sb, &pulse, &file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n"), "{}", run.stdout);
    assert_eq!(run.stderr.matches("practice log").count(), 1, "{}", run.stderr);
    run
}

#[test]
fn a_damaged_log_gives_one_warning_and_the_session_plays() {
    let sb = Sandbox::new();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let run = played_with_a_bad_log(&sb, |log| std::fs::write(log, &garbage).unwrap());
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

/// A log made by hand: one finished session of the deep spinal, both
/// sides, tender 4, started two minutes ago; `edit` (SQL, for the
/// `sqlite3` program) is then applied to it.
fn hand_made_log(sb: &Sandbox, edit: &str) {
    let path = log_path(sb);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let started = chrono::Utc::now().timestamp() - 120;
    let make = format!(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE sessions (id INTEGER PRIMARY KEY, routine TEXT NOT NULL, started INTEGER NOT NULL,
             ended INTEGER, hold_ms INTEGER NOT NULL, stopped INTEGER);
         CREATE TABLE worked (id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES sessions(id),
             point TEXT NOT NULL, side TEXT, round INTEGER NOT NULL, done INTEGER NOT NULL, at INTEGER NOT NULL);
         CREATE TABLE tenderness (session INTEGER NOT NULL REFERENCES sessions(id), point TEXT NOT NULL,
             value INTEGER NOT NULL CHECK (value BETWEEN 0 AND 10), PRIMARY KEY (session, point));
         INSERT INTO sessions VALUES (1, 'deep-spinal', {started}, {started} + 60, 30000, 0);
         INSERT INTO worked VALUES (1, 1, 'deep-spinal', 'left', 1, 1, {started} + 20);
         INSERT INTO worked VALUES (2, 1, 'deep-spinal', 'right', 1, 1, {started} + 40);
         INSERT INTO tenderness VALUES (1, 'deep-spinal', 4);
         PRAGMA ignore_check_constraints = 1;
         {edit}"
    );
    let out = std::process::Command::new("sqlite3").arg(&path).arg(make).output().expect("sqlite3 is installed");
    assert!(out.status.success(), "{edit}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Something that is not a file where the log belongs: a named pipe, a
/// link to a device, a folder, a link to nothing. Reading it would wait
/// for ever (a pipe) or read nonsense; each is named, with what to do,
/// and nothing hangs.
#[test]
fn a_log_that_is_not_a_file_is_named_and_nothing_waits_on_it() {
    type Make = fn(&std::path::Path);
    let cases: [(&str, Make, &str); 4] = [
        (
            "fifo",
            |p| nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).unwrap(),
            "it is a named pipe (FIFO), not a file",
        ),
        ("device", |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap(), "it is a device, not a file"),
        ("folder", |p| std::fs::create_dir(p).unwrap(), "it is a folder, not a file"),
        // SQLite would make the file the link names, wherever that is.
        (
            "dangling link",
            |p| std::os::unix::fs::symlink("/nonexistent/log", p).unwrap(),
            "it is a link to /nonexistent/log, which does not exist",
        ),
    ];
    for (name, make, what) in cases {
        let sb = Sandbox::new();
        std::fs::create_dir_all(log_path(&sb).parent().unwrap()).unwrap();
        make(&log_path(&sb));
        for args in [&["log"][..], &["log", "--json"], &["today"], &["today", "--json"]] {
            let r = sb.run_within(Duration::from_secs(20), &mut sb.command(args));
            assert_eq!(r.code, 3, "{name} {args:?}: {}", r.stderr);
            assert!(r.stdout.is_empty(), "{name} {args:?}: {}", r.stdout);
            let expect = format!("backease: error: cannot read the practice log {}: {what}\n", log_path(&sb).display());
            assert!(r.stderr.starts_with(&expect), "{name} {args:?}: {}", r.stderr);
            assert!(r.stderr.contains("move it away"), "{name} {args:?}: {}", r.stderr);
            assert_eq!(r.stderr.matches("practice log").count(), 1, "{name} {args:?}: {}", r.stderr);
        }
        // A reminder still reminds (here with no desktop to show it).
        let mut fire = sb.command(&["remind", "--fire"]);
        let r = sb.run_within(Duration::from_secs(20), &mut fire);
        assert!(r.stderr.contains(what) && r.stderr.contains("reminding of the first point"), "{name}: {}", r.stderr);
        assert!(r.stderr.contains("cannot show the reminder"), "{name}: {}", r.stderr);
        assert_eq!(r.code, 3, "{name}: {}", r.stderr);
    }
}

/// A session with a named pipe for its log plays, with one warning:
/// nothing waits on the pipe, during the session or after it.
#[test]
fn a_named_pipe_for_a_log_gives_one_warning_and_the_session_plays() {
    let sb = Sandbox::new();
    let run = played_with_a_bad_log(&sb, |log| nix::unistd::mkfifo(log, nix::sys::stat::Mode::S_IRWXU).unwrap());
    assert!(
        run.stderr.contains("cannot be written (it is a named pipe (FIFO), not a file); this session is not recorded"),
        "{}",
        run.stderr
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(log_path(&sb)).unwrap().file_type().is_fifo(), "the pipe is left as it was");
}

/// Rows edited by hand into values backease never writes: the log still
/// lists, with the odd value unknown (null in JSON), and today still counts.
#[test]
fn an_odd_row_is_shown_as_unknown_and_the_log_still_reads() {
    // (edit, what `log` shows, where JSON has a null)
    let cases = [
        (
            "UPDATE worked SET round = -1 WHERE id = 2",
            "    deep spinal: left done, right done · tender 4/10\n",
            "/0/worked/1/round",
        ),
        (
            "UPDATE worked SET round = 5000000000 WHERE id = 1",
            "    deep spinal: left done, right done",
            "/0/worked/0/round",
        ),
        (
            "UPDATE tenderness SET value = 300",
            "    deep spinal: left done, right done · tender unknown\n",
            "/0/tenderness/0/value",
        ),
        ("UPDATE tenderness SET value = -5", " · tender unknown\n", "/0/tenderness/0/value"),
        ("UPDATE sessions SET started = 'last tuesday'", "unknown start", "/0/started"),
        ("UPDATE sessions SET routine = X'00FF'", "  unknown routine  hold 30s\n", "/0/routine"),
        ("UPDATE sessions SET hold_ms = 'long'", "  deep-spinal  hold unknown\n", "/0/hold_seconds"),
    ];
    for (edit, shown, null) in cases {
        let sb = Sandbox::new();
        hand_made_log(&sb, edit);
        let log = sb.run(&["log"]);
        assert_eq!(log.code, 0, "{edit}: {}", log.stderr);
        assert!(log.stdout.contains(shown), "{edit}: {}", log.stdout);
        assert!(log.stdout.contains("    deep spinal: left done, right done"), "{edit}: {}", log.stdout);
        assert!(log.stderr.is_empty(), "{edit}: {}", log.stderr);
        let json = sb.run(&["log", "--json"]);
        assert_eq!(json.code, 0, "{edit}: {}", json.stderr);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{edit}: {e}"));
        assert_eq!(v.pointer(null), Some(&serde_json::Value::Null), "{edit}: {}", json.stdout);
        assert_eq!(v[0]["worked"].as_array().map(Vec::len), Some(2), "{edit}: {}", json.stdout);
        let today = sb.run(&["today", "--json"]);
        assert_eq!(today.code, 0, "{edit}: {}", today.stderr);
        let t: serde_json::Value = serde_json::from_str(&today.stdout).unwrap();
        // A session whose start is unknown is not one of today's.
        let expect = if edit.contains("started") { 0 } else { 1 };
        assert_eq!(t["points"][0]["sessions"], expect, "{edit}: {}", today.stdout);
    }
}

/// A row that cannot be shown at all (a point that is not text) is left
/// out and counted; the rest of the log is shown.
#[test]
fn rows_that_cannot_be_read_are_counted_not_fatal() {
    let sb = Sandbox::new();
    hand_made_log(
        &sb,
        "UPDATE worked SET point = X'0102' WHERE id = 2; UPDATE tenderness SET point = X'07';
         INSERT INTO worked VALUES (3, 1, 'deep-spinal', 'left', 2, 1, 0);",
    );
    for args in [&["log"][..], &["log", "--json"]] {
        let log = sb.run(args);
        assert_eq!(log.code, 0, "{args:?}: {}", log.stderr);
        assert_eq!(log.stderr.matches("practice log").count(), 1, "{args:?}: {}", log.stderr);
        assert!(log.stderr.contains("2 rows could not be read and are not shown"), "{args:?}: {}", log.stderr);
        assert!(!log.stderr.contains("move it away"), "{args:?}: {}", log.stderr);
    }
    assert!(sb.run(&["log"]).stdout.contains("    deep spinal: left done, left done\n"));
    let v: serde_json::Value = serde_json::from_str(&sb.run(&["log", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["worked"].as_array().unwrap().len(), 2);
    assert_eq!(v[0]["tenderness"], serde_json::json!([]));
    let today = sb.run(&["today", "--json"]);
    assert_eq!(today.code, 0, "{}", today.stderr);
    let t: serde_json::Value = serde_json::from_str(&today.stdout).unwrap();
    assert_eq!(t["points"][0]["sessions"], 1, "{}", today.stdout);
}

/// A log a newer backease stamped is read as far as this one can, with a
/// note; it is never written to.
#[test]
fn a_log_from_a_newer_backease_is_read_with_a_note_and_never_written() {
    let sb = Sandbox::new();
    hand_made_log(&sb, "PRAGMA user_version = 99;");
    for args in [&["log"][..], &["log", "--json"], &["today"], &["today", "--json"]] {
        let r = sb.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("is from a newer backease (log version 99"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("update backease"), "{args:?}: {}", r.stderr);
    }
    assert!(sb.run(&["log"]).stdout.contains("    deep spinal: left done, right done · tender 4/10\n"));
    let before = std::fs::read(log_path(&sb)).unwrap();
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("practice log").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("newer backease (log version 99"), "{}", run.stderr);
    assert_eq!(std::fs::read(log_path(&sb)).unwrap(), before, "the newer log is left as it was");
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions"), "1\n");
}

/// A log this backease makes says which version of the tables it holds,
/// and an older unstamped one is stamped when next written.
#[test]
fn the_log_is_stamped_with_its_version() {
    let sb = Sandbox::new();
    hand_made_log(&sb, "");
    assert_eq!(sql(&sb, "PRAGMA user_version"), "0\n");
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("practice log"), "{}", run.stderr);
    assert_eq!(sql(&sb, "PRAGMA user_version"), "1\n");
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions"), "2\n");
}

/// `log` and `today` only read: a log nobody may write (0444 in a 0555
/// folder) is read, as a user who cannot write it (tests run as root,
/// which may write anything). Both a log closed cleanly (no -wal or -shm
/// beside it) and one whose writer was killed (its last rows in the -wal).
#[test]
fn a_read_only_log_is_read() {
    for killed in [false, true] {
        let sb = Sandbox::new();
        hand_made_log(&sb, "");
        if killed {
            // A writer that never closes: its row stays in the -wal.
            let conn = rusqlite::Connection::open(log_path(&sb)).unwrap();
            conn.execute_batch(
                "PRAGMA wal_autocheckpoint = 0;
                 INSERT INTO worked VALUES (3, 1, 'quadratus-lumborum', NULL, 1, 1, 0);",
            )
            .unwrap();
            std::mem::forget(conn);
            assert!(std::fs::metadata(log_path(&sb).with_extension("sqlite-wal")).unwrap().len() > 0);
        }
        let mode = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap()
        };
        let dir = log_path(&sb).parent().unwrap().to_path_buf();
        for entry in std::fs::read_dir(&dir).unwrap() {
            mode(&entry.unwrap().path(), 0o444);
        }
        mode(&dir, 0o555);
        for p in [sb.path().to_path_buf(), sb.path().join(".local"), sb.path().join(".local/share")] {
            mode(&p, 0o755);
        }
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
        let log = sb.run_within(Duration::from_secs(20), &mut sb.command_through(&nobody, &["log"]));
        assert_eq!(log.code, 0, "killed: {killed}: {}", log.stderr);
        assert!(log.stdout.contains("    deep spinal: left done, right done · tender 4/10\n"), "{}", log.stdout);
        assert_eq!(log.stdout.contains("quadratus lumborum: done"), killed, "{}", log.stdout);
        let today = sb.run_within(Duration::from_secs(20), &mut sb.command_through(&nobody, &["today", "--json"]));
        assert_eq!(today.code, 0, "killed: {killed}: {}", today.stderr);
        let t: serde_json::Value = serde_json::from_str(&today.stdout).unwrap();
        assert_eq!(t["points"][0]["sessions"], 1, "{}", today.stdout);
        assert_eq!(t["points"][2]["sessions"], u32::from(killed), "{}", today.stdout);
        mode(&dir, 0o755);
    }
}

/// Text in the log is the user's file, not ours: control characters in a
/// routine, a point or a side (an escape sequence, a bell, a carriage
/// return, a terminal title) are shown escaped, never sent to the terminal.
#[test]
fn control_characters_in_the_log_are_escaped() {
    let sb = Sandbox::new();
    hand_made_log(
        &sb,
        "UPDATE sessions SET routine = 'a' || char(27) || '[2J' || char(27) || ']0;owned' || char(7) || char(13) || 'b';
         UPDATE worked SET point = 'p' || char(27) || '[31m', side = 'left' || char(7) || char(155) WHERE id = 1;
         UPDATE tenderness SET point = 'p' || char(27) || '[31m';",
    );
    let log = sb.run(&["log"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    let bad: Vec<char> = log.stdout.chars().filter(|c| c.is_control() && *c != '\n').collect();
    assert!(bad.is_empty(), "{bad:?} in {:?}", log.stdout);
    assert!(log.stdout.contains("  a\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{d}b  hold 30s\n"), "{}", log.stdout);
    assert!(log.stdout.contains("    p\\u{1b}[31m: left\\u{7}\\u{9b} done · tender 4/10\n"), "{}", log.stdout);
    // JSON escapes them its own way, and stays JSON.
    let v: serde_json::Value = serde_json::from_str(&sb.run(&["log", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["worked"][0]["point"], "p\u{1b}[31m");
}

// ── The log holds what was played, however a session ends (issue 15) ──

/// Two sides, three rounds (20 steps), short holds, and after each hold a
/// 15 kHz tone: no speech has it (speech is made at 22.05 kHz), so the
/// recording shows which holds were played to their end.
const ENDS: &str = r#"Routine(name: "ends", title: "Ends", summary: "s", steps: [
    Sides(point: "deep-spinal", steps: [Say("{side}"), Hold(length: "1s"), Sound("tone.wav")]),
])"#;

/// The sides in the order they play: (side, round).
const SIDES: [(&str, u64); 6] = [("left", 1), ("right", 1), ("left", 2), ("right", 2), ("left", 3), ("right", 3)];

/// A way to end a session: once the screen shows `at` (if given), `how`;
/// then the log should hold `done` sides done, in order, and with `cut`
/// the next one cut short, and nothing else.
struct Ending {
    at: Option<&'static str>,
    how: How,
    done: usize,
    cut: bool,
}

#[derive(Debug, Clone, Copy)]
enum How {
    PlayedThrough,
    Key(&'static str),
    ServerLost,
}

/// The onsets of a `freq` Hz tone in a recording: 10 ms windows where its
/// amplitude (by the Goertzel filter) passes 150, after 100 ms without.
fn tone_onsets(samples: &[i16], freq: f64) -> usize {
    let n = 480;
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / RECORD_RATE as f64).cos();
    let (mut count, mut quiet) = (0, 10);
    for w in samples.chunks_exact(n) {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in w {
            let s = x as f64 + k * s1 - s2;
            (s2, s1) = (s1, s);
        }
        let amplitude = (s1 * s1 + s2 * s2 - k * s1 * s2).max(0.0).sqrt() * 2.0 / n as f64;
        if amplitude > 150.0 {
            count += usize::from(quiet >= 10);
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    count
}

/// Plays `ENDS` once per ending, in a terminal, recording what is heard,
/// and checks the log against the tones heard and the ending's rows.
#[track_caller]
fn check_endings(endings: &[Ending]) {
    let sb = Sandbox::new();
    crate::support::tone_file(&sb.path().join("tone.wav"), RECORD_RATE, 1, 0.3, 15_000.0);
    let file = routine(&sb, "ends", ENDS);
    let mut pulse = Pulse::start(&sb);
    for (n, e) in endings.iter().enumerate() {
        for name in ["log.sqlite", "log.sqlite-wal", "log.sqlite-shm"] {
            let _ = std::fs::remove_file(log_path(&sb).with_file_name(name));
        }
        let recording = sb.path().join(format!("rec{n}.raw"));
        let recorder = pulse.record(&recording, RECORD_RATE);
        let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play {file} --rounds 3 --engine espeak")));
        if let Some(at) = e.at {
            tmux.wait_for(at, Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(200));
        }
        match e.how {
            How::PlayedThrough => {}
            How::Key(key) => tmux.keys(key),
            How::ServerLost => pulse.kill(),
        }
        // The question after the session is skipped, to end sooner.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut skipped = false;
        let screen = loop {
            let screen = tmux.screen();
            if screen.contains("EXIT=") {
                break screen;
            }
            if !skipped && screen.contains("How tender") {
                tmux.keys("x");
                skipped = true;
            }
            assert!(Instant::now() < deadline, "{:?}: the session did not end:\n{screen}", e.how);
            std::thread::sleep(Duration::from_millis(50));
        };
        stop(recorder);
        let heard = tone_onsets(&read_raw(&recording), 15_000.0);
        let json: serde_json::Value = serde_json::from_str(&sb.run(&["log", "--json"]).stdout).unwrap();
        let rows: Vec<(String, u64, bool)> = json[0]["worked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["side"].as_str().unwrap().to_string(), w["round"].as_u64().unwrap(), w["done"] == true))
            .collect();
        let mut expect: Vec<(String, u64, bool)> =
            SIDES[..e.done].iter().map(|&(s, r)| (s.to_string(), r, true)).collect();
        if e.cut {
            expect.push((SIDES[e.done].0.to_string(), SIDES[e.done].1, false));
        }
        let why = format!("{:?} at {:?}: {heard} holds heard to their end\n{screen}", e.how, e.at);
        assert_eq!(rows, expect, "{why}");
        assert_eq!(heard, e.done, "the sides done are the holds heard: {why}");
        if matches!(e.how, How::ServerLost) {
            pulse = Pulse::start(&sb);
        }
    }
}

/// Played through, and Enter in each round: only the rounds played are
/// logged (Enter in round 1 or 2 used to log round 3's right side done).
#[test]
fn a_session_finished_early_logs_only_the_rounds_played() {
    let enter = |at, done| Ending { at: Some(at), how: How::Key("Enter"), done, cut: false };
    check_endings(&[
        enter("step 2/20", 2),
        enter("step 9/20", 4),
        enter("step 16/20", 6),
        Ending { at: None, how: How::PlayedThrough, done: 6, cut: false },
    ]);
}

/// Stopped in round 2's first hold by `q`, Ctrl-C or the sound server
/// dying: round 1 done, that side cut short.
#[test]
fn a_session_stopped_early_logs_the_side_cut_short() {
    let stopped = |how| Ending { at: Some("step 9/20"), how, done: 2, cut: true };
    check_endings(&[stopped(How::Key("q")), stopped(How::Key("C-c")), stopped(How::ServerLost)]);
}

/// One point, both sides, short holds.
const ONE_POINT: &str = r#"Routine(name: "one", title: "One", summary: "s", steps: [
    Sides(point: "deep-spinal", steps: [Say("{side}"), Hold(length: "1s")]),
])"#;

/// A digit pressed while where the person stands is still being said
/// answers the question, and is confirmed by voice (it used to be dropped
/// without a sound, and the question asked again).
#[test]
fn a_digit_pressed_before_the_question_answers_it() {
    let sb = Sandbox::new();
    let file = routine(&sb, "one", ONE_POINT);
    let pulse = Pulse::start(&sb);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play {file} --engine espeak")));
    tmux.wait_for("That was your first deep spinal session today.", Duration::from_secs(60));
    tmux.keys("6");
    let screen = tmux.wait_for("EXIT=", Duration::from_secs(30));
    assert!(screen.contains("6, noted."), "{screen}");
    assert_eq!(sql(&sb, "SELECT point, value FROM tenderness"), "deep-spinal|6\n");
}

/// The log held by another program (`sqlite3` in an exclusive
/// transaction): the session's end waits for it at most a second, says
/// so, and exits (it used to wait out SQLite's 3 s busy timeout).
#[test]
fn a_log_held_by_another_program_does_not_hold_the_end_of_a_session() {
    let sb = Sandbox::new();
    let file = routine(&sb, "tick", r#"Routine(name: "tick", title: "Tick", summary: "s", steps: [Chime("tick")])"#);
    let pulse = Pulse::start(&sb);
    assert_eq!(
        run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file)).code,
        0,
        "a first session makes the log"
    );
    let mut holder = Guarded::spawn(
        std::process::Command::new("sqlite3")
            .arg(log_path(&sb))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null()),
    );
    std::io::Write::write_all(holder.stdin.as_mut().unwrap(), b"BEGIN EXCLUSIVE;\nSELECT 'held';\n").unwrap();
    let mut held = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()), &mut held).unwrap();
    assert_eq!(held, "held\n");
    let session = Watched::spawn(&mut play(&sb, &pulse, &file));
    session.wait_for("Playing", Duration::from_secs(30));
    let started = Instant::now();
    let (status, stderr) = session.end(Duration::from_secs(30));
    let took = started.elapsed();
    drop(holder);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("did not answer within 1 s"), "{stderr}");
    assert!(took < Duration::from_millis(2400), "ended {took:?} after it began playing: {stderr}");
}

#[test]
fn a_session_can_end_at_its_gong_and_go_unrecorded() {
    let sb = Sandbox::new();
    let file = routine(&sb, "two", TWO_POINTS);
    let pulse = Pulse::start(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    // With a keyboard, where the question would be asked: nothing is said
    // or asked after the last sound, and the process ends at once.
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play {file} --engine espeak --no-words-after")));
    let screen = tmux.wait_for("EXIT=", Duration::from_secs(60));
    // How much had been recorded when the process had ended.
    let at_exit = std::fs::metadata(&recording).unwrap().len() as usize / 4;
    stop(recorder);
    assert!(screen.contains("Session complete.\nEXIT=0"), "{screen}");
    assert!(!screen.contains("How tender") && !screen.contains("That was your"), "{screen}");
    let heard = read_raw(&recording);
    let last_sound = heard.iter().rposition(|s| s.unsigned_abs() > 330).unwrap();
    let after = Duration::from_secs_f64(at_exit.saturating_sub(last_sound) as f64 / RECORD_RATE as f64);
    // The standing alone takes seconds, and the question 8 s more.
    eprintln!("the process ended {after:?} after the session's last sound");
    assert!(after < Duration::from_millis(2000), "ended {after:?} after the last sound");
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions"), "1\n", "still recorded");
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM tenderness"), "0\n");

    // Unrecorded, by the option and by the setting: the log is never
    // touched, and no standing is said.
    let modified = std::fs::metadata(log_path(&sb)).unwrap().modified().unwrap();
    let run = run_within(Duration::from_secs(60), play(&sb, &pulse, &file).arg("--no-log"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("That was your"), "{}", run.stdout);
    sb.write("config/backease/config.ron", "Config(log: false)");
    let run = run_within(Duration::from_secs(60), &mut play(&sb, &pulse, &file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n") && !run.stdout.contains("That was"), "{}", run.stdout);
    assert_eq!(sql(&sb, "SELECT COUNT(*) FROM sessions"), "1\n");
    assert_eq!(std::fs::metadata(log_path(&sb)).unwrap().modified().unwrap(), modified);

    // And in a fresh place, no log is made at all.
    let fresh = Sandbox::new();
    let file = routine(&fresh, "two", TWO_POINTS);
    let pulse = Pulse::start(&fresh);
    let run = run_within(Duration::from_secs(60), play(&fresh, &pulse, &file).arg("--no-log"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!log_path(&fresh).exists() && !fresh.path().join(".local/share/backease").exists());
}
