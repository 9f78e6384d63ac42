//! A routine made ready for a command, shared by several: loaded, with the
//! user's settings applied, and checked (its script, its sound files, its
//! timeline within the limits), with the errors shown as the checker shows
//! them; and its timeline as well as it is known without making anything.
//!
//! Nothing here makes speech or opens a device: that is `voice`'s and the
//! commands' own.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use crate::cli::Timing;
use crate::cli::voice::voice_settings;
use crate::config::Settings;
use crate::error::Failure;
use crate::library::{self, Loaded};
use crate::script::Script;
use crate::script::duration;
use crate::script::timeline::{self, Estimate, Options, Timeline};
use crate::speech::Cache;

impl From<&Timing> for Options {
    fn from(t: &Timing) -> Self {
        Options { hold: t.hold, rounds: t.rounds, rest: t.rest }
    }
}

/// Loads a routine and applies the user's settings (the config file's hold
/// and chime, then the command line's timing). Fails (exit 1) on errors in
/// the script, or in its timeline as estimated — a session too long, say —
/// before any speech is made or a device opened. Warnings about the
/// timeline are left to the command, which reports them for the timeline it
/// actually uses.
pub fn load_routine(
    routine: &OsStr,
    timing: &Timing,
    config: &Settings,
    err: &mut dyn Write,
) -> Result<Prepared, Failure> {
    let mut loaded = library::resolve(routine)?;
    let mut script = loaded_script(&mut loaded, err)?;
    if let Some(c) = config.chime {
        script.replace_chime(crate::script::Chime::Bell, c);
    }
    if let Some(every) = timing.hold_reminder.or(config.hold_reminder) {
        script.defaults.hold_reminder = every;
    }
    let mut options: Options = timing.into();
    options.hold = options.hold.or(config.hold);
    let estimate = timeline::compile(&script, &options, &Estimate::default());
    advise_hold(timing, config, &estimate, err);
    if let Some(over) = estimate.over_by_options {
        return Err(over_by_options(over, timing, config));
    }
    report_timeline(&loaded, &estimate, false, err)?;
    Ok(Prepared { loaded, script, options, estimate })
}

/// Holds this short or long pass with a warning: the guidance is 30 s to a
/// minute a point, and a hold far outside it does little, or over-works
/// the muscle.
pub const SENSIBLE_HOLD: std::ops::RangeInclusive<std::time::Duration> =
    std::time::Duration::from_secs(20)..=std::time::Duration::from_secs(120);

/// Says once, before any work, that the hold asked for (by `--hold`, else
/// the settings file) is outside [`SENSIBLE_HOLD`], if a hold of the
/// routine (`estimate`) takes it; it plays as asked.
fn advise_hold(timing: &Timing, config: &Settings, estimate: &Timeline, err: &mut dyn Write) {
    let (hold, given) = match (timing.hold, config.hold) {
        (Some(h), _) => (h, format!("--hold {}", duration::short(h))),
        (None, Some(h)) => (h, format!("the settings file's hold of {}", duration::short(h))),
        (None, None) => return,
    };
    let used = estimate.events.iter().any(|e| e.sound == timeline::Sound::Hold && e.length == timeline::samples(hold));
    if !used {
        return;
    }
    let why = match () {
        _ if hold < *SENSIBLE_HOLD.start() => "shorter than",
        _ if hold > *SENSIBLE_HOLD.end() => "longer than",
        _ => return,
    };
    let _ = writeln!(
        err,
        "warning: {given} is far {why} the 30 s to a minute a point is advised to be held; it plays as asked"
    );
}

/// Warns about a timing option given that changes nothing, one line each:
/// `--hold` for a routine whose holds all have a length of their own (or
/// that has none), `--rest` for a session of one round. `looped`: the
/// session is `--loop`, whose rounds have rests between them.
pub(super) fn warn_idle_options(script: &Script, timing: &Timing, looped: bool, err: &mut dyn Write) {
    let name = &script.name;
    if timing.hold.is_some() && !script.uses_hold() {
        let why = match script.has_hold() {
            true => format!("every hold in {name} has its own length"),
            false => format!("{name} has no hold (it is worked in strokes or pauses)"),
        };
        let _ = writeln!(err, "warning: --hold changes nothing: {why}");
    }
    if timing.rest.is_some() && !looped && timing.rounds.unwrap_or(script.defaults.rounds) == 1 {
        let _ = writeln!(
            err,
            "warning: --rest changes nothing: {name} plays one round, and --rest is the silence between rounds \
             (add --rounds 2, or --loop)"
        );
    }
}

/// A routine loaded and checked, with its options and estimated timeline.
pub struct Prepared {
    pub loaded: Loaded,
    pub script: Script,
    pub options: Options,
    pub estimate: Timeline,
}

/// The failure for options that take a session past a limit, naming the
/// options as the user gave them: the script is not at fault.
fn over_by_options(over: timeline::OverLimit, timing: &Timing, config: &Settings) -> Failure {
    let length = over == timeline::OverLimit::Length;
    let mut given = Vec::new();
    let mut names = Vec::new();
    if length {
        if let Some(h) = timing.hold {
            given.push(format!("--hold {}", duration::short(h)));
            names.push("--hold");
        } else if let Some(h) = config.hold {
            given.push(format!("the settings file's hold of {}", duration::short(h)));
            names.push("the hold in the settings file");
        }
    }
    if let Some(r) = timing.rounds {
        given.push(format!("--rounds {r}"));
        names.push("--rounds");
    }
    if let Some(r) = timing.rest {
        given.push(format!("--rest {}", duration::short(r)));
        names.push("--rest");
    }
    let hint = match names.as_slice() {
        [] => "use smaller values".to_string(),
        [one] => format!("lower {one}"),
        [init @ .., last] => format!("lower {} or {last}", init.join(", ")),
    };
    Failure::usage(over.message(&given)).hint(hint)
}

/// Reports the script's problems and takes the script out, if it loaded.
/// A script with errors has its sound files decoded all the same, so that
/// one that is no sound is reported with the rest, not in a later run.
pub(super) fn loaded_script(loaded: &mut Loaded, err: &mut dyn Write) -> Result<Script, Failure> {
    if loaded.script.is_none() && !loaded.sounds.is_empty() {
        let files = loaded.sounds.iter().map(|(path, at)| (path.as_path(), at.clone()));
        loaded.diagnostics.extend(crate::audio::sound::check_files(files));
        loaded.diagnostics.sort_by_key(|d| d.span.start);
    }
    if !loaded.diagnostics.is_empty() {
        let _ = write!(err, "{}", loaded.report());
    }
    loaded.script.take().ok_or_else(|| invalid(loaded, loaded.errors()))
}

/// Prints a timeline's errors, and its warnings too if asked; fails on errors.
pub(super) fn report_timeline(
    loaded: &Loaded,
    timeline: &Timeline,
    warnings: bool,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let shown: Vec<_> = timeline.diagnostics.iter().filter(|d| warnings || d.is_error()).cloned().collect();
    if !shown.is_empty() {
        let _ = write!(err, "{}", crate::script::diagnostic::render(&loaded.display, &loaded.text, &shown));
    }
    let errors = timeline.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 { Err(invalid(loaded, errors)) } else { Ok(()) }
}

/// Decodes every sound file the timeline plays; one that cannot be played
/// is an error in the script (exit 1), shown at its `Sound` step.
pub(super) fn check_sounds(loaded: &Loaded, timeline: &Timeline, err: &mut dyn Write) -> Result<(), Failure> {
    let problems = crate::audio::sound::check(timeline);
    if problems.is_empty() {
        return Ok(());
    }
    let _ = write!(err, "{}", crate::script::diagnostic::render(&loaded.display, &loaded.text, &problems));
    Err(invalid(loaded, problems.len()))
}

/// Sound files and limits, before any speech is made: every sound file
/// plays, and with their real lengths (the estimate counts each as a
/// second) the session is within the limits. Gives the session's length in
/// frames as well as it is known then.
pub(super) fn check_before_work(
    prepared: &Prepared,
    timing: &Timing,
    config: &Settings,
    err: &mut dyn Write,
) -> Result<u64, Failure> {
    let Prepared { loaded, script, options, estimate } = prepared;
    check_sounds(loaded, estimate, err)?;
    if !estimate.events.iter().any(|e| matches!(e.sound, timeline::Sound::File(_))) {
        // `prepare` checked the estimate, which is all there is to know.
        return Ok(estimate.total);
    }
    let sized = sized(script, options);
    if let Some(over) = sized.over_by_options {
        return Err(over_by_options(over, timing, config));
    }
    report_timeline(loaded, &sized, false, err)?;
    Ok(sized.total)
}

fn invalid(loaded: &Loaded, errors: usize) -> Failure {
    let s = if errors == 1 { "" } else { "s" };
    Failure::invalid(format!("{} has {errors} error{s}", loaded.display))
        .hint("fix the lines shown above; docs/scripts.md describes every step")
}

/// The timeline as well as it can be known without making anything:
/// sound files at their real lengths (`sound::load_file` decodes each once,
/// however often the routine plays it), and speech from the cache when every cue is there —
/// then the times are exact; else estimated, and marked so.
pub(super) fn known_timeline(script: &Script, options: &Options, config: &Settings) -> Timeline {
    let probe = sized(script, options);
    let kind = config.engine.unwrap_or_default();
    let cached = crate::speech::pick::engine(kind, &voice_settings(script, None, config), config.command.as_deref())
        .ok()
        .and_then(|chosen| {
            let key = crate::speech::cache_key(chosen.engine.as_ref());
            crate::speech::cached_lengths(&key, &Cache::default_location(), &probe.speech_texts())
        });
    match cached {
        Some(lengths) => timeline::compile(script, options, &Known { speech: Some(lengths) }),
        None => probe,
    }
}

/// The timeline with sound files and chimes at their real lengths, speech
/// estimated: all that is known before any speech is looked up or made.
pub(super) fn sized(script: &Script, options: &Options) -> Timeline {
    timeline::compile(script, options, &Known { speech: None })
}

/// Lengths without making anything: sound files (`sound::load_file`
/// decodes each once) and chimes as they are, speech from the cache's
/// lengths when there are some, else estimated.
struct Known {
    speech: Option<std::collections::HashMap<String, u64>>,
}

impl timeline::Lengths for Known {
    fn speech(&self, text: &str) -> u64 {
        // Cached at the speech rate; played at the session's.
        match &self.speech {
            Some(known) => known.get(text).map_or_else(
                || Estimate::default().speech(text),
                |&n| crate::audio::resample::length(n, crate::speech::ENGINE_RATE, timeline::SAMPLE_RATE),
            ),
            None => Estimate::default().speech(text),
        }
    }
    fn chime(&self, c: crate::script::Chime) -> u64 {
        crate::audio::sound::chime(c).len() as u64
    }
    fn sound(&self, path: &Path) -> u64 {
        crate::audio::sound::load_file(path).map_or(0, |s| s.len() as u64)
    }
    fn exact(&self) -> bool {
        self.speech.is_some()
    }
}
