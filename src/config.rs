//! The user's settings file: defaults for the voice, the engine, the volume,
//! the hold and the chime, so they need not be typed on every run.
//!
//! It is RON like the scripts (`~/.config/backease/config.ron` on Linux),
//! read by the same reader, so a mistake in it is reported the same way:
//! `file:line:column`, the line, a caret. Settings here act as if given on
//! the command line, so they override a script's own defaults; flags that
//! are given override them in turn.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Failure;
use crate::script::diagnostic::Diagnostic;
use crate::script::syntax::{self, Value};
use crate::script::{Chime, Lower, MAX_HOLD};

/// Which speech engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// The best one this machine has: hibari, else Piper, else espeak-ng,
    /// else flite, else the command engine if a command is set, else (when
    /// playing) the system voice.
    #[default]
    Auto,
    /// hibari's voice heart, the one best understood (installed by
    /// `backease setup`).
    Hibari,
    /// Piper, a natural neural voice (installed by `backease setup`).
    Piper,
    /// espeak-ng.
    Espeak,
    /// flite, a light voice with no Python.
    Flite,
    /// A program of your choice that writes WAV (see --command).
    Command,
    /// The system's speech service (speech-dispatcher on Linux): live
    /// only, so `render` cannot use it.
    System,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Auto => "auto",
            EngineKind::Hibari => "hibari",
            EngineKind::Piper => "piper",
            EngineKind::Espeak => "espeak",
            EngineKind::Flite => "flite",
            EngineKind::Command => "command",
            EngineKind::System => "system",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub engine: Option<EngineKind>,
    pub voice: Option<String>,
    pub rate: Option<u32>,
    pub pitch: Option<u32>,
    pub volume: Option<f32>,
    pub hold: Option<Duration>,
    /// Played in place of `bell`, the chime that ends each hold.
    pub chime: Option<Chime>,
    /// The command engine's template.
    pub command: Option<String>,
    /// `false`: the cues of `Sides` from the middle too, not from their side.
    pub pan: Option<bool>,
    /// `true`: media players playing on the session bus are paused for the
    /// session (`play --pause-others`).
    pub pause_others: Option<bool>,
    /// Sessions a day per point that meet the day's goal (the practice log).
    pub daily_goal: Option<u32>,
    /// The hour (0–23, local time) a "day" of the practice log begins.
    pub day_starts: Option<u32>,
    /// `false`: a session ends at its gong, without the words after it
    /// (where you stand, how tender it was): `play --no-words-after`.
    pub words_after: Option<bool>,
    /// `false`: sessions are not recorded in the practice log (`play --no-log`).
    pub log: Option<bool>,
    /// How often a long hold says the time left; zero (`false`) for never.
    pub hold_reminder: Option<Duration>,
}

const FIELDS: [&str; 15] = [
    "engine",
    "voice",
    "rate",
    "pitch",
    "volume",
    "hold",
    "chime",
    "command",
    "pan",
    "pause_others",
    "daily_goal",
    "day_starts",
    "words_after",
    "log",
    "hold_reminder",
];

/// The settings file is read only up to this size: a few lines of text,
/// never megabytes.
pub const MAX_BYTES: u64 = 1024 * 1024;

pub fn path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("backease").join("config.ron"))
}

/// The config file as loaded: its path, its text, and the settings.
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub exists: bool,
    pub settings: Settings,
}

/// Reads the config file, if there is one. Its problems are printed to
/// `err`, and make a failure with exit code 1.
pub fn load(err: &mut dyn std::io::Write) -> Result<Loaded, Failure> {
    let Some(path) = path() else { return Ok(Loaded { path: None, exists: false, settings: Settings::default() }) };
    let bytes = match crate::fsutil::read_regular(&path, MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded { path: Some(path), exists: false, settings: Settings::default() });
        }
        Err(e) => {
            let display = crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned();
            let f = crate::error::io_failure(format!("cannot read the settings file {display}"), &e);
            return Err(if e.kind() == std::io::ErrorKind::NotADirectory {
                f.hint("is HOME (or XDG_CONFIG_HOME) set to your home folder?")
            } else {
                f.hint("make it a plain text file, or move it away to use the defaults")
            });
        }
    };
    let (text, decoding) = syntax::decode(bytes);
    let (settings, diagnostics) = if decoding.is_empty() { parse(&text) } else { (None, decoding) };
    let display = crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned();
    if !diagnostics.is_empty() {
        let _ = write!(err, "{}", crate::script::diagnostic::render(&display, &text, &diagnostics));
    }
    match settings {
        Some(settings) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok(Loaded { path: Some(path), exists: true, settings })
        }
        _ => Err(Failure::invalid(format!("{display} has errors"))
            .hint("fix the lines shown above, or move the file away to use the defaults")),
    }
}

/// Reads settings from text: `Config(voice: "en-gb", hold: "40s", …)`.
pub fn parse(text: &str) -> (Option<Settings>, Vec<Diagnostic>) {
    let (root, mut diagnostics) = syntax::parse(text);
    let mut lower = Lower::new(text);
    let settings = match &root.value {
        Value::Struct(name, fields) if name.as_ref().is_none_or(|n| n.name == "Config") => {
            Some(settings(&mut lower, fields))
        }
        Value::Tuple(name, items) if items.is_empty() && name.as_ref().is_none_or(|n| n.name == "Config") => {
            Some(Settings::default())
        }
        Value::Error => None,
        other => {
            let found = other.describe();
            let d = lower.error(root.span.start..root.span.start + 1, format!("expected `Config(…)`, found {found}"));
            d.help = Some("write Config(voice: \"en-gb\", hold: \"40s\")".into());
            None
        }
    };
    diagnostics.append(&mut lower.diags);
    diagnostics.sort_by_key(|d| d.span.start);
    (settings, diagnostics)
}

fn settings(lower: &mut Lower, fields: &[syntax::Field]) -> Settings {
    let f = lower.fields(fields, &FIELDS, "Config");
    let mut s = Settings::default();
    if let Some(n) = f.get("engine")
        && let Some(name) = lower.string(n, "the engine")
    {
        match <EngineKind as clap::ValueEnum>::from_str(&name, true) {
            Ok(kind) => s.engine = Some(kind),
            Err(_) => {
                let d = lower.error(n.span.clone(), format!("unknown engine \"{name}\""));
                d.help = Some(
                    "the engines are \"auto\", \"piper\", \"espeak\", \"flite\", \"command\" and \"system\"".into(),
                );
            }
        }
    }
    if let Some(n) = f.get("voice") {
        s.voice = lower.line(n, "the voice").filter(|v| !v.trim().is_empty());
    }
    if let Some(n) = f.get("rate") {
        s.rate = lower.count(n, "the speaking rate (words per minute)", 80..=450);
    }
    if let Some(n) = f.get("pitch") {
        s.pitch = lower.count(n, "the pitch", 0..=100);
    }
    if let Some(n) = f.get("volume") {
        s.volume = lower.volume(n);
    }
    if let Some(n) = f.get("hold") {
        s.hold = lower.duration(n, "the hold", MAX_HOLD);
    }
    if let Some(n) = f.get("chime") {
        s.chime = lower.chime(n);
    }
    if let Some(n) = f.get("command") {
        s.command = lower.line(n, "the command");
    }
    if let Some(n) = f.get("pan") {
        s.pan = boolean(lower, n, "pan", "pan: false plays the cues of Sides from the middle");
    }
    if let Some(n) = f.get("pause_others") {
        let help = "pause_others: true pauses the music players that are playing, for the session";
        s.pause_others = boolean(lower, n, "pause_others", help);
    }
    if let Some(n) = f.get("daily_goal") {
        s.daily_goal = lower.count(n, "the daily goal (sessions a day per point)", 1..=24);
    }
    if let Some(n) = f.get("day_starts") {
        s.day_starts = lower.count(n, "the hour the day starts", 0..=23);
    }
    if let Some(n) = f.get("words_after") {
        let help = "words_after: false ends a session at its gong, without where you stand and how tender it was";
        s.words_after = boolean(lower, n, "words_after", help);
    }
    if let Some(n) = f.get("log") {
        s.log = boolean(lower, n, "log", "log: false keeps sessions out of the practice log");
    }
    if let Some(n) = f.get("hold_reminder") {
        s.hold_reminder = hold_reminder(lower, n);
    }
    s
}

/// `hold_reminder: "2m"`, or `false` for none.
fn hold_reminder(lower: &mut Lower, n: &syntax::Node) -> Option<Duration> {
    const HELP: &str = "hold_reminder: \"2m\" says the time left every 2 minutes of a long hold; false, never";
    match n.value {
        Value::Bool(false) => return Some(Duration::ZERO),
        Value::Bool(true) => return Some(crate::script::HOLD_REMINDER),
        _ => {}
    }
    let every = lower.duration(n, "the hold reminder", MAX_HOLD)?;
    if every < MIN_HOLD_REMINDER {
        let d = lower.error(n.span.clone(), "the hold reminder is at least 30 seconds apart".to_string());
        d.help = Some(HELP.into());
        return None;
    }
    Some(every)
}

/// The shortest time between two reminders of the time left in a hold.
pub const MIN_HOLD_REMINDER: Duration = Duration::from_secs(30);

fn boolean(lower: &mut Lower, n: &syntax::Node, name: &str, help: &str) -> Option<bool> {
    match n.value {
        Value::Bool(b) => Some(b),
        Value::Error => None,
        _ => {
            let d = lower.error(n.span.clone(), format!("{name} is true or false"));
            d.help = Some(help.into());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: expect_test::Expect) {
        let (settings, diags) = parse(text);
        let mut out = format!("{settings:?}\n");
        for d in &diags {
            let at = crate::script::diagnostic::line_col(text, d.span.start);
            out += &format!("{}:{}: {}\n", at.line, at.column, d.message);
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn reads_every_setting() {
        check(
            r#"Config(engine: "espeak", voice: "en-gb", rate: 150, pitch: 40, volume: 0.8, hold: "40s", chime: "soft", command: "piper", pan: false, pause_others: true, daily_goal: 6, day_starts: 5, words_after: false, log: false, hold_reminder: "2m")"#,
            expect_test::expect![[r#"
                Some(Settings { engine: Some(Espeak), voice: Some("en-gb"), rate: Some(150), pitch: Some(40), volume: Some(0.8), hold: Some(40s), chime: Some(Soft), command: Some("piper"), pan: Some(false), pause_others: Some(true), daily_goal: Some(6), day_starts: Some(5), words_after: Some(false), log: Some(false), hold_reminder: Some(120s) })
            "#]],
        );
        check(
            "Config()",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: None, chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
            "#]],
        );
    }

    #[test]
    fn reports_mistakes_with_their_place() {
        check(
            "Config(\n  voise: \"en\",\n  hold: \"45\",\n  engine: \"festival\",\n  rate: 9000,\n)",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: None, chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
                2:3: Config has no field `voise`
                3:9: "45" has no unit; write "45s" for seconds
                4:11: unknown engine "festival"
                5:9: the speaking rate (words per minute) must be from 80 to 450, not 9000
            "#]],
        );
        check(
            "Config(daily_goal: 0, day_starts: 24)",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: None, chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
                1:20: the daily goal (sessions a day per point) must be from 1 to 24, not 0
                1:35: the hour the day starts must be from 0 to 23, not 24
            "#]],
        );
        check(
            "Config(pan: \"no\")",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: None, chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
                1:13: pan is true or false
            "#]],
        );
        check(
            "Config(\n  daily-goal: 6,\n  rate 150,\n  hold: \"1m30\",\n)",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: None, chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
                2:3: Config has no field `daily-goal`
                3:8: expected `:` after the key
                4:9: "1m30" ends without a unit; write "1m30s"
            "#]],
        );
        check(
            "Config(hold: \"40s\"",
            expect_test::expect![[r#"
                Some(Settings { engine: None, voice: None, rate: None, pitch: None, volume: None, hold: Some(40s), chime: None, command: None, pan: None, pause_others: None, daily_goal: None, day_starts: None, words_after: None, log: None, hold_reminder: None })
                1:1: `Config(` is never closed
            "#]],
        );
    }
}
