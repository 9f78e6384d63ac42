//! The command line: clap types with their help, and the one writer every
//! command prints through (here); the dispatcher (`commands`), and one file
//! per group of commands, which turn the types into plain options and call
//! the layers below: `scripts` (list, show, check, new), `play`, `render`,
//! `info` (devices, config), `voices` and `sample` (the voices, and one
//! tried by ear), `log` (remind), `docs` (completions, man). `routine` and `voice`
//! hold what several commands share: a routine loaded and checked, and the
//! voice chosen for a session.
//!
//! The rule of this layer: it may import everything; only `main` and
//! `lib` import it. The rest of the program never sees these types.

pub mod commands;
mod docs;
mod info;
mod log;
mod play;
mod render;
mod routine;
mod sample;
mod scripts;
mod voice;
mod voices;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::EXIT_CODES_HELP;
use crate::ui::{write_json, write_out};

#[derive(Debug, Parser)]
#[command(
    name = "backease",
    version,
    about = "Voice-guided trigger-point sessions for back pain, to follow with eyes closed",
    long_about = "Voice-guided trigger-point sessions for back pain, to follow with eyes closed.\n\n\
        backease talks you through working your back with a tennis ball against a wall: where to \
        place it, when to lean in, exact silence for each hold, a chime, and when to switch sides.\n\n\
        Examples:\n  \
        backease list\n  \
        backease play deep-spinal\n  \
        backease play deep-spinal --hold 45s --loop\n  \
        backease show full-back --hold 1m\n  \
        backease check ~/my-routine.ron",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the built-in routines and your own scripts
    #[command(
        after_help = "Example:\n  backease list\n\nYour own scripts live in the folder this prints; `backease new NAME` starts one."
    )]
    List {
        /// Print the routines as JSON
        #[arg(long)]
        json: bool,
    },

    /// Print a routine's timeline: when each cue, chime and hold happens
    #[command(
        after_help = "Examples:\n  backease show deep-spinal\n  backease show full-back --hold 1m --rounds 2\n  backease show ./my-routine.ron --json"
    )]
    Show {
        /// A built-in name, one of your scripts, or a path to a .ron file
        routine: std::ffi::OsString,
        #[command(flatten)]
        timing: Timing,
        /// Print the timeline as JSON
        #[arg(long)]
        json: bool,
        /// Show the session `play --loop` plays: the opening, one round, the closing
        #[arg(long = "loop", conflicts_with = "rounds")]
        looped: bool,
    },

    /// Check scripts for mistakes, reporting each with file:line:column
    #[command(
        after_help = "Examples:\n  backease check\n  backease check ~/my-routine.ron evening\n  backease check --json my-routine.ron\n\n\
                      With no FILE, checks every script in your scripts folder.\n\
                      Exits 1 if any script has errors; warnings alone exit 0.\n\
                      --json prints one array of diagnostics, each with file, line, column, end_line,\n\
                      end_column (1-based, in characters), severity (error or warning), message and hint."
    )]
    Check {
        /// Script files, or routine names (default: all of your scripts)
        #[arg(value_name = "FILE")]
        files: Vec<std::ffi::OsString>,
        /// Print the diagnostics as JSON, for editors
        #[arg(long)]
        json: bool,
    },

    /// Play a routine on the audio output
    #[command(
        after_help = "Examples:\n  backease play deep-spinal\n  backease play deep-spinal --hold 45s --loop\n  backease play ~/my-routine.ron --voice en-gb --rate 150\n\n\
                      While playing: space pauses and resumes, → or n skips to the next step,\n\
                      ← or p restarts the step (twice quickly: the step before), Enter finishes\n\
                      the round and plays the closing, t says the time left, + and - change\n\
                      the volume, q or Esc stops. Every key is confirmed by voice. Headset\n\
                      media buttons work too (stop finishes the round; play twice: time left).\n\n\
                      Each session is recorded in the practice log (`backease log`, `backease today`);\n\
                      at the end it says where you stand today and asks how tender it was: a digit\n\
                      key answers, any other key or silence skips."
    )]
    Play(PlayArgs),

    /// Write a routine to a sound file: the same samples `play` would send
    #[command(
        after_help = "Examples:\n  backease render deep-spinal --hold 30s -o deep-spinal.opus   # for a phone\n  backease render full-back -o full-back.wav\n\nFormats, by the name's extension: .wav (exact), .flac (lossless), .opus (small),\n.mp3 (plays everywhere); all but WAV carry a chapter per part and side.\nThe file appears only when it is complete."
    )]
    Render(RenderArgs),

    /// List every voice, and say a sample in one to choose it by ear
    #[command(
        after_help = "Examples:\n  backease voices\n  backease voices --engine espeak --all\n  backease voices --try joe\n  backease play deep-spinal --voice en-gb\n\n\
                      The table shows each voice's engine, language, gender (where the engine says) and\n\
                      whether it is installed, grouped by language: yours (from LANG) and English, or all\n\
                      with --all. To keep a voice, put voice: \"NAME\" into the settings file (see\n\
                      `backease config`); the table marks it with *."
    )]
    Voices {
        /// Only this engine's voices (default: every engine's)
        #[arg(long, value_enum, value_name = "ENGINE")]
        engine: Option<crate::config::EngineKind>,
        /// Every language, not only yours and English
        #[arg(long)]
        all: bool,
        /// Say a sample cue in the voice NAME through the sound output
        #[arg(long = "try", visible_alias = "sample", value_name = "NAME")]
        try_voice: Option<String>,
        /// Print the voices as JSON
        #[arg(long)]
        json: bool,
    },

    /// Install the natural voices (hibari, and Piper beside it) for backease: a Python environment in its data folder
    #[command(after_help = "Example:\n  backease setup\n  backease play deep-spinal\n\n\
                      Needs python3 and its venv module (Debian and Ubuntu: sudo apt install python3-venv).\n\
                      Downloads about 150 MB of pinned, hash-checked packages into\n\
                      ~/.local/share/backease/piper; pip's own settings (a proxy, a mirror) apply.\n\
                      Run it again at any time: it says so if all is in place, and repairs what is not.\n\
                      Without it, backease speaks with espeak-ng.")]
    Setup,

    /// Show where the settings file is and the settings in effect
    #[command(
        after_help = "Example:\n  backease config\n\nThe file is RON, e.g.:\n  Config(voice: \"en-gb\", rate: 160, volume: 0.8, hold: \"40s\", chime: \"soft\")"
    )]
    Config {
        /// Print the settings as JSON
        #[arg(long)]
        json: bool,
    },

    /// List the audio output devices
    #[command(after_help = "Example:\n  backease devices\n  backease play deep-spinal --device \"NAME\"")]
    Devices {
        /// Print the outputs as JSON
        #[arg(long)]
        json: bool,
    },

    /// Remind you across the day, with a desktop notification, of the point that is due
    #[command(
        after_help = "Examples:\n  backease remind --every 2h --between 09:00-21:00\n  backease remind\n  backease remind --off\n\n\
                      Sets up a systemd user timer (~/.config/systemd/user/backease-remind.timer). Each reminder\n\
                      names the point with the fewest sessions today; its Start button plays it. None once\n\
                      today's goal is met, none outside --between."
    )]
    Remind(RemindArgs),

    /// Write a commented starter script into your scripts folder
    #[command(
        after_help = "Example:\n  backease new evening\n  backease play evening\n\nNever overwrites an existing file."
    )]
    New {
        /// The routine's name: lowercase letters, digits and dashes
        name: String,
    },

    /// Show the practice log: recent sessions, the sides done or cut short, how tender
    #[command(
        after_help = "Examples:\n  backease log\n  backease log --last 50 --json\n\nEvery session played is recorded in log.sqlite in backease's data folder\n(~/.local/share/backease on Linux)."
    )]
    Log {
        /// How many sessions, newest first
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
        last: u32,
        /// Print the sessions as JSON
        #[arg(long)]
        json: bool,
    },

    /// Show today's sessions per point against the daily goal, and which point is next
    #[command(
        after_help = "Example:\n  backease today\n\nThe goal (daily_goal, default 5) and the hour a day starts (day_starts, default 4)\nare settings: Config(daily_goal: 6, day_starts: 5)"
    )]
    Today {
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },

    /// Print the completion script for a shell
    #[command(
        after_help = "Examples:\n  backease completions bash > ~/.local/share/bash-completion/completions/backease\n  \
                      backease completions zsh > ~/.zfunc/_backease    # with fpath+=(~/.zfunc) before compinit\n  \
                      backease completions fish > ~/.config/fish/completions/backease.fish"
    )]
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },

    /// Print the manual page, of backease or of one of its commands (roff)
    #[command(after_help = "Examples:\n  backease man | man -l -\n  backease man play | man -l -\n  \
                      backease man > ~/.local/share/man/man1/backease.1")]
    Man {
        /// A command, for its own page (backease-COMMAND)
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct PlayArgs {
    /// A built-in name, one of your scripts, or a path to a .ron file
    pub routine: std::ffi::OsString,
    #[command(flatten)]
    pub timing: Timing,
    /// Repeat the round until stopped: Enter finishes the round, then the closing
    #[arg(long = "loop", conflicts_with = "rounds")]
    pub looped: bool,
    #[command(flatten)]
    pub voice: VoiceArgs,
    /// Output device, as `backease devices` lists them
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Pause the media players that are playing (MPRIS) for the session, and
    /// play them again after it (the setting `pause_others: true` does too)
    #[arg(long)]
    pub pause_others: bool,
    /// End at the gong: no words after the session (where you stand, how
    /// tender it was); the setting `words_after: false` does too
    #[arg(long)]
    pub no_words_after: bool,
    /// Do not record this session in the practice log (nothing is written;
    /// nothing is said after it either); the setting `log: false` does too
    #[arg(long)]
    pub no_log: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// A built-in name, one of your scripts, or a path to a .ron file
    pub routine: std::ffi::OsString,
    /// The file to write: .wav, .flac, .opus or .mp3; or - for WAV on standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub timing: Timing,
    /// Not available: an endless session has no end to write
    #[arg(long = "loop", hide = true)]
    pub looped: bool,
    #[command(flatten)]
    pub voice: VoiceArgs,
    /// Print nothing but errors: no progress, no warnings, no last line
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RemindArgs {
    /// How often: from 15m to 12h (default 2h)
    #[arg(long, value_parser = parse_every, value_name = "DURATION")]
    pub every: Option<Duration>,
    /// The hours reminders come in, HH:MM-HH:MM (default 09:00-21:00)
    #[arg(long, value_parser = parse_between, value_name = "HH:MM-HH:MM")]
    pub between: Option<crate::day::remind::Window>,
    /// Stop the reminders and remove their files
    #[arg(long, conflicts_with_all = ["every", "between", "fire"])]
    pub off: bool,
    /// What the timer runs: the notification, if one is due
    #[arg(long, hide = true, conflicts_with_all = ["every", "between"])]
    pub fire: bool,
    /// Print the reminders' state as JSON
    #[arg(long, conflicts_with_all = ["every", "between", "off", "fire"])]
    pub json: bool,
}

fn parse_every(s: &str) -> Result<Duration, String> {
    crate::day::remind::parse_every(s)
}

fn parse_between(s: &str) -> Result<crate::day::remind::Window, String> {
    crate::day::remind::parse_between(s)
}

/// Options that change how the voice sounds; a script's defaults apply
/// where these are not given.
#[derive(Debug, Clone, Args)]
pub struct VoiceArgs {
    /// Voice name: joe (Piper; NAME:SPEAKER for a many-voiced model), en-gb
    /// (espeak-ng), slt (flite); `backease voices` lists them
    #[arg(long, value_name = "NAME")]
    pub voice: Option<String>,
    /// Speaking rate in words per minute (80-450)
    #[arg(long, value_parser = clap::value_parser!(u32).range(80..=450), value_name = "WPM")]
    pub rate: Option<u32>,
    /// Voice pitch (0-100)
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100), value_name = "N")]
    pub pitch: Option<u32>,
    /// Volume of the whole session, 0.0 to 2.0 (1.0 is unchanged)
    #[arg(long, value_parser = parse_volume, value_name = "V")]
    pub volume: Option<f32>,
    /// Speech engine: auto, piper, espeak, flite, command, or system (live only)
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<crate::config::EngineKind>,
    /// For --engine command: a shell command that reads text on stdin and
    /// writes a WAV file to {out}, e.g. 'piper --model en_US-lessac-medium.onnx --output_file {out}'
    #[arg(long, value_name = "TEMPLATE")]
    pub command: Option<String>,
    /// Say which engine and voice speak
    #[arg(short, long)]
    pub verbose: bool,
}

fn parse_volume(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=2.0).contains(&v) => Ok(v),
        _ => Err("a volume is a number from 0.0 to 2.0".into()),
    }
}

/// Options that change a routine's timing.
#[derive(Debug, Clone, Args)]
pub struct Timing {
    /// Length of each hold, e.g. 30s, 45s, 1m (holds with their own length keep it)
    #[arg(long, value_parser = parse_hold, value_name = "DURATION")]
    pub hold: Option<Duration>,
    /// Play the round N times (the opening and closing are said once)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
    pub rounds: Option<u32>,
    /// Silence between rounds, e.g. 10s
    #[arg(long, value_parser = parse_rest, value_name = "DURATION")]
    pub rest: Option<Duration>,
    /// How often a long hold says the time left, e.g. 2m (default 1m: a hold
    /// over two minutes is never minutes of silence); `off` for never
    #[arg(long, value_parser = parse_hold_reminder, value_name = "DURATION")]
    pub hold_reminder: Option<Duration>,
}

fn parse_hold(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > crate::script::MAX_HOLD {
        return Err(format!("a hold is at most {}", crate::script::duration::spoken(crate::script::MAX_HOLD)));
    }
    Ok(d)
}

/// A rest between rounds has the limit a script's `rest` has.
fn parse_rest(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > crate::script::MAX_HOLD {
        return Err(format!("a rest is at most {}", crate::script::duration::spoken(crate::script::MAX_HOLD)));
    }
    Ok(d)
}

fn parse_hold_reminder(s: &str) -> Result<Duration, String> {
    if s == "off" {
        return Ok(Duration::ZERO);
    }
    let d = parse_duration(s)?;
    if !(crate::config::MIN_HOLD_REMINDER..=crate::script::MAX_HOLD).contains(&d) {
        return Err("give a time from 30s to 10m, or `off` for no reminders".into());
    }
    Ok(d)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = crate::script::duration::parse(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}
