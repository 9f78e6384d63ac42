//! One function per subcommand, dispatched by one `match`.
//!
//! Each reads the plain options it needs, does its work through the library
//! modules, and returns an exit code or a [`Failure`]. Output goes to the
//! writers it is given, so tests can read it.

use std::io::Write;

use crate::cli::{Command, PlayArgs, Timing, VoiceArgs};
use crate::config::{EngineKind, Settings};
use crate::error::{Failure, code};
use crate::library::{self, Loaded, Origin};
use crate::output::Device;
use crate::player::{Player, PlayerEvent};
use crate::script::Script;
use crate::session::{self, Segment};
use crate::speech::{Cache, Engine, VoiceSettings};
use crate::timeline::{self, Estimate, Options, Timeline};
use crate::ui::Progress;
use crate::{duration, fsutil, show};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn dispatch(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    match command {
        Command::List => list(out, err),
        Command::Show { routine, timing, json, looped } => show(&routine, &timing, json, looped, out, err),
        Command::Check { files } => check(&files, out, err),
        Command::New { name } => new(&name, out),
        Command::Play(args) => play(&args, out, err),
        Command::Render { routine, output, timing, looped, voice } => {
            render(&routine, &output, &timing, looped, &voice, out, err)
        }
        Command::Devices => devices(out),
        Command::Voices { engine } => voices(engine, out, err),
        Command::Config => show_config(out, err),
        Command::Remind(args) => remind(&args, out, err),
        Command::Log { last, json } => crate::practice::show_log(last, json, out, err),
        Command::Today { json } => crate::practice::show_today(json, out, err),
    }
}

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
pub fn prepare(routine: &OsStr, timing: &Timing, config: &Settings, err: &mut dyn Write) -> Result<Prepared, Failure> {
    let mut loaded = library::resolve(routine)?;
    let mut script = loaded_script(&mut loaded, err)?;
    if let Some(c) = config.chime {
        script.replace_chime(crate::script::Chime::Bell, c);
    }
    let mut options: Options = timing.into();
    options.hold = options.hold.or(config.hold);
    let estimate = timeline::compile(&script, &options, &Estimate::default());
    if let Some(over) = estimate.over_by_options {
        return Err(over_by_options(over, timing, config));
    }
    report_timeline(&loaded, &estimate, false, err)?;
    Ok(Prepared { loaded, script, options, estimate })
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
fn loaded_script(loaded: &mut Loaded, err: &mut dyn Write) -> Result<Script, Failure> {
    if !loaded.diagnostics.is_empty() {
        let _ = write!(err, "{}", loaded.report());
    }
    loaded.script.take().ok_or_else(|| invalid(loaded, loaded.errors()))
}

/// Prints a timeline's errors, and its warnings too if asked; fails on errors.
fn report_timeline(loaded: &Loaded, timeline: &Timeline, warnings: bool, err: &mut dyn Write) -> Result<(), Failure> {
    let shown: Vec<_> = timeline.diagnostics.iter().filter(|d| warnings || d.is_error()).cloned().collect();
    if !shown.is_empty() {
        let _ = write!(err, "{}", crate::diagnostic::render(&loaded.display, &loaded.text, &shown));
    }
    let errors = timeline.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 { Err(invalid(loaded, errors)) } else { Ok(()) }
}

/// Decodes every sound file the timeline plays; one that cannot be played
/// is an error in the script (exit 1), shown at its `Sound` step.
fn check_sounds(loaded: &Loaded, timeline: &Timeline, err: &mut dyn Write) -> Result<(), Failure> {
    let problems = crate::sound::check(timeline);
    if problems.is_empty() {
        return Ok(());
    }
    let _ = write!(err, "{}", crate::diagnostic::render(&loaded.display, &loaded.text, &problems));
    Err(invalid(loaded, problems.len()))
}

/// Sound files and limits, before any speech is made: every sound file
/// plays, and with their real lengths (the estimate counts each as a
/// second) the session is within the limits. Gives the session's length in
/// frames as well as it is known then.
fn check_before_work(
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

fn list(out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let config = settings_or_default(err);
    let (user, unreadable) = match library::read_user_scripts() {
        Ok(user) => (user, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let user_names: Vec<String> =
        user.iter().filter_map(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
    let mut text = String::from("Built-in routines (length at the default hold):\n");
    for (name, source) in library::BUILTINS {
        let loaded = library::load_builtin(name, source);
        let shadow = if user_names.iter().any(|n| n == name) { "  (shadowed by your script)" } else { "" };
        text += &line(&loaded, shadow, &config);
    }
    let dir =
        library::user_dir().map_or_else(|| "(no config folder on this system)".into(), |d| d.display().to_string());
    text += &format!("\nYour scripts, in {dir}:\n");
    match unreadable {
        Some(why) => text += &format!("  {}\n", crate::diagnostic::escape_controls(&why)),
        None if user.is_empty() => text += "  none yet — `backease new NAME` writes a starter script there\n",
        None => {}
    }
    for path in &user {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = crate::diagnostic::escape_controls(&stem).into_owned();
        let shadow = if library::BUILTINS.iter().any(|(n, _)| *n == stem) { "  (shadows the built-in)" } else { "" };
        match library::load_file(path, Origin::User(path.clone())) {
            Ok(loaded) => text += &line(&loaded, shadow, &config),
            Err(e) => text += &format!("  {stem:<20} unreadable: {}\n", e.message),
        }
    }
    write_out(out, &text)?;
    Ok(code::OK)
}

/// The settings file's settings, or the defaults if it cannot be read: a
/// listing still lists (the reason is printed).
fn settings_or_default(err: &mut dyn Write) -> Settings {
    crate::config::load(err).map(|c| c.settings).unwrap_or_default()
}

/// The options the settings file implies when the command line gives none.
fn config_options(config: &Settings) -> Options {
    Options { hold: config.hold, ..Options::default() }
}

fn line(loaded: &Loaded, note: &str, config: &Settings) -> String {
    let has_errors =
        || format!("  {:<20} {:>7}  has errors: run `backease check {}`{note}\n", loaded.name, "-", loaded.display);
    let Some(script) = &loaded.script else { return has_errors() };
    // Over a limit (with its sound files at their real lengths): it would
    // not play.
    let t = known_timeline(script, &config_options(config), config);
    if t.diagnostics.iter().any(|d| d.is_error()) {
        return has_errors();
    }
    format!("  {:<20} {:>7}  {}{note}\n", loaded.name, t.length_shown(), script.summary)
}

fn show(
    routine: &OsStr,
    timing: &Timing,
    json: bool,
    looped: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let config = crate::config::load(err)?.settings;
    let Prepared { loaded, script, mut options, .. } = prepare(routine, timing, &config, err)?;
    if looped {
        // One round stands for them all: `play --loop` repeats it.
        options.rounds = Some(1);
    }
    // Once the speech is cached, the times are exact.
    let timeline = known_timeline(&script, &options, &config);
    report_timeline(&loaded, &timeline, true, err)?;
    let text = if json { show::json(&script, &timeline, looped) } else { show::text(&script, &timeline, looped) };
    write_out(out, &text)?;
    Ok(code::OK)
}

fn check(files: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let config = settings_or_default(err);
    let mut bad = 0;
    let mut missing = 0;
    // The exit code of the first script that could not be read: a routine
    // name that does not exist is a usage error, as it is for `play`.
    let mut missing_code = code::IO;
    for file in files {
        let mut loaded = match library::resolve(file) {
            Ok(l) => l,
            // One name: the same failure `play` and `show` give.
            Err(e) if files.len() == 1 => return Err(e),
            Err(e) => {
                let name = crate::diagnostic::escape_controls(&file.to_string_lossy()).into_owned();
                let _ = writeln!(err, "{name}: error: {}", e.message);
                if let Some(hint) = &e.hint {
                    let _ = writeln!(err, "hint: {hint}");
                }
                if missing == 0 {
                    missing_code = e.code;
                }
                missing += 1;
                continue;
            }
        };
        let result = loaded_script(&mut loaded, err).and_then(|script| {
            let t = timeline::compile(&script, &Options::default(), &Estimate::default());
            report_timeline(&loaded, &t, true, err)?;
            check_sounds(&loaded, &t, err)?;
            // With its sound files at their real lengths, within the limits.
            report_timeline(&loaded, &sized(&script, &Options::default()), false, err)?;
            // The length as well as it is known: exact once the speech is cached.
            let length = known_timeline(&script, &config_options(&config), &config);
            Ok((t, length))
        });
        match result {
            Ok((t, length)) => {
                let warnings = loaded.diagnostics.len() + t.diagnostics.len();
                let note = match warnings {
                    0 => String::new(),
                    1 => ", 1 warning".into(),
                    n => format!(", {n} warnings"),
                };
                write_out(out, &format!("{}: ok ({}{note})\n", loaded.display, length.length_shown()))?;
            }
            Err(e) => {
                let _ = writeln!(err, "{}\n", e.message);
                bad += 1;
            }
        }
    }
    if missing > 0 {
        return Err(Failure::new(missing_code, format!("{missing} of {} scripts could not be read", files.len())));
    }
    Ok(if bad > 0 { code::INVALID } else { code::OK })
}

fn new(name: &str, out: &mut dyn Write) -> Result<u8, Failure> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(Failure::usage(format!("`{name}` is not a routine name"))
            .hint("use lowercase letters, digits and dashes, like `evening-stretch`"));
    }
    let dir = library::user_dir().ok_or_else(|| Failure::io("this system has no config folder for your scripts"))?;
    if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
        return Err(Failure::io(format!("cannot write your script: {} is a file, not a folder", dir.display()))
            .hint("move that file away; backease keeps your scripts in a folder there"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        let e = fsutil::explain(&dir, e);
        Failure::io(format!("cannot create {}: {}", dir.display(), crate::error::io_reason(&e)))
    })?;
    let path = dir.join(format!("{name}.ron"));
    fsutil::write_new(&path, library::starter(name).as_bytes())?;
    let shadow = if library::BUILTINS.iter().any(|(n, _)| *n == name) {
        format!("\nnote: it has the name of a built-in routine; `backease play {name}` now plays yours")
    } else {
        String::new()
    };
    write_out(out, &format!("{}\nedit it, then: backease play {name}{shadow}\n", path.display()))?;
    Ok(code::OK)
}

/// Writes to stdout; a closed pipe (`backease show x | head`) is not an
/// error worth a message.
fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::io(format!("cannot write output: {}", crate::error::io_reason(&e)))),
    }
}

/// The timeline as well as it can be known without making anything:
/// sound files at their real lengths (`sound::load_file` decodes each once,
/// however often the routine plays it), and speech from the cache when every cue is there —
/// then the times are exact; else estimated, and marked so.
fn known_timeline(script: &Script, options: &Options, config: &Settings) -> Timeline {
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
fn sized(script: &Script, options: &Options) -> Timeline {
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
                |&n| crate::resample::length(n, crate::speech::SAMPLE_RATE, timeline::SAMPLE_RATE),
            ),
            None => Estimate::default().speech(text),
        }
    }
    fn chime(&self, c: crate::script::Chime) -> u64 {
        crate::sound::chime(c).len() as u64
    }
    fn sound(&self, path: &Path) -> u64 {
        crate::sound::load_file(path).map_or(0, |s| s.len() as u64)
    }
    fn exact(&self) -> bool {
        self.speech.is_some()
    }
}

/// The voice: command-line options, then the config file, then the
/// script's defaults.
fn voice_settings(script: &Script, args: Option<&VoiceArgs>, config: &Settings) -> VoiceSettings {
    VoiceSettings {
        voice: args
            .and_then(|a| a.voice.clone())
            .or_else(|| config.voice.clone())
            .or_else(|| script.defaults.voice.clone()),
        rate: args.and_then(|a| a.rate).or(config.rate).or(script.defaults.rate),
        pitch: args.and_then(|a| a.pitch).or(config.pitch).or(script.defaults.pitch),
    }
}

fn speech_failure(e: crate::speech::SpeechError) -> Failure {
    let f = Failure::new(code::SPEECH, e.message);
    match e.hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// Everything a session needs decided before it is made: flags, then the
/// config file, then the script.
struct Choices {
    /// Makes the speech, or with a live voice, only the controls' notices.
    engine: Option<Box<dyn Engine>>,
    /// The system voice, speaking live.
    live: Option<crate::speech::system::SystemVoice>,
    volume: f32,
    /// Every cue from the middle (the setting `pan: false`).
    centred: bool,
}

/// The voice and volume: flags, then the config file, then the script.
/// Which engine speaks is `speech::pick`'s to decide.
fn choose(
    script: &Script,
    voice: &VoiceArgs,
    config: &Settings,
    rendering: bool,
    err: &mut dyn Write,
) -> Result<Choices, Failure> {
    let settings = voice_settings(script, Some(voice), config);
    let kind = voice.engine.or(config.engine).unwrap_or_default();
    let command = voice.command.clone().or_else(|| config.command.clone());
    let volume = voice.volume.or(config.volume).or(script.defaults.volume).unwrap_or(1.0);
    let centred = config.pan == Some(false);
    let chosen = crate::speech::pick::for_session(kind, &settings, command.as_deref(), rendering)
        .map_err(|f| stopped_by_signal("while connecting to the system voice").unwrap_or(f))?;
    if let Some(w) = &chosen.warning {
        let _ = writeln!(err, "warning: {w}");
    }
    if voice.verbose {
        let _ = writeln!(err, "speech: {}", chosen.description);
    }
    Ok(Choices { engine: chosen.engine, live: chosen.live, volume, centred })
}

/// Makes the session (or round `round` of an endless one) ready: speaks
/// every cue, or with a live voice only the notices, showing progress while
/// there is synthesis to wait for; then reports what the real lengths show.
fn make_segment(
    loaded: &Loaded,
    prepared: (&Script, &Options),
    round: Option<u32>,
    choices: &Choices,
    quiet: bool,
    err: &mut dyn Write,
) -> Result<Segment, Failure> {
    let (script, options) = prepared;
    let mut progress = Progress::new("preparing speech");
    let cache = Cache::default_location();
    let live = choices.live.is_some();
    let engine = choices.engine.as_deref();
    let (mut segment, report) =
        session::prepare(script, options, round, engine, live, &cache, &mut |done, total, synthesized| {
            // Cached cues are instant: show progress only while speaking anew.
            if synthesized > 0 && !quiet {
                progress.update(done as u64, total as u64, &|n| n.to_string())
            }
        })
        .map_err(|f| stopped_by_signal("while preparing speech").unwrap_or(f))?;
    segment.centre(choices.centred);
    progress.finish();
    if let Some(e) = report.cache_errors.first().filter(|_| !quiet) {
        cache_warning(e, err);
    }
    // Real speech lengths can reveal cues that now collide (warnings
    // only without --quiet).
    report_timeline(loaded, &segment.timeline, !quiet, err)?;
    Ok(segment)
}

/// Says that speech made could not be kept in the cache, and why.
fn cache_warning(why: &str, err: &mut dyn Write) {
    let dir = Cache::default_location().dir().map_or_else(String::new, |d| format!(" in {}", d.display()));
    let _ = writeln!(err, "warning: could not save speech to the cache{dir} ({why}); it will be made again next time");
}

/// Has an engine with a model to load start loading it, if the session
/// has speech to make (not every cue in the cache).
fn warm_up(engine: Option<&dyn Engine>, estimate: &Timeline) {
    if let Some(engine) = engine {
        let key = crate::speech::cache_key(engine);
        if crate::speech::cached_lengths(&key, &Cache::default_location(), &estimate.speech_texts()).is_none() {
            engine.warm_up();
        }
    }
}

/// A thread that speaks words on request (the answer to "where am I"):
/// each text sent is made into speech (from the cache when it can) and
/// sent to the player to play at once. It ends when the sender is dropped.
fn on_request(
    engine: Arc<dyn crate::speech::Engine>,
    player: crossbeam_channel::Sender<crate::player::Command>,
) -> crossbeam_channel::Sender<String> {
    let (tx, rx) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        let cache = Cache::default_location();
        for text in rx {
            let texts = [text.clone()];
            if let Ok((clips, _)) = crate::speech::synthesize_all(engine.as_ref(), &cache, &texts, 1, &mut |_, _, _| {})
                && let Some(clip) = clips.get(&text)
                && player.send(crate::player::Command::Notify(clip.clone())).is_err()
            {
                return;
            }
        }
    });
    tx
}

/// If a signal has come, the failure that ends the command for it: work
/// cut short by a signal reports the signal, not the broken work.
fn stopped_by_signal(doing: &str) -> Option<Failure> {
    let sig = crate::signals::received()?;
    Some(Failure::new(
        crate::signals::exit_code(sig),
        format!("stopped by {} {doing}; nothing was left half-made", crate::signals::name(sig)),
    ))
}

fn play(args: &PlayArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let PlayArgs { routine, timing, looped, voice, device, quiet, pause_others } = args;
    let (looped, quiet) = (*looped, *quiet);
    use crate::live::{Display, Input, Keyboard, Style};
    use crate::player::Command as Cmd;
    // From here on Ctrl-C, SIGTERM, SIGHUP and SIGQUIT stop the session
    // (or the speech being made) cleanly, with the terminal restored.
    let mut signals = crate::signals::listen();
    let config = crate::config::load(err)?.settings;
    let prepared = prepare(routine, timing, &config, err)?;
    check_before_work(&prepared, timing, &config, err)?;
    let Prepared { loaded, script, mut options, estimate } = prepared;
    // --quiet: nothing but errors, so no warning about the voice either.
    let mut sink = std::io::sink();
    let mut choices = choose(&script, voice, &config, false, if quiet { &mut sink } else { err })?;
    let mut volume = choices.volume;
    if looped {
        options.rounds = Some(1);
    }
    // Piper starts loading its model now, while the device opens: the
    // first cue is then not held up by the load.
    warm_up(choices.engine.as_deref(), &estimate);
    // Open the device first: with none, say so before any other work.
    let device = Device::open(device.as_deref())?;
    let live = choices.live.take();
    // Shared from here: rounds ahead, the closing, and speech made on request.
    let engine: Option<Arc<dyn crate::speech::Engine>> = choices.engine.take().map(Arc::from);
    // The speech is made ahead of the listener: playing starts with the
    // first cue.
    let making = crate::ahead::Making {
        script: script.clone(),
        options,
        looped,
        engine: engine.clone(),
        live: live.is_some(),
        centred: choices.centred,
    };
    let (first, ahead) = crate::ahead::start(making, &signals).map_err(|f| {
        stopped_by_signal("while preparing speech").or(f).unwrap_or_else(|| Failure::new(code::INTERRUPTED, "stopped"))
    })?;
    // Real speech lengths can reveal cues that now collide (warnings
    // only without --quiet); with speech still being made they show next time.
    if first.ready.is_none() {
        report_timeline(&loaded, &first.timeline, !quiet, err)?;
    }
    let crate::ahead::Ahead { grown, closing, upcoming, failed, cut_short, done: made_all, report } = ahead;
    let (mut grown, mut closing, mut failed, mut cut_short) = (grown, closing, failed, cut_short);

    let (input_tx, inputs) = crossbeam_channel::unbounded();
    let style = Style::detect(quiet);
    // Other players are paused as the session starts (before backease is a
    // player itself), and resumed below, or on drop if this ends in an error.
    let mut others = pause_others_for(*pause_others || config.pause_others == Some(true), quiet, err);
    // Media buttons before the keyboard: a warning about them is printed
    // before the display starts and the terminal goes raw, not through it.
    let mut media = match crate::media_keys::MediaKeys::start(&script.title, input_tx.clone()) {
        Ok(m) => Some(m),
        Err(e) => {
            if !quiet {
                let _ = writeln!(err, "warning: headset and media buttons will not work ({e})");
            }
            None
        }
    };
    // `input_tx` stays alive here, so with no keyboard the channel stays
    // open and quiet rather than disconnected (which `select!` would see
    // as ready on every turn).
    // `--quiet` quiets the screen, not the keys.
    let keyboard = Keyboard::start(input_tx.clone());
    let mut display = Display::new(style, &script.title, first.clone(), looped, volume, keyboard.is_some());
    let length = match () {
        _ if looped => "until stopped".to_string(),
        _ if first.ready.is_some() => format!("≈{}", duration::clock(first.timeline.duration())),
        _ => duration::clock(first.timeline.duration()),
    };
    let keys = if keyboard.is_some() { crate::live::HELP } else { "Ctrl-C stops" };
    display.say(out, &format!("Playing {} ({length}) on {}. {keys}.", script.name, device.name()));

    // The practice log: the session is recorded from here, as it plays.
    let recorder = crate::practice::Recorder::start(None, &script.name, first.timeline.hold);
    let mut tracker = crate::practice::Tracker::default();
    let player = Player::spawn_with_voice(Box::new(device), first, upcoming, volume, live);
    if keyboard.is_none() && media.is_none() {
        let _ = player.commands.send(Cmd::Unattended);
    }
    let speaker = engine.clone().map(|engine| on_request(engine, player.commands.clone()));
    // Waiting at a `Wait` step: space, Enter and the headset's play button go on.
    let mut waiting = false;
    let mut paused = false;
    let mut exit = code::OK;
    let mut stopping = false;
    let mut lost = None;
    let mut speech_failed = None;
    let mut rounds_failed = None;
    let mut finishing = false;
    loop {
        crossbeam_channel::select! {
            recv(grown) -> segment => match segment {
                Ok(s) => {
                    let _ = player.commands.send(Cmd::Grow(s));
                }
                Err(_) => grown = crossbeam_channel::never(),
            },
            recv(closing) -> segment => match segment {
                Ok(s) => {
                    let _ = player.commands.send(Cmd::Closing(s));
                }
                Err(_) => closing = crossbeam_channel::never(),
            },
            // The rest of the speech cannot be made: end with "Stopping."
            // (heard, with eyes closed) and say why on screen, rather than
            // wait at the next cue for ever.
            recv(failed) -> why => match why {
                Ok(f) => {
                    speech_failed = Some(f);
                    if !stopping {
                        stopping = true;
                        let _ = player.commands.send(Cmd::Stop);
                    }
                }
                Err(_) => failed = crossbeam_channel::never(),
            },
            // The next round of an endless session cannot be made: this
            // round is the last ("Last round." is heard), then the closing.
            recv(cut_short) -> why => match why {
                // Finishing already, the round was never going to play.
                Ok(f) if !stopping && !finishing => {
                    rounds_failed = Some(f);
                    let _ = player.commands.send(Cmd::Finish);
                }
                Ok(_) => {}
                Err(_) => cut_short = crossbeam_channel::never(),
            },
            recv(player.events) -> ev => match ev {
                Ok(PlayerEvent::Lost(why)) => {
                    tracker.finished(true).into_iter().for_each(|w| recorder.worked(w));
                    recorder.end(true);
                    lost = Some(why);
                    break;
                }
                Ok(ev) => {
                    match &ev {
                        PlayerEvent::Step { event, segment, .. } => {
                            tracker.step(*segment, event).into_iter().for_each(|w| recorder.worked(w));
                        }
                        PlayerEvent::Finished { stopped } => {
                            tracker.finished(*stopped).into_iter().for_each(|w| recorder.worked(w));
                            recorder.end(*stopped);
                        }
                        PlayerEvent::Waiting(w) => waiting = *w,
                        PlayerEvent::Finishing => finishing = true,
                        PlayerEvent::Say(text) => {
                            if let Some(s) = &speaker {
                                let _ = s.send(text.clone());
                            }
                        }
                        PlayerEvent::Paused | PlayerEvent::Resumed => {
                            paused = ev == PlayerEvent::Paused;
                            if let Some(m) = media.as_mut() {
                                m.set_playing(!paused);
                            }
                        }
                        _ => {}
                    }
                    display.event(&ev, out);
                    if matches!(ev, PlayerEvent::Finished { .. }) {
                        break;
                    }
                }
                Err(_) => break,
            },
            recv(inputs) -> input => {
                let Ok(input) = input else { continue };
                if matches!(input, Input::Next | Input::Back) {
                    tracker.moved();
                }
                let cmd = match input {
                    Input::TogglePause | Input::Finish | Input::Resume if waiting && !paused => Cmd::Release,
                    Input::Finish => Cmd::Finish,
                    Input::WhereAmI => Cmd::WhereAmI,
                    Input::TogglePause if paused => Cmd::Resume,
                    Input::TogglePause => Cmd::Pause,
                    Input::Pause => Cmd::Pause,
                    Input::Resume => Cmd::Resume,
                    Input::Next => Cmd::Next,
                    Input::Back => Cmd::Back,
                    Input::VolumeUp | Input::VolumeDown => {
                        let step = if input == Input::VolumeUp { 0.1 } else { -0.1 };
                        volume = ((volume + step) * 10.0).round().clamp(0.0, 20.0) / 10.0;
                        Cmd::Volume(volume)
                    }
                    Input::Quit => Cmd::Stop,
                    Input::Interrupt => {
                        exit = code::INTERRUPTED;
                        Cmd::Stop
                    }
                    // The terminal is gone, and whoever sat at it.
                    Input::Closed => Cmd::Halt,
                    // Digits answer the question after the session, not now.
                    Input::Digit(_) => continue,
                };
                if matches!(cmd, Cmd::Stop | Cmd::Halt) {
                    if stopping {
                        continue;
                    }
                    stopping = true;
                }
                let _ = player.commands.send(cmd);
            },
            recv(signals) -> sig => {
                let Ok(sig) = sig else {
                    // Signals could not be caught: their defaults apply.
                    signals = crossbeam_channel::never();
                    continue;
                };
                exit = crate::signals::exit_code(sig);
                if !stopping {
                    stopping = true;
                    // Ctrl-C is someone listening; the others end the
                    // process at once, with a fade but no words.
                    let cmd = if sig == crate::signals::SIGINT { Cmd::Stop } else { Cmd::Halt };
                    let _ = player.commands.send(cmd);
                }
            }
        }
    }
    player.join();
    // Where the person stands, and how tender it was: heard, with eyes closed.
    if lost.is_none() && speech_failed.is_none() && exit == code::OK {
        // Stopped with `q`: where the person stands is shown, nothing asked.
        let voice = engine.as_deref().filter(|_| !stopping).map(|engine| crate::afterwards::Voice {
            script: &script,
            engine,
            device: args.device.as_deref(),
            volume,
        });
        let keys = keyboard.as_ref().map(|_| &inputs);
        let mut print = |line: &str| display.say(out, line);
        let worked = &tracker.done_points;
        if let Err(Some(sig)) =
            crate::afterwards::run(voice.as_ref(), keys, &signals, &recorder, &config, worked, &mut print)
        {
            exit = crate::signals::exit_code(sig);
        }
    }
    let log_warning = recorder.finish();
    // The rounds still being made will never play: stop making them, and
    // give their speech programs a moment to be killed.
    crate::signals::stop();
    drop((grown, closing, failed));
    let _ = made_all.recv_timeout(std::time::Duration::from_secs(1));
    // Restore the terminal before the last words.
    drop(keyboard);
    drop(media);
    drop(input_tx);
    resume_others(others.take(), quiet, err);
    if let Some(w) = log_warning.filter(|_| !quiet) {
        let _ = writeln!(err, "warning: {w}");
    }
    if let Some(f) = speech_failed.or(rounds_failed) {
        return Err(f);
    }
    if let Some(why) = lost {
        return Err(Failure::new(code::NO_DEVICE, format!("the sound output stopped: {why}")).hint(
            "is the sound server (PulseAudio or PipeWire) still running? start it again, then play again; \
             `backease render` writes the session to a file instead",
        ));
    }
    display.say(out, if stopping { "Stopped." } else { "Session complete." });
    // Said after the session, not over its display.
    if let Some(e) = report.try_recv().ok().and_then(|r| r.cache_errors.into_iter().next()).filter(|_| !quiet) {
        cache_warning(&e, err);
    }
    Ok(exit)
}

/// `remind`: set (with --every or --between), --off, --fire, or the state.
fn remind(args: &crate::cli::RemindArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    use crate::remind::{DEFAULT_BETWEEN, DEFAULT_EVERY, Schedule};
    if args.off {
        return crate::remind::off(out);
    }
    if args.fire {
        let settings = crate::config::load(err)?.settings;
        return crate::remind::fire(&settings, out, err);
    }
    if args.every.is_none() && args.between.is_none() {
        return crate::remind::status(out);
    }
    let every = args.every.unwrap_or(DEFAULT_EVERY);
    crate::remind::set(Schedule { every, between: args.between.unwrap_or(DEFAULT_BETWEEN) }, out)
}

#[cfg(target_os = "linux")]
type Others = crate::pause_others::Paused;
#[cfg(not(target_os = "linux"))]
type Others = ();

/// Pauses the media players that are playing, if asked to; a problem is one
/// warning, and the session plays.
fn pause_others_for(asked: bool, quiet: bool, err: &mut dyn Write) -> Option<Others> {
    if !asked {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        let asked_at = std::time::Instant::now();
        let (paused, warning) = crate::pause_others::pause_playing();
        if crate::timing() {
            let n = paused.as_ref().map_or(0, |p| p.players().len());
            eprintln!("timing: {n} other players paused in {} ms", asked_at.elapsed().as_millis());
        }
        if let Some(w) = warning.filter(|_| !quiet) {
            let _ = writeln!(err, "warning: {w}");
        }
        paused
    }
    #[cfg(not(target_os = "linux"))]
    {
        if !quiet {
            let _ = writeln!(err, "warning: --pause-others works only on Linux (MPRIS on D-Bus)");
        }
        None
    }
}

fn resume_others(others: Option<Others>, quiet: bool, err: &mut dyn Write) {
    #[cfg(target_os = "linux")]
    if let Some(mut others) = others {
        let asked_at = std::time::Instant::now();
        let warning = others.resume();
        if crate::timing() {
            eprintln!("timing: other players resumed in {} ms", asked_at.elapsed().as_millis());
        }
        if let Some(w) = warning.filter(|_| !quiet) {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (others, quiet, err);
}

/// How long a render may take to stop after a signal before the process
/// ends regardless: far longer than stopping takes unless it is stuck.
const STUCK_AFTER_SIGNAL: std::time::Duration = std::time::Duration::from_secs(2);

fn render(
    routine: &OsStr,
    path: &Path,
    timing: &Timing,
    looped: bool,
    voice: &VoiceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    if looped {
        return Err(Failure::usage("render cannot --loop: an endless session has no end to write")
            .hint("write a number of rounds instead, e.g. --rounds 3"));
    }
    // Where the file goes is settled before any work.
    let output = crate::render::Output::open(path)?;
    let config = crate::config::load(err)?.settings;
    let prepared = prepare(routine, timing, &config, err)?;
    let frames = check_before_work(&prepared, timing, &config, err)?;
    let Prepared { loaded, script, options, .. } = prepared;
    // A WAV file counts its bytes in 32 bits: past 4 GiB (6 h 12 min of
    // session) it cannot be written, which is known now, not at the end.
    let most = crate::wav::max_frames(2);
    if output.is_wav() && frames > most {
        return Err(Failure::usage(format!(
            "this session lasts {}: a WAV file holds at most {} of it",
            duration::clock(timeline::to_duration(frames)),
            duration::clock(timeline::to_duration(most)),
        ))
        .hint("write it as -o NAME.flac (lossless, a third of the size) or -o NAME.opus (small)"));
    }
    let choices = choose(&script, voice, &config, true, err)?;
    let stop = Arc::new(AtomicBool::new(false));
    let signals = crate::signals::listen();
    let flag = stop.clone();
    std::thread::spawn(move || {
        if let Ok(sig) = signals.recv() {
            flag.store(true, Ordering::Relaxed);
            // The render stops at the next block it writes, and removes
            // what it began. A write that never returns (a pipe or FIFO
            // whose reader stopped reading) cannot see the flag: past a
            // moment, the process ends here instead. A stream has no
            // temporary file to remove.
            std::thread::sleep(STUCK_AFTER_SIGNAL);
            // Said from a thread of its own: stderr may be the stuck pipe.
            std::thread::spawn(move || {
                eprintln!(
                    "backease: error: stopped by {}; the output took nothing more, so the process ends here",
                    crate::signals::name(sig)
                );
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::process::exit(crate::signals::exit_code(sig).into());
        }
    });
    let segment = Arc::new(make_segment(&loaded, (&script, &options), None, &choices, false, err)?);
    let total = segment.timeline.duration();
    let mut progress = Progress::new("rendering");
    let to_stdout = output.is_stdout();
    let written = output.write(
        segment,
        &script.title,
        choices.volume,
        &stop,
        &mut |done, total| progress.update(done, total, &|n| duration::clock(timeline::to_duration(n))),
        out,
    );
    progress.finish();
    // Stopped by a signal: the shell's code for it (143 for SIGTERM).
    let written = written.map_err(|mut f| {
        if let (code::INTERRUPTED, Some(sig)) = (f.code, crate::signals::received()) {
            f.code = crate::signals::exit_code(sig);
        }
        f
    })?;
    let size = match written.bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{} kB", b.div_ceil(1000)),
    };
    let shown = if to_stdout { "standard output".to_string() } else { path.display().to_string() };
    let chapters = match written.chapters {
        0 => String::new(),
        1 => ", 1 chapter".to_string(),
        n => format!(", {n} chapters"),
    };
    let done = format!("wrote {shown} ({}, {size}{chapters})\n", duration::clock(total));
    // With the WAV on standard output, the words go with the progress.
    if to_stdout {
        let _ = err.write_all(done.as_bytes());
    } else {
        write_out(out, &done)?;
    }
    Ok(code::OK)
}

fn devices(out: &mut dyn Write) -> Result<u8, Failure> {
    let list = crate::output::list_outputs().map_err(|e| {
        Failure::new(code::NO_DEVICE, format!("cannot list audio outputs: {e}"))
            .hint("is a sound server (PulseAudio or PipeWire) running?")
    })?;
    if list.is_empty() {
        return Err(Failure::new(code::NO_DEVICE, "no audio output device found")
            .hint("start a sound server or plug in an output; `backease render` writes a file instead"));
    }
    let mut text = String::from("Audio outputs (use with --device NAME):\n");
    for o in list {
        let mark = if o.default { " (default)" } else { "" };
        text += &format!("  {:<20} {}{mark}\n", o.name, o.description);
    }
    write_out(out, &text)?;
    Ok(code::OK)
}

fn voices(engine: Option<EngineKind>, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let config = crate::config::load(err)?.settings;
    let kind = engine.or(config.engine).unwrap_or_default();
    if kind == EngineKind::System {
        let list = crate::speech::system::voices().map_err(|e| {
            Failure::new(code::SPEECH, format!("the system voice is not available: {e}"))
                .hint("is speech-dispatcher installed? sudo apt-get install speech-dispatcher")
        })?;
        let mut text = format!("Speech engine: the system voice\n{} voices (use with --voice NAME):\n", list.len());
        for (name, lang) in list {
            text += &format!("  {name:<24} {lang}\n");
        }
        write_out(out, &text)?;
        return Ok(code::OK);
    }
    let chosen = crate::speech::pick::engine(kind, &VoiceSettings::default(), config.command.as_deref())
        .map_err(speech_failure)?;
    let mut text = format!("Speech engine: {}\n", chosen.description);
    match chosen.kind {
        EngineKind::Piper => {
            let installation = crate::speech::piper::Installation::find().expect("found when the engine was made");
            let list = crate::speech::piper::voices(&installation);
            text += &format!("{} Piper voices (use with --voice NAME, or NAME:SPEAKER):\n", list.len());
            for v in list {
                let origin = if v.bundled { "bundled" } else { "yours" };
                let speakers = match v.speakers.len() {
                    0 | 1 => String::new(),
                    n => format!(", {n} speakers: {}", v.speakers.join(" ")),
                };
                text += &format!("  {:<24} {} ({origin}{speakers})\n", v.name, v.language);
            }
            let dir = crate::speech::piper::user_voices_dir()
                .map_or_else(|| "~/.local/share/backease/voices".into(), |d| d.display().to_string());
            text += &format!("Add a voice: put MODEL.onnx and MODEL.onnx.json into {dir}\n");
        }
        EngineKind::Espeak => {
            let list = crate::speech::espeak::voices().map_err(speech_failure)?;
            text += &format!("{} voices (use with --voice NAME):\n", list.len());
            for (name, about) in list {
                text += &format!("  {name:<14} {about}\n");
            }
        }
        EngineKind::Flite => {
            text += &format!("{} voices (use with --voice NAME):\n", crate::speech::flite::VOICES.len());
            for (name, about) in crate::speech::flite::VOICES {
                text += &format!("  {name:<14} {about}\n");
            }
        }
        _ => text += "The command engine's voice is chosen in its command.\n",
    }
    write_out(out, &text)?;
    Ok(code::OK)
}

fn show_config(out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    use crate::practice::{DEFAULT_DAY_STARTS, DEFAULT_GOAL};
    let loaded = crate::config::load(err)?;
    let s = &loaded.settings;
    let place = match (&loaded.path, loaded.exists) {
        (Some(p), true) => format!("{}", p.display()),
        (Some(p), false) => format!("{} (not there yet: the defaults apply)", p.display()),
        (None, _) => "(no config folder on this system)".into(),
    };
    let or = |v: Option<String>, default: &str| v.unwrap_or_else(|| format!("{default} (default)"));
    let text = format!(
        "Settings file: {place}\n\
         engine   {}\n\
         voice    {}\n\
         rate     {}\n\
         pitch    {}\n\
         volume   {}\n\
         hold     {}\n\
         chime    {}\n\
         command  {}\n\
         pan      {}\n\
         daily_goal  {}\n\
         day_starts  {}\n\
         pause_others  {}\n\
         Command-line options override these; these override a script's own defaults.\n",
        or(s.engine.map(|e| e.name().to_string()), "auto"),
        or(s.voice.clone(), "the engine's own"),
        or(s.rate.map(|r| format!("{r} words per minute")), "the engine's own"),
        or(s.pitch.map(|p| p.to_string()), "the engine's own"),
        or(s.volume.map(|v| format!("{v:.1}")), "1.0"),
        or(s.hold.map(duration::short), "the routine's own"),
        or(s.chime.map(|c| c.name().to_string()), "bell"),
        or(s.command.clone(), "none"),
        or(s.pan.map(|p| p.to_string()), "true: the cues of Sides from their side"),
        or(
            s.daily_goal.map(|g| format!("{g} sessions a day per point")),
            &format!("{DEFAULT_GOAL} sessions a day per point")
        ),
        or(s.day_starts.map(|h| format!("{h:02}:00")), &format!("{DEFAULT_DAY_STARTS:02}:00")),
        or(s.pause_others.map(|p| p.to_string()), "false"),
    );
    write_out(out, &text)?;
    Ok(code::OK)
}
