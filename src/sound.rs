//! Sounds that are not speech: the built-in chimes, embedded in the binary,
//! and a user's own files, decoded through rodio.
//!
//! Everything comes out as mono samples at the session rate, ready to mix.
//! The chimes were made by `sounds/generate.rs`.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::script::Chime;
use crate::timeline::{SAMPLE_RATE, to_duration};

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

/// The longest user sound file backease will hold in memory.
pub const MAX_FILE: Duration = Duration::from_secs(10 * 60);

/// Decodes a WAV, OGG, FLAC or MP3 file into mono samples at the session rate.
pub fn load_file(path: &Path) -> Result<Arc<[i16]>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open sound file {}: {}", path.display(), crate::error::io_reason(&e)))?;
    let decoder = rodio::Decoder::try_from(file)
        .map_err(|e| format!("cannot decode {}: {e} (WAV, OGG, FLAC and MP3 are supported)", path.display()))?;
    let mono = std::num::NonZero::new(1).expect("one");
    let rate = std::num::NonZero::new(SAMPLE_RATE).expect("non-zero");
    let uniform = rodio::source::UniformSourceIterator::new(decoder, mono, rate);
    let limit = crate::timeline::samples(MAX_FILE) as usize;
    let mut out = Vec::new();
    for s in uniform {
        if out.len() >= limit {
            return Err(format!(
                "{} is longer than {}; sound files are at most that long",
                path.display(),
                crate::duration::spoken(MAX_FILE)
            ));
        }
        out.push((s.clamp(-1.0, 1.0) * 32767.0) as i16);
    }
    if out.is_empty() {
        return Err(format!("{} has no sound in it", path.display()));
    }
    Ok(out.into())
}
