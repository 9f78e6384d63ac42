//! Band-limited resampling: chimes and sound files reach the session's
//! [`SAMPLE_RATE`] through here once, as they are loaded; speech, kept at
//! the engine's rate as a [`Clip`], each time a cue starts to play
//! ([`ToSession`]), which makes the same samples.
//!
//! Linear interpolation, which this replaces, dulled the voice (−4.5 dB at
//! 8–11 kHz going from 22.05 to 48 kHz), left images of it above 11 kHz, and
//! folded a 15 kHz tone of a 44.1 kHz file down to 7 kHz. rubato's FFT
//! resampler filters with a windowed sinc instead: flat to near the lower
//! rate's Nyquist frequency, and nothing above it.
//!
//! [`Resampler`] takes samples as they are decoded, so a long file is never
//! held at its own rate as well as at the session's. Only [`ToSession`]
//! runs on the audio thread: made before it, it allocates nothing there
//! but the clip it makes (once the first cue has grown its small buffers).

use std::sync::Arc;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

use crate::script::timeline::SAMPLE_RATE;

/// Input frames per FFT chunk: a good filter, and fast.
const CHUNK: usize = 1024;

/// The sample rates the resampler takes: whatever comes from outside (a
/// file's header, a voice's config) is checked against them first, since
/// a rate of 0 or of billions is no recording, only damage.
pub const RATES: std::ops::RangeInclusive<u32> = 1_000..=384_000;

/// How many samples `len` samples at `from` Hz become at `to` Hz.
pub fn length(len: u64, from: u32, to: u32) -> u64 {
    (len * to as u64).div_ceil(from as u64)
}

/// A whole clip of 16-bit samples from `from` Hz to `to` Hz.
pub fn clip(samples: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to {
        return samples.to_vec();
    }
    let mut r = Resampler::new(from, to);
    // Room for the filter's tail too (cut off at the end), so the clip is
    // never moved to a buffer twice its size while it is made.
    let tail = 2 * r.chunk_out.len() + r.delay;
    let mut out = Vec::with_capacity(length(samples.len() as u64, from, to) as usize + tail);
    r.whole(samples, &mut out);
    out
}

/// A mono clip at its own rate. Speech is kept as the engine made it (at
/// 22 050 Hz, less than half the samples it has at the session's rate) and
/// brought to the session's rate only as it starts to play ([`ToSession`]):
/// a session's memory holds its distinct clips at the lower rate, and one
/// or two playing at the higher. Chimes and sound files are at the
/// session's rate already.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    samples: Arc<[i16]>,
    rate: u32,
}

impl Clip {
    pub fn new(samples: Arc<[i16]>, rate: u32) -> Clip {
        Clip { samples, rate }
    }

    /// How many samples it takes at the session's rate: its length in a
    /// timeline.
    pub fn len(&self) -> u64 {
        length(self.samples.len() as u64, self.rate, SAMPLE_RATE)
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The samples at [`Clip::rate`].
    pub fn samples(&self) -> &Arc<[i16]> {
        &self.samples
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The clip at the session's rate, made with a resampler of its own:
    /// for a clip played once, off the audio thread (a notice).
    pub fn at_session_rate(&self) -> Arc<[i16]> {
        ToSession::default().clip(self)
    }
}

/// At the session's rate already.
impl From<Arc<[i16]>> for Clip {
    fn from(samples: Arc<[i16]>) -> Clip {
        Clip::new(samples, SAMPLE_RATE)
    }
}

/// At the session's rate already.
impl From<Vec<i16>> for Clip {
    fn from(samples: Vec<i16>) -> Clip {
        Clip::new(samples.into(), SAMPLE_RATE)
    }
}

/// Brings clips to the session's rate one at a time, as each starts to
/// play: the same samples [`clip`] makes, from one resampler used again
/// and again (no filter is designed twice), straight into the clip's own
/// memory: a clip costs one allocation of its size, and nothing else.
#[derive(Default)]
pub struct ToSession {
    resampler: Option<Resampler>,
    /// A few chunks' output at a time, on its way into the clip.
    buffer: Vec<i16>,
}

impl ToSession {
    /// Ready for clips at `rate`: the filter designed now, not when the
    /// first clip plays.
    pub fn for_rate(rate: u32) -> ToSession {
        ToSession { resampler: Some(Resampler::new(rate, SAMPLE_RATE)), buffer: Vec::new() }
    }

    /// `clip` at the session's rate: itself (shared, not copied) when it is
    /// at it already.
    pub fn clip(&mut self, clip: &Clip) -> Arc<[i16]> {
        if clip.rate == SAMPLE_RATE {
            return clip.samples.clone();
        }
        let r = match &mut self.resampler {
            Some(r) if r.from == clip.rate => {
                r.reset();
                r
            }
            slot => slot.insert(Resampler::new(clip.rate, SAMPLE_RATE)),
        };
        let mut out: Arc<[i16]> = std::iter::repeat_n(0, clip.len() as usize).collect();
        let into = Arc::get_mut(&mut out).expect("a clip just made is not shared");
        let mut at = 0;
        let buffer = &mut self.buffer;
        // The output so far, up to the clip's length: what `finish`
        // truncates to, never more.
        let mut take = |buffer: &mut Vec<i16>| {
            let n = buffer.len().min(into.len() - at);
            into[at..at + n].copy_from_slice(&buffer[..n]);
            at += n;
            buffer.clear();
        };
        for piece in clip.samples.chunks(CHUNK) {
            r.push_i16(piece, buffer);
            take(buffer);
        }
        r.finish(buffer);
        take(buffer);
        out
    }
}

/// Mono samples in (f32, full scale 1), 16-bit samples out, fed a piece at
/// a time.
pub struct Resampler {
    /// `None` when the rates are equal: samples pass straight through.
    inner: Option<Fft<f32>>,
    pub from: u32,
    to: u32,
    /// Input not yet resampled (less than a chunk, between calls).
    pending: Vec<f32>,
    /// Room for one chunk's output.
    chunk_out: Vec<f32>,
    /// Output frames still to drop: the filter's delay.
    delay: usize,
    /// Input frames taken, output frames given.
    taken: u64,
    given: u64,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Resampler {
        let inner = (from != to).then(|| {
            Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
                .expect("rates between 1 kHz and 384 kHz make a valid resampler")
        });
        let (chunk_out, delay) = match &inner {
            Some(r) => (vec![0.0; r.output_frames_max()], r.output_delay()),
            None => (Vec::new(), 0),
        };
        Resampler { inner, from, to, pending: Vec::new(), chunk_out, delay, taken: 0, given: 0 }
    }

    /// As it was new: what it was given before is forgotten.
    fn reset(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            r.reset();
            self.delay = r.output_delay();
        }
        self.pending.clear();
        self.taken = 0;
        self.given = 0;
    }

    /// All of `samples`, a chunk at a time (never all of it as floats at
    /// once), and the filter's tail: a whole clip, appended to `out`.
    fn whole(&mut self, samples: &[i16], out: &mut Vec<i16>) {
        for piece in samples.chunks(CHUNK) {
            self.push_i16(piece, out);
        }
        self.finish(out);
    }

    /// As [`Resampler::push`], for 16-bit samples.
    fn push_i16(&mut self, piece: &[i16], out: &mut Vec<i16>) {
        self.taken += piece.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(piece);
            self.given += piece.len() as u64;
            return;
        }
        self.pending.extend(piece.iter().map(|&s| s as f32 / 32768.0));
        self.drain_chunks(out);
    }

    /// Resamples what it can of `input`, appending to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<i16>) {
        self.taken += input.len() as u64;
        if self.inner.is_none() {
            out.extend(input.iter().map(|&x| quantize(x)));
            self.given += input.len() as u64;
            return;
        }
        self.pending.extend_from_slice(input);
        self.drain_chunks(out);
    }

    /// Resamples every whole chunk pending.
    fn drain_chunks(&mut self, out: &mut Vec<i16>) {
        let mut start = 0;
        while self.pending.len() - start >= CHUNK {
            self.process(start, None, out);
            start += CHUNK;
        }
        self.pending.drain(..start);
    }

    /// Resamples what is left, and the filter's tail, so that the output is
    /// exactly as long as the input at the new rate.
    pub fn finish(&mut self, out: &mut Vec<i16>) {
        if self.inner.is_none() {
            return;
        }
        let want = length(self.taken, self.from, self.to);
        if !self.pending.is_empty() {
            let left = self.pending.len();
            self.process(0, Some(left), out);
            self.pending.clear();
        }
        while self.given < want {
            self.process(0, Some(0), out);
        }
        let extra = (self.given - want) as usize;
        out.truncate(out.len() - extra);
        self.given = want;
    }

    /// One chunk from `pending[start..]`, or a partial one of `partial`
    /// frames (the rest taken as silence).
    fn process(&mut self, start: usize, partial: Option<usize>, out: &mut Vec<i16>) {
        let Some(r) = self.inner.as_mut() else { return };
        let frames = self.pending.len();
        let input = InterleavedSlice::new(&self.pending[..], 1, frames).expect("one channel");
        let out_frames = self.chunk_out.len();
        let mut output = InterleavedSlice::new_mut(&mut self.chunk_out[..], 1, out_frames).expect("one channel");
        let indexing =
            Indexing { input_offset: start, output_offset: 0, partial_len: partial, active_channels_mask: None };
        let (_, made) =
            r.process_into_buffer(&input, &mut output, Some(&indexing)).expect("buffers sized by the resampler");
        let skip = self.delay.min(made);
        self.delay -= skip;
        out.extend(self.chunk_out[skip..made].iter().map(|&x| quantize(x)));
        self.given += (made - skip) as u64;
    }
}

/// A sample of full scale 1 to 16 bits, rounded (`round` of the clamped
/// value, as rounding first and clamping after would give).
fn quantize(x: f32) -> i16 {
    crate::audio::format::round((x * 32768.0).clamp(-32768.0, 32767.0)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_and_clamps_as_f32_round_does() {
        let values = (-80_000..=80_000)
            .map(|i| i as f32 / 65_536.0)
            .chain((-3000..3000).map(|i| (i as f32 + 0.5) / 32768.0))
            .chain([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 1.0, -1.0, 7.0, -7.0, 32767.5 / 32768.0]);
        for x in values {
            assert_eq!(quantize(x), (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16, "{x:e}");
        }
    }

    /// A sine at `hz`, `level` of full scale, `len` samples at `rate`.
    pub fn tone(hz: f64, level: f64, rate: u32, len: usize) -> Vec<i16> {
        let w = 2.0 * std::f64::consts::PI * hz / rate as f64;
        (0..len).map(|i| ((i as f64 * w).sin() * level * 32767.0).round() as i16).collect()
    }

    /// The level of the `hz` component of `x`, in dB of a full-scale sine
    /// (Goertzel's filter over a Hann window).
    pub fn level_db(x: &[i16], rate: u32, hz: f64) -> f64 {
        let n = x.len() as f64;
        let w = 2.0 * std::f64::consts::PI * hz / rate as f64;
        let (mut s1, mut s2) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
            let s = v as f64 / 32767.0 * hann + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        // A full-scale sine gives an amplitude of n/4 through the Hann window.
        20.0 * (power.sqrt() / (n / 4.0)).log10()
    }

    #[test]
    fn a_clip_keeps_its_length_and_its_start() {
        #[track_caller]
        fn check(from: u32, to: u32, len: usize) {
            let x = tone(440.0, 0.5, from, len);
            let y = clip(&x, from, to);
            assert_eq!(y.len() as u64, length(len as u64, from, to), "{from} → {to}, {len}");
            // The filter's delay is taken off: a sine from zero starts near zero.
            if len > 100 {
                assert!(y[0].abs() < 400, "starts at {}", y[0]);
                let peak = y.iter().map(|v| v.unsigned_abs()).max().unwrap();
                assert!(peak.abs_diff(16384) < 400, "peak {peak}");
            }
        }
        check(22_050, 48_000, 22_050);
        check(44_100, 48_000, 1_000);
        check(16_000, 48_000, 3);
        check(96_000, 48_000, 50_000);
        check(48_000, 48_000, 10);
        check(22_050, 48_000, 0);
    }

    #[test]
    fn a_clip_brought_to_the_session_rate_as_it_plays_is_the_clip_resampled_at_load() {
        // One resampler for clip after clip, of every length: each the same
        // samples as a resampler of its own makes, so a render is the same
        // file whichever way its speech reaches the session's rate.
        let mut to_session = ToSession::for_rate(22_050);
        for (i, len) in [22_050, 1, 0, 3_000, 1_024, 1_025, 50_000, 700].into_iter().enumerate() {
            let x: Arc<[i16]> = tone(300.0 + 100.0 * i as f64, 0.5, 22_050, len).into();
            let played = to_session.clip(&Clip::new(x.clone(), 22_050));
            assert_eq!(*played, *clip(&x, 22_050, SAMPLE_RATE), "clip {i}, {len} samples");
            assert_eq!(played.len() as u64, Clip::new(x, 22_050).len());
        }
        // A clip of another rate gets a resampler of its own.
        let x: Arc<[i16]> = tone(440.0, 0.5, 16_000, 5_000).into();
        assert_eq!(*to_session.clip(&Clip::new(x.clone(), 16_000)), *clip(&x, 16_000, SAMPLE_RATE));
        // At the session's rate already: the very same samples, not a copy.
        let chime: Clip = tone(440.0, 0.5, SAMPLE_RATE, 1_000).into();
        assert!(Arc::ptr_eq(&to_session.clip(&chime), chime.samples()));
    }

    #[test]
    fn speech_keeps_its_highs_without_images() {
        // Speech is made at 22.05 kHz: a 10 kHz tone in it, brought to 48 kHz.
        let y = clip(&tone(10_000.0, 0.5, 22_050, 22_050), 22_050, 48_000);
        let middle = &y[4_800..43_200];
        let level = level_db(middle, 48_000, 10_000.0);
        assert!((level - 20.0 * 0.5f64.log10()).abs() < 0.5, "10 kHz at {level:.2} dB");
        // Linear interpolation left its image at 22 050 − 10 000 Hz.
        for image in [12_050.0, 14_000.0, 20_000.0] {
            let l = level_db(middle, 48_000, image);
            assert!(l - level < -60.0, "{image} Hz at {:.1} dB under the tone", l - level);
        }
    }

    #[test]
    fn a_high_tone_from_a_file_stays_where_it_was() {
        // A 15 kHz tone at 44.1 kHz, at 48 kHz: no fold-down to 7 kHz.
        let y = clip(&tone(15_000.0, 0.5, 44_100, 44_100), 44_100, 48_000);
        let middle = &y[4_800..43_200];
        let level = level_db(middle, 48_000, 15_000.0);
        assert!((level - 20.0 * 0.5f64.log10()).abs() < 0.5, "15 kHz at {level:.2} dB");
        let alias = level_db(middle, 48_000, 7_050.0);
        assert!(alias - level < -60.0, "7 kHz at {:.1} dB", alias - level);
    }
}
