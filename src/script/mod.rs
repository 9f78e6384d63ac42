//! What a routine script means: the typed model and the loader that builds it
//! from the syntax tree, checking everything a person can get wrong.
//!
//! Loading never stops at the first problem: every mistake in the file is
//! collected as a [`Diagnostic`] with its span, and a [`Script`] comes back
//! only when there are no errors. The loader checks the script on its own —
//! fields, names, limits, variables, that sound files exist, and that the
//! routine expands to at most [`MAX_EVENTS`] events, counted from the tree
//! without expanding it. After [`MAX_PROBLEMS`] problems it stops. Checks that
//! need speech lengths or the player's options (cues that collide, a session
//! that runs too long) belong to the timeline.
//!
//! This folder is the pure core, and its rule: it imports nothing else of
//! ours, and touches no device, process, thread, clock or database. Script
//! text goes in ([`syntax`] and its `lexer`, [`diagnostic`], [`duration`]), the model and
//! its loader ([`load`]), then what a script plays, in samples
//! ([`timeline`]), its chapters ([`chapters`]) and how it is shown
//! ([`show`]). Everything here is tested as data.

pub mod chapters;
pub mod diagnostic;
pub mod duration;
mod lexer;
mod load;
pub mod show;
pub mod syntax;
pub mod timeline;

pub use load::{Loading, Lower, load, load_all};

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

/// The longest a single hold may be. Pressing one trigger point for longer
/// than this does harm, not good.
pub const MAX_HOLD: Duration = Duration::from_secs(10 * 60);
/// The longest any other single duration may be.
pub const MAX_STEP: Duration = Duration::from_secs(60 * 60);
/// The most times a block may repeat, and the most strokes in a set.
pub const MAX_TIMES: i64 = 1000;
/// How deeply `Repeat` and `Sides` may nest.
pub const MAX_NESTING: usize = 8;
/// The most events (steps, cues, countdown numbers and stroke marks, as
/// often as they play) one session may expand to. Counted from the tree
/// before anything is expanded, so nested repeats that multiply into
/// millions are refused at once rather than built.
pub const MAX_EVENTS: u64 = 100_000;

/// A routine, ready to be compiled into a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub defaults: Defaults,
    /// Said once, before the first round: equipment, posture, the rules.
    pub opening: Vec<Step>,
    /// The round: what `--rounds` and `--loop` repeat. A script without an
    /// opening or a closing is all round.
    pub steps: Vec<Step>,
    /// Said once, after the last round (or when a loop is finished).
    pub closing: Vec<Step>,
}

/// The routine's own defaults; command-line options override them.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub hold: Duration,
    pub rounds: u32,
    /// Silence between rounds.
    pub rest: Duration,
    pub voice: Option<String>,
    /// Speaking rate in words per minute.
    pub rate: Option<u32>,
    /// Voice pitch, 0 to 100.
    pub pitch: Option<u32>,
    /// Output volume, 0.0 to 2.0.
    pub volume: Option<f32>,
    /// How often a long hold says the time left, so minutes of silence are
    /// never without a word; zero for never. Not written in a script: the
    /// settings' `hold_reminder` and `--hold-reminder` set it.
    pub hold_reminder: Duration,
}

/// How often a long hold says the time left, by default: a hold of two
/// minutes or less (the guidance is 30 s to a minute) says nothing more.
pub const HOLD_REMINDER: Duration = Duration::from_secs(60);

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            hold: Duration::from_secs(45),
            rounds: 1,
            rest: Duration::ZERO,
            voice: None,
            rate: None,
            pitch: None,
            volume: None,
            hold_reminder: HOLD_REMINDER,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// Where the step is written, for messages about it.
    pub span: Range<usize>,
    /// For `Sides(point: "…", steps: …)`: the trigger point its steps work
    /// (an id of [`POINTS`]). Unset, `Sides` works the
    /// routine's own point, its `name`.
    pub point: Option<std::sync::Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Say(Text),
    Pause(Duration),
    Chime(Chime),
    /// A user's audio file, already resolved against the script's folder.
    Sound(PathBuf),
    /// Boxed: a hold is the largest step, and a step list should not pay
    /// its size for every `Say`.
    Hold(Box<Hold>),
    Repeat {
        times: u32,
        steps: Vec<Step>,
    },
    Sides(Vec<Step>),
    Strokes(Strokes),
    /// Speaks its text, then waits for the person (a key or the headset's
    /// button) — or, with a timeout, until it runs out.
    Wait(Box<Wait>),
}

/// A step the body decides: finding a spot takes as long as it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub text: Text,
    /// Say the text again this often while waiting.
    pub remind: Option<Duration>,
    /// Go on by itself after this long.
    pub timeout: Option<Duration>,
}

/// The least a wait's reminder leaves between the end of its text and the
/// next time it is said (see [`speech_estimate`]).
pub const BREATH: Duration = Duration::from_millis(500);

/// The pace speech is guessed at before a voice has said anything.
pub const WORDS_PER_MINUTE: u32 = 175;

/// A guess at how long speech takes, before any is made: words at the
/// given pace, a little extra for each sentence break, and the engine's
/// lead-in and tail.
pub fn speech_estimate(text: &str, words_per_minute: u32) -> Duration {
    let words = text.split_whitespace().count().max(1) as u64;
    let breaks = text.matches([',', '.', ';', '?', '!']).count() as u64;
    Duration::from_millis(words * 60_000 / words_per_minute.max(1) as u64 + breaks * 250 + 300)
}

/// How long a wait without a timeout lasts where nobody can press a key:
/// in a rendered file, and in `show`'s times.
pub const WAIT_RENDERED: Duration = Duration::from_secs(30);

impl Wait {
    /// Its length in a rendered file: the timeout, or [`WAIT_RENDERED`].
    pub fn rendered(&self) -> Duration {
        self.timeout.unwrap_or(WAIT_RENDERED)
    }
}

/// The pressure itself: silence of a set length with cues mixed over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// A fixed length that `--hold` leaves alone; `None` follows the routine.
    pub length: Option<Duration>,
    pub cues: Vec<HoldCue>,
    pub halfway: Option<Text>,
    /// Speak the last N seconds: "5", "4", … "1".
    pub countdown: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoldCue {
    pub at: Duration,
    pub text: Text,
    pub span: Range<usize>,
}

/// Work done in strokes: `count` marks, one every `every`.
#[derive(Debug, Clone, PartialEq)]
pub struct Strokes {
    pub count: u32,
    pub every: Duration,
    pub mark: Mark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The tick chime.
    Tick,
    /// The stroke number, spoken.
    Count,
}

/// The built-in sounds, made by the project (see `sounds/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chime {
    Bell,
    Soft,
    Tick,
    Gong,
}

impl Chime {
    pub const ALL: [Chime; 4] = [Chime::Bell, Chime::Soft, Chime::Tick, Chime::Gong];

    pub fn name(self) -> &'static str {
        match self {
            Chime::Bell => "bell",
            Chime::Soft => "soft",
            Chime::Tick => "tick",
            Chime::Gong => "gong",
        }
    }

    pub fn from_name(name: &str) -> Option<Chime> {
        Chime::ALL.into_iter().find(|c| c.name() == name)
    }

    /// How long the chime rings, in samples of the session (48 kHz): the
    /// length of its sound as the session plays it, known here so that a
    /// timeline can be laid out without decoding anything (a test in
    /// `sound` holds the two to each other).
    pub const fn samples(self) -> u64 {
        match self {
            Chime::Bell => 120_000,
            Chime::Soft => 72_000,
            Chime::Tick => 3_840,
            Chime::Gong => 192_000,
        }
    }
}

/// The three trigger points of the built-in routines: the id (the name of
/// the routine that works it alone) and the name as spoken.
pub const POINTS: [(&str, &str); 3] = [
    ("deep-spinal", "deep spinal"),
    ("gluteus-medius", "gluteus medius"),
    ("quadratus-lumborum", "quadratus lumborum"),
];

/// The spoken name of a point id, if it is one of [`POINTS`].
pub fn point_name(point: &str) -> Option<&'static str> {
    POINTS.iter().find(|(id, _)| *id == point).map(|(_, name)| *name)
}

/// Cue text with its variables still open.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Var(Var),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Side,
    OtherSide,
    Round,
    Rounds,
    Hold,
}

impl Var {
    const ALL: [(&'static str, Var); 5] = [
        ("side", Var::Side),
        ("other_side", Var::OtherSide),
        ("round", Var::Round),
        ("rounds", Var::Rounds),
        ("hold", Var::Hold),
    ];
}

/// The values variables take at one point of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vars {
    pub side: Option<Side>,
    pub round: u32,
    pub rounds: u32,
    pub hold: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn word(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

impl Text {
    pub fn literal(s: &str) -> Text {
        Text { parts: vec![Part::Lit(s.to_string())] }
    }

    /// The words to speak, with variables filled in.
    pub fn fill(&self, vars: &Vars) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => match v {
                    // The loader only allows side variables inside Sides.
                    Var::Side => out.push_str(vars.side.map_or("", Side::word)),
                    Var::OtherSide => out.push_str(vars.side.map_or("", |s| s.other().word())),
                    Var::Round => out.push_str(&vars.round.to_string()),
                    Var::Rounds => out.push_str(&vars.rounds.to_string()),
                    Var::Hold => out.push_str(&duration::spoken(vars.hold)),
                },
            }
        }
        out
    }
}

impl Step {
    /// How many timeline events this step expands to: itself and every step,
    /// cue, countdown number and stroke mark inside it, as often as they
    /// play. Saturates rather than overflows; an upper bound where `--hold`
    /// may leave cues out.
    pub fn events(&self) -> u64 {
        match &self.kind {
            StepKind::Say(_) | StepKind::Pause(_) | StepKind::Chime(_) | StepKind::Sound(_) => 1,
            StepKind::Hold(h) => 1 + h.cues.len() as u64 + u64::from(h.halfway.is_some()) + u64::from(h.countdown),
            StepKind::Repeat { times, steps } => u64::from(*times).saturating_mul(events(steps)),
            StepKind::Sides(steps) => 2u64.saturating_mul(events(steps)),
            StepKind::Strokes(s) => 1 + u64::from(s.count),
            // The spoken text, then the wait itself.
            StepKind::Wait(_) => 2,
        }
    }
}

/// Whether `found` holds for a step of `steps`, or one inside them.
fn any_step(steps: &[Step], found: &dyn Fn(&StepKind) -> bool) -> bool {
    steps.iter().any(|s| match &s.kind {
        StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => any_step(steps, found),
        kind => found(kind),
    })
}

/// The length of the first hold `steps` play, in the order they play
/// (inside `Repeat` and `Sides` too), if they play one; `routine` is the
/// length of a hold without its own.
pub fn first_hold(steps: &[Step], routine: Duration) -> Option<Duration> {
    steps.iter().find_map(|s| step_hold(s, routine, first_hold))
}

/// The length of the last hold `steps` play, if they play one.
pub fn last_hold(steps: &[Step], routine: Duration) -> Option<Duration> {
    steps.iter().rev().find_map(|s| step_hold(s, routine, last_hold))
}

/// A step's hold, or the hold `inner` finds among its steps.
fn step_hold(step: &Step, routine: Duration, inner: fn(&[Step], Duration) -> Option<Duration>) -> Option<Duration> {
    match &step.kind {
        StepKind::Hold(h) => Some(h.length.unwrap_or(routine)),
        StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => inner(steps, routine),
        _ => None,
    }
}

/// The events a list of steps expands to, played once (see [`Step::events`]).
pub fn events(steps: &[Step]) -> u64 {
    steps.iter().fold(0u64, |sum, s| sum.saturating_add(s.events()))
}

impl Script {
    /// The events the whole session expands to: the opening and the
    /// closing once, every round, and between rounds the spoken marker and
    /// the rest when there is one.
    pub fn events(&self, rounds: u32, rest: bool) -> u64 {
        let between = u64::from(rounds.saturating_sub(1));
        let rests = if rest { between } else { 0 };
        events(&self.steps)
            .saturating_mul(u64::from(rounds))
            .saturating_add(between)
            .saturating_add(rests)
            .saturating_add(events(&self.opening))
            .saturating_add(events(&self.closing))
    }

    /// Whether the routine's hold length (`--hold`) changes anything: a
    /// `Hold` without a length of its own, or, in a routine without any
    /// hold, `{hold}` in a cue (it then says the routine's hold).
    pub fn uses_hold(&self) -> bool {
        let any = |found: &dyn Fn(&StepKind) -> bool| self.parts().iter().any(|(_, steps)| any_step(steps, found));
        let says_hold = |t: &Text| t.parts.contains(&Part::Var(Var::Hold));
        any(&|k| matches!(k, StepKind::Hold(h) if h.length.is_none()))
            || !self.has_hold()
                && any(&|k| match k {
                    StepKind::Say(t) => says_hold(t),
                    StepKind::Wait(w) => says_hold(&w.text),
                    _ => false,
                })
    }

    /// Whether the routine has a `Hold` anywhere.
    pub fn has_hold(&self) -> bool {
        self.parts().iter().any(|(_, steps)| first_hold(steps, Duration::ZERO).is_some())
    }

    /// What `check` says that is no fault, as notes: each `Sides` without
    /// a `point`, in a routine that is not named after a point, is logged
    /// under the routine's name, which `backease today` lists apart from
    /// the built-in points.
    pub fn notes(&self) -> Vec<diagnostic::Diagnostic> {
        fn walk(steps: &[Step], out: &mut Vec<Range<usize>>) {
            for s in steps {
                match &s.kind {
                    StepKind::Sides(_) if s.point.is_none() => out.push(s.span.clone()),
                    StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => walk(steps, out),
                    _ => {}
                }
            }
        }
        if point_name(&self.name).is_some() {
            return Vec::new();
        }
        let mut spans = Vec::new();
        self.parts().iter().for_each(|(_, steps)| walk(steps, &mut spans));
        let ids = POINTS.map(|(id, _)| format!("\"{id}\""));
        let help = format!(
            "to count them for a built-in point, write Sides(point: {}, steps: [ … ]) (or {})",
            ids[0],
            ids[1..].join(", ")
        );
        let message = format!(
            "these sides are logged under this routine's name, `{}`: `backease today` lists it beside the built-in points",
            self.name
        );
        spans
            .into_iter()
            .map(|span| diagnostic::Diagnostic::note(span, message.clone()).with_help(help.clone()))
            .collect()
    }

    /// Every step of the script, in the order written: the opening, the
    /// round, the closing.
    pub fn parts(&self) -> [(Section, &[Step]); 3] {
        [(Section::Opening, &self.opening), (Section::Round, &self.steps), (Section::Closing, &self.closing)]
    }

    /// Plays `to` wherever the script plays `from` (the config file's
    /// `chime` replaces the bell that ends each hold).
    pub fn replace_chime(&mut self, from: Chime, to: Chime) {
        fn walk(steps: &mut [Step], from: Chime, to: Chime) {
            for step in steps {
                match &mut step.kind {
                    StepKind::Chime(c) if *c == from => *c = to,
                    StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => walk(steps, from, to),
                    _ => {}
                }
            }
        }
        walk(&mut self.opening, from, to);
        walk(&mut self.steps, from, to);
        walk(&mut self.closing, from, to);
    }
}

/// Which part of a routine a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// Said once, at the start.
    Opening,
    /// Repeated by `--rounds` and `--loop`.
    Round,
    /// Said once, at the end.
    Closing,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Opening => "opening",
            Section::Round => "round",
            Section::Closing => "closing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routine(steps: &str, file_name: &str) -> (Script, Vec<diagnostic::Diagnostic>) {
        let (script, diags) = load(&format!("Routine(title: \"T\", summary: \"S\", {steps})"), None, file_name);
        (script.unwrap(), diags)
    }

    #[test]
    fn hold_matters_only_where_a_hold_takes_it() {
        let uses = |steps: &str| routine(steps, "t").0.uses_hold();
        assert!(uses(r#"steps: [Sides([Hold])]"#));
        assert!(!uses(r#"steps: [Hold(length: "3s"), Say("{hold}")]"#), "{{hold}} says the 3 s hold");
        assert!(!uses(r#"steps: [Strokes(count: 2, every: "1s")]"#));
        assert!(uses(r#"steps: [Say("{hold}")]"#), "no hold at all: {{hold}} says the routine's");
    }

    #[test]
    fn a_routine_is_called_after_its_file() {
        let (script, diags) = routine(r#"name: "hip-and-ribs", steps: [Say("a")]"#, "hipribs");
        assert_eq!(script.name, "hipribs");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, diagnostic::Severity::Warning);
        assert_eq!(diags[0].help.as_deref(), Some("rename the file to hip-and-ribs.ron, or write name: \"hipribs\""));
        assert_eq!(routine(r#"name: "hipribs", steps: [Say("a")]"#, "hipribs").1, []);
    }

    #[test]
    fn sides_without_a_point_are_noted_unless_the_routine_is_a_points() {
        let src =
            r#"steps: [Sides([Say("a")]), Repeat(times: 2, steps: [Sides(point: "deep-spinal", steps: [Say("b")])])]"#;
        let notes = routine(src, "neck").0.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].severity, diagnostic::Severity::Note);
        assert!(notes[0].message.contains("`neck`"), "{}", notes[0].message);
        assert_eq!(routine(src, "gluteus-medius").0.notes(), []);
    }
}
