//! `voices`: every voice the engines on this machine offer, in one table —
//! its engine, language, gender where the engine says, whether it is
//! installed, and which one the settings file chose. Gathering the rows
//! ([`Listing`], plain data that could be serialized as it is) is apart
//! from choosing which are shown (the listener's language and English,
//! unless `--all`) and from laying them out.
//!
//! It reads; it changes nothing. Saying a voice aloud is `sample`'s.

use std::io::Write;

use crate::cli::write_out;
use crate::config::{EngineKind, Settings};
use crate::error::Failure;
use crate::script::diagnostic::escape_controls;
use crate::speech::VoiceSettings;

/// The engines whose voices are listed, in the order `auto` tries them
/// (the system voice, live only, last).
pub(super) const ENGINES: [EngineKind; 5] =
    [EngineKind::Hibari, EngineKind::Piper, EngineKind::Espeak, EngineKind::Flite, EngineKind::System];

/// One voice, as the table shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(super) struct Row {
    /// What `--voice` takes.
    pub name: String,
    #[serde(serialize_with = "engine_name")]
    pub engine: EngineKind,
    pub language: String,
    pub gender: Option<&'static str>,
    pub installed: bool,
    /// The voice the settings file chose.
    pub chosen: bool,
    /// A few words more: bundled or yours, its speakers, its full name.
    pub about: String,
}

/// Every voice found, and the engines that could not be asked (and why).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(super) struct Listing {
    pub rows: Vec<Row>,
    pub missing: Vec<Missing>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(super) struct Missing {
    #[serde(serialize_with = "engine_name")]
    pub engine: EngineKind,
    pub why: String,
    /// What to do about it.
    pub hint: Option<String>,
}

fn engine_name<S: serde::Serializer>(kind: &EngineKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name())
}

impl Row {
    /// Does `wanted`, as `--voice` takes it, name this voice? A Piper
    /// voice answers to a part of its name (`joe`) and `NAME:SPEAKER`.
    pub(super) fn answers_to(&self, wanted: &str) -> bool {
        match self.engine {
            EngineKind::Piper => {
                crate::speech::piper::is_called(&self.name, wanted.split(':').next().unwrap_or(wanted))
            }
            _ => self.name == wanted,
        }
    }
}

/// The voices of `engines`, each marked if the settings chose it.
pub(super) fn gather(engines: &[EngineKind], config: &Settings) -> Listing {
    let mut listing = Listing::default();
    for &kind in engines {
        match rows_of(kind) {
            Ok(rows) => listing.rows.extend(rows),
            Err(e) => listing.missing.push(Missing { engine: kind, why: e.message, hint: e.hint }),
        }
    }
    if let Some(i) = chosen(&listing.rows, config) {
        listing.rows[i].chosen = true;
    }
    listing
}

/// The row of the voice the settings choose: with `engine` set, that
/// engine's; with `auto`, the first engine `auto` would reach that has it.
pub(super) fn chosen(rows: &[Row], config: &Settings) -> Option<usize> {
    let wanted = config.voice.as_deref()?;
    let engine = config.engine.filter(|e| *e != EngineKind::Auto);
    rows.iter().position(|r| {
        r.answers_to(wanted) && engine.map_or(r.engine != EngineKind::System, |e| e == r.engine) && r.installed
    })
}

/// One engine's voices; `Err` says why it could not be asked.
fn rows_of(kind: EngineKind) -> Result<Vec<Row>, crate::speech::SpeechError> {
    let shown = |s: &str| escape_controls(s).into_owned();
    let row = |name: String, language: String, gender, installed, about: String| Row {
        name,
        engine: kind,
        language,
        gender,
        installed,
        chosen: false,
        about,
    };
    let listed = |l: crate::speech::Listed| row(shown(&l.name), shown(&l.language), l.gender, true, shown(&l.about));
    match kind {
        EngineKind::Hibari => Ok(vec![hibari_row()]),
        EngineKind::Piper => Ok(piper_rows()),
        EngineKind::Espeak => crate::speech::espeak::voices().map(|v| v.into_iter().map(listed).collect()),
        EngineKind::Flite => {
            let installed = crate::speech::espeak::find_program("flite").is_some();
            Ok(crate::speech::flite::VOICES
                .iter()
                .map(|(name, about)| {
                    let gender = ["female", "male"].into_iter().find(|g| about.split(", ").any(|w| w == *g));
                    row(name.to_string(), "en".into(), gender, installed, about.to_string())
                })
                .collect())
        }
        EngineKind::System => {
            crate::speech::system::voices().map(|v| v.into_iter().map(listed).collect()).map_err(|e| {
                crate::speech::SpeechError {
                    message: format!("the system voice is not available: {e}"),
                    hint: Some("is speech-dispatcher installed? sudo apt-get install speech-dispatcher".into()),
                }
            })
        }
        EngineKind::Auto | EngineKind::Command => Ok(Vec::new()),
    }
}

/// hibari's one voice that ships inside its package, installed or not.
fn hibari_row() -> Row {
    use crate::speech::hibari::{LANGUAGE, VERSION, VOICE};
    Row {
        name: VOICE.into(),
        engine: EngineKind::Hibari,
        language: LANGUAGE.into(),
        gender: Some("female"),
        installed: crate::speech::hibari::find().is_ok(),
        chosen: false,
        about: format!("hibari-tts {VERSION}, distilled from Kokoro-82M"),
    }
}

/// Piper's voices: the installation's and the user's own; without Piper,
/// the voice `backease setup` would install, as not installed.
fn piper_rows() -> Vec<Row> {
    use crate::speech::piper;
    let Some(installation) = piper::Installation::find() else {
        return vec![Row {
            name: "en_US-joe-medium".into(),
            engine: EngineKind::Piper,
            language: "en_US".into(),
            gender: None,
            installed: false,
            chosen: false,
            about: "Piper is not installed: backease setup installs it".into(),
        }];
    };
    piper::voices(&installation)
        .into_iter()
        .map(|v| {
            let origin = if v.bundled { "bundled" } else { "yours" };
            let speakers = match v.speakers.len() {
                0 | 1 => String::new(),
                n => format!(", {n} speakers: {}", v.speakers.join(" ")),
            };
            // A Piper voice's words are escaped where it is read.
            Row {
                name: v.name,
                engine: EngineKind::Piper,
                language: v.language,
                gender: None,
                installed: true,
                chosen: false,
                about: format!("{origin}{speakers}"),
            }
        })
        .collect()
}

/// The primary language of a tag or locale, lower case: `en` of `en-gb`,
/// `en_US.UTF-8` or `EN`.
fn primary(tag: &str) -> String {
    tag.split(['-', '_', '.', '@']).next().unwrap_or_default().to_ascii_lowercase()
}

/// The listener's language, from `LC_ALL` or `LANG` (`None` for the `C`
/// and `POSIX` locales, which name none).
pub(super) fn own_language() -> Option<String> {
    let locale = ["LC_ALL", "LANG"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))?;
    let lang = primary(&locale);
    (!lang.is_empty() && lang != "c" && lang != "posix").then_some(lang)
}

/// The rows to show, grouped by language (the listener's first, then
/// English, then the rest by name), and how many were left out: without
/// `all`, only the listener's language and English are shown.
pub(super) fn shown(rows: Vec<Row>, own: Option<&str>, all: bool) -> (Vec<Row>, usize) {
    let rank = |r: &Row| {
        let lang = primary(&r.language);
        let place = if Some(lang.as_str()) == own {
            0
        } else if lang == "en" {
            1
        } else {
            2
        };
        (place, lang)
    };
    let total = rows.len();
    let mut kept: Vec<Row> = rows.into_iter().filter(|r| all || rank(r).0 < 2).collect();
    // A stable sort: within a language, the engines stay in `auto`'s order.
    kept.sort_by_key(rank);
    let left = total - kept.len();
    (kept, left)
}

/// The table: a heading line per language, then its voices.
pub(super) fn table(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> usize, title: &str| rows.iter().map(f).max().unwrap_or(0).max(title.len());
    let name_w = width(|r| r.name.chars().count(), "NAME");
    let lang_w = width(|r| r.language.chars().count(), "LANGUAGE");
    let mut text = format!(
        "  {:<name_w$}  {:<7}  {:<lang_w$}  {:<7}  {:<9}  ABOUT\n",
        "NAME", "ENGINE", "LANGUAGE", "GENDER", "INSTALLED"
    );
    let mut group = None;
    for r in rows {
        let lang = primary(&r.language);
        if group.as_ref() != Some(&lang) {
            text += &format!("{lang}:\n");
            group = Some(lang);
        }
        let mark = if r.chosen { '*' } else { ' ' };
        let installed = if r.installed { "yes" } else { "no" };
        let line = format!(
            "{mark} {:<name_w$}  {:<7}  {:<lang_w$}  {:<7}  {installed:<9}  {}",
            r.name,
            r.engine.name(),
            r.language,
            r.gender.unwrap_or("-"),
            r.about
        );
        text += line.trim_end();
        text.push('\n');
    }
    text
}

/// Takes the system voice's rows out of `rows`, and says how many there were.
fn take_live(rows: &mut Vec<Row>) -> usize {
    let before = rows.len();
    rows.retain(|r| r.engine != EngineKind::System);
    before - rows.len()
}

/// `backease voices`: the table, what was left out, the engines that
/// could not be asked, and how to choose.
pub(super) fn list(
    engine: Option<EngineKind>,
    all: bool,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let loaded = crate::config::load(err)?;
    let engines: Vec<EngineKind> = match engine {
        None | Some(EngineKind::Auto) => ENGINES.to_vec(),
        Some(kind) => vec![kind],
    };
    let mut listing = gather(&engines, &loaded.settings);
    // The one engine asked for could not be: that is the answer.
    if let [_] = engines[..]
        && let Some(m) = listing.missing.pop()
    {
        let f = Failure::new(crate::error::code::SPEECH, escape_controls(&m.why));
        return Err(m.hint.into_iter().fold(f, Failure::hint));
    }
    if json {
        crate::cli::write_json(out, &listing)?;
        return Ok(crate::error::code::OK);
    }
    let own = own_language();
    let none_chosen = !listing.rows.iter().any(|r| r.chosen);
    let (mut rows, left) = shown(listing.rows, own.as_deref(), all);
    // Among every engine's, the system voice's hundreds of variants are
    // one line: they would bury the rest.
    let live = if engines.len() > 1 { take_live(&mut rows) } else { 0 };
    let mut text = format!("{} voices (use with --voice NAME; * is the one your settings chose)\n", rows.len());
    if !rows.is_empty() {
        text += &table(&rows);
    }
    if live > 0 {
        text += &format!("and {live} voices of the system voice (live only): --engine system lists them\n");
    }
    if left > 0 {
        let langs = own.map_or("English".to_string(), |l| format!("{l} and English"));
        text += &format!("{left} voices in other languages than {langs} left out: --all shows them\n");
    }
    for m in &listing.missing {
        let hint = m.hint.as_deref().map_or_else(String::new, |h| format!("; {h}"));
        text += &format!("not listed: {} ({}{})\n", m.engine.name(), escape_controls(&m.why), escape_controls(&hint));
    }
    if engine == Some(EngineKind::Command) {
        text += "The command engine's voice is chosen in its command.\n";
    }
    if matches!(engine, None | Some(EngineKind::Auto | EngineKind::Piper)) {
        let dir = crate::speech::piper::user_voices_dir().map_or_else(
            || "~/.local/share/backease/voices".into(),
            |d| escape_controls(&d.display().to_string()).into_owned(),
        );
        text += &format!("Add a Piper voice: put MODEL.onnx and MODEL.onnx.json into {dir}\n");
    }
    if none_chosen {
        text += &speaks_unchosen(&loaded.settings);
    }
    let config =
        loaded.path.map_or_else(|| "config.ron".into(), |p| escape_controls(&p.display().to_string()).into_owned());
    text += &format!("Choose by ear: backease voices --try NAME; keep it with voice: \"NAME\" in {config}\n");
    write_out(out, &text)?;
    Ok(crate::error::code::OK)
}

/// With no voice chosen, the one that speaks: what `play` would say on
/// its first line.
fn speaks_unchosen(config: &Settings) -> String {
    let settings = VoiceSettings { voice: None, rate: config.rate, pitch: config.pitch };
    let kind = config.engine.unwrap_or(EngineKind::Auto);
    match crate::speech::pick::engine(kind, &settings, config.command.as_deref()) {
        Ok(chosen) => format!("With no voice chosen, backease speaks with {}\n", escape_controls(&chosen.name)),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, engine: EngineKind, language: &str) -> Row {
        Row {
            name: name.into(),
            engine,
            language: language.into(),
            gender: None,
            installed: true,
            chosen: false,
            about: String::new(),
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            row("en_US-joe-medium", EngineKind::Piper, "en_US"),
            row("de", EngineKind::Espeak, "de"),
            row("en-gb", EngineKind::Espeak, "en-gb"),
            row("fr-fr", EngineKind::Espeak, "fr-fr"),
            row("en-gb", EngineKind::System, "en-GB"),
        ]
    }

    #[track_caller]
    fn check_shown(own: Option<&str>, all: bool, expect: &[&str], left: usize) {
        let (kept, n) = shown(rows(), own, all);
        let got: Vec<String> = kept.iter().map(|r| format!("{}/{}", r.engine.name(), r.name)).collect();
        assert_eq!(got, expect);
        assert_eq!(n, left);
    }

    #[test]
    fn the_listeners_language_and_english_are_shown_first_the_rest_with_all() {
        let english = ["piper/en_US-joe-medium", "espeak/en-gb", "system/en-gb"];
        check_shown(None, false, &english, 2);
        check_shown(Some("en"), false, &english, 2);
        check_shown(Some("de"), false, &["espeak/de", english[0], english[1], english[2]], 1);
        check_shown(Some("de"), true, &["espeak/de", english[0], english[1], english[2], "espeak/fr-fr"], 0);
    }

    #[track_caller]
    fn check_chosen(engine: Option<EngineKind>, voice: &str, expect: Option<&str>) {
        let config = Settings { engine, voice: Some(voice.into()), ..Settings::default() };
        let rows = rows();
        let got = chosen(&rows, &config).map(|i| format!("{}/{}", rows[i].engine.name(), rows[i].name));
        assert_eq!(got.as_deref(), expect);
    }

    #[test]
    fn the_chosen_voice_is_the_one_the_engine_would_take() {
        check_chosen(None, "joe", Some("piper/en_US-joe-medium"));
        check_chosen(None, "joe:0", Some("piper/en_US-joe-medium"));
        // auto goes past Piper to espeak-ng, and never to the system voice.
        check_chosen(Some(EngineKind::Auto), "en-gb", Some("espeak/en-gb"));
        check_chosen(Some(EngineKind::System), "en-gb", Some("system/en-gb"));
        check_chosen(Some(EngineKind::Flite), "en-gb", None);
        check_chosen(None, "nobody", None);
    }

    #[test]
    fn languages_are_grouped_by_their_primary_tag() {
        assert_eq!(primary("en_US.UTF-8"), "en");
        assert_eq!(primary("EN-gb"), "en");
        assert_eq!(primary("de"), "de");
        let text = table(&shown(rows(), Some("de"), false).0);
        let heads: Vec<&str> = text.lines().filter(|l| l.ends_with(':')).collect();
        assert_eq!(heads, ["de:", "en:"], "{text}");
    }
}
