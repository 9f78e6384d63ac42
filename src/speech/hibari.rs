//! The voice best understood: hibari's `heart` (American English, female),
//! a small model distilled from Kokoro-82M, run by the `hibari-tts` Python
//! package in one resident process per session, as Piper is
//! ([`super::resident`]; the program is `hibari_worker.py`, embedded).
//!
//! Its model and its pronunciation front end are inside the package, which
//! lives in the same virtual environment as Piper (`backease setup` installs
//! both, pinned): no espeak-ng. Only `heart` is offered, the voice the
//! package holds; hibari fetches its other voices from the network at run
//! time, which backease never does. The version is pinned here too
//! ([`VERSION`]): the pace, the silences and the cache key are measured on
//! it, and another is refused with a clear error rather than spoken
//! differently.
//!
//! hibari's sound has a random part: every cue is made with one fixed seed
//! ([`SEED`]), so a cue made again is the same sound, sample for sample,
//! and the cache holds what the engine would make. The worker cuts the
//! silence hibari puts around each sentence (0.3 s before, 0.46 s after)
//! and joins sentences with backease's own gap.

use std::path::PathBuf;

use super::piper::{CALM_WPM, Installation, file_identity};
use super::resident::{Program, Resident};
use super::{Engine, SpeechError, VoiceSettings};

/// The `hibari-tts` release backease speaks with.
pub const VERSION: &str = "0.2.1";

/// The one voice offered: the one inside the package.
pub const VOICE: &str = "heart";

/// Its language, as `backease voices` shows it.
pub const LANGUAGE: &str = "en-US";

/// The worker program, run with `python3 -I -c` (see [`Resident`]).
const WORKER: &str = concat!(include_str!("worker_serve.py"), include_str!("hibari_worker.py"));

/// The seed of hibari's random part, the same for every cue.
pub const SEED: u64 = 0;

/// Words per minute of `heart` at some of hibari's speeds (0.5 to 2.0),
/// measured on the built-in routines' 70 distinct cues (1 022 words) with
/// the silences trimmed and joined as the worker does; `--rate` is turned
/// into a speed between them. The pace is not proportional to the speed
/// (the pauses at commas scale less than the words), so it is measured,
/// not computed: 0.76 gives the calm 155.
const PACE: [(f32, f32); 9] = [
    (0.5, 106.4),
    (0.63, 129.8),
    (0.72, 150.9),
    (0.76, 155.0),
    (0.78, 156.8),
    (0.85, 188.4),
    (1.0, 207.7),
    (1.4, 304.8),
    (2.0, 348.6),
];

/// Silence between the sentences of one cue (Piper's).
const SENTENCE_SILENCE: f32 = 0.35;

/// Where hibari is: the Python of Piper's environment, and the model the
/// package holds.
#[derive(Debug, Clone)]
pub struct Installed {
    python: PathBuf,
    model: PathBuf,
}

/// hibari as installed, or why it cannot speak: not installed, or another
/// version than [`VERSION`].
pub fn find() -> Result<Installed, SpeechError> {
    let not_installed = || SpeechError {
        message: "the hibari voice is not installed".into(),
        hint: Some("run: backease setup (it installs hibari and Piper for backease)".into()),
    };
    let installation = Installation::find().ok_or_else(not_installed)?;
    for packages in installation.site_packages() {
        let model = packages.join("hibari").join("assets").join("hibari.onnx");
        if !model.is_file() {
            continue;
        }
        if !packages.join(format!("hibari_tts-{VERSION}.dist-info")).is_dir() {
            return Err(SpeechError {
                message: format!("the hibari installed is not version {VERSION}, the one backease speaks with"),
                hint: Some(format!("run: backease setup (it installs hibari-tts=={VERSION})")),
            });
        }
        return Ok(Installed { python: installation.python, model });
    }
    Err(not_installed())
}

/// The hibari engine: the voice `heart` at one pace.
pub struct Hibari {
    speed: f32,
    identity: String,
    resident: Resident,
}

impl Hibari {
    pub fn new(settings: &VoiceSettings) -> Result<Hibari, SpeechError> {
        if let Some(wanted) = settings.voice.as_deref().filter(|v| *v != VOICE) {
            return Err(SpeechError {
                message: format!("hibari has no voice \"{}\"", crate::script::diagnostic::escape_controls(wanted)),
                hint: Some(format!("its voice is {VOICE}; `backease voices` lists the others engines have")),
            });
        }
        let installed = find()?;
        let identity = file_identity(&installed.model)?;
        let wpm = settings.rate.unwrap_or(CALM_WPM).clamp(60, 400) as f32;
        let resident = Resident::new(Program {
            python: installed.python,
            source: WORKER,
            args: vec![VERSION.into()],
            engine: "hibari",
            voice: VOICE.into(),
        });
        Ok(Hibari { speed: speed_for(wpm), identity, resident })
    }
}

/// hibari's speed for a pace in words per minute: between the measured
/// points of [`PACE`], and its slowest or fastest beyond them.
fn speed_for(wpm: f32) -> f32 {
    let (first, last) = (PACE[0], PACE[PACE.len() - 1]);
    if wpm <= first.1 {
        return first.0;
    }
    PACE.windows(2)
        .find(|w| wpm <= w[1].1)
        .map_or(last.0, |w| w[0].0 + (w[1].0 - w[0].0) * (wpm - w[0].1) / (w[1].1 - w[0].1))
}

impl Engine for Hibari {
    fn key(&self) -> String {
        format!(
            "hibari {VERSION} {VOICE}:{} seed {SEED} speed {:.3} silence {SENTENCE_SILENCE} worker {:016x}",
            self.identity,
            self.speed,
            // The worker trims the sound: another trim is another sound.
            super::fingerprint(WORKER.as_bytes())
        )
    }

    /// Starts the worker, which loads the model and the pronunciation
    /// front end meanwhile.
    fn warm_up(&self) {
        self.resident.warm_up();
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        let request = serde_json::json!({
            "text": text,
            "speed": self.speed,
            "seed": SEED,
            "sentence_silence": SENTENCE_SILENCE,
        });
        self.resident.speak(&request, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pace_is_the_speed_measured_for_it_and_stays_in_hibaris_range() {
        assert_eq!(speed_for(CALM_WPM as f32), 0.76);
        assert!((speed_for(170.0) - (0.78 + 0.07 * (170.0 - 156.8) / (188.4 - 156.8))).abs() < 1e-6);
        assert_eq!(speed_for(60.0), 0.5);
        assert_eq!(speed_for(400.0), 2.0);
        // Faster asked, faster spoken.
        let speeds: Vec<f32> = (60..400).step_by(10).map(|w| speed_for(w as f32)).collect();
        assert!(speeds.windows(2).all(|w| w[0] <= w[1]), "{speeds:?}");
    }

    #[test]
    fn only_the_voice_in_the_package_is_offered() {
        let settings = VoiceSettings { voice: Some("emma".into()), ..Default::default() };
        let err = Hibari::new(&settings).err().expect("emma is downloaded at run time: refused");
        assert_eq!(err.message, "hibari has no voice \"emma\"");
    }
}
