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
use std::sync::Arc;
use std::time::Duration;

use crate::diagnostic::{Diagnostic, MAX_PROBLEMS};
use crate::duration;
use crate::script::{Chime, Hold, Mark, Script, Section, Side, Step, StepKind, Vars};

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
    fn exact(&self) -> bool {
        false
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
    /// `--rounds`: how many times the round plays.
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
    /// A wait for the person, after its text is spoken: in a rendered
    /// file, silence of its timeout (or [`crate::script::WAIT_RENDERED`]);
    /// live, the stream stands still until a key or the timeout.
    Wait {
        text: String,
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
    /// The hold length routine holds use after `--hold`.
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
        let mut seen = std::collections::HashSet::new();
        let spoken = self.events.iter().filter_map(|e| match &e.sound {
            Sound::Speech(t) => Some(t.as_str()),
            _ => None,
        });
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

/// What is said between rounds, before round `round`: its number, or
/// "Last round." when the number of rounds is known and this is the last.
pub fn round_marker(round: u32, rounds: Option<u32>) -> String {
    if rounds == Some(round) {
        return "Last round.".to_string();
    }
    format!("Round {}.", number_words(round))
}

/// What the "where am I" control says at `sample` of this timeline: the
/// time left in the hold playing, if one is, then where the session is —
/// "Twenty seconds left. Round two of three." `looped` says the number of
/// rounds is not known.
pub fn where_am_i(t: &Timeline, sample: u64, looped: bool) -> String {
    let mut words = Vec::new();
    let step = t.step_at(sample).map(|i| &t.events[i]);
    if let Some(e) = step.filter(|e| e.sound == Sound::Hold && sample < e.end()) {
        let secs = to_duration(e.end() - sample).as_secs_f64().ceil() as u64;
        words.push(match secs {
            1 => "One second left.".to_string(),
            2..60 => format!("{} seconds left.", capitalized(&number_words(secs as u32))),
            _ => format!("{} left.", duration::spoken(Duration::from_secs(secs))),
        });
    }
    let (section, round) = step.map_or((Section::Opening, 1), |e| (e.section, e.round));
    words.push(match section {
        Section::Opening => "The opening.".to_string(),
        Section::Closing => "The closing.".to_string(),
        Section::Round if looped => format!("Round {}.", number_words(round)),
        Section::Round if t.rounds > 1 => {
            format!("Round {} of {}.", number_words(round), number_words(t.rounds))
        }
        Section::Round => "One round.".to_string(),
    });
    if !looped {
        let left = to_duration(t.total.saturating_sub(sample)).as_secs();
        words.push(match left / 60 {
            0 => "Less than a minute to go.".to_string(),
            1 => "About a minute to go.".to_string(),
            n => format!("About {} minutes to go.", number_words(n as u32)),
        });
    }
    words.join(" ")
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A number up to a thousand in words: a voice reads "Round two." more
/// evenly than "Round 2.", and every engine reads it the same way.
fn number_words(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    match n {
        0..20 => ONES[n as usize].to_string(),
        20..100 if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_string(),
        20..100 => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
        100..1000 if n.is_multiple_of(100) => format!("{} hundred", ONES[(n / 100) as usize]),
        100..1000 => format!("{} hundred and {}", ONES[(n / 100) as usize], number_words(n % 100)),
        _ => n.to_string(),
    }
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
    let rounds = plan.count;
    let hold = options.hold.unwrap_or(script.defaults.hold);
    let rest = samples(options.rest.unwrap_or(script.defaults.rest));
    let first =
        script.parts().iter().find_map(|(_, steps)| steps.first()).map_or(0..0, |s| s.span.start..s.span.start + 1);
    let given = *options != Options::default();
    // Counted before anything is built: a routine of nested repeats can
    // expand to more events than memory holds.
    let rounds_here = plan.rounds.clone().count() as u64;
    let between = plan.rounds.clone().filter(|&r| r > 1).count() as u64;
    let rests = if rest > 0 { between } else { 0 };
    let once = if plan.opening { crate::script::events(&script.opening) } else { 0 }.saturating_add(if plan.closing {
        crate::script::events(&script.closing)
    } else {
        0
    });
    let events = crate::script::events(&script.steps)
        .saturating_mul(rounds_here)
        .saturating_add(between)
        .saturating_add(rests)
        .saturating_add(once);
    if events > MAX_EVENTS {
        let mut t = Timeline {
            events: Vec::new(),
            total: 0,
            rounds,
            hold,
            diagnostics: Vec::new(),
            over_by_options: None,
            unspoken: Vec::new(),
            estimated: !lengths.exact(),
        };
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
    let mut b = Builder {
        lengths,
        cursor: 0,
        events: Vec::new(),
        diagnostics: Vec::new(),
        hold,
        overflow: false,
        section: Section::Opening,
        unspoken: Vec::new(),
        own_point: Arc::from(script.name.as_str()),
        point: None,
    };
    let round_span = script.steps.first().map_or(0..0, |s| s.span.clone());
    if plan.opening {
        b.section = Section::Opening;
        b.steps(&script.opening, Vars { side: None, round: 1, rounds, hold });
    }
    for round in plan.rounds {
        b.section = Section::Round;
        if round > 1 {
            if rest > 0 {
                b.push(rest, Sound::Rest, round_span.clone(), round, None);
            }
            // A short spoken marker: a person with eyes closed hears that
            // the round starts again rather than the routine.
            let marker = round_marker(round, plan.known.then_some(rounds));
            let len = lengths.speech(&marker);
            b.push(len, Sound::Speech(marker), round_span.clone(), round, None);
        }
        b.steps(&script.steps, Vars { side: None, round, rounds, hold });
        if b.overflow {
            break;
        }
    }
    if plan.closing && !b.overflow {
        b.section = Section::Closing;
        b.steps(&script.closing, Vars { side: None, round: rounds, rounds, hold });
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
    let mut unspoken = b.unspoken;
    let mut kept = std::collections::HashSet::new();
    unspoken.retain(|t| kept.insert(t.clone()));
    Timeline {
        events: b.events,
        total: b.cursor,
        rounds,
        hold,
        diagnostics: b.diagnostics,
        over_by_options,
        unspoken,
        estimated: !lengths.exact(),
    }
}

/// What a halfway cue that does not fit at the middle of a hold says
/// instead.
pub const SHORT_HALFWAY: &str = "Halfway.";

/// A time within a hold, `m:ss.s`, for warnings.
fn clock_ms(samples: u64) -> String {
    let ms = to_duration(samples).as_millis();
    format!("{}:{:02}.{}", ms / 60_000, ms / 1000 % 60, ms / 100 % 10)
}

/// Cue text for a message: cut in the middle when long.
fn short_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 40 {
        return text.to_string();
    }
    let head: String = chars[..24].iter().collect();
    let tail: String = chars[chars.len() - 12..].iter().collect();
    format!("{head}…{tail}")
}

struct Builder<'a> {
    lengths: &'a dyn Lengths,
    cursor: u64,
    events: Vec<Event>,
    diagnostics: Vec<Diagnostic>,
    hold: Duration,
    /// Set once the session passes [`MAX_SESSION`]; building stops there.
    overflow: bool,
    /// The part of the routine being built.
    section: Section,
    /// Cue texts left out or replaced for want of room (see [`Timeline::unspoken`]).
    unspoken: Vec<String>,
    /// The routine's own point (its name), which `Sides` works by default.
    own_point: Arc<str>,
    /// The point of the `Sides` being built, if any.
    point: Option<Arc<str>>,
}

impl Builder<'_> {
    fn push(&mut self, length: u64, sound: Sound, source: Range<usize>, round: u32, side: Option<Side>) {
        let (section, point) = (self.section, self.point.clone());
        let overlay = false;
        self.events.push(Event { start: self.cursor, length, sound, overlay, round, section, side, point, source });
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
        let (round, section, side, point) = (vars.round, self.section, vars.side, self.point.clone());
        self.events.push(Event { start, length, sound, overlay: true, round, section, side, point, source });
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
            StepKind::Wait(wait) => {
                let words = wait.text.fill(&vars);
                let len = self.lengths.speech(&words);
                self.push(len, Sound::Speech(words.clone()), span.clone(), round, side);
                let sound = Sound::Wait { text: words, remind: wait.remind, timeout: wait.timeout };
                self.push(samples(wait.rendered()), sound, span, round, side);
            }
            StepKind::Repeat { times, steps } => {
                for _ in 0..*times {
                    self.steps(steps, vars);
                    if self.overflow {
                        return;
                    }
                }
            }
            StepKind::Sides(steps) => {
                let outer = self.point.clone();
                self.point = Some(step.point.clone().unwrap_or_else(|| self.own_point.clone()));
                for s in [Side::Left, Side::Right] {
                    self.steps(steps, Vars { side: Some(s), ..vars });
                }
                self.point = outer;
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

    /// Lays a hold's cues over its silence so that no two ever sound at
    /// once, and none sounds past the hold's end. The countdown comes
    /// first: its numbers keep their seconds. Then the `At` cues, in time
    /// order; one that would still be speaking when a placed cue starts
    /// (or the hold ends) is left out, with a warning naming it. Last the
    /// halfway cue: if its text does not fit at the middle, the short
    /// [`SHORT_HALFWAY`] is said instead, and if even that does not fit,
    /// nothing — by design, so without a warning.
    fn hold(&mut self, hold: &Hold, span: Range<usize>, vars: Vars) {
        let length = hold.length.unwrap_or(self.hold);
        let len = samples(length);
        let start = self.cursor;
        self.push(len, Sound::Hold, span.clone(), vars.round, vars.side);
        let first_overlay = self.events.len();
        // Placed cues as (start, end, text) within the hold.
        let mut placed: Vec<(u64, u64, String)> = Vec::new();
        let clash = |placed: &[(u64, u64, String)], at: u64, end: u64| -> Option<String> {
            let over = placed.iter().filter(|(s, e, _)| at < *e && *s < end).min_by_key(|(s, _, _)| *s);
            match over {
                Some((s, e, t)) => {
                    Some(format!("sound over “{}”, spoken from {} to {}", short_text(t), clock_ms(*s), clock_ms(*e)))
                }
                None if end > len => Some(format!("still be speaking when the hold ends at {}", clock_ms(len))),
                None => None,
            }
        };
        // A `--hold` shorter than the countdown keeps only the numbers that fit.
        for k in (1..=hold.countdown).rev().filter(|&k| Duration::from_secs(k.into()) < length) {
            let at = len - samples(Duration::from_secs(k.into()));
            let text = k.to_string();
            let end = at + self.lengths.speech(&text);
            placed.push((at, end, text));
        }
        for cue in &hold.cues {
            let text = cue.text.fill(&vars);
            if cue.at >= length {
                self.warn(
                    Diagnostic::warning(
                        cue.span.clone(),
                        format!(
                            "left out: the cue “{}” at {} is past the end of the hold ({})",
                            short_text(&text),
                            duration::short(cue.at),
                            duration::spoken(length)
                        ),
                    )
                    .with_help("a shorter --hold leaves it out"),
                );
                self.unspoken.push(text);
                continue;
            }
            let at = samples(cue.at);
            let end = at + self.lengths.speech(&text);
            if let Some(what) = clash(&placed, at, end) {
                self.warn(
                    Diagnostic::warning(
                        cue.span.clone(),
                        format!(
                            "left out: the cue “{}” at {} of the hold takes about {} and would {what}",
                            short_text(&text),
                            duration::short(cue.at),
                            duration::short(to_duration(end - at)),
                        ),
                    )
                    .with_help("space the cues further apart, shorten the text, or lengthen the hold"),
                );
                self.unspoken.push(text);
                continue;
            }
            placed.push((at, end, text));
        }
        if let Some(text) = &hold.halfway {
            let full = text.fill(&vars);
            let at = len / 2;
            let fits = |text: &str| clash(&placed, at, at + self.lengths.speech(text)).is_none();
            let said = [full.as_str(), SHORT_HALFWAY].into_iter().find(|t| fits(t)).map(str::to_string);
            // Every candidate is spoken somewhere in the clips, so real
            // lengths can decide again once speech exists.
            for t in [full.clone(), SHORT_HALFWAY.to_string()] {
                if said.as_deref() != Some(t.as_str()) {
                    self.unspoken.push(t);
                }
            }
            if let Some(t) = said {
                let end = at + self.lengths.speech(&t);
                placed.push((at, end, t));
            }
        }
        placed.sort_by_key(|c| c.0);
        for (at, _, text) in placed {
            // Numbers come from the countdown, at the hold's own step.
            let source = hold
                .cues
                .iter()
                .find(|c| samples(c.at) == at && c.text.fill(&vars) == text)
                .map_or(span.clone(), |c| c.span.clone());
            self.overlay(start + at, Sound::Speech(text), source, vars);
        }
        self.events[first_overlay..].sort_by_key(|e| e.start);
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
                    Sound::Speech(s) => s.clone(),
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
    fn sample_conversion_is_exact_for_whole_milliseconds() {
        assert_eq!(samples(Duration::from_secs(2)), 2 * SAMPLE_RATE as u64);
        assert_eq!(samples(Duration::from_millis(500)), SAMPLE_RATE as u64 / 2);
        assert_eq!(samples(Duration::from_nanos(1)), 1, "a part of a sample is a whole one");
        assert_eq!(to_duration(2 * SAMPLE_RATE as u64), Duration::from_secs(2));
    }
}
