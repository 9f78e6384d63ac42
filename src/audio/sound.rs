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
use std::ops::ControlFlow;
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

use crate::audio::resample::Resampler;
use crate::script::Chime;
use crate::script::diagnostic::Diagnostic;
use crate::script::timeline::{SAMPLE_RATE, Sound, Timeline};

fn bytes(chime: Chime) -> &'static [u8] {
    match chime {
        Chime::Bell => include_bytes!("../../sounds/bell.wav"),
        Chime::Soft => include_bytes!("../../sounds/soft.wav"),
        Chime::Tick => include_bytes!("../../sounds/tick.wav"),
        Chime::Gong => include_bytes!("../../sounds/gong.wav"),
    }
}

/// A chime's samples, decoded and brought under the voice's loudness once.
pub fn chime(chime: Chime) -> Arc<[i16]> {
    static DECODED: OnceLock<Vec<Arc<[i16]>>> = OnceLock::new();
    let all = DECODED.get_or_init(|| {
        Chime::ALL
            .iter()
            .map(|&c| {
                let pcm = crate::audio::wav::parse(bytes(c)).expect("the embedded chimes are valid WAV");
                let samples = crate::audio::wav::resample(&pcm, SAMPLE_RATE);
                crate::audio::loudness::normalize(&samples, SAMPLE_RATE, crate::audio::loudness::CHIME_LUFS, 0.0)
            })
            .collect()
    });
    all[Chime::ALL.iter().position(|&c| c == chime).expect("every chime is in ALL")].clone()
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
/// resampler takes ([`crate::audio::resample::RATES`]). Anything else is no real
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
    let result = decode_file(path).map(|samples| {
        crate::audio::loudness::normalize(&samples, SAMPLE_RATE, crate::audio::loudness::CHIME_LUFS, 0.0)
    });
    memo.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_path_buf(), (stamp, result.clone()));
    result
}

/// Decodes every sound file a timeline plays, and reports each that cannot
/// be played as an error at the `Sound` step that names it.
pub fn check(timeline: &Timeline) -> Vec<Diagnostic> {
    let files = timeline.events.iter().filter_map(|e| match &e.sound {
        Sound::File(path) => Some((path.as_path(), e.source.clone())),
        _ => None,
    });
    check_files(files)
}

/// [`check`] for files named at these places: each (file, place) decoded
/// once, however often it comes.
pub fn check_files<'a>(files: impl IntoIterator<Item = (&'a Path, std::ops::Range<usize>)>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let mut diagnostics = Vec::new();
    for (path, at) in files {
        if !seen.insert((path, at.start, at.end)) {
            continue;
        }
        if let Err(SoundError { message, help }) = load_file(path) {
            diagnostics.push(Diagnostic::error(at, message).with_help(help));
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
                crate::script::duration::spoken(MAX_FILE)
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
                    || !crate::audio::resample::RATES.contains(&spec.rate)
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
    let (mut format, track_id, params) = probe(path, file)?;
    let mut decoding = Decoding::new(track_id, &params)?;
    let limit = crate::script::timeline::samples(MAX_FILE) as usize;
    while let Some(packet) = decoding.next_packet(format.as_mut()) {
        if decoding.feed(&packet).is_break() {
            break;
        }
        if decoding.out.len() > limit {
            return Err(Trouble::TooLong);
        }
    }
    decoding.finish()
}

/// Opens the file's container and finds its first audio track: the
/// container, the track's id and what its header says.
fn probe(path: &Path, file: std::fs::File) -> Result<(Box<dyn FormatReader>, u32, CodecParameters), Trouble> {
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
    let format: Box<dyn FormatReader> = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| "it has no audio in a format backease can decode".to_string())?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    check_header(&params)?;
    Ok((format, track_id, params))
}

/// Refuses a header giving a sample rate or a channel count no real
/// recording has: the file is damaged, and believing it costs memory.
fn check_header(params: &CodecParameters) -> Result<(), String> {
    if let Some(rate) = params.sample_rate
        && !crate::audio::resample::RATES.contains(&rate)
    {
        return Err(format!("its header gives a sample rate of {rate} Hz (the file is probably damaged)"));
    }
    if let Some(c) = params.channels
        && !(1..=MAX_CHANNELS).contains(&c.count())
    {
        return Err(format!("its header gives {} channels (the file is probably damaged)", c.count()));
    }
    Ok(())
}

/// What an Ogg Opus identification header (RFC 7845) asks of its samples:
/// a gain, as a factor, and the pre-skip, the encoder's delay in samples.
/// `None` for other codecs, and for a header too short to hold them.
fn opus_head(params: &CodecParameters) -> Option<(f32, usize)> {
    match &params.extra_data {
        Some(head) if params.codec == CODEC_TYPE_OPUS && head.len() >= 19 => Some((
            10f32.powf(i16::from_le_bytes([head[16], head[17]]) as f32 / 256.0 / 20.0),
            u16::from_le_bytes([head[10], head[11]]) as usize,
        )),
        _ => None,
    }
}

/// One track being decoded, packet by packet, into samples at the
/// session rate.
struct Decoding {
    track_id: u32,
    decoder: PacketDecoder,
    /// The factor every sample is multiplied by (an Opus header's gain).
    gain: f32,
    /// Samples still to drop at the start: the encoder's delay, which is
    /// not sound.
    delay: usize,
    /// Whether `delay` is Opus's pre-skip, from the header.
    pre_skip: bool,
    /// Set until the track's first packet is read.
    first: bool,
    /// The frames the file says it holds; whatever follows is padding.
    frames_left: u64,
    resampler: Option<Resampler>,
    /// One packet's mono samples at the file's rate (kept for its memory).
    mono: Vec<f32>,
    /// The samples so far, at the session rate.
    out: Vec<i16>,
    /// How many packets the demuxer failed to read.
    failures: u32,
    /// Why the last packet could not be read or decoded.
    last_error: Option<String>,
}

impl Decoding {
    fn new(track_id: u32, params: &CodecParameters) -> Result<Self, Trouble> {
        let opus = opus_head(params);
        // The encoder's delay (Opus's pre-skip, from its header; Vorbis's
        // first samples) is not sound. The MP3 decoder trims it itself,
        // marking the first packet; for the others it is skipped here.
        let delay = opus.map_or(params.delay.unwrap_or(0) as usize, |(_, pre_skip)| pre_skip);
        Ok(Decoding {
            track_id,
            decoder: PacketDecoder::new(params)?,
            gain: opus.map_or(1.0, |(gain, _)| gain),
            delay,
            pre_skip: opus.is_some(),
            first: true,
            frames_left: params.n_frames.unwrap_or(u64::MAX),
            resampler: None,
            mono: Vec::new(),
            out: Vec::new(),
            failures: 0,
            last_error: None,
        })
    }

    /// The track's next packet; `None` at the end of the file, or at damage
    /// the demuxer cannot get past.
    fn next_packet(&mut self, format: &mut dyn FormatReader) -> Option<Packet> {
        loop {
            match format.next_packet() {
                Ok(packet) if packet.track_id() == self.track_id => return Some(packet),
                Ok(_) => {}
                // The end of the file, or damage the demuxer cannot get past:
                // what was decoded so far is the sound.
                Err(SymError::IoError(_)) | Err(SymError::ResetRequired) => return None,
                Err(e) => {
                    self.last_error = Some(e.to_string());
                    self.failures += 1;
                    // A demuxer that cannot move on keeps failing: give up.
                    if self.failures > 1_000 {
                        return None;
                    }
                }
            }
        }
    }

    /// Decodes one packet, trims the encoder's delay and the padding after
    /// the last frame, and adds it to `out` at the session rate. Breaks when
    /// the track is done: its last frame is in, or the decoder cannot go on.
    fn feed(&mut self, packet: &Packet) -> ControlFlow<()> {
        self.mono.clear();
        if std::mem::take(&mut self.first) && packet.trim_start() > 0 && !self.pre_skip {
            self.delay = 0;
        }
        let rate = match self.decoder.decode(packet, &mut self.mono) {
            Decoded::Samples(rate) => rate,
            Decoded::Skipped => return ControlFlow::Continue(()),
            Decoded::End(e) => {
                self.last_error = Some(e);
                return ControlFlow::Break(());
            }
        };
        let r = self.resampler.get_or_insert_with(|| Resampler::new(rate, SAMPLE_RATE));
        // A damaged frame may claim another rate; it is not this sound.
        if r.from != rate {
            return ControlFlow::Continue(());
        }
        let skip = self.delay.min(self.mono.len());
        self.delay -= skip;
        let take = (self.mono.len() - skip).min(usize::try_from(self.frames_left).unwrap_or(usize::MAX));
        self.frames_left -= take as u64;
        let part = &mut self.mono[skip..skip + take];
        let gain = self.gain;
        if gain != 1.0 {
            part.iter_mut().for_each(|s| *s *= gain);
        }
        r.push(part, &mut self.out);
        if self.frames_left == 0 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    /// The samples decoded, with the resampler's last ones; an error only
    /// when there are none and something said why.
    fn finish(mut self) -> Result<Vec<i16>, Trouble> {
        if let Some(r) = self.resampler.as_mut() {
            r.finish(&mut self.out);
        }
        if self.out.is_empty()
            && let Some(e) = self.last_error
        {
            return Err(format!("it is damaged ({e})").into());
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use symphonia::core::audio::Channels;
    use symphonia::core::codecs::{CODEC_TYPE_VORBIS, CodecType};

    use super::*;

    #[test]
    fn each_chime_is_as_long_as_the_timeline_is_told() {
        for c in Chime::ALL {
            assert_eq!(chime(c).len() as u64, c.samples(), "{}", c.name());
        }
    }

    #[test]
    fn headers_with_impossible_rates_or_channels_are_refused() {
        #[track_caller]
        fn check(rate: Option<u32>, channels: Option<Channels>, expect: &str) {
            let mut params = CodecParameters::new();
            if let Some(rate) = rate {
                params.with_sample_rate(rate);
            }
            if let Some(channels) = channels {
                params.with_channels(channels);
            }
            assert_eq!(check_header(&params).err().unwrap_or_default(), expect);
        }
        let stereo = Channels::FRONT_LEFT | Channels::FRONT_RIGHT;
        check(None, None, "");
        check(Some(48_000), Some(stereo), "");
        check(Some(1_000), Some(Channels::FRONT_LEFT), "");
        check(Some(384_000), Some(stereo), "");
        check(Some(999), None, "its header gives a sample rate of 999 Hz (the file is probably damaged)");
        check(
            Some(384_001),
            Some(stereo),
            "its header gives a sample rate of 384001 Hz (the file is probably damaged)",
        );
        check(Some(48_000), Some(Channels::empty()), "its header gives 0 channels (the file is probably damaged)");
        check(
            Some(0),
            Some(Channels::empty()),
            "its header gives a sample rate of 0 Hz (the file is probably damaged)",
        );
    }

    #[test]
    fn an_opus_header_gives_its_gain_and_pre_skip() {
        /// An identification header (RFC 7845, section 5.1) of a stereo
        /// file, 19 bytes: no channel mapping table.
        fn head(pre_skip: u16, gain_q8: i16) -> Vec<u8> {
            let mut head = b"OpusHead".to_vec();
            head.extend([1, 2]);
            head.extend(pre_skip.to_le_bytes());
            head.extend(48_000u32.to_le_bytes());
            head.extend(gain_q8.to_le_bytes());
            head.push(0);
            head
        }
        #[track_caller]
        fn check(codec: CodecType, head: Option<&[u8]>, expect: Option<(f32, usize)>) {
            let mut params = CodecParameters::new();
            params.for_codec(codec);
            if let Some(head) = head {
                params.with_extra_data(head.into());
            }
            let got = opus_head(&params);
            match (got, expect) {
                (Some((gain, skip)), Some((want_gain, want_skip))) => {
                    assert!((gain - want_gain).abs() < 1e-4, "gain {gain}, expected {want_gain}");
                    assert_eq!(skip, want_skip);
                }
                _ => assert_eq!(got, expect),
            }
        }
        check(CODEC_TYPE_OPUS, Some(&head(312, 0)), Some((1.0, 312)));
        check(CODEC_TYPE_OPUS, Some(&head(3840, 6 * 256)), Some((1.99526, 3840)));
        check(CODEC_TYPE_OPUS, Some(&head(0, -20 * 256)), Some((0.1, 0)));
        check(CODEC_TYPE_OPUS, Some(&head(312, 0)[..18]), None);
        check(CODEC_TYPE_OPUS, None, None);
        check(CODEC_TYPE_VORBIS, Some(&head(312, 0)), None);
    }
}
