//! Rounds: the opening and the closing are said once, only the round
//! repeats — checked in the timeline `show --json` gives and in the samples
//! `render` writes.

use crate::support::Sandbox;

/// Every place `window` occurs in `samples`, exactly.
fn occurrences(samples: &[i16], window: &[i16]) -> Vec<usize> {
    (0..samples.len().saturating_sub(window.len()))
        .filter(|&i| samples[i] == window[0] && samples[i..i + window.len()] == *window)
        .collect()
}

/// 4000 samples of the sound starting at `start`, from its first loud one:
/// a fingerprint of the cue playing there.
fn fingerprint(samples: &[i16], start: usize) -> &[i16] {
    let loud = start + samples[start..].iter().position(|s| s.unsigned_abs() > 1000).unwrap();
    &samples[loud..loud + 4000]
}

#[test]
fn three_rounds_say_the_opening_and_the_closing_once() {
    let sb = Sandbox::new();
    let args = ["deep-spinal", "--rounds", "3", "--hold", "10s"];
    let run = sb.run(&[&["render"][..], &args, &["-o", "r.wav"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The speech is cached now, so `show` gives the exact timeline.
    let show = sb.run(&[&["show"][..], &args, &["--json"]].concat());
    assert_eq!(show.code, 0, "{}", show.stderr);
    let doc: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let events = doc["events"].as_array().unwrap();
    let said = |part: &str| -> Vec<(String, u64)> {
        events
            .iter()
            .filter(|e| e["part"] == part && e["kind"] == "say")
            .map(|e| (e["text"].as_str().unwrap().to_string(), e["start_sample"].as_u64().unwrap()))
            .collect()
    };
    let (opening, round, closing) = (said("opening"), said("round"), said("closing"));
    let count = |text: &str| events.iter().filter(|e| e["text"] == text).count();
    // By the events: the opening and closing cues once each, the round's
    // six times (two sides, three rounds), one marker before each later round.
    assert_eq!(opening[0].0, "Deep spinal muscles. You need a tennis ball and a clear stretch of wall.");
    assert!(closing[0].0.starts_with("Both sides are done."), "{closing:?}");
    for (text, _) in opening.iter().chain(&closing) {
        assert_eq!(count(text), 1, "{text}");
    }
    assert_eq!(count("The left side. Ball just to the left of your spine, on the muscle."), 3);
    assert_eq!(count("Ease your weight off the wall."), 6);
    let markers: Vec<_> = round.iter().filter(|(t, _)| t.contains("ound")).map(|(t, _)| t.as_str()).collect();
    assert_eq!(markers, ["Round two.", "Last round."]);
    let parts: Vec<&str> = events.iter().map(|e| e["part"].as_str().unwrap()).collect();
    let first = |p| parts.iter().position(|x| *x == p).unwrap();
    let last = |p| parts.iter().rposition(|x| *x == p).unwrap();
    assert!(last("opening") < first("round") && last("round") < first("closing"), "in order");
    assert_eq!(events.iter().filter(|e| e["kind"] == "hold").count(), 6);

    // By the audio: the render is the timeline's length, and each cue's
    // sound is found where the timeline puts it — the opening's first cue
    // and the closing's once, the marker where it is scheduled.
    let wav = backease::audio::wav::parse(&std::fs::read(sb.path().join("r.wav")).unwrap()).unwrap();
    let samples = wav.samples;
    assert_eq!(samples.len() as u64, doc["total_samples"].as_u64().unwrap());
    for (text, start) in [&opening[0], &closing[0]] {
        let print = fingerprint(&samples, *start as usize);
        let found = occurrences(&samples, print);
        assert_eq!(found.len(), 1, "{text} is heard once");
        assert!(found[0] >= *start as usize && found[0] < *start as usize + 22_050, "{text} where scheduled");
    }
    let (_, marker) = round.iter().find(|(t, _)| t == "Round two.").unwrap();
    let found = occurrences(&samples, fingerprint(&samples, *marker as usize));
    assert_eq!(found.len(), 1, "\"Round two.\" is heard once");
    // The round's cue is heard once a side and round: six times.
    let (_, ease) = round.iter().find(|(t, _)| t == "Ease your weight off the wall.").unwrap();
    assert_eq!(occurrences(&samples, fingerprint(&samples, *ease as usize)).len(), 6);
}

#[test]
fn show_loop_shows_one_round_and_says_so() {
    let sb = Sandbox::new();
    let run = sb.run(&["show", "deep-spinal", "--loop"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("1 round shown of an endless loop"), "{}", run.stdout);
    assert!(run.stdout.contains("Enter finishes the round and plays the closing"), "{}", run.stdout);
    let headings: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("── ")).collect();
    assert_eq!(headings, ["── opening", "── round (repeats)", "── closing"]);
    let json = sb.run(&["show", "deep-spinal", "--loop", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((doc["looped"].as_bool(), doc["rounds"].as_u64()), (Some(true), Some(1)));
    let both = sb.run(&["show", "deep-spinal", "--loop", "--rounds", "2"]);
    assert_eq!(both.code, 2, "--loop and --rounds conflict");
}

#[test]
fn a_wait_is_its_timeout_of_silence_in_a_render_and_show_marks_it() {
    let sb = Sandbox::new();
    let script = sb.write(
        "w.ron",
        r#"Routine(title: "W", summary: "S", steps: [
            Wait(text: "Ready?", remind: "20s", timeout: "2m"), Chime("tick"), Wait("Again?"), Chime("tick")])"#,
    );
    let path = script.to_str().unwrap();
    let run = sb.run(&["render", path, "-o", "w.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let show = sb.run(&["show", path]);
    assert!(show.stdout.contains("wait     for a key, at most 2m, said again every 20s"), "{}", show.stdout);
    assert!(show.stdout.contains("wait     for a key (a rendered file waits 30s)"), "{}", show.stdout);
    let doc: serde_json::Value = serde_json::from_str(&sb.run(&["show", path, "--json"]).stdout).unwrap();
    let waits: Vec<_> = doc["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "wait").collect();
    assert_eq!(waits.len(), 2);
    assert_eq!(
        (&waits[0]["length_ms"], &waits[0]["timeout_ms"], &waits[0]["remind_ms"]),
        (&120_000.into(), &120_000.into(), &20_000.into())
    );
    assert_eq!(waits[1]["length_ms"], 30_000);
    // In the file: the text, then exact silence of the wait's length.
    let samples = backease::audio::wav::parse(&std::fs::read(sb.path().join("w.wav")).unwrap()).unwrap().samples;
    assert_eq!(samples.len() as u64, doc["total_samples"].as_u64().unwrap());
    for w in waits {
        let (start, len) =
            (w["start_sample"].as_u64().unwrap() as usize, w["length_samples"].as_u64().unwrap() as usize);
        assert!(samples[start..start + len].iter().all(|&s| s == 0));
    }
}

#[test]
fn a_wait_written_wrong_is_reported_where_it_is() {
    let sb = Sandbox::new();
    let script = sb.write(
        "bad.ron",
        "Routine(title: \"W\", summary: \"S\", steps: [\n  Wait(remind: \"3m\", timeout: \"2m\"),\n  Wait(text: \"a\", timeout: \"11m\"),\n])\n",
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("bad.ron:2:3: error: Wait is missing the field `text`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("bad.ron:2:16: error: a reminder every 3m never comes in a wait of 2m"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("bad.ron:3:28: error: a wait's timeout of 11 minutes is longer than the limit"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_opening_and_closing_count_towards_the_limit_before_anything_is_built() {
    let sb = Sandbox::new();
    let big = r#"Repeat(times: 1000, steps: [Repeat(times: 101, steps: [Pause("1s")])])"#;
    let script = sb.write(
        "big.ron",
        &format!("Routine(title: \"T\", summary: \"S\",\n  opening: [{big}],\n  steps: [Say(\"a\")])\n"),
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "big.ron:2:13: error: this Repeat expands to 101000 steps and cues; a session holds at most 100000"
        ),
        "{}",
        run.stderr
    );
    // Each fits alone; together, with the rounds, they do not: counted,
    // not built.
    let half = r#"Repeat(times: 500, steps: [Repeat(times: 100, steps: [Pause("1s")])])"#;
    let script = sb.write(
        "two.ron",
        &format!("Routine(title: \"T\", summary: \"S\",\n  opening: [{half}],\n  steps: [Say(\"a\")],\n  closing: [{half}, {half}])\n"),
    );
    let run = sb.run(&["check", script.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("two.ron:4:13: error: the steps up to here expand to 100001 steps and cues"),
        "{}",
        run.stderr
    );
}
