//! Script + options → a flat list of timed events. A pure function: no I/O,
//! no clocks, no threads.
//!
//! Time is counted in samples at [`SAMPLE_RATE`], the rate of the whole
//! session stream, so what is scheduled here is exactly what is played:
//! every duration is rounded to a sample once, and sums never drift. How
//! long a cue or a sound lasts is asked of a [`Lengths`]; before real speech
//! exists that is an estimate from the text.
//!
//! A session's events and its length are both counted from the script's
//! tree before anything is laid out, so one too large or too long is
//! refused without being built; and a text said many times is held once,
//! shared by its events.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::script::diagnostic::{Diagnostic, MAX_PROBLEMS};
use crate::script::duration;
use crate::script::{Chime, Mark, Part, Script, Section, Side, Step, StepKind, Text, Var, Vars, first_hold, last_hold};

mod holds;
mod words;

pub use holds::SHORT_HALFWAY;
use holds::{clock_ms, short_text};
pub use words::{round_marker, where_am_i};

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
    /// Whether these are real lengths rather than a guess; a timeline
    /// built from a guess says so ([`Timeline::estimated`]).
    fn exact(&self) -> bool {
        true
    }
}

/// Lengths guessed without synthesizing anything: speech at a steady pace
/// of words, chimes at their known lengths, files at one second.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub words_per_minute: u32,
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate { words_per_minute: crate::script::WORDS_PER_MINUTE }
    }
}

impl Lengths for Estimate {
    fn speech(&self, text: &str) -> u64 {
        estimate_speech(text, self.words_per_minute)
    }
    fn chime(&self, chime: Chime) -> u64 {
        chime.samples()
    }
    fn sound(&self, _path: &Path) -> u64 {
        SAMPLE_RATE as u64
    }
    fn exact(&self) -> bool {
        false
    }
}

/// [`crate::script::speech_estimate`], in samples.
pub fn estimate_speech(text: &str, words_per_minute: u32) -> u64 {
    samples(crate::script::speech_estimate(text, words_per_minute))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `--hold`: replaces the routine's hold, but not a hold's own length.
    pub hold: Option<Duration>,
    /// `--rounds`: how many times the round plays.
    pub rounds: Option<u32>,
    /// `--rest`: silence between rounds.
    pub rest: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sound {
    /// Shared: a text said many times is held once.
    Speech(Arc<str>),
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
    /// A wait for the person, after its text is spoken: in a rendered
    /// file, silence of its timeout (or [`crate::script::WAIT_RENDERED`]);
    /// live, the stream stands still until a key or the timeout.
    Wait {
        text: Arc<str>,
        remind: Option<Duration>,
        timeout: Option<Duration>,
    },
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
    /// The part of the routine it belongs to: the opening, a round, or
    /// the closing.
    pub section: Section,
    pub side: Option<Side>,
    /// The trigger point a `Sides` step works (its `point`, else the
    /// routine's name); `None` outside `Sides`. Shared, so an event stays
    /// cheap to clone.
    pub point: Option<Arc<str>>,
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
    /// The hold length routine holds use after `--hold` (holds with a
    /// length of their own keep it: [`Timeline::holds`] are those played).
    pub hold: Duration,
    /// Warnings (colliding cues, cues past a shortened hold) and errors
    /// (a session that is too long).
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the options, not the script, take the session past a
    /// limit: the script at its own defaults is fine, so the fault is not
    /// at any place in it. The timeline is then cut short or empty.
    pub over_by_options: Option<OverLimit>,
    /// Hold cues that were left out, or said shorter, because they did not
    /// fit with these lengths. Speech is made for them too, so that the
    /// real lengths can decide again.
    pub unspoken: Vec<String>,
    /// Built from guessed lengths (speech not made yet): its times are
    /// an estimate, and are shown as one.
    pub estimated: bool,
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

    /// The session's length as `mm:ss`, marked `≈` when it is an estimate.
    pub fn length_shown(&self) -> String {
        let clock = duration::clock(self.duration());
        if self.estimated { format!("≈{clock}") } else { clock }
    }

    /// The index of the step (non-overlay event) playing at `sample`.
    pub fn step_at(&self, sample: u64) -> Option<usize> {
        self.events.iter().rposition(|e| !e.overlay && e.start <= sample)
    }

    /// The distinct texts spoken, in the order they first come, then those
    /// left out for want of room (which real lengths may yet fit).
    pub fn speech_texts(&self) -> Vec<String> {
        // Events share each text they say: one look at each copy will do.
        let mut copies = HashSet::new();
        let spoken = self.events.iter().filter_map(|e| match &e.sound {
            Sound::Speech(t) if copies.insert(Arc::as_ptr(t).cast::<u8>()) => Some(&**t),
            _ => None,
        });
        let mut seen = HashSet::new();
        spoken.chain(self.unspoken.iter().map(String::as_str)).filter(|t| seen.insert(*t)).map(str::to_string).collect()
    }

    /// The first two events whose sounds overlap in time, if any: two
    /// voices (or a voice and a chime) at once. Silences never overlap.
    pub fn first_overlap(&self) -> Option<(&Event, &Event)> {
        let mut sounding: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| matches!(e.sound, Sound::Speech(_) | Sound::Chime(_) | Sound::File(_)))
            .collect();
        sounding.sort_by_key(|e| e.start);
        sounding.windows(2).find(|w| w[0].end() > w[1].start).map(|w| (w[0], w[1]))
    }

    /// The lengths of the holds the session plays, each once, shortest
    /// first; none for a session without a hold.
    pub fn holds(&self) -> Vec<Duration> {
        let mut holds: Vec<u64> = self.events.iter().filter(|e| e.sound == Sound::Hold).map(|e| e.length).collect();
        holds.sort_unstable();
        holds.dedup();
        holds.into_iter().map(to_duration).collect()
    }

    /// Every event that moves time on: the steps a person can skip between.
    pub fn steps(&self) -> impl Iterator<Item = (usize, &Event)> {
        self.events.iter().enumerate().filter(|(_, e)| !e.overlay)
    }
}

/// Builds the whole session: the opening, every round with its marker
/// (and rest) between them, and the closing.
pub fn compile(script: &Script, options: &Options, lengths: &dyn Lengths) -> Timeline {
    let rounds = options.rounds.unwrap_or(script.defaults.rounds).max(1);
    let plan = Plan { rounds: 1..rounds + 1, count: rounds, known: true, opening: true, closing: true };
    compile_plan(script, options, lengths, plan)
}

/// Builds one round of an endless (`--loop`) session: round `round`, after
/// the opening when it is the first, else after the rest and the spoken
/// marker. `{rounds}` counts the rounds so far.
pub fn compile_round(script: &Script, options: &Options, lengths: &dyn Lengths, round: u32) -> Timeline {
    let plan = Plan { rounds: round..round + 1, count: round, known: false, opening: round == 1, closing: false };
    compile_plan(script, options, lengths, plan)
}

/// Builds the closing of an endless session that was finished after round
/// `rounds`.
pub fn compile_closing(script: &Script, options: &Options, lengths: &dyn Lengths, rounds: u32) -> Timeline {
    let rounds = rounds.max(1);
    let plan = Plan { rounds: rounds..rounds, count: rounds, known: true, opening: false, closing: true };
    compile_plan(script, options, lengths, plan)
}

/// Which parts of a session to build.
struct Plan {
    /// The rounds to build.
    rounds: Range<u32>,
    /// `{rounds}`: how many rounds there are (or, when not `known`, have been).
    count: u32,
    /// Whether `count` is the session's number of rounds, so the last
    /// round can be announced as such.
    known: bool,
    opening: bool,
    closing: bool,
}

fn compile_plan(script: &Script, options: &Options, lengths: &dyn Lengths, plan: Plan) -> Timeline {
    let hold = options.hold.unwrap_or(script.defaults.hold);
    let rest = samples(options.rest.unwrap_or(script.defaults.rest));
    let first =
        script.parts().iter().find_map(|(_, steps)| steps.first()).map_or(0..0, |s| s.span.start..s.span.start + 1);
    let given = *options != Options::default();
    let mut t = Timeline {
        events: Vec::new(),
        total: 0,
        rounds: plan.count,
        hold,
        diagnostics: Vec::new(),
        over_by_options: None,
        unspoken: Vec::new(),
        estimated: !lengths.exact(),
    };
    // Counted before anything is built: a routine of nested repeats can
    // expand to more events than memory holds.
    let events = plan_events(script, &plan, rest > 0);
    if events > MAX_EVENTS {
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
    let mut b = Builder::new(script, lengths, hold);
    // Timed before anything is built, too: a session too long is refused
    // without laying out the events it would have.
    let total = b.plan(script, &plan, rest, Pass::Time);
    if to_duration(total) > MAX_SESSION {
        // The options' fault if the script at its own defaults fits.
        let script_fits = || {
            let own = compile(script, &Options::default(), lengths);
            own.diagnostics.iter().all(|d| !d.is_error())
        };
        if given && script_fits() {
            t.over_by_options = Some(OverLimit::Length);
        } else {
            t.diagnostics.push(
                Diagnostic::error(first, format!("the session would last more than {}", duration::spoken(MAX_SESSION)))
                    .with_help("lower the repeat counts, the rounds or the hold"),
            );
        }
        return t;
    }
    b.plan(script, &plan, rest, Pass::Build);
    debug_assert_eq!(b.cursor, total, "timed and built alike");
    let mut seen = std::collections::HashSet::new();
    b.diagnostics.retain(|d| seen.insert((d.span.clone(), d.message.clone())));
    let unspoken = b.unspoken.iter().map(|t| t.to_string()).collect();
    Timeline { events: b.events, total: b.cursor, diagnostics: b.diagnostics, unspoken, ..t }
}

/// The events a plan expands to, counted from the tree.
fn plan_events(script: &Script, plan: &Plan, rest: bool) -> u64 {
    let rounds = plan.rounds.clone().count() as u64;
    let between = plan.rounds.clone().filter(|&r| r > 1).count() as u64;
    let rests = if rest { between } else { 0 };
    let opening = if plan.opening { crate::script::events(&script.opening) } else { 0 };
    let closing = if plan.closing { crate::script::events(&script.closing) } else { 0 };
    crate::script::events(&script.steps)
        .saturating_mul(rounds)
        .saturating_add(between)
        .saturating_add(rests)
        .saturating_add(opening)
        .saturating_add(closing)
}

/// What a walk of the steps does: only add up how long they last (a
/// `Repeat` multiplies, nothing is laid out), or lay out every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Time,
    Build,
}

/// A text of the script, by where it is written, with the side, round and
/// hold it is filled in for (none, for plain words): it says the same each
/// time, since `{rounds}` is the same throughout a build.
type TextAt = (*const Text, Option<Side>, u32, Duration);

struct Builder<'a> {
    lengths: &'a dyn Lengths,
    /// How often a long hold says the time left (zero: never).
    reminder: Duration,
    cursor: u64,
    events: Vec<Event>,
    diagnostics: Vec<Diagnostic>,
    hold: Duration,
    /// The part of the routine being built.
    section: Section,
    /// Cue texts left out or replaced for want of room (see
    /// [`Timeline::unspoken`]), once each.
    unspoken: Vec<Arc<str>>,
    /// Where the texts of `unspoken` are held, to keep it free of repeats.
    left_out: HashSet<*const u8>,
    /// The routine's own point (its name), which `Sides` works by default.
    own_point: Arc<str>,
    /// The point of the `Sides` being built, if any.
    point: Option<Arc<str>>,
    /// Every distinct text spoken, once, with its length: events share it.
    /// A routine may say ten thousand characters a hundred thousand times.
    said: HashMap<Arc<str>, u64>,
    /// The texts of the script as filled in so far, so that saying one
    /// again neither fills nor looks it up by its words.
    filled: HashMap<TextAt, (Arc<str>, u64)>,
    /// The length of the first hold played after the step being walked,
    /// if one is: what `{hold}` says there.
    after: Option<Duration>,
    /// The length of the last hold walked: what `{hold}` says where no
    /// hold comes after it.
    before: Option<Duration>,
}

impl<'a> Builder<'a> {
    fn new(script: &Script, lengths: &'a dyn Lengths, hold: Duration) -> Builder<'a> {
        Builder {
            lengths,
            reminder: script.defaults.hold_reminder,
            cursor: 0,
            events: Vec::new(),
            diagnostics: Vec::new(),
            hold,
            section: Section::Opening,
            unspoken: Vec::new(),
            left_out: HashSet::new(),
            own_point: Arc::from(script.name.as_str()),
            point: None,
            said: HashMap::new(),
            filled: HashMap::new(),
            after: None,
            before: None,
        }
    }

    /// Walks the opening, the rounds with their rests and markers, and the
    /// closing; returns how long they last.
    fn plan(&mut self, script: &Script, plan: &Plan, rest: u64, pass: Pass) -> u64 {
        let (rounds, hold) = (plan.count, self.hold);
        let round_span = script.steps.first().map_or(0..0, |s| s.span.clone());
        let mut total = 0u64;
        // What `{hold}` says: the next hold played, else the last one.
        let (in_round, in_closing) = (first_hold(&script.steps, hold), first_hold(&script.closing, hold));
        self.before =
            if plan.opening { None } else { last_hold(&script.steps, hold).or(last_hold(&script.opening, hold)) };
        if plan.opening {
            self.section = Section::Opening;
            self.after = in_round.or(in_closing);
            total = self.steps(&script.opening, Vars { side: None, round: 1, rounds, hold }, pass);
        }
        for round in plan.rounds.clone() {
            self.section = Section::Round;
            let last = plan.known && round == rounds;
            self.after = if last { in_closing } else { in_round.or(in_closing) };
            if round > 1 {
                if rest > 0 {
                    total = total.saturating_add(self.push(rest, Sound::Rest, round_span.clone(), round, None, pass));
                }
                // A short spoken marker: a person with eyes closed hears
                // that the round starts again rather than the routine.
                let (marker, len) = self.speech(round_marker(round, plan.known.then_some(rounds)));
                let said = self.push(len, Sound::Speech(marker), round_span.clone(), round, None, pass);
                total = total.saturating_add(said);
            }
            total = total.saturating_add(self.steps(&script.steps, Vars { side: None, round, rounds, hold }, pass));
        }
        if plan.closing {
            self.section = Section::Closing;
            self.after = None;
            let closing = self.steps(&script.closing, Vars { side: None, round: rounds, rounds, hold }, pass);
            total = total.saturating_add(closing);
        }
        total
    }

    /// The one copy of `words` and how long they take to say.
    fn speech(&mut self, words: String) -> (Arc<str>, u64) {
        if let Some((text, &len)) = self.said.get_key_value(words.as_str()) {
            return (text.clone(), len);
        }
        let len = self.lengths.speech(&words);
        let text: Arc<str> = words.into();
        self.said.insert(text.clone(), len);
        (text, len)
    }

    /// A text of the script filled in with `vars`, and how long it takes
    /// to say: filled once for each place it is written and the values it
    /// takes there.
    fn say(&mut self, text: &Text, vars: &Vars) -> (Arc<str>, u64) {
        let plain = matches!(text.parts.as_slice(), [crate::script::Part::Lit(_)]);
        let at = std::ptr::from_ref(text);
        let key = if plain { (at, None, 0, Duration::ZERO) } else { (at, vars.side, vars.round, vars.hold) };
        if let Some(hit) = self.filled.get(&key) {
            return hit.clone();
        }
        let said = self.speech(text.fill(vars));
        self.filled.insert(key, said.clone());
        said
    }

    /// Adds a step that moves time on (when building); returns its length.
    fn push(
        &mut self,
        length: u64,
        sound: Sound,
        source: Range<usize>,
        round: u32,
        side: Option<Side>,
        pass: Pass,
    ) -> u64 {
        if pass == Pass::Build {
            let (section, point) = (self.section, self.point.clone());
            let overlay = false;
            self.events.push(Event { start: self.cursor, length, sound, overlay, round, section, side, point, source });
            self.cursor += length;
        }
        length
    }

    fn overlay(&mut self, start: u64, length: u64, sound: Sound, source: Range<usize>, vars: Vars) {
        let (round, section, side, point) = (vars.round, self.section, vars.side, self.point.clone());
        self.events.push(Event { start, length, sound, overlay: true, round, section, side, point, source });
    }

    /// Walks `steps`; returns how long they last. `self.after` is the hold
    /// played after them, and is left so.
    fn steps(&mut self, steps: &[Step], vars: Vars, pass: Pass) -> u64 {
        let after = self.after;
        // The first hold after each step: the next one among these steps,
        // else the one after them.
        let mut next = vec![after; steps.len()];
        for i in (1..steps.len()).rev() {
            next[i - 1] = first_hold(&steps[i..i + 1], self.hold).or(next[i]);
        }
        let mut sum = 0u64;
        for (step, after) in steps.iter().zip(next) {
            self.after = after;
            sum = sum.saturating_add(self.step(step, vars, pass));
        }
        self.after = after;
        sum
    }

    /// The values of the variables for a text said at this step: `{hold}`
    /// is the next hold played, else the last one, else the routine's.
    /// A `{hold}` with no hold after it is warned about, at `span`.
    fn said_at(&mut self, text: &Text, vars: Vars, span: &Range<usize>, pass: Pass) -> Vars {
        let hold = self.after.or(self.before).unwrap_or(self.hold);
        if pass == Pass::Time || self.after.is_some() || !text.parts.contains(&Part::Var(Var::Hold)) {
            return Vars { hold, ..vars };
        }
        let message = match self.before {
            Some(_) => format!(
                "no hold comes after this {{hold}}: it says the length of the last hold before it, {}",
                duration::spoken(hold)
            ),
            None => format!(
                "this routine has no hold for {{hold}} to say: it says the routine's hold, {}",
                duration::spoken(hold)
            ),
        };
        // Said again in every round: warned about once.
        if !self.diagnostics.iter().any(|d| d.span == *span && d.message == message) {
            let help = "say the length in words, or move the cue before a hold";
            self.warn(Diagnostic::warning(span.clone(), message).with_help(help));
        }
        Vars { hold, ..vars }
    }

    /// Walks one step; returns how long it lasts.
    fn step(&mut self, step: &Step, vars: Vars, pass: Pass) -> u64 {
        let span = step.span.clone();
        let (round, side) = (vars.round, vars.side);
        match &step.kind {
            StepKind::Say(text) => {
                let vars = self.said_at(text, vars, &span, pass);
                let (words, len) = self.say(text, &vars);
                self.push(len, Sound::Speech(words), span, round, side, pass)
            }
            StepKind::Pause(d) => self.push(samples(*d), Sound::Silence, span, round, side, pass),
            StepKind::Chime(c) => {
                let len = self.lengths.chime(*c);
                self.push(len, Sound::Chime(*c), span, round, side, pass)
            }
            StepKind::Sound(path) => {
                let len = self.lengths.sound(path);
                self.push(len, Sound::File(path.clone()), span, round, side, pass)
            }
            StepKind::Hold(hold) => {
                let length = hold.length.unwrap_or(self.hold);
                self.before = Some(length);
                match pass {
                    Pass::Time => samples(length),
                    Pass::Build => self.hold(hold, span, Vars { hold: length, ..vars }),
                }
            }
            StepKind::Wait(wait) => {
                let vars = self.said_at(&wait.text, vars, &span, pass);
                let (words, len) = self.say(&wait.text, &vars);
                let said = self.push(len, Sound::Speech(words.clone()), span.clone(), round, side, pass);
                let sound = Sound::Wait { text: words, remind: wait.remind, timeout: wait.timeout };
                said.saturating_add(self.push(samples(wait.rendered()), sound, span, round, side, pass))
            }
            StepKind::Repeat { times, steps } => self.repeat(*times, steps, vars, pass),
            StepKind::Sides(steps) => {
                let outer = self.point.clone();
                self.point = Some(step.point.clone().unwrap_or_else(|| self.own_point.clone()));
                // The left side is followed by the right.
                let after = self.after;
                self.after = first_hold(steps, self.hold).or(after);
                let left = self.steps(steps, Vars { side: Some(Side::Left), ..vars }, pass);
                self.after = after;
                let right = self.steps(steps, Vars { side: Some(Side::Right), ..vars }, pass);
                self.point = outer;
                left.saturating_add(right)
            }
            StepKind::Strokes(strokes) if pass == Pass::Time => samples(strokes.every) * u64::from(strokes.count),
            StepKind::Strokes(strokes) => self.strokes(strokes, span, vars),
        }
    }

    /// Walks a `Repeat`; returns how long it lasts. Each time but the last
    /// is followed by the steps again, so a `{hold}` at its end may say
    /// another hold the last time; timing walks the two once each.
    fn repeat(&mut self, times: u32, steps: &[Step], vars: Vars, pass: Pass) -> u64 {
        let after = self.after;
        let again = first_hold(steps, self.hold).or(after);
        let mut total = 0u64;
        match pass {
            Pass::Build => {
                for time in 1..=times {
                    self.after = if time == times { after } else { again };
                    total = total.saturating_add(self.steps(steps, vars, pass));
                }
            }
            Pass::Time if again == after => {
                total = self.steps(steps, vars, pass).saturating_mul(u64::from(times));
            }
            Pass::Time => {
                self.after = again;
                total = self.steps(steps, vars, pass).saturating_mul(u64::from(times - 1));
                self.after = after;
                total = total.saturating_add(self.steps(steps, vars, pass));
            }
        }
        self.after = after;
        total
    }

    /// Lays out a set of strokes: its silence, and a mark at each stroke.
    fn strokes(&mut self, strokes: &crate::script::Strokes, span: Range<usize>, vars: Vars) -> u64 {
        let every = samples(strokes.every);
        let start = self.cursor;
        let length = every * strokes.count as u64;
        self.push(length, Sound::Strokes(strokes.count), span.clone(), vars.round, vars.side, Pass::Build);
        for i in 0..strokes.count {
            let (sound, len) = match strokes.mark {
                Mark::Tick => (Sound::Chime(Chime::Tick), self.lengths.chime(Chime::Tick)),
                Mark::Count => {
                    let (words, len) = self.speech((i + 1).to_string());
                    (Sound::Speech(words), len)
                }
            };
            self.overlay(start + every * i as u64, len, sound, span.clone(), vars);
        }
        self.check_overlaps(self.events.len() - strokes.count as usize, start + length);
        length
    }

    /// Records a text that was left out or said shorter, once.
    fn leave_out(&mut self, text: Arc<str>) {
        if self.left_out.insert(Arc::as_ptr(&text).cast::<u8>()) {
            self.unspoken.push(text);
        }
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
                let what = match &e.sound {
                    Sound::Speech(t) => format!("“{}”", short_text(t)),
                    Sound::Chime(c) => format!("the {} chime", c.name()),
                    _ => "this cue".to_string(),
                };
                let at = clock_ms(e.start - self.events[from - 1].start);
                let message = match next {
                    Some(n) if matches!(n.sound, Sound::Speech(_) | Sound::Chime(_)) => format!(
                        "the mark {what} at {at} of these strokes takes about {talk} and is still sounding when the next starts {} later",
                        duration::short(to_duration(n.start - e.start))
                    ),
                    _ => format!(
                        "the mark {what} at {at} of these strokes takes about {talk} and is still sounding when they end"
                    ),
                };
                found.push(Diagnostic::warning(e.source.clone(), message).with_help("space the strokes further apart"));
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
                50.00 say "5 seconds" 2.00
                total 52.00
                Warning: no hold comes after this {hold}: it says the length of the last hold before it, 5 seconds
            "#]],
        );
    }

    #[test]
    fn hold_says_the_hold_that_follows() {
        // `--hold 2m` changes the routine's holds only: a cue says the hold
        // after it; with none after it, the last one before it.
        check(
            r#"Say("{hold}"), Hold(length: "5s"), Say("{hold}"), Hold, Say("{hold}")"#,
            "hold: \"30s\"",
            Options { hold: Some(Duration::from_secs(120)), ..Options::default() },
            expect_test::expect![[r#"
                0.00 say "5 seconds" 2.00
                2.00 hold 5.00
                7.00 say "2 minutes" 2.00
                9.00 hold 120.00
                129.00 say "2 minutes" 2.00
                total 131.00
                Warning: no hold comes after this {hold}: it says the length of the last hold before it, 2 minutes
            "#]],
        );
        // Each side, each time of a repeat, but the last, is followed by
        // the steps again; timing and laying out agree.
        check(
            r#"Sides([Hold(length: "5s"), Say("{hold}")]), Repeat(times: 2, steps: [Hold, Say("{hold}")]), Hold(length: "9s")"#,
            "hold: \"30s\"",
            Options::default(),
            expect_test::expect![[r#"
                0.00 hold 5.00
                5.00 say "5 seconds" 2.00
                7.00 hold 5.00
                12.00 say "30 seconds" 2.00
                14.00 hold 30.00
                44.00 say "30 seconds" 2.00
                46.00 hold 30.00
                76.00 say "9 seconds" 2.00
                78.00 hold 9.00
                total 87.00
            "#]],
        );
        // In a hold's own cues, that hold; the next round's hold, then the
        // closing's; a routine without holds says its own.
        let s = script_src(
            r#"steps: [Hold(length: "20s", cues: [At("1s", "{hold}")]), Say("{hold}")], closing: [Hold(length: "3s")]"#,
        );
        let t = compile(&s, &Options { rounds: Some(2), ..Options::default() }, &Fixed);
        let said: Vec<&str> =
            t.events.iter().filter_map(|e| if let Sound::Speech(w) = &e.sound { Some(&**w) } else { None }).collect();
        assert_eq!(said, ["20 seconds", "20 seconds", "Last round.", "20 seconds", "3 seconds"]);
        assert_eq!(t.holds(), [Duration::from_secs(3), Duration::from_secs(20)]);
        let none = compile(&script(r#"Say("{hold}")"#, "hold: \"40s\""), &Options::default(), &Fixed);
        assert_eq!(none.events[0].sound, Sound::Speech("40 seconds".into()));
        assert!(none.diagnostics[0].message.starts_with("this routine has no hold for {hold} to say"));
        assert_eq!(none.holds(), []);
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
                20.00 say "Last round." 2.00
                22.00 say "left then right" 3.00
                25.00 say "right then left" 3.00
                28.00 say "round 2 of 2" 4.00
                total 32.00
            "#]],
        );
        // --rounds and --rest override the routine's.
        let t = compile(
            &script(r#"Say("a")"#, "rounds: 2"),
            &Options { rounds: Some(3), rest: Some(Duration::from_secs(1)), ..Options::default() },
            &Fixed,
        );
        // Three rounds of one second, two rests of one, and the markers
        // "Round two." and "Last round." of two seconds each.
        assert_eq!(t.total, 9 * SAMPLE_RATE as u64);
    }

    /// Each event as `section round: what`, for tests about the parts.
    fn parts(t: &Timeline) -> String {
        t.events
            .iter()
            .map(|e| {
                let what = match &e.sound {
                    Sound::Speech(s) => s.to_string(),
                    other => format!("{other:?}").to_lowercase(),
                };
                format!("{} {}: {what}\n", e.section.name(), e.round)
            })
            .collect()
    }

    #[test]
    fn the_opening_and_closing_are_said_once_and_only_the_round_repeats() {
        let src = r#"Routine(title: "T", summary: "S",
            opening: [Say("hello")], steps: [Say("work {round} of {rounds}")], closing: [Say("bye")])"#;
        let script = load(src, None, "t").0.unwrap();
        let t = compile(&script, &Options { rounds: Some(3), ..Options::default() }, &Fixed);
        expect_test::expect![[r#"
            opening 1: hello
            round 1: work 1 of 3
            round 2: Round two.
            round 2: work 2 of 3
            round 3: Last round.
            round 3: work 3 of 3
            closing 3: bye
        "#]]
        .assert_eq(&parts(&t));
        // An endless session: the opening with the first round, a marker
        // before each later one, and the closing on its own when finished.
        let one = compile_round(&script, &Options::default(), &Fixed, 1);
        let two = compile_round(&script, &Options::default(), &Fixed, 2);
        let end = compile_closing(&script, &Options::default(), &Fixed, 2);
        let all = [one, two, end].iter().map(parts).collect::<String>();
        expect_test::expect![[r#"
            opening 1: hello
            round 1: work 1 of 1
            round 2: Round two.
            round 2: work 2 of 2
            closing 2: bye
        "#]]
        .assert_eq(&all);
        assert_eq!(round_marker(21, None), "Round twenty-one.");
        assert_eq!(round_marker(300, Some(1000)), "Round three hundred.");
        assert_eq!(round_marker(7, Some(7)), "Last round.");

        // What "where am I" says, at points of the three-round session.
        let held = script_src(r#"opening: [Say("hi")], steps: [Say("a"), Hold(length: "30s")], closing: [Say("bye")]"#);
        let t = compile(&held, &Options { rounds: Some(3), ..Options::default() }, &Fixed);
        let at = |what: &str, into: u64| {
            let hold = t.events.iter().filter(|e| e.sound == Sound::Hold).nth(1).unwrap();
            match what {
                "hold" => hold.start + into * SAMPLE_RATE as u64,
                _ => 0,
            }
        };
        assert_eq!(where_am_i(&t, at("start", 0), false), "The opening. About a minute to go.");
        assert_eq!(
            where_am_i(&t, at("hold", 10), false),
            "Twenty seconds left. Round two of three. Less than a minute to go."
        );
        assert_eq!(where_am_i(&t, at("hold", 29), true), "One second left. Round two.");
    }

    fn script_src(parts: &str) -> Script {
        load(&format!("Routine(title: \"T\", summary: \"S\", {parts})"), None, "t").0.unwrap()
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
                total 20.00
                Warning: left out: the cue “x” at 2s of the hold takes about 1s and would sound over “one two three”, spoken from 0:01.0 to 0:04.0
                Warning: left out: the cue “late” at 25s is past the end of the hold (20 seconds)
            "#]],
        );
    }

    #[test]
    fn a_long_hold_says_the_time_left_each_minute_around_its_halfway() {
        let spoken = |t: &Timeline| -> Vec<(u64, String)> {
            let hold = t.events.iter().find(|e| e.sound == Sound::Hold).unwrap().start;
            let words = t.events.iter().filter(|e| e.overlay).filter_map(|e| match &e.sound {
                Sound::Speech(w) => Some(((e.start - hold) / SAMPLE_RATE as u64, w.to_string())),
                _ => None,
            });
            words.collect()
        };
        let mut s = script(r#"Hold(halfway: "Halfway.", countdown: 3)"#, "");
        let ten = Options { hold: Some(Duration::from_secs(600)), ..Options::default() };
        let t = compile(&s, &ten, &Estimate::default());
        let minutes =
            |left: u64| if left == 1 { "1 minute left.".to_string() } else { format!("{left} minutes left.") };
        let mut expected: Vec<(u64, String)> = (1..=9).filter(|m| *m != 5).map(|m| (m * 60, minutes(10 - m))).collect();
        expected.insert(4, (300, "Halfway.".into()));
        expected.extend([(597, "3".into()), (598, "2".into()), (599, "1".into())]);
        assert_eq!(spoken(&t), expected);
        // Every two minutes, or never; and a hold of the advised length
        // says nothing more.
        s.defaults.hold_reminder = Duration::from_secs(120);
        let every_two: Vec<u64> = spoken(&compile(&s, &ten, &Estimate::default())).iter().map(|(at, _)| *at).collect();
        assert_eq!(every_two, [120, 240, 300, 360, 480, 597, 598, 599]);
        s.defaults.hold_reminder = Duration::ZERO;
        assert_eq!(spoken(&compile(&s, &ten, &Estimate::default())).len(), 4, "halfway and the countdown");
        s.defaults.hold_reminder = crate::script::HOLD_REMINDER;
        let minute = Options { hold: Some(Duration::from_secs(60)), ..Options::default() };
        assert_eq!(spoken(&compile(&s, &minute, &Estimate::default())).len(), 4);
    }

    #[test]
    fn a_halfway_that_does_not_fit_is_said_shorter_then_left_out() {
        // At 10 s the four-second halfway would run into the countdown's
        // "3" at 7 s: the short one is said. At 4 s even that meets "2".
        let steps = r#"Hold(halfway: "a b c d", countdown: 3)"#;
        let at = |hold| Options { hold: Some(Duration::from_secs(hold)), ..Options::default() };
        check(
            steps,
            "",
            at(20),
            expect_test::expect![[r#"
                0.00 hold 20.00
                  10.00 say "a b c d" 4.00
                  17.00 say "3" 1.00
                  18.00 say "2" 1.00
                  19.00 say "1" 1.00
                total 20.00
            "#]],
        );
        check(
            steps,
            "",
            at(10),
            expect_test::expect![[r#"
                0.00 hold 10.00
                  5.00 say "Halfway." 1.00
                  7.00 say "3" 1.00
                  8.00 say "2" 1.00
                  9.00 say "1" 1.00
                total 10.00
            "#]],
        );
        check(
            steps,
            "",
            at(4),
            expect_test::expect![[r#"
                0.00 hold 4.00
                  1.00 say "3" 1.00
                  2.00 say "2" 1.00
                  3.00 say "1" 1.00
                total 4.00
            "#]],
        );
        // What was left out is still made, for real lengths to decide again.
        let t = compile(&script(steps, ""), &at(4), &Fixed);
        assert_eq!(t.speech_texts(), ["3", "2", "1", "a b c d", "Halfway."]);
    }

    /// Every built-in at every hold from 10 s to 10 min: one voice at a
    /// time, and nothing to warn about.
    #[test]
    fn builtins_never_talk_over_themselves_at_any_hold() {
        let holds = (10..=60).chain((65..=600).step_by(5));
        for (name, source) in crate::library::BUILTINS {
            let script = load(source, None, name).0.unwrap();
            for hold in holds.clone() {
                let options = Options { hold: Some(Duration::from_secs(hold)), rounds: Some(2), ..Options::default() };
                let t = compile(&script, &options, &Estimate::default());
                assert_eq!(t.diagnostics, [], "{name} at {hold}s");
                assert_eq!(t.first_overlap(), None, "{name} at {hold}s");
            }
        }
    }

    #[test]
    fn oversized_sessions_are_refused_before_they_are_built() {
        // 2000 events a round is fine; 100 rounds of it are not, and that
        // is the options' doing, not the script's.
        let s = script(r#"Repeat(times: 1000, steps: [Pause("100ms"), Pause("100ms")])"#, "");
        let t = compile(&s, &Options { rounds: Some(100), ..Options::default() }, &Fixed);
        assert_eq!((t.events.len(), t.over_by_options), (0, Some(OverLimit::Events(200_099))));
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
    fn a_text_said_again_and_again_is_held_once() {
        let s = script(r#"Repeat(times: 50, steps: [Say("lean in"), Wait(text: "lean in", timeout: "1s")])"#, "");
        let t = compile(&s, &Options { rounds: Some(2), ..Options::default() }, &Fixed);
        let said: Vec<&Arc<str>> = t
            .events
            .iter()
            .filter_map(|e| match &e.sound {
                Sound::Speech(w) | Sound::Wait { text: w, .. } if &**w == "lean in" => Some(w),
                _ => None,
            })
            .collect();
        assert_eq!(said.len(), 300);
        assert!(said.iter().all(|w| Arc::ptr_eq(w, said[0])), "one copy");
    }

    #[test]
    fn sample_conversion_is_exact_for_whole_milliseconds() {
        assert_eq!(samples(Duration::from_secs(2)), 2 * SAMPLE_RATE as u64);
        assert_eq!(samples(Duration::from_millis(500)), SAMPLE_RATE as u64 / 2);
        assert_eq!(samples(Duration::from_nanos(1)), 1, "a part of a sample is a whole one");
        assert_eq!(to_duration(2 * SAMPLE_RATE as u64), Duration::from_secs(2));
    }
}
