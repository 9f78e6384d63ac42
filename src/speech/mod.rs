//! Speech: engines that turn cue text into samples, the on-disk cache that
//! makes a second run start at once, and synthesis of a whole session's
//! cues on worker threads.
//!
//! Every engine here renders to samples that backease mixes itself, so
//! speech shares one clock with chimes and silences and can be written to a
//! file. This module does not play anything.
//!
//! The rule of this layer: it may import `audio/` (resampling, loudness,
//! WAV), `script/` and the root, never `session/` or anything above. Every
//! engine that makes samples is a program of its own, run with a time limit.

pub mod command;
pub mod espeak;
pub mod fake;
pub mod flite;
pub mod hibari;
pub mod pick;
pub mod piper;
pub mod reading;
pub mod resident;
pub mod setup;
pub mod system;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The rate engines give speech at and the cache keeps it at (espeak-ng's
/// and Piper's own). A session keeps it so, and its stream brings each cue
/// to the session's rate as the cue starts to play.
pub const ENGINE_RATE: u32 = 22_050;

/// What changes how a voice sounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceSettings {
    pub voice: Option<String>,
    /// Words per minute.
    pub rate: Option<u32>,
    /// 0 to 100.
    pub pitch: Option<u32>,
}

/// A voice as an engine lists it, for `backease voices`: the name to pass
/// as `--voice`, its language, its gender where the engine says, and a few
/// words about it. The words come from a program or a service: they are
/// shown escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub language: String,
    pub gender: Option<&'static str>,
    pub about: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechError {
    pub message: String,
    pub hint: Option<String>,
}

impl SpeechError {
    pub fn new(message: impl Into<String>) -> Self {
        SpeechError { message: message.into(), hint: None }
    }
}

impl std::fmt::Display for SpeechError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpeechError {}

/// A text-to-speech engine that produces samples.
pub trait Engine: Send + Sync {
    /// Names the engine, its version and settings: everything that changes
    /// the sound. Cache entries are keyed by it.
    fn key(&self) -> String;
    /// Mono samples at [`ENGINE_RATE`].
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError>;
    /// Gets ready to speak without waiting: an engine with a model to load
    /// starts loading it, so the first cue is not held up by the load.
    fn warm_up(&self) {}
}

/// Runs a speech program with `text` on its stdin and waits for it, within
/// a time that grows with the text; a program that hangs is killed, and so
/// is one still running when a signal asks backease to stop, and one that
/// writes more than [`MAX_OUTPUT`] to its stdout or [`MAX_ERRORS`] to its
/// stderr. Returns its exit status, stdout and stderr.
///
/// The program runs in a process group of its own, and the whole group is
/// killed: a shell line's own children (`sh -c "sleep 9; tts ..."`) go
/// with it, rather than living on with our pipes open.
pub fn run_program(
    cmd: &mut std::process::Command,
    name: &str,
    text: &str,
) -> Result<(std::process::ExitStatus, Vec<u8>, String), SpeechError> {
    use std::io::Write as _;
    use std::process::Stdio;
    if crate::signals::stopping() {
        return Err(SpeechError::new("stopped"));
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SpeechError::new(format!("cannot run `{name}`: {}", crate::error::io_reason(&e))))?;
    let mut stdin = child.stdin.take().expect("piped");
    let text_owned = text.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text_owned.as_bytes());
    });
    let stdout = drain(child.stdout.take().expect("piped"), "standard output", MAX_OUTPUT);
    let stderr = drain(child.stderr.take().expect("piped"), "standard error", MAX_ERRORS);
    // Generous: speech engines work far faster than real time.
    let limit = std::time::Duration::from_secs(10) + std::time::Duration::from_millis(50 * text.len() as u64);
    let status = wait(&mut child, name, limit, [&stdout, &stderr]);
    // Anything it left running in its group would hold the pipes open.
    kill_group(&mut child);
    drop(writer);
    // Something it started outside its group (a daemon that called
    // setsid) may hold them open still: what the program itself wrote is
    // in them by now, so that is taken, and the rest is not waited for.
    let (status, stdout, stderr) = (status?, stdout.take(LINGER, name)?, stderr.take(LINGER, name)?);
    Ok((status, stdout, String::from_utf8_lossy(&stderr).into_owned()))
}

/// The most a speech program may write to its standard output: as much as
/// the WAV file it may write instead (see [`read_wav`]).
const MAX_OUTPUT: u64 = 256 * 1024 * 1024;
/// The most it may write to its standard error, which is for messages.
const MAX_ERRORS: u64 = 1024 * 1024;

/// Waits for a speech program started by [`run`] to end, within `limit`,
/// and stops waiting as soon as a signal comes or one of its `pipes`
/// overflows; the caller kills it.
fn wait(
    child: &mut std::process::Child,
    name: &str,
    limit: std::time::Duration,
    pipes: [&Drained; 2],
) -> Result<std::process::ExitStatus, SpeechError> {
    let start = std::time::Instant::now();
    loop {
        for pipe in pipes {
            pipe.check(name)?;
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if crate::signals::stopping() => return Err(SpeechError::new("stopped")),
            Ok(None) if start.elapsed() > limit => {
                return Err(SpeechError::new(format!("`{name}` did not finish speaking within {} s", limit.as_secs())));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(2)),
            Err(e) => return Err(SpeechError::new(format!("waiting for `{name}`: {e}"))),
        }
    }
}

/// How long, once a speech program has ended, its pipes may stay open.
const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// A pipe read to its end on a thread of its own, or until more than its
/// cap has come: then reading stops (the writer gets a broken pipe) and
/// the pipe counts as overflowed.
struct Drained {
    bytes: Arc<std::sync::Mutex<Vec<u8>>>,
    ended: crossbeam_channel::Receiver<()>,
    overflowed: Arc<std::sync::atomic::AtomicBool>,
    /// Which of the program's outputs it is, for messages.
    what: &'static str,
    cap: u64,
}

fn drain(mut pipe: impl std::io::Read + Send + 'static, what: &'static str, cap: u64) -> Drained {
    let bytes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let overflowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, ended) = crossbeam_channel::bounded(1);
    let (into, over) = (bytes.clone(), overflowed.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let mut bytes = into.lock().unwrap_or_else(|e| e.into_inner());
            if (bytes.len() + n) as u64 > cap {
                over.store(true, Ordering::Relaxed);
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(());
    });
    Drained { bytes, ended, overflowed, what, cap }
}

impl Drained {
    /// Fails once more than the cap has come.
    fn check(&self, name: &str) -> Result<(), SpeechError> {
        if !self.overflowed.load(Ordering::Relaxed) {
            return Ok(());
        }
        Err(SpeechError::new(format!(
            "`{name}` wrote more than {} to its {}",
            crate::fsutil::size_in_words(self.cap),
            self.what
        )))
    }

    /// What was read, once the pipe has ended or `linger` has passed.
    fn take(self, linger: std::time::Duration, name: &str) -> Result<Vec<u8>, SpeechError> {
        let _ = self.ended.recv_timeout(linger);
        self.check(name)?;
        Ok(std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

/// A private folder (mode 0700, a name nobody can guess), removed when
/// dropped: for what a speech program writes, or to run it in.
pub(crate) fn scratch_dir() -> Result<tempfile::TempDir, SpeechError> {
    tempfile::Builder::new().prefix("backease-").tempdir().map_err(|e| {
        SpeechError::new(format!(
            "cannot make a temporary folder in {}: {}",
            std::env::temp_dir().display(),
            crate::error::io_reason(&e)
        ))
    })
}

/// A [`scratch_dir`] for the WAV file a speech program writes, and the
/// file's path in it. A fixed name in /tmp could be a FIFO or a link
/// someone left there.
pub(crate) fn scratch_wav() -> Result<(tempfile::TempDir, PathBuf), SpeechError> {
    let dir = scratch_dir()?;
    let wav = dir.path().join("speech.wav");
    Ok((dir, wav))
}

/// The WAV file a speech program wrote: a regular file, of a size a cue
/// can have (ten minutes and more).
pub(crate) fn read_wav(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::fsutil::read_regular(path, MAX_OUTPUT)
}

/// Kills a speech program and everything it started in its process group,
/// and reaps it.
pub(crate) fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        let _ = killpg(nix::unistd::Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Synthesized speech, by text, at the engine's rate ([`ENGINE_RATE`]):
/// the stream brings each clip to the session's rate as it plays.
pub type SpeechClips = HashMap<String, crate::audio::resample::Clip>;

/// Cached speech on disk, one file per (engine key, text).
///
/// A file holds its key and text, the samples and a checksum; anything
/// that does not match — truncated, corrupt, a hash collision — is treated
/// as missing and made again.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
}

const MAGIC: &[u8; 8] = b"BKSPCH1\n";
/// The largest cache entry read: about 100 minutes of speech. Anything
/// larger (or not a regular file) counts as missing and is made again.
const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

impl Cache {
    /// The platform cache folder, e.g. `~/.cache/backease/speech`.
    pub fn default_location() -> Cache {
        Cache { dir: dirs::cache_dir().map(|d| d.join("backease").join("speech")) }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: Some(dir.into()) }
    }

    /// A cache that keeps nothing.
    pub fn none() -> Cache {
        Cache { dir: None }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn path(&self, key: &str, text: &str) -> Option<PathBuf> {
        let mut h = Fnv::new();
        h.write(key.as_bytes());
        h.write(&[0]);
        h.write(text.as_bytes());
        self.dir.as_ref().map(|d| d.join(format!("{:016x}.pcm", h.finish())))
    }

    /// An entry's samples, read straight into the clip that holds them
    /// (never into a buffer of the whole file first); `None` for anything
    /// that is not a whole, unchanged entry of this key and text.
    pub fn get(&self, key: &str, text: &str) -> Option<Arc<[i16]>> {
        use std::io::Read;
        let mut f = crate::fsutil::open_regular(&self.path(key, text)?).ok()?;
        let n = read_header(&mut f, key, text)?;
        let mut samples: Arc<[i16]> = std::iter::repeat_n(0, usize::try_from(n).ok()?).collect();
        let into = Arc::get_mut(&mut samples)?;
        let mut h = Fnv::new();
        let mut bytes = [0u8; 32 * 1024];
        for piece in into.chunks_mut(bytes.len() / 2) {
            let bytes = &mut bytes[..piece.len() * 2];
            f.read_exact(bytes).ok()?;
            h.write(bytes);
            for (s, b) in piece.iter_mut().zip(bytes.chunks_exact(2)) {
                *s = i16::from_le_bytes([b[0], b[1]]);
            }
        }
        let mut sum = [0u8; 8];
        f.read_exact(&mut sum).ok()?;
        // Nothing after the checksum: an entry that grew while it was read
        // is not the one whose size was checked.
        let ends = f.read(&mut [0u8; 1]).ok()? == 0;
        (ends && u64::from_le_bytes(sum) == h.finish()).then_some(samples)
    }

    /// The number of samples an entry holds, read from its header alone:
    /// cheap enough for `show`. An entry whose size does not match its
    /// header counts as missing; the samples' checksum is left to [`get`],
    /// which every session goes through before playing.
    ///
    /// [`get`]: Cache::get
    pub fn length(&self, key: &str, text: &str) -> Option<u64> {
        let mut f = crate::fsutil::open_regular(&self.path(key, text)?).ok()?;
        read_header(&mut f, key, text)
    }

    /// Stores an entry through a temporary file, so a crash or a full disk
    /// never leaves a half-written entry under the real name. The file is
    /// made new: whatever has its name (left by a process that had our
    /// PID, or a link put there) is removed, never written through.
    pub fn put(&self, key: &str, text: &str, samples: &[i16]) -> std::io::Result<()> {
        let Some(path) = self.path(key, text) else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::fsutil::replace(&path, &encode_entry(key, text, samples))
    }
}

fn encode_entry(key: &str, text: &str, samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + key.len() + text.len() + samples.len() * 2);
    out.extend_from_slice(MAGIC);
    for s in [key, text] {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(samples.len() as u64).to_le_bytes());
    let start = out.len();
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    let mut h = Fnv::new();
    h.write(&out[start..]);
    out.extend_from_slice(&h.finish().to_le_bytes());
    out
}

/// Reads an entry's header from the start of `f`: the number of samples it
/// holds, if it is an entry of this key and text (the one place an entry's
/// header is parsed) whose size is just the header, those samples and a
/// checksum, and at most [`MAX_ENTRY_BYTES`]. Leaves `f` at the samples.
fn read_header(f: &mut std::fs::File, key: &str, text: &str) -> Option<u64> {
    use std::io::Read;
    let size = f.metadata().ok()?.len();
    if size > MAX_ENTRY_BYTES {
        return None;
    }
    let header = MAGIC.len() + 8 + key.len() + text.len() + 8;
    let mut bytes = vec![0; header];
    f.read_exact(&mut bytes).ok()?;
    let mut r = bytes.strip_prefix(MAGIC)?;
    for expected in [key, text] {
        let len = u32::from_le_bytes(r.get(..4)?.try_into().ok()?) as usize;
        if r.get(4..4 + len)? != expected.as_bytes() {
            return None;
        }
        r = &r[4 + len..];
    }
    let n = u64::from_le_bytes(r.get(..8)?.try_into().ok()?);
    (size == header as u64 + n.checked_mul(2)? + 8).then_some(n)
}

/// A fingerprint of `bytes` that stays the same across Rust versions: for
/// cache keys that name a program's text.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(bytes);
    h.finish()
}

/// FNV-1a, 64 bits: stable across Rust versions, unlike `DefaultHasher`.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What synthesis did, for the user and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub from_cache: usize,
    pub synthesized: usize,
    /// Cache writes that failed (a full disk, say): speech still plays.
    pub cache_errors: Vec<String>,
}

/// Speaks every text, on `workers` threads, taking what it can from the
/// cache, and keeps each clip at the engine's rate. `progress(done, total,
/// synthesized)` is called on the calling thread as each cue is ready;
/// `synthesized` counts those not cached, so a warm start can stay quiet.
pub fn synthesize_all(
    engine: &dyn Engine,
    cache: &Cache,
    texts: &[String],
    workers: usize,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<(SpeechClips, Report), SpeechError> {
    let mut clips = SpeechClips::new();
    let mut synthesized = 0;
    let report = synthesize_each(engine, cache, texts, workers, &mut |text, samples, cached| {
        synthesized += usize::from(!cached);
        clips.insert(text.to_string(), crate::audio::resample::Clip::new(samples, ENGINE_RATE));
        progress(clips.len(), texts.len(), synthesized);
        true
    })?;
    Ok((clips, report))
}

/// What [`synthesize_each`] hands each clip to: `(text, samples,
/// cached)`, and whether to go on.
pub type Ready<'a> = dyn FnMut(&str, Arc<[i16]>, bool) -> bool + 'a;

/// Speaks every text, on `workers` threads that take them in order (so the
/// first is made first), taking what it can from the cache.
/// `ready(text, samples, cached)` is called on the calling thread as each
/// is ready, about in order; returning `false` stops the work.
pub fn synthesize_each(
    engine: &dyn Engine,
    cache: &Cache,
    texts: &[String],
    workers: usize,
    ready: &mut Ready<'_>,
) -> Result<Report, SpeechError> {
    let key = cache_key(engine);
    let next = AtomicUsize::new(0);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut report = Report::default();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1).min(texts.len().max(1)) {
            let tx = tx.clone();
            let (next, key) = (&next, &key);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(text) = texts.get(i) else { break };
                    let result = match cache.get(key, text) {
                        // A signal came: no more cues are made, whatever the engine.
                        _ if crate::signals::stopping() => Err(SpeechError::new("stopped")),
                        Some(samples) => Ok((samples, true, None)),
                        None => engine.synthesize(&reading::as_spoken(text)).map(|samples| {
                            // Every cue at one loudness, stored so: a warm
                            // start measures nothing.
                            let samples = crate::audio::loudness::normalize(
                                &samples,
                                ENGINE_RATE,
                                crate::audio::loudness::SPEECH_LUFS,
                                crate::audio::loudness::SPEECH_PEAK_LIMIT_DB,
                            );
                            let err = cache.put(key, text, &samples).err().map(|e| crate::error::io_reason(&e));
                            (samples, false, err)
                        }),
                    };
                    let failed = result.is_err();
                    if tx.send((i, result)).is_err() || failed {
                        // Stop taking work after a failure; the rest is moot.
                        next.store(texts.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx.iter() {
            match result {
                Ok((samples, cached, cache_error)) => {
                    if cached {
                        report.from_cache += 1;
                    } else {
                        report.synthesized += 1;
                    }
                    if let Some(e) = cache_error {
                        report.cache_errors.push(e);
                    }
                    if first_error.is_none() && !ready(&texts[i], samples, cached) {
                        next.store(texts.len(), Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// What cache entries are filed under: the engine's voice, the loudness
/// its clips were brought to, and how cue text is read out
/// ([`reading::as_spoken`], which every engine is given).
pub fn cache_key(engine: &dyn Engine) -> String {
    use crate::audio::loudness::{SPEECH_LUFS, SPEECH_PEAK_LIMIT_DB};
    format!(
        "{} loudness {SPEECH_LUFS} LUFS peaks limited {SPEECH_PEAK_LIMIT_DB} dB reading {}",
        engine.key(),
        reading::VERSION
    )
}

/// The lengths of cached speech, where every text is cached: lets `show`
/// give exact times without running an engine.
pub fn cached_lengths(engine_key: &str, cache: &Cache, texts: &[String]) -> Option<HashMap<String, u64>> {
    texts.iter().map(|t| cache.length(engine_key, t).map(|n| (t.clone(), n))).collect()
}

/// Samples at the speech rate from an engine's own output.
pub fn to_session_rate(pcm: &crate::audio::wav::Pcm) -> Vec<i16> {
    crate::audio::wav::resample(pcm, ENGINE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        assert_eq!(cache.get("k", "hello"), None);
        cache.put("k", "hello", &[1, 2, 3]).unwrap();
        assert_eq!(cache.get("k", "hello").as_deref(), Some(&[1, 2, 3][..]));
        assert_eq!(cache.length("k", "hello"), Some(3));
        assert_eq!(cache.length("k", "other"), None);
        // Another engine key or text is another entry.
        assert_eq!(cache.get("k2", "hello"), None);

        let path = cache.path("k", "hello").unwrap();
        let good = std::fs::read(&path).unwrap();
        // Truncated.
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert_eq!(cache.get("k", "hello"), None);
        assert_eq!(cache.length("k", "hello"), None);
        // One sample flipped: the checksum catches it.
        let mut bad = good.clone();
        let at = bad.len() - 10;
        bad[at] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(cache.get("k", "hello"), None);
        // Trailing junk.
        let mut long = good.clone();
        long.push(0);
        std::fs::write(&path, &long).unwrap();
        assert_eq!(cache.get("k", "hello"), None);
    }

    #[test]
    fn a_cache_entry_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("speech"));
        std::fs::create_dir(dir.path().join("speech")).unwrap();
        // A link where the entry's temporary file goes.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let temp = crate::fsutil::temp_path(&cache.path("k", "hello").unwrap());
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        cache.put("k", "hello", &[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(cache.get("k", "hello").as_deref(), Some(&[1, 2, 3][..]));
    }

    #[test]
    fn a_pipe_is_read_up_to_its_cap_and_no_further() {
        // Endless bytes, as from `yes`.
        let pipe = drain(std::io::repeat(b'y'), "standard output", 100_000);
        let err = pipe.take(std::time::Duration::from_secs(10), "yes").unwrap_err();
        assert_eq!(err.message, "`yes` wrote more than 100000 bytes to its standard output");
        let pipe = drain(std::io::repeat(b'y'), "standard output", 100_000);
        let _ = pipe.ended.recv_timeout(std::time::Duration::from_secs(10));
        let kept = pipe.bytes.lock().unwrap().len();
        assert!((100_000 - 16 * 1024..=100_000).contains(&kept), "{kept}");
        // What fits is taken whole.
        let pipe = drain(&b"RIFF...."[..], "standard output", 8);
        assert_eq!(pipe.take(std::time::Duration::from_secs(10), "x").unwrap(), b"RIFF....");
    }

    #[test]
    fn synthesizes_each_text_once_then_reads_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let engine = fake::FakeEngine::default();
        let texts: Vec<String> = ["one", "two words", "three more words"].map(String::from).to_vec();
        let mut calls = Vec::new();
        let (clips, report) = synthesize_all(&engine, &cache, &texts, 2, &mut |d, t, _| calls.push((d, t))).unwrap();
        assert_eq!(report.synthesized, 3);
        assert_eq!(calls.last(), Some(&(3, 3)));
        // Held at the engine's rate (less than half the samples), and as
        // long as it will be at the session's.
        let made = fake::FakeEngine::default().synthesize("two words").unwrap().len() as u64;
        let at_session_rate = crate::audio::resample::length(made, ENGINE_RATE, crate::script::timeline::SAMPLE_RATE);
        assert_eq!(clips["two words"].samples().len() as u64, made);
        assert_eq!(clips["two words"].rate(), ENGINE_RATE);
        assert_eq!(clips["two words"].len(), at_session_rate);
        let (_, report) = synthesize_all(&engine, &cache, &texts, 2, &mut |_, _, _| {}).unwrap();
        assert_eq!((report.from_cache, report.synthesized), (3, 0));
        assert_eq!(engine.calls(), 3);
    }

    #[test]
    fn engine_failure_is_reported() {
        let engine = fake::FakeEngine { fail_on: Some("bad".into()), ..Default::default() };
        let texts: Vec<String> = ["fine", "bad"].map(String::from).to_vec();
        let err = synthesize_all(&engine, &Cache::none(), &texts, 1, &mut |_, _, _| {}).unwrap_err();
        assert_eq!(err.message, "fake engine refused \"bad\"");
    }
}
