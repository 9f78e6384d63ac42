//! Loudness as a listener hears it: EBU R128 integrated loudness (ITU-R
//! BS.1770 K-weighting and gating) and an estimate of true peak, and the
//! gain that brings a clip to a target.
//!
//! Every clip of a session is normalized once, when the session is
//! prepared: the cues to one level, the chimes and sound files a few
//! decibels under it, so no cue jumps out and no bell startles. This module
//! measures and scales samples; it does not mix or limit.

use std::sync::Arc;

/// Where the voice sits, in LUFS: a quiet, intimate level for headphones
/// that leaves room above for the controls and the volume keys.
pub const SPEECH_LUFS: f64 = -20.0;

/// Chimes and the user's sounds: under the voice, so a bell after a long
/// silence does not startle.
pub const CHIME_LUFS: f64 = -24.0;

/// No clip's true peak goes above this, in dBTP; a clip that would is
/// brought down further, short of its target.
pub const CEILING_DBTP: f64 = -1.0;

/// A biquad filter, direct form I.
#[derive(Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 3],
}

/// A [`Biquad`] running over a signal, a sample at a time.
struct Running {
    f: Biquad,
    x: [f64; 2],
    y: [f64; 2],
}

impl Running {
    fn new(f: Biquad) -> Running {
        Running { f, x: [0.0; 2], y: [0.0; 2] }
    }

    fn next(&mut self, v: f64) -> f64 {
        let f = &self.f;
        let y = f.b[0] * v + f.b[1] * self.x[0] + f.b[2] * self.x[1] - f.a[1] * self.y[0] - f.a[2] * self.y[1];
        self.x = [v, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// BS.1770's two K-weighting stages (a high shelf for the head, a high
/// pass), derived for any sample rate from the analog prototypes, as
/// libebur128 does; at 48 kHz they are the standard's coefficients.
fn k_weighting(rate: u32) -> [Biquad; 2] {
    use std::f64::consts::PI;
    let rate = rate as f64;
    let (f0, gain, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (PI * f0 / rate).tan();
    let vh = 10f64.powf(gain / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
        a: [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass = Biquad { b: [1.0, -2.0, 1.0], a: [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0] };
    [shelf, high_pass]
}

/// Integrated loudness of mono samples, in LUFS; `None` for a clip that is
/// silent (every block under the absolute gate).
///
/// Memory is a number per 100 ms, not per sample: a ten-minute sound file
/// is measured in a few kilobytes beside its samples.
pub fn integrated(samples: &[i16], rate: u32) -> Option<f64> {
    let [shelf, high_pass] = k_weighting(rate);
    let (mut shelf, mut high_pass) = (Running::new(shelf), Running::new(high_pass));
    // Mean squares of 400 ms blocks every 100 ms; a clip shorter than one
    // block is one block. The K-weighted squares are summed from the start,
    // and the sum kept where blocks begin and where they end.
    let block = (rate as usize * 4 / 10).max(1);
    let step = (rate as usize / 10).max(1);
    let n = samples.len();
    let (mut at_starts, mut at_ends) = (Vec::with_capacity(n / step + 2), Vec::with_capacity(n / step + 2));
    let mut sum = 0.0;
    for (i, &s) in samples.iter().enumerate() {
        if i.is_multiple_of(step) {
            at_starts.push(sum);
        }
        if i >= block && (i - block).is_multiple_of(step) {
            at_ends.push(sum);
        }
        let v = high_pass.next(shelf.next(s as f64 / 32768.0));
        sum += v * v;
    }
    if n >= block && (n - block).is_multiple_of(step) {
        at_ends.push(sum);
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let blocks: Vec<f64> = if n <= block {
        vec![sum / n as f64]
    } else {
        (0..=(n - block) / step).map(|i| (at_ends[i] - at_starts[i]) / block as f64).collect()
    };
    let lufs = |z: f64| -0.691 + 10.0 * z.log10();
    let gated = |threshold: f64| -> Vec<f64> { blocks.iter().copied().filter(|&z| lufs(z) > threshold).collect() };
    let absolute = gated(-70.0);
    if absolute.is_empty() {
        return None;
    }
    let relative = lufs(mean(&absolute)) - 10.0;
    let kept = gated(relative.max(-70.0));
    Some(lufs(mean(&kept)))
}

/// True peak in dBTP, estimated by 4× oversampling with a windowed-sinc
/// interpolator (as BS.1770 annex 2 describes); `-inf` for silence.
///
/// Only the stretches near the sample peak are oversampled: between two
/// samples both under half the peak, the signal cannot rise to it.
pub fn true_peak(samples: &[i16]) -> f64 {
    const TAPS: isize = 12;
    const PHASES: usize = 4;
    let sample_peak = samples.iter().map(|&s| (s as f64).abs()).fold(0.0, f64::max) / 32768.0;
    // The interpolating kernel for each fractional position.
    let kernel: Vec<Vec<f64>> = (1..PHASES)
        .map(|p| {
            let frac = p as f64 / PHASES as f64;
            (-TAPS + 1..=TAPS)
                .map(|i| {
                    let t = i as f64 - frac;
                    let pi_t = std::f64::consts::PI * t;
                    let sinc = if t == 0.0 { 1.0 } else { pi_t.sin() / pi_t };
                    sinc * (0.5 + 0.5 * (pi_t / TAPS as f64).cos())
                })
                .collect()
        })
        .collect();
    let at = |i: isize| samples.get(i as usize).map_or(0.0, |&s| s as f64 / 32768.0);
    let mut peak = sample_peak;
    for n in 0..samples.len() as isize {
        if at(n).abs().max(at(n + 1).abs()) < sample_peak / 2.0 {
            continue;
        }
        for taps in &kernel {
            let v: f64 = taps.iter().zip(-TAPS + 1..=TAPS).map(|(k, i)| k * at(n + i)).sum();
            peak = peak.max(v.abs());
        }
    }
    20.0 * peak.log10()
}

/// How far [`normalize`] may limit a cue's peaks, in dB, before it turns
/// the whole cue down instead: a voice's few sharp consonants (a "B", a
/// "T") can stand 20 dB over its loudness, and turning the whole cue down
/// for them left it 2 dB under the others. A few milliseconds of gain
/// reduction on those peaks is not heard; more would flatten the voice.
pub const SPEECH_PEAK_LIMIT_DB: f64 = 6.0;

/// How far under [`CEILING_DBTP`] the peak limiter holds the samples, in
/// dB: room for the peaks between them, which it does not see.
const LIMIT_MARGIN_DB: f64 = 0.5;

/// The limiter's attack (its gain is down before a peak comes) and release
/// (the time constant of its way back up), in seconds.
const LIMIT_ATTACK: f64 = 0.0015;
const LIMIT_RELEASE: f64 = 0.05;

/// The clip scaled to `target` LUFS, its peaks held under
/// [`CEILING_DBTP`]: limited by up to `limit_db` where they pass it (see
/// [`SPEECH_PEAK_LIMIT_DB`]), and the whole clip turned down, short of its
/// target, for what limiting does not reach. Silence is left alone.
pub fn normalize(samples: &[i16], rate: u32, target: f64, limit_db: f64) -> Arc<[i16]> {
    let Some(loudness) = integrated(samples, rate) else { return samples.into() };
    let headroom = CEILING_DBTP - true_peak(samples);
    let gain_db = (target - loudness).min(headroom + limit_db.max(0.0));
    let gain = 10f64.powf(gain_db / 20.0);
    let mut scaled: Vec<f64> = samples.iter().map(|&s| s as f64 * gain).collect();
    if gain_db > headroom {
        let ceiling = 32768.0 * 10f64.powf((CEILING_DBTP - LIMIT_MARGIN_DB) / 20.0);
        limit_peaks(&mut scaled, ceiling, rate);
    }
    let out: Vec<i16> = scaled.iter().map(|&v| v.round().clamp(-32768.0, 32767.0) as i16).collect();
    // What is left over the ceiling between the samples: the whole clip
    // down by that much (a fraction of a decibel, where it is anything).
    let over = true_peak(&out) - CEILING_DBTP;
    if over <= 0.0 {
        return out.into();
    }
    let down = 10f64.powf(-over / 20.0);
    out.iter().map(|&s| (s as f64 * down).round() as i16).collect()
}

/// Holds every sample of `x` under `ceiling` with a gain that comes down
/// smoothly over [`LIMIT_ATTACK`] before each peak and goes back up over
/// [`LIMIT_RELEASE`] after it; where no sample nears the ceiling the gain
/// is exactly 1. The gain each sample needs is spread back over the attack
/// (the least needed in the window ahead), averaged over the attack again
/// (a ramp rather than a step), then let up no faster than the release.
fn limit_peaks(x: &mut [f64], ceiling: f64, rate: u32) {
    let attack = ((LIMIT_ATTACK * rate as f64).ceil() as usize).max(1);
    let mut ahead = vec![1.0f64; x.len()];
    for (i, v) in x.iter().enumerate() {
        if v.abs() > ceiling {
            let need = ceiling / v.abs();
            for a in &mut ahead[(i + 1).saturating_sub(attack)..=i] {
                *a = a.min(need);
            }
        }
    }
    let release = 1.0 - (-1.0 / (LIMIT_RELEASE * rate as f64)).exp();
    let (mut window, mut gain) = (attack as f64, 1.0f64);
    for i in 0..x.len() {
        // The mean of `ahead` over the `attack` samples ending at i (1
        // before the start).
        window += ahead[i] - if i >= attack { ahead[i - attack] } else { 1.0 };
        let ramp = (window / attack as f64).min(ahead[i]);
        gain = ramp.min(gain + (1.0 - gain) * release);
        x[i] *= gain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, seconds: f64, rate: u32) -> Vec<i16> {
        (0..(seconds * rate as f64) as usize)
            .map(|i| (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as i16)
            .collect()
    }

    /// The measure as BS.1770 writes it: every sample filtered into an
    /// array, every block summed on its own. What `integrated` does in a
    /// number per 100 ms must give the same.
    fn direct(samples: &[i16], rate: u32) -> Option<f64> {
        let mut x: Vec<f64> = samples.iter().map(|&s| s as f64 / 32768.0).collect();
        for f in k_weighting(rate) {
            let mut r = Running::new(f);
            x.iter_mut().for_each(|v| *v = r.next(*v));
        }
        let (block, step) = ((rate as usize * 4 / 10).max(1), (rate as usize / 10).max(1));
        let squares: Vec<f64> = x.iter().map(|v| v * v).collect();
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let blocks: Vec<f64> = if squares.len() <= block {
            vec![mean(&squares)]
        } else {
            (0..=(squares.len() - block) / step).map(|i| mean(&squares[i * step..i * step + block])).collect()
        };
        let lufs = |z: f64| -0.691 + 10.0 * z.log10();
        let gated = |t: f64| -> Vec<f64> { blocks.iter().copied().filter(|&z| lufs(z) > t).collect() };
        let absolute = gated(-70.0);
        if absolute.is_empty() {
            return None;
        }
        Some(lufs(mean(&gated((lufs(mean(&absolute)) - 10.0).max(-70.0)))))
    }

    #[test]
    fn integrated_agrees_with_the_direct_measure() {
        // A tone that swells and fades, with a silent gap: the gates matter.
        let clip = |rate: u32, seconds: f64| -> Vec<i16> {
            let n = (seconds * rate as f64) as usize;
            (0..n)
                .map(|i| {
                    let t = i as f64 / rate as f64;
                    let env = if (1.0..1.5).contains(&t) { 0.0 } else { (t * 0.7).sin().abs() };
                    (env * 20000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                })
                .collect()
        };
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000] {
            for seconds in [0.0, 0.05, 0.4, 0.41, 3.0, 7.3] {
                let c = clip(rate, seconds);
                match (integrated(&c, rate), direct(&c, rate)) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{rate} Hz, {seconds} s: {a} against {b}"),
                    (a, b) => assert_eq!(a, b, "{rate} Hz, {seconds} s"),
                }
            }
        }
    }

    #[track_caller]
    fn check_close(got: f64, want: f64, tolerance: f64) {
        assert!((got - want).abs() <= tolerance, "got {got:.3}, want {want:.3} ± {tolerance}");
    }

    #[test]
    fn a_full_scale_1k_sine_is_minus_3_lufs_at_any_rate() {
        // BS.1770's calibration: a 0 dBFS 1 kHz sine in one channel reads
        // -3.01 LUFS; half the amplitude, 6 dB less.
        for rate in [22_050, 44_100, 48_000] {
            check_close(integrated(&sine(1000.0, 1.0, 3.0, rate), rate).unwrap(), -3.01, 0.1);
            check_close(integrated(&sine(1000.0, 0.5, 3.0, rate), rate).unwrap(), -9.03, 0.1);
        }
    }

    #[test]
    fn k_weighting_favours_the_treble_and_cuts_the_bass() {
        let rate = 48_000;
        let at = |f| integrated(&sine(f, 0.5, 3.0, rate), rate).unwrap();
        // The head's shelf: about +4 dB at 4 kHz and above; the high pass:
        // a 30 Hz tone counts for several dB less.
        check_close(at(8000.0) - at(1000.0), 3.3, 0.6);
        assert!(at(30.0) < at(1000.0) - 3.0);
    }

    #[test]
    fn gating_ignores_silence_and_quiet_tails() {
        let rate = 22_050;
        let tone = sine(1000.0, 0.5, 2.0, rate);
        let mut padded = vec![0; rate as usize * 3];
        padded.extend_from_slice(&tone);
        padded.extend(vec![0; rate as usize * 3]);
        // Six seconds of silence around two of tone: only the blocks that
        // straddle an edge count against it.
        check_close(integrated(&padded, rate).unwrap(), integrated(&tone, rate).unwrap(), 1.0);
        assert_eq!(integrated(&[0; 30_000], rate), None);
    }

    #[test]
    fn true_peak_sees_between_the_samples() {
        // A sine at a quarter of the rate, sampled at 45° of phase: every
        // sample is at 0.707 of the real peak.
        let samples: Vec<i16> = (0..4800)
            .map(|i| {
                (0.9 * 32767.0 * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin()) as i16
            })
            .collect();
        let sample_peak = 20.0 * (samples.iter().map(|&s| (s as f64).abs()).fold(0.0, f64::max) / 32768.0).log10();
        check_close(sample_peak, 20.0 * (0.9 * std::f64::consts::FRAC_1_SQRT_2).log10(), 0.05);
        check_close(true_peak(&samples), 20.0 * 0.9f64.log10(), 0.3);
    }

    #[test]
    fn normalize_meets_the_target_under_the_ceiling() {
        let rate = 22_050;
        let quiet = sine(440.0, 0.05, 2.0, rate);
        let loud = normalize(&quiet, rate, SPEECH_LUFS, 0.0);
        check_close(integrated(&loud, rate).unwrap(), SPEECH_LUFS, 0.1);
        // A target louder than the ceiling allows stops at the ceiling.
        let capped = normalize(&quiet, rate, 0.0, 0.0);
        check_close(true_peak(&capped), CEILING_DBTP, 0.1);
        // Silence stays silence.
        assert!(normalize(&[0; 1000], rate, SPEECH_LUFS, SPEECH_PEAK_LIMIT_DB).iter().all(|&s| s == 0));
    }

    /// A tone (at -29 LUFS) with a few sharp clicks 21 dB over its
    /// loudness, as a voice's plosives can stand.
    fn tone_with_clicks(rate: u32) -> Vec<i16> {
        let mut clip = sine(440.0, 0.05, 3.0, rate);
        for at in [0.5, 1.2, 2.4] {
            clip[(at * rate as f64) as usize] = 13_000;
        }
        clip
    }

    #[test]
    fn peaks_far_over_the_voice_are_limited_not_the_whole_cue_turned_down() {
        let rate = 22_050;
        let clip = tone_with_clicks(rate);
        let turned_down = normalize(&clip, rate, SPEECH_LUFS, 0.0);
        assert!(integrated(&turned_down, rate).unwrap() < SPEECH_LUFS - 1.5, "the old way falls short");
        let limited = normalize(&clip, rate, SPEECH_LUFS, SPEECH_PEAK_LIMIT_DB);
        check_close(integrated(&limited, rate).unwrap(), SPEECH_LUFS, 0.3);
        assert!(true_peak(&limited) <= CEILING_DBTP + 1e-9, "true peak {}", true_peak(&limited));
        // Away from the clicks the tone is only scaled: its samples are
        // those of the tone normalized without any click.
        let clean = normalize(&sine(440.0, 0.05, 3.0, rate), rate, SPEECH_LUFS, SPEECH_PEAK_LIMIT_DB);
        let gain = |a: &[i16], b: &[i16]| {
            let peak = |c: &[i16]| c.iter().map(|s| s.unsigned_abs()).max().unwrap() as f64;
            peak(a) / peak(b)
        };
        let quiet_stretch = (rate as usize * 2 / 10)..(rate as usize * 4 / 10);
        check_close(gain(&limited[quiet_stretch.clone()], &clean[quiet_stretch]), 1.0, 0.05);
    }

    #[test]
    fn peaks_past_the_limit_turn_the_whole_down_as_before() {
        // A click 29 dB over the tone's loudness: limiting stops at its
        // 6 dB, and the rest comes off the whole cue.
        let rate = 22_050;
        let mut clip = sine(440.0, 0.05, 3.0, rate);
        clip[rate as usize] = 32000;
        let limited = normalize(&clip, rate, SPEECH_LUFS, SPEECH_PEAK_LIMIT_DB);
        assert!(true_peak(&limited) <= CEILING_DBTP + 1e-9);
        let turned_down = integrated(&normalize(&clip, rate, SPEECH_LUFS, 0.0), rate).unwrap();
        check_close(integrated(&limited, rate).unwrap() - turned_down, SPEECH_PEAK_LIMIT_DB, 0.6);
    }
}
