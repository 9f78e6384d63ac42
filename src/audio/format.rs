//! The session's format, which every sound reaches before it is mixed:
//! f32 frames of two channels at the timeline's rate, 48 kHz
//! ([`SAMPLE_RATE`]), written out as 16-bit samples.

pub use crate::script::timeline::SAMPLE_RATE;

/// The stream's channels: left and right.
pub const CHANNELS: u16 = 2;

/// Quantizes a stream sample the way a 16-bit WAV stores it.
pub fn to_i16(v: f32) -> i16 {
    let x = v * 32767.0;
    if x.is_nan() || x.abs() >= 32768.0 {
        return x.round() as i16;
    }
    // `x.round()`, without a call to libm's `roundf` for every sample (the
    // x86-64 baseline has no rounding instruction): the conversion
    // truncates, and the part cut off, exact here, says which way to go.
    let t = x as i32;
    let cut = x - t as f32;
    (t + i32::from(cut >= 0.5) - i32::from(cut <= -0.5)).clamp(i16::MIN.into(), i16::MAX.into()) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

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
