//! A stand-in engine for unit tests: each text becomes a tone burst whose
//! length grows with the text. Deterministic and instant; never used by the
//! program itself.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::ENGINE_RATE;
use super::{Engine, SpeechError};

#[derive(Debug, Default)]
pub struct FakeEngine {
    pub fail_on: Option<String>,
    pub calls: AtomicUsize,
}

impl FakeEngine {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Engine for FakeEngine {
    fn key(&self) -> String {
        "fake".into()
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.fail_on.as_deref() == Some(text) {
            return Err(SpeechError::new(format!("fake engine refused \"{text}\"")));
        }
        // 100 ms per character, a 440 Hz tone that never starts at zero, so
        // its first sample is easy to find.
        let n = text.chars().count() * ENGINE_RATE as usize / 10;
        Ok((0..n)
            .map(|i| {
                let t = i as f32 / ENGINE_RATE as f32;
                (8000.0 * (std::f32::consts::TAU * 440.0 * t).cos()) as i16
            })
            .collect())
    }
}
