//! The file formats `render` writes: WAV, FLAC, Ogg Opus and MP3, each with
//! the session's title and chapters in the form its players read.
//!
//! Every encoder takes the session as interleaved 16-bit stereo at
//! [`SAMPLE_RATE`], in chunks of any length, and keeps only a frame's worth
//! of it: memory does not grow with the session. FLAC and MP3 seek back at
//! the end to fill in what is known only then (checksum, frame sizes, the
//! LAME tag's frame count), so they write to a [`Sink`], a seekable file.
//! Choosing the file's name, writing it safely and the progress shown are
//! `render.rs`'s work, not this module's.

mod flac;
mod mp3;
mod ogg_opus;

use std::io::{self, Seek, Write};
use std::path::Path;

use crate::audio::format::CHANNELS;
use crate::script::chapters::Chapter;
use crate::script::timeline::SAMPLE_RATE;

/// Where an encoder writes: a file it may seek back in.
pub trait Sink: Write + Seek {}

impl<T: Write + Seek> Sink for T {}

/// A format `render` writes, named by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Wav,
    Flac,
    Opus,
    Mp3,
}

impl Format {
    /// Every format, as extensions, for messages.
    pub const ALL: [Format; 4] = [Format::Wav, Format::Flac, Format::Opus, Format::Mp3];

    /// The format `path`'s extension names, in any case.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::Opus => "opus",
            Format::Mp3 => "mp3",
        }
    }

    /// The most chapters the format's tags can hold: none in WAV, 999 as
    /// Vorbis comments (numbered in three digits), 255 in an ID3 table of
    /// contents (which counts its entries in one byte).
    pub fn chapter_limit(self) -> usize {
        match self {
            Format::Wav => 0,
            Format::Flac | Format::Opus => 999,
            Format::Mp3 => 255,
        }
    }
}

/// What a file says about itself besides its sound.
#[derive(Debug, Clone)]
pub struct About {
    /// The routine's title.
    pub title: String,
    /// At most [`Format::chapter_limit`]: `chapters::at_most` makes them so.
    pub chapters: Vec<Chapter>,
    /// Frames (samples per channel) the session holds.
    pub frames: u64,
}

/// An encoder at work.
pub trait Encoder {
    /// Takes the next interleaved stereo samples.
    fn write(&mut self, samples: &[i16]) -> io::Result<()>;
    /// Writes what is left and completes the file.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Starts writing `format` into `out`.
pub fn start<'w>(format: Format, out: &'w mut dyn Sink, about: &About) -> io::Result<Box<dyn Encoder + 'w>> {
    Ok(match format {
        Format::Wav => Box::new(Wav(crate::audio::wav::WavStream::new(out, SAMPLE_RATE, CHANNELS, about.frames)?)),
        Format::Flac => Box::new(flac::Flac::start(out, about)?),
        Format::Opus => Box::new(ogg_opus::Opus::start(out, about)?),
        Format::Mp3 => Box::new(mp3::Mp3::start(out, about)?),
    })
}

struct Wav<'w>(crate::audio::wav::WavStream<&'w mut dyn Sink>);

impl Encoder for Wav<'_> {
    fn write(&mut self, samples: &[i16]) -> io::Result<()> {
        self.0.write(samples)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish().map(drop)
    }
}

/// The name the encoders give as theirs, with the library that encodes.
fn vendor(library: &str) -> String {
    format!("backease {} ({library})", env!("CARGO_PKG_VERSION"))
}

/// The comments FLAC and Ogg Opus carry (the Vorbis comment form): the
/// title, and each chapter as `CHAPTERnnn=HH:MM:SS.mmm` with
/// `CHAPTERnnnNAME=title` (the chapter extension players and ffmpeg read).
fn comments(about: &About) -> Vec<String> {
    let mut out = vec![format!("TITLE={}", about.title), "ARTIST=backease".to_string(), "ENCODER=backease".to_string()];
    for (i, c) in about.chapters.iter().enumerate() {
        let ms = c.start * 1000 / SAMPLE_RATE as u64;
        let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        out.push(format!("CHAPTER{:03}={h:02}:{m:02}:{s:02}.{ms:03}", i + 1));
        out.push(format!("CHAPTER{:03}NAME={}", i + 1, c.title));
    }
    out
}

/// A Vorbis comment block: vendor and comments, lengths little-endian.
fn vorbis_comment(vendor: &str, comments: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    out.extend_from_slice(vendor.as_bytes());
    out.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for c in comments {
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
        out.extend_from_slice(c.as_bytes());
    }
    out
}

/// An encoder library's error as an I/O error, named.
fn failed(library: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("the {library} encoder failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension_in_any_case() {
        let of = |p: &str| Format::of(Path::new(p));
        assert_eq!(of("a.wav"), Some(Format::Wav));
        assert_eq!(of("dir.x/a.FLAC"), Some(Format::Flac));
        assert_eq!(of("a.Opus"), Some(Format::Opus));
        assert_eq!(of("a.mp3"), Some(Format::Mp3));
        assert_eq!(of("a.ogg"), None);
        assert_eq!(of("a"), None);
        assert_eq!(of(".mp3"), None);
    }

    #[test]
    fn chapters_become_vorbis_comments() {
        let about = About {
            title: "Deep spinal muscles".into(),
            chapters: vec![
                Chapter { start: 0, end: 48_000, title: "Opening".into() },
                Chapter { start: 48_000 * 3723 + 48 * 7, end: 48_000 * 4000, title: "Left side — hold".into() },
            ],
            frames: 48_000 * 4000,
        };
        assert_eq!(
            comments(&about),
            [
                "TITLE=Deep spinal muscles",
                "ARTIST=backease",
                "ENCODER=backease",
                "CHAPTER001=00:00:00.000",
                "CHAPTER001NAME=Opening",
                "CHAPTER002=01:02:03.007",
                "CHAPTER002NAME=Left side — hold",
            ]
        );
        let block = vorbis_comment("v", &["A=b".to_string()]);
        assert_eq!(block, [1, 0, 0, 0, b'v', 1, 0, 0, 0, 3, 0, 0, 0, b'A', b'=', b'b']);
    }
}
