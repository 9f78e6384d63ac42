//! The built-in chimes.

use std::time::Duration;

use crate::script::Chime;

/// How long each chime rings.
pub fn nominal_length(chime: Chime) -> Duration {
    match chime {
        Chime::Bell => Duration::from_millis(2500),
        Chime::Soft => Duration::from_millis(1500),
        Chime::Tick => Duration::from_millis(80),
        Chime::Gong => Duration::from_millis(4000),
    }
}
