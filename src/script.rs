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

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{Diagnostic, MAX_PROBLEMS, did_you_mean};
use crate::duration;
use crate::syntax::{self, Field, Ident, Node, Value};

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
}

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
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// Where the step is written, for messages about it.
    pub span: Range<usize>,
    /// For `Sides(point: "…", steps: …)`: the trigger point its steps work
    /// (an id of [`crate::practice::POINTS`]). Unset, `Sides` works the
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// Whether the routine's hold length matters: a `Hold` without a
    /// length of its own, or `{hold}` in a cue. A routine of strokes has
    /// no hold to speak of.
    pub fn uses_hold(&self) -> bool {
        fn text(t: &Text) -> bool {
            t.parts.contains(&Part::Var(Var::Hold))
        }
        fn walk(steps: &[Step]) -> bool {
            steps.iter().any(|s| match &s.kind {
                StepKind::Hold(h) => {
                    h.length.is_none() || h.cues.iter().any(|c| text(&c.text)) || h.halfway.as_ref().is_some_and(text)
                }
                StepKind::Say(t) => text(t),
                StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => walk(steps),
                _ => false,
            })
        }
        self.parts().iter().any(|(_, steps)| walk(steps))
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

const STEP_KINDS: [&str; 9] = ["Say", "Pause", "Chime", "Sound", "Hold", "Repeat", "Sides", "Strokes", "Wait"];

/// Loads a script from its text. `base_dir` is the script's folder, against
/// which `Sound` paths are resolved; `fallback_name` names a routine that
/// does not name itself (the file's stem).
pub fn load(source: &str, base_dir: Option<&Path>, fallback_name: &str) -> (Option<Script>, Vec<Diagnostic>) {
    let (root, mut diagnostics) = syntax::parse(source);
    let mut lower = Lower::new(source);
    lower.base_dir = base_dir;
    let script = if matches!(root.value, Value::Error) { None } else { lower.routine(&root, fallback_name) };
    if let Some(script) = &script {
        lower.check_size(script);
    }
    diagnostics.append(&mut lower.diags);
    diagnostics.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.severity)));
    let ok = !diagnostics.iter().any(Diagnostic::is_error);
    (script.filter(|_| ok), diagnostics)
}

/// Turns syntax nodes into checked values, collecting diagnostics. Also
/// used for the config file, which shares the script's conventions.
pub(crate) struct Lower<'a> {
    source: &'a str,
    base_dir: Option<&'a Path>,
    pub(crate) diags: Vec<Diagnostic>,
    /// Where the routine's `rounds` is written, to blame it for a session
    /// too large.
    rounds_span: Option<Range<usize>>,
    /// Set past [`MAX_PROBLEMS`]: checking stops.
    gave_up: bool,
    /// Where problems past the limit go.
    spare: Diagnostic,
}

#[derive(Clone, Copy)]
struct Ctx {
    depth: usize,
    in_sides: bool,
    default_hold: Duration,
}

impl<'a> Lower<'a> {
    pub(crate) fn new(source: &'a str) -> Lower<'a> {
        Lower {
            source,
            base_dir: None,
            diags: Vec::new(),
            rounds_span: None,
            gave_up: false,
            spare: Diagnostic::error(0..0, ""),
        }
    }

    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        if self.diags.len() >= MAX_PROBLEMS {
            // Past the limit, a problem goes to a spare that is dropped, so
            // callers can still set its help.
            if !self.gave_up {
                self.gave_up = true;
                let note = format!("more than {MAX_PROBLEMS} problems: stopped checking here");
                self.diags.push(Diagnostic::error(span.clone(), note).with_help("fix these, then check again"));
            }
            self.spare = Diagnostic::error(span, message);
            return &mut self.spare;
        }
        self.diags.push(Diagnostic::error(span, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn routine(&mut self, root: &Node, fallback_name: &str) -> Option<Script> {
        let fields = match &root.value {
            Value::Struct(name, fields) if name.as_ref().is_none_or(|n| n.name == "Routine") => fields,
            Value::Struct(Some(name), _) | Value::Tuple(Some(name), _) | Value::Unit(name) => {
                let d = self.error(name.span.clone(), format!("a script starts with `Routine(`, not `{}`", name.name));
                d.help = Some("write Routine(title: \"…\", summary: \"…\", steps: [ … ])".into());
                return None;
            }
            other => {
                let what = other.describe();
                let d =
                    self.error(root.span.start..root.span.start + 1, format!("expected `Routine(…)`, found {what}"));
                d.help = Some("a script is Routine(title: \"…\", summary: \"…\", steps: [ … ])".into());
                return None;
            }
        };
        let f =
            self.fields(fields, &["name", "title", "summary", "defaults", "opening", "steps", "closing"], "Routine");
        let open = root.span.start..root.span.start + 1;
        let name = match f.get("name") {
            Some(n) => self.routine_name(n),
            None => Some(fallback_name.to_string()),
        };
        let title = self.required_text(&f, "title", "Routine", open.clone());
        let summary = self.required_text(&f, "summary", "Routine", open.clone());
        let defaults = match f.get("defaults") {
            Some(node) => self.defaults(node),
            None => Some(Defaults::default()),
        };
        let ctx = Ctx {
            depth: 0,
            in_sides: false,
            default_hold: defaults.as_ref().map_or(Defaults::default().hold, |d| d.hold),
        };
        let steps = match f.get("steps") {
            Some(node) => {
                let steps = self.steps(node, ctx);
                if let Some(s) = &steps
                    && s.is_empty()
                {
                    self.error(node.span.clone(), "the routine has no steps");
                }
                steps
            }
            None => {
                self.missing(open, "steps", "Routine", "steps: [Say(\"…\"), Hold]");
                None
            }
        };
        // The opening and the closing may be empty lists, or left out.
        let mut once = |field: &str| match f.get(field) {
            Some(node) => self.steps(node, ctx),
            None => Some(Vec::new()),
        };
        let opening = once("opening");
        let closing = once("closing");
        Some(Script {
            name: name?,
            title: title?,
            summary: summary?,
            defaults: defaults?,
            opening: opening?,
            steps: steps?,
            closing: closing?,
        })
    }

    /// Refuses a routine that expands to more than [`MAX_EVENTS`] events,
    /// counted from the tree, blaming the innermost step that does it alone,
    /// else the step where the count passes the limit, else the rounds.
    fn check_size(&mut self, script: &Script) {
        /// The innermost step that alone expands past the limit.
        fn culprit(steps: &[Step]) -> Option<&Step> {
            let step = steps.iter().find(|s| s.events() > MAX_EVENTS)?;
            Some(match &step.kind {
                StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => culprit(steps).unwrap_or(step),
                _ => step,
            })
        }
        let rest = !script.defaults.rest.is_zero();
        let total = script.events(script.defaults.rounds, rest);
        if total <= MAX_EVENTS {
            return;
        }
        let limit = format!("a session holds at most {MAX_EVENTS}");
        let found = script.parts().into_iter().find_map(|(_, steps)| culprit(steps));
        if let Some(step) = found {
            let (what, help) = match step.kind {
                StepKind::Repeat { .. } => ("Repeat", "lower its times, or those of the repeats inside it"),
                StepKind::Sides(_) => ("Sides", "lower the times of the repeats inside it"),
                _ => ("step", "split it into smaller steps"),
            };
            let at = step.span.start..step.span.start + 1;
            let message = format!("this {what} expands to {} steps and cues; {limit}", step.events());
            self.error(at, message).help = Some(help.into());
            return;
        }
        let mut sum = 0u64;
        let all = script.parts().into_iter().flat_map(|(_, steps)| steps.iter());
        if let Some(step) = all.clone().find(|s| {
            sum = sum.saturating_add(s.events());
            sum > MAX_EVENTS
        }) {
            let at = step.span.start..step.span.start + 1;
            let message = format!("the steps up to here expand to {sum} steps and cues; {limit}");
            self.error(at, message).help = Some("lower the repeat counts, or split the routine in two".into());
            return;
        }
        let rounds = script.defaults.rounds;
        let at = self.rounds_span.clone().unwrap_or(0..1);
        self.error(at, format!("{rounds} rounds expand to {total} steps and cues; {limit}")).help =
            Some(format!("a round is {} steps and cues: lower the rounds", events(&script.steps)));
    }

    fn routine_name(&mut self, node: &Node) -> Option<String> {
        let name = self.string(node, "the routine's name")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            let d = self.error(
                node.span.clone(),
                format!("routine name \"{name}\" must be lowercase letters, digits and dashes"),
            );
            d.help = Some("for example \"lower-back\"".into());
            return None;
        }
        Some(name)
    }

    fn required_text(
        &mut self,
        f: &HashMap<&str, &Node>,
        field: &str,
        owner: &str,
        open: Range<usize>,
    ) -> Option<String> {
        match f.get(field) {
            Some(node) => {
                let s = self.line(node, &format!("the {field}"))?;
                if s.trim().is_empty() {
                    self.error(node.span.clone(), format!("the {field} is empty"));
                    return None;
                }
                Some(s)
            }
            None => {
                self.missing(open, field, owner, &format!("{field}: \"…\""));
                None
            }
        }
    }

    fn missing(&mut self, span: Range<usize>, field: &str, owner: &str, example: &str) {
        let d = self.error(span, format!("{owner} is missing the field `{field}`"));
        d.help = Some(format!("add {example}"));
    }

    /// Checks a structure's field names and returns them by name. Unknown
    /// and repeated fields are reported here, once, for every structure.
    pub(crate) fn fields<'n>(
        &mut self,
        fields: &'n [Field],
        allowed: &[&str],
        owner: &str,
    ) -> HashMap<&'n str, &'n Node> {
        let mut out: HashMap<&str, &Node> = HashMap::new();
        for field in fields {
            let name = field.name.name.as_str();
            if !allowed.contains(&name) {
                let d = self.error(field.name.span.clone(), format!("{owner} has no field `{name}`"));
                d.help = Some(match did_you_mean(name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("its fields are {}", list_words(allowed)),
                });
            } else if out.insert(name, &field.value).is_some() {
                self.error(field.name.span.clone(), format!("`{name}` is given twice"));
            }
        }
        out
    }

    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Error => None,
            other => {
                let found = other.describe();
                self.error(node.span.clone(), format!("{what} should be text in double quotes, found {found}"));
                None
            }
        }
    }

    /// A string shown on a terminal or passed on as one line (a title, a
    /// voice name): an escape sequence or a line break in it would act
    /// rather than show, so control characters are refused.
    pub(crate) fn line(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            let message = format!("{what} has a control character (U+{:04X})", c as u32);
            self.error(node.span.clone(), message).help = Some(format!("{what} is one line of plain text"));
            return None;
        }
        Some(s)
    }

    pub(crate) fn duration(&mut self, node: &Node, what: &str, max: Duration) -> Option<Duration> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Float(_) => {
                let src = &self.source[node.span.clone()];
                let d = self.error(node.span.clone(), format!("{what} needs a unit"));
                d.help = Some(format!("write it in quotes with a unit, like \"{src}s\""));
                return None;
            }
            Value::Error => return None,
            other => {
                let found = other.describe();
                let d =
                    self.error(node.span.clone(), format!("{what} should be a duration like \"30s\", found {found}"));
                d.help = Some("durations are written in quotes: \"30s\", \"1m30s\", \"500ms\"".into());
                return None;
            }
        };
        match duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                self.error(node.span.clone(), format!("{what} is zero"));
                None
            }
            Ok(d) if d > max => {
                let limit = duration::spoken(max);
                self.error(
                    node.span.clone(),
                    format!("{what} of {} is longer than the limit of {limit}", duration::spoken(d)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.span.clone(), e.0);
                None
            }
        }
    }

    /// A volume: a number from 0.0 to 2.0.
    pub(crate) fn volume(&mut self, node: &Node) -> Option<f32> {
        match node.value {
            Value::Float(v) if (0.0..=2.0).contains(&v) => Some(v as f32),
            Value::Int(v) if (0..=2).contains(&v) => Some(v as f32),
            Value::Error => None,
            _ => {
                self.error(node.span.clone(), "the volume must be a number from 0.0 to 2.0 (1.0 is unchanged)");
                None
            }
        }
    }

    pub(crate) fn count(&mut self, node: &Node, what: &str, range: std::ops::RangeInclusive<i64>) -> Option<u32> {
        match node.value {
            Value::Int(v) if range.contains(&v) => Some(v as u32),
            Value::Int(v) => {
                let (lo, hi) = (range.start(), range.end());
                self.error(node.span.clone(), format!("{what} must be from {lo} to {hi}, not {v}"));
                None
            }
            Value::Error => None,
            Value::Float(_) => {
                let written = &self.source[node.span.clone()];
                self.error(node.span.clone(), format!("{what} must be a whole number, not {written}"));
                None
            }
            ref other => {
                let found = other.describe();
                self.error(node.span.clone(), format!("{what} should be a whole number, found {found}"));
                None
            }
        }
    }

    fn defaults(&mut self, node: &Node) -> Option<Defaults> {
        let fields = match &node.value {
            Value::Struct(name, fields) if name.as_ref().is_none_or(|n| n.name == "Defaults") => fields,
            Value::Tuple(_, items) if items.is_empty() => return Some(Defaults::default()),
            Value::Error => return None,
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("defaults should be a structure, found {found}"));
                d.help = Some("write defaults: (hold: \"45s\", rounds: 1)".into());
                return None;
            }
        };
        let f = self.fields(fields, &["hold", "rounds", "rest", "voice", "rate", "pitch", "volume"], "defaults");
        let mut out = Defaults::default();
        let mut ok = true;
        if let Some(n) = f.get("hold") {
            match self.duration(n, "the default hold", MAX_HOLD) {
                Some(d) => out.hold = d,
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rounds") {
            self.rounds_span = Some(n.span.clone());
            match self.count(n, "rounds", 1..=MAX_TIMES) {
                Some(v) => out.rounds = v,
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rest") {
            match self.duration(n, "the rest between rounds", MAX_HOLD) {
                Some(d) => out.rest = d,
                None => ok = false,
            }
        }
        if let Some(n) = f.get("voice") {
            match self.line(n, "the voice") {
                Some(v) if !v.trim().is_empty() => out.voice = Some(v),
                Some(_) => {
                    self.error(n.span.clone(), "the voice is empty");
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rate") {
            match self.count(n, "the speaking rate (words per minute)", 80..=450) {
                Some(v) => out.rate = Some(v),
                None => ok = false,
            }
        }
        if let Some(n) = f.get("pitch") {
            match self.count(n, "the pitch", 0..=100) {
                Some(v) => out.pitch = Some(v),
                None => ok = false,
            }
        }
        if let Some(n) = f.get("volume") {
            match self.volume(n) {
                Some(v) => out.volume = Some(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn steps(&mut self, node: &Node, ctx: Ctx) -> Option<Vec<Step>> {
        let Value::List(items) = &node.value else {
            if !matches!(node.value, Value::Error) {
                let found = node.value.describe();
                let d = self.error(node.span.clone(), format!("steps should be a list in [ ], found {found}"));
                d.help = Some("write steps: [Say(\"…\"), Hold]".into());
            }
            return None;
        };
        if ctx.depth > MAX_NESTING {
            self.error(node.span.start..node.span.start + 1, format!("steps nest more than {MAX_NESTING} deep"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            if self.gave_up {
                return None;
            }
            match self.step(item, ctx) {
                Some(step) => out.push(step),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn step(&mut self, node: &Node, ctx: Ctx) -> Option<Step> {
        let (name, body) = match &node.value {
            Value::Tuple(Some(name), items) => (name, Body::Items(items)),
            Value::Struct(Some(name), fields) => (name, Body::Fields(fields)),
            Value::Unit(name) => (name, Body::Items(&[])),
            Value::Error => return None,
            Value::Str(_) => {
                let d = self.error(node.span.clone(), "a step needs a kind");
                d.help = Some("to speak this text, write Say(\"…\")".into());
                return None;
            }
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("expected a step, found {found}"));
                d.help = Some(format!("steps are {}", list_words(&STEP_KINDS)));
                return None;
            }
        };
        let span = node.span.clone();
        let mut point = None;
        let kind = match name.name.as_str() {
            "Say" => {
                let arg = self.one_arg(name, &body, "the text to speak", "Say(\"Lean back into the ball\")")?;
                StepKind::Say(self.text(arg, ctx)?)
            }
            "Pause" => {
                let arg = self.one_arg(name, &body, "a duration", "Pause(\"3s\")")?;
                StepKind::Pause(self.duration(arg, "a pause", MAX_STEP)?)
            }
            "Chime" => {
                let arg = self.one_arg(name, &body, "a chime name", "Chime(\"bell\")")?;
                StepKind::Chime(self.chime(arg)?)
            }
            "Sound" => {
                let arg = self.one_arg(name, &body, "a file path", "Sound(\"sounds/rain.ogg\")")?;
                StepKind::Sound(self.sound(arg)?)
            }
            "Sides" => {
                let example = "Sides([Say(\"Ball on the {side}\"), Hold])";
                let arg = match &body {
                    Body::Fields(fields) => {
                        let f = self.fields(fields, &["point", "steps"], "Sides");
                        if let Some(n) = f.get("point") {
                            point = Some(self.point(n)?);
                        }
                        let Some(arg) = f.get("steps").copied() else {
                            self.missing(name.span.clone(), "steps", "Sides", "steps: [Say(\"…\"), Hold]");
                            return None;
                        };
                        arg
                    }
                    Body::Items(_) => self.one_arg(name, &body, "a list of steps", example)?,
                };
                if ctx.in_sides && !self.gave_up {
                    // Legal, but each side's steps then play on both sides
                    // again: four passes, and {side} means the inner one.
                    self.diags.push(
                        Diagnostic::warning(
                            name.span.clone(),
                            "Sides inside Sides plays these steps four times: left and right, on each side",
                        )
                        .with_help("remove the inner Sides([ … ]) and keep its steps"),
                    );
                }
                let inner = Ctx { depth: ctx.depth + 1, in_sides: true, ..ctx };
                let steps = self.steps(arg, inner)?;
                if steps.is_empty() {
                    self.error(arg.span.clone(), "Sides has no steps");
                    return None;
                }
                StepKind::Sides(steps)
            }
            "Hold" => StepKind::Hold(Box::new(self.hold(name, &body, ctx)?)),
            "Wait" => StepKind::Wait(Box::new(self.wait(name, &body, ctx)?)),
            "Repeat" => {
                let fields = self.named_fields(name, &body, "Repeat(times: 2, steps: [ … ])")?;
                let f = self.fields(fields, &["times", "steps"], "Repeat");
                let open = name.span.clone();
                let times = match f.get("times") {
                    Some(n) => self.count(n, "times", 1..=MAX_TIMES),
                    None => {
                        self.missing(open.clone(), "times", "Repeat", "times: 2");
                        None
                    }
                };
                let steps = match f.get("steps") {
                    Some(n) => match self.steps(n, Ctx { depth: ctx.depth + 1, ..ctx }) {
                        Some(steps) if steps.is_empty() => {
                            self.error(n.span.clone(), "Repeat has no steps").help =
                                Some("give it steps to repeat, or remove it".into());
                            None
                        }
                        steps => steps,
                    },
                    None => {
                        self.missing(open, "steps", "Repeat", "steps: [ … ]");
                        None
                    }
                };
                StepKind::Repeat { times: times?, steps: steps? }
            }
            "Strokes" => {
                let fields = self.named_fields(name, &body, "Strokes(count: 8, every: \"3s\")")?;
                let f = self.fields(fields, &["count", "every", "mark"], "Strokes");
                let open = name.span.clone();
                let count = match f.get("count") {
                    Some(n) => self.count(n, "the number of strokes", 1..=MAX_TIMES),
                    None => {
                        self.missing(open.clone(), "count", "Strokes", "count: 8");
                        None
                    }
                };
                let every = match f.get("every") {
                    Some(n) => self.duration(n, "the time per stroke", Duration::from_secs(60)),
                    None => {
                        self.missing(open, "every", "Strokes", "every: \"3s\"");
                        None
                    }
                };
                let mark = match f.get("mark") {
                    Some(n) => self.mark(n),
                    None => Some(Mark::Tick),
                };
                StepKind::Strokes(Strokes { count: count?, every: every?, mark: mark? })
            }
            other => {
                let d = self.error(name.span.clone(), format!("unknown step `{other}`"));
                d.help = Some(match did_you_mean(other, STEP_KINDS) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("steps are {}", list_words(&STEP_KINDS)),
                });
                return None;
            }
        };
        Some(Step { kind, span, point })
    }

    fn one_arg<'n>(&mut self, name: &Ident, body: &Body<'n>, what: &str, example: &str) -> Option<&'n Node> {
        match body {
            Body::Items([one]) => Some(one),
            Body::Items([]) => {
                let d = self.error(name.span.clone(), format!("{} needs {what}", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            Body::Items([_, second, ..]) => {
                let d = self.error(second.span.clone(), format!("{} takes one value", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            Body::Fields(_) => {
                let d = self
                    .error(name.span.clone(), format!("{} takes its value directly, without a field name", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }

    /// The trigger point of `Sides(point: …)`: one of the built-in points' ids.
    fn point(&mut self, node: &Node) -> Option<std::sync::Arc<str>> {
        let id = self.string(node, "the point")?;
        if crate::practice::spoken(&id).is_some() {
            return Some(id.into());
        }
        let ids = crate::practice::POINTS.map(|(id, _)| id);
        let d = self.error(node.span.clone(), format!("unknown point \"{id}\""));
        d.help = Some(match did_you_mean(&id, ids.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("the points are {}", ids.map(|i| format!("\"{i}\"")).join(", ")),
        });
        None
    }

    fn named_fields<'n>(&mut self, name: &Ident, body: &Body<'n>, example: &str) -> Option<&'n [Field]> {
        match body {
            Body::Fields(fields) => Some(fields),
            Body::Items([]) => Some(&[]),
            Body::Items([first, ..]) => {
                let d = self.error(first.span.clone(), format!("{} takes named fields", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }

    fn hold(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<Hold> {
        let fields = self.named_fields(name, body, "Hold(length: \"40s\", countdown: 5)")?;
        let f = self.fields(fields, &["length", "cues", "halfway", "countdown"], "Hold");
        let mut ok = true;
        let length = match f.get("length") {
            Some(n) => {
                let d = self.duration(n, "a hold", MAX_HOLD);
                ok &= d.is_some();
                d
            }
            None => None,
        };
        // Cues are checked against the hold as written; a shorter `--hold`
        // is handled when the timeline is built.
        let effective = length.unwrap_or(ctx.default_hold);
        let halfway = match f.get("halfway") {
            Some(n) => {
                let t = self.text(n, ctx);
                ok &= t.is_some();
                t
            }
            None => None,
        };
        let countdown = match f.get("countdown") {
            Some(n) => match self.count(n, "the countdown", 0..=60) {
                Some(c) if Duration::from_secs(c.into()) >= effective => {
                    self.error(
                        n.span.clone(),
                        format!("a countdown of {c} does not fit in a hold of {}", duration::spoken(effective)),
                    );
                    ok = false;
                    0
                }
                Some(c) => c,
                None => {
                    ok = false;
                    0
                }
            },
            None => 0,
        };
        let mut cues = Vec::new();
        if let Some(n) = f.get("cues") {
            match &n.value {
                Value::List(items) => {
                    for item in items {
                        match self.hold_cue(item, ctx, effective) {
                            Some(c) => cues.push(c),
                            None => ok = false,
                        }
                    }
                }
                Value::Error => ok = false,
                other => {
                    let found = other.describe();
                    let d = self.error(n.span.clone(), format!("cues should be a list, found {found}"));
                    d.help = Some("write cues: [At(\"15s\", \"Breathe out\")]".into());
                    ok = false;
                }
            }
        }
        cues.sort_by_key(|c| c.at);
        ok.then_some(Hold { length, cues, halfway, countdown })
    }

    /// `Wait("text")`, or `Wait(text: "…", remind: "20s", timeout: "2m")`.
    fn wait(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<Wait> {
        let example = "Wait(text: \"Press space when the ball is on the spot.\", remind: \"20s\", timeout: \"2m\")";
        if let Body::Items(_) = body {
            let arg = self.one_arg(name, body, "the text to speak", example)?;
            return Some(Wait { text: self.text(arg, ctx)?, remind: None, timeout: None });
        }
        let fields = self.named_fields(name, body, example)?;
        let f = self.fields(fields, &["text", "remind", "timeout"], "Wait");
        let text = match f.get("text") {
            Some(n) => self.text(n, ctx),
            None => {
                self.missing(name.span.clone(), "text", "Wait", "text: \"Press space when ready.\"");
                None
            }
        };
        let mut ok = true;
        let mut time = |field: &str, what: &str| match f.get(field) {
            Some(n) => {
                let d = self.duration(n, what, MAX_HOLD);
                ok &= d.is_some();
                d
            }
            None => None,
        };
        let remind = time("remind", "the time between reminders");
        let timeout = time("timeout", "a wait's timeout");
        if let (Some(r), Some(t), Some(n)) = (remind, timeout, f.get("remind"))
            && r >= t
        {
            let message =
                format!("a reminder every {} never comes in a wait of {}", duration::short(r), duration::short(t));
            self.error(n.span.clone(), message).help = Some("make the reminder shorter than the timeout".into());
            ok = false;
        }
        let text = text?;
        ok.then_some(Wait { text, remind, timeout })
    }

    fn hold_cue(&mut self, node: &Node, ctx: Ctx, hold: Duration) -> Option<HoldCue> {
        let example = "At(\"15s\", \"Breathe out\")";
        match &node.value {
            Value::Tuple(Some(name), items) if name.name == "At" => {
                let [at, text] = items.as_slice() else {
                    let d = self.error(node.span.clone(), "At takes a time and the text to say");
                    d.help = Some(format!("write {example}"));
                    return None;
                };
                let at_d = self.duration(at, "a cue time", MAX_HOLD);
                let text = self.text(text, ctx);
                let at_d = at_d?;
                if at_d >= hold {
                    let d = self.error(
                        at.span.clone(),
                        format!(
                            "this cue at {} is past the end of the hold ({})",
                            duration::short(at_d),
                            duration::spoken(hold)
                        ),
                    );
                    d.help = Some("move it earlier or make the hold longer".into());
                    return None;
                }
                Some(HoldCue { at: at_d, text: text?, span: node.span.clone() })
            }
            Value::Error => None,
            Value::Tuple(Some(name), _) | Value::Struct(Some(name), _) | Value::Unit(name) => {
                let d = self.error(name.span.clone(), format!("a hold cue is written At(…), not `{}`", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("expected a hold cue, found {found}"));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }

    fn mark(&mut self, node: &Node) -> Option<Mark> {
        match &node.value {
            Value::Unit(id) if id.name == "Tick" => Some(Mark::Tick),
            Value::Unit(id) if id.name == "Count" => Some(Mark::Count),
            Value::Error => None,
            _ => {
                let d = self.error(node.span.clone(), "the mark is `Tick` or `Count`");
                d.help = Some("Tick plays the tick chime; Count says the stroke number".into());
                None
            }
        }
    }

    pub(crate) fn chime(&mut self, node: &Node) -> Option<Chime> {
        let name = self.string(node, "the chime")?;
        match Chime::from_name(&name) {
            Some(c) => Some(c),
            None => {
                let names: Vec<&str> = Chime::ALL.iter().map(|c| c.name()).collect();
                let d = self.error(node.span.clone(), format!("unknown chime \"{name}\""));
                d.help = Some(match did_you_mean(&name, names.iter().copied()) {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => format!("the chimes are {}", list_words(&names)),
                });
                None
            }
        }
    }

    fn sound(&mut self, node: &Node) -> Option<PathBuf> {
        let raw = self.string(node, "the sound file")?;
        if raw.trim().is_empty() {
            self.error(node.span.clone(), "the sound file path is empty");
            return None;
        }
        let path = match self.base_dir {
            Some(dir) => dir.join(&raw),
            None => PathBuf::from(&raw),
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                let d = self.error(node.span.clone(), format!("{} is not a sound file", path.display()));
                d.help = Some("name a file: a folder, pipe or device cannot be played".into());
                return None;
            }
            Err(_) => {
                let d = self.error(node.span.clone(), format!("sound file not found: {}", path.display()));
                d.help = Some("paths are relative to the script's own folder".into());
                return None;
            }
        }
        Some(path)
    }

    /// Reads cue text and its `{variables}`.
    fn text(&mut self, node: &Node, ctx: Ctx) -> Option<Text> {
        let raw = self.string(node, "cue text")?;
        if raw.trim().is_empty() {
            self.error(node.span.clone(), "empty cue text");
            return None;
        }
        if let Some(c) = raw.chars().find(|&c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            let message = format!("cue text has a control character (U+{:04X})", c as u32);
            self.error(node.span.clone(), message).help = Some("cue text is words to speak".into());
            return None;
        }
        // Most cue text is plain words: keep the string as it is.
        if !raw.contains(['{', '}']) {
            return Some(Text { parts: vec![Part::Lit(raw)] });
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut ok = true;
        let mut places = syntax::Places::new(self.source, node.span.clone());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find(['{', '}']) {
            if self.gave_up {
                return None;
            }
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            // Where `tail` starts in the decoded text: each mistake is
            // reported at its own place, even the same mistake twice.
            let at = raw.len() - tail.len();
            if tail.starts_with("{{") || tail.starts_with("}}") {
                lit.push(tail.as_bytes()[0] as char);
                rest = &tail[2..];
                continue;
            }
            if let Some(after) = tail.strip_prefix('}') {
                let d = self.error(places.span(at..at + 1), "unmatched `}` in cue text");
                d.help = Some("write `}}` for a literal brace".into());
                ok = false;
                rest = after;
                continue;
            }
            let Some(close) = tail.find('}') else {
                let d = self.error(places.span(at..raw.len()), "unclosed `{` in cue text");
                d.help = Some("variables are written {side}; write `{{` for a literal brace".into());
                ok = false;
                rest = "";
                break;
            };
            let var_name = &tail[1..close];
            let whole = &tail[..=close];
            let span = places.span(at..at + whole.len());
            match Var::ALL.iter().find(|(n, _)| *n == var_name) {
                Some(&(_, var)) => {
                    if matches!(var, Var::Side | Var::OtherSide) && !ctx.in_sides {
                        let d = self.error(span, format!("{whole} is only known inside Sides(…)"));
                        d.help = Some("wrap these steps in Sides([ … ]) to do them on each side".into());
                        ok = false;
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(var));
                }
                None => {
                    let names: Vec<&str> = Var::ALL.iter().map(|(n, _)| *n).collect();
                    let d = self.error(span, format!("undefined variable {whole}"));
                    d.help = Some(match did_you_mean(var_name, names.iter().copied()) {
                        Some(s) => format!("did you mean {{{s}}}?"),
                        None => format!(
                            "the variables are {}",
                            names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", ")
                        ),
                    });
                    ok = false;
                }
            }
            rest = &tail[close + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        parts.shrink_to_fit();
        ok.then_some(Text { parts })
    }
}

enum Body<'n> {
    Items(&'n [Node]),
    Fields(&'n [Field]),
}

fn list_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
