//! A script says what it does (issue 17): what the voice announces is the
//! hold that follows, the header lists the holds played, an option that
//! changes nothing says so, a routine has one name, and the starter `new`
//! writes has the shape the docs teach. All through the real binary.

use crate::support::Sandbox;

/// `show` with these arguments; its exit code must be 0.
#[track_caller]
fn show(sb: &Sandbox, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["show"];
    all.extend_from_slice(args);
    let run = sb.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

/// `show --json` with these arguments, parsed.
#[track_caller]
fn show_json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&show(sb, &all).stdout).unwrap()
}

/// The texts said, in order.
fn said(doc: &serde_json::Value) -> Vec<String> {
    let events = doc["events"].as_array().unwrap();
    events.iter().filter(|e| e["kind"] == "say").map(|e| e["text"].as_str().unwrap().to_string()).collect()
}

/// Holds of their own length: `--hold 2m` announced 2 minutes, then 30 s
/// of silence followed.
const OWN_LENGTH: &str = r#"Routine(title: "Short", summary: "s", steps: [
    Sides(point: "deep-spinal", steps: [Say("Lean in for {hold}."), Hold(length: "30s")]),
])"#;

#[test]
fn hold_announces_the_hold_that_follows() {
    let sb = Sandbox::new();
    sb.write("short.ron", OWN_LENGTH);
    let run = show(&sb, &["short.ron", "--hold", "2m"]);
    assert!(run.stdout.contains("“Lean in for 30 seconds.”"), "{}", run.stdout);
    assert!(!run.stdout.contains("2 minutes"), "{}", run.stdout);
    // The header names the holds played, not the option.
    let header = run.stdout.lines().nth(2).unwrap();
    assert!(header.starts_with("hold 30s · 1 round · "), "{header}");

    // Holds of two lengths: each {hold} says the one after it; the
    // closing, with none after it, the last one before it.
    sb.write(
        "mixed.ron",
        r#"Routine(title: "Mixed", summary: "s",
            opening: [Say("First {hold}.")],
            steps: [Hold, Say("Next {hold}."), Hold(length: "10s")],
            closing: [Say("You held {hold}.")])"#,
    );
    let doc = show_json(&sb, &["mixed.ron", "--hold", "2m", "--rounds", "2"]);
    assert_eq!(
        said(&doc),
        ["First 2 minutes.", "Next 10 seconds.", "Last round.", "Next 10 seconds.", "You held 10 seconds."]
    );
    assert_eq!(doc["holds_ms"], serde_json::json!([10_000, 120_000]));
    let run = show(&sb, &["mixed.ron", "--hold", "2m"]);
    assert!(run.stdout.lines().nth(2).unwrap().starts_with("holds 10s and 2m · 1 round · "), "{}", run.stdout);
}

#[test]
fn check_warns_about_a_hold_variable_with_no_hold_after_it() {
    let sb = Sandbox::new();
    let path = sb.write(
        "after.ron",
        "Routine(title: \"After\", summary: \"s\",\n  steps: [Hold(length: \"20s\")],\n  closing: [Say(\"You held {hold}.\")],\n)\n",
    );
    let run = sb.run(&["check", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    expect_test::expect![[r#"
        <tmp>/after.ron:3:13: warning: no hold comes after this {hold}: it says the length of the last hold before it, 20 seconds
          |
        3 |   closing: [Say("You held {hold}.")],
          |             ^^^^^^^^^^^^^^^^^^^^^^^
          = help: say the length in words, or move the cue before a hold
    "#]]
    .assert_eq(&run.stderr.replace(sb.path().to_str().unwrap(), "<tmp>"));
    assert!(run.stdout.contains("ok (") && run.stdout.contains("1 warning"), "{}", run.stdout);
}

#[test]
fn an_option_that_changes_nothing_says_so() {
    let sb = Sandbox::new();
    sb.write("short.ron", OWN_LENGTH);
    let cases: [(&[&str], Option<&str>); 7] = [
        (
            &["gluteus-medius", "--hold", "2m"],
            Some("warning: --hold changes nothing: gluteus-medius has no hold (it is worked in strokes or pauses)\n"),
        ),
        (
            &["short.ron", "--hold", "2m"],
            Some("warning: --hold changes nothing: every hold in short has its own length\n"),
        ),
        (&["deep-spinal", "--hold", "30s"], None),
        (
            &["deep-spinal", "--rest", "10s"],
            Some(
                "warning: --rest changes nothing: deep-spinal plays one round, and --rest is the silence between rounds (add --rounds 2, or --loop)\n",
            ),
        ),
        (&["deep-spinal", "--rest", "10s", "--rounds", "2"], None),
        (&["deep-spinal", "--rest", "10s", "--loop"], None),
        (&["short.ron"], None),
    ];
    for (args, warning) in cases {
        let run = show(&sb, args);
        assert_eq!(run.stderr, warning.unwrap_or(""), "{args:?}");
    }
    // Whatever --hold says, gluteus-medius lasts the same.
    let total = |hold: &str| show_json(&sb, &["gluteus-medius", "--hold", hold])["total_ms"].as_u64().unwrap();
    assert_eq!(total("10s"), total("2m"));
}

#[test]
fn a_routine_is_called_by_its_file_name() {
    let sb = Sandbox::new();
    let path = sb.write(
        "config/backease/scripts/hipribs.ron",
        "Routine(\n  name: \"hip-and-ribs\",\n  title: \"Hip and ribs\",\n  summary: \"Mine\",\n  steps: [Say(\"hi\")],\n)\n",
    );
    let run = sb.run(&["check", "hipribs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shown = run.stderr.replace(sb.path().to_str().unwrap(), "<tmp>");
    expect_test::expect![[r#"
        <tmp>/config/backease/scripts/hipribs.ron:2:9: warning: this routine is called `hipribs`, after its file, not "hip-and-ribs"
          |
        2 |   name: "hip-and-ribs",
          |         ^^^^^^^^^^^^^^
          = help: rename the file to hip-and-ribs.ron, or write name: "hipribs"
    "#]]
    .assert_eq(&shown);
    // Listed, shown and played as one name: the file's.
    assert!(sb.run(&["list"]).stdout.contains("  hipribs  "), "listed by its file's name");
    let run = sb.run(&["show", "hipribs"]);
    assert!(run.stdout.starts_with("hipribs — Hip and ribs\n"), "{}", run.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&sb.run(&["show", path.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(doc["name"], "hipribs");
    let other = sb.run(&["show", "hip-and-ribs"]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(
        other.stderr.contains("hint: your script hipribs.ron names itself `hip-and-ribs`, but a routine is called after its file: `hipribs`"),
        "{}",
        other.stderr
    );
    // A name that matches its file says nothing.
    sb.write(
        "config/backease/scripts/evening.ron",
        "Routine(name: \"evening\", title: \"E\", summary: \"s\", steps: [Say(\"hi\")])",
    );
    assert_eq!(sb.run(&["check", "evening"]).stderr, "");
}

#[test]
fn check_notes_sides_logged_under_the_routines_name() {
    let sb = Sandbox::new();
    let path = sb.write(
        "neck.ron",
        "Routine(title: \"Neck\", summary: \"s\", steps: [\n  Sides([Say(\"{side}\"), Hold(length: \"5s\")]),\n])\n",
    );
    let run = sb.run(&["check", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shown = run.stderr.replace(sb.path().to_str().unwrap(), "<tmp>");
    expect_test::expect![[r#"
        <tmp>/neck.ron:2:3: note: these sides are logged under this routine's name, `neck`: `backease today` lists it beside the built-in points
          |
        2 |   Sides([Say("{side}"), Hold(length: "5s")]),
          |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          = help: to count them for a built-in point, write Sides(point: "deep-spinal", steps: [ … ]) (or "gluteus-medius", "quadratus-lumborum")
    "#]]
    .assert_eq(&shown);
    assert!(run.stdout.ends_with(", 1 note)\n"), "{}", run.stdout);
    // Only `check` says it: playing such a routine is fine.
    assert_eq!(sb.run(&["show", path.to_str().unwrap()]).stderr, "");
    // A routine named after a point logs under that point.
    let own = sb.write("deep-spinal.ron", "Routine(title: \"D\", summary: \"s\", steps: [Sides([Say(\"{side}\")])])");
    assert_eq!(sb.run(&["check", own.to_str().unwrap()]).stderr, "");
}

#[test]
fn the_starter_is_shaped_as_the_docs_teach() {
    let sb = Sandbox::new();
    assert_eq!(sb.run(&["new", "evening"]).code, 0);
    let check = sb.run(&["check", "evening"]);
    assert_eq!((check.code, check.stderr.as_str()), (0, ""), "{}", check.stderr);
    assert!(!check.stdout.contains("warning") && !check.stdout.contains("note"), "{}", check.stdout);

    // Two rounds: only the work repeats; the setup and the gong are said once.
    let doc = show_json(&sb, &["evening", "--rounds", "2"]);
    let events = doc["events"].as_array().unwrap();
    let count = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().filter(|e| pred(e)).count();
    assert_eq!(count(&|e| e["text"].as_str().is_some_and(|t| t.contains("tennis ball ready"))), 1);
    assert_eq!(count(&|e| e["chime"] == "gong"), 1);
    assert_eq!(count(&|e| e["kind"] == "hold"), 4, "two sides, two rounds");
    for e in events.iter().filter(|e| e["kind"] == "hold") {
        assert_eq!((&e["part"], &e["point"]), (&serde_json::json!("round"), &serde_json::json!("deep-spinal")));
    }
    let parts: Vec<&str> = doc["chapters"].as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(parts.first(), Some(&"Opening"), "{parts:?}");
    assert_eq!(parts.last(), Some(&"Closing"), "{parts:?}");
    assert_eq!(parts.iter().filter(|p| **p == "Opening" || **p == "Closing").count(), 2, "{parts:?}");
}
