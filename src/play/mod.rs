//! Playing a session: the player thread that owns the output, the audio
//! device itself, the keys and the display of a live session, the media
//! buttons, other players paused meanwhile, and `render`, which writes the
//! same stream to a file instead.
//!
//! The rule of this layer: it may import `session/` and everything below
//! it (`speech/`, `audio/`, `script/`, the root), never `day/` or `cli/`.
//! Only this layer opens the audio device.

pub mod live;
pub mod media_keys;
pub mod output;
pub mod part;
#[cfg(target_os = "linux")]
pub mod pause_others;
pub mod player;
pub mod render;
