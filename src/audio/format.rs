//! The session's format, which every sound reaches before it is mixed:
//! f32 frames of two channels at the timeline's rate, 48 kHz
//! ([`SAMPLE_RATE`]), written out as 16-bit samples.

pub use crate::script::timeline::SAMPLE_RATE;

/// The stream's channels: left and right.
pub const CHANNELS: u16 = 2;

/// `x.round()` as an integer, for `|x| < 2^24` (0 for NaN), without a
/// call to libm's `roundf` for every sample (the x86-64 baseline has no
/// rounding instruction): the conversion truncates, and the part cut off,
/// exact here, says which way to go.
#[inline]
pub fn round(x: f32) -> i32 {
    let t = x as i32;
    let cut = x - t as f32;
    t + i32::from(cut >= 0.5) - i32::from(cut <= -0.5)
}

/// Quantizes a stream sample the way a 16-bit WAV stores it.
pub fn to_i16(v: f32) -> i16 {
    let x = v * 32767.0;
    if x.is_nan() || x.abs() >= 32768.0 {
        return x.round() as i16;
    }
    round(x).clamp(i16::MIN.into(), i16::MAX.into()) as i16
}

/// Frames clamped to full scale, quantized as [`to_i16`] quantizes them,
/// into `out` (left, right, left, …): the same samples, in a loop the
/// compiler can run several at a time, since a clamped sample needs none
/// of `to_i16`'s care for the out of range.
pub fn frames_to_i16(frames: &[[f32; 2]], out: &mut [i16]) {
    for (o, x) in out.chunks_exact_mut(2).zip(frames) {
        o[0] = round(x[0].clamp(-1.0, 1.0) * 32767.0) as i16;
        o[1] = round(x[1].clamp(-1.0, 1.0) * 32767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_to_i16_quantizes_as_to_i16_does_after_a_clamp() {
        let values: Vec<f32> = (-80_000..=80_000)
            .map(|i| i as f32 / 65_534.0)
            .chain((-3000..3000).map(|i| (i as f32 + 0.5) / 32767.0))
            .chain([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 7.0, -7.0])
            .collect();
        let frames: Vec<[f32; 2]> = values.iter().map(|&v| [v, -v]).collect();
        let mut out = vec![0i16; frames.len() * 2];
        frames_to_i16(&frames, &mut out);
        for (x, o) in frames.iter().zip(out.chunks_exact(2)) {
            assert_eq!(o, [to_i16(x[0].clamp(-1.0, 1.0)), to_i16(x[1].clamp(-1.0, 1.0))], "{x:?}");
        }
    }

    #[test]
    fn to_i16_rounds_as_f32_round_does() {
        let edges = [0.0, -0.0, 1.0, -1.0, 0.5 / 32767.0, -0.5 / 32767.0, 1.5 / 32767.0, 2.0, -2.0, f32::NAN];
        let steps = (-70_000..=70_000).map(|i| i as f32 / 65_534.0);
        let near_halves = (-3000..3000).flat_map(|i| {
            let half = (i as f32 + 0.5) / 32767.0;
            [half, f32::from_bits(half.to_bits() + 1), f32::from_bits(half.to_bits() - 1)]
        });
        for v in edges.into_iter().chain(steps).chain(near_halves).chain([f32::INFINITY, f32::NEG_INFINITY]) {
            assert_eq!(to_i16(v), (v * 32767.0).round() as i16, "{v:e}");
        }
    }
}
