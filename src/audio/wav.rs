//! Reading and writing 16-bit PCM WAV, the one format backease speaks
//! internally: the speech engine's output, the built-in chimes, `render`.
//!
//! The reader is lenient where real producers are sloppy: `espeak-ng
//! --stdout` writes a header claiming a huge data length, so the data runs
//! to the end of the input whatever the header says. It does not decode
//! compressed formats; user sound files go through `sound.rs`.

use std::io::{self, Read, Write};

/// Mono 16-bit samples at a known rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub rate: u32,
    pub samples: Vec<i16>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// Parses a whole WAV file held in memory. Several channels are mixed down
/// to one.
pub fn parse(bytes: &[u8]) -> Result<Pcm, FormatError> {
    let err = |m: &str| FormatError(m.to_string());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(err("not a WAV file"));
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = at + 8;
        if id == b"fmt " {
            if len < 16 || body + 16 > bytes.len() {
                return Err(err("the WAV format chunk is cut short"));
            }
            let f = &bytes[body..body + 16];
            let tag = u16::from_le_bytes([f[0], f[1]]);
            let channels = u16::from_le_bytes([f[2], f[3]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            let bits = u16::from_le_bytes([f[14], f[15]]);
            format = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let Some((tag, channels, rate, bits)) = format else {
                return Err(err("the WAV data comes before its format"));
            };
            if tag != 1 || bits != 16 || channels == 0 {
                return Err(err("only 16-bit PCM WAV is read here"));
            }
            // A header claiming 0 Hz or four billion is a broken file.
            if !crate::audio::resample::RATES.contains(&rate) {
                return Err(FormatError(format!("the WAV file claims a sample rate of {rate} Hz")));
            }
            // Trust the end of the input over a length that overruns it.
            let end = body.saturating_add(len).min(bytes.len());
            let data = &bytes[body..end];
            let ch = channels as usize;
            let samples = data
                .chunks_exact(2 * ch)
                .map(|frame| {
                    let sum: i32 = frame.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]]) as i32).sum();
                    (sum / ch as i32) as i16
                })
                .collect();
            return Ok(Pcm { rate, samples });
        }
        at = body.saturating_add(len + (len & 1));
    }
    Err(err("the WAV file has no data"))
}

/// Resamples to `rate`, band-limited (see `resample.rs`).
pub fn resample(pcm: &Pcm, rate: u32) -> Vec<i16> {
    crate::audio::resample::clip(&pcm.samples, pcm.rate, rate)
}

/// The most frames of `channels` 16-bit samples a WAV file holds, its sizes
/// being 32-bit: about 6 h 12 min of stereo at 48 kHz.
pub fn max_frames(channels: u16) -> u64 {
    (u32::MAX as u64 - 36) / (2 * channels.max(1) as u64)
}

/// Writes a 16-bit WAV of a length known in advance, as samples arrive
/// (interleaved, when there are several channels): the header goes first,
/// so the output need not be seekable (standard output, a FIFO).
pub struct WavStream<W: Write> {
    out: W,
    expected: u64,
    samples: u64,
    /// The bytes of the samples being written, kept between writes.
    bytes: Vec<u8>,
}

impl<W: Write> WavStream<W> {
    /// `frames` of `channels` samples each. Fails at once if that is too
    /// long for a WAV file.
    pub fn new(mut out: W, rate: u32, channels: u16, frames: u64) -> io::Result<Self> {
        if frames > max_frames(channels) {
            return Err(io::Error::other("the recording is too long for a WAV file (over 4 GiB)"));
        }
        let samples = frames.saturating_mul(channels as u64);
        out.write_all(&header(rate, channels, samples))?;
        Ok(WavStream { out, expected: samples, samples: 0, bytes: Vec::new() })
    }

    pub fn write(&mut self, samples: &[i16]) -> io::Result<()> {
        if self.samples + samples.len() as u64 > self.expected {
            return Err(io::Error::other("more samples than the WAV header announced"));
        }
        self.bytes.clear();
        self.bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        self.out.write_all(&self.bytes)?;
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Checks that every announced sample came, and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        if self.samples != self.expected {
            return Err(io::Error::other("fewer samples than the WAV header announced"));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The size of a 16-bit WAV file of `frames` frames, header and all.
pub fn size(channels: u16, frames: u64) -> u64 {
    44 + frames * 2 * channels as u64
}

fn header(rate: u32, channels: u16, samples: u64) -> [u8; 44] {
    let data = (samples * 2).min(u32::MAX as u64 - 36) as u32;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2 * channels as u32).to_le_bytes());
    h[32..34].copy_from_slice(&(2 * channels).to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// Reads everything from a reader; a convenience for engine output.
pub fn parse_reader(mut r: impl Read) -> Result<Pcm, FormatError> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes).map_err(|e| FormatError(e.to_string()))?;
    parse(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_a_bogus_length() {
        let mut w = WavStream::new(Vec::new(), 22_050, 1, 4).unwrap();
        w.write(&[1, -2, 300, i16::MIN]).unwrap();
        let mut bytes = w.finish().unwrap();
        assert_eq!(parse(&bytes).unwrap(), Pcm { rate: 22_050, samples: vec![1, -2, 300, i16::MIN] });
        // espeak-ng --stdout claims 0x7ffff000 bytes of data.
        bytes[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(parse(&bytes).unwrap().samples.len(), 4);
    }

    #[test]
    fn a_stream_holds_to_its_announced_length() {
        let mut w = WavStream::new(Vec::new(), 22_050, 1, 2).unwrap();
        w.write(&[1]).unwrap();
        assert!(w.write(&[2, 3]).is_err());
        assert!(w.finish().is_err());
        assert!(WavStream::new(Vec::new(), 22_050, 1, 1 << 31).is_err());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(parse(b"OggS....").unwrap_err().0, "not a WAV file");
        assert_eq!(parse(b"RIFF\0\0\0\0WAVE").unwrap_err().0, "the WAV file has no data");
        // A rate the resampler cannot take, from a speech program's header.
        for rate in [0u32, 7, 4_000_000_000] {
            let mut bytes = WavStream::new(Vec::new(), 22_050, 1, 1).unwrap();
            bytes.write(&[5]).unwrap();
            let mut bytes = bytes.finish().unwrap();
            bytes[24..28].copy_from_slice(&rate.to_le_bytes());
            assert_eq!(parse(&bytes).unwrap_err().0, format!("the WAV file claims a sample rate of {rate} Hz"));
        }
    }

    #[test]
    fn resamples_by_ratio() {
        let pcm = Pcm { rate: 44_100, samples: (0..441).map(|i| i as i16).collect() };
        let out = resample(&pcm, 22_050);
        assert_eq!(out.len(), 221);
        // A slow ramp passes the filter unchanged, away from its ends.
        assert!(out[50..170].iter().enumerate().all(|(i, &v)| (v - 2 * (i as i16 + 50)).abs() <= 2), "{out:?}");
    }
}
