//! The command line: clap types with their help, and nothing else.
//!
//! The rest of the program never sees these types; `commands.rs` turns them
//! into plain options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::EXIT_CODES_HELP;

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
    List,

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
        after_help = "Example:\n  backease check ~/.config/backease/scripts/*.ron\n\nExits 1 if any script has errors; warnings alone exit 0."
    )]
    Check {
        /// Script files, or routine names
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::ffi::OsString>,
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
    Render {
        /// A built-in name, one of your scripts, or a path to a .ron file
        routine: std::ffi::OsString,
        /// The file to write: .wav, .flac, .opus or .mp3; or - for WAV on standard output
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        timing: Timing,
        /// Not available: an endless session has no end to write
        #[arg(long = "loop", hide = true)]
        looped: bool,
        #[command(flatten)]
        voice: VoiceArgs,
    },

    /// List the voices a speech engine offers
    #[command(
        after_help = "Examples:\n  backease voices\n  backease voices --engine espeak | grep en-\n  backease play deep-spinal --voice en-gb"
    )]
    Voices {
        /// The engine to ask (default: the one `auto` picks)
        #[arg(long, value_enum, value_name = "ENGINE")]
        engine: Option<crate::config::EngineKind>,
    },

    /// Show where the settings file is and the settings in effect
    #[command(
        after_help = "Example:\n  backease config\n\nThe file is RON, e.g.:\n  Config(voice: \"en-gb\", rate: 160, volume: 0.8, hold: \"40s\", chime: \"soft\")"
    )]
    Config,

    /// List the audio output devices
    #[command(after_help = "Example:\n  backease devices\n  backease play deep-spinal --device \"NAME\"")]
    Devices,

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
}

#[derive(Debug, Clone, Args)]
pub struct RemindArgs {
    /// How often: from 15m to 12h (default 2h)
    #[arg(long, value_parser = parse_every, value_name = "DURATION")]
    pub every: Option<Duration>,
    /// The hours reminders come in, HH:MM-HH:MM (default 09:00-21:00)
    #[arg(long, value_parser = parse_between, value_name = "HH:MM-HH:MM")]
    pub between: Option<crate::remind::Window>,
    /// Stop the reminders and remove their files
    #[arg(long, conflicts_with_all = ["every", "between", "fire"])]
    pub off: bool,
    /// What the timer runs: the notification, if one is due
    #[arg(long, hide = true, conflicts_with_all = ["every", "between"])]
    pub fire: bool,
}

fn parse_every(s: &str) -> Result<Duration, String> {
    crate::remind::parse_every(s)
}

fn parse_between(s: &str) -> Result<crate::remind::Window, String> {
    crate::remind::parse_between(s)
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
}

fn parse_hold(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > crate::script::MAX_HOLD {
        return Err(format!("a hold is at most {}", crate::duration::spoken(crate::script::MAX_HOLD)));
    }
    Ok(d)
}

/// A rest between rounds has the limit a script's `rest` has.
fn parse_rest(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > crate::script::MAX_HOLD {
        return Err(format!("a rest is at most {}", crate::duration::spoken(crate::script::MAX_HOLD)));
    }
    Ok(d)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = crate::duration::parse(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}
