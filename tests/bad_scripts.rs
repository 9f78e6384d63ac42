//! Bad scripts, one case each: the exact line, column and message of every
//! problem reported. Steps are written from line 2, column 1.

use expect_test::{Expect, expect};

use backease::script::diagnostic::line_col;
use backease::script::load;
use backease::script::timeline::{Estimate, Options, compile};

/// Loads a whole script, builds its timeline if it loaded, and lists every
/// problem as `line:column: severity: message`.
#[track_caller]
fn check_script(source: &str, expect: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let (script, mut diags) = load(source, Some(dir.path()), "test");
    if let Some(script) = script {
        diags.extend(compile(&script, &Options::default(), &Estimate::default()).diagnostics);
    }
    let root = dir.path().display().to_string();
    let got: String = diags
        .iter()
        .map(|d| {
            let at = line_col(source, d.span.start);
            let help = d.help.as_ref().map(|h| format!(" [{h}]")).unwrap_or_default();
            format!("{}:{}: {:?}: {}{help}\n", at.line, at.column, d.severity, d.message).replace(&root, "<dir>")
        })
        .collect();
    expect.assert_eq(&got);
}

/// The same, for steps placed in a routine that is otherwise correct.
#[track_caller]
fn check(steps: &str, expect: Expect) {
    check_script(&format!("Routine(title: \"T\", summary: \"S\", steps: [\n{steps}\n])"), expect);
}

#[test]
fn unknown_names() {
    check(
        r#"Sya("hi")"#,
        expect![[r#"
        2:1: Error: unknown step `Sya` [did you mean `Say`?]
    "#]],
    );
    check(
        r#"Beep("hi")"#,
        expect![[r#"
            2:1: Error: unknown step `Beep` [steps are Say, Pause, Chime, Sound, Hold, Repeat, Sides, Strokes and Wait]
        "#]],
    );
    check(
        r#"Chime("bel")"#,
        expect![[r#"
        2:7: Error: unknown chime "bel" [did you mean "bell"?]
    "#]],
    );
    check(
        r#"Hold(lenght: "30s")"#,
        expect![[r#"
        2:6: Error: Hold has no field `lenght` [did you mean `length`?]
    "#]],
    );
    check(
        r#"Strokes(count: 8, every: "2s", mark: Beep)"#,
        expect![[r#"
        2:38: Error: the mark is `Tick` or `Count` [Tick plays the tick chime; Count says the stroke number]
    "#]],
    );
    check(
        r#"Hold(cues: [Say("x")])"#,
        expect![[r#"
        2:13: Error: a hold cue is written At(…), not `Say` [write At("15s", "Breathe out")]
    "#]],
    );
    check_script(
        r#"Rutine(title: "T", summary: "S", steps: [Say("a")])"#,
        expect![[r#"
        1:1: Error: a script starts with `Routine(`, not `Rutine` [write Routine(title: "…", summary: "…", steps: [ … ])]
    "#]],
    );
    check_script(
        r#"Routine(title: "T", summary: "S", defaults: (hould: "30s"), steps: [Say("a")])"#,
        expect![[r#"
        1:46: Error: defaults has no field `hould` [did you mean `hold`?]
    "#]],
    );
}

#[test]
fn missing_and_repeated_fields() {
    check_script(
        r#"Routine(summary: "S", steps: [Say("a")])"#,
        expect![[r#"
        1:1: Error: Routine is missing the field `title` [add title: "…"]
    "#]],
    );
    check(
        r#"Repeat(steps: [Say("a")])"#,
        expect![[r#"
        2:1: Error: Repeat is missing the field `times` [add times: 2]
    "#]],
    );
    check(
        r#"Strokes(count: 8)"#,
        expect![[r#"
        2:1: Error: Strokes is missing the field `every` [add every: "3s"]
    "#]],
    );
    check(
        r#"Hold(length: "10s", length: "20s")"#,
        expect![[r#"
        2:21: Error: `length` is given twice
    "#]],
    );
    check(
        r#"Say"#,
        expect![[r#"
        2:1: Error: Say needs the text to speak [write Say("Lean back into the ball")]
    "#]],
    );
    check(
        r#"Say("a", "b")"#,
        expect![[r#"
        2:10: Error: Say takes one value [write Say("Lean back into the ball")]
    "#]],
    );
    check(
        r#"Say(text: "a")"#,
        expect![[r#"
        2:1: Error: Say takes its value directly, without a field name [write Say("Lean back into the ball")]
    "#]],
    );
    check(
        r#""just text""#,
        expect![[r#"
        2:1: Error: a step needs a kind [to speak this text, write Say("…")]
    "#]],
    );
    check_script(
        r#"Routine(title: "T", summary: "S", steps: [])"#,
        expect![[r#"
        1:42: Error: the routine has no steps
    "#]],
    );
    check(
        r#"Sides([])"#,
        expect![[r#"
        2:7: Error: Sides has no steps
    "#]],
    );
}

#[test]
fn empty_text_and_variables() {
    check(
        r#"Say("")"#,
        expect![[r#"
        2:5: Error: empty cue text
    "#]],
    );
    check(
        r#"Say("   ")"#,
        expect![[r#"
        2:5: Error: empty cue text
    "#]],
    );
    check(
        r#"Sides([Say("lean {sied}")])"#,
        expect![[r#"
        2:18: Error: undefined variable {sied} [did you mean {side}?]
    "#]],
    );
    check(
        r#"Say("ball on the {side}")"#,
        expect![[r#"
        2:18: Error: {side} is only known inside Sides(…) [wrap these steps in Sides([ … ]) to do them on each side]
    "#]],
    );
    check(
        r#"Say("a {side")"#,
        expect![[r#"
        2:8: Error: unclosed `{` in cue text [variables are written {side}; write `{{` for a literal brace]
    "#]],
    );
    check(
        r#"Say("a } b")"#,
        expect![[r#"
        2:8: Error: unmatched `}` in cue text [write `}}` for a literal brace]
    "#]],
    );
}

#[test]
fn durations_and_counts() {
    check(
        r#"Pause("30")"#,
        expect![[r#"
        2:7: Error: "30" has no unit; write "30s" for seconds
    "#]],
    );
    check(
        r#"Pause(30s)"#,
        expect![[r#"
        2:7: Error: durations are written in quotes: "30s"
    "#]],
    );
    check(
        r#"Pause(30)"#,
        expect![[r#"
        2:7: Error: a pause needs a unit [write it in quotes with a unit, like "30s"]
    "#]],
    );
    check(
        r#"Pause("0s")"#,
        expect![[r#"
        2:7: Error: a pause is zero
    "#]],
    );
    check(
        r#"Pause("2 fortnights")"#,
        expect![[r#"
            2:7: Error: unknown unit "fortnights" in "2 fortnights"; use h, m, s or ms (or hours, min, sec…)
        "#]],
    );
    check(
        r#"Hold(length: "11m")"#,
        expect![[r#"
        2:14: Error: a hold of 11 minutes is longer than the limit of 10 minutes
    "#]],
    );
    check(
        r#"Pause("3h")"#,
        expect![[r#"
        2:7: Error: a pause of 3 hours is longer than the limit of 1 hour
    "#]],
    );
    check(
        r#"Repeat(times: 0, steps: [Say("a")])"#,
        expect![[r#"
        2:15: Error: times must be from 1 to 1000, not 0
    "#]],
    );
    check(
        r#"Repeat(times: 1001, steps: [Say("a")])"#,
        expect![[r#"
        2:15: Error: times must be from 1 to 1000, not 1001
    "#]],
    );
    check(
        r#"Strokes(count: 0, every: "2s")"#,
        expect![[r#"
        2:16: Error: the number of strokes must be from 1 to 1000, not 0
    "#]],
    );
    check_script(
        r#"Routine(title: "T", summary: "S", defaults: (rounds: 0), steps: [Say("a")])"#,
        expect![[r#"
        1:54: Error: rounds must be from 1 to 1000, not 0
    "#]],
    );
    check(
        r#"Repeat(times: 100, steps: [Hold(length: "10m")])"#,
        expect![[r#"
            2:1: Error: the session would last more than 12 hours [lower the repeat counts, the rounds or the hold]
        "#]],
    );
}

#[test]
fn hold_cues() {
    check(
        r#"Hold(cues: [At("50s", "x")])"#,
        expect![[r#"
        2:16: Error: this cue at 50s is past the end of the hold (45 seconds) [move it earlier or make the hold longer]
    "#]],
    );
    check(
        r#"Hold(countdown: 60)"#,
        expect![[r#"
        2:17: Error: a countdown of 60 does not fit in a hold of 45 seconds
    "#]],
    );
    check(
        r#"Hold(cues: [At("5s", "a long sentence of many many words here"), At("6s", "b")])"#,
        expect![[r#"
            2:66: Warning: left out: the cue “b” at 6s of the hold takes about 642ms and would sound over “a long sentence of many many words here”, spoken from 0:05.0 to 0:08.0 [space the cues further apart, shorten the text, or lengthen the hold]
        "#]],
    );
    check(
        r#"Hold(cues: [At("44s", "one more long sentence to finish")])"#,
        expect![[r#"
            2:13: Warning: left out: the cue “one more long sentence to finish” at 44s of the hold takes about 2.4s and would still be speaking when the hold ends at 0:45.0 [space the cues further apart, shorten the text, or lengthen the hold]
        "#]],
    );
}

#[test]
fn files_and_nesting() {
    check(
        r#"Sound("missing.wav")"#,
        expect![[r#"
        2:7: Error: sound file not found: <dir>/missing.wav [paths are relative to the script's own folder]
    "#]],
    );
    check(
        r#"Sound(".")"#,
        expect![[r#"
            2:7: Error: <dir>/. is not a sound file [name a file: a folder, pipe or device cannot be played]
        "#]],
    );
    let deep = (0..10).fold(r#"Say("a")"#.to_string(), |inner, _| format!("Repeat(times: 1, steps: [{inner}])"));
    check(
        &deep,
        expect![[r#"
        2:225: Error: steps nest more than 8 deep
    "#]],
    );
}

#[test]
fn syntax_errors() {
    check(
        r#"Say("unclosed)"#,
        expect![[r#"
            2:5: Error: this string is never closed with " [add the closing " where the text ends]
        "#]],
    );
    check(
        r#"Say('hi')"#,
        expect![[r#"
        2:5: Error: text goes between double quotes ("like this"), not single quotes
    "#]],
    );
    check(
        "Say(\"a\")\nSay(\"b\")",
        expect![[r#"
        2:9: Error: expected `,` between items
    "#]],
    );
    check_script(
        "",
        expect![[r#"
        1:1: Error: the file is empty [a routine starts `Routine(` and ends with `)`; `backease new NAME` writes a starter]
    "#]],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    check(
        r#"Sya("a"), Chime("bel"), Pause("0s"), Say("{sied}")"#,
        expect![[r#"
        2:1: Error: unknown step `Sya` [did you mean `Say`?]
        2:17: Error: unknown chime "bel" [did you mean "bell"?]
        2:31: Error: a pause is zero
        2:43: Error: undefined variable {sied} [did you mean {side}?]
    "#]],
    );
}

/// `inner` wrapped in `depth` repeats of `times` each.
fn nest(inner: &str, times: u32, depth: usize) -> String {
    (0..depth).fold(inner.to_string(), |inner, _| format!("Repeat(times: {times}, steps: [{inner}])"))
}

#[test]
fn empty_repeats_are_errors() {
    check(
        r#"Repeat(times: 3, steps: [])"#,
        expect![[r#"
            2:25: Error: Repeat has no steps [give it steps to repeat, or remove it]
        "#]],
    );
    // Eight deep, each empty list is found: none of them plays anything.
    check(
        &nest("Repeat(times: 3, steps: [])", 3, 7),
        expect![[r#"
            2:200: Error: Repeat has no steps [give it steps to repeat, or remove it]
        "#]],
    );
}

#[test]
fn expansions_are_counted_before_they_are_built() {
    // The innermost repeat that alone goes past the limit is blamed.
    check(
        &nest(r#"Say("a")"#, 1000, 3),
        expect![[r#"
            2:29: Error: this Repeat expands to 1000000 steps and cues; a session holds at most 100000 [lower its times, or those of the repeats inside it]
        "#]],
    );
    // Many steps that each fit: blamed where the sum passes the limit.
    let many = vec![nest(r#"Say("a")"#, 1000, 1); 101].join(",\n");
    check(
        &many,
        expect![[r#"
            102:1: Error: the steps up to here expand to 101000 steps and cues; a session holds at most 100000 [lower the repeat counts, or split the routine in two]
        "#]],
    );
    // Countdown numbers and cues are counted too.
    check(
        &nest(r#"Hold(length: "1m", countdown: 9, cues: [At("1s", "a")], halfway: "b")"#, 1000, 2),
        expect![[r#"
            2:1: Error: this Repeat expands to 12000000 steps and cues; a session holds at most 100000 [lower its times, or those of the repeats inside it]
        "#]],
    );
    // A round that fits, played too many times by the routine's rounds.
    check_script(
        &format!(
            r#"Routine(title: "T", summary: "S", defaults: (rounds: 1000), steps: [{}])"#,
            nest(r#"Say("a")"#, 200, 1)
        ),
        expect![[r#"
            1:54: Error: 1000 rounds expand to 200999 steps and cues; a session holds at most 100000 [a round is 200 steps and cues: lower the rounds]
        "#]],
    );
}

#[test]
fn common_slips_get_a_pointed_hint() {
    check(
        r#"Pause("1:30")"#,
        expect![[r#"
            2:7: Error: "1:30" is a clock's way of writing it; write "1m30s" for minutes and seconds (or "1h30m" for hours and minutes)
        "#]],
    );
    check(
        r#"Pause("1:02:05")"#,
        expect![[r#"
            2:7: Error: "1:02:05" is a clock's way of writing it; write "1h2m5s"
        "#]],
    );
    check(
        "# a comment\nSay(\"a\")",
        expect![[r#"
            2:1: Error: comments start with //, not # [write // in place of #]
        "#]],
    );
    check(
        r#"Hold(countdown: 3.5)"#,
        expect![[r#"
            2:17: Error: the countdown must be a whole number, not 3.5
        "#]],
    );
}

#[test]
fn the_same_mistake_twice_in_one_string_is_reported_at_each_place() {
    check(
        r#"Say("{x} and {x}")"#,
        expect![[r#"
            2:6: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
            2:14: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
        "#]],
    );
    check(
        r#"Say("a } b }")"#,
        expect![[r#"
            2:8: Error: unmatched `}` in cue text [write `}}` for a literal brace]
            2:12: Error: unmatched `}` in cue text [write `}}` for a literal brace]
        "#]],
    );
    // Escapes before a mistake do not shift its place.
    check(
        r#"Say("\u{263A}\t{x}, {x}")"#,
        expect![[r#"
            2:16: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
            2:21: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
        "#]],
    );
    check(
        r##"Say(r#"{x} {x}"#)"##,
        expect![[r#"
            2:8: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
            2:12: Error: undefined variable {x} [the variables are {side}, {other_side}, {round}, {rounds}, {hold}]
        "#]],
    );
}

#[test]
fn control_characters_are_refused_where_text_is_shown() {
    check_script(
        r#"Routine(title: "a\u{1b}[2Jb", summary: "S", defaults: (voice: "en\u{7}"), steps: [Say("a\u{7}"), Say("two\nlines")])"#,
        expect![[r#"
            1:16: Error: the title has a control character (U+001B) [the title is one line of plain text]
            1:63: Error: the voice has a control character (U+0007) [the voice is one line of plain text]
            1:87: Error: cue text has a control character (U+0007) [cue text is words to speak]
        "#]],
    );
}

/// A reminder sooner than its text takes to say piles copies of the
/// sentence on each other: it must allow the text's length and a breath.
#[test]
fn a_reminder_leaves_time_to_say_its_text() {
    check(
        r#"Wait(text: "Press space.", remind: "1ms")"#,
        expect![[r#"
            2:36: Error: a reminder every 1ms comes before its text is said: it takes about 1.2s to say, so a reminder needs at least 1.7s [remind every 2s or more: the text's length and a breath]
        "#]],
    );
    check(r#"Wait(text: "Press space.", remind: "1735ms")"#, expect![""]);
    check(
        r#"Wait(text: "Press space.", remind: "1734ms")"#,
        expect![[r#"
            2:36: Error: a reminder every 1.7s comes before its text is said: it takes about 1.2s to say, so a reminder needs at least 1.7s [remind every 2s or more: the text's length and a breath]
        "#]],
    );
    check(
        r#"Sides([Wait(text: "Ball on the {side}, press space when ready.", remind: "3s")])"#,
        expect![[r#"
            2:74: Error: a reminder every 3s comes before its text is said: it takes about 3.5s to say, so a reminder needs at least 4.0s [remind every 5s or more: the text's length and a breath]
        "#]],
    );
}

/// The same through the real binary's `check`: file, line, column and a
/// caret under the reminder.
#[test]
fn check_shows_where_a_reminder_is_too_soon() {
    let sb = crate::support::Sandbox::new();
    let script = sb.write(
        "bad.ron",
        "Routine(title: \"W\", summary: \"S\", steps: [\n  Wait(text: \"Ready?\", remind: \"1ms\"),\n])\n",
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let at = "bad.ron:2:32: error: a reminder every 1ms comes before its text is said";
    assert!(run.stderr.contains(at), "{}", run.stderr);
    assert!(run.stderr.contains("  Wait(text: \"Ready?\", remind: \"1ms\"),\n"), "{}", run.stderr);
    assert!(run.stderr.contains("^^^^^"), "{}", run.stderr);
    assert!(run.stderr.contains("remind every 2s or more"), "{}", run.stderr);
}

/// A person's routine with a slip of every kind: each is reported in the
/// one run, the mistakes in what did parse with the syntax errors.
#[test]
fn syntax_errors_leave_the_rest_checked() {
    check_script(
        "// my routine\n\
         Routine(\n\
         \x20   title: \"T\",\n\
         \x20   # summary: \"S\",\n\
         \x20   summary: \"S\",\n\
         \x20   steps: [\n\
         \x20       Say(\"Hello),\n\
         \x20       Chime(\"bel\"),\n\
         \x20       Sides([\n\
         \x20           Hold(lenght: \"30s\"),\n\
         \x20       ],\n\
         \x20       Pause(\"1m30\"),\n\
         \x20   ],\n\
         )\n",
        expect![[r#"
            4:5: Error: comments start with //, not # [write // in place of #]
            7:13: Error: this string is never closed with " [end the text with a double quote on its line: "Hello"]
            8:15: Error: unknown chime "bel" [did you mean "bell"?]
            9:9: Error: `Sides(` is never closed [line 12 is indented as if outside it; add `)` where it should end]
            10:18: Error: Hold has no field `lenght` [did you mean `length`?]
            12:15: Error: "1m30" ends without a unit; write "1m30s"
        "#]],
    );
}

#[test]
fn a_dashed_field_name_gets_its_underscore_or_nearest() {
    check(
        r#"Hold(count-down: 3)"#,
        expect![[r#"
        2:6: Error: Hold has no field `count-down` [did you mean `countdown`?]
    "#]],
    );
}

#[test]
fn durations_in_the_spellings_people_type() {
    check(
        r#"Pause("45sec"), Pause("2 min"), Pause("1m 30s"), Pause("1 minute 30 seconds"), Pause("1.5m")"#,
        expect![[r#""#]],
    );
    check(
        r#"Pause("1m30")"#,
        expect![[r#"
        2:7: Error: "1m30" ends without a unit; write "1m30s"
    "#]],
    );
}
