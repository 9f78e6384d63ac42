//! The integration tests, one binary (see Cargo.toml): the real `backease`
//! executable driven as a user would, and the loader fed bad input.

mod audio_quality;
mod bad_scripts;
mod cli;
mod controls;
mod devices;
mod fuzz;
mod fuzz_sounds;
mod headphones;
mod lifecycle;
mod live;
mod load;
mod loudness;
mod media_keys;
mod piper;
mod render_cli;
mod script_input;
mod sound;
mod sound_files;
mod support;
mod system_voice;
