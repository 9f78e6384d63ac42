//! A light engine with no Python: CMU's `flite` program (Debian's
//! `flite`), with its built-in voices `slt`, `rms`, `awb` and `kal16`.
//!
//! Like espeak-ng it is run once per cue, text on stdin, and timed out if
//! it hangs; it writes a WAV file to a temporary path (it cannot write a
//! WAV stream to a pipe), which is read and removed.

use std::process::Command;

use super::{Engine, SpeechError, VoiceSettings};

/// The voices compiled into Debian's flite, best first; `kal` (8 kHz) is
/// left out, `kal16` is the same voice at 16 kHz.
pub const VOICES: [(&str, &str); 4] = [
    ("slt", "US English, female"),
    ("rms", "US English, male"),
    ("awb", "Scottish English, male"),
    ("kal16", "US English, male, diphone"),
];

/// flite's pace at a duration stretch of 1, in words per minute (measured
/// on the built-in cues with `slt`).
const NATURAL_WPM: f32 = 189.0;

pub struct Flite {
    program: String,
    voice: String,
    stretch: f32,
    version: String,
}

impl Flite {
    pub fn new(settings: &VoiceSettings) -> Result<Flite, SpeechError> {
        let path = super::espeak::find_program("flite").ok_or_else(|| SpeechError {
            message: "the speech engine `flite` is not installed".into(),
            hint: Some("install it: sudo apt-get install flite".into()),
        })?;
        let voice = settings.voice.clone().unwrap_or_else(|| VOICES[0].0.into());
        if !VOICES.iter().any(|(v, _)| *v == voice) {
            let names: Vec<&str> = VOICES.iter().map(|(v, _)| *v).collect();
            return Err(SpeechError {
                message: format!("flite has no voice \"{voice}\""),
                hint: Some(format!("its voices: {}", names.join(", "))),
            });
        }
        let wpm = settings.rate.unwrap_or(super::piper::CALM_WPM).clamp(60, 400) as f32;
        let meta = std::fs::metadata(&path).map_err(|e| SpeechError::new(format!("{}: {e}", path.display())))?;
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
        let version = format!("{}:{}:{}", path.display(), meta.len(), mtime.as_secs());
        Ok(Flite { program: path.display().to_string(), voice, stretch: NATURAL_WPM / wpm, version })
    }
}

impl Engine for Flite {
    fn key(&self) -> String {
        format!("flite {} voice {} stretch {:.3}", self.version, self.voice, self.stretch)
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        let (_dir, out) = super::scratch_wav()?;
        let mut cmd = Command::new(&self.program);
        cmd.args(["-voice", &self.voice, "--setf"])
            .arg(format!("duration_stretch={:.3}", self.stretch))
            .args(["-f", "/dev/stdin", "-o"])
            .arg(&out);
        let (status, _, errors) = super::run_program(&mut cmd, "flite", text)?;
        let file = super::read_wav(&out);
        if !status.success() {
            let detail = errors.lines().next().unwrap_or("no message").to_string();
            return Err(SpeechError::new(format!("`flite` failed ({status}): {detail}")));
        }
        let bytes =
            file.map_err(|e| SpeechError::new(format!("`flite` wrote no sound: {}", crate::error::io_reason(&e))))?;
        let pcm = crate::audio::wav::parse(&bytes)
            .map_err(|e| SpeechError::new(format!("`flite` gave unreadable audio: {e}")))?;
        if pcm.samples.is_empty() {
            return Err(SpeechError::new(format!("`flite` produced no sound for \"{text}\"")));
        }
        Ok(super::to_session_rate(&pcm))
    }
}
