//! Script + options → a flat list of timed events. A pure function: no I/O,
//! no clocks, no threads.
//!
//! Time is counted in samples at [`SAMPLE_RATE`], the rate of the whole
//! session stream, so what is scheduled here is exactly what is played:
//! every duration is rounded to a sample once, and sums never drift. How
//! long a cue or a sound lasts is asked of a [`Lengths`]; before real speech
//! exists that is an estimate from the text.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{Diagnostic, MAX_PROBLEMS};
use crate::duration;
use crate::script::{Chime, Hold, Mark, Script, Side, Step, StepKind, Text, Vars};

/// Frames per second of the session stream: the rate every source is
/// resampled to once, at load, and the stream is mixed and played at. 48 kHz
/// is what sound servers and headphones run at, so the device takes the
/// stream as it is (see ARCHITECTURE.md).
pub const SAMPLE_RATE: u32 = 48_000;
/// The longest session backease will build.
pub const MAX_SESSION: Duration = Duration::from_secs(12 * 3600);
pub use crate::script::MAX_EVENTS;

pub fn samples(d: Duration) -> u64 {
    (d.as_nanos() * SAMPLE_RATE as u128).div_ceil(1_000_000_000) as u64
}

pub fn to_duration(samples: u64) -> Duration {
    Duration::from_nanos((samples as u128 * 1_000_000_000 / SAMPLE_RATE as u128) as u64)
}

/// How long things sound, in samples.
pub trait Lengths {
    fn speech(&self, text: &str) -> u64;
    fn chime(&self, chime: Chime) -> u64;
    fn sound(&self, path: &Path) -> u64;
}

/// Lengths guessed without synthesizing anything: speech at a steady pace
/// of words, chimes at their known lengths, files at one second.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub words_per_minute: u32,
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate { words_per_minute: 175 }
    }
}

impl Lengths for Estimate {
    fn speech(&self, text: &str) -> u64 {
        estimate_speech(text, self.words_per_minute)
    }
    fn chime(&self, chime: Chime) -> u64 {
        samples(crate::sound::nominal_length(chime))
    }
    fn sound(&self, _path: &Path) -> u64 {
        SAMPLE_RATE as u64
    }
}

/// A guess at how long speech takes: words at the given pace, a little
/// extra for each sentence break, and the engine's lead-in and tail.
pub fn estimate_speech(text: &str, words_per_minute: u32) -> u64 {
    let words = text.split_whitespace().count().max(1) as u64;
    let breaks = text.matches([',', '.', ';', '?', '!']).count() as u64;
    let ms = words * 60_000 / words_per_minute.max(1) as u64 + breaks * 250 + 300;
    ms * SAMPLE_RATE as u64 / 1000
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `--hold`: replaces the routine's hold, but not a hold's own length.
    pub hold: Option<Duration>,
    /// `--rounds`: how many times the whole routine plays.
    pub rounds: Option<u32>,
    /// `--rest`: silence between rounds.
    pub rest: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sound {
    Speech(String),
    Chime(Chime),
    File(PathBuf),
    /// A plain pause.
    Silence,
    /// The silence of a hold; its cues follow as overlay events.
    Hold,
    /// The silence of a set of strokes; the marks follow as overlays.
    Strokes(u32),
    /// The silence between rounds.
    Rest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// First sample, from the start of the session.
    pub start: u64,
    /// Length in samples.
    pub length: u64,
    pub sound: Sound,
    /// Overlays sound over a hold or strokes; they do not move time on.
    pub overlay: bool,
    pub round: u32,
    pub side: Option<Side>,
    /// Where the event's step is written in the script.
    pub source: Range<usize>,
}

impl Event {
    pub fn end(&self) -> u64 {
        self.start + self.length
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// In order of start; an overlay follows the hold it sounds over.
    pub events: Vec<Event>,
    /// Length of the session in samples.
    pub total: u64,
    pub rounds: u32,
    /// The hold length routine holds use after `--hold`.
    pub hold: Duration,
    /// Warnings (colliding cues, cues past a shortened hold) and errors
    /// (a session that is too long).
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the options, not the script, take the session past a
    /// limit: the script at its own defaults is fine, so the fault is not
    /// at any place in it. The timeline is then cut short or empty.
    pub over_by_options: Option<OverLimit>,
}

/// A limit a session went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// It would expand to this many events, more than [`MAX_EVENTS`].
    Events(u64),
    /// It would last longer than [`MAX_SESSION`].
    Length,
}

impl OverLimit {
    /// Says which options (`given`, as the user wrote them: "--rounds
    /// 1000") take the session past the limit, and the limit.
    pub fn message(self, given: &[String]) -> String {
        let who = match given {
            [] => "the options".to_string(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        let verb = if given.len() == 1 { "makes" } else { "make" };
        match self {
            OverLimit::Events(n) => {
                format!("{who} {verb} the session {n} steps and cues; a session holds at most {MAX_EVENTS}")
            }
            OverLimit::Length => format!(
                "{who} {verb} the session longer than {}, the longest backease plays",
                duration::spoken(MAX_SESSION)
            ),
        }
    }
}

impl Timeline {
    pub fn duration(&self) -> Duration {
        to_duration(self.total)
    }

    /// The index of the step (non-overlay event) playing at `sample`.
    pub fn step_at(&self, sample: u64) -> Option<usize> {
        self.events.iter().rposition(|e| !e.overlay && e.start <= sample)
    }

    /// The distinct texts spoken, in the order they first come.
    pub fn speech_texts(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.events
            .iter()
            .filter_map(|e| match &e.sound {
                Sound::Speech(t) if seen.insert(t.as_str()) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every event that moves time on: the steps a person can skip between.
    pub fn steps(&self) -> impl Iterator<Item = (usize, &Event)> {
        self.events.iter().enumerate().filter(|(_, e)| !e.overlay)
    }
}

/// Builds the whole session.
pub fn compile(script: &Script, options: &Options, lengths: &dyn Lengths) -> Timeline {
    let rounds = options.rounds.unwrap_or(script.defaults.rounds).max(1);
    compile_rounds(script, options, lengths, 1..=rounds, rounds)
}

/// Builds one round of an endless (`--loop`) session: round `round`, with
/// the rest before it when it is not the first. `{rounds}` counts the
/// rounds so far.
pub fn compile_round(script: &Script, options: &Options, lengths: &dyn Lengths, round: u32) -> Timeline {
    compile_rounds(script, options, lengths, round..=round, round)
}

fn compile_rounds(
    script: &Script,
    options: &Options,
    lengths: &dyn Lengths,
    which: std::ops::RangeInclusive<u32>,
    rounds: u32,
) -> Timeline {
    let hold = options.hold.unwrap_or(script.defaults.hold);
    let rest = samples(options.rest.unwrap_or(script.defaults.rest));
    let first = script.steps.first().map_or(0..0, |s| s.span.start..s.span.start + 1);
    let given = *options != Options::default();
    // Counted before anything is built: a routine of nested repeats can
    // expand to more events than memory holds.
    let rounds_here = which.clone().count() as u64;
    let rests = if rest > 0 { which.clone().filter(|&r| r > 1).count() as u64 } else { 0 };
    let events = crate::script::events(&script.steps).saturating_mul(rounds_here).saturating_add(rests);
    if events > MAX_EVENTS {
        let mut t =
            Timeline { events: Vec::new(), total: 0, rounds, hold, diagnostics: Vec::new(), over_by_options: None };
        let own = script.events(script.defaults.rounds, !script.defaults.rest.is_zero());
        if given && own <= MAX_EVENTS {
            t.over_by_options = Some(OverLimit::Events(events));
        } else {
            t.diagnostics.push(
                Diagnostic::error(
                    first,
                    format!("the routine expands to {events} steps and cues; a session holds at most {MAX_EVENTS}"),
                )
                .with_help("lower the repeat counts or the rounds"),
            );
        }
        return t;
    }
    let mut b = Builder { lengths, cursor: 0, events: Vec::new(), diagnostics: Vec::new(), hold, overflow: false };
    for round in which {
        if round > 1 && rest > 0 {
            let span = script.steps.first().map_or(0..0, |s| s.span.clone());
            b.push(rest, Sound::Rest, span, round, None);
        }
        let vars = Vars { side: None, round, rounds, hold };
        b.steps(&script.steps, vars);
        if b.overflow {
            break;
        }
    }
    let mut over_by_options = None;
    if b.overflow {
        // Too long: the options' fault if the script at its own defaults
        // fits, which is quick to learn now that the count is bounded.
        let script_fits = || {
            let own = compile(script, &Options::default(), lengths);
            own.diagnostics.iter().all(|d| !d.is_error())
        };
        if given && script_fits() {
            over_by_options = Some(OverLimit::Length);
        } else {
            b.diagnostics.push(
                Diagnostic::error(first, format!("the session would last more than {}", duration::spoken(MAX_SESSION)))
                    .with_help("lower the repeat counts, the rounds or the hold"),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    b.diagnostics.retain(|d| seen.insert((d.span.clone(), d.message.clone())));
    Timeline { events: b.events, total: b.cursor, rounds, hold, diagnostics: b.diagnostics, over_by_options }
}

struct Builder<'a> {
    lengths: &'a dyn Lengths,
    cursor: u64,
    events: Vec<Event>,
    diagnostics: Vec<Diagnostic>,
    hold: Duration,
    /// Set once the session passes [`MAX_SESSION`]; building stops there.
    overflow: bool,
}

impl Builder<'_> {
    fn push(&mut self, length: u64, sound: Sound, source: Range<usize>, round: u32, side: Option<Side>) {
        self.events.push(Event { start: self.cursor, length, sound, overlay: false, round, side, source });
        self.cursor += length;
        if to_duration(self.cursor) > MAX_SESSION {
            self.overflow = true;
        }
    }

    fn overlay(&mut self, start: u64, sound: Sound, source: Range<usize>, vars: Vars) {
        let length = match &sound {
            Sound::Speech(text) => self.lengths.speech(text),
            Sound::Chime(c) => self.lengths.chime(*c),
            _ => 0,
        };
        self.events.push(Event { start, length, sound, overlay: true, round: vars.round, side: vars.side, source });
    }

    fn steps(&mut self, steps: &[Step], vars: Vars) {
        for step in steps {
            if self.overflow {
                return;
            }
            self.step(step, vars);
        }
    }

    fn step(&mut self, step: &Step, vars: Vars) {
        let span = step.span.clone();
        let (round, side) = (vars.round, vars.side);
        match &step.kind {
            StepKind::Say(text) => {
                let words = text.fill(&vars);
                let len = self.lengths.speech(&words);
                self.push(len, Sound::Speech(words), span, round, side);
            }
            StepKind::Pause(d) => self.push(samples(*d), Sound::Silence, span, round, side),
            StepKind::Chime(c) => {
                let len = self.lengths.chime(*c);
                self.push(len, Sound::Chime(*c), span, round, side);
            }
            StepKind::Sound(path) => {
                let len = self.lengths.sound(path);
                self.push(len, Sound::File(path.clone()), span, round, side);
            }
            StepKind::Hold(hold) => self.hold(hold, span, vars),
            StepKind::Repeat { times, steps } => {
                for _ in 0..*times {
                    self.steps(steps, vars);
                    if self.overflow {
                        return;
                    }
                }
            }
            StepKind::Sides(steps) => {
                for s in [Side::Left, Side::Right] {
                    self.steps(steps, Vars { side: Some(s), ..vars });
                }
            }
            StepKind::Strokes(strokes) => {
                let every = samples(strokes.every);
                let start = self.cursor;
                self.push(every * strokes.count as u64, Sound::Strokes(strokes.count), span.clone(), round, side);
                for i in 0..strokes.count {
                    let sound = match strokes.mark {
                        Mark::Tick => Sound::Chime(Chime::Tick),
                        Mark::Count => Sound::Speech((i + 1).to_string()),
                    };
                    self.overlay(start + every * i as u64, sound, span.clone(), vars);
                }
                self.check_overlaps(self.events.len() - strokes.count as usize, start + every * strokes.count as u64);
            }
        }
    }

    fn hold(&mut self, hold: &Hold, span: Range<usize>, vars: Vars) {
        let length = hold.length.unwrap_or(self.hold);
        let len = samples(length);
        let start = self.cursor;
        self.push(len, Sound::Hold, span.clone(), vars.round, vars.side);
        let first_overlay = self.events.len();
        let mut cues: Vec<(u64, &Text, Range<usize>)> = Vec::new();
        for cue in &hold.cues {
            if cue.at >= length {
                self.warn(
                    Diagnostic::warning(
                        cue.span.clone(),
                        format!(
                            "skipped: this cue at {} is past the end of the hold ({})",
                            duration::short(cue.at),
                            duration::spoken(length)
                        ),
                    )
                    .with_help("a shorter --hold leaves it out"),
                );
                continue;
            }
            cues.push((samples(cue.at), &cue.text, cue.span.clone()));
        }
        if let Some(text) = &hold.halfway {
            cues.push((len / 2, text, span.clone()));
        }
        cues.sort_by_key(|c| c.0);
        for (at, text, source) in cues {
            self.overlay(start + at, Sound::Speech(text.fill(&vars)), source, vars);
        }
        // A `--hold` shorter than the countdown keeps only the numbers that fit.
        for k in (1..=hold.countdown).rev().filter(|&k| Duration::from_secs(k.into()) < length) {
            let at = len - samples(Duration::from_secs(k.into()));
            self.overlay(start + at, Sound::Speech(k.to_string()), span.clone(), vars);
        }
        self.events[first_overlay..].sort_by_key(|e| e.start);
        self.check_overlaps(first_overlay, start + len);
    }

    /// Warns about overlays that are still sounding when the next one
    /// starts, or when the hold they sound over ends.
    fn check_overlaps(&mut self, from: usize, end: u64) {
        let overlays = &self.events[from..];
        let mut found = Vec::new();
        for (i, e) in overlays.iter().enumerate() {
            if self.diagnostics.len() + found.len() > MAX_PROBLEMS {
                break;
            }
            let next = overlays.get(i + 1);
            let limit = next.map_or(end, |n| n.start);
            if e.end() > limit {
                let talk = duration::short(to_duration(e.length));
                let message = match next {
                    Some(n) if matches!(n.sound, Sound::Speech(_) | Sound::Chime(_)) => format!(
                        "this cue takes about {talk} and is still sounding when the next starts {} later",
                        duration::short(to_duration(n.start - e.start))
                    ),
                    _ => format!("this cue takes about {talk} and is still sounding when the hold ends"),
                };
                found.push(
                    Diagnostic::warning(e.source.clone(), message)
                        .with_help("space the cues further apart or shorten the text"),
                );
            }
        }
        for d in found {
            self.warn(d);
        }
    }

    /// Records a warning, up to [`MAX_PROBLEMS`]; past it, one note says
    /// that there are more.
    fn warn(&mut self, d: Diagnostic) {
        match self.diagnostics.len() {
            n if n < MAX_PROBLEMS => self.diagnostics.push(d),
            n if n == MAX_PROBLEMS => self.diagnostics.push(Diagnostic::warning(
                d.span,
                format!("more than {MAX_PROBLEMS} warnings: the rest are not listed"),
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::load;

    /// Lengths that are easy to reason about: one second per word, chimes
    /// half a second.
    struct Fixed;
    impl Lengths for Fixed {
        fn speech(&self, text: &str) -> u64 {
            text.split_whitespace().count() as u64 * SAMPLE_RATE as u64
        }
        fn chime(&self, _: Chime) -> u64 {
            SAMPLE_RATE as u64 / 2
        }
        fn sound(&self, _: &Path) -> u64 {
            SAMPLE_RATE as u64 * 3
        }
    }

    fn script(steps: &str, defaults: &str) -> Script {
        let src = format!("Routine(title: \"T\", summary: \"S\", defaults: ({defaults}), steps: [{steps}])");
        let (script, diags) = load(&src, None, "t");
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        script.unwrap()
    }

    /// One line per event: start in seconds, what sounds, and length.
    #[track_caller]
    fn check(steps: &str, defaults: &str, options: Options, expect: expect_test::Expect) {
        let t = compile(&script(steps, defaults), &options, &Fixed);
        let mut out = String::new();
        for e in &t.events {
            let what = match &e.sound {
                Sound::Speech(s) => format!("say {s:?}"),
                other => format!("{other:?}").to_lowercase(),
            };
            let indent = if e.overlay { "  " } else { "" };
            out += &format!(
                "{indent}{:.2} {what} {:.2}\n",
                e.start as f64 / SAMPLE_RATE as f64,
                e.length as f64 / SAMPLE_RATE as f64
            );
        }
        out += &format!("total {:.2}\n", t.total as f64 / SAMPLE_RATE as f64);
        for d in &t.diagnostics {
            out += &format!("{:?}: {}\n", d.severity, d.message);
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn steps_follow_each_other() {
        check(
            r#"Say("lean in"), Pause("2s"), Chime("bell"), Say("done")"#,
            "",
            Options::default(),
            expect_test::expect![[r#"
                0.00 say "lean in" 2.00
                2.00 silence 2.00
                4.00 chime(bell) 0.50
                4.50 say "done" 1.00
                total 5.50
            "#]],
        );
    }

    #[test]
    fn hold_cues_sit_over_the_silence() {
        check(
            r#"Hold(cues: [At("10s", "breathe out")], halfway: "half", countdown: 3)"#,
            "hold: \"30s\"",
            Options::default(),
            expect_test::expect![[r#"
                0.00 hold 30.00
                  10.00 say "breathe out" 2.00
                  15.00 say "half" 1.00
                  27.00 say "3" 1.00
                  28.00 say "2" 1.00
                  29.00 say "1" 1.00
                total 30.00
            "#]],
        );
    }

    #[test]
    fn hold_option_replaces_routine_hold_but_not_fixed_holds() {
        check(
            r#"Hold, Hold(length: "5s"), Say("{hold}")"#,
            "hold: \"30s\"",
            Options { hold: Some(Duration::from_secs(45)), ..Options::default() },
            expect_test::expect![[r#"
                0.00 hold 45.00
                45.00 hold 5.00
                50.00 say "45 seconds" 2.00
                total 52.00
            "#]],
        );
    }

    #[test]
    fn sides_rounds_and_rest() {
        check(
            r#"Sides([Say("{side} then {other_side}")]), Say("round {round} of {rounds}")"#,
            "rounds: 2, rest: \"10s\"",
            Options::default(),
            expect_test::expect![[r#"
                0.00 say "left then right" 3.00
                3.00 say "right then left" 3.00
                6.00 say "round 1 of 2" 4.00
                10.00 rest 10.00
                20.00 say "left then right" 3.00
                23.00 say "right then left" 3.00
                26.00 say "round 2 of 2" 4.00
                total 30.00
            "#]],
        );
        // --rounds and --rest override the routine's.
        let t = compile(
            &script(r#"Say("a")"#, "rounds: 2"),
            &Options { rounds: Some(3), rest: Some(Duration::from_secs(1)), ..Options::default() },
            &Fixed,
        );
        assert_eq!(t.total, 5 * SAMPLE_RATE as u64);
    }

    #[test]
    fn strokes_are_paced_marks() {
        check(
            r#"Strokes(count: 3, every: "2s", mark: Count), Strokes(count: 2, every: "1s")"#,
            "",
            Options::default(),
            expect_test::expect![[r#"
                0.00 strokes(3) 6.00
                  0.00 say "1" 1.00
                  2.00 say "2" 1.00
                  4.00 say "3" 1.00
                6.00 strokes(2) 2.00
                  6.00 chime(tick) 0.50
                  7.00 chime(tick) 0.50
                total 8.00
            "#]],
        );
    }

    #[test]
    fn colliding_and_skipped_cues_are_reported() {
        check(
            r#"Hold(cues: [At("1s", "one two three"), At("2s", "x"), At("25s", "late")])"#,
            "hold: \"30s\"",
            Options { hold: Some(Duration::from_secs(20)), ..Options::default() },
            expect_test::expect![[r#"
                0.00 hold 20.00
                  1.00 say "one two three" 3.00
                  2.00 say "x" 1.00
                total 20.00
                Warning: skipped: this cue at 25s is past the end of the hold (20 seconds)
                Warning: this cue takes about 3s and is still sounding when the next starts 1s later
            "#]],
        );
    }

    #[test]
    fn oversized_sessions_are_refused_before_they_are_built() {
        // 2000 events a round is fine; 100 rounds of it are not, and that
        // is the options' doing, not the script's.
        let s = script(r#"Repeat(times: 1000, steps: [Pause("100ms"), Pause("100ms")])"#, "");
        let t = compile(&s, &Options { rounds: Some(100), ..Options::default() }, &Fixed);
        assert_eq!((t.events.len(), t.over_by_options), (0, Some(OverLimit::Events(200_000))));
        assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
        // Too long at the script's own rounds: its fault, at its first step.
        let long = script(r#"Hold(length: "10m")"#, "rounds: 100");
        let t = compile(&long, &Options::default(), &Fixed);
        assert_eq!(t.over_by_options, None);
        assert_eq!(t.diagnostics.last().unwrap().message, "the session would last more than 12 hours");
        // Too long only with the options: theirs.
        let one = script(r#"Hold(length: "10m")"#, "");
        let t = compile(&one, &Options { rounds: Some(100), ..Options::default() }, &Fixed);
        assert_eq!(t.over_by_options, Some(OverLimit::Length));
        assert!(t.diagnostics.iter().all(|d| !d.is_error()), "{:?}", t.diagnostics);
        assert_eq!(
            OverLimit::Length.message(&["--hold 9m59s".into(), "--rounds 1000".into()]),
            "--hold 9m59s and --rounds 1000 make the session longer than 12 hours, the longest backease plays"
        );
    }

    #[test]
    fn sample_conversion_is_exact_for_whole_milliseconds() {
        assert_eq!(samples(Duration::from_secs(2)), 2 * SAMPLE_RATE as u64);
        assert_eq!(samples(Duration::from_millis(500)), SAMPLE_RATE as u64 / 2);
        assert_eq!(samples(Duration::from_nanos(1)), 1, "a part of a sample is a whole one");
        assert_eq!(to_duration(2 * SAMPLE_RATE as u64), Duration::from_secs(2));
    }
}
