//! A resident synthesizer: one Python process per session that loads its
//! model once and then speaks one cue at a time over a pipe. Piper and
//! hibari both run so; each gives its own program (`piper_worker.py`,
//! `hibari_worker.py`, embedded) and builds its own requests, and this
//! module does the rest: starting the process isolated in a private
//! folder, waiting for its model, the protocol, time limits, a worker that
//! hangs or dies.
//!
//! The protocol: the worker says "ready RATE" once its model is loaded,
//! then answers each request (one JSON object a line on its stdin) with
//! "ok N" and N bytes of mono signed 16-bit little-endian samples, or
//! "error MESSAGE". It ends at the end of its stdin. This module knows
//! nothing of what a request holds.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::ENGINE_RATE;
use super::SpeechError;

/// How long loading a model may take: the first load reads the runtime and
/// a model from disk.
const LOAD_LIMIT: Duration = Duration::from_secs(60);
/// How often a wait for the worker asks whether backease is stopping.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// What a resident worker runs: which Python, which program, with what.
#[derive(Debug, Clone)]
pub struct Program {
    pub python: PathBuf,
    /// The Python source, run with `python3 -I -c`.
    pub source: &'static str,
    pub args: Vec<OsString>,
    /// The engine's name in messages: "Piper", "hibari".
    pub engine: &'static str,
    /// The voice's name in messages.
    pub voice: String,
}

/// A resident worker, started on first use (or by [`Resident::warm_up`]),
/// and started again once if it dies.
pub struct Resident {
    program: Program,
    /// The worker; `Err` once it has hung or died twice, so the cues
    /// queued behind it fail at once rather than each waiting again.
    worker: Mutex<Result<Option<Worker>, SpeechError>>,
}

impl Resident {
    pub fn new(program: Program) -> Resident {
        Resident { program, worker: Mutex::new(Ok(None)) }
    }

    /// Starts the worker, which loads its model meanwhile: the first cue
    /// then waits only for what is left of the load.
    pub fn warm_up(&self) {
        let mut state = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(slot @ None) = &mut *state {
            // A worker that cannot even start says why at the first cue.
            *slot = Worker::spawn(&self.program).ok();
        }
    }

    /// Speaks `text` by sending `request`; samples at [`ENGINE_RATE`].
    pub fn speak(&self, request: &serde_json::Value, text: &str) -> Result<Vec<i16>, SpeechError> {
        let mut state = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match &mut *state {
            Ok(slot) => slot,
            Err(e) => return Err(e.clone()),
        };
        let result = self.speak_on(slot, request, text);
        if let Err(e) = &result
            && slot.is_none()
        {
            *state = Err(e.clone());
        }
        result
    }

    /// Speaks one cue on the worker in `slot`, starting it if needed. A
    /// worker that died (killed, out of memory) is started again once; one
    /// that hangs is killed. Either way `slot` is left empty on failure.
    fn speak_on(
        &self,
        slot: &mut Option<Worker>,
        request: &serde_json::Value,
        text: &str,
    ) -> Result<Vec<i16>, SpeechError> {
        let engine = self.program.engine;
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(Worker::spawn(&self.program)?);
            }
            let worker = slot.as_mut().expect("started above");
            if let Err(e) = worker.wait_ready(&self.program) {
                *slot = None;
                return Err(e);
            }
            match worker.ask(request, text) {
                Ok(samples) => {
                    let pcm = crate::audio::wav::Pcm { rate: worker.rate, samples };
                    return Ok(if pcm.rate == ENGINE_RATE { pcm.samples } else { super::to_session_rate(&pcm) });
                }
                Err(Failed::Refused(e)) => {
                    return Err(SpeechError::new(format!("the {engine} voice could not speak \"{text}\": {e}")));
                }
                Err(Failed::Hung(limit)) => {
                    *slot = None;
                    return Err(SpeechError {
                        message: format!("the {engine} voice did not finish speaking within {} s", limit.as_secs()),
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
                        message: format!("the {engine} voice stopped: {why}"),
                        hint: Some("run backease setup to repair the installation, or use --engine espeak".into()),
                    });
                }
            }
        }
        unreachable!("the second attempt returns")
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
    /// Its working folder, private to it; removed once it is dropped.
    _home: tempfile::TempDir,
}

/// A path for a message: its control characters escaped.
pub(crate) fn shown_path(path: &Path) -> String {
    crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned()
}

impl Worker {
    /// Starts the process, which loads the model while the caller goes on;
    /// [`Worker::wait_ready`] waits for the load.
    ///
    /// Python is isolated (`-I`): `python3 -c` would put the working
    /// folder first on its module path, and a `json.py` wherever backease
    /// is started would run as the worker imports `json`. `-I` also leaves
    /// out `PYTHONPATH` and the user's site-packages; the virtual
    /// environment's own packages are still found. The working folder is a
    /// private one, so nothing the runtime opens by a relative name comes
    /// from the user's.
    fn spawn(program: &Program) -> Result<Worker, SpeechError> {
        let home = super::scratch_dir()?;
        let mut cmd = Command::new(&program.python);
        cmd.arg("-I").arg("-c").arg(program.source).args(&program.args).current_dir(home.path());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own process group: Ctrl-C in the terminal is backease's to
        // handle (it stops the worker), not a traceback from Python.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            SpeechError::new(format!(
                "cannot start the {} voice ({}): {}",
                program.engine,
                shown_path(&program.python),
                crate::error::io_reason(&e)
            ))
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = keep_tail(child.stderr.take().expect("piped"));
        let (tx, replies) = crossbeam_channel::unbounded();
        std::thread::spawn(move || read_replies(BufReader::new(stdout), &tx));
        Ok(Worker { child, stdin, replies, rate: 0, stderr, started: Instant::now(), _home: home })
    }

    /// Waits until the model is loaded (at once if it is).
    fn wait_ready(&mut self, program: &Program) -> Result<(), SpeechError> {
        if self.rate != 0 {
            return Ok(());
        }
        let (engine, voice) = (program.engine, &program.voice);
        let left = LOAD_LIMIT.saturating_sub(self.started.elapsed());
        match next_reply(&self.replies, left) {
            Ok(Reply::Ready(rate)) => {
                self.rate = rate;
                if crate::trace::timing() {
                    eprintln!("timing: {engine} voice {voice} loaded in {} ms", self.started.elapsed().as_millis());
                }
                Ok(())
            }
            Ok(Reply::Error(e)) => Err(SpeechError {
                message: format!("the {engine} voice {voice} could not be loaded: {e}"),
                hint: Some("is the model complete? run backease setup again, or pick another --voice".into()),
            }),
            Err(NoReply::Stopped) => Err(SpeechError::new("stopped")),
            Ok(Reply::Audio(_)) | Err(NoReply::Gone) => {
                // Give the stderr reader a moment to catch the last words.
                std::thread::sleep(Duration::from_millis(50));
                Err(SpeechError {
                    message: format!(
                        "the {engine} voice did not start: {}",
                        self.stderr_tail().unwrap_or_else(|| "no message".into())
                    ),
                    hint: Some(format!("run backease setup to install {engine}, or use --engine espeak")),
                })
            }
            Err(NoReply::Timeout) => {
                Err(SpeechError::new(format!("the {engine} voice took more than {} s to load", LOAD_LIMIT.as_secs())))
            }
        }
    }

    /// Sends one request and waits for its samples, within a limit that
    /// grows with the text.
    fn ask(&mut self, request: &serde_json::Value, text: &str) -> Result<Vec<i16>, Failed> {
        writeln!(self.stdin, "{request}").and_then(|_| self.stdin.flush()).map_err(|_| Failed::Died)?;
        let limit = Duration::from_secs(10) + Duration::from_millis(50 * text.len() as u64);
        match next_reply(&self.replies, limit) {
            Ok(Reply::Audio(samples)) => Ok(samples),
            Ok(Reply::Error(e)) => Err(Failed::Refused(e)),
            Ok(Reply::Ready(_)) | Err(NoReply::Gone) => Err(Failed::Died),
            Err(NoReply::Timeout) => Err(Failed::Hung(limit)),
            Err(NoReply::Stopped) => Err(Failed::Stopped),
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
        // Its own process group (see `spawn`): whatever it started goes too.
        super::kill_group(&mut self.child);
    }
}

/// The last lines the worker writes to its stderr, kept as they come on a
/// thread of their own, printable (see [`bounded_line`]).
fn keep_tail(pipe: std::process::ChildStderr) -> Arc<Mutex<Vec<String>>> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let tail = kept.clone();
    std::thread::spawn(move || {
        let mut r = BufReader::new(pipe);
        while let Some(line) = bounded_line(&mut r) {
            let mut lines = tail.lock().unwrap_or_else(|e| e.into_inner());
            lines.push(crate::script::diagnostic::escape_controls(&line).into_owned());
            if lines.len() > 20 {
                lines.remove(0);
            }
        }
    });
    kept
}

/// The longest line read from the worker; the rest of a longer one comes
/// as the next, so a process that writes without end cannot fill memory.
const MAX_LINE: u64 = 64 * 1024;

/// The next line `r` gives, without its newline, of at most [`MAX_LINE`]
/// bytes; `None` at its end.
fn bounded_line(r: impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    match r.take(MAX_LINE).read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned()),
    }
}

/// Reads "ready RATE", "ok N" + N bytes and "error MESSAGE" lines until
/// the worker's stdout closes. A message is made printable: Python's words
/// may quote what a downloaded model or config holds.
fn read_replies(mut r: impl BufRead, tx: &crossbeam_channel::Sender<Reply>) {
    while let Some(line) = bounded_line(&mut r) {
        let (word, rest) = line.trim_end().split_once(' ').unwrap_or((line.trim_end(), ""));
        let reply = match word {
            "ready" => match rest.parse() {
                // A model's config saying 0 Hz is a broken voice.
                Ok(rate) if crate::audio::resample::RATES.contains(&rate) => Reply::Ready(rate),
                _ => Reply::Error(format!(
                    "its sample rate is {} Hz, which no voice has",
                    crate::script::diagnostic::escape_controls(rest)
                )),
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
            "error" => Reply::Error(crate::script::diagnostic::escape_controls(rest).into_owned()),
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
}
