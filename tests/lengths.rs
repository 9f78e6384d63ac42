//! One length everywhere: `list`, `check`, `show` and `render` give the same
//! length for a routine once its speech exists, mark a guess as one before,
//! and measure sound files from the start.

use crate::support::Sandbox;

/// The `mm:ss` (with its `≈`, if any) that follows `before` in `text`.
#[track_caller]
fn length_after(text: &str, before: &str) -> String {
    let at = text.find(before).unwrap_or_else(|| panic!("{before:?} in {text}")) + before.len();
    text[at..].chars().skip_while(|c| *c == ' ').take_while(|c| *c == '≈' || *c == ':' || c.is_ascii_digit()).collect()
}

#[test]
fn every_command_gives_the_same_length_once_speech_exists() {
    let sb = Sandbox::new();
    let lengths = |sb: &Sandbox| {
        let list = sb.run(&["list"]).stdout;
        let check = sb.run(&["check", "gluteus-medius"]).stdout;
        let show = sb.run(&["show", "gluteus-medius"]).stdout;
        let json: serde_json::Value =
            serde_json::from_str(&sb.run(&["show", "gluteus-medius", "--json"]).stdout).unwrap();
        (
            length_after(&list, "gluteus-medius"),
            length_after(&check, "ok ("),
            length_after(&show, "1 round · "),
            json["estimated"].as_bool().unwrap(),
        )
    };
    // Before any speech is made: an estimate, marked as one everywhere.
    let (list, check, show, estimated) = lengths(&sb);
    assert!(list.starts_with('≈'), "{list}");
    assert_eq!((&check, &show, estimated), (&list, &list, true));
    let run = sb.run(&["render", "gluteus-medius", "-o", "g.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rendered = length_after(&run.stdout, "wrote g.wav (");
    // After: the real length, the same everywhere.
    let (list, check, show, estimated) = lengths(&sb);
    assert!(!rendered.starts_with('≈'));
    assert_eq!((list, check, show, estimated), (rendered.clone(), rendered.clone(), rendered, false));
}

#[test]
fn headers_claim_only_what_the_routine_has() {
    let sb = Sandbox::new();
    // Strokes only: no hold to speak of.
    let show = sb.run(&["show", "gluteus-medius"]).stdout;
    assert!(!show.lines().nth(2).unwrap().contains("hold"), "{show}");
    let show = sb.run(&["show", "deep-spinal", "--hold", "30s"]).stdout;
    assert!(show.lines().nth(2).unwrap().starts_with("hold 30s · 1 round · ≈"), "{show}");
}

#[test]
fn sound_files_have_their_real_length_from_the_start() {
    let sb = Sandbox::new();
    // The bell is 2.5 s long; a guess would have said 1 s.
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds/bell.wav"), sb.path().join("b.wav")).unwrap();
    let script = sb.write("s.ron", r#"Routine(title: "T", summary: "S", steps: [Sound("b.wav"), Pause("1s")])"#);
    let json: serde_json::Value =
        serde_json::from_str(&sb.run(&["show", script.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(json["events"][0]["length_ms"], 2500);
    // No speech at all: nothing to guess, so the length is exact.
    assert_eq!((json["total_ms"].as_u64(), json["estimated"].as_bool()), (Some(3500), Some(false)));
}

#[test]
fn sides_inside_sides_is_warned_about_where_it_is_written() {
    let sb = Sandbox::new();
    let script = sb.write(
        "n.ron",
        "Routine(title: \"T\", summary: \"S\", steps: [\n  Sides([\n    Sides([Say(\"{side}\")]),\n  ]),\n])\n",
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 0, "a warning, not an error: {}", run.stderr);
    assert!(
        run.stderr.contains("n.ron:3:5: warning: Sides inside Sides plays these steps four times"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("ok (") && run.stdout.contains("1 warning"), "{}", run.stdout);
}
