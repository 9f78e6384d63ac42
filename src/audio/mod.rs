//! Sound as samples: WAV files read and written, resampling to the
//! session's rate, loudness measured and levelled, the chimes and the
//! user's sound files decoded, the session's format, its last stage (a
//! look-ahead limiter), and the encoders a render writes with.
//!
//! The rule of this layer: it may import `script/` (the session's rate,
//! `Chime`) and the root (errors, files), nothing above. It holds no
//! thread, device or process: it turns bytes into samples and back.

pub mod encode;
pub mod format;
pub mod limiter;
pub mod loudness;
pub mod resample;
pub mod sound;
pub mod wav;
