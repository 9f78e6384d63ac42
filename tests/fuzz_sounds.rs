//! Damaged sound files fed to the decoder: real WAV, FLAC, MP3, OGG Vorbis
//! and Opus files made by sox and ffmpeg, then mutated (bit flips,
//! truncations, header fields and chunk sizes overwritten, bytes inserted
//! and removed). Loading must never panic and never hang: every case ends
//! in samples or an error, within a bound.
//!
//! The test runs a fixed set of cases; `benches/fuzz-sounds.sh` runs
//! thousands through the same code with `BACKEASE_FUZZ_CASES` and
//! `BACKEASE_FUZZ_SEED`, and prints the figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sound_files::{ffmpeg, make};
use crate::support::Sandbox;

/// SplitMix64: small, and the same cases on every machine for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Values that break parsers: zeros, ones, signs and extremes.
const INTERESTING: [u32; 10] = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

/// Where the sizes and counts are in the formats' headers.
const MARKERS: [&[u8]; 9] = [b"RIFF", b"fmt ", b"data", b"OggS", b"fLaC", b"Xing", b"Info", b"OpusHead", b"\x01vorbis"];

/// One to three mutations of `seed`.
pub fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        match rng.below(6) {
            // Bit flips anywhere.
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            // Cut short.
            1 => b.truncate(rng.below(b.len())),
            // A header field overwritten with a value that breaks parsers.
            2 => {
                let i = rng.below(b.len().min(128));
                let v = if rng.below(2) == 0 { INTERESTING[rng.below(INTERESTING.len())] } else { rng.next() as u32 };
                let width = [1, 2, 4][rng.below(3)];
                for (k, byte) in v.to_le_bytes().iter().take(width).enumerate() {
                    if let Some(x) = b.get_mut(i + k) {
                        *x = *byte;
                    }
                }
            }
            // A chunk's size or a header's count after a marker.
            3 => {
                let found: Vec<usize> = MARKERS
                    .iter()
                    .flat_map(|m| {
                        b.windows(m.len()).enumerate().filter(move |(_, w)| w == m).map(move |(i, _)| i + m.len())
                    })
                    .take(64)
                    .collect();
                if let Some(&at) = found.get(rng.below(found.len())) {
                    let at = at + rng.below(24);
                    let v =
                        if rng.below(2) == 0 { INTERESTING[rng.below(INTERESTING.len())] } else { rng.next() as u32 };
                    for (k, byte) in v.to_le_bytes().iter().enumerate() {
                        if let Some(x) = b.get_mut(at + k) {
                            *x = *byte;
                        }
                    }
                }
            }
            // Random bytes inserted.
            4 => {
                let at = rng.below(b.len() + 1);
                let junk: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            // A range removed, or repeated.
            _ => {
                let at = rng.below(b.len());
                let len = 1 + rng.below((b.len() - at).min(4096));
                if rng.below(2) == 0 {
                    b.drain(at..at + len);
                } else {
                    let copy = b[at..at + len].to_vec();
                    b.splice(at..at, copy);
                }
            }
        }
    }
    b
}

/// The seed files: every advertised format, short.
pub fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let sox = |rate: u32, ch: u32, enc: &str| format!("sox -n -r {rate} -c {ch} {enc} OUT synth 0.3 sine 440 vol 0.5");
    let made = [
        ("s16.wav", sox(22_050, 2, "-b 16")),
        ("u8.wav", sox(8_000, 1, "-b 8")),
        ("s24.wav", sox(48_000, 1, "-b 24")),
        ("f32.wav", sox(44_100, 2, "-e floating-point -b 32")),
        ("seed.flac", sox(44_100, 2, "-b 16")),
        ("seed.mp3", ffmpeg(0.3, 44_100, 2, "libmp3lame")),
        ("vorbis.ogg", sox(22_050, 1, "")),
        ("seed.opus", ffmpeg(0.3, 48_000, 2, "libopus")),
    ];
    made.iter().map(|(name, cmd)| (name.to_string(), std::fs::read(make(dir, name, cmd)).unwrap())).collect()
}

/// What the cases came to.
#[derive(Debug, Default)]
pub struct Figures {
    pub cases: usize,
    pub decoded: usize,
    pub refused: usize,
    /// Decoder panics caught and reported as errors.
    pub contained: usize,
    /// Panics that got out of the loader: must be none.
    pub panics: Vec<String>,
    /// Cases that did not end within the bound: must be none.
    pub hangs: Vec<String>,
    pub slowest: (Duration, String),
}

/// Runs `count` mutated cases from `seed`, each on a thread of its own
/// with `bound` to finish.
pub fn run(dir: &Path, count: usize, seed: u64, bound: Duration) -> Figures {
    let seeds = seeds(dir);
    let mut rng = Rng(seed);
    let mut f = Figures::default();
    for case in 0..count {
        let (name, original) = &seeds[case % seeds.len()];
        let bytes = mutate(original, &mut rng);
        // A name of its own per case: the loader remembers files by name.
        let path: PathBuf = dir.join(format!("case-{case}-{name}"));
        std::fs::write(&path, &bytes).unwrap();
        let label = format!("case {case} ({name}, {} bytes, seed {seed})", bytes.len());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(|| backease::audio::sound::load_file(&p));
            let _ = tx.send(result);
        });
        f.cases += 1;
        match rx.recv_timeout(bound) {
            Ok(Ok(Ok(_))) => f.decoded += 1,
            Ok(Ok(Err(message))) => {
                f.refused += 1;
                if message.message.contains("the decoder failed") {
                    f.contained += 1;
                    keep(&path);
                }
            }
            Ok(Err(_)) => f.panics.push(label.clone()),
            Err(_) => {
                // Keep the file to reproduce; the thread is left behind.
                f.hangs.push(label.clone());
                continue;
            }
        }
        let took = started.elapsed();
        if took > Duration::from_millis(500) {
            keep(&path);
        }
        if took > f.slowest.0 {
            f.slowest = (took, label);
        }
        let _ = std::fs::remove_file(&path);
    }
    f
}

/// To look into a case: with `BACKEASE_FUZZ_KEEP=DIR`, the files that made
/// a decoder panic or took over half a second are copied there.
fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("BACKEASE_FUZZ_KEEP") {
        let _ = std::fs::copy(path, Path::new(&dir).join(path.file_name().unwrap()));
    }
}

#[test]
fn mutated_sound_files_never_panic_or_hang() {
    let sb = Sandbox::new();
    let count = std::env::var("BACKEASE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(400);
    let seed = std::env::var("BACKEASE_FUZZ_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(7);
    let started = Instant::now();
    let f = run(sb.path(), count, seed, Duration::from_secs(10));
    eprintln!(
        "fuzz-sounds: {} cases in {:.1} s: {} decoded, {} refused ({} decoder panics contained), {} panics, {} hangs; slowest {} ms: {}",
        f.cases,
        started.elapsed().as_secs_f64(),
        f.decoded,
        f.refused,
        f.contained,
        f.panics.len(),
        f.hangs.len(),
        f.slowest.0.as_millis(),
        f.slowest.1
    );
    assert!(f.panics.is_empty(), "panics: {:?}", f.panics);
    assert!(f.hangs.is_empty(), "hangs (over 10 s): {:?}", f.hangs);
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert!(f.decoded > count / 10 && f.refused > count / 10, "{f:?}");
}
