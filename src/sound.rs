//! Sounds that are not speech: the built-in chimes, embedded in the binary,
//! and a user's own files: WAV, FLAC, MP3, OGG Vorbis and Opus.
//!
//! Everything comes out as mono samples at the session rate, ready to mix.
//! The chimes were made by `sounds/generate.rs`.
//!
//! A user's file is anything a person found on their disk, so decoding
//! trusts nothing in it: only regular files are opened (a FIFO or a device
//! would block or never end), the decoded length is capped, and a decoder
//! that panics on damaged data is contained and reported as a plain error.
//! Files are decoded with symphonia directly, packet by packet, and Opus
//! packets go to libopus, which symphonia has no decoder for. This module
//! does not say where in a script a file is named: [`check`] turns its
//! errors into diagnostics at the steps of a timeline.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, SystemTime};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CodecParameters, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::diagnostic::Diagnostic;
use crate::resample::Resampler;
use crate::script::Chime;
use crate::timeline::{SAMPLE_RATE, Sound, Timeline, to_duration};

fn bytes(chime: Chime) -> &'static [u8] {
    match chime {
        Chime::Bell => include_bytes!("../sounds/bell.wav"),
        Chime::Soft => include_bytes!("../sounds/soft.wav"),
        Chime::Tick => include_bytes!("../sounds/tick.wav"),
        Chime::Gong => include_bytes!("../sounds/gong.wav"),
    }
}

/// A chime's samples, decoded and brought under the voice's loudness once.
pub fn chime(chime: Chime) -> Arc<[i16]> {
    static DECODED: OnceLock<Vec<Arc<[i16]>>> = OnceLock::new();
    let all = DECODED.get_or_init(|| {
        Chime::ALL
            .iter()
            .map(|&c| {
                let pcm = crate::wav::parse(bytes(c)).expect("the embedded chimes are valid WAV");
                let samples = crate::wav::resample(&pcm, SAMPLE_RATE);
                crate::loudness::normalize(&samples, SAMPLE_RATE, crate::loudness::CHIME_LUFS)
            })
            .collect()
    });
    all[Chime::ALL.iter().position(|&c| c == chime).expect("every chime is in ALL")].clone()
}

/// How long a chime rings.
pub fn nominal_length(c: Chime) -> Duration {
    to_duration(chime(c).len() as u64)
}

/// The longest user sound file backease will hold in memory: at the session
/// rate, 26 MB. Decoding stops there, however long the file claims to be.
pub const MAX_FILE: Duration = Duration::from_secs(10 * 60);

/// The largest sound file read: ten minutes of 96 kHz stereo in 32-bit
/// float is 461 MB. Anything larger would take long to read only to be
/// refused by [`MAX_FILE`].
pub const MAX_BYTES: u64 = 1 << 30;

/// The formats, as a user is told them.
pub const FORMATS: &str = "WAV, FLAC, MP3, OGG Vorbis and Opus";

/// The most channels a file may have; its sample rate must be one the
/// resampler takes ([`crate::resample::RATES`]). Anything else is no real
/// recording, only a damaged header. The lowest rate also bounds how many
/// samples one decoded sample can become (22 at most).
const MAX_CHANNELS: usize = 32;

/// Decodes a user's sound file into mono samples at the session rate,
/// brought under the voice like the chimes. A file is decoded (and
/// levelled) once per process: later calls (the check before a
/// session, then its preparation, then each round of an endless one) are
/// answered from memory while the file is unchanged.
pub fn load_file(path: &Path) -> Result<Arc<[i16]>, SoundError> {
    type Memo = HashMap<PathBuf, (Option<(u64, SystemTime)>, Result<Arc<[i16]>, SoundError>)>;
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    let stamp = std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
    let memo = MEMO.get_or_init(Default::default);
    if let Some((s, result)) = memo.lock().unwrap_or_else(|p| p.into_inner()).get(path)
        && stamp.is_some()
        && *s == stamp
    {
        return result.clone();
    }
    let result =
        decode_file(path).map(|samples| crate::loudness::normalize(&samples, SAMPLE_RATE, crate::loudness::CHIME_LUFS));
    memo.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_path_buf(), (stamp, result.clone()));
    result
}

/// Decodes every sound file a timeline plays, and reports each that cannot
/// be played as an error at the `Sound` step that names it.
pub fn check(timeline: &Timeline) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let mut diagnostics = Vec::new();
    for e in &timeline.events {
        let Sound::File(path) = &e.sound else { continue };
        // Each step once, however often it repeats.
        if !seen.insert((path, e.source.start, e.source.end)) {
            continue;
        }
        if let Err(SoundError { message, help }) = load_file(path) {
            diagnostics.push(Diagnostic::error(e.source.clone(), message).with_help(help));
        }
    }
    diagnostics
}

/// Why a sound file cannot be played, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundError {
    /// Names the file: "cannot decode rain.ogg: it is damaged (…)".
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for SoundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<SoundError> for String {
    fn from(e: SoundError) -> String {
        e.message
    }
}

/// What went wrong inside [`decode`].
enum Trouble {
    /// Not sound backease can decode, for this reason.
    Undecodable(String),
    TooLong,
}

impl From<String> for Trouble {
    fn from(reason: String) -> Self {
        Trouble::Undecodable(reason)
    }
}

fn decode_file(path: &Path) -> Result<Arc<[i16]>, SoundError> {
    let name = path.display();
    let convert =
        format!("backease plays {FORMATS} files; convert it (e.g. `ffmpeg -i {name} sound.wav`) or name another file");
    let error = |message: String, help: &str| SoundError { message, help: help.to_string() };
    let file = crate::fsutil::open_regular(path).map_err(|e| {
        let reason = crate::error::io_reason(&e);
        error(format!("cannot open sound file {name}: {reason}"), "name a sound file that you can read")
    })?;
    let bytes = file.metadata().map_or(0, |m| m.len());
    if bytes > MAX_BYTES {
        return Err(error(
            format!("{name} is {} MB; sound files are at most {} MB", bytes >> 20, MAX_BYTES >> 20),
            &format!("cut it or compress it, e.g. `ffmpeg -i {name} -t 10:00 short.ogg`"),
        ));
    }
    match contain(|| decode(path, file)) {
        Ok(Ok(samples)) if samples.is_empty() => Err(error(format!("{name} has no sound in it"), &convert)),
        Ok(Ok(samples)) => Ok(samples.into()),
        Ok(Err(Trouble::Undecodable(reason))) => Err(error(format!("cannot decode {name}: {reason}"), &convert)),
        Ok(Err(Trouble::TooLong)) => Err(error(
            format!(
                "{name} is longer than {}, the longest sound file backease plays",
                crate::duration::spoken(MAX_FILE)
            ),
            &format!("cut it, e.g. `ffmpeg -i {name} -t 10:00 short.wav`"),
        )),
        Err(_) => Err(error(
            format!("cannot decode {name}: the decoder failed on its data (the file is probably damaged)"),
            &convert,
        )),
    }
}

thread_local! {
    /// Set while this thread decodes: its panics are caught and reported,
    /// so the panic hook must not print them.
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into an error, silently.
fn contain<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                previous(info)
            }
        }));
    });
    DECODING.with(|d| d.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    DECODING.with(|d| d.set(false));
    result
}

/// One packet's worth of decoding, into mono samples at the file's rate.
enum PacketDecoder {
    Symphonia(Box<dyn symphonia::core::codecs::Decoder>, Option<SampleBuffer<f32>>),
    Opus(opus::Decoder, Vec<f32>),
}

/// What decoding one packet gave.
enum Decoded {
    /// Mono samples at this rate, appended to the output.
    Samples(u32),
    /// A damaged packet, skipped as players do.
    Skipped,
    /// The decoder cannot go on.
    End(String),
}

impl PacketDecoder {
    fn new(params: &CodecParameters) -> Result<Self, String> {
        if params.codec == CODEC_TYPE_OPUS {
            let channels = params.channels.map_or(0, |c| c.count());
            if channels > 2 {
                return Err("it is a surround Opus file; only mono and stereo Opus are played".into());
            }
            // libopus mixes stereo down to mono itself.
            let decoder = opus::Decoder::new(48_000, opus::Channels::Mono).map_err(|e| e.to_string())?;
            return Ok(PacketDecoder::Opus(decoder, vec![0.0; 5760]));
        }
        let decoder =
            symphonia::default::get_codecs().make(params, &DecoderOptions::default()).map_err(|e| match e {
                SymError::Unsupported(_) => "it is in an audio format backease cannot decode".to_string(),
                e => format!("it is damaged ({e})"),
            })?;
        Ok(PacketDecoder::Symphonia(decoder, None))
    }

    fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Decoded {
        match self {
            PacketDecoder::Symphonia(decoder, buffer) => {
                let decoded = match decoder.decode(packet) {
                    Ok(d) => d,
                    Err(SymError::DecodeError(_)) => return Decoded::Skipped,
                    Err(e) => return Decoded::End(e.to_string()),
                };
                let spec = *decoded.spec();
                let channels = spec.channels.count();
                if decoded.frames() == 0
                    || channels == 0
                    || channels > MAX_CHANNELS
                    || !crate::resample::RATES.contains(&spec.rate)
                {
                    return Decoded::Skipped;
                }
                let needed = decoded.capacity() as u64;
                let buf = match buffer {
                    Some(b) if b.capacity() as u64 >= needed && b.samples().len() % channels == 0 => b,
                    _ => buffer.insert(SampleBuffer::new(needed, spec)),
                };
                buf.copy_interleaved_ref(decoded);
                let samples = buf.samples();
                if samples.len() % channels != 0 {
                    return Decoded::Skipped;
                }
                out.extend(samples.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32));
                Decoded::Samples(spec.rate)
            }
            PacketDecoder::Opus(decoder, buf) => match decoder.decode_float(packet.buf(), buf, false) {
                Ok(n) => {
                    let n = n.min(buf.len());
                    let start = (packet.trim_start() as usize).min(n);
                    let end = n.saturating_sub(packet.trim_end() as usize).max(start);
                    out.extend_from_slice(&buf[start..end]);
                    Decoded::Samples(48_000)
                }
                Err(_) => Decoded::Skipped,
            },
        }
    }
}

/// Decodes a whole file into mono samples at the session rate, stopping at
/// [`MAX_FILE`].
fn decode(path: &Path, file: std::fs::File) -> Result<Vec<i16>, Trouble> {
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let options = FormatOptions { enable_gapless: true, ..FormatOptions::default() };
    let probed = symphonia::default::get_probe().format(&hint, mss, &options, &MetadataOptions::default()).map_err(
        |e| match e {
            SymError::Unsupported(_) => "it is not a sound file backease knows".to_string(),
            SymError::IoError(_) => "it is cut short or unreadable".to_string(),
            e => format!("it is damaged ({e})"),
        },
    )?;
    let mut format: Box<dyn FormatReader> = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| "it has no audio in a format backease can decode".to_string())?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    if let Some(rate) = params.sample_rate
        && !crate::resample::RATES.contains(&rate)
    {
        return Err(format!("its header gives a sample rate of {rate} Hz (the file is probably damaged)").into());
    }
    if let Some(c) = params.channels
        && !(1..=MAX_CHANNELS).contains(&c.count())
    {
        return Err(format!("its header gives {} channels (the file is probably damaged)", c.count()).into());
    }
    // Ogg Opus may ask for a gain (in its identification header, RFC 7845).
    let gain = match (&params.extra_data, params.codec == CODEC_TYPE_OPUS) {
        (Some(head), true) if head.len() >= 19 => {
            10f32.powf(i16::from_le_bytes([head[16], head[17]]) as f32 / 256.0 / 20.0)
        }
        _ => 1.0,
    };
    // The encoder's delay (Opus's pre-skip, from its header; Vorbis's first
    // samples) is not sound. The MP3 decoder trims it itself, marking the
    // first packet; for the others it is skipped here.
    let opus_pre_skip = match (&params.extra_data, params.codec == CODEC_TYPE_OPUS) {
        (Some(head), true) if head.len() >= 19 => Some(u16::from_le_bytes([head[10], head[11]]) as usize),
        _ => None,
    };
    let mut delay = opus_pre_skip.unwrap_or(params.delay.unwrap_or(0) as usize);
    let mut first = true;
    // The frames the file says it holds; whatever follows is padding.
    let mut frames_left = params.n_frames.unwrap_or(u64::MAX);
    let mut decoder = PacketDecoder::new(&params)?;
    let limit = crate::timeline::samples(MAX_FILE) as usize;
    let mut out = Vec::new();
    let mut mono = Vec::new();
    let mut resampler: Option<Resampler> = None;
    let mut failures = 0u32;
    let mut last_error = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // The end of the file, or damage the demuxer cannot get past:
            // what was decoded so far is the sound.
            Err(SymError::IoError(_)) | Err(SymError::ResetRequired) => break,
            Err(e) => {
                last_error = Some(e.to_string());
                failures += 1;
                // A demuxer that cannot move on keeps failing: give up.
                if failures > 1_000 {
                    break;
                }
                continue;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        mono.clear();
        if std::mem::take(&mut first) && packet.trim_start() > 0 && opus_pre_skip.is_none() {
            delay = 0;
        }
        let rate = match decoder.decode(&packet, &mut mono) {
            Decoded::Samples(rate) => rate,
            Decoded::Skipped => continue,
            Decoded::End(e) => {
                last_error = Some(e);
                break;
            }
        };
        let r = resampler.get_or_insert_with(|| Resampler::new(rate, SAMPLE_RATE));
        // A damaged frame may claim another rate; it is not this sound.
        if r.from != rate {
            continue;
        }
        let skip = delay.min(mono.len());
        delay -= skip;
        let take = (mono.len() - skip).min(usize::try_from(frames_left).unwrap_or(usize::MAX));
        frames_left -= take as u64;
        let part = &mut mono[skip..skip + take];
        if gain != 1.0 {
            part.iter_mut().for_each(|s| *s *= gain);
        }
        r.push(part, &mut out);
        if frames_left == 0 {
            break;
        }
        if out.len() > limit {
            return Err(Trouble::TooLong);
        }
    }
    if let Some(r) = resampler.as_mut() {
        r.finish(&mut out);
    }
    if out.is_empty()
        && let Some(e) = last_error
    {
        return Err(format!("it is damaged ({e})").into());
    }
    Ok(out)
}
