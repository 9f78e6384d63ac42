//! The dispatcher: one `match` that hands each subcommand to its function.
//!
//! The commands live beside it, one file per group: `scripts` (list, show,
//! check, new), `play`, `render`, `info` (devices, config), `voices` and `log`
//! (remind; `log` and `today` go straight to the practice log). What several
//! of them share is in `routine` and `voice`. Each returns an exit code or a
//! [`Failure`]; output goes to the writers it is given, so tests can read it.

use std::io::Write;

use crate::cli::Command;
use crate::cli::docs::{completions, man};
use crate::cli::info::{devices, show_config};
use crate::cli::log::remind;
use crate::cli::play::play;
use crate::cli::render::render;
use crate::cli::scripts::{check, list, new, show};
use crate::error::Failure;

pub fn dispatch(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    // A broken settings file stops every command the same way, before it
    // does anything: its mistakes at file:line:column and exit 1. A command
    // that went on with the defaults would play at a volume, a voice or a
    // hold the person did not choose, and one that ignored the file would
    // leave the mistake to be found later.
    crate::config::load(err)?;
    match command {
        Command::List { json } => list(json, out, err),
        Command::Show { routine, timing, json, looped } => show(&routine, &timing, json, looped, out, err),
        Command::Check { files, json } => check(&files, json, out, err),
        Command::New { name } => new(&name, out),
        Command::Play(args) => play(&args, out, err),
        Command::Render(args) => render(&args, out, err),
        Command::Devices { json } => devices(json, out),
        Command::Voices { engine, all, json, try_voice: None } => crate::cli::voices::list(engine, all, json, out, err),
        Command::Voices { engine, try_voice: Some(name), .. } => crate::cli::sample::try_voice(&name, engine, out, err),
        Command::Config { json } => show_config(json, out, err),
        Command::Setup => crate::speech::setup::set_up_voices(out),
        Command::Remind(args) => remind(&args, out, err),
        Command::Log { last, json } => crate::day::practice::show_log(last, json, out, err),
        Command::Today { json } => crate::day::practice::show_today(json, out, err),
        Command::Completions { shell } => completions(shell, out),
        Command::Man { command } => man(command.as_deref(), out),
    }
}
