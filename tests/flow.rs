//! A session that flows eyes-closed, played for real: the binary runs in a
//! terminal (tmux) with its own sound server, keys are sent to it, and what
//! it played is recorded — waits released by a key and by their timeout,
//! "finish this round", "where am I", and a skip's notice heard before the
//! step it introduces.

use std::time::Duration;

use crate::support::{Guarded, Pulse, RECORD_RATE, Sandbox, Tmux, onsets, pane_command, read_raw, stop};

/// A routine written, its speech made once by espeak-ng (so the session
/// starts at once and clip lengths are known), and played in a terminal
/// with its own sound server and a recorder on it.
fn play_in_terminal(sb: &Sandbox, routine: &str, args: &str) -> (Pulse, Tmux, Guarded) {
    sb.write("r.ron", routine);
    let warm = sb.run(&["render", "r.ron", "--engine", "espeak", "-o", "warm.wav"]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    let pulse = Pulse::start(sb);
    let recorder = pulse.record(&sb.path().join("rec.raw"), RECORD_RATE);
    let tmux = Tmux::start(sb, &pane_command(sb, &pulse, &format!("play r.ron --engine espeak {args}")));
    (pulse, tmux, recorder)
}

/// Seconds of speech espeak-ng makes of `text`, as the session plays it.
fn spoken(text: &str) -> f64 {
    let engine = backease::speech::espeak::Espeak::new(Default::default()).unwrap();
    backease::speech::Engine::synthesize(&engine, text).unwrap().len() as f64 / backease::speech::ENGINE_RATE as f64
}

/// Ends the session's recording and returns its onsets, after the screen
/// shows the session ended as `how` with the terminal restored.
fn finish(sb: &Sandbox, tmux: &Tmux, recorder: Guarded, how: &str, limit: Duration) -> Vec<f64> {
    let screen = tmux.wait_for("icanon", limit);
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    assert!(screen.contains(&format!("{how}\nEXIT=0\nicanon")), "ends as {how:?}:\n{screen}");
    onsets(&read_raw(&sb.path().join("rec.raw")))
}

#[test]
fn a_wait_goes_on_after_its_timeout_or_at_space_and_reminds_meanwhile() {
    let sb = Sandbox::new();
    let (_pulse, tmux, recorder) = play_in_terminal(
        &sb,
        r#"Routine(title: "Waits", summary: "s", steps: [
            Chime("tick"), Pause("1s"),
            Wait(text: "Ready?", timeout: "3s"), Pause("1s"),
            Chime("tick"), Pause("1s"),
            Wait(text: "Press space.", remind: "2s"), Pause("1s"),
            Chime("tick"), Pause("500ms"),
        ])"#,
        "",
    );
    // The first wait passes by itself; at the second, nothing happens
    // until space, but the reminder every two seconds.
    tmux.wait_for("at most 3s", Duration::from_secs(20));
    tmux.wait_for("said again every 2s", Duration::from_secs(10));
    tmux.wait_for("WAITING", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(5000));
    tmux.keys("Space");
    let heard = finish(&sb, &tmux, recorder, "Session complete.", Duration::from_secs(20));
    // tick, "Ready?", tick, "Press space.", two reminders, tick.
    assert_eq!(heard.len(), 7, "{heard:?}");
    let timed_out = heard[2] - heard[1];
    let expected = spoken("Ready?") + 3.0 + 1.0;
    assert!((timed_out - expected).abs() < 0.25, "the timeout: {timed_out:.2} s, expected {expected:.2} ({heard:?})");
    let press = spoken("Press space.");
    let reminded = heard[4] - heard[3];
    assert!((reminded - (press + 2.0)).abs() < 0.25, "the first reminder: {reminded:.2} s ({heard:?})");
    assert!((heard[5] - heard[4] - 2.0).abs() < 0.25, "every two seconds: {heard:?}");
    assert!(heard[6] - heard[3] > 5.0, "held until space: {heard:?}");
}

#[test]
fn enter_finishes_the_round_then_plays_the_closing() {
    let sb = Sandbox::new();
    let (_pulse, tmux, recorder) = play_in_terminal(
        &sb,
        r#"Routine(title: "Rounds", summary: "s",
            opening: [Say("Hello."), Pause("1s")],
            steps: [Chime("tick"), Pause("3s")],
            closing: [Pause("1s"), Chime("gong"), Pause("1s")])"#,
        "--loop",
    );
    tmux.wait_for("round 2", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys("Enter");
    tmux.wait_for("LAST ROUND", Duration::from_secs(5));
    // The display names the closing when it comes.
    tmux.wait_for("Rounds · closing", Duration::from_secs(15));
    // The loop, which never ends by itself, ends after the closing.
    let heard = finish(&sb, &tmux, recorder, "Session complete.", Duration::from_secs(30));
    let samples = read_raw(&sb.path().join("rec.raw"));
    // ... "Round two.", tick, "Last round." (at once, on Enter), the rest
    // of round two, then the gong: last, ringing for seconds.
    let gong = *heard.last().unwrap();
    let ringing = samples[(gong * RECORD_RATE as f64) as usize..].iter().filter(|s| s.unsigned_abs() > 100).count();
    assert!(ringing as f64 / RECORD_RATE as f64 > 2.0, "the gong ends the session: {heard:?}");
    let last_round = heard[heard.len() - 2];
    // Round two's 3 s pause and the closing's 1 s, not a third round.
    assert!((2.0..6.0).contains(&(gong - last_round)), "the closing after this round: {heard:?}");
}

#[test]
fn the_closing_counts_the_rounds_done() {
    let sb = Sandbox::new();
    let (_pulse, tmux, recorder) = play_in_terminal(
        &sb,
        r#"Routine(title: "Count", summary: "s",
            steps: [Chime("tick"), Pause("4s")],
            closing: [Say("That was {rounds} rounds."), Pause("1s")])"#,
        "--loop",
    );
    tmux.wait_for("round 2", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys("Enter");
    // The closing was made ahead, before anyone knew when it would come:
    // it still counts the rounds that were done.
    let screen = tmux.wait_for("That was", Duration::from_secs(20));
    assert!(screen.contains("That was 2 rounds."), "{screen}");
    finish(&sb, &tmux, recorder, "Session complete.", Duration::from_secs(30));
}

#[test]
fn t_says_the_time_left_in_the_hold() {
    let sb = Sandbox::new();
    let (_pulse, tmux, recorder) = play_in_terminal(
        &sb,
        r#"Routine(title: "Where", summary: "s", steps: [Chime("tick"), Hold(length: "12s"), Chime("tick"), Pause("500ms")])"#,
        "",
    );
    tmux.wait_for("hold", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(2000));
    tmux.keys("t");
    let heard = finish(&sb, &tmux, recorder, "Session complete.", Duration::from_secs(30));
    // tick, the answer (its sentences apart) in the silence of the hold, tick.
    let (first, last) = (heard[0], *heard.last().unwrap());
    assert!((last - first - 12.08).abs() < 0.05, "the hold keeps its length: {heard:?}");
    let answer = &heard[1..heard.len() - 1];
    assert!(!answer.is_empty(), "nothing said: {heard:?}");
    assert!(answer[0] - first > 1.5 && last - answer[answer.len() - 1] > 2.0, "said during the hold: {heard:?}");
    // It is a sentence ("Ten seconds left. One round. Less than a minute
    // to go."), not a click: it sounds for seconds.
    let samples = read_raw(&sb.path().join("rec.raw"));
    let from = (answer[0] * RECORD_RATE as f64) as usize;
    let to = (last * RECORD_RATE as f64) as usize;
    // Windows of 10 ms (they were 220 samples, 10 ms at 22 050 Hz but
    // 4.6 ms at the recording's 48 kHz: counted as 10 ms each, they took
    // the answer for twice as long as it was, and so passed it while it
    // played at the engine's rate, over twice too fast).
    let window = RECORD_RATE as usize / 100;
    let sounding = samples[from..to].chunks(window).filter(|w| w.iter().any(|s| s.unsigned_abs() > 330)).count();
    assert!(sounding as f64 * 0.01 > 2.0, "{sounding} windows of 10 ms");
    // The clip's length, its silences between sentences included, against
    // the windows that sound: at its own speed about 70 % of it sounds;
    // played at twice the speed, under half; slowed down, more than all.
    let expected = spoken("Ten seconds left. One round. Less than a minute to go.");
    let heard_s = sounding as f64 * 0.01;
    assert!(
        heard_s > 0.5 * expected && heard_s < 1.1 * expected,
        "{heard_s:.2} s sounding, for {expected:.2} s of speech"
    );
}

#[test]
fn next_is_heard_before_the_step_it_skips_to() {
    let sb = Sandbox::new();
    let (_pulse, tmux, recorder) = play_in_terminal(
        &sb,
        r#"Routine(title: "Skip", summary: "s", steps: [Chime("tick"), Pause("20s"), Say("Two."), Pause("2s")])"#,
        "",
    );
    tmux.wait_for("pause 20s", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1000));
    tmux.keys("n");
    let heard = finish(&sb, &tmux, recorder, "Session complete.", Duration::from_secs(20));
    // tick, "Next.", then "Two." after it — not over it.
    assert_eq!(heard.len(), 3, "{heard:?}");
    let next = spoken("Next.");
    let gap = backease::play::player::NOTICE_GAP.as_secs_f64();
    assert!(heard[2] - heard[1] >= next + gap - 0.05, "“Two.” waits for “Next.”: {heard:?} ({next:.2} s)");
}

/// A later round of an endless session whose speech cannot be made: the
/// round playing becomes the last ("Last round." is heard), its closing
/// plays, and the session ends with the reason and exit 5 — not a silent
/// stop that looks like success.
#[test]
fn a_round_that_cannot_be_made_ends_the_loop_with_its_closing_and_says_why() {
    let sb = Sandbox::new();
    sb.write(
        "l.ron",
        r#"Routine(title: "Loop", summary: "s", steps: [Say("Work."), Pause("3s")], closing: [Say("All done.")])"#,
    );
    // Every cue but the second round's marker is spoken (a tone).
    let synthesizer = r#"t=$(cat); case "$t" in "Round two."*) echo 'no voice for that' >&2; exit 3;; esac; sox -n -r 22050 -b 16 -c 1 {out} synth 0.3 sine 440"#;
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", "l.ron", "--loop", "--engine", "command", "--command", synthesizer]);
    pulse.apply(&mut cmd);
    let run = crate::support::run_within(Duration::from_secs(60), &mut cmd);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "error: round 2 could not be made, so the session ended after round 1: speech failed: \
             the speech command failed"
        ) && run.stderr.contains("no voice for that"),
        "{}",
        run.stderr
    );
    let out = &run.stdout;
    let finishing = out.find("last round: the closing follows").unwrap_or_else(|| panic!("{out}"));
    let closing = out.find("“All done.”").unwrap_or_else(|| panic!("{out}"));
    assert!(finishing < closing, "{out}");
    assert!(!out.contains("Session complete."), "{out}");
}

/// No keyboard (input not a terminal) and no media buttons (no session
/// bus): a `Wait` with no timeout goes on after 30 s, as in a render.
#[test]
fn a_wait_nobody_can_answer_goes_on_after_thirty_seconds() {
    let sb = Sandbox::new();
    sb.write("w.ron", r#"Routine(title: "W", summary: "s", steps: [Wait("Press space."), Chime("tick")])"#);
    assert_eq!(sb.run(&["render", "w.ron", "--engine", "espeak", "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", "w.ron", "--engine", "espeak"]);
    pulse.apply(&mut cmd);
    let started = std::time::Instant::now();
    let run = crate::support::run_within(Duration::from_secs(90), &mut cmd);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with("Session complete.\n"), "{}", run.stdout);
    assert!((30.0..45.0).contains(&took.as_secs_f64()), "{took:?}");
}
