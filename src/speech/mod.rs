//! Speech: engines that turn cue text into samples, the on-disk cache that
//! makes a second run start at once, and synthesis of a whole session's
//! cues on worker threads.
//!
//! Every engine here renders to samples that backease mixes itself, so
//! speech shares one clock with chimes and silences and can be written to a
//! file. This module does not play anything.

pub mod command;
pub mod espeak;
pub mod fake;
pub mod flite;
pub mod pick;
pub mod piper;
pub mod system;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The rate engines give speech at and the cache keeps it at (espeak-ng's
/// and Piper's own). A session resamples it once, when it loads the clips.
pub const SAMPLE_RATE: u32 = 22_050;

/// What changes how a voice sounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceSettings {
    pub voice: Option<String>,
    /// Words per minute.
    pub rate: Option<u32>,
    /// 0 to 100.
    pub pitch: Option<u32>,
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
    /// Mono samples at [`SAMPLE_RATE`].
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError>;
    /// Gets ready to speak without waiting: an engine with a model to load
    /// starts loading it, so the first cue is not held up by the load.
    fn warm_up(&self) {}
}

/// Runs a speech program with `text` on its stdin and waits for it, within
/// a time that grows with the text; a program that hangs is killed, and so
/// is one still running when a signal asks backease to stop. Returns its
/// exit status, stdout and stderr.
///
/// The program runs in a process group of its own, and the whole group is
/// killed: a shell line's own children (`sh -c "sleep 9; tts ..."`) go
/// with it, rather than living on with our pipes open.
pub fn run(
    cmd: &mut std::process::Command,
    name: &str,
    text: &str,
) -> Result<(std::process::ExitStatus, Vec<u8>, String), SpeechError> {
    use std::io::Write as _;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
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
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));
    // Generous: speech engines work far faster than real time.
    let limit = Duration::from_secs(10) + Duration::from_millis(50 * text.len() as u64);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if crate::signals::stopping() => {
                kill_group(&mut child);
                return Err(SpeechError::new("stopped"));
            }
            Ok(None) if start.elapsed() > limit => {
                kill_group(&mut child);
                return Err(SpeechError::new(format!("`{name}` did not finish speaking within {} s", limit.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(SpeechError::new(format!("waiting for `{name}`: {e}"))),
        }
    };
    // Anything it left running in its group would hold the pipes open.
    kill_group(&mut child);
    drop(writer);
    // Something it started outside its group (a daemon that called
    // setsid) may hold them open still: what the program itself wrote is
    // in them by now, so that is taken, and the rest is not waited for.
    let (stdout, stderr) = (stdout.take(LINGER), stderr.take(LINGER));
    Ok((status, stdout, String::from_utf8_lossy(&stderr).into_owned()))
}

/// How long, once a speech program has ended, its pipes may stay open.
const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// A pipe read to its end on a thread of its own.
struct Drained {
    bytes: Arc<std::sync::Mutex<Vec<u8>>>,
    ended: crossbeam_channel::Receiver<()>,
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> Drained {
    let bytes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, ended) = crossbeam_channel::bounded(1);
    let into = bytes.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            into.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(());
    });
    Drained { bytes, ended }
}

impl Drained {
    /// What was read, once the pipe has ended or `linger` has passed.
    fn take(self, linger: std::time::Duration) -> Vec<u8> {
        let _ = self.ended.recv_timeout(linger);
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A private folder (mode 0700, a name nobody can guess) for the WAV file a
/// speech program writes, removed when dropped, and the file's path in it.
/// A fixed name in /tmp could be a FIFO or a link someone left there.
pub(crate) fn scratch_wav() -> Result<(tempfile::TempDir, PathBuf), SpeechError> {
    let dir = tempfile::Builder::new().prefix("backease-").tempdir().map_err(|e| {
        SpeechError::new(format!(
            "cannot make a temporary folder in {}: {}",
            std::env::temp_dir().display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let wav = dir.path().join("speech.wav");
    Ok((dir, wav))
}

/// The WAV file a speech program wrote: a regular file, of a size a cue
/// can have (ten minutes and more).
pub(crate) fn read_wav(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::fsutil::read_regular(path, 256 * 1024 * 1024)
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

/// Synthesized speech, by text.
pub type SpeechClips = HashMap<String, Arc<[i16]>>;

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

    pub fn get(&self, key: &str, text: &str) -> Option<Vec<i16>> {
        let bytes = crate::fsutil::read_regular(&self.path(key, text)?, MAX_ENTRY_BYTES).ok()?;
        decode_entry(&bytes, key, text)
    }

    /// The number of samples an entry holds, read from its header alone:
    /// cheap enough for `show`. An entry whose size does not match its
    /// header counts as missing; the samples' checksum is left to [`get`],
    /// which every session goes through before playing.
    ///
    /// [`get`]: Cache::get
    pub fn length(&self, key: &str, text: &str) -> Option<u64> {
        use std::io::Read;
        let mut f = crate::fsutil::open_regular(&self.path(key, text)?).ok()?;
        let size = f.metadata().ok()?.len();
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

    /// Stores an entry through a temporary file, so a crash or a full disk
    /// never leaves a half-written entry under the real name.
    pub fn put(&self, key: &str, text: &str, samples: &[i16]) -> std::io::Result<()> {
        let Some(path) = self.path(key, text) else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = crate::fsutil::temp_path(&path);
        let result = (|| {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&temp)?);
            f.write_all(&encode_entry(key, text, samples))?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&temp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
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

fn decode_entry(bytes: &[u8], key: &str, text: &str) -> Option<Vec<i16>> {
    let mut r = bytes.strip_prefix(MAGIC)?;
    for expected in [key, text] {
        let len = u32::from_le_bytes(r.get(..4)?.try_into().ok()?) as usize;
        if r.get(4..4 + len)? != expected.as_bytes() {
            return None;
        }
        r = &r[4 + len..];
    }
    let n = u64::from_le_bytes(r.get(..8)?.try_into().ok()?) as usize;
    let data = r.get(8..8 + n.checked_mul(2)?)?;
    let sum = u64::from_le_bytes(r.get(8 + n * 2..8 + n * 2 + 8)?.try_into().ok()?);
    if r.len() != 8 + n * 2 + 8 {
        return None;
    }
    let mut h = Fnv::new();
    h.write(data);
    if h.finish() != sum {
        return None;
    }
    Some(data.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect())
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
/// cache. `progress(done, total, synthesized)` is called on the calling
/// thread as each cue is ready; `synthesized` counts those not cached, so a
/// warm start can stay quiet.
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
        clips.insert(text.to_string(), samples.into());
        progress(clips.len(), texts.len(), synthesized);
        true
    })?;
    Ok((clips, report))
}

/// Speaks every text, on `workers` threads that take them in order (so the
/// first is made first), taking what it can from the cache.
/// `ready(text, samples, cached)` is called on the calling thread as each
/// is ready, about in order; returning `false` stops the work.
pub fn synthesize_each(
    engine: &dyn Engine,
    cache: &Cache,
    texts: &[String],
    workers: usize,
    ready: &mut dyn FnMut(&str, &[i16], bool) -> bool,
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
                        None => engine.synthesize(text).map(|samples| {
                            // Every cue at one loudness, stored so: a warm
                            // start measures nothing.
                            let samples =
                                crate::loudness::normalize(&samples, SAMPLE_RATE, crate::loudness::SPEECH_LUFS)
                                    .to_vec();
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
                    if first_error.is_none() && !ready(&texts[i], &samples, cached) {
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

/// What cache entries are filed under: the engine's voice and the loudness
/// its clips were brought to.
pub fn cache_key(engine: &dyn Engine) -> String {
    format!("{} loudness {} LUFS", engine.key(), crate::loudness::SPEECH_LUFS)
}

/// The lengths of cached speech, where every text is cached: lets `show`
/// give exact times without running an engine.
pub fn cached_lengths(engine_key: &str, cache: &Cache, texts: &[String]) -> Option<HashMap<String, u64>> {
    texts.iter().map(|t| cache.length(engine_key, t).map(|n| (t.clone(), n))).collect()
}

/// Samples at the speech rate from an engine's own output.
pub fn to_session_rate(pcm: &crate::wav::Pcm) -> Vec<i16> {
    crate::wav::resample(pcm, SAMPLE_RATE)
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
        assert_eq!(cache.get("k", "hello"), Some(vec![1, 2, 3]));
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
    fn synthesizes_each_text_once_then_reads_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let engine = fake::FakeEngine::default();
        let texts: Vec<String> = ["one", "two words", "three more words"].map(String::from).to_vec();
        let mut calls = Vec::new();
        let (clips, report) = synthesize_all(&engine, &cache, &texts, 2, &mut |d, t, _| calls.push((d, t))).unwrap();
        assert_eq!(report.synthesized, 3);
        assert_eq!(calls.last(), Some(&(3, 3)));
        assert_eq!(clips["two words"].len(), fake::FakeEngine::default().synthesize("two words").unwrap().len());
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
