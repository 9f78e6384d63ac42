//! The commands that tell what this system offers and how backease is set:
//! `devices` (the audio outputs) and `config` (the settings file, each
//! setting with its default). `voices` has a file of its own.
//!
//! They read; they change nothing.

use std::io::Write;

use crate::cli::{write_json, write_out};
use crate::config::EngineKind;
use crate::error::{Failure, code};
use crate::script::diagnostic::escape_controls;
use crate::script::duration;

pub(super) fn devices(json: bool, out: &mut dyn Write) -> Result<u8, Failure> {
    let list = crate::play::output::list_outputs().map_err(|e| {
        Failure::new(code::NO_DEVICE, format!("cannot list audio outputs: {e}"))
            .hint("is a sound server (PulseAudio or PipeWire) running?")
    })?;
    if list.is_empty() {
        return Err(Failure::new(code::NO_DEVICE, "no audio output device found")
            .hint("start a sound server or plug in an output; `backease render` writes a file instead"));
    }
    if json {
        write_json(out, &list)?;
        return Ok(code::OK);
    }
    let mut text = String::from("Audio outputs (use with --device NAME):\n");
    for o in list {
        let mark = if o.default { " (default)" } else { "" };
        // Names the sound server gives: outside text.
        let (name, description) = (escape_controls(&o.name), escape_controls(&o.description));
        text += &format!("  {name:<20} {description}{mark}\n");
    }
    write_out(out, &text)?;
    Ok(code::OK)
}

pub(super) fn show_config(json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    use crate::day::practice::{DEFAULT_DAY_STARTS, DEFAULT_GOAL};
    let loaded = crate::config::load(err)?;
    if json {
        write_json(out, &ConfigJson::from(&loaded))?;
        return Ok(code::OK);
    }
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
         words_after  {}\n\
         log      {}\n\
         hold_reminder  {}\n\
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
        or(s.words_after.map(|w| w.to_string()), "true: where you stand, and how tender it was"),
        or(s.log.map(|l| l.to_string()), "true: every session is recorded"),
        or(
            s.hold_reminder.map(|r| if r.is_zero() { "false: never".to_string() } else { duration::short(r) }),
            "1m: a hold over two minutes says the time left each minute"
        ),
    );
    write_out(out, &text)?;
    Ok(code::OK)
}

/// `config --json`: where the file is, each setting as the file sets it
/// (null: not set, the default applies), and the defaults that are fixed
/// values (the voice, rate, pitch, hold and command have none: the engine
/// or the routine decides).
#[derive(serde::Serialize)]
struct ConfigJson {
    path: Option<String>,
    exists: bool,
    settings: SettingsJson,
    defaults: SettingsJson,
}

#[derive(Default, serde::Serialize)]
struct SettingsJson {
    engine: Option<&'static str>,
    voice: Option<String>,
    rate: Option<u32>,
    pitch: Option<u32>,
    volume: Option<f32>,
    hold_ms: Option<u128>,
    chime: Option<&'static str>,
    command: Option<String>,
    pan: Option<bool>,
    daily_goal: Option<u32>,
    day_starts: Option<u32>,
    pause_others: Option<bool>,
}

impl From<&crate::config::Loaded> for ConfigJson {
    fn from(loaded: &crate::config::Loaded) -> Self {
        let s = &loaded.settings;
        let settings = SettingsJson {
            engine: s.engine.map(|e| e.name()),
            voice: s.voice.clone(),
            rate: s.rate,
            pitch: s.pitch,
            volume: s.volume,
            hold_ms: s.hold.map(|h| h.as_millis()),
            chime: s.chime.map(|c| c.name()),
            command: s.command.clone(),
            pan: s.pan,
            daily_goal: s.daily_goal,
            day_starts: s.day_starts,
            pause_others: s.pause_others,
        };
        let defaults = SettingsJson {
            engine: Some(EngineKind::default().name()),
            volume: Some(1.0),
            chime: Some(crate::script::Chime::Bell.name()),
            pan: Some(true),
            daily_goal: Some(crate::day::practice::DEFAULT_GOAL),
            day_starts: Some(crate::day::practice::DEFAULT_DAY_STARTS),
            pause_others: Some(false),
            ..SettingsJson::default()
        };
        ConfigJson {
            path: loaded.path.as_ref().map(|p| p.display().to_string()),
            exists: loaded.exists,
            settings,
            defaults,
        }
    }
}
