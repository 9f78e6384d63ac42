//! The integration tests, one binary (see Cargo.toml): the real `backease`
//! executable driven as a user would, and the loader fed bad input.

mod audio_quality;
mod bad_scripts;
mod cli;
mod controls;
mod devices;
mod fuzz;
mod live;
mod load;
mod media_keys;
mod render_cli;
mod sound;
mod support;
mod system_voice;
