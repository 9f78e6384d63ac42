//! A look-ahead peak limiter, a pure stage of stereo f32 frames: each
//! frame in gives one out, a few frames later, held under [`CEILING`], and
//! bit for bit what came in while nothing nears it. The session's stream
//! runs it last, so a volume above 1 is louder but never clipped. It knows
//! nothing of sessions, volumes or devices, and never allocates: it runs on
//! the audio thread.

use std::time::Duration;

use crate::script::timeline::SAMPLE_RATE;

/// Frames the limiter looks ahead (1.3 ms): long enough to bring the gain
/// down smoothly before a peak, short enough not to be felt on the keys.
pub const LOOKAHEAD: usize = 64;

/// The highest level the limiter lets through, -0.18 dBFS: above the peaks
/// of speech (espeak-ng's reach -0.4 dBFS) and chimes, so a session at
/// volume 1 or below passes through unchanged, unless clips sounding
/// together add up past it (which would otherwise clip).
pub const CEILING: f32 = 0.98;

/// How fast the limiter's gain comes back up once a peak has passed
/// (the time constant of an exponential): slow enough not to pump.
pub const RELEASE: Duration = Duration::from_millis(80);

/// A look-ahead peak limiter, the last stage of the stream: the volume can
/// go above 1 without a hard clip. For each sample it works out the gain
/// that keeps it under [`CEILING`]; the gain applied is the least of those
/// over the look-ahead window, averaged over the window again, so it ramps
/// down over [`LOOKAHEAD`] samples and reaches each peak's gain in time; it
/// then recovers over [`RELEASE`]. Below the ceiling the gain is exactly 1
/// and every sample passes through bit for bit. Both channels share one
/// gain (from the louder), so limiting never moves a sound sideways. Fixed
/// arrays, no allocation: it runs on the audio thread.
pub struct Limiter {
    /// The last `LOOKAHEAD` frames in; the oldest goes out next.
    delay: [[f32; 2]; LOOKAHEAD],
    /// The gain each of those samples needs.
    need: [f32; LOOKAHEAD],
    /// For each, the least gain needed in the window ending there.
    held: [f32; LOOKAHEAD],
    /// The sum of `held`, and how many of them are below 1.
    held_sum: f64,
    held_below: usize,
    /// The least gain needed in the window, and the sample it came from.
    least: f32,
    least_at: u64,
    /// Samples taken in so far.
    taken: u64,
    /// How many of the latest samples in were silence (both channels 0).
    zeros: u64,
    /// The gain applied, with the release.
    gain: f32,
    release: f32,
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter::new()
    }
}

impl Limiter {
    pub fn new() -> Limiter {
        Limiter {
            delay: [[0.0; 2]; LOOKAHEAD],
            need: [1.0; LOOKAHEAD],
            held: [1.0; LOOKAHEAD],
            held_sum: LOOKAHEAD as f64,
            held_below: 0,
            least: 1.0,
            least_at: 0,
            taken: 0,
            zeros: 0,
            gain: 1.0,
            release: 1.0 - (-1.0 / (RELEASE.as_secs_f32() * SAMPLE_RATE as f32)).exp(),
        }
    }

    /// Takes frame `n` in and gives out frame `n - LOOKAHEAD + 1`, limited.
    pub fn process(&mut self, x: [f32; 2]) -> [f32; 2] {
        let n = self.taken;
        let i = (n % LOOKAHEAD as u64) as usize;
        let peak = x[0].abs().max(x[1].abs());
        self.zeros = if x == [0.0; 2] { self.zeros + 1 } else { 0 };
        if self.held_below == 0 && self.gain == 1.0 && peak <= CEILING {
            // At rest, under the ceiling: what the general way below comes
            // to (the least needed is 1, so is every gain held), in a few
            // steps, since it is most of every session.
            self.delay[i] = x;
            self.need[i] = 1.0;
            self.least = 1.0;
            self.least_at = n;
            self.taken += 1;
            let [l, r] = self.delay[(i + 1) % LOOKAHEAD];
            return [l * self.gain, r * self.gain];
        }
        let need = if peak > CEILING { CEILING / peak } else { 1.0 };
        self.delay[i] = x;
        self.need[i] = need;
        if need <= self.least {
            self.least = need;
            self.least_at = n;
        } else if self.least_at + LOOKAHEAD as u64 <= n {
            // The least has left the window: find the next, the newest of equals.
            self.least = 1.0;
            for back in 0..LOOKAHEAD as u64 {
                let Some(m) = n.checked_sub(back) else { break };
                let v = self.need[(m % LOOKAHEAD as u64) as usize];
                if v < self.least {
                    self.least = v;
                    self.least_at = m;
                }
            }
            if self.least == 1.0 {
                self.least_at = n;
            }
        }
        let old = self.held[i];
        self.held_below = self.held_below + usize::from(self.least < 1.0) - usize::from(old < 1.0);
        self.held[i] = self.least;
        self.held_sum += self.least as f64 - old as f64;
        let target = if self.held_below == 0 {
            // Exactly 1 again, with no rounding left over from the sums.
            self.held_sum = LOOKAHEAD as f64;
            1.0
        } else {
            ((self.held_sum / LOOKAHEAD as f64) as f32).min(1.0)
        };
        self.gain = if target < self.gain { target } else { self.gain + (target - self.gain) * self.release };
        if target == 1.0 && self.gain > 1.0 - 1e-6 {
            self.gain = 1.0;
        }
        self.taken += 1;
        let [l, r] = self.delay[(i + 1) % LOOKAHEAD];
        [l * self.gain, r * self.gain]
    }
}

impl Limiter {
    /// [`Limiter::process`] for each frame of `frames`, in place: the same
    /// frames out. At rest with every frame under the ceiling (most of a
    /// session), that is the frames delayed by the look-ahead, copied in
    /// a run rather than weighed one by one.
    pub fn process_block(&mut self, frames: &mut [[f32; 2]]) {
        let at_rest = self.held_below == 0 && self.gain == 1.0;
        if !at_rest || frames.len() < LOOKAHEAD || frames.iter().any(|x| x[0].abs().max(x[1].abs()) > CEILING) {
            for x in frames.iter_mut() {
                *x = self.process(*x);
            }
            return;
        }
        // What `process` would do frame by frame, at rest: each frame goes
        // into the delay line, the oldest comes out, every need stays 1.
        let m = frames.len();
        let n = self.taken;
        let slot = |k: u64| (k % LOOKAHEAD as u64) as usize;
        let mut last = [[0.0f32; 2]; LOOKAHEAD];
        last.copy_from_slice(&frames[m - LOOKAHEAD..]);
        let trailing_zeros = frames.iter().rev().take_while(|x| **x == [0.0; 2]).count() as u64;
        frames.copy_within(..m - (LOOKAHEAD - 1), LOOKAHEAD - 1);
        for (j, out) in frames[..LOOKAHEAD - 1].iter_mut().enumerate() {
            *out = self.delay[slot(n + 1 + j as u64)];
        }
        for (j, x) in last.into_iter().enumerate() {
            self.delay[slot(n + (m - LOOKAHEAD + j) as u64)] = x;
        }
        self.zeros = if trailing_zeros == m as u64 { self.zeros + trailing_zeros } else { trailing_zeros };
        self.taken += m as u64;
        self.least = 1.0;
        self.least_at = self.taken - 1;
    }

    /// Whether the limiter is at rest on silence: its whole look-ahead
    /// holds silence and its gain is exactly 1, so silence in gives
    /// silence out, and changes nothing but the count (see
    /// [`Limiter::pass_silence`]).
    pub fn is_at_rest(&self) -> bool {
        self.zeros >= LOOKAHEAD as u64 && self.held_below == 0 && self.gain == 1.0
    }

    /// Takes `n` frames of silence in at rest, as `n` calls of
    /// [`Limiter::process`] would: each finds the gain it needs (1) the
    /// least in the window, so only the counts move, and each gives out a
    /// frame of silence.
    pub fn pass_silence(&mut self, n: u64) {
        debug_assert!(self.is_at_rest() && n > 0);
        self.taken += n;
        self.zeros += n;
        self.least_at = self.taken - 1;
    }

    /// How many frames it has taken in so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of a tone whose level swells past the ceiling and back, with
    /// silence between: the limiter at rest, at work and recovering.
    fn swelling(n: usize) -> Vec<[f32; 2]> {
        (0..n)
            .map(|i| {
                let level = match (i / 700) % 5 {
                    0 => 0.0,
                    1 => 0.5,
                    2 => 1.6,
                    3 => 0.9,
                    _ => 0.97,
                };
                let v = level * (i as f32 * 0.05).sin();
                [v, -0.5 * v]
            })
            .collect()
    }

    #[test]
    fn a_block_gives_what_frame_after_frame_gives() {
        let input = swelling(20_000);
        let mut one = Limiter::new();
        let want: Vec<[f32; 2]> = input.iter().map(|&x| one.process(x)).collect();
        for block in [1, 63, 64, 65, 500, 4096] {
            let mut limiter = Limiter::new();
            let mut got = input.clone();
            for piece in got.chunks_mut(block) {
                limiter.process_block(piece);
            }
            assert!(got == want, "blocks of {block}");
            assert_eq!(limiter.taken(), one.taken());
            assert_eq!(limiter.is_at_rest(), one.is_at_rest());
        }
    }
}
