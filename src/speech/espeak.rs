//! The default engine: the `espeak-ng` program, writing WAV to stdout.
//!
//! A program rather than the library: no unsafe FFI, no build-time C
//! dependency, and a hung or crashed synthesizer is a process we can time
//! out and kill rather than a thread we cannot. The cost, a process start
//! per cue, is paid once: the cache keeps the result.

use std::process::Command;

use super::{Engine, SpeechError, VoiceSettings};

/// The `-s` that makes espeak-ng speak at about [`super::piper::CALM_WPM`].
const CALM_RATE: u32 = 140;

pub struct Espeak {
    program: String,
    settings: VoiceSettings,
    version: String,
}

impl Espeak {
    /// Finds the program. `BACKEASE_ESPEAK` names another program to run
    /// instead (for a non-standard install). The program is not run here:
    /// its size and modification time stand in for its version in cache
    /// keys, which keeps `show` fast.
    pub fn new(settings: VoiceSettings) -> Result<Espeak, SpeechError> {
        let program = program();
        let path = find_program(&program).ok_or_else(|| SpeechError {
            message: format!("the speech engine `{program}` is not installed"),
            hint: Some("install it: sudo apt-get install espeak-ng".into()),
        })?;
        let meta = std::fs::metadata(&path).map_err(|e| SpeechError::new(format!("{}: {e}", path.display())))?;
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
        let version = format!("{}:{}:{}", path.display(), meta.len(), mtime.as_secs());
        Ok(Espeak { program: path.display().to_string(), settings, version })
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--stdout".to_string()];
        if let Some(v) = &self.settings.voice {
            args.extend(["-v".into(), v.clone()]);
        }
        // Unless told otherwise, a calm pace: espeak-ng's own 175 comes out
        // near 190 words a minute of cue; 140 gives about 155.
        args.extend(["-s".into(), self.settings.rate.unwrap_or(CALM_RATE).to_string()]);
        if let Some(p) = self.settings.pitch {
            args.extend(["-p".into(), p.to_string()]);
        }
        args
    }
}

impl Engine for Espeak {
    fn key(&self) -> String {
        format!("espeak-ng {} {:?}", self.version, self.args())
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        // Text goes on stdin, so a cue that starts with "-" is not an option.
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args());
        let (status, bytes, errors) = super::run_program(&mut cmd, &self.program, text)?;
        if !status.success() {
            let detail = errors.lines().next().unwrap_or("no message").to_string();
            return Err(SpeechError {
                message: format!("`{}` failed ({status}): {detail}", self.program),
                hint: self
                    .settings
                    .voice
                    .as_ref()
                    .map(|v| format!("is \"{v}\" a voice it has? `backease voices` lists them")),
            });
        }
        let pcm = crate::audio::wav::parse(&bytes)
            .map_err(|e| SpeechError::new(format!("`{}` gave unreadable audio: {e}", self.program)))?;
        if pcm.samples.is_empty() {
            return Err(SpeechError::new(format!("`{}` produced no sound for \"{text}\"", self.program)));
        }
        Ok(super::to_session_rate(&pcm))
    }
}

/// The program to run: `espeak-ng`, or what `BACKEASE_ESPEAK` names.
fn program() -> String {
    std::env::var("BACKEASE_ESPEAK").unwrap_or_else(|_| "espeak-ng".into())
}

/// The full path of a program, searching `PATH` for a bare name.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(name);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|c| c.is_file())
}

/// The voices espeak-ng has, `name` as --voice takes it. It is asked as
/// it is asked to speak, within a time limit and a cap on what it writes.
pub fn voices() -> Result<Vec<super::Listed>, SpeechError> {
    let program = program();
    let (_, stdout, _) = super::run_program(Command::new(&program).arg("--voices"), &program, "")?;
    // Columns: Pty Language Age/Gender VoiceName File Other; the gender is
    // the letter after the age ("--/M", or "M" alone).
    Ok(String::from_utf8_lossy(&stdout)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let gender = match cols.get(2)?.rsplit('/').next() {
                Some("M") => Some("male"),
                Some("F") => Some("female"),
                _ => None,
            };
            (cols.len() >= 4).then(|| super::Listed {
                name: cols[1].to_string(),
                language: cols[1].to_string(),
                gender,
                about: cols[3].replace('_', " "),
            })
        })
        .collect())
}
