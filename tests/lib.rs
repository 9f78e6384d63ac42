//! The integration tests, one binary (see Cargo.toml): the real `backease`
//! executable driven as a user would, and the loader fed bad input.

mod audio_quality;
mod bad_scripts;
mod cli;
mod controls;
mod cues;
mod devices;
mod flow;
mod fuzz;
mod fuzz_sounds;
mod headphones;
mod lengths;
mod lifecycle;
mod live;
mod load;
mod loudness;
mod media_keys;
mod pause_others;
mod piper;
mod practice;
mod remind;
mod render_cli;
mod render_formats;
mod rounds;
mod script_input;
mod sound;
mod sound_files;
mod stream_start;
mod support;
mod system_voice;
