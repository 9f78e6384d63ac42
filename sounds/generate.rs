//! Makes the built-in chimes in `sounds/` by additive synthesis: a few
//! sine partials with exponential decay each, written as 16-bit mono WAV at
//! 22 050 Hz (they are resampled to the session's rate when loaded).
//! Deterministic: run it again and the files are the same.
//!
//!     cargo run --example make-sounds
//!
//! The WAV files are committed and embedded in the binary; this program is
//! how they were made, not something the build runs.

use std::f64::consts::TAU;
use std::path::Path;

use backease::audio::wav::WavStream;

/// The rate the chimes were made at: the session's rate when they were.
const SAMPLE_RATE: u32 = 22_050;

/// One sine partial: frequency (Hz), amplitude, decay time constant (s).
struct Partial(f64, f64, f64);

fn render(seconds: f64, attack: f64, partials: &[(f64, Partial)]) -> Vec<f64> {
    let rate = SAMPLE_RATE as f64;
    let n = (seconds * rate) as usize;
    let fade = (0.05 * rate) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let mut v = 0.0;
            for (onset, Partial(f, a, tau)) in partials {
                if t >= *onset {
                    let u = t - onset;
                    let env = (u / attack).min(1.0) * (-u / tau).exp();
                    v += a * env * (TAU * f * u).sin();
                }
            }
            // End on silence, so nothing clicks when the chime stops.
            if i + fade > n { v * (n - i) as f64 / fade as f64 } else { v }
        })
        .collect()
}

fn normalize(v: Vec<f64>, peak_dbfs: f64) -> Vec<i16> {
    let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-9);
    let gain = 10f64.powf(peak_dbfs / 20.0) * 32767.0 / max;
    v.into_iter().map(|x| (x * gain).round() as i16).collect()
}

fn write(dir: &Path, name: &str, samples: &[i16]) -> std::io::Result<()> {
    let path = dir.join(format!("{name}.wav"));
    let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut w = WavStream::new(file, SAMPLE_RATE, 1, samples.len() as u64)?;
    w.write(samples)?;
    w.finish()?;
    println!("{} ({:.2} s)", path.display(), samples.len() as f64 / SAMPLE_RATE as f64);
    Ok(())
}

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds");

    // A clear small bell: inharmonic partials over A5, the high ones fading first.
    let f = 880.0;
    let bell = render(
        2.5,
        0.004,
        &[
            (0.0, Partial(f, 1.0, 0.9)),
            (0.0, Partial(f * 2.0, 0.5, 0.6)),
            (0.0, Partial(f * 2.76, 0.35, 0.4)),
            (0.0, Partial(f * 5.4, 0.15, 0.2)),
            (0.0, Partial(f * 0.5, 0.25, 1.1)),
        ],
    );
    write(&dir, "bell", &normalize(bell, -6.0))?;

    // A soft rising two-note chime (E5 then A5), nearly pure tones.
    let soft = render(
        1.5,
        0.02,
        &[
            (0.0, Partial(659.26, 1.0, 0.45)),
            (0.0, Partial(1318.5, 0.12, 0.25)),
            (0.28, Partial(880.0, 1.0, 0.5)),
            (0.28, Partial(1760.0, 0.12, 0.25)),
        ],
    );
    write(&dir, "soft", &normalize(soft, -9.0))?;

    // A short wooden tick for strokes.
    let tick = render(
        0.08,
        0.0005,
        &[(0.0, Partial(1900.0, 1.0, 0.012)), (0.0, Partial(3100.0, 0.5, 0.008)), (0.0, Partial(750.0, 0.6, 0.02))],
    );
    write(&dir, "tick", &normalize(tick, -8.0))?;

    // A low gong for the end: slow swell, long inharmonic ring.
    let g = 110.0;
    let gong = render(
        4.0,
        0.06,
        &[
            (0.0, Partial(g, 1.0, 1.6)),
            (0.0, Partial(g * 1.47, 0.6, 1.3)),
            (0.0, Partial(g * 2.09, 0.45, 1.0)),
            (0.0, Partial(g * 2.56, 0.3, 0.8)),
            (0.0, Partial(g * 3.0, 0.2, 0.6)),
            (0.0, Partial(g * 4.2, 0.1, 0.4)),
        ],
    );
    write(&dir, "gong", &normalize(gong, -6.0))?;
    Ok(())
}
